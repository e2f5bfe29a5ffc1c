/**
 * Payout runs: every seller with payouts enabled gets one payout per currency whose available balance reaches the
 * currency's minimum. A run is one per UTC date; its payout ids are derived from seller, currency and date, so a
 * run started twice pays no one twice. The sellers are listed page by page and each page's sellers are queued
 * for the run's workers (no per-run ceiling: the queue fans out); counts are kept on the run as they go.
 */
import { logger } from '../core/observability';
import { AmountAboveAvailableError, PayoutsDisabledError, RunInProgressError } from './errors';
import { releaseAvailableFunds } from './funds';
import { runIdFor, runPayoutId } from './payout';
import type { PayoutDeps, PayoutRun, RunQueue, RunRef } from './ports';
import { requestPayout } from './request-payout';
import { payoutBlocker } from './seller';

export type RunDeps = PayoutDeps & { queue: RunQueue };

/**
 * A running run not updated for this long has stopped (its messages dead-lettered after their retries): it may be
 * started again. Every seller's step updates it, so a live run never looks stale.
 */
export const RUN_STALE_AFTER_SECONDS = 900;

/** Sellers listed per page (one message per page; their sellers go out in messages of at most 10). */
export const RUN_PAGE_SIZE = 100;
const SELLERS_PER_MESSAGE = 10;

const ref = (run: PayoutRun): RunRef => ({ run_id: run.run_id, date: run.date, attempt: run.attempt });

/** Starts the run of a date; RunInProgressError when it is running; a completed one starts again (no one paid twice). */
export async function startRun(deps: Pick<RunDeps, 'payouts' | 'queue'>, date: string, now = new Date()) {
  const runId = runIdFor(date);
  const at = now.toISOString();
  const run: PayoutRun = {
    run_id: runId,
    date,
    status: 'RUNNING',
    attempt: 1,
    pages_listed: 0,
    listing_done: false,
    sellers_listed: 0,
    sellers_done: 0,
    payouts_created: 0,
    payouts_existing: 0,
    sellers_skipped: 0,
    amount_by_currency: {},
    started_at: at,
    updated_at: at,
  };
  if (!(await deps.payouts.createRun(run))) {
    const staleBefore = new Date(now.getTime() - RUN_STALE_AFTER_SECONDS * 1000).toISOString();
    if (!(await deps.payouts.restartRun(runId, at, staleBefore))) {
      throw new RunInProgressError(`the payout run of ${date} is running`);
    }
  }
  const started = (await deps.payouts.getRun(runId)) as PayoutRun;
  await deps.queue.sendPage(ref(started), undefined);
  logger.info('payout run started', { run_id: runId, attempt: started.attempt });
  return started;
}

/**
 * Lists one page of sellers, counts it (once per page and attempt), then queues its sellers and the next page. Counted
 * before queuing, so a worker that dies between the two never lets the last page complete the run early; a
 * redelivered page is not counted again but queues again (each seller is paid once: payout ids are derived).
 */
export async function runPage(deps: RunDeps, run: RunRef, startKey: string | undefined): Promise<void> {
  const page = await deps.sellers.page(startKey, RUN_PAGE_SIZE);
  const ids = page.sellers.map((s) => s.seller_account);
  if (await deps.payouts.markOnce(`${run.run_id}#${run.attempt}#page#${startKey ?? ''}`)) {
    await deps.payouts.addRunCounts(run.run_id, run.attempt, { pages_listed: 1, sellers_listed: ids.length });
    if (!page.next) await deps.payouts.setRunListingDone(run.run_id, run.attempt);
  }
  for (let i = 0; i < ids.length; i += SELLERS_PER_MESSAGE) {
    await deps.queue.sendSellers(run, ids.slice(i, i + SELLERS_PER_MESSAGE));
  }
  if (page.next) await deps.queue.sendPage(run, page.next);
  await deps.payouts.completeRun(run.run_id, new Date().toISOString());
}

export interface SellerOutcome {
  created: number;
  existing: number;
  skipped?: string;
}

/** One seller of a run: its funds checked at the PSP, then one payout per currency at or above the minimum. */
export async function runSeller(deps: RunDeps, run: RunRef, sellerAccount: string): Promise<SellerOutcome> {
  const outcome: SellerOutcome = { created: 0, existing: 0 };
  const amounts: { currency: string; amount_minor: number }[] = [];
  const seller = await deps.sellers.get(sellerAccount);
  const blocker = seller ? payoutBlocker(seller) : 'the seller does not exist';
  if (blocker) {
    outcome.skipped = blocker;
  } else {
    await releaseAvailableFunds(deps, { seller_account: sellerAccount });
    for (const balance of await deps.wallets.balances(sellerAccount)) {
      const minimum = Math.max(1, deps.settings.minimumsMinor[balance.currency] ?? 1);
      const payoutId = runPayoutId(sellerAccount, balance.currency, run.date);
      if (balance.available_minor < minimum && !(await deps.payouts.get(payoutId))) continue;
      try {
        const made = await requestPayout(deps, {
          payout_id: payoutId,
          seller_account: sellerAccount,
          currency: balance.currency,
          trigger: 'run',
          run_id: run.run_id,
        });
        if (made.created) {
          outcome.created += 1;
          amounts.push({ currency: balance.currency, amount_minor: made.payout.amount_minor });
        } else outcome.existing += 1;
      } catch (error) {
        // The money moved meanwhile, or the seller was paused: nothing paid, the next run tries again.
        if (error instanceof AmountAboveAvailableError || error instanceof PayoutsDisabledError) {
          outcome.skipped = error.message;
          continue;
        }
        throw error;
      }
    }
  }
  if (await deps.payouts.markOnce(`${run.run_id}#${run.attempt}#seller#${sellerAccount}`)) {
    await deps.payouts.addRunCounts(run.run_id, run.attempt, {
      sellers_done: 1,
      payouts_created: outcome.created,
      payouts_existing: outcome.existing,
      sellers_skipped: outcome.skipped && outcome.created === 0 && outcome.existing === 0 ? 1 : 0,
    });
    for (const amount of amounts) await deps.payouts.addRunCounts(run.run_id, run.attempt, {}, amount);
    await deps.payouts.completeRun(run.run_id, new Date().toISOString());
  }
  return outcome;
}

/** Today's date (UTC), the default date of a run. */
export const utcDate = (now = new Date()) => now.toISOString().slice(0, 10);
