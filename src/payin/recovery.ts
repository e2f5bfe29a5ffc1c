/**
 * Recovery of stuck pay-ins (after Kill Bill's janitor): ONE decision, taken by `recover`, for the scheduled janitor
 * and for the replay of dead-lettered payments alike. Given the payment as stored, whether its workflow still runs
 * and what the PSP says, it settles what the PSP settled (charged, failed, pending past its deadline) and re-drives
 * the workflow when there is something left to do. Every step being idempotent (conditional writes, the PSP
 * idempotency key), a re-drive can only finish what was not finished. Later flows (pay-out, refunds) extend this.
 *
 * The two triggers differ in one rule only, stated here: the janitor settles an UNKNOWN payment with the PSP even
 * when an execution still claims it (an UNKNOWN payment's workflow has given up; its state is never asked for),
 * while an operator's replay leaves any payment whose workflow runs alone.
 */
import { InconsistentStateError } from '../core/errors';
import { logger } from '../core/observability';
import { asTimelineSource, recordTimeline } from '../core/timeline';
import { isCharged, isFinal, type Payment } from './payment';
import { cancelPending, isStopped, type PendingDeps, settle, stopKey } from './pending';
import { loadPayment, move, recordCharged, type StepDeps } from './steps';
import { isWorkflowRunning, redrive, type WorkflowDeps } from './workflow';

type RecoveryPspDeps = Pick<StepDeps, 'payments' | 'psp' | 'settings'>;
export type RecoveryDeps = PendingDeps & { workflow: WorkflowDeps };

/** What the PSP's record did to a payment whose outcome we did not know. */
export type PspResolution = 'charged' | 'failed' | 'pending' | 'unchanged';

export type RecoveryAction =
  | 'already_final'
  | 'running'
  | 'awaiting_review'
  | 'pending_at_psp'
  | 'resolved_failed'
  | 'redriven';

export interface RecoveryResult {
  action: RecoveryAction;
  /** What the PSP settled on the way (`charged`, `failed`, `pending`, `succeeded`, `deadline:FAILED`...). */
  resolved: string[];
  /** The new execution, when re-driven. */
  execution?: string;
}

export interface RecoveryOptions {
  trigger: 'janitor' | 'replay';
  now: Date;
}

/**
 * The one recovery decision for a payment that may be stuck. Reads the payment once, then again only after a
 * change and right before a re-drive (time has passed: a final payment is never re-driven).
 */
export function recover(deps: RecoveryDeps, paymentId: string, options: RecoveryOptions): Promise<RecoveryResult> {
  return asTimelineSource(options.trigger, async () => {
    const result = await decide(deps, paymentId, options);
    // A pass that left the payment as it was (still running, waiting for review or for the PSP) is not told again
    // every few minutes: the timeline keeps what a decision did.
    const didNothing = ['running', 'awaiting_review', 'pending_at_psp'].includes(result.action);
    if (didNothing && result.resolved.length === 0) return result;
    await recordTimeline({
      payment_id: paymentId,
      type: `${options.trigger}.decision`,
      summary: `${options.trigger}: ${RECOVERY_ACTIONS[result.action]}${result.resolved.length > 0 ? ` (PSP: ${result.resolved.join(', ')})` : ''}`,
      ids: result.execution ? { execution_name: result.execution } : {},
      detail: { action: result.action, resolved: result.resolved },
    });
    return result;
  });
}

const RECOVERY_ACTIONS: Record<RecoveryAction, string> = {
  already_final: 'nothing to do, the payment is final',
  awaiting_review: 'left for the operator, held for risk review',
  running: 'left to its workflow, still running',
  resolved_failed: 'settled from the PSP: failed',
  pending_at_psp: 'the PSP still has it pending: waits',
  redriven: 're-drove the workflow',
};

