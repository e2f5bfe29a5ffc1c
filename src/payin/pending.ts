/**
 * Pending payments: 3-D Secure, the hosted payment page, slow methods. The workflow waits (a task token) until the
 * PSP's verified webhook or the janitor's query settles the payment; at the deadline the payment is stopped at the
 * PSP and FAILED (or UNKNOWN when stopping it cannot be confirmed). The buyer's return is never proof of payment.
 */
import { InconsistentStateError, PspTransientError } from '../core/errors';
import { logger } from '../core/observability';
import { fingerprint, recordTimeline } from '../core/timeline';
import type { PspChargeState } from '../psp/types';
import type { Payment } from './payment';
import type { PaymentsStore, TaskResponder, WebhookLog } from './ports';
import { isCharged, loadPayment, recordCharged, type StepDeps } from './steps';

export type PendingDeps = Pick<StepDeps, 'psp' | 'settings'> & {
  payments: PaymentsStore & WebhookLog;
  tasks: TaskResponder;
};

/**
 * The idempotency key of one attempt to stop a payment at the PSP. Stopping is idempotent by nature (a second
 * cancel is refused and the state is read again after every attempt), so each attempt gets its own key: a 500 or a
 * refusal stored under an earlier attempt's key is never replayed to a later one.
 */
export const stopKey = (paymentId: string, now: number = Date.now()) => `${paymentId}:stop:${now}`;

/** A failed PSP payment that cannot be confirmed again (cancelled, or its hosted page expired). */
export const isStopped = (state: PspChargeState) =>
  state.reason === 'expired' || Boolean(state.reason?.startsWith('canceled'));

export type WaitOutcome = { outcome: 'SUCCEEDED' | 'FAILED'; reason?: string };

/** The outcome a waiting workflow should continue with, once the payment is settled; undefined while pending. */
export function settledOutcome(payment: Payment): WaitOutcome | undefined {
  if (isCharged(payment)) return { outcome: 'SUCCEEDED' };
  if (payment.event.status === 'FAILED') return { outcome: 'FAILED', reason: payment.event.status_reason };
  return undefined;
}

async function resume(deps: PendingDeps, paymentId: string): Promise<void> {
  const payment = await loadPayment(deps, paymentId);
  const outcome = settledOutcome(payment);
  if (outcome && payment.event.task_token) {
    await deps.tasks.succeed(payment.event.task_token, outcome);
    await tokenAnswered(paymentId, payment.event.task_token, outcome);
  }
}

const tokenAnswered = (paymentId: string, token: string, outcome: WaitOutcome) =>
  recordTimeline({
    payment_id: paymentId,
    type: 'task.token_answered',
    summary: `the waiting workflow was resumed: ${outcome.outcome}${outcome.reason ? ` (${outcome.reason})` : ''}`,
    ids: { task_token: fingerprint(token) },
  });

/**
 * The waiting Task's function: keeps the task token on the payment. If the payment was settled before the token
 * was stored (a fast webhook), it resumes the workflow itself, so no settlement is ever missed.
 */
export async function awaitPsp(deps: PendingDeps, paymentId: string, taskToken: string): Promise<{ waiting: boolean }> {
  await deps.payments.setEventFields(paymentId, { task_token: taskToken });
  await recordTimeline({
    payment_id: paymentId,
    type: 'task.token_issued',
    summary: 'the workflow waits for the PSP (task token kept on the payment)',
    ids: { task_token: fingerprint(taskToken) },
  });
  const payment = await loadPayment(deps, paymentId);
  const outcome = settledOutcome(payment);
  if (outcome) {
    await deps.tasks.succeed(taskToken, outcome);
    await tokenAnswered(paymentId, taskToken, outcome);
    return { waiting: false };
  }
  return { waiting: true };
}

/**
 * Applies what the PSP says of a pending payment (from a webhook, after re-reading the intent, or from the
 * janitor's query). Idempotent: a settled payment never moves again (the transition table forbids it).
 */
export async function settle(
  deps: PendingDeps,
  paymentId: string,
  state: PspChargeState,
  /** The payment as the caller read it (its writes are conditional, so a stale read changes nothing wrongly). */
  read?: Payment,
): Promise<string> {
  let payment = read ?? (await loadPayment(deps, paymentId));
  if (payment.event.status === 'FAILED' && state.state === 'succeeded') {
    // Never dropped silently: the buyer was charged for a payment we ended. The event fails (and is dead-lettered
    // with an alarm after its retries), so a person refunds or books it.
    logger.error('the PSP charged a FAILED payment: refund needed', { payment_id: paymentId, psp: state.pspReference });
    throw new InconsistentStateError(`payment ${paymentId} is FAILED but the PSP charged ${state.pspReference}`);
  }
  if (payment.event.status === 'SUCCESS' || payment.event.status === 'FAILED' || isCharged(payment)) {
    await resume(deps, paymentId);
    return 'already_settled';
  }
  if (state.state === 'pending') return 'pending';
  if (state.amountMinor !== payment.event.total_minor || state.currency !== payment.event.currency) {
    throw new InconsistentStateError(`payment ${paymentId}: the PSP has ${state.amountMinor} ${state.currency}`);
  }
  if (state.state === 'failed' && (payment.event.mode === 'hosted' || !isStopped(state))) {
    // A declined card (on the hosted page, or a failed 3-D Secure whose client secret the buyer holds) would let the
    // buyer try again; we stop the payment at the PSP first, so that a FAILED payment can never be paid afterwards.
    // If it was paid meanwhile, that is the answer.
    const declined = state;
    state = await deps.psp.stopPending(state.pspReference, payment.event.checkout_session_id, stopKey(paymentId));
    // Closing the page cancels the intent; the reason the payment failed is still the decline.
    if (state.state === 'failed') {
      state = { ...state, reason: declined.reason ?? (payment.event.mode === 'hosted' ? state.reason : undefined) };
    }
    payment = await loadPayment(deps, paymentId);
    if (state.state === 'pending') {
      const what = payment.event.mode === 'hosted' ? 'the hosted page' : 'its PaymentIntent';
      throw new PspTransientError(`payment ${paymentId}: ${what} is still open`);
    }
  }
  if (state.state === 'succeeded') {
    await recordCharged(deps, payment, state.pspReference);
  } else {
    await deps.payments.transition(payment, 'FAILED', { reason: `declined:${state.reason ?? 'failed'}` });
  }
  await resume(deps, paymentId);
  logger.info('pending payment settled', { payment_id: paymentId, psp_state: state.state });
  return state.state;
}

/** At the deadline: stop the payment at the PSP. Returns the workflow's outcome (thrown when not confirmable). */
export async function cancelPending(deps: PendingDeps, paymentId: string, read?: Payment): Promise<WaitOutcome> {
  const payment = read ?? (await loadPayment(deps, paymentId));
  const settled = settledOutcome(payment);
  if (settled) return settled;
  const reference = payment.event.psp_reference;
  if (!reference) throw new InconsistentStateError(`payment ${paymentId} is pending without a PSP reference`);
  const state = await deps.psp.stopPending(reference, payment.event.checkout_session_id, stopKey(paymentId));
  if (state.state === 'pending')
    throw new PspTransientError(`payment ${paymentId} could not be stopped at the PSP yet`);
  if (state.state === 'succeeded') {
    await recordCharged(deps, payment, state.pspReference);
    return { outcome: 'SUCCEEDED' };
  }
  await deps.payments.transition(payment, 'FAILED', { reason: 'pending_deadline_passed' });
  return { outcome: 'FAILED', reason: 'pending_deadline_passed' };
}
