/**
 * Scheduled (EventBridge cron on AWS, the local scheduler locally): reconciles the previous UTC day, once. A run of
 * that day already running or completed is not an error (a retried schedule): logged, nothing started.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { logger } from '../../src/core/observability';
import { reconciliationDeps } from '../../src/reconciliation/deps';
import { addDays } from '../../src/reconciliation/domain/run';
import { RunInProgressError } from '../../src/reconciliation/reconciliation-table';
import { startRun } from '../../src/reconciliation/run';

export const handler = middy(async () => {
  const date = addDays(new Date().toISOString().slice(0, 10), -1);
  const deps = reconciliationDeps();
  // The schedule reconciles a day once (a person re-runs one through the API or the command).
  const done = (await deps.store.runsOfDate(date)).find((run) => run.status === 'COMPLETED');
  if (done) {
    logger.info('reconciliation of the day already completed', { date, run_id: done.run_id });
    return { run_id: done.run_id, date };
  }
  try {
    const run = await startRun(deps, { date, trigger: 'schedule' });
    return { run_id: run.run_id, date };
  } catch (error) {
    if (error instanceof RunInProgressError) {
      logger.info('reconciliation of the day already running', { date, run_id: error.runningRunId });
      return { run_id: error.runningRunId, date };
    }
    throw error;
  }
}).use(injectLambdaContext(logger, { resetKeys: true }));
