/**
 * The pay-in workflow's steps, one function per Task state of state-machines/pay-in.asl.json.
 * Each step is idempotent: run twice (a retry, a re-drive) it changes nothing the second time.
 */

import { randomUUID } from 'node:crypto';
import type { PayInSettings } from '../core/config';
import { InconsistentStateError, NotFoundError } from '../core/errors';
import { payInPosting } from '../ledger/postings';
import { afterTransition, isCharged, type OrderStatus, type Payment } from './payment';
import type { LedgerStore, PayInPsp, PaymentsStore, TransitionChanges, TransitionScope, WalletPostings } from './ports';
import type { RiskDecision, RiskProvider, RiskSubject } from './risk';

export interface StepDeps {
  payments: PaymentsStore;
  wallets: WalletPostings;
  ledger: LedgerStore;
  psp: PayInPsp;
  risk: RiskProvider;
  settings: PayInSettings;
}

export async function loadPayment(deps: Pick<StepDeps, 'payments'>, paymentId: string): Promise<Payment> {
  const payment = await deps.payments.get(paymentId);
  if (!payment) throw new NotFoundError(`payment ${paymentId} not found`);
  return payment;
}

/** The PSP idempotency key of an operation on a payment: our ids only, the same on every retry. */
export function pspIdempotencyKey(paymentId: string, operation: 'charge' | 'register'): string {
  return `${paymentId}:${operation}`;
}

/** What the workflow's start says of the payment: enough to assess it without reading it (src/payin/workflow.ts). */
export type StartSubject = Omit<RiskSubject, 'payment_id'> & { status: OrderStatus };

/** The decision of a payment already past (or out of) the risk check, from its stored state. */
function decided(payment: Payment): { decision: RiskDecision; reasons: string[] } | undefined {
  const { status, risk_decision } = payment.event;
  if (status === 'FAILED') return { decision: 'REJECT', reasons: [payment.event.status_reason ?? 'failed'] };
  if (status === 'PENDING' && risk_decision === 'REVIEW') return { decision: 'REVIEW', reasons: [] };
  if (status !== 'NOT_STARTED') return { decision: 'APPROVE', reasons: [] }; // already past the risk check
  return undefined;
}

/**
 * The risk check. A payment the workflow's start describes as new (`subject`) is assessed without reading it: an
 * approval writes nothing (Charge moves the payment only from NOT_STARTED, the state it reads), and a rejection or
 * review reads the payment first and is written only from NOT_STARTED.
 */
export async function riskCheck(
  deps: Pick<StepDeps, 'payments' | 'risk'>,
  paymentId: string,
  subject?: StartSubject,
): Promise<{ decision: RiskDecision; reasons: string[] }> {
  let payment: Payment | undefined;
  let assessed: RiskSubject;
  if (subject?.status === 'NOT_STARTED') {
    const { status: _status, ...described } = subject;
    assessed = { payment_id: paymentId, ...described };
  } else {
    payment = await loadPayment(deps, paymentId);
    const known = decided(payment);
    if (known) return known;
    assessed = payment.event;
  }
  const assessment = await deps.risk.assess(assessed);
  if (assessment.decision === 'APPROVE') return assessment;
  if (!payment) {
    payment = await loadPayment(deps, paymentId);
    const known = decided(payment);
    if (known) return known;
  }
  if (assessment.decision === 'REJECT') {
    await deps.payments.transition(payment, 'FAILED', {
      reason: `risk_rejected:${assessment.reasons.join(',')}`,
      set: { risk_decision: 'REJECT' },
      from: ['NOT_STARTED'],
    });
  } else if (assessment.decision === 'REVIEW') {
    await deps.payments.transition(payment, 'PENDING', {
      reason: `risk_review:${assessment.reasons.join(',')}`,
      set: { risk_decision: 'REVIEW' },
      from: ['NOT_STARTED'],
    });
  }
  return assessment;
}

