/**
 * The refund's steps, plain functions over the ports, each safe to run again (the PSP's idempotency key is the
 * refund id; wallet and ledger postings have their flags). The workflow (state-machines/refund.asl.json), the
 * webhooks and the janitor call the same functions.
 */

import { InconsistentStateError, PspOutcomeUnknownError } from '../core/errors';
import { logger } from '../core/observability';
import { recordTimeline } from '../core/timeline';
import { refundPosting, refundReversalPosting } from '../ledger/postings';
import type { PspRefund } from '../psp/refund-types';
import type { RefundDeps } from './ports';
import { isFinalRefund, type Refund, type RefundStatus } from './refund';

export type StepDeps = Pick<RefundDeps, 'refunds' | 'wallets' | 'ledger' | 'psp' | 'tasks'> & { now?: () => Date };

export async function loadRefund(deps: Pick<RefundDeps, 'refunds'>, refundId: string): Promise<Refund> {
  const refund = await deps.refunds.get(refundId);
  if (!refund) throw new InconsistentStateError(`refund ${refundId} does not exist`);
  return refund;
}

export interface RefundStepResult {
  status: RefundStatus;
  outcome: RefundStatus | 'PENDING';
}

const result = (refund: Refund): RefundStepResult => ({
  status: refund.status,
  outcome: refund.status === 'PROCESSING' && refund.psp_refund_id ? 'PENDING' : refund.status,
});

/** The seller's wallet debited (it may go below zero) and the refund booked, each once. */
export async function debitAndBook(deps: StepDeps, refundId: string): Promise<RefundStepResult> {
  let refund = await loadRefund(deps, refundId);
  if (refund.status === 'CREATED' || refund.status === 'PROCESSING') {
    const posting = refundPosting(refund);
    if (!refund.wallet_debited) {
      // From the order's pending credit while the PSP still holds it as pending, else from available.
      await deps.wallets.debitForRefund(posting.wallet, refund.payment_order_id, (from) =>
        deps.refunds.flagGuard(refundId, 'wallet_debited', { debited_from: from }),
      );
    }
    if (!refund.refund_booked) {
      await deps.ledger.appendOnce(posting.transaction, [deps.refunds.flagGuard(refundId, 'refund_booked')]);
    }
    await deps.refunds.move(refund, 'PROCESSING', {}, ['CREATED']);
    refund = await loadRefund(deps, refundId);
  }
  return result(refund);
}

/** The refund at the PSP (Idempotency-Key: the refund id). Succeeded, pending, refused or unknown. */
export async function refundAtPsp(deps: StepDeps, refundId: string): Promise<RefundStepResult> {
  const refund = await loadRefund(deps, refundId);
  if (refund.status !== 'PROCESSING' || refund.psp_refund_id) return result(refund);
  let answer: Awaited<ReturnType<StepDeps['psp']['refund']>>;
  try {
    answer = await deps.psp.refund({
      paymentIntent: refund.psp_reference,
      amountMinor: refund.amount_minor,
      reason: refund.reason,
      metadata: {
        refund_id: refund.refund_id,
        payment_id: refund.payment_id,
        payment_order_id: refund.payment_order_id,
      },
      idempotencyKey: refund.refund_id,
    });
  } catch (error) {
    await recordTimeline({
      payment_id: refund.payment_id,
      source: 'psp',
      type: 'psp.refund',
      summary: `PSP refund ${refund.refund_id}: no answer (${error instanceof Error ? `${error.name}: ${error.message}` : String(error)})`,
      ids: { refund_id: refund.refund_id, idempotency_key: refund.refund_id },
      detail: { error: error instanceof Error ? error.name : 'Error' },
    });
    if (!(error instanceof PspOutcomeUnknownError)) throw error;
    await deps.refunds.move(refund, 'UNKNOWN', { unknown_since: new Date().toISOString() }, ['PROCESSING']);
    logger.warn('refund outcome unknown: the janitor settles it from the PSP', { refund_id: refundId });
    return result(await loadRefund(deps, refundId));
  }
  await recordTimeline({
    payment_id: refund.payment_id,
    source: 'psp',
    type: 'psp.refund',
    summary: `PSP refund ${refund.refund_id}: ${answer.outcome === 'REFUSED' ? `refused (${answer.code})` : `${answer.value.status} (${answer.value.refundId})`}`,
    ids: {
      refund_id: refund.refund_id,
      idempotency_key: refund.refund_id,
      ...(answer.outcome === 'REFUSED' ? {} : { psp_refund_id: answer.value.refundId }),
    },
  });
  if (answer.outcome === 'REFUSED') {
    await failRefund(deps, refund, 'FAILED', answer.code);
    return result(await loadRefund(deps, refundId));
  }
  return result(await applyPspRefund(deps, refund, answer.value));
}

