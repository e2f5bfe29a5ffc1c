/**
 * Reading a payout as it is stored, for the payouts table and for the functions of other flows that only read it
 * (reconciliation's matching): no writes here, so a reader does not bundle what the writes need.
 */
import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { retryable } from '../core/errors';
import type { Payout } from './payout';

export const payoutKey = (id: string) => ({ pk: `PAYOUT#${id}`, sk: 'PAYOUT' });

export function toPayout(item: Record<string, unknown>): Payout {
  const { pk: _pk, sk: _sk, entity: _entity, open_status: _open, ...rest } = item;
  return rest as unknown as Payout;
}

export async function readPayout(
  client: DynamoDBDocumentClient,
  tableName: string,
  payoutId: string,
): Promise<Payout | undefined> {
  const { Item } = await retryable(() =>
    client.send(new GetCommand({ TableName: tableName, Key: payoutKey(payoutId), ConsistentRead: true })),
  );
  return Item ? toPayout(Item) : undefined;
}
