/**
 * The janitor (after Kill Bill's): on a schedule, finds payments that have stayed in a non-final state longer
 * than a threshold and hands each to the one recovery decision (src/payin/recovery.ts), which settles it with the
 * PSP and re-drives its workflow when something is left to do.
 */

import { logger } from '../core/observability';
import type { OrderStatus } from './payment';
import { type RecoveryDeps, recover } from './recovery';

export interface JanitorOptions {
  now: Date;
  /** Only payments unchanged for at least this long are touched. */
  staleAfterMs: number;
  /**
   * At most this many payments of one status are examined in a run (oldest first; the rest wait for the next), so
   * payments that wait for long in one status (held for review, unknown to the PSP) never crowd out another's.
   */
  perStatusLimit?: number;
}

export interface JanitorReport {
  examined: number;
  redriven: string[];
  resolved: { payment_id: string; outcome: string }[];
  /** `kind`: the error's name; an InconsistentStateError means a person must act (the run then fails, alarming). */
  errors: { payment_id: string; error: string; kind: string }[];
}

const STATUSES: OrderStatus[] = ['NOT_STARTED', 'EXECUTING', 'UNKNOWN', 'PENDING'];

export async function runJanitor(deps: RecoveryDeps, options: JanitorOptions): Promise<JanitorReport> {
  const report: JanitorReport = { examined: 0, redriven: [], resolved: [], errors: [] };
  const before = new Date(options.now.getTime() - options.staleAfterMs).toISOString();
  const limit = options.perStatusLimit ?? 1000;
  const examined = new Map<OrderStatus, number>();
  for await (const paymentId of deps.payments.openIdsCreatedBefore(before)) {
    if (STATUSES.every((status) => (examined.get(status) ?? 0) >= limit)) break;
    try {
      // The index finds open payments by age; only those unchanged since the threshold are the janitor's (one
      // written to lately is in its workflow's hands). A payment created after the threshold cannot have been
      // unchanged since, so the index's bound loses none.
      const event = await deps.payments.getEvent(paymentId);
      if (!event || !STATUSES.includes(event.status) || event.updated_at >= before) continue;
      const count = examined.get(event.status) ?? 0;
      if (count >= limit) continue;
      examined.set(event.status, count + 1);
      report.examined++;
      const result = await recover(deps, paymentId, { trigger: 'janitor', now: options.now });
      for (const outcome of result.resolved) report.resolved.push({ payment_id: paymentId, outcome });
      if (result.execution) report.redriven.push(result.execution);
    } catch (error) {
      // One payment's trouble must not stop the others; it stays for the next run (and the logs).
      logger.error('janitor could not tidy a payment', { payment_id: paymentId, error: error as Error });
      report.errors.push({ payment_id: paymentId, error: (error as Error).message, kind: (error as Error).name });
    }
  }
  return report;
}

/**
 * Payments of a janitor report that need a person (two charges, a wrong amount, a charge for a FAILED payment):
 * the scheduled run fails on them so the function's error alarm pages, while the other payments were still tidied.
 */
export function needingAPerson(report: JanitorReport): JanitorReport['errors'] {
  return report.errors.filter((error) => error.kind === 'InconsistentStateError');
}
