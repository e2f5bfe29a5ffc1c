/**
 * Reading a payment as it is stored (its event and orders, one item collection), for the payments table and for the
 * functions of other flows that only read a payment (the refunds' webhook consumer and steps read its orders): no
 * writes here, so a reader does not bundle what the writes need (metrics, the timeline).
 */
import { BatchGetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { retryable, TransientError } from '../core/errors';
import { queryPartition } from '../core/query';
import type { PaymentEvent, PaymentOrder } from './payment';
import type { Payment } from './ports';

/** The keys of a payment's items (its event and orders) and of its guards. */
export const keys = {
  event: (paymentId: string) => ({ pk: `PAY#${paymentId}`, sk: 'EVENT' }),
  order: (paymentId: string, orderId: string) => ({ pk: `PAY#${paymentId}`, sk: `ORDER#${orderId}` }),
  checkoutGuard: (checkoutId: string) => ({ pk: `CHECKOUT#${checkoutId}`, sk: 'GUARD' }),
  orderGuard: (orderId: string) => ({ pk: `ORDER#${orderId}`, sk: 'GUARD' }),
};

/** A stored item without its keys, index attributes and entity tag. */
export function strip<T extends object>(item: Record<string, unknown>): T {
  const { pk: _pk, sk: _sk, gsi1pk: _g1, gsi1sk: _g2, entity: _e, ...rest } = item;
  return rest as T;
}

/** The payment (event and orders, in the checkout's order), or undefined. */
export async function readPayment(
  client: DynamoDBDocumentClient,
  tableName: string,
  paymentId: string,
): Promise<Payment | undefined> {
  const items = await queryPartition(client, tableName, `PAY#${paymentId}`);
  const event = items.find((item) => item.sk === 'EVENT');
  if (!event) return undefined;
  const orders = items
    .filter((item) => typeof item.sk === 'string' && item.sk.startsWith('ORDER#'))
    .map((item) => strip<PaymentOrder>(item));
  const order = new Map(orders.map((o) => [o.payment_order_id, o]));
  const eventData = strip<PaymentEvent>(event);
  // Keep the orders in the checkout's order.
  return { event: eventData, orders: eventData.order_ids.map((id) => order.get(id)).filter((o) => o !== undefined) };
}

/**
 * Orders by id, many at once (BatchGetItem, 100 keys a call; keys the store could not serve yet are asked again,
 * a bounded number of times, with backoff and jitter). The ones not found are left out.
 */
export async function readOrdersByIds(
  client: DynamoDBDocumentClient,
  tableName: string,
  ids: ReadonlyArray<{ payment_id: string; payment_order_id: string }>,
): Promise<PaymentOrder[]> {
  const orders: PaymentOrder[] = [];
  for (let start = 0; start < ids.length; start += 100) {
    let pending: Record<string, unknown>[] = ids
      .slice(start, start + 100)
      .map((id) => keys.order(id.payment_id, id.payment_order_id));
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt >= 8) throw new TransientError('the payments table kept keys of a batch read unprocessed');
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.random() * 50 * 2 ** attempt));
      const out = await retryable(() =>
        client.send(new BatchGetCommand({ RequestItems: { [tableName]: { Keys: pending } } })),
      );
      for (const item of out.Responses?.[tableName] ?? []) orders.push(strip<PaymentOrder>(item));
      pending = (out.UnprocessedKeys?.[tableName]?.Keys ?? []) as Record<string, unknown>[];
    }
  }
  return orders;
}
