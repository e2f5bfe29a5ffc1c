/**
 * The refund aggregate: money going back to the buyer for part or all of one payment order.
 *
 *   CREATED (refundable amount reserved) --wallet debited and booked--> PROCESSING --PSP succeeded--> SUCCEEDED
 *   PROCESSING --PSP pending--> (waits: refund.updated / refund.failed webhooks, the janitor's poll)
 *   PROCESSING --PSP failed / canceled / refused--> FAILED / CANCELED (booking reversed, wallet restored, refundable
 *   released);  CREATED | PROCESSING --500 from the PSP--> UNKNOWN --PSP's record--> PROCESSING | FAILED
 *   SUCCEEDED --failed later (the PSP allows it)--> FAILED
 */
import { createHash } from 'node:crypto';

export type RefundStatus = 'CREATED' | 'PROCESSING' | 'SUCCEEDED' | 'FAILED' | 'CANCELED' | 'UNKNOWN';
export type RefundReason = 'requested_by_customer' | 'duplicate' | 'fraudulent';
export const REFUND_REASONS: readonly RefundReason[] = ['requested_by_customer', 'duplicate', 'fraudulent'];

export interface Refund {
  refund_id: string;
  payment_id: string;
  payment_order_id: string;
  seller_account: string;
  currency: string;
  amount_minor: number;
  /** The platform fee's share of this refund (returned to the buyer with it; see refundFeeShare). */
  fee_share_minor: number;
  reason: RefundReason;
  /** The PSP payment refunded (a PaymentIntent). */
  psp_reference: string;
  psp_refund_id?: string;
  status: RefundStatus;
  failure_reason?: string;
  wallet_debited: boolean;
  /** Where the debit took the money from (the order's pending credit, or available): a failure gives it back there. */
  debited_from?: 'pending' | 'available';
  /** Since when the PSP's answer is unknown (the lag before "not found" counts runs from here). */
  unknown_since?: string;
  refund_booked: boolean;
  reversal_booked: boolean;
  wallet_restored: boolean;
  refundable_released: boolean;
  /** After a failure: booking reversed, wallet restored, refundable amount released. */
  reversal_done: boolean;
  task_token?: string;
  created_by_key_id?: string;
  created_at: string;
  updated_at: string;
}

/** What a refund needs to know of the payment order (read from the pay-in by the caller). */
export interface RefundableOrder {
  payment_id: string;
  payment_order_id: string;
  seller_account: string;
  currency: string;
  amount_minor: number;
  fee_minor: number;
  /** The order's pay-in status: only a SUCCESS order can be refunded. */
  status: string;
  psp_reference?: string;
}

export const FINAL_REFUND_STATUSES: readonly RefundStatus[] = ['SUCCEEDED', 'FAILED', 'CANCELED'];
export const isFinalRefund = (r: Pick<Refund, 'status'>) => FINAL_REFUND_STATUSES.includes(r.status);

/** Whether the janitor still has work: not final, or failed with its reversal not finished. */
export const isOpenRefund = (r: Pick<Refund, 'status' | 'reversal_done' | 'wallet_debited'>) =>
  !isFinalRefund(r) || ((r.status === 'FAILED' || r.status === 'CANCELED') && !r.reversal_done);

export const REFUND_TRANSITIONS: Record<RefundStatus, readonly RefundStatus[]> = {
  CREATED: ['PROCESSING', 'FAILED', 'UNKNOWN'],
  PROCESSING: ['SUCCEEDED', 'FAILED', 'CANCELED', 'UNKNOWN'],
  UNKNOWN: ['PROCESSING', 'SUCCEEDED', 'FAILED', 'CANCELED'],
  SUCCEEDED: ['FAILED'],
  FAILED: [],
  CANCELED: [],
};

const digest = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 32);

/** Derived from the caller's key and Idempotency-Key: a retry finds the same refund. */
export const refundIdFor = (apiKeyId: string, idempotencyKey: string) =>
  `rf_${digest(`${apiKeyId}\n${idempotencyKey}`)}`;
