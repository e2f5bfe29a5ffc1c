/**
 * Seller wallets: one balance item per seller and currency (`WALLET#<seller>`/`<currency>`), with
 * `balance_minor` (everything the platform owes the seller), `pending_minor` (collected, not yet available at the
 * PSP), `available_minor` (what may be debited or held now) and `held_minor` (set aside by a hold, e.g. a payout in
 * flight) and `disputed_minor` (taken aside by an open dispute): balance = pending + available + held + disputed.
 * `available` may go below zero only by a refund or a dispute of money already paid out (netted against the next
 * pay-ins; no payout can be made from it meanwhile); a payout's hold never takes it below zero.
 *
 * Pending funds: a pay-in credit goes to `pending` with a funds record (`FUNDS#<source id>`/`FUNDS`) naming the PSP
 * payment it came from; the record is in the sparse `pending-funds` index while pending. When the PSP says that
 * payment's money is available, `makeAvailable` moves it to `available`, once (the record's status is the guard).
 *
 * A neutral posting API for every flow: credit, debit with a floor, hold, release and capture of a hold. Each is
 * one DynamoDB transaction of the wallet update and the caller's guard: the conditional write that makes the
 * posting happen once (an order's booked flag, a payout's state). The amount is the caller's, computed once by
 * the ledger's posting template (src/ledger/postings.ts); the wallet never recomputes it.
 */
