/**
 * Accepting a refund: the order must be charged (SUCCESS); its amount is reserved on the order's refundable amount
 * in one transaction with the refund (the sum of an order's refunds never exceeds it, also under concurrent
 * requests: the reservation is conditional on what was reserved before), then the refund workflow starts.
 */
import { refundFeeShare } from '../ledger/postings';
import { AmountAboveRefundableError, RefundConflictError, RefundIdTakenError, RefundNotAllowedError } from './errors';
import type { RefundDeps } from './ports';
import type { Refund, RefundableOrder, RefundReason } from './refund';

export interface RefundOrder {
  refund_id: string;
  amount_minor: number;
  reason: RefundReason;
  created_by_key_id?: string;
}

/** Attempts when concurrent refunds of one order keep moving its refundable amount (bounded). */
const MAX_ATTEMPTS = 20;

export async function requestRefund(
  deps: Pick<RefundDeps, 'refunds' | 'workflow' | 'now'>,
  order: RefundableOrder,
  request: RefundOrder,
): Promise<{ refund: Refund; created: boolean }> {
  const existing = await deps.refunds.get(request.refund_id);
  if (existing) {
    if (existing.payment_order_id !== order.payment_order_id || existing.amount_minor !== request.amount_minor) {
      throw new RefundIdTakenError('this Idempotency-Key was already used for another refund');
    }
    if (existing.status === 'CREATED') await deps.workflow.start(existing.refund_id);
    return { refund: existing, created: false };
  }
  if (order.status !== 'SUCCESS' || !order.psp_reference) {
    throw new RefundNotAllowedError(
      `payment order ${order.payment_order_id} is ${order.status}: only a charged (SUCCESS) order can be refunded`,
    );
  }
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const refundable = await deps.refunds.refundable(order.payment_order_id);
    const before = refundable?.refunded_minor ?? 0;
    const feeBefore = refundable?.fee_refunded_minor ?? 0;
    const left = order.amount_minor - before;
    if (request.amount_minor > left) throw new AmountAboveRefundableError(request.amount_minor, left, order.currency);
    const now = (deps.now?.() ?? new Date()).toISOString();
    const refund: Refund = {
      refund_id: request.refund_id,
      payment_id: order.payment_id,
      payment_order_id: order.payment_order_id,
      seller_account: order.seller_account,
      currency: order.currency,
      amount_minor: request.amount_minor,
      fee_share_minor: refundFeeShare(order, before, feeBefore, request.amount_minor),
      reason: request.reason,
      psp_reference: order.psp_reference,
      status: 'CREATED',
      wallet_debited: false,
      refund_booked: false,
      reversal_booked: false,
      wallet_restored: false,
      refundable_released: false,
      reversal_done: false,
      ...(request.created_by_key_id ? { created_by_key_id: request.created_by_key_id } : {}),
      created_at: now,
      updated_at: now,
    };
    const outcome = await deps.refunds.create(refund, order, before, feeBefore);
    if (outcome === 'created') {
      await deps.workflow.start(refund.refund_id);
      return { refund, created: true };
    }
    if (outcome === 'exists') return requestRefund(deps, order, request);
    // Another refund of the order moved first: read again, with a little jitter.
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * attempt));
  }
  throw new RefundConflictError(
    `payment order ${order.payment_order_id} is being refunded by other requests: retry with the same Idempotency-Key`,
  );
}
