/**
 * What the pay-in needs from storage, the ledger, the PSP and the workflow engine: small interfaces it owns.
 * The DynamoDB tables (src/payin/payments-table.ts, src/ledger/*) and the Stripe adapter (src/psp/stripe-psp.ts)
 * implement them; unit tests pass in-memory fakes without casts.
 */
import type { TaskResponder } from '../core/task-responder';
import type { StoredLedgerEntry } from '../ledger/ledger-table';
import type { LedgerTransaction } from '../ledger/postings';
import type { PendingFunds, TransactGuard, WalletBalance, WalletPosting } from '../ledger/wallets';

/** Where a pending credit comes from: the order, its payment and the PSP's reference of the charge. */
export type CreditSource = Pick<PendingFunds, 'source_id' | 'payment_id' | 'psp_reference' | 'created_at'>;

import type { Psp } from '../psp/types';
import type { OrderStatus, Payment, PaymentEvent, PaymentOrder } from './payment';

export type { Payment, TaskResponder };

/** The changes a status transition makes besides the status. */
export interface TransitionChanges {
  reason?: string | null;
  pspReference?: string;
  set?: Record<string, unknown>;
  /**
   * Fields set on the payment event only, in the same write (with scope 'orders' too: the event's fields change in
   * the orders' transaction, its status does not).
   */
  eventSet?: Record<string, unknown>;
  /** Only from these states (still within the transition table): the state the caller observed. */
  from?: OrderStatus[];
  /** An extra condition on the event item, e.g. that it is still held for review. */
  eventIf?: { name: string; equals: string };
}

export type TransitionScope = 'all' | 'event' | 'orders';

export type BookedFlag = 'wallet_updated' | 'ledger_updated';

export interface PaymentsStore {
  /** Stores a new payment; DuplicateCheckoutError, PaymentIdTakenError or DuplicateOrderError when not new. */
  create(event: PaymentEvent, orders: PaymentOrder[]): Promise<void>;
  get(paymentId: string): Promise<Payment | undefined>;
  /** The payment event alone (one item read, its orders not read), or undefined. */
  getEvent(paymentId: string): Promise<PaymentEvent | undefined>;
  /** Conditional move of the event and/or orders to `to`; false, changing nothing, when not allowed from their state. */
  transition(payment: Payment, to: OrderStatus, changes?: TransitionChanges, scope?: TransitionScope): Promise<boolean>;
  /** Sets event fields without a status change; false, changing nothing, when a condition fails. */
  setEventFields(
    paymentId: string,
    fields: Record<string, unknown>,
    ifStatusIn?: OrderStatus[],
    ifAbsent?: string,
  ): Promise<boolean>;
  /** Ids of the open (not final) payments created before `before`, oldest first, read a page at a time. */
  openIdsCreatedBefore(before: string): AsyncIterable<string>;
  /**
   * Moves an open payment to the back of that list: its place becomes `after` (then its id). Nothing for a payment
   * no longer open (it has left the list).
   */
  requeueOpen(paymentId: string, after: string): Promise<void>;
  /** The conditional write that marks an order's wallet and/or ledger booking done, for the booking's transaction. */
  markBooked(order: PaymentOrder, flag: BookedFlag | BookedFlag[]): TransactGuard;
}

/** PSP webhook events applied, kept beyond the PSP's redelivery window. */
export interface WebhookLog {
  webhookSeen(eventId: string): Promise<boolean>;
  /** Records an event as applied, once; false when it was recorded before. */
  recordWebhook(eventId: string, details: Record<string, unknown>): Promise<boolean>;
}

/** Buyer velocity windows for the risk rules. */
export interface BuyerVelocity {
  countBuyerPayments(buyerId: string, paymentId: string, windowStart: string, expiresAt: number): Promise<number>;
}

/** Seller wallets: the neutral posting API of src/ledger/wallets.ts (only what the pay-in uses). */
export interface WalletPostings {
  /**
   * Credits the order's share as pending (available once the PSP makes the charge's money available); the guard
   * (the order's booked flag) makes the credit happen once.
   */
  creditPending(
    posting: WalletPosting,
    funds: CreditSource,
    guard: TransactGuard,
    also?: TransactGuard[],
  ): Promise<boolean>;
  balances(seller: string): Promise<WalletBalance[]>;
}

export interface LedgerStore {
  appendOnce(transaction: LedgerTransaction, alsoWrite?: TransactGuard[]): Promise<boolean>;
  /** The conditional writes that append a transaction once, for a transaction of the caller's. */
  appendItems(transaction: LedgerTransaction): TransactGuard[];
  entriesFor(reference: string): Promise<StoredLedgerEntry[]>;
}

/** The PSP as the pay-in sees it: payments, hosted pages, lookups (not transfers, refunds or reports). */
export type PayInPsp = Pick<Psp, 'charge' | 'registerHostedPayment' | 'findCharges' | 'retrieve' | 'stopPending'>;
