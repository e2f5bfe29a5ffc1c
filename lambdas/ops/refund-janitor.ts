/**
 * Scheduled: drives every open refund left unchanged for a while with the workflow's steps and settles UNKNOWN ones
 * from the PSP's record. Fails the run (the Errors alarm pages) when a refund needs a person. Also reconciliation's
 * automatic fix of one refund or dispute the PSP booked and we did not (reconciliation-fix.ts).
 */
import '../../src/refunds/with-psp';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import * as z from 'zod/mini';
import { InconsistentStateError } from '../../src/core/errors';
import { logger } from '../../src/core/observability';
import { text } from '../../src/core/step-handler';
import { withTimeline } from '../../src/core/timeline';
import { applyDispute } from '../../src/refunds/disputes';
import { recoverRefund, runRefundJanitor } from '../../src/refunds/janitor';
import { applyPspRefund } from '../../src/refunds/steps';
import { deps } from '../refunds/deps';
import { orReconciliationFix } from './reconciliation-fix';

async function sweep() {
  const report = await withTimeline({ source: 'janitor' }, () => runRefundJanitor(deps()));
  logger.info('refund janitor done', { ...report });
  if (report.needPerson.length > 0)
    throw new InconsistentStateError(`refunds need a person: ${report.needPerson.join(', ')}`);
  return report;
}

/** A refund or a dispute: one of them. */
const fixInput = z.union([z.strictObject({ refund_id: text() }), z.strictObject({ dispute_id: text() })]);

/**
 * A dispute is applied from the PSP's state; a refund made at the PSP gets its state applied as its webhook would (a
 * success that failed later included); one not made yet, this janitor's recovery.
 */
async function fix(input: z.infer<typeof fixInput>): Promise<string> {
  if ('dispute_id' in input) return `dispute applied from the PSP: ${await applyDispute(deps(), input.dispute_id)}`;
  const refund = await deps().refunds.get(input.refund_id);
  if (!refund) throw new Error(`no refund ${input.refund_id}`);
  if (refund.psp_refund_id) {
    const applied = await applyPspRefund(deps(), refund, await deps().psp.retrieveRefund(refund.psp_refund_id));
    return `refund settled from the PSP: ${applied.status}`;
  }
  return `refund recovery: ${await recoverRefund(deps(), refund, new Date())}`;
}

export const handler = middy(orReconciliationFix('FixRefund', fixInput, fix, sweep)).use(
  injectLambdaContext(logger, { resetKeys: true }),
);
