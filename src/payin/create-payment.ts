/**
 * Accepting a checkout: turn a well-formed request into the payment event and its orders (amounts in minor units,
 * fees fixed), store them in one transaction, and start the pay-in workflow under an execution named after the
 * payment id. The shape of the request is checked at the HTTP edge (src/api/checkout.ts) before it comes here.
 */

import { createHash } from 'node:crypto';
import { feeMinor, MAX_MINOR_UNITS, MoneyError, sumMinor, toMinorUnits } from '../core/money';
import { DuplicateCheckoutError, type FieldProblem, InvalidCheckoutError } from './errors';
import type { Buyer, PaymentEvent, PaymentOrder } from './payment';
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

/**
 * Stores a validated checkout and starts its workflow. Safe to repeat: a second call for the same payment
 * (a retry after a failure between the two steps) finds its own payment and only makes sure the workflow runs.
 * The payment is stored with the name of its first execution (its id), so starting it writes nothing more; its
 * acceptance and that start are told on its timeline from the payment and the execution's history.
 */
export async function acceptPayment(
  deps: CreatePaymentDeps,
  payment: { event: PaymentEvent; orders: PaymentOrder[] },
): Promise<{ event: PaymentEvent; orders: PaymentOrder[] }> {
  payment = { ...payment, event: { ...payment.event, execution_name: payment.event.payment_id } };
  try {
    await deps.payments.create(payment.event, payment.orders);
  } catch (error) {
    const ours = error instanceof DuplicateCheckoutError && error.existingPaymentId === payment.event.payment_id;
    if (!ours) throw error;
    const stored = await deps.payments.get(payment.event.payment_id);
    if (!stored) throw error;
    payment = stored;
  }
  await startPayIn(deps, payment.event);
  return payment;
}
