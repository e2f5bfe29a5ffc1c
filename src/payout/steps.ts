/**
 * The pay-out's steps, plain functions over the ports: each reads the payout, acts on what it finds, and is safe to
 * run again (PSP idempotency keys derived from the payout id, conditional writes on the status and booking flags).
 * The workflow (state-machines/pay-out.asl.json), the webhooks and the janitor all call these same functions.
 */
import { InconsistentStateError, PspOutcomeUnknownError } from '../core/errors';
import { logger } from '../core/observability';
import { payoutTransferPosting, transferReversalPosting } from '../ledger/postings';
import type { PspPayout } from '../psp/connect-types';
import {
  failureMessage,
  isFinalPayout,
  NOT_A_BANK_FAILURE,
  PAID_WATCH_DAYS,
  type Payout,
  type PayoutStatus,
  pspKeys,
} from './payout';
import type { PayoutDeps } from './ports';

export type StepDeps = Pick<PayoutDeps, 'payouts' | 'wallets' | 'ledger' | 'psp' | 'sellers' | 'tasks'> & {
  now?: () => Date;
};

const nowIso = (deps: { now?: () => Date }) => (deps.now?.() ?? new Date()).toISOString();

export async function loadPayout(deps: Pick<PayoutDeps, 'payouts'>, payoutId: string): Promise<Payout> {
  const payout = await deps.payouts.get(payoutId);
  if (!payout) throw new InconsistentStateError(`payout ${payoutId} does not exist`);
  return payout;
}

const walletMove = (payout: Payout) => ({
  seller_account: payout.seller_account,
  currency: payout.currency,
  amount_minor: payout.amount_minor,
});

const metadata = (payout: Payout) => ({ payout_id: payout.payout_id, seller_account: payout.seller_account });

export interface StepResult {
  status: PayoutStatus;
  /** For the workflow's choice: what happened. */
  outcome: 'TRANSFERRED' | 'IN_TRANSIT' | 'PAID' | 'FAILED' | 'CANCELED' | 'UNKNOWN' | 'RESERVED';
}

const result = (payout: Pick<Payout, 'status'>): StepResult => ({ status: payout.status, outcome: payout.status });

/**
 * Transfer: the seller's money from the platform's PSP balance to the connected account. A refusal releases the
 * hold and fails the payout (one transaction); a 500 makes it UNKNOWN (the janitor settles it from the PSP's
 * record); a success is recorded, then the hold is captured and the transfer booked (each once).
 */
export async function transfer(deps: StepDeps, payoutId: string): Promise<StepResult> {
  let payout = await loadPayout(deps, payoutId);
  if (payout.status === 'RESERVED') {
    let answer: Awaited<ReturnType<StepDeps['psp']['transfer']>>;
    try {
      answer = await deps.psp.transfer({
        amountMinor: payout.amount_minor,
        currency: payout.currency,
        destination: payout.psp_account_id,
        transferGroup: payout.payout_id,
        metadata: metadata(payout),
        idempotencyKey: pspKeys(payout.payout_id).transfer,
        description: `payout ${payout.payout_id}`,
      });
    } catch (error) {
      if (!(error instanceof PspOutcomeUnknownError)) throw error;
      await deps.payouts.move(payout, 'UNKNOWN', { unknown_stage: 'transfer', unknown_since: nowIso(deps) }, [
        'RESERVED',
      ]);
      logger.warn('transfer outcome unknown: the janitor settles it from the PSP', { payout_id: payoutId });
      return result(await loadPayout(deps, payoutId));
    }
    if (answer.outcome === 'REFUSED') {
      await refuseTransfer(deps, payout, answer.code, answer.message);
      return result(await loadPayout(deps, payoutId));
    }
    await recordTransfer(deps, payout, answer.value.transferId);
    payout = await loadPayout(deps, payoutId);
  }
  if (payout.transfer_id) await bookTransfer(deps, payout);
  return result(payout);
}

/** The transfer was refused (nothing moved): the hold goes back to available and the payout fails, together. */
export async function refuseTransfer(deps: StepDeps, payout: Payout, code: string, pspMessage?: string) {
  const moved = await deps.wallets.release(
    walletMove(payout),
    deps.payouts.moveGuard(
      payout,
      'FAILED',
      { failure_code: code, failure_message: failureMessage(code, pspMessage) },
      [payout.status],
    ),
  );
  logger.info('transfer refused: hold released', { payout_id: payout.payout_id, code, moved });
}

