/**
 * Replaying a dead-lettered payment (or any payment by id), safely: a final payment is left alone, a running one
 * too; an UNKNOWN or stalled charge is first resolved with the PSP; only then is the workflow re-driven, and every
 * step of it is idempotent (conditional writes, the PSP idempotency key), so a replay cannot charge twice.
 */
import { isCharged, loadPayment, resolveWithPsp, type StepDeps } from './steps';
import { isWorkflowRunning, redrive, type WorkflowDeps } from './workflow';

export type ReplayAction =
  | 'already_final'
  | 'running'
  | 'awaiting_review'
  | 'pending_at_psp'
  | 'resolved_failed'
  | 'redriven';

export async function replayPayment(
  deps: Pick<StepDeps, 'payments' | 'psp' | 'settings'> & { workflow: WorkflowDeps },
  paymentId: string,
): Promise<{ payment_id: string; action: ReplayAction; execution?: string }> {
  const { event } = await loadPayment(deps, paymentId);
  if (event.status === 'SUCCESS' || event.status === 'FAILED')
    return { payment_id: paymentId, action: 'already_final' };
  if (event.status === 'PENDING' && event.risk_decision === 'REVIEW')
    return { payment_id: paymentId, action: 'awaiting_review' };
  if (await isWorkflowRunning(deps.workflow, event.execution_name)) return { payment_id: paymentId, action: 'running' };
  if (event.status === 'UNKNOWN' || event.status === 'EXECUTING') {
    const outcome = await resolveWithPsp(deps, paymentId);
    if (outcome === 'failed') return { payment_id: paymentId, action: 'resolved_failed' };
    if (outcome === 'pending' && event.status === 'UNKNOWN') return { payment_id: paymentId, action: 'pending_at_psp' };
    // UNKNOWN and not charged as far as the PSP says: wait for it. Charged but not booked: re-drive below.
    if (outcome === 'unchanged' && event.status === 'UNKNOWN' && !isCharged(await loadPayment(deps, paymentId))) {
      return { payment_id: paymentId, action: 'pending_at_psp' };
    }
  }
  const after = await loadPayment(deps, paymentId);
  const execution = await redrive(deps.workflow, after.event, 'replay');
  return { payment_id: paymentId, action: 'redriven', execution };
}

/** The payment id of a dead-lettered "Execution Status Change" event (its execution input names it). */
export function paymentIdOfDeadLetter(body: string): string | undefined {
  try {
    const event = JSON.parse(body) as { detail?: { input?: string } };
    const input = JSON.parse(event.detail?.input ?? '{}') as { payment_id?: unknown };
    return typeof input.payment_id === 'string' ? input.payment_id : undefined;
  } catch {
    return undefined;
  }
}
