/**
 * The pay-in workflow's steps, one function per Task state of state-machines/pay-in.asl.json.
 * Each step is idempotent: run twice (a retry, a re-drive) it changes nothing the second time.
 */

import type { PayInSettings } from '../core/config';
import { InconsistentStateError, NotFoundError } from '../core/errors';
import { payInPosting } from '../ledger/postings';
import { crashPoint } from './faults';
import type { PaymentOrder } from './payment';
import type { LedgerStore, PayInPsp, Payment, PaymentsStore, WalletPostings } from './ports';
import type { RiskDecision, RiskProvider } from './risk';

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

export async function riskCheck(
  deps: Pick<StepDeps, 'payments' | 'risk'>,
  paymentId: string,
): Promise<{ decision: RiskDecision; reasons: string[] }> {
  const payment = await loadPayment(deps, paymentId);
  const { status, risk_decision } = payment.event;
  if (status === 'FAILED') return { decision: 'REJECT', reasons: [payment.event.status_reason ?? 'failed'] };
  if (status === 'PENDING' && risk_decision === 'REVIEW') return { decision: 'REVIEW', reasons: [] };
  if (status !== 'NOT_STARTED') return { decision: 'APPROVE', reasons: [] }; // already past the risk check
  const assessment = await deps.risk.assess(payment.event);
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
  outcome: 'SUCCEEDED' | 'DECLINED' | 'PENDING';
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
export const isCharged = (payment: Pick<Payment, 'orders'>) =>
  payment.orders.length > 0 && payment.orders.every((o) => o.status === 'SUCCESS');

export async function charge(
  deps: Pick<StepDeps, 'payments' | 'psp' | 'settings'>,
  paymentId: string,
): Promise<ChargeOutcome> {
  let payment = await loadPayment(deps, paymentId);
  const { event } = payment;
  if (event.status === 'FAILED') return { outcome: 'DECLINED', reason: event.status_reason };
  if (isCharged(payment)) return { outcome: 'SUCCEEDED', psp_reference: payment.orders[0]?.psp_reference };
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
  if (event.status === 'NOT_STARTED') {
    await deps.payments.transition(payment, 'EXECUTING');
    payment = await loadPayment(deps, paymentId);
  }
  if (payment.event.status !== 'EXECUTING') {
    throw new InconsistentStateError(`payment ${paymentId} is ${payment.event.status}, cannot charge`);
  }
  const metadata = { payment_id: paymentId, checkout_id: event.checkout_id };
  // The deadline (and the hosted page's expiry) are fixed once, before the first PSP call: a retried request must
  // send the very same parameters under its idempotency key.
  if (!payment.event.pending_deadline || !payment.event.psp_expires_at) {
    const now = Date.now();
    const deadlineMs = now + deps.settings.pendingDeadlineSeconds * 1000;
    // The PSP takes 30 minutes to 24 hours; a shorter deadline of ours is enforced by us (we expire the page).
    const expiresAt = Math.floor(Math.min(Math.max(deadlineMs, now + 31 * 60_000), now + 23 * 3600_000) / 1000);
    await deps.payments.setEventFields(
      paymentId,
      { pending_deadline: new Date(deadlineMs).toISOString(), psp_expires_at: expiresAt },
      undefined,
      'pending_deadline',
    );
    payment = await loadPayment(deps, paymentId);
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
      await recordCharged(deps, payment, result.pspReference);
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
  const { payment_id } = payment.event;
  await deps.payments.setEventFields(payment_id, { ...fields, pending_deadline: deadline.toISOString() });
  await deps.payments.transition(payment, 'PENDING', { pspReference });
}

/** The PSP charged: every order is SUCCESS with the PSP reference (the event stays open until booked). */
export async function recordCharged(deps: Pick<StepDeps, 'payments'>, payment: Payment, pspReference: string) {
  await deps.payments.setEventFields(payment.event.payment_id, { psp_reference: pspReference });
  await deps.payments.transition(payment, 'SUCCESS', { pspReference }, 'orders');
  const after = await loadPayment(deps, payment.event.payment_id);
  if (!isCharged(after)) {
    throw new InconsistentStateError(
      `payment ${payment.event.payment_id}: orders did not move to SUCCESS after a charge`,
    );
  }
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
  const open = payment.event.status === 'EXECUTING' || payment.event.status === 'PENDING';
  if (stage === 'charge' && open && !isCharged(payment)) {
    await deps.payments.transition(payment, 'UNKNOWN', { reason: `psp_outcome_unknown:${what}` });
  } else if (stage === 'booking' && payment.event.status !== 'SUCCESS') {
    await deps.payments.setEventFields(paymentId, { status_reason: `booking_incomplete:${what}` });
  }
  return { status: (await loadPayment(deps, paymentId)).event.status };
}

/**
 * Resolves a payment whose PSP outcome is unknown (or whose workflow died while charging) by asking the PSP:
 * a succeeded charge moves the orders to SUCCESS (then a re-drive books them), no charge moves it to FAILED.
 */
export async function resolveWithPsp(
  deps: Pick<StepDeps, 'payments' | 'psp' | 'settings'>,
  paymentId: string,
): Promise<'charged' | 'failed' | 'pending' | 'unchanged'> {
  const payment = await loadPayment(deps, paymentId);
  if (!['UNKNOWN', 'EXECUTING'].includes(payment.event.status) || isCharged(payment)) return 'unchanged';
  const charges = await deps.psp.findCharges(paymentId);
  const succeeded = charges.filter((c) => c.state === 'succeeded');
  if (succeeded.length > 1) {
    throw new InconsistentStateError(
      `payment ${paymentId} has ${succeeded.length} successful PSP charges; refund needed`,
    );
  }
  const [success] = succeeded;
  if (success) {
    if (success.amountMinor !== payment.event.total_minor || success.currency !== payment.event.currency) {
      throw new InconsistentStateError(
        `payment ${paymentId}: the PSP charged ${success.amountMinor} ${success.currency}`,
      );
    }
    await recordCharged(deps, payment, success.pspReference);
    return 'charged';
  }
  const pending = charges.filter((c) => c.state === 'pending');
  const pastDeadline =
    payment.event.pending_deadline !== undefined && Date.parse(payment.event.pending_deadline) < Date.now();
  /** Stops what is still open at the PSP and takes its answer after that; undefined when all stopped unpaid. */
  const stopOpen = async (open: { pspReference: string }[]): Promise<'charged' | 'pending' | undefined> => {
    for (const { pspReference } of open) {
      const state = await deps.psp.stopPending(pspReference, payment.event.checkout_session_id, `${paymentId}:stop`);
      if (state.state === 'succeeded') {
        await recordCharged(deps, payment, state.pspReference);
        return 'charged';
      }
      if (state.state === 'pending') return 'pending';
    }
    return undefined;
  };
  if (payment.event.status === 'UNKNOWN' && pastDeadline) {
    // Still open at the PSP past our deadline (3-D Secure never finished, a hosted page never closed): stop it,
    // then take the PSP's answer. Stopping a payment that succeeded meanwhile fails, and then it is a success.
    const answer = await stopOpen(pending.length > 0 ? pending : hostedPage(payment));
    if (answer) return answer;
  } else if (pending.length > 0) {
    return 'pending';
  }
  if (payment.event.status === 'UNKNOWN') {
    // The PSP's search lags behind its writes: "no charge" is believed only once the payment is old enough.
    const age = Date.now() - Date.parse(payment.event.updated_at);
    if (age < deps.settings.pspSearchLagSeconds * 1000) return 'pending';
    if (payment.event.mode === 'hosted' && !pastDeadline) {
      // The buyer may still pay on the page: close it first, and believe only what the PSP says after that.
      const answer = await stopOpen(hostedPage(payment));
      if (answer) return answer;
    }
    await deps.payments.transition(payment, 'FAILED', { reason: 'psp_no_charge_found', from: ['UNKNOWN'] });
    return 'failed';
  }
  return 'unchanged'; // EXECUTING with no charge at the PSP: a re-drive charges it (same idempotency key)
}

/** The hosted page of a payment, as something to stop, when it has one. */
function hostedPage(payment: Payment): { pspReference: string }[] {
  const reference = payment.event.psp_reference ?? payment.event.checkout_session_id;
  return payment.event.mode === 'hosted' && payment.event.checkout_session_id && reference
    ? [{ pspReference: reference }]
    : [];
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

export async function creditWallet(
  deps: Pick<StepDeps, 'payments' | 'wallets'>,
  paymentId: string,
  orderId: string,
): Promise<{ credited: boolean }> {
  const order = assertCharged(await loadPayment(deps, paymentId), orderId);
  if (order.wallet_updated) return { credited: false };
  const { wallet } = payInPosting(order);
  const credited = await deps.wallets.credit(wallet, deps.payments.markBooked(order, 'wallet_updated'));
  crashPoint('after-wallet-write', order);
  return { credited };
}

export async function appendLedger(
  deps: Pick<StepDeps, 'payments' | 'ledger'>,
  paymentId: string,
  orderId: string,
): Promise<{ appended: boolean }> {
  const order = assertCharged(await loadPayment(deps, paymentId), orderId);
  if (order.ledger_updated) return { appended: false };
  const appended = await deps.ledger.appendOnce(payInPosting(order).transaction, [
    deps.payments.markBooked(order, 'ledger_updated'),
  ]);
  crashPoint('after-ledger-write', order);
  return { appended };
}

export async function finalize(deps: Pick<StepDeps, 'payments'>, paymentId: string): Promise<{ status: string }> {
  const payment = await loadPayment(deps, paymentId);
  if (payment.event.status === 'SUCCESS') return { status: 'SUCCESS' };
  const unbooked = payment.orders.filter((o) => o.status !== 'SUCCESS' || !o.wallet_updated || !o.ledger_updated);
  if (unbooked.length > 0) {
    throw new InconsistentStateError(
      `payment ${paymentId}: orders not charged and booked: ${unbooked.map((o) => o.payment_order_id).join(', ')}`,
    );
  }
  if (!(await deps.payments.transition(payment, 'SUCCESS', { reason: null }, 'event'))) {
    throw new InconsistentStateError(`payment ${paymentId} moved while being finalized`);
  }
  return { status: 'SUCCESS' };
}
