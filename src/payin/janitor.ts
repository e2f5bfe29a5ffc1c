/**
 * The janitor (after Kill Bill's): on a schedule, finds payments that have stayed in a non-final state longer
 * than a threshold and drives each to its true final state. UNKNOWN and stalled EXECUTING payments are resolved by
 * asking the PSP; payments whose workflow ended or was lost (the local engine keeps nothing across a restart)
 * are re-driven. Every step being idempotent, a re-drive can only finish what was not finished.
 */

import { logger } from '../core/observability';
import type { OrderStatus } from './payment';
import { cancelPending, type PendingDeps, settle } from './pending';
import { isCharged, loadPayment, resolveWithPsp } from './steps';
import { isWorkflowRunning, redrive, type WorkflowDeps } from './workflow';

export interface JanitorOptions {
  now: Date;
  /** Only payments unchanged for at least this long are touched. */
  staleAfterMs: number;
}

export interface JanitorReport {
  examined: number;
  redriven: string[];
  resolved: { payment_id: string; outcome: string }[];
  errors: { payment_id: string; error: string }[];
}

const STATUSES: OrderStatus[] = ['NOT_STARTED', 'EXECUTING', 'UNKNOWN', 'PENDING'];

type JanitorDeps = PendingDeps & { workflow: WorkflowDeps };

export async function runJanitor(deps: JanitorDeps, options: JanitorOptions): Promise<JanitorReport> {
  const report: JanitorReport = { examined: 0, redriven: [], resolved: [], errors: [] };
  const before = new Date(options.now.getTime() - options.staleAfterMs).toISOString();
  for (const status of STATUSES) {
    for (const paymentId of await deps.payments.idsInStatusSince(status, before)) {
      report.examined++;
      try {
        await tidy(deps, paymentId, report, options.now);
      } catch (error) {
        // One payment's trouble must not stop the others; it stays for the next run (and the logs).
        logger.error('janitor could not tidy a payment', { payment_id: paymentId, error: error as Error });
        report.errors.push({ payment_id: paymentId, error: (error as Error).message });
      }
    }
  }
  return report;
}

async function tidy(deps: JanitorDeps, paymentId: string, report: JanitorReport, now: Date): Promise<void> {
  const { event } = await loadPayment(deps, paymentId);
  if (event.status === 'PENDING') {
    await tidyPending(deps, paymentId, report, now);
    return;
  }
  if (event.status !== 'UNKNOWN' && (await isWorkflowRunning(deps.workflow, event.execution_name))) return;
  if (event.status !== 'NOT_STARTED') {
    const outcome = await resolveWithPsp(deps, paymentId);
    if (outcome !== 'unchanged') report.resolved.push({ payment_id: paymentId, outcome });
    if (outcome === 'failed') return;
    // Pending at the PSP: an UNKNOWN payment waits for the PSP; an EXECUTING one whose workflow is gone is re-driven
    // (the charge's idempotency key replays the PSP's answer and the workflow waits for it again).
    if (outcome === 'pending' && event.status === 'UNKNOWN') return;
    const current = await loadPayment(deps, paymentId);
    const charged = isCharged(current);
    // UNKNOWN and not charged at the PSP as far as it says: nothing to do until it knows.
    if (current.event.status === 'UNKNOWN' && !charged) return;
    // Charged but not booked: re-drive, unless a workflow is already on it.
    if (event.status === 'UNKNOWN' && (await isWorkflowRunning(deps.workflow, current.event.execution_name))) return;
  }
  const after = await loadPayment(deps, paymentId);
  if (after.event.status === 'SUCCESS' || after.event.status === 'FAILED') return;
  report.redriven.push(await redrive(deps.workflow, after.event, 'janitor', now));
  logger.info('janitor re-drove a payment', { payment_id: paymentId, status: after.event.status });
}

/**
 * A payment pending at the PSP (no webhook came, or the workflow was lost): poll the PSP and settle it, which
 * resumes a waiting workflow; past the deadline with no workflow left, stop it at the PSP.
 */
async function tidyPending(deps: JanitorDeps, paymentId: string, report: JanitorReport, now: Date): Promise<void> {
  const { event } = await loadPayment(deps, paymentId);
  if (event.risk_decision === 'REVIEW' || !event.psp_reference) return; // waits for an operator, not the PSP
  const outcome = await settle(deps, paymentId, await deps.psp.retrieve(event.psp_reference));
  if (outcome !== 'pending') report.resolved.push({ payment_id: paymentId, outcome });
  const running = await isWorkflowRunning(deps.workflow, event.execution_name);
  if (running) return;
  let after = await loadPayment(deps, paymentId);
  const deadline = after.event.pending_deadline ? Date.parse(after.event.pending_deadline) : 0;
  if (after.event.status === 'PENDING' && !isCharged(after) && now.getTime() > deadline) {
    const stopped = await cancelPending(deps, paymentId);
    report.resolved.push({ payment_id: paymentId, outcome: `deadline:${stopped.outcome}` });
    after = await loadPayment(deps, paymentId);
  }
  if (after.event.status !== 'FAILED' && after.event.status !== 'SUCCESS') {
    // Charged but its workflow is gone: book it. Still pending: wait again in a new execution.
    report.redriven.push(await redrive(deps.workflow, after.event, 'janitor', now));
  }
}