async function recordTransfer(deps: StepDeps, payout: Payout, transferId: string) {
  if (!(await deps.payouts.move(payout, 'TRANSFERRED', { transfer_id: transferId }, ['RESERVED', 'UNKNOWN']))) {
    const now = await loadPayout(deps, payout.payout_id);
    if (now.transfer_id !== transferId) {
      throw new InconsistentStateError(
        `payout ${payout.payout_id}: transfer ${transferId} made but the payout is ${now.status} (${now.transfer_id ?? 'no transfer'})`,
      );
    }
  }
}

/** The transfer in the wallet (the hold captured) and in the ledger, each once. */
export async function bookTransfer(deps: StepDeps, payout: Payout) {
  const posting = payoutTransferPosting(payout);
  if (!payout.wallet_captured) {
    await deps.wallets.capture(posting.wallet, deps.payouts.flagGuard(payout.payout_id, 'wallet_captured'));
  }
  if (!payout.transfer_booked) {
    await deps.ledger.appendOnce(posting.transaction, [deps.payouts.flagGuard(payout.payout_id, 'transfer_booked')]);
  }
}

/**
 * Payout: from the connected account to the seller's bank. A refusal (e.g. payouts disabled) undoes the transfer;
 * a 500 makes it UNKNOWN; a success leaves it IN_TRANSIT until the PSP says paid or failed.
 */
export async function sendPayout(deps: StepDeps, payoutId: string): Promise<StepResult> {
  const payout = await loadPayout(deps, payoutId);
  const payoutStage = payout.status === 'UNKNOWN' && payout.unknown_stage === 'payout';
  if (payout.status !== 'TRANSFERRED' && !payoutStage) return result(payout);
  await bookTransfer(deps, payout);
  let answer: Awaited<ReturnType<StepDeps['psp']['payout']>>;
  try {
    answer = await deps.psp.payout({
      account: payout.psp_account_id,
      amountMinor: payout.amount_minor,
      currency: payout.currency,
      metadata: metadata(payout),
      idempotencyKey: pspKeys(payout.payout_id).payout,
      description: `payout ${payout.payout_id}`,
    });
  } catch (error) {
    if (!(error instanceof PspOutcomeUnknownError)) throw error;
    await deps.payouts.move(payout, 'UNKNOWN', { unknown_stage: 'payout', unknown_since: nowIso(deps) }, [
      'TRANSFERRED',
    ]);
    logger.warn('payout outcome unknown: the janitor settles it from the PSP', { payout_id: payoutId });
    return result(await loadPayout(deps, payoutId));
  }
  if (answer.outcome === 'REFUSED') {
    await failAfterTransfer(deps, payout, 'FAILED', answer.code, answer.message);
    return result(await loadPayout(deps, payoutId));
  }
  await recordPspPayout(deps, payout, answer.value);
  return result(await loadPayout(deps, payoutId));
}

/** Our payout knows the PSP's payout (IN_TRANSIT), then takes on its state if that is already final. */
async function recordPspPayout(deps: StepDeps, payout: Payout, psp: PspPayout) {
  if (payout.status === 'TRANSFERRED' || payout.status === 'UNKNOWN') {
    await deps.payouts.move(payout, 'IN_TRANSIT', { psp_payout_id: psp.payoutId, unknown_stage: undefined }, [
      'TRANSFERRED',
      'UNKNOWN',
    ]);
  }
  await applyPspPayout(deps, await loadPayout(deps, payout.payout_id), psp);
}

/**
 * Applies the PSP's current state of the payout (never an event's possibly stale copy): paid, failed (also after
 * paid), canceled. Resumes a waiting workflow once the payout is final.
 */
export async function applyPspPayout(deps: StepDeps, payout: Payout, psp: PspPayout): Promise<Payout> {
  if (psp.status === 'paid' && payout.status === 'IN_TRANSIT') {
    await deps.payouts.move(payout, 'PAID', { paid_at: nowIso(deps) }, ['IN_TRANSIT']);
  } else if (psp.status === 'paid' && payout.status === 'PAID' && !payout.watch_done) {
    // Still paid after the watch window: a late failure is no longer expected; the janitor stops looking.
    const paidAt = Date.parse(payout.paid_at ?? payout.updated_at);
    const now = (deps.now?.() ?? new Date()).getTime();
    if (now - paidAt >= PAID_WATCH_DAYS * 86_400_000)
      await deps.payouts.setFields(payout.payout_id, { watch_done: true }, ['PAID']);
  } else if (psp.status === 'failed' && payout.transfer_id) {
    const code = psp.failureCode ?? 'could_not_process';
    await failAfterTransfer(deps, payout, 'FAILED', code, psp.failureMessage);
  } else if (psp.status === 'canceled' && payout.transfer_id && payout.status !== 'PAID') {
    await failAfterTransfer(deps, payout, 'CANCELED', 'canceled', 'The payout was canceled at the PSP.');
  }
  const after = await loadPayout(deps, payout.payout_id);
  if (isFinalPayout(after) && after.task_token) {
    await deps.tasks.succeed(after.task_token, { payout_id: after.payout_id, status: after.status });
  }
  return after;
}

