/** Scheduled (EventBridge on AWS, the local scheduler locally): the janitor. */

import '../../src/payin/with-psp';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { runtimeConfig, sfn } from '../../src/core/clients';
import { ConfigError } from '../../src/core/config';
import { InconsistentStateError } from '../../src/core/errors';
import { publishPendingPayments } from '../../src/core/metrics';
import { logger } from '../../src/core/observability';
import { stepDeps } from '../../src/payin/deps';
import { listFailure, needingAPerson, runJanitor } from '../../src/payin/janitor';

export const handler = middy(async () => {
  const config = runtimeConfig();
  if (!config.payInStateMachineArn) throw new ConfigError('PAYIN_STATE_MACHINE_ARN is not set');
  const deps = stepDeps();
  const report = await runJanitor(
    {
      payments: deps.payments,
      psp: deps.psp,
      tasks: deps.tasks,
      settings: deps.settings,
      workflow: { sfn: sfn(), stateMachineArn: config.payInStateMachineArn, payments: deps.payments },
    },
    { now: new Date(), staleAfterMs: config.janitorStaleAfterSeconds * 1000 },
  );
  logger.info('janitor run', { ...report });
  const unlisted = listFailure(report);
  // The gauge of the dashboard's pending payments: the non-final payments this run found stale (never throws); not
  // published by a run that could not read them all (a partial count would look like fewer).
  if (!unlisted) publishPendingPayments(report.examined);
  const needy = needingAPerson(report);
  if (needy.length > 0) {
    logger.error('janitor: payments need a person (refund or manual booking)', { payments: needy });
    throw new InconsistentStateError(
      `${needy.length} payment(s) need a person: ${needy.map((e) => e.payment_id).join(', ')}`,
    );
  }
  if (unlisted) throw new Error(`the janitor could not read the open payments: ${unlisted.kind}: ${unlisted.error}`);
  return report;
}).use(injectLambdaContext(logger, { resetKeys: true }));
