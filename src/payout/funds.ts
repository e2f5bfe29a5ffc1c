/**
 * Funds become available when the PSP says so: for each pending credit, the PSP's balance transaction of the
 * payment that brought it (its `status`), never our own clock arithmetic. Run on the `balance.available` webhook
 * (every seller) and before each seller's payouts in a run.
 */
import { logger } from '../core/observability';
import type { PayoutDeps } from './ports';

export interface ReleaseCounts {
  checked: number;
  released: number;
  failed: number;
}

export async function releaseAvailableFunds(
  deps: Pick<PayoutDeps, 'wallets' | 'psp'>,
  filter: { seller_account?: string; currency?: string; limit?: number } = {},
): Promise<ReleaseCounts> {
  const pending = await deps.wallets.pendingFunds(filter);
  const counts: ReleaseCounts = { checked: 0, released: 0, failed: 0 };
  // One PSP payment may fund several sellers' credits: ask once per payment.
  const answers = new Map<string, Awaited<ReturnType<PayoutDeps['psp']['fundsAvailability']>>>();
  for (const funds of pending) {
    counts.checked += 1;
    try {
      const key = funds.psp_reference;
      if (!answers.has(key)) {
        answers.set(key, await deps.psp.fundsAvailability(funds.psp_reference, funds.balance_transaction));
      }
      const availability = answers.get(key);
      if (!availability) continue;
      if (!funds.balance_transaction) {
        await deps.wallets.rememberBalanceTransaction(funds.source_id, availability.balanceTransaction);
      }
      if (availability.available && (await deps.wallets.makeAvailable(funds.source_id))) counts.released += 1;
    } catch (error) {
      // One credit that cannot move (the PSP unreachable, a record changed by hand) never stops the others.
      counts.failed += 1;
      logger.error('pending funds could not be made available; tried again later', {
        source_id: funds.source_id,
        error,
      });
    }
  }
  if (counts.released > 0)
    logger.info('pending funds made available', { ...counts, seller_account: filter.seller_account });
  return counts;
}