import {
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  ScanCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { asRetryable, cancellationCodes } from '../core/errors';
import type { WalletPosting } from './postings';

export type { WalletPosting };

type TransactItems = NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']>;
/** A conditional write of the caller's, written in the same transaction as the posting. */
export type TransactGuard = TransactItems[number];

export interface WalletBalance {
  seller_account: string;
  currency: string;
  balance_minor: number;
  pending_minor: number;
  available_minor: number;
  held_minor: number;
  disputed_minor: number;
  updated_at: string;
}

/** Where a take from a credit came from: the credit while still pending, or the available balance. */
export type Bucket = 'pending' | 'available';
/** The caller's guard, given the bucket a take is about to use (so the caller can record it). */
export type GuardFor = (from: Bucket) => TransactGuard;

/** A debit or hold would take the available balance below its floor (or a release/capture exceeds the hold). */
export class InsufficientFundsError extends Error {
  override readonly name = 'InsufficientFundsError';
}

/** A wallet item written before available/held existed: it must be backfilled before any posting. */
export class WalletBackfillNeededError extends Error {
  override readonly name = 'WalletBackfillNeededError';
}

/** The credit a refund comes from is no longer pending (or holds less): the refund takes from available instead. */
class FundsNotPendingError extends Error {
  override readonly name = 'FundsNotPendingError';
}

export class InvalidPostingError extends Error {
  override readonly name = 'InvalidPostingError';
}

export const walletKey = (seller: string, currency: string) => ({ pk: `WALLET#${seller}`, sk: currency });

type Movement = { balance: number; available: number; held: number; pending?: number; disputed?: number };

/** Money credited as pending, waiting for the PSP to make the payment that brought it available. */
export interface PendingFunds {
  /** Our id of the credit's source (a payment order): one funds record per source. */
  source_id: string;
  seller_account: string;
  currency: string;
  amount_minor: number;
  /** Our payment and the PSP's reference of it (a PaymentIntent), where availability is read. */
  payment_id: string;
  psp_reference: string;
  created_at: string;
  /** The PSP's balance transaction of the payment, once looked up (cached for the next check). */
  balance_transaction?: string;
}

/** Shards of the pending-funds index (by seller), so no one index partition takes every pending credit. */
export const PENDING_FUNDS_SHARDS = 8;
export const PENDING_FUNDS_INDEX = 'pending-funds';

function fundsShard(seller: string): string {
  let hash = 0;
  for (const char of seller) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return `FUNDS#${hash % PENDING_FUNDS_SHARDS}`;
}

const fundsKey = (sourceId: string) => ({ pk: `FUNDS#${sourceId}`, sk: 'FUNDS' });
const fundsSortKey = (funds: Pick<PendingFunds, 'seller_account' | 'currency' | 'created_at' | 'source_id'>) =>
  `${funds.seller_account}#${funds.currency}#${funds.created_at}#${funds.source_id}`;

export class Wallets {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** Adds to the balance and the available balance. False, changing nothing, when the guard fails. */
  credit(posting: WalletPosting, guard?: TransactGuard): Promise<boolean> {
    return this.post(posting, guard, { balance: 1, available: 1, held: 0 });
  }

  /**
   * Adds to the balance as pending, with the funds record that says where availability will come from (written
   * in the same transaction). False, changing nothing, when the guard fails.
   */
  creditPending(
    posting: WalletPosting,
    funds: Omit<PendingFunds, 'seller_account' | 'currency' | 'amount_minor'>,
    guard?: TransactGuard,
    /** More conditional writes of the caller's in the same transaction (the ledger's posting of the same money). */
    also: TransactGuard[] = [],
  ): Promise<boolean> {
    const record: PendingFunds = { ...funds, ...posting };
    const fundsItem: TransactGuard = {
      Put: {
        TableName: this.tableName,
        Item: {
          ...fundsKey(funds.source_id),
          entity: 'FUNDS',
          ...record,
          status: 'PENDING',
          funds_shard: fundsShard(posting.seller_account),
          funds_sort: fundsSortKey(record),
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    };
    return this.post(posting, guard, { balance: 1, available: 0, held: 0, pending: 1 }, undefined, [
      fundsItem,
      ...also,
    ]);
  }

  /** A funds record as stored (pending or made available, with when), or undefined. */
  async fundsRecord(sourceId: string): Promise<(PendingFunds & { status: string; available_at?: string }) | undefined> {
    const { Item } = await this.client
      .send(new GetCommand({ TableName: this.tableName, Key: fundsKey(sourceId), ConsistentRead: true }))
      .catch((error) => {
        throw asRetryable(error);
      });
    return Item as (PendingFunds & { status: string; available_at?: string }) | undefined;
  }

  /**
   * Moves pending funds to available, once: the funds record goes from PENDING to AVAILABLE (leaving the index) in
   * the same transaction. False when it was made available before.
   */
  async makeAvailable(sourceId: string, attempts = 5): Promise<boolean> {
    const funds = await this.client
      .send(new GetCommand({ TableName: this.tableName, Key: fundsKey(sourceId), ConsistentRead: true }))
      .catch((error) => {
        throw asRetryable(error);
      });
    const item = funds.Item;
    if (!item) throw new InvalidPostingError(`no pending funds ${sourceId}`);
    if (item.status !== 'PENDING') return false;
    const guard: TransactGuard = {
      Update: {
        TableName: this.tableName,
        Key: fundsKey(sourceId),
        UpdateExpression: 'SET #status = :available, available_at = :now REMOVE funds_shard, funds_sort',
        // The amount read is the amount moved: a refund or dispute taking from this credit meanwhile fails this.
        ConditionExpression: '#status = :pending AND amount_minor = :read',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':available': 'AVAILABLE',
          ':pending': 'PENDING',
          ':read': Number(item.amount_minor),
          ':now': new Date().toISOString(),
        },
      },
    };
    const posting = {
      seller_account: String(item.seller_account),
      currency: String(item.currency),
      amount_minor: Number(item.amount_minor),
    };
    const moved = await this.post(
      posting,
      guard,
      { balance: 0, available: 1, held: 0, pending: -1 },
      { attribute: 'pending_minor', floor: 0 },
    );
    // The credit changed between the read and the move: read it again (bounded).
    if (!moved && attempts > 1) return this.makeAvailable(sourceId, attempts - 1);
    return moved;
  }

  /** Remembers the PSP's balance transaction of pending funds (a cache: the next check asks for it directly). */
  async rememberBalanceTransaction(sourceId: string, balanceTransaction: string): Promise<void> {
    await this.client
      .send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: fundsKey(sourceId),
          UpdateExpression: 'SET balance_transaction = :txn',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':txn': balanceTransaction },
        }),
      )
      .catch((error) => {
        throw asRetryable(error);
      });
  }

  /**
   * Funds still pending, oldest first: of one seller (and currency), or of every seller (one index partition per
   * shard). At most `limit`.
   */
  async pendingFunds(
    filter: { seller_account?: string; currency?: string; limit?: number } = {},
  ): Promise<PendingFunds[]> {
    const limit = filter.limit ?? 1000;
    const shards = filter.seller_account
      ? [fundsShard(filter.seller_account)]
      : Array.from({ length: PENDING_FUNDS_SHARDS }, (_, n) => `FUNDS#${n}`);
    const prefix = filter.seller_account
      ? `${filter.seller_account}#${filter.currency ? `${filter.currency}#` : ''}`
      : undefined;
    const found: PendingFunds[] = [];
    // Every shard gets its share of the budget, so a crowded shard never hides the others.
    const perShard = Math.max(1, Math.ceil(limit / shards.length));
    for (const shard of shards) {
      let start: Record<string, unknown> | undefined;
      const shardStart = found.length;
      do {
        const page = await this.client
          .send(
            new QueryCommand({
              TableName: this.tableName,
              IndexName: PENDING_FUNDS_INDEX,
              KeyConditionExpression: prefix
                ? 'funds_shard = :shard AND begins_with(funds_sort, :prefix)'
                : 'funds_shard = :shard',
              ExpressionAttributeValues: { ':shard': shard, ...(prefix ? { ':prefix': prefix } : {}) },
              ExclusiveStartKey: start,
              Limit: Math.min(1000, perShard - (found.length - shardStart)),
            }),
          )
          .catch((error) => {
            throw asRetryable(error);
          });
        for (const item of page.Items ?? []) {
          found.push({
            source_id: String(item.source_id),
            seller_account: String(item.seller_account),
            currency: String(item.currency),
            amount_minor: Number(item.amount_minor),
            payment_id: String(item.payment_id),
            psp_reference: String(item.psp_reference),
            created_at: String(item.created_at),
            ...(item.balance_transaction ? { balance_transaction: String(item.balance_transaction) } : {}),
          });
        }
        start = page.LastEvaluatedKey;
      } while (start && found.length - shardStart < perShard);
    }
    return found;
  }

  /**
   * Takes from the balance and the available balance, refusing (InsufficientFundsError) to leave less than
   * `floor` available. False, changing nothing, when the guard fails.
   */
  debit(posting: WalletPosting, guard?: TransactGuard, floor = 0): Promise<boolean> {
    return this.post(posting, guard, { balance: -1, available: -1, held: 0 }, { attribute: 'available_minor', floor });
  }

  /** Sets part of the available balance aside (the balance is unchanged), keeping at least `floor` available. */
  hold(posting: WalletPosting, guard?: TransactGuard, floor = 0): Promise<boolean> {
    return this.post(posting, guard, { balance: 0, available: -1, held: 1 }, { attribute: 'available_minor', floor });
  }

  /**
   * Takes money out for a refund: from the balance and the available balance, which may go below zero (the seller
   * was paid out already: the next pay-ins net it). False, changing nothing, when the guard fails.
   */
  debitAllowingNegative(posting: WalletPosting, guard?: TransactGuard): Promise<boolean> {
    return this.post(posting, guard, { balance: -1, available: -1, held: 0 });
  }

  /**
   * Takes a refund's share back from the credit it came from (`sourceId`, the order): from `pending` while the PSP
   * still holds that money as pending (the pending credit shrinks with it, so its later move to available moves only
   * what is left), else from `available`, which may go below zero. `guardFor` is the caller's guard for the bucket
   * used (it records it, so a give-back returns the money to the same bucket). False when the guard fails.
   */
  debitForRefund(posting: WalletPosting, sourceId: string, guardFor: GuardFor): Promise<boolean> {
    return this.takeFromCredit(posting, sourceId, guardFor, 'out');
  }

  /** Gives a failed refund's share back to the bucket it was taken from (`from`), see giveBackToCredit. */
  creditForFailedRefund(
    posting: WalletPosting,
    sourceId: string,
    guard: TransactGuard,
    from: Bucket,
  ): Promise<boolean> {
    return this.giveBackToCredit(posting, sourceId, guard, 'in', from);
  }

  /** Sets a dispute's share aside (it cannot be paid out): from the order's pending credit if still pending, else from available. */
  holdForDisputeFrom(posting: WalletPosting, sourceId: string, guardFor: GuardFor): Promise<boolean> {
    return this.takeFromCredit(posting, sourceId, guardFor, 'disputed');
  }

  /** A dispute won: its share back to the bucket it was taken from (`from`), see giveBackToCredit. */
  releaseDisputeTo(posting: WalletPosting, sourceId: string, guard: TransactGuard, from: Bucket): Promise<boolean> {
    return this.giveBackToCredit(posting, sourceId, guard, 'disputed', from);
  }

  private async takeFromCredit(posting: WalletPosting, sourceId: string, guardFor: GuardFor, to: 'out' | 'disputed') {
    const funds: TransactGuard = {
      Update: {
        TableName: this.tableName,
        Key: fundsKey(sourceId),
        UpdateExpression:
          'SET amount_minor = amount_minor - :amount, taken_minor = if_not_exists(taken_minor, :zero) + :amount',
        ConditionExpression: '#status = :pending AND amount_minor >= :amount',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':amount': posting.amount_minor, ':pending': 'PENDING', ':zero': 0 },
      },
    };
    const out = to === 'out' ? -1 : 0;
    const disputed = to === 'disputed' ? 1 : 0;
    try {
      return await this.post(
        posting,
        guardFor('pending'),
        { balance: out, available: 0, held: 0, pending: -1, disputed },
        { attribute: 'pending_minor', floor: 0 },
        [funds],
        true,
      );
    } catch (error) {
      if (!(error instanceof FundsNotPendingError)) throw error;
    }
    return this.post(posting, guardFor('available'), { balance: out, available: -1, held: 0, disputed });
  }

  /**
   * Gives money back where it was taken from: to the order's pending credit when it came from there and the credit is
   * still pending (else the PSP made it available meanwhile: to available), to available when it came from there.
   */
  private async giveBackToCredit(
    posting: WalletPosting,
    sourceId: string,
    guard: TransactGuard,
    to: 'in' | 'disputed',
    from: Bucket,
  ) {
    const balance = to === 'in' ? 1 : 0;
    const disputed = to === 'disputed' ? -1 : 0;
    const limit = to === 'disputed' ? { attribute: 'disputed_minor' as const, floor: 0 } : undefined;
    if (from === 'pending') {
      const funds: TransactGuard = {
        Update: {
          TableName: this.tableName,
          Key: fundsKey(sourceId),
          UpdateExpression: 'SET amount_minor = amount_minor + :amount, taken_minor = taken_minor - :amount',
          ConditionExpression: '#status = :pending AND taken_minor >= :amount',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':amount': posting.amount_minor, ':pending': 'PENDING' },
        },
      };
      try {
        return await this.post(
          posting,
          guard,
          { balance, available: 0, held: 0, pending: 1, disputed },
          limit,
          [funds],
          true,
        );
      } catch (error) {
        if (!(error instanceof FundsNotPendingError)) throw error;
      }
    }
    return this.post(posting, guard, { balance, available: 1, held: 0, disputed }, limit);
  }

  /** Sets money aside for an open dispute (available may go below zero); it cannot be paid out. */
  holdForDispute(posting: WalletPosting, guard?: TransactGuard): Promise<boolean> {
    return this.post(posting, guard, { balance: 0, available: -1, held: 0, disputed: 1 });
  }

  /** A dispute won: the money set aside goes back to available. */
  releaseDispute(posting: WalletPosting, guard?: TransactGuard): Promise<boolean> {
    return this.post(
      posting,
      guard,
      { balance: 0, available: 1, held: 0, disputed: -1 },
      { attribute: 'disputed_minor', floor: 0 },
    );
  }

  /** A dispute lost: the money set aside leaves the wallet. */
  captureDispute(posting: WalletPosting, guard?: TransactGuard): Promise<boolean> {
    return this.post(
      posting,
      guard,
      { balance: -1, available: 0, held: 0, disputed: -1 },
      { attribute: 'disputed_minor', floor: 0 },
    );
  }

  /** Gives held money back to the available balance (a hold cancelled). */
  release(posting: WalletPosting, guard?: TransactGuard): Promise<boolean> {
    return this.post(posting, guard, { balance: 0, available: 1, held: -1 }, { attribute: 'held_minor', floor: 0 });
  }

  /** Takes held money out of the wallet (a hold completed, e.g. a payout paid). */
  capture(posting: WalletPosting, guard?: TransactGuard): Promise<boolean> {
    return this.post(posting, guard, { balance: -1, available: 0, held: -1 }, { attribute: 'held_minor', floor: 0 });
  }

  async balances(seller: string): Promise<WalletBalance[]> {
    const page = await this.client
      .send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': `WALLET#${seller}` },
          // A payout decides on these amounts: read what was just written.
          ConsistentRead: true,
        }),
      )
      .catch((error) => {
        throw asRetryable(error);
      });
    return (page.Items ?? []).map((item) => ({
      seller_account: item.seller_account as string,
      currency: item.currency as string,
      balance_minor: Number(item.balance_minor ?? 0),
      pending_minor: Number(item.pending_minor ?? 0),
      disputed_minor: Number(item.disputed_minor ?? 0),
      available_minor: Number(item.available_minor ?? 0),
      held_minor: Number(item.held_minor ?? 0),
      updated_at: item.updated_at as string,
    }));
  }

  /** Every wallet balance (a scan, page by page: reconciliation's nightly check of wallets against the ledger). */
  async allBalances(): Promise<Array<{ seller_account: string; currency: string; balance_minor: number }>> {
    const out: Array<{ seller_account: string; currency: string; balance_minor: number }> = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.client
        .send(
          new ScanCommand({
            TableName: this.tableName,
            FilterExpression: 'begins_with(pk, :wallet)',
            ExpressionAttributeValues: { ':wallet': 'WALLET#' },
            ExclusiveStartKey: startKey,
          }),
        )
        .catch((error) => {
          throw asRetryable(error);
        });
      for (const item of page.Items ?? []) {
        out.push({
          seller_account: String(item.seller_account),
          currency: String(item.currency),
          balance_minor: Number(item.balance_minor ?? 0),
        });
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return out;
  }

  /**
   * One transaction: the guard (first, when given) and the wallet update. `limit`: the attribute that must keep
   * at least `floor` after the move (checked as `attribute >= amount + floor` before it).
   */
  private async post(
    posting: WalletPosting,
    guard: TransactGuard | undefined,
    move: Movement,
    limit?: { attribute: 'available_minor' | 'held_minor' | 'pending_minor' | 'disputed_minor'; floor: number },
    alsoWrite: TransactItems = [],
    /** A failed condition of `alsoWrite` means "not pending": FundsNotPendingError rather than "made before". */
    alsoWriteIsPending = false,
  ): Promise<boolean> {
    const { amount_minor: amount } = posting;
    if (!Number.isSafeInteger(amount) || amount < 0) {
      throw new InvalidPostingError(`a wallet posting needs a whole, non-negative amount, got ${amount}`);
    }
    if (limit && (!Number.isSafeInteger(limit.floor) || limit.floor < 0)) {
      throw new InvalidPostingError(`a wallet floor must be a whole, non-negative amount, got ${limit.floor}`);
    }
    const values: Record<string, unknown> = {
      ':seller': posting.seller_account,
      ':currency': posting.currency,
      ':now': new Date().toISOString(),
    };
    const adds: string[] = [];
    const addIf = (attribute: string, name: string, sign: number) => {
      if (sign === 0) return;
      adds.push(`${attribute} ${name}`);
      values[name] = sign * amount;
    };
    // `:amount` is the balance's own move, so a credit reads `ADD balance_minor :amount`.
    addIf('balance_minor', ':amount', move.balance);
    addIf('available_minor', ':available', move.available);
    addIf('held_minor', ':held', move.held);
    addIf('pending_minor', ':pending', move.pending ?? 0);
    addIf('disputed_minor', ':disputed', move.disputed ?? 0);
    // Every item carries all four amounts from its first posting (ADD 0 creates the attribute).
    if (move.held === 0) adds.push('held_minor :zero');
    if (move.available === 0) adds.push('available_minor :zero');
    if (!move.pending) adds.push('pending_minor :zero');
    if (!move.disputed) adds.push('disputed_minor :zero');
    values[':zero'] = 0;
    // An item written before available/held existed (balance only) would silently break balance = available + held:
    // refused loudly instead (see docs/decisions.md for the one-off backfill).
    let condition = 'attribute_exists(available_minor) OR attribute_not_exists(balance_minor)';
    if (limit) {
      condition = `(${condition}) AND ${limit.attribute} >= :minimum`;
      values[':minimum'] = amount + limit.floor;
    }
    const items: TransactItems = [
      ...(guard ? [guard] : []),
      {
        Update: {
          TableName: this.tableName,
          Key: walletKey(posting.seller_account, posting.currency),
          UpdateExpression: `ADD ${adds.join(', ')} SET seller_account = :seller, currency = :currency, updated_at = :now`,
          ConditionExpression: condition,
          ExpressionAttributeValues: values,
        },
      },
      ...alsoWrite,
    ];
    try {
      await this.client.send(new TransactWriteCommand({ TransactItems: items }));
      return true;
    } catch (error) {
      const codes = cancellationCodes(error);
      if (guard && codes?.[0] === 'ConditionalCheckFailed') return false;
      const walletIndex = guard ? 1 : 0;
      const extra = codes?.slice(walletIndex + 1) ?? [];
      // The funds record of a refund from pending: no longer pending (made available meanwhile).
      if (extra.includes('ConditionalCheckFailed') && alsoWriteIsPending) {
        throw new FundsNotPendingError('the credit is no longer pending');
      }
      // A record written with the posting exists already: the posting was made before.
      if (extra.includes('ConditionalCheckFailed')) return false;
      if (codes?.[walletIndex] === 'ConditionalCheckFailed') {
        if (!limit) {
          throw new WalletBackfillNeededError(
            `wallet ${posting.seller_account}/${posting.currency} holds only balance_minor: backfill available_minor`,
          );
        }
        if (alsoWriteIsPending && limit?.attribute === 'pending_minor') {
          throw new FundsNotPendingError('pending is below the amount');
        }
        throw new InsufficientFundsError(
          `wallet ${posting.seller_account}/${posting.currency}: ${limit?.attribute ?? 'balance'} is below ${amount}` +
            `${limit?.floor ? ` plus the floor of ${limit.floor}` : ''}`,
        );
      }
      throw asRetryable(error);
    }
  }
}
