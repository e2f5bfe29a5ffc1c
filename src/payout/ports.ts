/**
 * What the pay-out needs from storage, wallets, the ledger, the PSP and the workflow engine: small interfaces it
 * owns, implemented by src/payout/*-table.ts, src/ledger/* and src/psp/stripe-connect.ts; unit tests pass fakes.
 */
import type { TaskResponder } from '../core/task-responder';
import type { LedgerTransaction } from '../ledger/postings';
import type { PendingFunds, TransactGuard, WalletBalance, WalletPosting } from '../ledger/wallets';
import type { ConnectPsp, PspAccount } from '../psp/connect-types';
import type { Payout, PayoutStatus } from './payout';
import type { Seller } from './seller';

export type { TaskResponder, TransactGuard };

export interface SellersStore {
  get(sellerAccount: string): Promise<Seller | undefined>;
  /** Creates the seller; false when it exists. */
  create(seller: Seller): Promise<boolean>;
  /** Changes the seller's contact fields. */
  updateContact(sellerAccount: string, fields: Pick<Seller, 'email'>): Promise<void>;
  /** Ties the connected account to the seller, once (and the account to no other seller). */
  setAccount(sellerAccount: string, account: PspAccount): Promise<boolean>;
  /** The PSP's current view of the account; a pause older than `observedAt` is lifted once payouts are enabled. */
  applyAccount(sellerAccount: string, account: PspAccount, observedAt: string): Promise<Seller | undefined>;
  pause(sellerAccount: string, reason: string, at: string): Promise<void>;
  sellerOfAccount(pspAccountId: string): Promise<string | undefined>;
  /** One page of sellers (any order). */
  page(startKey: string | undefined, limit: number): Promise<{ sellers: Seller[]; next?: string }>;
}

export interface PayoutRun {
  run_id: string;
  date: string;
  status: 'RUNNING' | 'COMPLETED';
  /** 1 for the first start of the date's run, +1 for each start after it completed. */
  attempt: number;
  /** Pages of sellers listed so far, and whether the listing reached the end. */
  pages_listed: number;
  listing_done: boolean;
  sellers_listed: number;
  sellers_done: number;
  payouts_created: number;
  payouts_existing: number;
  sellers_skipped: number;
  amount_by_currency: Record<string, number>;
  started_at: string;
  updated_at: string;
  completed_at?: string;
}

export type RunCounts = Partial<
  Pick<
    PayoutRun,
    'sellers_listed' | 'sellers_done' | 'payouts_created' | 'payouts_existing' | 'sellers_skipped' | 'pages_listed'
  >
>;

export interface PayoutsStore {
  get(payoutId: string): Promise<Payout | undefined>;
  /** The conditional write that creates a new payout, for the transaction of its wallet hold. */
  createGuard(payout: Payout): TransactGuard;
  /**
   * Moves the payout to `to` (only from a status that may move there, or from `from`), setting `set`; false,
   * changing nothing, when its status does not allow it.
   */
  move(payout: Payout, to: PayoutStatus, set?: Partial<Payout>, from?: PayoutStatus[]): Promise<boolean>;
  /** The same move as a guard of another transaction (e.g. the wallet release of a refused transfer). */
  moveGuard(payout: Payout, to: PayoutStatus, set?: Partial<Payout>, from?: PayoutStatus[]): TransactGuard;
  /** Sets fields without a status change, only while the status is one of `ifStatusIn` (when given). */
  setFields(payoutId: string, set: Partial<Payout>, ifStatusIn?: PayoutStatus[]): Promise<boolean>;
  /** The conditional write that sets a booking flag once, for the booking's own transaction. */
  flagGuard(
    payoutId: string,
    flag: 'wallet_captured' | 'transfer_booked' | 'reversal_booked' | 'wallet_restored',
  ): TransactGuard;
  bySeller(sellerAccount: string, limit: number, before?: string): Promise<Payout[]>;
  /** Open payouts (see isOpenPayout) unchanged since before `before`, oldest first, at most `limitPerStatus` each. */
  openSince(before: string, limitPerStatus: number): Promise<Payout[]>;
  getRun(runId: string): Promise<PayoutRun | undefined>;
  /** Starts a run; false when one with this id exists. */
  createRun(run: PayoutRun): Promise<boolean>;
  /**
   * Starts an existing run again (counts reset, attempt + 1) when it completed, or when it has not moved since
   * `staleBefore`; false when it is running.
   */
  restartRun(runId: string, now: string, staleBefore?: string): Promise<boolean>;
  /** Adds to the counts of the run's `attempt` (undefined, changing nothing, when the run was started again). */
  addRunCounts(
    runId: string,
    attempt: number,
    counts: RunCounts,
    amount?: { currency: string; amount_minor: number },
  ): Promise<PayoutRun | undefined>;
  setRunListingDone(runId: string, attempt: number): Promise<void>;
  completeRun(runId: string, now: string): Promise<boolean>;
  /** Writes a marker once (e.g. a run's seller done); false when it was written before. */
  markOnce(marker: string): Promise<boolean>;
  webhookSeen(eventId: string): Promise<boolean>;
  recordWebhook(eventId: string, details: Record<string, unknown>): Promise<boolean>;
}

/** Seller wallets: the neutral posting API of src/ledger/wallets.ts (what the pay-out uses). */
export interface PayoutWallets {
  hold(posting: WalletPosting, guard?: TransactGuard, floor?: number): Promise<boolean>;
  release(posting: WalletPosting, guard?: TransactGuard): Promise<boolean>;
  capture(posting: WalletPosting, guard?: TransactGuard): Promise<boolean>;
  credit(posting: WalletPosting, guard?: TransactGuard): Promise<boolean>;
  balances(seller: string): Promise<WalletBalance[]>;
  pendingFunds(filter?: { seller_account?: string; currency?: string; limit?: number }): Promise<PendingFunds[]>;
  makeAvailable(sourceId: string): Promise<boolean>;
  rememberBalanceTransaction(sourceId: string, balanceTransaction: string): Promise<void>;
}

export interface PayoutLedger {
  appendOnce(transaction: LedgerTransaction, alsoWrite?: TransactGuard[]): Promise<boolean>;
}

/** Starts the pay-out workflow of a payout (an execution named after it); safe to repeat. */
export interface PayoutWorkflow {
  start(payoutId: string): Promise<void>;
}

/** What a run's messages carry. */
export interface RunRef {
  run_id: string;
  date: string;
  attempt: number;
}

/** Queues the sellers of a run for the run's workers. */
export interface RunQueue {
  sendPage(run: RunRef, startKey: string | undefined): Promise<void>;
  sendSellers(run: RunRef, sellers: string[]): Promise<void>;
}

export interface PayoutSettings {
  /** The smallest payout a run makes, per currency (minor units); currencies without one: any positive amount. */
  minimumsMinor: Record<string, number>;
  /** The janitor touches payouts unchanged for this long. */
  staleAfterSeconds: number;
  /** How long the PSP's lists may lag behind its writes before "not found" means "not made". */
  pspListLagSeconds: number;
  /** Where the PSP's onboarding page sends the seller back. */
  onboardingReturnUrl: string;
  onboardingRefreshUrl: string;
}

export interface PayoutDeps {
  sellers: SellersStore;
  payouts: PayoutsStore;
  wallets: PayoutWallets;
  ledger: PayoutLedger;
  psp: ConnectPsp;
  tasks: TaskResponder;
  workflow: PayoutWorkflow;
  settings: PayoutSettings;
  now?: () => Date;
}
