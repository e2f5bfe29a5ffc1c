/**
 * The payout aggregate: one payment of a seller's available money to the seller, a Connect transfer from the
 * platform's PSP balance to the seller's connected account, then a payout from there to the seller's bank.
 *
 *   RESERVED --transfer made--> TRANSFERRED --payout made--> IN_TRANSIT --paid--> PAID
 *      |  \--transfer refused (hold released)--> FAILED          |  \--failed / canceled--> FAILED / CANCELED
 *      \--500 from the PSP--> UNKNOWN --PSP's record--> TRANSFERRED | FAILED    PAID --late failure--> FAILED
 *   TRANSFERRED --payout refused--> FAILED;  TRANSFERRED --500 from the PSP--> UNKNOWN (stage payout)
 *
 * A failure after the transfer (payout refused, failed at the bank, canceled) reverses the transfer at the PSP,
 * books the reversal, gives the money back to the seller's available balance and pauses the seller's payouts;
 * `reversal_done` says when all of that has happened (the janitor finishes it otherwise).
 */
import { createHash } from 'node:crypto';

export type PayoutStatus = 'RESERVED' | 'TRANSFERRED' | 'IN_TRANSIT' | 'PAID' | 'FAILED' | 'CANCELED' | 'UNKNOWN';

export const FINAL_PAYOUT_STATUSES: readonly PayoutStatus[] = ['PAID', 'FAILED', 'CANCELED'];

export interface Payout {
  payout_id: string;
  seller_account: string;
  currency: string;
  amount_minor: number;
  status: PayoutStatus;
  /** What asked for it: a request (POST /v1/payouts) or a payout run. */
  trigger: 'request' | 'run';
  run_id?: string;
  /** The seller's connected account at the PSP when the payout was made. */
  psp_account_id: string;
  transfer_id?: string;
  psp_payout_id?: string;
  reversal_id?: string;
  /** Which PSP call's outcome is not known (UNKNOWN only), and since when. */
  unknown_stage?: 'transfer' | 'payout';
  unknown_since?: string;
  failure_code?: string;
  failure_message?: string;
  /** Set once the hold became the transfer in the wallet (captured). */
  wallet_captured: boolean;
  transfer_booked: boolean;
  reversal_booked: boolean;
  wallet_restored: boolean;
  /** A failure after the transfer: reversed at the PSP, booked, the wallet restored and the seller paused. */
  reversal_done: boolean;
  /** When the PSP said paid; a paid payout is watched for a late failure until `watch_done`. */
  paid_at?: string;
  watch_done?: boolean;
  task_token?: string;
  created_by_key_id?: string;
  created_at: string;
  updated_at: string;
}

export const isFinalPayout = (payout: Pick<Payout, 'status'>) => FINAL_PAYOUT_STATUSES.includes(payout.status);

/**
 * Whether a payout still needs the janitor: not final; failed after its transfer with the reversal not finished;
 * or paid and still watched for a late failure (the PSP may turn `paid` into `failed` days later, and its webhook
 * may be lost).
 */
export const isOpenPayout = (payout: Pick<Payout, 'status' | 'transfer_id' | 'reversal_done' | 'watch_done'>) =>
  !isFinalPayout(payout) ||
  (payout.status === 'PAID' ? payout.watch_done !== true : payout.transfer_id !== undefined && !payout.reversal_done);

/** How long a paid payout is watched for a late failure at the bank. */
export const PAID_WATCH_DAYS = 10;

/** Failure codes that are not the seller's bank: they pause nothing. */
export const NOT_A_BANK_FAILURE = new Set([
  'psp_error',
  'payouts_not_allowed',
  'balance_insufficient',
  'transfers_not_allowed',
  'canceled',
]);

/** Which statuses each status may move to (a late failure turns PAID into FAILED). */
export const PAYOUT_TRANSITIONS: Record<PayoutStatus, readonly PayoutStatus[]> = {
  RESERVED: ['TRANSFERRED', 'FAILED', 'UNKNOWN'],
  UNKNOWN: ['TRANSFERRED', 'IN_TRANSIT', 'FAILED'],
  TRANSFERRED: ['IN_TRANSIT', 'FAILED', 'UNKNOWN'],
  IN_TRANSIT: ['PAID', 'FAILED', 'CANCELED'],
  PAID: ['FAILED'],
  FAILED: [],
  CANCELED: [],
};

export const canMove = (from: PayoutStatus, to: PayoutStatus) => PAYOUT_TRANSITIONS[from].includes(to);

const digest = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 32);

/** The payout of a request: derived from the caller's key and Idempotency-Key, so a retry finds it again. */
export const requestPayoutId = (apiKeyId: string, idempotencyKey: string) =>
  `po_${digest(`${apiKeyId}\n${idempotencyKey}`)}`;

/** The payout of a run: derived from seller, currency and the run's date, so a run started twice pays no one twice. */
export const runPayoutId = (seller: string, currency: string, date: string) =>
  `po_${digest(`run\n${seller}\n${currency}\n${date}`)}`;

/** The run of a date (one per UTC day). */
export const runIdFor = (date: string) => `prun_${date}`;

/** Idempotency keys of the payout's PSP calls, derived from its id. */
export const pspKeys = (payoutId: string) => ({
  transfer: `${payoutId}:transfer`,
  payout: `${payoutId}:payout`,
  reversal: `${payoutId}:transfer-reversal`,
});

/** Stripe's words for a payout's failure codes, for the seller and for support. */
export const FAILURE_MESSAGES: Record<string, string> = {
  account_closed: 'The bank account has been closed.',
  account_frozen: 'The bank account has been frozen.',
  bank_account_restricted: 'The bank account has restrictions on either the type or number of payouts allowed.',
  could_not_process: 'The bank could not process this payout.',
  debit_not_authorized: 'Debit transactions are not approved on the bank account.',
  insufficient_funds: 'The PSP account has insufficient funds to cover the payout.',
  invalid_account_number: 'The routing number seems correct, but the account number is invalid.',
  no_account: 'The bank account details on file are probably incorrect: no bank account could be located.',
  balance_insufficient: "The platform's available balance at the PSP does not cover the transfer.",
  transfers_not_allowed: "The seller's connected account cannot receive transfers yet.",
  payouts_not_allowed: "Payouts are disabled on the seller's connected account.",
};

export const failureMessage = (code: string, pspMessage?: string) =>
  FAILURE_MESSAGES[code] ?? pspMessage ?? `The payout failed (${code}).`;
