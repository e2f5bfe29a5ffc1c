/**
 * The pay-out's janitor: every open payout left unchanged for a while (a crash, a lost webhook, a PSP 500, a
 * stack killed mid-run) is driven on by the same steps the workflow runs; an UNKNOWN one is settled from the
 * PSP's own record (its transfers by transfer_group, the account's payouts by our id), never guessed.
 */
import { InconsistentStateError } from '../core/errors';
import { logger } from '../core/observability';
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
}

export async function runPayoutJanitor(deps: JanitorDeps, now = new Date(), limit = 100): Promise<PayoutJanitorReport> {
  const before = new Date(now.getTime() - deps.settings.staleAfterSeconds * 1000).toISOString();
  const open = await deps.payouts.openSince(before, limit);
  const report: PayoutJanitorReport = { examined: open.length, advanced: 0, needPerson: [] };
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
  return report;
}

/** Drives one payout as far as it can go now; returns its status after. */
export async function recoverPayout(deps: JanitorDeps, payout: Payout, now = new Date()): Promise<string> {
  const id = payout.payout_id;
  switch (payout.status) {
    case 'RESERVED':
      await transfer(deps, id);
      await sendPayout(deps, id);
      break;
    case 'TRANSFERRED':
      await sendPayout(deps, id);
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
  return ((await deps.payouts.get(id)) ?? payout).status;
}

/** The PSP's record decides: found, the payout goes on; not found once lists have caught up, nothing was moved. */
async function settleUnknown(deps: JanitorDeps, payout: Payout, now: Date) {
  const settled = now.getTime() - Date.parse(payout.updated_at) >= deps.settings.pspListLagSeconds * 1000;
  if (payout.unknown_stage === 'payout') {
    const createdFrom = Math.floor(Date.parse(payout.created_at) / 1000) - 3600;
    const found = await deps.psp.findPayouts(payout.psp_account_id, payout.payout_id, createdFrom);
    if (found.length > 1) throw new InconsistentStateError(`payout ${payout.payout_id}: ${found.length} PSP payouts`);
    const [psp] = found;
    if (psp) {
      await deps.payouts.move(payout, 'IN_TRANSIT', { psp_payout_id: psp.payoutId }, ['UNKNOWN']);
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
    await deps.payouts.move(payout, 'TRANSFERRED', { transfer_id: made.transferId }, ['UNKNOWN']);
    const current = await deps.payouts.get(payout.payout_id);
    if (current?.transfer_id) await bookTransfer(deps, current);
    await sendPayout(deps, payout.payout_id);
  } else if (settled) {
    await refuseTransfer(deps, payout, 'psp_error', 'The PSP failed the transfer and holds no transfer for it.');
  }
}
