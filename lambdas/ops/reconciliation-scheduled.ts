/**
 * Scheduled (EventBridge cron on AWS, the local scheduler locally): reconciles the previous UTC day, and catches up
 * the two days before it when they have no complete reconciliation (a run that failed, or only runs made before the
 * day was over or from a file at hand): a run for each such day, so one failure does not leave the schedule behind.
 * A day already running or reconciled is not an error (a retried schedule): logged, nothing started.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { logger } from '../../src/core/observability';
import { reconciliationDeps } from '../../src/reconciliation/deps';
import { addDays, type ReconciliationRun } from '../../src/reconciliation/domain/run';
import { RunInProgressError } from '../../src/reconciliation/errors';
import { startRun } from '../../src/reconciliation/run';

/** How many days back the schedule looks for a day without a complete reconciliation. */
const CATCH_UP_DAYS = 3;

/** A run that reconciled the whole day from the PSP's own file. */
const complete = (run: ReconciliationRun) =>
  run.status === 'COMPLETED' && !run.file_key && run.created_at >= `${addDays(run.date, 1)}T00:00:00`;

export const handler = middy(async () => {
  const deps = reconciliationDeps();
  const yesterday = addDays(new Date().toISOString().slice(0, 10), -1);
  const started: Array<{ run_id: string; date: string }> = [];
  for (let back = CATCH_UP_DAYS - 1; back >= 0; back--) {
    const date = addDays(yesterday, -back);
    if ((await deps.store.runsOfDate(date)).some(complete)) continue;
    try {
      // Through startRun always: a run of the date that died long ago has its lock taken over.
      const run = await startRun(deps, { date, trigger: 'schedule' });
      started.push({ run_id: run.run_id, date });
    } catch (error) {
      if (!(error instanceof RunInProgressError)) throw error;
      logger.info('reconciliation of the day already running', { date, run_id: error.runningRunId });
    }
  }
  if (started.length === 0) logger.info('every recent day is reconciled or running', { through: yesterday });
  return { started };
}).use(injectLambdaContext(logger, { resetKeys: true }));