/** An operator's decision on a payment held for risk review. Returns the payment to re-drive when approved. */
export async function decideReview(
  deps: Pick<StepDeps, 'payments'>,
  paymentId: string,
  decision: 'approve' | 'reject',
): Promise<{ changed: boolean; payment: Payment }> {
  const payment = await loadPayment(deps, paymentId);
  if (payment.event.status !== 'PENDING' || payment.event.risk_decision !== 'REVIEW') {
    return { changed: false, payment };
  }
  // Only from the state observed (held for review): a concurrent, opposite decision then changes nothing.
  const held = { from: ['PENDING' as const], eventIf: { name: 'risk_decision', equals: 'REVIEW' } };
  const changed =
    decision === 'approve'
      ? await deps.payments.transition(payment, 'EXECUTING', {
          reason: null,
          set: { risk_decision: 'APPROVED_BY_OPERATOR' },
          ...held,
        })
      : await deps.payments.transition(payment, 'FAILED', {
          reason: 'risk_rejected:operator',
          set: { risk_decision: 'REJECT' },
          ...held,
        });
  return { changed, payment: await loadPayment(deps, paymentId) };
}

export type ChargeOutcome = {
  /** HELD: the payment is held for an operator's risk review (a RiskCheck retried on an out-of-date input approved). */
  outcome: 'SUCCEEDED' | 'DECLINED' | 'PENDING' | 'HELD';
  psp_reference?: string;
  reason?: string;
  /** How long the workflow waits for the PSP before the payment is stopped (PENDING only). */
  wait_seconds?: number;
};

function waitSeconds(deadline: string | undefined, settings: PayInSettings): number {
  const left = deadline ? Math.ceil((Date.parse(deadline) - Date.now()) / 1000) : settings.pendingDeadlineSeconds;
  return Math.max(1, left);
}

/** Whether the PSP charged the payment: every order SUCCESS (the bookings may still be to do). */
export { isCharged };

/**
 * A conditional transition, then the payment as it is now: the write applied to the caller's snapshot when it
 * succeeded (no second read), read again when it did not (someone else moved the payment).
 */
export async function move(
  deps: Pick<StepDeps, 'payments'>,
  payment: Payment,
  to: OrderStatus,
  changes: TransitionChanges = {},
  scope: TransitionScope = 'all',
): Promise<{ moved: boolean; payment: Payment }> {
  if (await deps.payments.transition(payment, to, changes, scope)) {
    return { moved: true, payment: afterTransition(payment, to, changes, scope, new Date().toISOString()) };
  }
  return { moved: false, payment: await loadPayment(deps, payment.event.payment_id) };
}

/** Event fields set, then the payment as it is now (read again only when the conditional write did not apply). */
async function withEventFields(
  deps: Pick<StepDeps, 'payments'>,
  payment: Payment,
  fields: Record<string, unknown>,
  ifAbsent?: string,
): Promise<Payment> {
  if (await deps.payments.setEventFields(payment.event.payment_id, fields, undefined, ifAbsent)) {
    return { ...payment, event: { ...payment.event, ...fields, updated_at: new Date().toISOString() } };
  }
  return loadPayment(deps, payment.event.payment_id);
}

