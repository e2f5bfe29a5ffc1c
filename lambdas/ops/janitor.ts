/**
 * Scheduled (EventBridge on AWS, the local scheduler locally): the janitor. Also reconciliation's automatic fix of one
 * payment the PSP charged and we hold unsettled: the same recovery decision, on that payment (reconciliation-fix.ts).
 */

import '../../src/payin/with-psp';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import * as z from 'zod/mini';
import { runtimeConfig, sfn } from '../../src/core/clients';
import { ConfigError } from '../../src/core/config';
import { InconsistentStateError } from '../../src/core/errors';
import { publishPendingPayments } from '../../src/core/metrics';
import { logger } from '../../src/core/observability';
import { text } from '../../src/core/step-handler';
import { stepDeps } from '../../src/payin/deps';
import { listFailure, needingAPerson, runJanitor } from '../../src/payin/janitor';
import { recover } from '../../src/payin/recovery';
import { orReconciliationFix } from './reconciliation-fix';

function recoveryDeps() {
  const config = runtimeConfig();
  if (!config.payInStateMachineArn) throw new ConfigError('PAYIN_STATE_MACHINE_ARN is not set');
  const deps = stepDeps();
  return {
    config,
    deps: {
      payments: deps.payments,
      psp: deps.psp,
      tasks: deps.tasks,
      settings: deps.settings,
      workflow: { sfn: sfn(), stateMachineArn: config.payInStateMachineArn, payments: deps.payments },
    },
  };
}

async function sweep() {
  const { config, deps } = recoveryDeps();
  const report = await runJanitor(deps, { now: new Date(), staleAfterMs: config.janitorStaleAfterSeconds * 1000 });
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
}

/** Reconciliation's fix: the recovery decision on one payment, whatever its age (the PSP charged it). */
async function fixPayment({ payment_id }: { payment_id: string }): Promise<string> {
  const outcome = await recover(recoveryDeps().deps, payment_id, { trigger: 'janitor', now: new Date() });
  const resolved = outcome.resolved.length > 0 ? ` (${outcome.resolved.join(', ')})` : '';
  return `pay-in recovery: ${outcome.action}${resolved}`;
}

export const handler = middy(
  orReconciliationFix('FixPayment', z.object({ payment_id: text() }), fixPayment, sweep),
).use(injectLambdaContext(logger, { resetKeys: true }));
