/** Refunds and disputes at the HTTP edge: request bodies checked (zod), amounts in minor units, views as decimals. */
import * as z from 'zod';
import { fromMinorUnits, MoneyError, toMinorUnits } from '../core/money';
import type { Dispute } from '../refunds/dispute';
import { REFUND_REASONS, type Refund, type RefundReason } from '../refunds/refund';
import { findCardData } from './card-data';
import { badRequest } from './http';
import { zodErrors } from './zod-errors';

export const refundRequestSchema = z.strictObject({
  payment_order_id: z
    .string({ error: 'payment_order_id must be a string' })
    .min(1, 'payment_order_id must not be empty')
    .max(128, 'payment_order_id must be at most 128 characters'),
  amount: z.string({ error: 'amount must be a decimal string such as "12.34", not a number' }),
  reason: z.enum(REFUND_REASONS as [RefundReason, ...RefundReason[]], {
    error: `reason must be one of ${REFUND_REASONS.join(', ')}`,
  }),
});

/** The request, with the amount still a decimal string (its currency is the order's). */
export function validateRefundRequest(body: unknown): z.infer<typeof refundRequestSchema> {
  const cardField = findCardData(body);
  if (cardField)
    throw badRequest('card data is never accepted', [{ field: cardField, message: 'looks like card data' }]);
  const parsed = refundRequestSchema.safeParse(body, { reportInput: true });
  if (!parsed.success) throw badRequest('the refund is not valid', zodErrors(parsed.error));
  return parsed.data;
}

/** The amount in the order's currency (its exponent), or a 400 naming `amount`. */
export function refundAmountMinor(amount: string, currency: string): number {
  try {
    const minor = toMinorUnits(amount, currency);
    if (minor <= 0) throw new MoneyError('must be more than zero');
    return minor;
  } catch (error) {
    if (error instanceof MoneyError)
      throw badRequest('the refund is not valid', [{ field: 'amount', message: `amount ${error.message}` }]);
    throw error;
  }
}

export function refundView(refund: Refund) {
  return {
    refund_id: refund.refund_id,
    payment_id: refund.payment_id,
    payment_order_id: refund.payment_order_id,
    seller_account: refund.seller_account,
    status: refund.status,
    amount: fromMinorUnits(refund.amount_minor, refund.currency),
    currency: refund.currency,
    reason: refund.reason,
    psp_refund_id: refund.psp_refund_id ?? null,
    failure_reason: refund.failure_reason ?? null,
    created_at: refund.created_at,
    updated_at: refund.updated_at,
  };
}

/** Each order's refunds and its refunded amount (succeeded or on their way), for GET /v1/payments/{id}. */
export function refundsByOrder(refunds: Refund[]) {
  const byOrder = new Map<
    string,
    { refunds: ReturnType<typeof refundView>[]; refunded_minor: number; currency: string }
  >();
  for (const refund of refunds.sort((a, b) => a.created_at.localeCompare(b.created_at))) {
    const entry = byOrder.get(refund.payment_order_id) ?? { refunds: [], refunded_minor: 0, currency: refund.currency };
    entry.refunds.push(refundView(refund));
    if (refund.status !== 'FAILED' && refund.status !== 'CANCELED') entry.refunded_minor += refund.amount_minor;
    byOrder.set(refund.payment_order_id, entry);
  }
  return byOrder;
}

export function disputeView(dispute: Dispute) {
  return {
    dispute_id: dispute.dispute_id,
    payment_id: dispute.payment_id,
    psp_reference: dispute.psp_reference,
    status: dispute.dispute_status,
    psp_status: dispute.psp_status,
    amount: fromMinorUnits(dispute.amount_minor, dispute.currency),
    fee: fromMinorUnits(dispute.fee_minor, dispute.currency),
    currency: dispute.currency,
    reason: dispute.reason,
    evidence_due_by: dispute.evidence_due_by ?? null,
    orders: dispute.shares.map((s) => ({
      payment_order_id: s.payment_order_id,
      seller_account: s.seller_account,
      amount: fromMinorUnits(s.amount_minor, dispute.currency),
    })),
    created_at: dispute.created_at,
    updated_at: dispute.updated_at,
  };
}
