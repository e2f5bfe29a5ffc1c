/**
 * Scheduled: drives every open refund left unchanged for a while with the workflow's steps and settles UNKNOWN ones
 * from the PSP's record. Fails the run (the Errors alarm pages) when a refund needs a person.
 */
import '../../src/refunds/with-psp';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { InconsistentStateError } from '../../src/core/errors';
import { logger } from '../../src/core/observability';
import { withTimeline } from '../../src/core/timeline';
import { runRefundJanitor } from '../../src/refunds/janitor';
import { deps } from '../refunds/deps';

export const handler = middy(async () => {
  const report = await withTimeline({ source: 'janitor' }, () => runRefundJanitor(deps()));
  logger.info('refund janitor done', { ...report });
  if (report.needPerson.length > 0)
    throw new InconsistentStateError(`refunds need a person: ${report.needPerson.join(', ')}`);
  return report;
}).use(injectLambdaContext(logger, { resetKeys: true }));