/**
 * A failure after the transfer (payout refused, failed at the bank, even after paid, or canceled): the payout is
 * marked with its reason, the transfer reversed at the PSP, the reversal booked, the money given back to the
 * seller's available balance and, for a bank failure, the seller's payouts paused. Each part once; a crash midway
 * leaves `reversal_done` false and the janitor runs this again.
 */
export async function failAfterTransfer(
  deps: StepDeps,
  payout: Payout,
  to: 'FAILED' | 'CANCELED',
  code: string,
  pspMessage?: string,
): Promise<void> {
  let current = payout;
  if (!current.transfer_id) throw new InconsistentStateError(`payout ${payout.payout_id} has no transfer to reverse`);
  const message = failureMessage(code, pspMessage);
  if (current.status !== 'FAILED' && current.status !== 'CANCELED') {
    const moved = await deps.payouts.move(current, to, {
      failure_code: code,
      failure_message: message,
      reversal_done: false,
    });
    current = await loadPayout(deps, payout.payout_id);
    if (!moved && current.status !== 'FAILED' && current.status !== 'CANCELED') {
      throw new InconsistentStateError(`payout ${payout.payout_id} cannot become ${to} from ${current.status}`);
    }
  }
  if (current.reversal_done) return;
  // The transfer's own booking first, so the reversal reverses something booked.
  await bookTransfer(deps, current);
  const transferId = current.transfer_id as string;
  if (!current.reversal_id) {
    const answer = await deps.psp.reverseTransfer(transferId, {
      amountMinor: current.amount_minor,
      metadata: metadata(current),
      idempotencyKey: pspKeys(current.payout_id).reversal,
    });
    if (answer.outcome === 'REFUSED') {
      throw new InconsistentStateError(
        `payout ${current.payout_id}: the PSP refused to reverse transfer ${transferId} (${answer.code}): a person must look`,
      );
    }
    await deps.payouts.setFields(current.payout_id, { reversal_id: answer.value.reversalId });
    current = await loadPayout(deps, current.payout_id);
  }
  const posting = transferReversalPosting(current);
  if (!current.reversal_booked) {
    await deps.ledger.appendOnce(posting.transaction, [deps.payouts.flagGuard(current.payout_id, 'reversal_booked')]);
  }
  if (!current.wallet_restored) {
    await deps.wallets.credit(posting.wallet, deps.payouts.flagGuard(current.payout_id, 'wallet_restored'));
  }
  // Only a failure at the seller's bank pauses the seller (not the PSP's errors, nor a refusal the account's state
  // already says).
  if (current.status === 'FAILED' && !NOT_A_BANK_FAILURE.has(current.failure_code ?? code)) {
    await deps.sellers.pause(
      current.seller_account,
      `payout ${current.payout_id} failed: ${current.failure_message ?? message}`,
      nowIso(deps),
    );
  }
  await deps.payouts.setFields(current.payout_id, { reversal_done: true });
  logger.info('payout failed after its transfer: reversed, booked, wallet restored', {
    payout_id: current.payout_id,
    status: current.status,
    code: current.failure_code,
  });
}

/** The wait: the task token is kept on the payout; a webhook or the janitor resumes it. */
export async function awaitPayout(deps: StepDeps, payoutId: string, token: string): Promise<{ waiting: boolean }> {
  await deps.payouts.setFields(payoutId, { task_token: token }, ['IN_TRANSIT']);
  const payout = await loadPayout(deps, payoutId);
  // Settled before the token was kept (a fast webhook): resume at once.
  if (payout.status !== 'IN_TRANSIT') {
    await deps.tasks.succeed(token, { payout_id: payoutId, status: payout.status });
    return { waiting: false };
  }
  return { waiting: true };
}

/** Reads the PSP's payout and applies it; what the workflow does after the wait (and the janitor's poll). */
export async function settlePayout(deps: StepDeps, payoutId: string): Promise<StepResult> {
  const payout = await loadPayout(deps, payoutId);
  if (payout.psp_payout_id && (payout.status === 'IN_TRANSIT' || payout.status === 'PAID')) {
    const psp = await deps.psp.retrievePayout(payout.psp_account_id, payout.psp_payout_id);
    return result(await applyPspPayout(deps, payout, psp));
  }
  if ((payout.status === 'FAILED' || payout.status === 'CANCELED') && payout.transfer_id && !payout.reversal_done) {
    await failAfterTransfer(deps, payout, payout.status, payout.failure_code ?? 'could_not_process');
    return result(await loadPayout(deps, payoutId));
  }
  return result(payout);
}