export async function charge(
  deps: Pick<StepDeps, 'payments' | 'psp' | 'settings'>,
  paymentId: string,
): Promise<ChargeOutcome> {
  let payment = await loadPayment(deps, paymentId);
  const { event } = payment;
  if (event.status === 'FAILED') return { outcome: 'DECLINED', reason: event.status_reason };
  if (isCharged(payment)) return { outcome: 'SUCCEEDED', psp_reference: payment.orders[0]?.psp_reference };
  // Charge is the gate: a payment a risk check held for review is never charged, whatever the workflow was told.
  if (event.status === 'PENDING' && event.risk_decision === 'REVIEW')
    return { outcome: 'HELD', reason: event.status_reason };
  if (event.status === 'PENDING' && event.psp_reference) {
    // Already waiting on the PSP (a re-drive): wait again until the deadline, without a second PSP call.
    return {
      outcome: 'PENDING',
      psp_reference: event.psp_reference,
      wait_seconds: waitSeconds(event.pending_deadline, deps.settings),
    };
  }
  if (event.status === 'UNKNOWN') {
    // Only the PSP's answer (the janitor's query) may resolve an unknown outcome; charging again could double-charge.
    throw new InconsistentStateError(`payment ${paymentId} has an unknown PSP outcome; the janitor resolves it`);
  }
  // The deadline (and the hosted page's expiry) are fixed once, before the first PSP call, in the same write that
  // moves the payment to EXECUTING: a retried request must send the very same parameters under its idempotency key.
  const deadlines = () => {
    const now = Date.now();
    const deadlineMs = now + deps.settings.pendingDeadlineSeconds * 1000;
    // The PSP takes 30 minutes to 24 hours; a shorter deadline of ours is enforced by us (we expire the page).
    const expiresAt = Math.floor(Math.min(Math.max(deadlineMs, now + 31 * 60_000), now + 23 * 3600_000) / 1000);
    return { pending_deadline: new Date(deadlineMs).toISOString(), psp_expires_at: expiresAt };
  };
  // Only from NOT_STARTED, the state observed: a payment held for review meanwhile must not be charged.
  if (event.status === 'NOT_STARTED') {
    ({ payment } = await move(deps, payment, 'EXECUTING', { from: ['NOT_STARTED'], eventSet: deadlines() }));
  }
  if (payment.event.status !== 'EXECUTING') {
    throw new InconsistentStateError(`payment ${paymentId} is ${payment.event.status}, cannot charge`);
  }
  const metadata = { payment_id: paymentId, checkout_id: event.checkout_id };
  if (!payment.event.pending_deadline || !payment.event.psp_expires_at) {
    // Moved to EXECUTING without them (an approved review, a payment stored before they were set with the move).
    payment = await withEventFields(deps, payment, deadlines(), 'pending_deadline');
  }
  const deadline = new Date(payment.event.pending_deadline ?? Date.now());
  if (event.mode === 'hosted') {
    const hosted = await deps.psp.registerHostedPayment({
      amountMinor: event.total_minor,
      currency: event.currency,
      paymentId,
      metadata,
      returnUrl: event.return_url ?? '',
      idempotencyKey: pspIdempotencyKey(paymentId, 'register'),
      expiresAt: payment.event.psp_expires_at ?? Math.floor(deadline.getTime() / 1000),
    });
    await markPending(deps, payment, hosted.pspReference, deadline, {
      checkout_session_id: hosted.sessionId,
      next_action: { type: 'redirect_to_url', redirect_url: hosted.redirectUrl },
    });
    return {
      outcome: 'PENDING',
      psp_reference: hosted.pspReference,
      wait_seconds: waitSeconds(deadline.toISOString(), deps.settings),
    };
  }
  const result = await deps.psp.charge({
    amountMinor: event.total_minor,
    currency: event.currency,
    paymentMethod: event.payment_method ?? '',
    metadata,
    idempotencyKey: pspIdempotencyKey(paymentId, 'charge'),
    description: `checkout ${event.checkout_id}`,
    returnUrl: event.return_url,
  });
  switch (result.outcome) {
    case 'SUCCEEDED':
      await recordCharged(deps, payment, result.pspReference, 'charge_response');
      return { outcome: 'SUCCEEDED', psp_reference: result.pspReference };
    case 'DECLINED':
      await deps.payments.transition(payment, 'FAILED', {
        reason: `declined:${result.reason}`,
        pspReference: result.pspReference,
      });
      return { outcome: 'DECLINED', psp_reference: result.pspReference, reason: result.reason };
    case 'PENDING':
      await markPending(
        deps,
        payment,
        result.pspReference,
        deadline,
        result.nextAction ? { next_action: result.nextAction } : {},
      );
      return {
        outcome: 'PENDING',
        psp_reference: result.pspReference,
        wait_seconds: waitSeconds(deadline.toISOString(), deps.settings),
      };
  }
}

