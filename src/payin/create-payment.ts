/**
 * Accepting a checkout: validate it completely, store the payment event and its orders in one transaction,
 * and start the pay-in workflow under an execution named after the payment id.
 */
import { createHash } from 'node:crypto';
import type { SFNClient } from '@aws-sdk/client-sfn';
import type { ZodError } from 'zod';
import { DuplicateCheckoutError, type PaymentsTable } from '../adapters/payments-table';
import { findCardData } from '../api/card-data';
import { badRequest, type FieldError } from '../api/http';
import { createPaymentSchema } from '../api/schemas';
import { feeMinor, MAX_MINOR_UNITS, MoneyError, sumMinor, toMinorUnits } from '../domain/money';
import type { PaymentEvent, PaymentOrder } from '../domain/payment';
import { startPayIn } from './workflow';

export interface CreatePaymentDeps {
  payments: PaymentsTable;
  sfn: SFNClient;
  stateMachineArn: string;
  platformFeeBps: number;
}

function fieldPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (text, part) => (typeof part === 'number' ? `${text}[${part}]` : text ? `${text}.${String(part)}` : String(part)),
    '',
  );
}

function zodErrors(error: ZodError): FieldError[] {
  return error.issues.map((issue) => {
    const field = fieldPath(issue.path) || '(body)';
    if (issue.code === 'unrecognized_keys') {
      return { field, message: `unknown field${issue.keys.length > 1 ? 's' : ''}: ${issue.keys.join(', ')}` };
    }
    if (issue.code === 'invalid_type' && issue.input === undefined) return { field, message: `${field} is required` };
    return { field, message: issue.message };
  });
}

/** Validates a checkout body: every problem is reported with the field it concerns. Nothing is stored on error. */
export function validateCheckout(body: unknown, platformFeeBps: number, ids: { paymentId: string; now: string }) {
  const cardField = findCardData(body);
  if (cardField) {
    throw badRequest(
      'card data is never accepted: collect it on the PSP payment page or with the PSP SDK and send the payment method token',
      [{ field: cardField, message: 'looks like card data' }],
    );
  }
  const parsed = createPaymentSchema.safeParse(body, { reportInput: true });
  if (!parsed.success) throw badRequest('the checkout is not valid', zodErrors(parsed.error));
  const request = parsed.data;
  const errors: FieldError[] = [];
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
  if (errors.length > 0) throw badRequest('the checkout is not valid', errors);
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
 */
export async function acceptPayment(
  deps: CreatePaymentDeps,
  payment: { event: PaymentEvent; orders: PaymentOrder[] },
): Promise<{ event: PaymentEvent; orders: PaymentOrder[] }> {
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
