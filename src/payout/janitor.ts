/**
 * The pay-out's janitor: every open payout left unchanged for a while (a crash, a lost webhook, a PSP 500, a
 * stack killed mid-run) is driven on by the same steps the workflow runs; an UNKNOWN one is settled from the
 * PSP's own record (its transfers by transfer_group, the account's payouts by our id), never guessed.
 */
import { InconsistentStateError } from '../core/errors';
import { logger } from '../core/observability';
import { releaseAvailableFunds } from './funds';
import type { Payout } from './payout';
import type { PayoutDeps } from './ports';
import {
  applyPspPayout,
  bookTransfer,
  failAfterTransfer,
  refuseTransfer,
  type StepDeps,
  sendPayout,
  settlePayout,
  transfer,
} from './steps';

export type JanitorDeps = StepDeps & Pick<PayoutDeps, 'settings'>;

export interface PayoutJanitorReport {
  examined: number;
  advanced: number;
  needPerson: string[];
  /** Pending funds checked at the PSP, and made available (the fallback when `balance.available` was lost). */
  fundsChecked: number;
  fundsReleased: number;
}

/** Pending credits the janitor checks per run, oldest first (the webhook and the runs check the rest). */
export const JANITOR_FUNDS_PER_RUN = 200;

export async function runPayoutJanitor(deps: JanitorDeps, now = new Date(), limit = 100): Promise<PayoutJanitorReport> {
  const before = new Date(now.getTime() - deps.settings.staleAfterSeconds * 1000).toISOString();
  const open = await deps.payouts.openSince(before, limit);
  const report: PayoutJanitorReport = {
    examined: open.length,
    advanced: 0,
    needPerson: [],
    fundsChecked: 0,
    fundsReleased: 0,
  };
  for (const payout of open) {
    try {
      const after = await recoverPayout(deps, payout, now);
      if (after !== payout.status) report.advanced += 1;
    } catch (error) {
      if (error instanceof InconsistentStateError) {
        report.needPerson.push(payout.payout_id);
        logger.error('payout needs a person', { payout_id: payout.payout_id, error });
        continue;
      }
      logger.warn('payout recovery failed; retried on the next run', { payout_id: payout.payout_id, error });
    }
  }
  try {
    const funds = await releaseAvailableFunds(deps, { limit: JANITOR_FUNDS_PER_RUN });
    report.fundsChecked = funds.checked;
    report.fundsReleased = funds.released;
  } catch (error) {
    logger.warn('pending funds check failed; retried on the next run', { error });
  }
  return report;
}

/** Drives one payout as far as it can go now; returns its status after. */
export async function recoverPayout(deps: JanitorDeps, payout: Payout, now = new Date()): Promise<string> {
  const id = payout.payout_id;
  switch (payout.status) {
    case 'RESERVED':
    case 'TRANSFERRED':
      // The PSP's record first: a create repeated long after the first (the PSP keeps idempotency keys about a day)
      // would make a second transfer or payout; found, the payout goes on from what the PSP holds.
      if (!(await adoptFromRecord(deps, payout))) {
        if (payout.status === 'RESERVED') await transfer(deps, id);
        await sendPayout(deps, id);
      }
      break;
    case 'IN_TRANSIT':
    case 'PAID':
    case 'FAILED':
    case 'CANCELED':
      await settlePayout(deps, id);
      break;
    case 'UNKNOWN':
      await settleUnknown(deps, payout, now);
      break;
  }
  const after = (await deps.payouts.get(id)) ?? payout;
  // Nothing changed (still on its way, still watched): to the back of the queue, so every open payout gets its turn.
  if (after.updated_at === payout.updated_at) await deps.payouts.setFields(id, {});
  return after.status;
}

/** Takes a transfer or payout the PSP holds for this payout (and we did not record) as ours; true when found. */
async function adoptFromRecord(deps: JanitorDeps, payout: Payout): Promise<boolean> {
  if (payout.status === 'RESERVED') {
    const [made, ...more] = await deps.psp.findTransfers(payout.payout_id);
    if (more.length > 0)
      throw new InconsistentStateError(`payout ${payout.payout_id}: ${more.length + 1} PSP transfers`);
    if (!made) return false;
    await deps.payouts.move(payout, 'TRANSFERRED', { transfer_id: made.transferId }, ['RESERVED']);
    const current = await deps.payouts.get(payout.payout_id);
    if (current?.transfer_id) await bookTransfer(deps, current);
    await sendPayout(deps, payout.payout_id);
    return true;
  }
  const createdFrom = Math.floor(Date.parse(payout.created_at) / 1000) - 3600;
  const [psp, ...more] = await deps.psp.findPayouts(payout.psp_account_id, payout.payout_id, createdFrom);
  if (more.length > 0) throw new InconsistentStateError(`payout ${payout.payout_id}: ${more.length + 1} PSP payouts`);
  if (!psp) return false;
  await deps.payouts.move(payout, 'IN_TRANSIT', { psp_payout_id: psp.payoutId }, ['TRANSFERRED']);
  const current = await deps.payouts.get(payout.payout_id);
  if (current) await applyPspPayout(deps, current, psp);
  return true;
}

/** The PSP's record decides: found, the payout goes on; not found once lists have caught up, nothing was moved. */
async function settleUnknown(deps: JanitorDeps, payout: Payout, now: Date) {
  const settled =
    now.getTime() - Date.parse(payout.unknown_since ?? payout.updated_at) >= deps.settings.pspListLagSeconds * 1000;
  if (payout.unknown_stage === 'payout') {
    const createdFrom = Math.floor(Date.parse(payout.created_at) / 1000) - 3600;
    const found = await deps.psp.findPayouts(payout.psp_account_id, payout.payout_id, createdFrom);
    if (found.length > 1) throw new InconsistentStateError(`payout ${payout.payout_id}: ${found.length} PSP payouts`);
    const [psp] = found;
    if (psp) {
      await deps.payouts.move(payout, 'IN_TRANSIT', { psp_payout_id: psp.payoutId, unknown_stage: undefined }, [
        'UNKNOWN',
      ]);
      const current = await deps.payouts.get(payout.payout_id);
      if (current) await applyPspPayout(deps, current, psp);
    } else if (settled) {
      // No payout was made: the money sits on the connected account; the transfer is undone.
      await failAfterTransfer(
        deps,
        payout,
        'FAILED',
        'psp_error',
        'The PSP failed the payout and holds no payout for it.',
      );
    }
    return;
  }
  const transfers = await deps.psp.findTransfers(payout.payout_id);
  if (transfers.length > 1)
    throw new InconsistentStateError(`payout ${payout.payout_id}: ${transfers.length} PSP transfers`);
  const [made] = transfers;
  if (made) {
    await deps.payouts.move(payout, 'TRANSFERRED', { transfer_id: made.transferId, unknown_stage: undefined }, [
      'UNKNOWN',
    ]);
    const current = await deps.payouts.get(payout.payout_id);
    if (current?.transfer_id) await bookTransfer(deps, current);
    await sendPayout(deps, payout.payout_id);
  } else if (settled) {
    await refuseTransfer(deps, payout, 'psp_error', 'The PSP failed the transfer and holds no transfer for it.');
  }
}
