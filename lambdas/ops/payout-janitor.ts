/**
 * Scheduled: drives every open payout left unchanged for a while (lost webhooks, PSP 500s, crashes) with the
 * workflow's own steps, and settles UNKNOWN ones from the PSP's record. Fails the run (the Errors alarm pages)
 * when a payout needs a person. Also reconciliation's automatic fix of one payout the PSP moved and we did not book
 * (reconciliation-fix.ts).
 */
import '../../src/payout/with-psp';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import * as z from 'zod/mini';
import { InconsistentStateError } from '../../src/core/errors';
import { logger } from '../../src/core/observability';
import { text } from '../../src/core/step-handler';
import { payoutDeps } from '../../src/payout/deps';
import { recoverPayout, runPayoutJanitor } from '../../src/payout/janitor';
import { orReconciliationFix } from './reconciliation-fix';

async function sweep() {
  const report = await runPayoutJanitor(payoutDeps());
  logger.info('payout janitor done', { ...report });
  if (report.needPerson.length > 0) {
    throw new InconsistentStateError(`payouts need a person: ${report.needPerson.join(', ')}`);
  }
  return report;
}

/** The pay-out janitor's settlement of one payout from the PSP's record. */
async function fix({ payout_id }: { payout_id: string }): Promise<string> {
  const payout = await payoutDeps().payouts.get(payout_id);
  if (!payout) throw new Error(`no payout ${payout_id}`);
  return `pay-out recovery: ${await recoverPayout(payoutDeps(), payout, new Date())}`;
}

export const handler = middy(orReconciliationFix('FixPayout', z.object({ payout_id: text() }), fix, sweep)).use(
  injectLambdaContext(logger, { resetKeys: true }),
);
