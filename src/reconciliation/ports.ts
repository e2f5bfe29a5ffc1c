/**
 * What reconciliation needs from the world, as interfaces it owns: the PSP's reports and records, the settlement
 * archive, our other capabilities' records and their recovery code (wired by the handlers: a flow never imports
 * another flow), the ledger and wallets, the work queues and the metrics.
 */
import type { Readable } from 'node:stream';
import type { ReconciliationSettings } from '../core/config';
import type { LedgerEntry, LedgerTransaction } from '../ledger/postings';
import type { BookedTransaction } from './domain/match';
import type { StoredMismatch } from './domain/run';
import type { ReconciliationTable } from './reconciliation-table';

export interface ReportRun {
  id: string;
  status: 'pending' | 'succeeded' | 'failed';
  /** Where the file is, once succeeded. */
  file_url?: string;
  error?: string;
}

/** A balance transaction as the PSP dates it. */
export interface PspBalanceTransaction {
  id: string;
  /** Unix seconds. */
  created: number;
  reporting_category: string;
}

export interface SettlementPsp {
  /** Asks for the itemized balance report of [start, end) (unix seconds, UTC), once per idempotency key. */
  createReportRun(input: { interval_start: number; interval_end: number; idempotencyKey: string }): Promise<ReportRun>;
  retrieveReportRun(id: string): Promise<ReportRun>;
  /** Up to when the PSP has prepared the report's data (unix seconds). */
  dataAvailableEnd(): Promise<number>;
  /** The report file's bytes, streamed. */
  openFile(url: string): Promise<Readable>;
  /** The balance transactions of a PSP object (charge, refund, transfer, reversal, dispute). */
  balanceTransactionsOf(sourceId: string): Promise<PspBalanceTransaction[]>;
  /** The charge of a PaymentIntent (its latest), if any. */
  chargeOf(paymentIntentId: string): Promise<string | undefined>;
}

/** The raw files and the shards of each run (S3: the settlement bucket). */
export interface SettlementArchive {
  /** Stores a stream; answers the object's version (the bucket is versioned). */
  putStream(key: string, body: Readable, contentType: string): Promise<{ version?: string }>;
  putText(key: string, body: string, contentType: string): Promise<void>;
  getStream(key: string): Promise<Readable>;
  /** Whether an object exists. */
  exists(key: string): Promise<boolean>;
  /** Every key under a prefix. */
  list(prefix: string): Promise<string[]>;
}

/** Our other capabilities' records, as reconciliation reads them. */
export interface OurRecords {
  payment(paymentId: string): Promise<
    | {
        status: string;
        currency: string;
        total_minor: number;
        psp_reference?: string;
        orders: Array<{ payment_order_id: string; status: string; wallet_updated: boolean; ledger_updated: boolean }>;
      }
    | undefined
  >;
  /** Payment orders by id, many at once (the ones not found are left out). */
  orders(ids: ReadonlyArray<{ payment_id: string; payment_order_id: string }>): Promise<
    Array<{
      payment_id: string;
      payment_order_id: string;
      status: string;
      wallet_updated: boolean;
      ledger_updated: boolean;
    }>
  >;
  refund(refundId: string): Promise<{ status: string; payment_id: string; psp_refund_id?: string } | undefined>;
  dispute(disputeId: string): Promise<{ payment_id: string } | undefined>;
  payout(payoutId: string): Promise<{ status: string; transfer_id?: string; reversal_id?: string } | undefined>;
}

/** The capabilities' own recovery code, which an automatic fix runs (each idempotent). Returns what it did. */
export interface RecoveryActions {
  settlePayment(paymentId: string): Promise<string>;
  settleRefund(refundId: string): Promise<string>;
  applyDispute(disputeId: string): Promise<string>;
  settlePayout(payoutId: string): Promise<string>;
}

/** The ledger, as reconciliation reads and books it. */
export interface ReconciliationLedger {
  transactionsOfDay(
    day: string,
    shard: number,
  ): Promise<Array<BookedTransaction & { entries: LedgerEntry[]; entry_count: number }>>;
  transactionsWithSettlementKey(key: string): Promise<BookedTransaction[]>;
  /** One transaction's entries, read from the table itself (not an index). */
  entriesOfTransaction(reference: string, transactionId: string): Promise<LedgerEntry[]>;
  appendOnce(transaction: LedgerTransaction): Promise<boolean>;
  /** Many transactions, each once; answers the ids booked by this call. */
  appendManyOnce(transactions: readonly LedgerTransaction[]): Promise<Set<string>>;
  /** Per currency, the balance (debits positive) of an account with a statement: a seller's payable. */
  accountBalance(account: string): Promise<Map<string, number>>;
}

export interface WalletBalances {
  /** Every seller wallet balance (seller, currency, total in minor units). */
  all(): Promise<Array<{ seller_account: string; currency: string; balance_minor: number }>>;
  /** One seller's balance in one currency, read again. */
  of(sellerAccount: string, currency: string): Promise<number | undefined>;
}

export interface WorkQueues {
  send(queue: 'manual' | 'unclassifiable', mismatch: StoredMismatch): Promise<void>;
}

export interface ReconciliationMetrics {
  openMismatches(counts: { manual: number; unclassifiable: number }): void;
}

/** Starts the reconciliation workflow of a run (execution named after it). */
export interface ReconciliationWorkflow {
  start(runId: string): Promise<void>;
}

export interface ReconciliationDeps {
  store: ReconciliationTable;
  psp: SettlementPsp;
  archive: SettlementArchive;
  records: OurRecords;
  recovery: RecoveryActions;
  ledger: ReconciliationLedger;
  wallets: WalletBalances;
  queues: WorkQueues;
  metrics: ReconciliationMetrics;
  workflow: ReconciliationWorkflow;
  settings: ReconciliationSettings;
  now: () => Date;
}