async function decide(deps: RecoveryDeps, paymentId: string, options: RecoveryOptions): Promise<RecoveryResult> {
  let payment = await loadPayment(deps, paymentId);
  const resolved: string[] = [];
  const result = (action: RecoveryAction, execution?: string): RecoveryResult =>
    execution ? { action, resolved, execution } : { action, resolved };
  const redriveNow = async () =>
    result('redriven', await redrive(deps.workflow, payment.event, options.trigger, options.now));
  const { status } = payment.event;
  if (isFinal(payment)) return result('already_final');
  // Held for an operator's risk review (no PSP payment yet): the operator decides, not the PSP.
  if (status === 'PENDING' && (payment.event.risk_decision === 'REVIEW' || !payment.event.psp_reference)) {
    return result('awaiting_review');
  }

  if (status === 'PENDING') {
    // Pending at the PSP (no webhook came, or the workflow was lost): poll it and settle, which resumes a waiting
    // workflow; a workflow still waiting is left to wait.
    const outcome = await settle(deps, paymentId, await deps.psp.retrieve(payment.event.psp_reference ?? ''), payment);
    if (outcome !== 'pending') {
      resolved.push(outcome);
      payment = await loadPayment(deps, paymentId);
    }
    if (await isWorkflowRunning(deps.workflow, payment.event.execution_name)) return result('running');
    const deadline = payment.event.pending_deadline ? Date.parse(payment.event.pending_deadline) : 0;
    if (payment.event.status === 'PENDING' && !isCharged(payment) && options.now.getTime() > deadline) {
      // Past the deadline with no workflow left: stop it at the PSP.
      const stopped = await cancelPending(deps, paymentId, payment);
      resolved.push(`deadline:${stopped.outcome}`);
      payment = await loadPayment(deps, paymentId);
    }
    // A webhook may have settled it while the PSP was asked: never re-drive a final payment.
    payment = await loadPayment(deps, paymentId);
    if (payment.event.status === 'FAILED') return result('resolved_failed');
    if (payment.event.status === 'SUCCESS') return result('already_final');
    // Charged but its workflow is gone: book it. Still pending: wait again in a new execution.
    return redriveNow();
  }

  // NOT_STARTED, EXECUTING, UNKNOWN.
  const heldByWorkflow = status !== 'UNKNOWN' || options.trigger === 'replay';
  if (heldByWorkflow && (await isWorkflowRunning(deps.workflow, payment.event.execution_name))) {
    return result('running');
  }
  if (status !== 'NOT_STARTED') {
    const asked = await askPsp(deps, payment);
    payment = asked.payment;
    if (asked.outcome !== 'unchanged') resolved.push(asked.outcome);
    if (asked.outcome === 'failed') return result('resolved_failed');
    // Pending at the PSP: an UNKNOWN payment waits for the PSP; an EXECUTING one whose workflow is gone is re-driven
    // (the charge's idempotency key replays the PSP's answer and the workflow waits for it again).
    if (asked.outcome === 'pending' && status === 'UNKNOWN') return result('pending_at_psp');
    // UNKNOWN and not charged as far as the PSP says: nothing to do until it knows.
    if (payment.event.status === 'UNKNOWN' && !isCharged(payment)) return result('pending_at_psp');
  }
  // Time has passed (the PSP was asked, a workflow described): the workflow's own steps may have finished it.
  payment = await loadPayment(deps, paymentId);
  if (isFinal(payment)) return result(payment.event.status === 'FAILED' ? 'resolved_failed' : 'already_final');
  // Charged but not booked: re-drive, unless a workflow is on it now (the janitor has not asked before; a replay
  // may have re-driven it meanwhile, under the execution name just read).
  if (!heldByWorkflow && (await isWorkflowRunning(deps.workflow, payment.event.execution_name))) {
    return result('running');
  }
  const redriven = await redriveNow();
  logger.info('recovery re-drove a payment', {
    payment_id: paymentId,
    status: payment.event.status,
    by: options.trigger,
  });
  return redriven;
}

/**
 * Resolves a payment whose PSP outcome is unknown (or whose workflow died while charging) by asking the PSP:
 * a succeeded charge moves the orders to SUCCESS (then a re-drive books them), no charge moves it to FAILED.
 */
