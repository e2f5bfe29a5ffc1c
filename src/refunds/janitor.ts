/**
 * The refunds' janitor: every open refund left unchanged for a while is driven on by the workflow's own steps; an
 * UNKNOWN one is settled from the PSP's record (the PaymentIntent's refunds, matched by our id in their metadata).
 */
import { InconsistentStateError } from '../core/errors';
import { logger } from '../core/observability';
import { settleDisputes } from './disputes';
import type { RefundDeps } from './ports';
import type { Refund } from './refund';
import { applyPspRefund, debitAndBook, failRefund, refundAtPsp, type StepDeps, settleRefund } from './steps';

export type RefundJanitorDeps = StepDeps & Pick<RefundDeps, 'settings' | 'orders'>;

export async function runRefundJanitor(deps: RefundJanitorDeps, now = new Date(), limitPerStatus = 100) {
  const before = new Date(now.getTime() - deps.settings.staleAfterSeconds * 1000).toISOString();
  const open = await deps.refunds.openSince(before, limitPerStatus);
  const report = {
    examined: open.length,
    advanced: 0,
    needPerson: [] as string[],
    disputes: 0,
    disputesFailed: [] as string[],
  };
  for (const refund of open) {
    try {
      const after = await recoverRefund(deps, refund, now);
      if (after !== refund.status) report.advanced += 1;
    } catch (error) {
      if (error instanceof InconsistentStateError) {
        report.needPerson.push(refund.refund_id);
        logger.error('refund needs a person', { refund_id: refund.refund_id, error });
        continue;
      }
      logger.warn('refund recovery failed; retried on the next run', { refund_id: refund.refund_id, error });
    }
  }
  const disputes = await settleDisputes(deps);
  report.disputes = disputes.checked;
  report.disputesFailed = disputes.failed;
  return report;
}

export async function recoverRefund(deps: RefundJanitorDeps, refund: Refund, now = new Date()): Promise<string> {
  const id = refund.refund_id;
  if (refund.status === 'CREATED' || (refund.status === 'PROCESSING' && !refund.psp_refund_id)) {
    await debitAndBook(deps, id);
    // The PSP's record first: a refund made whose answer was lost is adopted, never made twice.
    if (!(await adopt(deps, await loadOrThrow(deps, id)))) await refundAtPsp(deps, id);
  } else if (refund.status === 'UNKNOWN') {
    const adopted = await adopt(deps, refund);
    const since = Date.parse(refund.unknown_since ?? refund.updated_at);
    const settled = now.getTime() - since >= deps.settings.pspListLagSeconds * 1000;
    if (!adopted && settled) {
      // A fresh read, and only from UNKNOWN: a refund the PSP settled meanwhile (a webhook) is never failed by this.
      const fresh = await loadOrThrow(deps, id);
      if (fresh.status === 'UNKNOWN') {
        try {
          await failRefund(deps, fresh, 'FAILED', 'psp_error', ['UNKNOWN']);
        } catch (error) {
          // A webhook settled it between our read and our move: nothing to fail, nothing for a person.
          const now = await loadOrThrow(deps, id);
          if (!(error instanceof InconsistentStateError) || now.status === 'FAILED') throw error;
        }
      }
    }
  } else {
    await settleRefund(deps, id);
  }
  const after = await loadOrThrow(deps, id);
  if (after.updated_at === refund.updated_at) await deps.refunds.setFields(id, {});
  return after.status;
}

async function loadOrThrow(deps: StepDeps, id: string) {
  const refund = await deps.refunds.get(id);
  if (!refund) throw new InconsistentStateError(`refund ${id} does not exist`);
  return refund;
}

async function adopt(deps: RefundJanitorDeps, refund: Refund): Promise<boolean> {
  const [found, ...more] = await deps.psp.findRefunds(refund.psp_reference, refund.refund_id);
  if (more.length > 0) throw new InconsistentStateError(`refund ${refund.refund_id}: ${more.length + 1} PSP refunds`);
  if (!found) return false;
  await applyPspRefund(deps, refund, found);
  return true;
}
