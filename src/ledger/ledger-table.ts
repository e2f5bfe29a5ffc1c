/**
 * The append-only ledger. A transaction is written in one DynamoDB transaction: its header (condition: new),
 * its entries (condition: new) and, for pay-in, the order's `ledger_updated` flag. Entries are never updated.
 */
import { type DynamoDBDocumentClient, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { asRetryable, cancellationCodes } from '../core/errors';
import { queryPartition } from '../core/query';
import { assertBalanced, type LedgerEntry, type LedgerTransaction } from './postings';

type TransactItems = NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']>;

export interface StoredLedgerEntry extends LedgerEntry {
  transaction_id: string;
  reference: string;
  posted_at: string;
}

const entrySk = (transactionId: string, index: number) => `TXN#${transactionId}#${String(index).padStart(3, '0')}`;

export class LedgerTable {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /**
   * Appends a balanced transaction once, together with `alsoWrite` (e.g. the order flag).
   * Returns false, writing nothing, when a transaction with this id already exists.
   */
  async appendOnce(transaction: LedgerTransaction, alsoWrite: TransactItems = []): Promise<boolean> {
    assertBalanced(transaction);
    const now = new Date().toISOString();
    const pk = `REF#${transaction.reference}`;
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
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      ...transaction.entries.map((entry, index) => ({
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
      })),
      ...alsoWrite,
    ];
    try {
      await this.client.send(new TransactWriteCommand({ TransactItems: items }));
      return true;
    } catch (error) {
      const codes = cancellationCodes(error);
      if (codes?.[0] === 'ConditionalCheckFailed') return false;
      throw asRetryable(error);
    }
  }

  /** Every entry booked against a reference (e.g. a payment id), in transaction order. */
  async entriesFor(reference: string): Promise<StoredLedgerEntry[]> {
    const entries: StoredLedgerEntry[] = [];
    for (const item of await queryPartition(this.client, this.tableName, `REF#${reference}`)) {
      if (item.entity !== 'ENTRY') continue;
      entries.push({
        transaction_id: String(item.transaction_id),
        reference: String(item.reference),
        account: String(item.account),
        direction: item.direction as StoredLedgerEntry['direction'],
        amount_minor: Number(item.amount_minor),
        currency: String(item.currency),
        posted_at: String(item.posted_at).split('#')[0] ?? '',
      });
    }
    return entries;
  }
}
