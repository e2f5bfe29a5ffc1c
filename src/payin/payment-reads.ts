/**
 * Reading a payment as it is stored (its event and orders, one item collection), for the payments table and for the
 * functions of other flows that only read a payment (the refunds' webhook consumer and steps read its orders): no
 * writes here, so a reader does not bundle what the writes need (metrics, the timeline).
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { queryPartition } from '../core/query';
import type { PaymentEvent, PaymentOrder } from './payment';
import type { Payment } from './ports';

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
