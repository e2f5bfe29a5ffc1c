/** Scheduled (daily): starts the payout run of the day (UTC); a run already running for the date is left alone. */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { logger } from '../../src/core/observability';
import { payoutDeps } from '../../src/payout/deps';
import { RunInProgressError } from '../../src/payout/errors';
import { startRun, utcDate } from '../../src/payout/runs';

export const handler = middy(async () => {
  const date = utcDate();
  try {
    const run = await startRun(payoutDeps(), date);
    return { run_id: run.run_id, attempt: run.attempt };
  } catch (error) {
    if (error instanceof RunInProgressError) {
      logger.info('payout run already running', { date });
      return { date, running: true };
    }
    throw error;
  }
}).use(injectLambdaContext(logger, { resetKeys: true }));
