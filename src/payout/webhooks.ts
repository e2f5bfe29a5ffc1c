/**
 * The PSP's Connect events, verified and queued like the pay-in's: applied once per event id, and always by
 * reading the PSP's current state (events arrive late, twice, in any order), never the event's copy.
 */
import { logger } from '../core/observability';
import { pspEventFlow } from '../psp/event-flows';
import type { PspEvent } from '../psp/events';
import { releaseAvailableFunds } from './funds';
import type { PayoutDeps } from './ports';
import { refreshAccount } from './sellers';
import { applyPspPayout, type StepDeps } from './steps';

export type ConnectEventDeps = StepDeps & Pick<PayoutDeps, 'settings'>;

/** Event types the pay-out acts on (others of the family are recorded and ignored). */
export const isConnectEvent = (event: Pick<PspEvent, 'type'>) => pspEventFlow(event.type) === 'payout';

/** How many pending credits one `balance.available` checks (the rest on the next event, run or janitor). */
const FUNDS_PER_EVENT = 2000;

export async function applyConnectEvent(deps: ConnectEventDeps, event: PspEvent): Promise<string> {
  if (await deps.payouts.webhookSeen(event.id)) return 'duplicate';
  const object = event.data.object;
  let result = 'ignored';
  let payoutId: string | undefined;
  if (event.type === 'account.updated' && object.id) {
    const seller = await refreshAccount(deps, object.id);
    result = seller ? `account refreshed (payouts_enabled: ${seller.payouts_enabled})` : 'unknown account';
  } else if (event.type === 'balance.available') {
    const counts = await releaseAvailableFunds(deps, { limit: FUNDS_PER_EVENT });
    result = `funds checked ${counts.checked}, released ${counts.released}`;
  } else if (event.type.startsWith('payout.') && object.id && event.account) {
    payoutId = object.metadata?.payout_id;
    const payout = payoutId ? await deps.payouts.get(payoutId) : undefined;
    // Only the PSP payout we recorded, on the account we paid: any other (one we never recorded) is the janitor's
    // to settle from the PSP's record.
    if (payout && payout.psp_payout_id === object.id && payout.psp_account_id === event.account) {
      const after = await applyPspPayout(deps, payout, await deps.psp.retrievePayout(event.account, object.id));
      result = `payout ${after.status}`;
    } else {
      result = payout ? 'not the PSP payout we recorded' : 'not our payout';
    }
  }
  const first = await deps.payouts.recordWebhook(event.id, { type: event.type, payout_id: payoutId, result });
  logger.info('PSP Connect event applied', {
    event_id: event.id,
    type: event.type,
    payout_id: payoutId,
    result,
    first,
  });
  return first ? result : 'duplicate';
}
