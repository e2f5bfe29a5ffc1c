/**
 * Reading a refund or a dispute as it is stored, for the refunds table and for the functions of other flows that
 * only read them (reconciliation's matching): no writes here, so a reader does not bundle what the writes need.
 */
import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { retryable } from '../core/errors';
import type { Dispute } from './dispute';
import type { Refund } from './refund';

export const refundKey = (id: string) => ({ pk: `REFUND#${id}`, sk: 'REFUND' });
export const disputeKey = (id: string) => ({ pk: `DISPUTE#${id}`, sk: 'DISPUTE' });

/** A stored item without its keys, entity tag and index attribute. */
export function strip<T>(item: Record<string, unknown>): T {
  const { pk: _pk, sk: _sk, entity: _entity, open_status: _open, ...rest } = item;
  return rest as unknown as T;
}

/** An item by key, read consistently. */
export async function readItem(
  client: DynamoDBDocumentClient,
  tableName: string,
  key: Record<string, string>,
): Promise<Record<string, unknown> | undefined> {
  const { Item } = await retryable(() =>
    client.send(new GetCommand({ TableName: tableName, Key: key, ConsistentRead: true })),
  );
  return Item;
}

export async function readRefund(
  client: DynamoDBDocumentClient,
  tableName: string,
  refundId: string,
): Promise<Refund | undefined> {
  const item = await readItem(client, tableName, refundKey(refundId));
  return item ? strip<Refund>(item) : undefined;
}

export async function readDispute(
  client: DynamoDBDocumentClient,
  tableName: string,
  disputeId: string,
): Promise<Dispute | undefined> {
  const item = await readItem(client, tableName, disputeKey(disputeId));
  return item ? strip<Dispute>(item) : undefined;
}
