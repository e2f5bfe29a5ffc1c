/** The PSP's refunds and disputes in our terms. The Stripe implementation is in src/psp/stripe-refunds.ts. */
import type { MoneyMoveResult } from './connect-types';

export type { MoneyMoveResult };

export type PspRefundStatus = 'pending' | 'requires_action' | 'succeeded' | 'failed' | 'canceled';

export interface PspRefund {
  refundId: string;
  status: PspRefundStatus;
  amountMinor: number;
  currency: string;
  failureReason?: string;
  /** Our refund id, from its metadata. */
  ourRefundId?: string;
}

export interface RefundRequest {
  paymentIntent: string;
  amountMinor: number;
  reason: string;
  metadata: Record<string, string>;
  idempotencyKey: string;
}

export type PspDisputeStatus =
  | 'warning_needs_response'
  | 'warning_under_review'
  | 'warning_closed'
  | 'needs_response'
  | 'under_review'
  | 'won'
  | 'lost';

export interface PspDispute {
  disputeId: string;
  status: PspDisputeStatus;
  amountMinor: number;
  currency: string;
  reason: string;
  paymentIntent: string;
  /** Our payment id, from the PaymentIntent's metadata. */
  paymentId?: string;
  /** Unix seconds: when evidence is due at the PSP. */
  evidenceDueBy?: number;
  /** What the PSP withdrew from the platform's balance (amount and dispute fee), once it did. */
  withdrawn?: { amountMinor: number; feeMinor: number };
  /** Whether the PSP gave the amount (and fee) back: a won dispute. */
  reinstated: boolean;
}

export interface RefundsPsp {
  /** Throws PspOutcomeUnknownError on a 500, PspTransientError when the PSP cannot be asked. */
  refund(request: RefundRequest): Promise<MoneyMoveResult<PspRefund>>;
  retrieveRefund(refundId: string): Promise<PspRefund>;
  /** The refunds of a PaymentIntent made for one of our refunds (by our id in their metadata). */
  findRefunds(paymentIntent: string, ourRefundId: string): Promise<PspRefund[]>;
  retrieveDispute(disputeId: string): Promise<PspDispute>;
}
