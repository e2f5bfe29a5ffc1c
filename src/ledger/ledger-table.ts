/**
 * The append-only ledger. A transaction is written in one DynamoDB transaction: its header, which carries all its
 * entries (condition: new), an item for each entry on an account with a statement (a seller's payable: the by-account
 * index; condition: new) and, for pay-in, the order's `ledger_updated` flag. Nothing is ever updated.
 */
import {
  type DynamoDBDocumentClient,
  GetCommand,
  type QueryCommandInput,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import { asRetryable, cancellationCodes } from '../core/errors';
import { queryAll, queryPartition } from '../core/query';
import {
  assertBalanced,
  clearingMovement,
  hasStatement,
  type LedgerEntry,
  type LedgerTransaction,
  SETTLEMENT_SHARDS,
  settlementKeyOf,
  settlementShardOf,
} from './postings';

type TransactItems = NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']>;

export interface StoredLedgerEntry extends LedgerEntry {
  transaction_id: string;
  reference: string;
  posted_at: string;
}

const entrySk = (transactionId: string, index: number) => `TXN#${transactionId}#${String(index).padStart(3, '0')}`;

/** How many items a transaction writes: its header and its entries on accounts with a statement. */
const itemCount = (transaction: LedgerTransaction) =>
  1 + transaction.entries.filter((entry) => hasStatement(entry.account)).length;

const entryOf = (item: Record<string, unknown>): LedgerEntry => ({
  account: String(item.account),
  direction: item.direction as LedgerEntry['direction'],
  amount_minor: Number(item.amount_minor),
  currency: String(item.currency),
});

/**
 * A transaction header as the by-day and by-settlement-key indexes show it: what reconciliation needs to meet the
 * PSP's settlement file (the key, and how the transaction moved the PSP clearing account).
 */
export interface LedgerDayItem {
  transaction_id: string;
  reference: string;
  /** The UTC day the money moved (the value date, else the day of booking). */
  day: string;
  posted_at: string;
  settlement_key?: string;
  /** The PSP clearing account's movement (debit positive), when the transaction touches it in one currency. */
  clearing_minor?: number;
  currency?: string;
}

/** The by-day index's partition: a day's transactions spread over shards by settlement key (else by id). */
export const dayShardKey = (day: string, shard: number) => `${day}#${String(shard).padStart(2, '0')}`;

function dayItemOf(item: Record<string, unknown>): LedgerDayItem {
  return {
    transaction_id: String(item.transaction_id),
    reference: String(item.reference),
    day: String(item.day),
    posted_at: String(item.posted_at),
    ...(typeof item.settlement_key === 'string' && { settlement_key: item.settlement_key }),
    ...(typeof item.clearing_minor === 'number' && { clearing_minor: item.clearing_minor }),
    ...(typeof item.clearing_currency === 'string' && { currency: item.clearing_currency }),
  };
}

export class LedgerTable {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /**
   * The conditional puts of one transaction, each only if new: its header (every entry rides on it) and, for each
   * entry on an account with a statement, that entry as an item of its own for the by-account index. Entries on other
   * accounts are not written twice: nothing reads them one by one.
   */
  private itemsOf(transaction: LedgerTransaction): TransactItems {
    assertBalanced(transaction);
    const now = new Date().toISOString();
    const pk = `REF#${transaction.reference}`;
    const day = transaction.value_date ?? now.slice(0, 10);
    const settlementKey = settlementKeyOf(transaction.transaction_id, transaction.reference);
    const clearing = [...clearingMovement(transaction)];
    const shard = settlementShardOf(
      settlementKey ?? transaction.shard_key ?? transaction.transaction_id,
      SETTLEMENT_SHARDS,
    );
    const items: TransactItems = [
      {
        Put: {
          TableName: this.tableName,
          Item: {
            pk,
            sk: `TXN#${transaction.transaction_id}`,
            entity: 'TRANSACTION',
            transaction_id: transaction.transaction_id,
            reference: transaction.reference,
            description: transaction.description,
            entry_count: transaction.entries.length,
            posted_at: now,
            // The by-day index (every transaction, whole: its entries ride on the header, so an entry is not in that
            // index too) and the by-settlement-key index (money moved at the PSP).
            day,
            day_shard: dayShardKey(day, shard),
            entries: transaction.entries.map(({ account, direction, amount_minor, currency }) => ({
              account,
              direction,
              amount_minor,
              currency,
            })),
            ...(settlementKey !== undefined && { settlement_key: settlementKey }),
            ...(clearing.length === 1 && {
              clearing_minor: clearing[0]?.[1],
              clearing_currency: clearing[0]?.[0],
            }),
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      ...transaction.entries.flatMap((entry, index) =>
        !hasStatement(entry.account)
          ? []
          : [
              {
                Put: {
                  TableName: this.tableName,
                  Item: {
                    pk,
                    sk: entrySk(transaction.transaction_id, index),
                    entity: 'ENTRY',
                    transaction_id: transaction.transaction_id,
                    reference: transaction.reference,
                    ...entry,
                    // Sort key of the by-account index: time, then transaction and entry for uniqueness.
                    posted_at: `${now}#${transaction.transaction_id}#${index}`,
                  },
                  ConditionExpression: 'attribute_not_exists(pk)',
                },
              },
            ],
      ),
    ];
    return items;
  }

  /**
   * The conditional writes that append a balanced transaction once, for a caller's own DynamoDB transaction (a
   * booking that writes the wallet and the ledger together). A transaction booked before fails their condition.
   */
  appendItems(transaction: LedgerTransaction): TransactItems {
    return this.itemsOf(transaction);
  }

  /**
   * Appends a balanced transaction once, together with `alsoWrite` (e.g. the order flag).
   * Returns false, writing nothing, when a transaction with this id already exists.
   */
  async appendOnce(transaction: LedgerTransaction, alsoWrite: TransactItems = []): Promise<boolean> {
    const items: TransactItems = [...this.itemsOf(transaction), ...alsoWrite];
    try {
      await this.client.send(new TransactWriteCommand({ TransactItems: items }));
      return true;
    } catch (error) {
      const codes = cancellationCodes(error);
      if (codes?.[0] === 'ConditionalCheckFailed') return false;
      throw asRetryable(error);
    }
  }

  /**
   * Appends many balanced transactions, each once, several to a DynamoDB transaction (at most 100 items): the bulk
   * path of reconciliation's fee postings. A batch with one transaction already booked is cancelled whole; its
   * transactions are then appended one by one. Returns the ids booked by this call.
   */
  async appendManyOnce(transactions: readonly LedgerTransaction[]): Promise<Set<string>> {
    const booked = new Set<string>();
    let batch: LedgerTransaction[] = [];
    let size = 0;
    const flush = async () => {
      let current = batch;
      batch = [];
      size = 0;
      // A batch holding transactions booked before is cancelled whole: those are dropped (the cancellation says which
      // items failed their condition) and the rest written again, until none is left.
      while (current.length > 0) {
        try {
          await this.client.send(new TransactWriteCommand({ TransactItems: current.flatMap((t) => this.itemsOf(t)) }));
          for (const t of current) booked.add(t.transaction_id);
          return;
        } catch (error) {
          const codes = cancellationCodes(error);
          if (!codes?.includes('ConditionalCheckFailed')) throw asRetryable(error);
          let item = 0;
          const remaining: LedgerTransaction[] = [];
          for (const t of current) {
            const count = itemCount(t);
            const failed = codes.slice(item, item + count).includes('ConditionalCheckFailed');
            if (!failed) remaining.push(t);
            item += count;
          }
          // Nothing identified (an unexpected answer): one by one, each once.
          if (remaining.length === current.length) {
            for (const t of current) if (await this.appendOnce(t)) booked.add(t.transaction_id);
            return;
          }
          current = remaining;
        }
      }
    };
    for (const transaction of transactions) {
      const items = itemCount(transaction);
      if (size + items > 100) await flush();
      batch.push(transaction);
      size += items;
    }
    await flush();
    return booked;
  }

  /**
   * One shard of a day's transactions, each whole, from the by-day index: a header carries its entries; a
   * transaction booked before headers did has its entries in the index beside it.
   */
  async transactionsOfDay(
    day: string,
    shard: number,
  ): Promise<Array<LedgerDayItem & { entries: LedgerEntry[]; entry_count: number }>> {
    const byId = new Map<string, LedgerDayItem & { entries: LedgerEntry[]; entry_count: number }>();
    const entries: Array<{ transaction_id: string; entry: LedgerEntry }> = [];
    for (const item of await this.queryIndex('by-day', 'day_shard', dayShardKey(day, shard))) {
      if (item.entity === 'TRANSACTION') {
        byId.set(String(item.transaction_id), {
          ...dayItemOf(item),
          entries: Array.isArray(item.entries) ? (item.entries as Record<string, unknown>[]).map(entryOf) : [],
          entry_count: Number(item.entry_count),
        });
      } else if (item.entity === 'ENTRY') {
        entries.push({
          transaction_id: String(item.transaction_id),
          entry: entryOf(item),
        });
      }
    }
    for (const { transaction_id, entry } of entries) {
      const transaction = byId.get(transaction_id);
      // Entries in the index belong to a header without its own (booked before headers carried them).
      if (transaction && transaction.entries.length < transaction.entry_count) transaction.entries.push(entry);
    }
    return [...byId.values()];
  }

  /** The transactions booked under one settlement key (a charge's: one per order), any day. */
  async transactionsWithSettlementKey(key: string): Promise<LedgerDayItem[]> {
    return (await this.queryIndex('by-settlement-key', 'settlement_key', key)).map(dayItemOf);
  }

  /**
   * Per currency, the balance (debits positive) of an account with a statement (a seller's payable), from the
   * by-account index. Another account has no statement to read: refused, never answered with an empty balance.
   */
  async accountBalance(account: string): Promise<Map<string, number>> {
    if (!hasStatement(account)) {
      throw new Error(`account ${account} has no statement: only a seller's payable is in the by-account index`);
    }
    const balance = new Map<string, number>();
    for (const item of await this.queryIndex('by-account', 'account', account)) {
      const amount = Number(item.amount_minor);
      const currency = String(item.currency);
      balance.set(currency, (balance.get(currency) ?? 0) + (item.direction === 'DEBIT' ? amount : -amount));
    }
    return balance;
  }

  /**
   * The entries of one transaction, read from the table (consistent): its header's, or for a transaction booked before
   * headers carried entries, the entry items beside it.
   */
  async entriesOfTransaction(reference: string, transactionId: string): Promise<LedgerEntry[]> {
    const { Item: header } = await this.client
      .send(
        new GetCommand({
          TableName: this.tableName,
          Key: { pk: `REF#${reference}`, sk: `TXN#${transactionId}` },
          ConsistentRead: true,
        }),
      )
      .catch((error) => {
        throw asRetryable(error);
      });
    if (Array.isArray(header?.entries)) return (header.entries as Record<string, unknown>[]).map(entryOf);
    const items = await this.query({
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': `REF#${reference}`, ':prefix': `TXN#${transactionId}#` },
      ConsistentRead: true,
    });
    return items.map(entryOf);
  }

  private queryIndex(indexName: string, attribute: string, value: string): Promise<Record<string, unknown>[]> {
    return this.query({
      TableName: this.tableName,
      IndexName: indexName,
      KeyConditionExpression: '#k = :v',
      ExpressionAttributeNames: { '#k': attribute },
      ExpressionAttributeValues: { ':v': value },
    });
  }

  private query(input: QueryCommandInput): Promise<Record<string, unknown>[]> {
    return queryAll(this.client, input);
  }

  /**
   * Every entry booked against a reference (e.g. a payment id), in transaction order: each header's entries, or for a
   * transaction booked before headers carried entries, the entry items beside it.
   */
  async entriesFor(reference: string): Promise<StoredLedgerEntry[]> {
    const entries: StoredLedgerEntry[] = [];
    const items = await queryPartition(this.client, this.tableName, `REF#${reference}`);
    const whole = new Set<string>();
    for (const item of items) {
      if (item.entity !== 'TRANSACTION' || !Array.isArray(item.entries)) continue;
      whole.add(String(item.transaction_id));
    }
    for (const item of items) {
      const stored = (entry: Record<string, unknown>): StoredLedgerEntry => ({
        transaction_id: String(item.transaction_id),
        reference: String(item.reference),
        ...entryOf(entry),
        posted_at: String(item.posted_at).split('#')[0] ?? '',
      });
      if (item.entity === 'TRANSACTION' && Array.isArray(item.entries)) {
        entries.push(...(item.entries as Record<string, unknown>[]).map(stored));
      } else if (item.entity === 'ENTRY' && !whole.has(String(item.transaction_id))) {
        entries.push(stored(item));
      }
    }
    return entries;
  }
}