/** The PSP needs the buyer (3-D Secure, the hosted page) or time: the payment waits, PENDING, until a deadline. */
async function markPending(
  deps: Pick<StepDeps, 'payments'>,
  payment: Payment,
  pspReference: string,
  deadline: Date,
  fields: Record<string, unknown>,
) {
  const eventSet = { ...fields, pending_deadline: deadline.toISOString() };
  if (await deps.payments.transition(payment, 'PENDING', { pspReference, eventSet })) return;
  // Moved meanwhile (another execution): the PSP's page and action are still kept on an open payment, so the page can
  // be closed later.
  await deps.payments.setEventFields(payment.event.payment_id, eventSet, ['EXECUTING', 'PENDING', 'UNKNOWN']);
}

/**
 * The PSP charged: every order is SUCCESS with the PSP reference, and the event takes the reference and where the
 * outcome came from, in one transaction (the event stays open until booked). `from`: the PSP's answer to our own
 * charge call, or its record read later (a webhook, the janitor, the deadline's stop).
 */
export async function recordCharged(
  deps: Pick<StepDeps, 'payments'>,
  payment: Payment,
  pspReference: string,
  from: 'charge_response' | 'psp_record' = 'psp_record',
): Promise<Payment> {
  // Only the orders move; a failed condition means someone recorded it first.
  const { payment: after } = await move(
    deps,
    payment,
    'SUCCESS',
    { pspReference, eventSet: { psp_reference: pspReference, outcome_from: from } },
    'orders',
  );
  if (!isCharged(after)) {
    throw new InconsistentStateError(
      `payment ${payment.event.payment_id}: orders did not move to SUCCESS after a charge`,
    );
  }
  return after;
}

/**
 * What the workflow does when a step gave up: after the charge, an outcome we cannot know makes the payment
 * UNKNOWN (never FAILED by guess); after the bookings, the reason is recorded and the janitor re-drives.
 */
export async function recordFailure(
  deps: Pick<StepDeps, 'payments'>,
  paymentId: string,
  stage: 'charge' | 'booking',
  error: { Error?: string; Cause?: string } = {},
): Promise<{ status: string }> {
  const payment = await loadPayment(deps, paymentId);
  const what = error.Error ?? 'error';
  const held = payment.event.status === 'PENDING' && payment.event.risk_decision === 'REVIEW';
  const open = payment.event.status === 'EXECUTING' || (payment.event.status === 'PENDING' && !held);
  // A payment held for review was never sent to the PSP: it stays held for its operator, whatever failed.
  if (stage === 'charge' && open && !isCharged(payment)) {
    await deps.payments.transition(payment, 'UNKNOWN', { reason: `psp_outcome_unknown:${what}` });
  } else if (stage === 'booking' && payment.event.status !== 'SUCCESS') {
    await deps.payments.setEventFields(paymentId, { status_reason: `booking_incomplete:${what}` });
  }
  return { status: (await loadPayment(deps, paymentId)).event.status };
}

function findOrder(payment: Payment, orderId: string) {
  const order = payment.orders.find((o) => o.payment_order_id === orderId);
  if (!order) throw new NotFoundError(`payment order ${orderId} not found in payment ${payment.event.payment_id}`);
  return order;
}

function assertCharged(payment: Payment, orderId: string) {
  const order = findOrder(payment, orderId);
  if (order.status !== 'SUCCESS' || !order.psp_reference) {
    throw new InconsistentStateError(`payment order ${orderId} is ${order.status} without a charge; nothing to book`);
  }
  return order;
}

/**
 * What CreditWallet answers: `credited` when this call credited the wallet; `ledger_booked` when the order's ledger
 * transaction is known to be booked (written in the same transaction, or before), so AppendLedger has nothing to do.
 */
export interface Credited {
  credited: boolean;
  ledger_booked?: boolean;
}

/**
 * Books a charged order: the seller's wallet credited (pending, with its funds record), the ledger's balanced
 * transaction appended and both of the order's flags set, in one DynamoDB transaction. An order whose wallet was
 * credited without its ledger transaction (by an earlier version, one write each) is left to AppendLedger.
 */
