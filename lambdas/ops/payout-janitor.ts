/**
 * Scheduled: drives every open payout left unchanged for a while (lost webhooks, PSP 500s, crashes) with the
 * workflow's own steps, and settles UNKNOWN ones from the PSP's record. Fails the run (the Errors alarm pages)
 * when a payout needs a person.
 */
import '../../src/payout/with-psp';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { InconsistentStateError } from '../../src/core/errors';
import { logger } from '../../src/core/observability';
import { payoutDeps } from '../../src/payout/deps';
import { runPayoutJanitor } from '../../src/payout/janitor';

export const handler = middy(async () => {
  const report = await runPayoutJanitor(payoutDeps());
  logger.info('payout janitor done', { ...report });
  if (report.needPerson.length > 0) {
    throw new InconsistentStateError(`payouts need a person: ${report.needPerson.join(', ')}`);
  }
  return report;
}).use(injectLambdaContext(logger, { resetKeys: true }));
