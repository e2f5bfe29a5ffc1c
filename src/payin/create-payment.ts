/**
 * Accepting a checkout: validate it completely, store the payment event and its orders in one transaction,
 * and start the pay-in workflow under an execution named after the payment id.
 */
import { randomUUID } from 'node:crypto';
import { ExecutionAlreadyExists, StartExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import type { ZodError } from 'zod';
import { badRequest, type FieldError } from '../api/http';
import { findCardData } from '../api/card-data';
import { createPaymentSchema } from '../api/schemas';
import { asRetryable } from '../adapters/errors';
import type { PaymentsTable } from '../adapters/payments-table';
import { feeMinor, MoneyError, sumMinor, toMinorUnits, MAX_MINOR_UNITS } from '../domain/money';
import type { PaymentEvent, PaymentOrder } from '../domain/payment';

export interface CreatePaymentDeps {
  payments: PaymentsTable;
  sfn: SFNClient;
  stateMachineArn: string;
  platformFeeBps: number;
  newPaymentId?: () => string;
  now?: () => Date;
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
  const parsed = createPaymentSchema.safeParse(body);
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
    payment_method: request.payment_method,
    status: 'NOT_STARTED',
    order_ids: orders.map((o) => o.payment_order_id),
    created_at: ids.now,
    updated_at: ids.now,
  };
  return { event, orders };
}

export function newPaymentId(): string {
  return `pay_${randomUUID().replaceAll('-', '')}`;
}

export async function createPayment(
  deps: CreatePaymentDeps,
  body: unknown,
): Promise<{ event: PaymentEvent; orders: PaymentOrder[] }> {
  const paymentId = (deps.newPaymentId ?? newPaymentId)();
  const now = (deps.now?.() ?? new Date()).toISOString();
  const { event, orders } = validateCheckout(body, deps.platformFeeBps, { paymentId, now });
  await deps.payments.create(event, orders);
  await startPayIn(deps, event);
  return { event, orders };
}

/** Starts the workflow; the execution name is the payment id, so a repeated start cannot run a second one. */
export async function startPayIn(
  deps: Pick<CreatePaymentDeps, 'sfn' | 'stateMachineArn'>,
  event: Pick<PaymentEvent, 'payment_id' | 'order_ids'>,
): Promise<void> {
  try {
    await deps.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: deps.stateMachineArn,
        name: event.payment_id,
        input: JSON.stringify({
          payment_id: event.payment_id,
          orders: event.order_ids.map((id) => ({ payment_order_id: id })),
        }),
      }),
    );
  } catch (error) {
    if (error instanceof ExecutionAlreadyExists) return;
    throw asRetryable(error);
  }
}