export async function creditWallet(
  deps: Pick<StepDeps, 'payments' | 'wallets' | 'ledger'>,
  paymentId: string,
  orderId: string,
): Promise<Credited> {
  const payment = await loadPayment(deps, paymentId);
  const order = assertCharged(payment, orderId);
  if (order.wallet_updated) return { credited: false, ledger_booked: order.ledger_updated };
  const { wallet, transaction } = payInPosting(order);
  const pspReference = order.psp_reference ?? payment.event.psp_reference;
  if (!pspReference) throw new InconsistentStateError(`payment ${paymentId} is charged without a PSP reference`);
  const withLedger = !order.ledger_updated;
  const credited = await deps.wallets.creditPending(
    wallet,
    {
      source_id: order.payment_order_id,
      payment_id: paymentId,
      psp_reference: pspReference,
      created_at: order.updated_at,
    },
    deps.payments.markBooked(order, withLedger ? ['wallet_updated', 'ledger_updated'] : 'wallet_updated'),
    withLedger ? deps.ledger.appendItems(transaction) : [],
  );
  if (credited) return { credited, ledger_booked: true };
  // Not credited: booked meanwhile (the flags' condition failed), or a record of this booking exists without the
  // order's flags (a ledger transaction or funds record written apart): read again to tell which.
  const after = assertCharged(await loadPayment(deps, paymentId), orderId);
  if (!after.wallet_updated) {
    throw new InconsistentStateError(
      `payment order ${orderId}: its wallet credit or ledger transaction exists without the order's flags`,
    );
  }
  return { credited: false, ledger_booked: after.ledger_updated };
}

/**
 * Appends the order's ledger transaction once, unless CreditWallet says it is booked already (`credit`, its answer,
 * passed along by the workflow): then nothing is read or written.
 */
export async function appendLedger(
  deps: Pick<StepDeps, 'payments' | 'ledger'>,
  paymentId: string,
  orderId: string,
  credit?: Credited,
): Promise<{ appended: boolean }> {
  if (credit?.ledger_booked) return { appended: false };
  const order = assertCharged(await loadPayment(deps, paymentId), orderId);
  if (order.ledger_updated) return { appended: false };
  const appended = await deps.ledger.appendOnce(payInPosting(order).transaction, [
    deps.payments.markBooked(order, 'ledger_updated'),
  ]);
  return { appended };
}

/** What Finalize answers: `finalized` is false when the payment was SUCCESS already (a retry: not counted twice). */
export interface Finalized {
  status: 'SUCCESS';
  finalized: boolean;
  currency: string;
  total_minor: number;
}

export async function finalize(deps: Pick<StepDeps, 'payments'>, paymentId: string): Promise<Finalized> {
  const payment = await loadPayment(deps, paymentId);
  const amount = { currency: payment.event.currency, total_minor: payment.event.total_minor };
  if (payment.event.status === 'SUCCESS') return { status: 'SUCCESS', finalized: false, ...amount };
  const unbooked = payment.orders.filter((o) => o.status !== 'SUCCESS' || !o.wallet_updated || !o.ledger_updated);
  if (unbooked.length > 0) {
    throw new InconsistentStateError(
      `payment ${paymentId}: orders not charged and booked: ${unbooked.map((o) => o.payment_order_id).join(', ')}`,
    );
  }
  // A mark of this very attempt, so that a refused write can be told from our own landed one (its answer lost, the
  // SDK's retry of a conditional update then refused): only the attempt that moved the payment counts it.
  const attempt = randomUUID();
  if (
    !(await deps.payments.transition(
      payment,
      'SUCCESS',
      { reason: null, eventSet: { finalized_by: attempt } },
      'event',
    ))
  ) {
    const now = await loadPayment(deps, paymentId);
    if (now.event.status === 'SUCCESS') {
      return { status: 'SUCCESS', finalized: now.event.finalized_by === attempt, ...amount };
    }
    throw new InconsistentStateError(`payment ${paymentId} moved while being finalized`);
  }
  return { status: 'SUCCESS', finalized: true, ...amount };
}
