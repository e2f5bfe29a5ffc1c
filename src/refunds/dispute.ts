/**
 * A dispute (a chargeback) of one of our payments, as the PSP reports it: the amount is split over the payment's
 * orders in proportion to their amounts; each order's seller bears its share. Policy: the seller's share is set aside
 * in its wallet while the dispute is open (it cannot be paid out), given back if won, taken if lost; the platform keeps
 * its fee and bears the PSP's dispute fee (an expense, given back if won).
 */
export type DisputeStatus = 'OPEN' | 'WON' | 'LOST';

export interface DisputeShareRecord {
  payment_order_id: string;
  seller_account: string;
  amount_minor: number;
}

export interface Dispute {
  dispute_id: string;
  payment_id: string;
  psp_reference: string;
  currency: string;
  amount_minor: number;
  fee_minor: number;
  reason: string;
  /** Ours: OPEN until the PSP closes it, then WON or LOST. */
  dispute_status: DisputeStatus;
  /** The PSP's own status (needs_response, under_review, won, lost...). */
  psp_status: string;
  evidence_due_by?: string;
  shares: DisputeShareRecord[];
  held: boolean;
  withdrawal_booked: boolean;
  reinstated: boolean;
  lost_booked: boolean;
  /** Decided and every consequence applied (the janitor stops looking). */
  settled?: boolean;
  created_at: string;
  updated_at: string;
}
