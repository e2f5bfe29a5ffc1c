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
   * At most this many payments are examined in a run (its work is bounded by the function's timeout); the rest wait
   * for the next run. 1,000 when unset.
   */
  limit?: number;
}

export interface JanitorReport {
  examined: number;
  redriven: string[];
  resolved: { payment_id: string; outcome: string }[];
  /**
   * `kind`: the error's name; an InconsistentStateError means a person must act (the run then fails, alarming). An
   * error reading the open payments themselves has no payment id (`payment_id: ''`).
   */
  errors: { payment_id: string; error: string; kind: string }[];
}

const STATUSES: OrderStatus[] = ['NOT_STARTED', 'EXECUTING', 'UNKNOWN', 'PENDING'];

/**
 * The open payments are listed oldest first (the by-status index, by creation time); each one examined goes to the
 * back of that list afterwards (`requeueOpen`), so payments that wait for long (held for review, unknown to the PSP,
 * pending at the PSP) are taken in turn with the others and never stand for good in front of a stuck one, whatever
 * the limit. A run reads at most five times its limit of events (most listed payments are skipped: written to lately).
 */
export async function runJanitor(deps: RecoveryDeps, options: JanitorOptions): Promise<JanitorReport> {
  const report: JanitorReport = { examined: 0, redriven: [], resolved: [], errors: [] };
  const before = new Date(options.now.getTime() - options.staleAfterMs).toISOString();
  const limit = options.limit ?? 1000;
  let read = 0;
  try {
    for await (const paymentId of deps.payments.openIdsCreatedBefore(before)) {
      if (report.examined >= limit || read >= 5 * limit) {
        logger.info("janitor: the run's limit is reached; the rest waits for the next run", {
          examined: report.examined,
          read,
        });
        break;
      }
      read++;
      try {
        // The index finds open payments by age; only those unchanged since the threshold are the janitor's (one
        // written to lately is in its workflow's hands). A payment created after the threshold cannot have been
        // unchanged since, so the index's bound loses none.
        const event = await deps.payments.getEvent(paymentId);
        if (!event || !STATUSES.includes(event.status) || event.updated_at >= before) continue;
        report.examined++;
        try {
          const result = await recover(deps, paymentId, { trigger: 'janitor', now: options.now });
          for (const outcome of result.resolved) report.resolved.push({ payment_id: paymentId, outcome });
          if (result.execution) report.redriven.push(result.execution);
        } finally {
          // To the back of the list, seen again by the next run (its key sorts just after this run's bound): a final
          // payment has left the index and is not put back.
          await deps.payments.requeueOpen(paymentId, before).catch((error: unknown) => {
            logger.warn('janitor could not move a payment to the back of its list', {
              payment_id: paymentId,
              error: error as Error,
            });
          });
        }
      } catch (error) {
        // One payment's trouble must not stop the others; it stays for the next run (and the logs).
        logger.error('janitor could not tidy a payment', { payment_id: paymentId, error: error as Error });
        report.errors.push({ payment_id: paymentId, error: (error as Error).message, kind: (error as Error).name });
      }
    }
  } catch (error) {
    // The list itself could not be read (past its first page, some payments were already tidied): what was done is
    // reported, the rest waits for the next run.
    logger.error('janitor could not read the open payments', { error: error as Error });
    report.errors.push({ payment_id: '', error: (error as Error).message, kind: (error as Error).name });
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

/**
 * The failure to read the list of open payments, if the run had one: the run then fails too (its function's error
 * alarm), after what it did is logged; its count of stale payments is partial, not a gauge.
 */
export function listFailure(report: JanitorReport): JanitorReport['errors'][number] | undefined {
  return report.errors.find((error) => error.payment_id === '');
}