export async function resolveWithPsp(deps: RecoveryPspDeps, paymentId: string): Promise<PspResolution> {
  return (await askPsp(deps, await loadPayment(deps, paymentId))).outcome;
}

/** resolveWithPsp on a payment already read: returns the outcome and the payment as it is after it. */
async function askPsp(deps: RecoveryPspDeps, payment: Payment): Promise<{ outcome: PspResolution; payment: Payment }> {
  const paymentId = payment.event.payment_id;
  const same = (outcome: PspResolution) => ({ outcome, payment });
  if (!['UNKNOWN', 'EXECUTING'].includes(payment.event.status) || isCharged(payment)) return same('unchanged');
  // Intents can only have been created since the payment was accepted: the window lets the PSP confirm "none" from
  // its list (no indexing delay) when its search, which lags writes (up to an hour in an outage), finds nothing.
  const charges = await deps.psp.findCharges(paymentId, {
    createdFrom: Math.floor(Date.parse(payment.event.created_at) / 1000) - 300,
  });
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
    return { outcome: 'charged', payment: await recordCharged(deps, payment, success.pspReference) };
  }
  const pending = charges.filter((c) => c.state === 'pending');
  const pastDeadline =
    payment.event.pending_deadline !== undefined && Date.parse(payment.event.pending_deadline) < Date.now();
  /** Stops what is still open at the PSP and takes its answer after that; undefined when all stopped unpaid. */
  const stopOpen = async (open: { pspReference: string }[]) => {
    for (const { pspReference } of open) {
      const state = await deps.psp.stopPending(pspReference, payment.event.checkout_session_id, stopKey(paymentId));
      if (state.state === 'succeeded') {
        return { outcome: 'charged' as const, payment: await recordCharged(deps, payment, state.pspReference) };
      }
      if (state.state === 'pending') return same('pending');
    }
    return undefined;
  };
  if (payment.event.status === 'UNKNOWN' && pastDeadline) {
    // Still open at the PSP past our deadline (3-D Secure never finished, a hosted page never closed): stop it,
    // then take the PSP's answer. Stopping a payment that succeeded meanwhile fails, and then it is a success.
    const answer = await stopOpen(pending.length > 0 ? pending : hostedPage(payment));
    if (answer) return answer;
  } else if (pending.length > 0) {
    return same('pending');
  }
  if (payment.event.status === 'UNKNOWN') {
    // The PSP's search lags behind its writes: "no charge" is believed only once the payment is old enough.
    const age = Date.now() - Date.parse(payment.event.updated_at);
    if (age < deps.settings.pspSearchLagSeconds * 1000) return same('pending');
    if (payment.event.mode === 'hosted' && !pastDeadline) {
      // The buyer may still pay on the page: close it first, and believe only what the PSP says after that.
      const answer = await stopOpen(hostedPage(payment));
      if (answer) return answer;
    }
    // A failed attempt that can still be confirmed (a failed 3-D Secure: the buyer holds the client secret) is
    // stopped first, so a FAILED payment can never be paid afterwards.
    const confirmable = charges.filter((c) => c.state === 'failed' && !isStopped(c));
    const answer = await stopOpen(confirmable);
    if (answer) return answer;
    const failed = await move(deps, payment, 'FAILED', { reason: 'psp_no_charge_found', from: ['UNKNOWN'] });
    if (failed.moved) return { outcome: 'failed', payment: failed.payment };
    // Someone settled it first (a charge recorded meanwhile): its stored state is the answer, not ours.
    const now = failed.payment;
    return {
      outcome: now.event.status === 'FAILED' ? 'failed' : 'unchanged', // nothing resolved by us: decided from the stored state
      payment: now,
    };
  }
  return same('unchanged'); // EXECUTING with no charge at the PSP: a re-drive charges it (same idempotency key)
}

/** The hosted page of a payment, as something to stop, when it has one. */
function hostedPage(payment: Payment): { pspReference: string }[] {
  const reference = payment.event.psp_reference ?? payment.event.checkout_session_id;
  return payment.event.mode === 'hosted' && payment.event.checkout_session_id && reference
    ? [{ pspReference: reference }]
    : [];
}
