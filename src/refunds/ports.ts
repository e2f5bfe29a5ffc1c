/**
 * What refunds and disputes need from storage, wallets, the ledger, the PSP and the workflow engine: small
 * interfaces they own (src/refunds/refunds-table.ts, src/ledger/*, src/psp/stripe-refunds.ts implement them).
 */
import type { TaskResponder } from '../core/task-responder';
import type { LedgerTransaction } from '../ledger/postings';
import type { Bucket, GuardFor, TransactGuard, WalletBalance, WalletPosting } from '../ledger/wallets';
import type { RefundsPsp } from '../psp/refund-types';
import type { Dispute, DisputeStatus } from './dispute';
import type { Refund, RefundableOrder, RefundStatus } from './refund';

export type { TaskResponder, TransactGuard };

/** An order's refundable amount as kept by the refunds (the order's amount, and what refunds have reserved). */
export interface Refundable {
  payment_order_id: string;
  amount_minor: number;
  fee_minor: number;
  refunded_minor: number;
  /** The platform fee the live refunds returned. */
  fee_refunded_minor?: number;
}

export type RefundFlag =
  | 'wallet_debited'
  | 'refund_booked'
  | 'reversal_booked'
  | 'wallet_restored'
  | 'refundable_released';
/** withdrawal_booked, reinstated, lost_booked, or a share's own: held_<n>, released_<n>, captured_<n>. */
export type DisputeFlag = string;

export interface RefundsStore {
  get(refundId: string): Promise<Refund | undefined>;
  refundable(paymentOrderId: string): Promise<Refundable | undefined>;
  /**
   * Reserves the refund's amount on the order's refundable amount (conditional on `refundedBefore` being what is
   * reserved now, and on the sum not exceeding the order) and stores the refund, in one transaction. 'raced' when
   * another refund of the order moved first (read again and retry), 'exists' when the refund id is taken.
   */
  create(
    refund: Refund,
    order: RefundableOrder,
    refundedBefore: number,
    feeRefundedBefore: number,
  ): Promise<'created' | 'raced' | 'exists'>;
  move(refund: Refund, to: RefundStatus, set?: Partial<Refund>, from?: RefundStatus[]): Promise<boolean>;
  setFields(refundId: string, set: Partial<Refund>, ifStatusIn?: RefundStatus[]): Promise<boolean>;
  /** The conditional write that sets a flag once (and `also`, e.g. the bucket a debit used), for its posting's transaction. */
  flagGuard(refundId: string, flag: RefundFlag, also?: Record<string, string>): TransactGuard;
  /** The conditional write that gives a failed refund's amount back to the order's refundable amount, once. */
  releaseRefundable(refund: Refund): Promise<boolean>;
  byPayment(paymentId: string): Promise<Refund[]>;
  openSince(before: string, limitPerStatus: number): Promise<Refund[]>;
  webhookSeen(eventId: string): Promise<boolean>;
  recordWebhook(eventId: string, details: Record<string, unknown>): Promise<boolean>;
  getDispute(disputeId: string): Promise<Dispute | undefined>;
  /** Stores a new dispute; false when it exists. */
  createDispute(dispute: Dispute): Promise<boolean>;
  /** Sets fields; a decided dispute (WON, LOST) never goes back to OPEN (a slower, older read loses). */
  setDisputeFields(disputeId: string, set: Partial<Dispute>): Promise<void>;
  disputeFlagGuard(disputeId: string, flag: DisputeFlag, also?: Record<string, string>): TransactGuard;
  disputes(status: DisputeStatus | undefined, limit: number, before?: string): Promise<Dispute[]>;
  /** Disputes still to watch or finish (open, or decided but not settled), oldest first, per status. */
  unsettledDisputes(limitPerStatus: number): Promise<Dispute[]>;
}

export interface RefundWallets {
  debitAllowingNegative(posting: WalletPosting, guard?: TransactGuard): Promise<boolean>;
  debitForRefund(posting: WalletPosting, sourceId: string, guardFor: GuardFor): Promise<boolean>;
  creditForFailedRefund(posting: WalletPosting, sourceId: string, guard: TransactGuard, from: Bucket): Promise<boolean>;
  credit(posting: WalletPosting, guard?: TransactGuard): Promise<boolean>;
  holdForDisputeFrom(posting: WalletPosting, sourceId: string, guardFor: GuardFor): Promise<boolean>;
  releaseDisputeTo(posting: WalletPosting, sourceId: string, guard: TransactGuard, from: Bucket): Promise<boolean>;
  captureDispute(posting: WalletPosting, guard?: TransactGuard): Promise<boolean>;
  balances(seller: string): Promise<WalletBalance[]>;
}

export interface RefundLedger {
  appendOnce(transaction: LedgerTransaction, alsoWrite?: TransactGuard[]): Promise<boolean>;
}

export interface RefundWorkflow {
  start(refundId: string): Promise<void>;
}

/** The orders of one of our payments, as the pay-in holds them (the composition root reads them there). */
export type PaymentOrders = (paymentId: string) => Promise<RefundableOrder[] | undefined>;

export interface RefundSettings {
  staleAfterSeconds: number;
  pspListLagSeconds: number;
}

export interface RefundDeps {
  refunds: RefundsStore;
  wallets: RefundWallets;
  ledger: RefundLedger;
  psp: RefundsPsp;
  tasks: TaskResponder;
  workflow: RefundWorkflow;
  orders: PaymentOrders;
  settings: RefundSettings;
  now?: () => Date;
}
