/**
 * Seller wallets: one balance item per seller and currency (`WALLET#<seller>`/`<currency>`), with
 * `balance_minor` (everything the platform owes the seller), `available_minor` (what may be debited or held now)
 * and `held_minor` (set aside by a hold, e.g. a payout in flight): balance = available + held.
 *
 * A neutral posting API for every flow: credit, debit with a floor, hold, release and capture of a hold. Each is
 * one DynamoDB transaction of the wallet update and the caller's guard: the conditional write that makes the
 * posting happen once (an order's booked flag, a payout's state). The amount is the caller's, computed once by
 * the ledger's posting template (src/ledger/postings.ts); the wallet never recomputes it.
 */
import { type DynamoDBDocumentClient, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
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
  available_minor: number;
  held_minor: number;
  updated_at: string;
}

/** A debit or hold would take the available balance below its floor (or a release/capture exceeds the hold). */
export class InsufficientFundsError extends Error {
  override readonly name = 'InsufficientFundsError';
}

/** A wallet item written before available/held existed: it must be backfilled before any posting. */
export class WalletBackfillNeededError extends Error {
  override readonly name = 'WalletBackfillNeededError';
}

export class InvalidPostingError extends Error {
  override readonly name = 'InvalidPostingError';
}

export const walletKey = (seller: string, currency: string) => ({ pk: `WALLET#${seller}`, sk: currency });

type Movement = { balance: number; available: number; held: number };

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
        }),
      )
      .catch((error) => {
        throw asRetryable(error);
      });
    return (page.Items ?? []).map((item) => ({
      seller_account: item.seller_account as string,
      currency: item.currency as string,
      balance_minor: Number(item.balance_minor ?? 0),
      available_minor: Number(item.available_minor ?? 0),
      held_minor: Number(item.held_minor ?? 0),
      updated_at: item.updated_at as string,
    }));
  }

  /**
   * One transaction: the guard (first, when given) and the wallet update. `limit`: the attribute that must keep
   * at least `floor` after the move (checked as `attribute >= amount + floor` before it).
   */
  private async post(
    posting: WalletPosting,
    guard: TransactGuard | undefined,
    move: Movement,
    limit?: { attribute: 'available_minor' | 'held_minor'; floor: number },
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
    // Every item carries all three amounts from its first posting (ADD 0 creates the attribute).
    if (move.held === 0) adds.push('held_minor :zero');
    if (move.available === 0) adds.push('available_minor :zero');
    if (move.held === 0 || move.available === 0) values[':zero'] = 0;
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
    ];
    try {
      await this.client.send(new TransactWriteCommand({ TransactItems: items }));
      return true;
    } catch (error) {
      const codes = cancellationCodes(error);
      if (guard && codes?.[0] === 'ConditionalCheckFailed') return false;
      if (codes?.[guard ? 1 : 0] === 'ConditionalCheckFailed') {
        if (!limit) {
          throw new WalletBackfillNeededError(
            `wallet ${posting.seller_account}/${posting.currency} holds only balance_minor: backfill available_minor`,
          );
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