/** Applies the PSP's current state of the refund; resumes a waiting workflow once the refund is final. */
/** We decided the PSP had made no refund (none found once its lists had caught up), yet it did: a person must look. */
function assertNotFailedForWant(refund: Refund, psp: PspRefund) {
  if (
    refund.status === 'FAILED' &&
    refund.failure_reason === 'psp_error' &&
    psp.status !== 'failed' &&
    psp.status !== 'canceled'
  ) {
    throw new InconsistentStateError(
      `refund ${refund.refund_id} was failed for want of a PSP refund, but the PSP holds ${psp.refundId} (${psp.status})`,
    );
  }
}

export async function applyPspRefund(deps: StepDeps, refund: Refund, psp: PspRefund): Promise<Refund> {
  assertNotFailedForWant(refund, psp);
  if (!refund.psp_refund_id && (refund.status === 'PROCESSING' || refund.status === 'UNKNOWN')) {
    await deps.refunds.move(refund, 'PROCESSING', { psp_refund_id: psp.refundId }, ['PROCESSING', 'UNKNOWN']);
    refund = await loadRefund(deps, refund.refund_id);
    // The janitor may have failed it between our read and our move: checked again on what is stored now.
    assertNotFailedForWant(refund, psp);
  }
  if (psp.status === 'succeeded' && refund.status === 'PROCESSING') {
    await deps.refunds.move(refund, 'SUCCEEDED', {}, ['PROCESSING']);
  } else if (psp.status === 'failed') {
    await failRefund(deps, refund, 'FAILED', psp.failureReason ?? 'unknown');
  } else if (psp.status === 'canceled') {
    await failRefund(deps, refund, 'CANCELED', 'canceled');
  }
  const after = await loadRefund(deps, refund.refund_id);
  if (isFinalRefund(after) && after.task_token) {
    await deps.tasks.succeed(after.task_token, { refund_id: after.refund_id, status: after.status });
  }
  return after;
}

/**
 * A refund that did not happen (refused, failed, even after succeeded, canceled): marked with the PSP's reason, its
 * booking reversed exactly, the seller's wallet credited back, the order's refundable amount released. Each once; the
 * janitor finishes an interrupted one.
 */
export async function failRefund(
  deps: StepDeps,
  refund: Refund,
  to: 'FAILED' | 'CANCELED',
  reason: string,
  from?: RefundStatus[],
) {
  let current = refund;
  if (current.status !== 'FAILED' && current.status !== 'CANCELED') {
    const moved = await deps.refunds.move(current, to, { failure_reason: reason, reversal_done: false }, from);
    current = await loadRefund(deps, refund.refund_id);
    if (!moved && current.status !== 'FAILED' && current.status !== 'CANCELED') {
      throw new InconsistentStateError(`refund ${refund.refund_id} cannot become ${to} from ${current.status}`);
    }
  }
  if (current.reversal_done) return;
  const reversal = refundReversalPosting(current);
  if (current.refund_booked && !current.reversal_booked) {
    await deps.ledger.appendOnce(reversal.transaction, [deps.refunds.flagGuard(current.refund_id, 'reversal_booked')]);
  }
  if (current.wallet_debited && !current.wallet_restored) {
    await deps.wallets.creditForFailedRefund(
      reversal.wallet,
      current.payment_order_id,
      deps.refunds.flagGuard(current.refund_id, 'wallet_restored'),
      current.debited_from ?? 'available',
    );
  }
  if (!current.refundable_released) await deps.refunds.releaseRefundable(current);
  await deps.refunds.setFields(current.refund_id, { reversal_done: true });
  logger.info('refund failed: booking reversed, wallet restored, refundable released', {
    refund_id: current.refund_id,
    status: current.status,
    reason: current.failure_reason ?? reason,
  });
}

/** The wait for a pending refund: the task token kept on the refund; a webhook or the janitor resumes it. */
export async function awaitRefund(deps: StepDeps, refundId: string, token: string): Promise<{ waiting: boolean }> {
  await deps.refunds.setFields(refundId, { task_token: token }, ['PROCESSING']);
  const refund = await loadRefund(deps, refundId);
  if (refund.status !== 'PROCESSING') {
    await deps.tasks.succeed(token, { refund_id: refundId, status: refund.status });
    return { waiting: false };
  }
  return { waiting: true };
}

/** Reads the PSP's refund and applies it (after the wait, and the janitor's poll). */
export async function settleRefund(deps: StepDeps, refundId: string): Promise<RefundStepResult> {
  const refund = await loadRefund(deps, refundId);
  if (refund.psp_refund_id && (refund.status === 'PROCESSING' || refund.status === 'SUCCEEDED')) {
    return result(await applyPspRefund(deps, refund, await deps.psp.retrieveRefund(refund.psp_refund_id)));
  }
  if ((refund.status === 'FAILED' || refund.status === 'CANCELED') && !refund.reversal_done) {
    await failRefund(deps, refund, refund.status, refund.failure_reason ?? 'unknown');
    return result(await loadRefund(deps, refundId));
  }
  return result(refund);
}
