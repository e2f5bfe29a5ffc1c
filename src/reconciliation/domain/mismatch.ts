/**
 * What reconciliation finds: the mismatch types, the class each belongs to (the seeds' three: fixed by a program,
 * classifiable but left to a person, unclassifiable), and what the automatic fix of each auto_fixed type is.
 */

export const MISMATCH_CLASSES = ['auto_fixed', 'manual', 'unclassifiable'] as const;
export type MismatchClass = (typeof MISMATCH_CLASSES)[number];

/** Settlement-file mismatches, then internal ones (our own records disagreeing with each other). */
export const MISMATCH_TYPES = [
  'duplicate_row',
  'timing',
  'missed_outcome',
  'unbooked_reversal',
  'amount_mismatch',
  'currency_mismatch',
  'missing_in_settlement',
  'charged_but_failed',
  'unknown_row',
  'duplicate_movement',
  'wallet_drift',
  'unbooked_order',
  'unbalanced_transaction',
  'clearing_drift',
] as const;
export type MismatchType = (typeof MISMATCH_TYPES)[number];

/** The class of each type (a `timing` still unmatched after CARRY_DAYS becomes manual). */
export const CLASS_OF: Record<MismatchType, MismatchClass> = {
  duplicate_row: 'auto_fixed',
  timing: 'auto_fixed',
  missed_outcome: 'auto_fixed',
  unbooked_reversal: 'auto_fixed',
  amount_mismatch: 'manual',
  currency_mismatch: 'manual',
  missing_in_settlement: 'manual',
  charged_but_failed: 'manual',
  unknown_row: 'unclassifiable',
  duplicate_movement: 'manual',
  wallet_drift: 'manual',
  unbooked_order: 'manual',
  unbalanced_transaction: 'manual',
  clearing_drift: 'manual',
};

/** A record of ours dated D whose row is not in D's file waits this many days for a later file, then is manual. */
export const CARRY_DAYS = 3;

/** How an auto_fixed mismatch is fixed. */
export type FixAction =
  /** A row given twice: counted once (nothing to book). */
  | { kind: 'count_once' }
  /** Our record is in a later file (the PSP dates it later): carried to the next runs, which match it. */
  | { kind: 'carry_forward' }
  /** A charge for a payment we hold unsettled: settled through pay-in's recovery decision (as the janitor does). */
  | { kind: 'settle_payment'; payment_id: string }
  /** A refund (or its failure) we have not settled: settled from the PSP's record by the refund flow. */
  | { kind: 'settle_refund'; refund_id: string }
  /** A dispute movement we have not booked: the dispute applied from the PSP's state by the dispute flow. */
  | { kind: 'apply_dispute'; dispute_id: string }
  /** A transfer (or its reversal) of a payout we hold unsettled: settled from the PSP's record by the pay-out. */
  | { kind: 'settle_payout'; payout_id: string };

/** One difference found, before it is stored. */
export interface Finding {
  type: MismatchType;
  class: MismatchClass;
  /** What a person reads: what differs and what was (or must be) done. */
  detail: string;
  /** The settlement key (ledger and file), when there is one. */
  key?: string;
  balance_transaction_id?: string;
  line?: number;
  currency?: string;
  /** What the PSP's file says (minor units, signed as the PSP's balance moved). */
  psp_amount_minor?: number;
  /** What our ledger says (the PSP clearing account's movement). */
  our_amount_minor?: number;
  /** The currency of `our_amount_minor`, when it is not `currency` (a currency mismatch). */
  our_currency?: string;
  payment_id?: string;
  refund_id?: string;
  payout_id?: string;
  dispute_id?: string;
  seller_account?: string;
  fix?: FixAction;
}

export function finding(type: MismatchType, fields: Omit<Finding, 'type' | 'class'>): Finding {
  return { type, class: CLASS_OF[type], ...fields };
}

/**
 * A stored mismatch's id: deterministic from the date and what it is about, so a second run of the date finds
 * the same mismatch instead of a new one.
 */
export function mismatchIdOf(
  date: string,
  found: Pick<Finding, 'type' | 'balance_transaction_id' | 'key' | 'currency' | 'seller_account'>,
): string {
  const subject =
    found.balance_transaction_id ?? found.key ?? [found.seller_account, found.currency].filter(Boolean).join(':');
  return `mm_${date.replaceAll('-', '')}_${found.type}_${subject}`;
}
