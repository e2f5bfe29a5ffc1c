/**
 * Accepting a checkout: turn a well-formed request into the payment event and its orders (amounts in minor units,
 * fees fixed), store them in one transaction, and start the pay-in workflow under an execution named after the
 * payment id. The shape of the request is checked at the HTTP edge (src/api/checkout.ts) before it comes here.
 */

import { createHash } from 'node:crypto';
import { feeMinor, MAX_MINOR_UNITS, MoneyError, sumMinor, toMinorUnits } from '../core/money';
import { DuplicateCheckoutError, type FieldProblem, InvalidCheckoutError, PaymentIdTakenError } from './errors';
import type { Buyer, Payment, PaymentEvent, PaymentOrder } from './payment';
import type { PaymentsStore } from './ports';
import { startPayIn, type WorkflowDeps } from './workflow';

export type CreatePaymentDeps = WorkflowDeps & { payments: PaymentsStore };

/** A checkout request whose fields have the right types and formats (amounts still decimal strings). */
export interface CheckoutRequest {
  checkout_id: string;
  buyer: Buyer;
  currency: string;
  payment_method?: string;
  return_url?: string;
  payment_orders: { payment_order_id: string; seller_account: string; amount: string }[];
}

/**
 * The payment event and orders of a checkout, or InvalidCheckoutError naming every field at fault (repeated
 * order ids, amounts the currency does not allow, a total too large). Pure: nothing is stored.
 */
export function newPayment(
  request: CheckoutRequest,
  platformFeeBps: number,
  ids: { paymentId: string; now: string },
): { event: PaymentEvent; orders: PaymentOrder[] } {
  const errors: FieldProblem[] = [];
  const seen = new Set<string>();
  const orders: PaymentOrder[] = [];
  request.payment_orders.forEach((order, i) => {
    const field = `payment_orders[${i}]`;
    if (seen.has(order.payment_order_id)) {
      errors.push({ field: `${field}.payment_order_id`, message: 'payment_order_id is repeated in this checkout' });
    }
    seen.add(order.payment_order_id);
    try {
      const amountMinor = toMinorUnits(order.amount, request.currency);
      orders.push({
        payment_id: ids.paymentId,
        payment_order_id: order.payment_order_id,
        seller_account: order.seller_account,
        currency: request.currency,
        amount_minor: amountMinor,
        fee_minor: feeMinor(amountMinor, platformFeeBps),
        status: 'NOT_STARTED',
        wallet_updated: false,
        ledger_updated: false,
        created_at: ids.now,
        updated_at: ids.now,
      });
    } catch (error) {
      if (!(error instanceof MoneyError)) throw error;
      errors.push({ field: `${field}.amount`, message: `amount ${error.message}` });
    }
  });
  if (errors.length === 0 && sumMinor(orders.map((o) => o.amount_minor)) > MAX_MINOR_UNITS) {
    errors.push({ field: 'payment_orders', message: 'the checkout total is too large' });
  }
  if (errors.length > 0) throw new InvalidCheckoutError(errors);
  const event: PaymentEvent = {
    payment_id: ids.paymentId,
    checkout_id: request.checkout_id,
    buyer: request.buyer,
    currency: request.currency,
    total_minor: sumMinor(orders.map((o) => o.amount_minor)),
    mode: request.payment_method ? 'token' : 'hosted',
    payment_method: request.payment_method,
    return_url: request.return_url,
    status: 'NOT_STARTED',
    order_ids: orders.map((o) => o.payment_order_id),
    created_at: ids.now,
    updated_at: ids.now,
  };
  return { event, orders };
}

/**
 * The payment id of a request: derived from the caller's API key id and its Idempotency-Key, so a retry of the
 * same request (even after the idempotency record is gone) lands on the same payment and cannot create another.
 */
export function paymentIdFor(apiKeyId: string, idempotencyKey: string): string {
  return `pay_${createHash('sha256').update(`${apiKeyId}\n${idempotencyKey}`).digest('hex').slice(0, 32)}`;
}

/** A fingerprint of a request body: SHA-256 of its JSON with every object's keys sorted (their order is not meaning). */
export function requestHash(body: unknown): string {
  const canonical = (value: unknown): unknown =>
    Array.isArray(value)
      ? value.map(canonical)
      : value !== null && typeof value === 'object'
        ? Object.fromEntries(
            Object.keys(value)
              .sort()
              .map((key) => [key, canonical((value as Record<string, unknown>)[key])]),
          )
        : value;
  return createHash('sha256')
    .update(JSON.stringify(canonical(body)))
    .digest('hex');
}

/**
 * The payment as it was accepted (before anything happened to it): what the answer to its request says, the first
 * time and on every repeat of the request, from the stored payment's unchanging fields.
 */
export function asAccepted({ event, orders }: Payment): Payment {
  return {
    event: {
      payment_id: event.payment_id,
      checkout_id: event.checkout_id,
      buyer: event.buyer,
      currency: event.currency,
      total_minor: event.total_minor,
      mode: event.mode,
      payment_method: event.payment_method,
      return_url: event.return_url,
      status: 'NOT_STARTED',
      order_ids: event.order_ids,
      created_at: event.created_at,
      updated_at: event.created_at,
    },
    orders: orders.map((order) => ({
      payment_id: order.payment_id,
      payment_order_id: order.payment_order_id,
      seller_account: order.seller_account,
      currency: order.currency,
      amount_minor: order.amount_minor,
      fee_minor: order.fee_minor,
      status: 'NOT_STARTED',
      wallet_updated: false,
      ledger_updated: false,
      created_at: order.created_at,
      updated_at: order.created_at,
    })),
  };
}

/**
 * Stores a validated checkout and starts its workflow, exactly once per payment id (derived from the caller's
 * Idempotency-Key): the stored payment is the request's idempotency record. A repeat of the request (a client's
 * retry, a retry after a failure between the two steps) finds its own payment, checks it was made by the same body
 * (`hash`, else PaymentIdTakenError) and only makes sure the workflow runs: `replayed`. The payment is stored with
 * the name of its first execution (its id), so starting it writes nothing more; its acceptance and that start are
 * told on its timeline from the payment and the execution's history.
 */
export async function acceptPayment(
  deps: CreatePaymentDeps,
  payment: Payment,
  hash?: string,
): Promise<{ payment: Payment; replayed: boolean }> {
  const event: PaymentEvent = {
    ...payment.event,
    execution_name: payment.event.payment_id,
    ...(hash ? { request_hash: hash } : {}),
  };
  let accepted: Payment = { ...payment, event };
  let replayed = false;
  try {
    await deps.payments.create(event, payment.orders);
  } catch (error) {
    const ours = error instanceof DuplicateCheckoutError && error.existingPaymentId === event.payment_id;
    if (!ours) throw error;
    const stored = await deps.payments.get(event.payment_id);
    if (!stored) throw error;
    // A payment stored before requests were fingerprinted is taken as this request's.
    if (hash && stored.event.request_hash && stored.event.request_hash !== hash) {
      throw new PaymentIdTakenError(`payment ${event.payment_id} was created by a request with another body`);
    }
    accepted = stored;
    replayed = true;
  }
  await startPayIn(deps, accepted.event);
  return { payment: accepted, replayed };
}
