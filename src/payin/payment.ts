/**
 * The pay-in data model (after the seeds): one payment event per checkout, one payment order per seller.
 * Pure types and rules; persistence lives in src/payin/payments-table.ts.
 */

import type { NextAction } from '../psp/types';

/**
 * Status of one payment order. PENDING: waiting for someone else (3-D Secure, the hosted page, a risk review);
 * UNKNOWN: the PSP's outcome is not known (settled from the PSP's own record, never guessed).
 */
export const ORDER_STATUSES = ['NOT_STARTED', 'EXECUTING', 'PENDING', 'UNKNOWN', 'SUCCESS', 'FAILED'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/**
 * Allowed transitions. Terminal states (SUCCESS, FAILED) never move again, so a late or replayed
 * event cannot move a payment backwards. UNKNOWN is never FAILED by guess: only the PSP's answer resolves it.
 * PENDING waits for someone else (the PSP: 3-D Secure, review; or an operator: risk review) and may go back
 * to EXECUTING when the wait ends with "go on".
 *
 * An order is SUCCESS once the PSP charged it; its `wallet_updated` / `ledger_updated` flags then record the
 * bookings. The payment event (same statuses) is SUCCESS only once every order is charged and booked.
 */
const ORDER_TRANSITIONS: Record<OrderStatus, readonly OrderStatus[]> = {
  NOT_STARTED: ['EXECUTING', 'PENDING', 'FAILED'],
  EXECUTING: ['PENDING', 'UNKNOWN', 'SUCCESS', 'FAILED'],
  PENDING: ['EXECUTING', 'UNKNOWN', 'SUCCESS', 'FAILED'],
  UNKNOWN: ['SUCCESS', 'FAILED'],
  SUCCESS: [],
  FAILED: [],
};

export class InvalidTransitionError extends Error {
  override readonly name = 'InvalidTransitionError';
}

export function canTransition(from: OrderStatus, to: OrderStatus): boolean {
  return ORDER_TRANSITIONS[from].includes(to);
}

/** The states an order may be in for a move to `to` to be allowed (used as a write condition). */
export function allowedSources(to: OrderStatus): OrderStatus[] {
  return ORDER_STATUSES.filter((from) => canTransition(from, to));
}

export function assertTransition(from: OrderStatus, to: OrderStatus): void {
  if (!canTransition(from, to)) throw new InvalidTransitionError(`payment order cannot move from ${from} to ${to}`);
}

export function isTerminal(status: OrderStatus): boolean {
  return ORDER_TRANSITIONS[status].length === 0;
}

/** The payment event's status: the same states, SUCCESS meaning charged and booked. */
export type PaymentStatus = OrderStatus;

export interface Buyer {
  id: string;
  country: string;
}

export interface PaymentEvent {
  payment_id: string;
  checkout_id: string;
  buyer: Buyer;
  currency: string;
  total_minor: number;
  /** `token`: charged with a PSP payment-method token; `hosted`: the buyer pays on the PSP's hosted page. */
  mode: 'token' | 'hosted';
  /** The PSP payment-method token (token mode). */
  payment_method?: string;
  /** Where the PSP sends the buyer back (hosted page, 3-D Secure). */
  return_url?: string;
  status: PaymentStatus;
  status_reason?: string;
  psp_reference?: string;
  /** The risk check's decision; REVIEW holds the payment (PENDING) until an operator decides. */
  risk_decision?: 'APPROVE' | 'REJECT' | 'REVIEW' | 'APPROVED_BY_OPERATOR';
  /** What the client must do while the payment is PENDING at the PSP. */
  next_action?: NextAction;
  /** The PSP's hosted page session (hosted mode). */
  checkout_session_id?: string;
  /** When a payment still pending at the PSP is cancelled (ISO time). */
  pending_deadline?: string;
  /** The hosted page's expiry sent to the PSP (unix seconds), fixed with the deadline. */
  psp_expires_at?: number;
  /**
   * Where the charge's success came from, once charged: the PSP's answer to our own charge call, or its record read
   * later (a webhook, the janitor, the deadline's stop). A webhook echoing our own answer is expected and is not news.
   */
  outcome_from?: 'charge_response' | 'psp_record';
  /**
   * A fingerprint of the request that created the payment (SHA-256 of its body, keys sorted): a repeat of the
   * request under the same Idempotency-Key must carry the same body.
   */
  request_hash?: string;
  /** The Finalize attempt that moved the payment to SUCCESS (a retry tells its own landed write by it). */
  finalized_by?: string;
  /** The workflow's task token while it waits for the PSP. */
  task_token?: string;
  /** Name of the pay-in execution currently responsible for the payment. */
  execution_name?: string;
  created_by_key_id?: string;
  order_ids: string[];
  created_at: string;
  updated_at: string;
}

export interface PaymentOrder {
  payment_id: string;
  payment_order_id: string;
  seller_account: string;
  currency: string;
  amount_minor: number;
  /** Platform fee kept from this order, fixed when the order is accepted. */
  fee_minor: number;
  status: OrderStatus;
  status_reason?: string;
  psp_reference?: string;
  wallet_updated: boolean;
  ledger_updated: boolean;
  created_at: string;
  updated_at: string;
}

/** A payment event with its orders, in the checkout's order. */
export interface Payment {
  event: PaymentEvent;
  orders: PaymentOrder[];
}

/** Whether the PSP charged the payment: every order SUCCESS (the bookings may still be to do). */
export const isCharged = (payment: Pick<Payment, 'orders'>) =>
  payment.orders.length > 0 && payment.orders.every((o) => o.status === 'SUCCESS');

/** Whether the payment event is final: SUCCESS (charged and booked) or FAILED. */
export const isFinal = (payment: Pick<Payment, 'event'>) =>
  payment.event.status === 'SUCCESS' || payment.event.status === 'FAILED';

/**
 * The payment as it is after a conditional transition that succeeded: what the store wrote, applied to the
 * snapshot the caller holds, so a step need not read the payment again after its own write.
 */
export function afterTransition(
  payment: Payment,
  to: OrderStatus,
  changes: {
    reason?: string | null;
    pspReference?: string;
    set?: Record<string, unknown>;
    eventSet?: Record<string, unknown>;
  },
  scope: 'all' | 'event' | 'orders',
  now: string,
): Payment {
  const apply = <T extends PaymentEvent | PaymentOrder>(item: T): T => {
    const next = { ...item, ...(changes.set ?? {}), status: to, updated_at: now } as T;
    if (changes.reason === null) delete next.status_reason;
    else if (changes.reason !== undefined) next.status_reason = changes.reason;
    if (changes.pspReference !== undefined) next.psp_reference = changes.pspReference;
    return next;
  };
  const eventSet = changes.eventSet ?? {};
  return {
    event:
      scope === 'orders'
        ? Object.keys(eventSet).length > 0
          ? { ...payment.event, ...eventSet, updated_at: now }
          : payment.event
        : { ...apply(payment.event), ...eventSet },
    orders: scope === 'event' ? payment.orders : payment.orders.map(apply),
  };
}
