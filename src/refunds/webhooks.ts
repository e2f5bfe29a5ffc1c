/**
 * The PSP's refund and dispute events, verified and queued like the others: applied once per event id, always from
 * the PSP's current state (the refund or dispute is re-read), never the event's copy.
 */
import { logger } from '../core/observability';
import { pspEventFlow } from '../psp/event-flows';
import type { PspEvent } from '../psp/events';
import { applyDispute, type DisputeDeps } from './disputes';
import { applyPspRefund, type StepDeps } from './steps';

export const isRefundEvent = (event: Pick<PspEvent, 'type'>) => pspEventFlow(event.type) === 'refunds';

type Deps = StepDeps & DisputeDeps;

export async function applyRefundEvent(deps: Deps, event: PspEvent): Promise<string> {
  if (await deps.refunds.webhookSeen(event.id)) return 'duplicate';
  const object = event.data.object as PspEvent['data']['object'] & {
    refunds?: { data?: { id: string; metadata?: Record<string, string> }[] };
  };
  let result = 'ignored';
  if (event.type.startsWith('charge.dispute.') && object.id) {
    result = await applyDispute(deps, object.id);
  } else if (event.type === 'charge.refunded') {
    // The charge lists its refunds: each of ours is settled from the PSP's own refund.
    const applied: string[] = [];
    for (const item of object.refunds?.data ?? []) {
      const ours = item.metadata?.refund_id ? await deps.refunds.get(item.metadata.refund_id) : undefined;
      if (ours && (!ours.psp_refund_id || ours.psp_refund_id === item.id)) {
        applied.push((await applyPspRefund(deps, ours, await deps.psp.retrieveRefund(item.id))).status);
      }
    }
    result = applied.length > 0 ? `refunds ${applied.join(', ')}` : 'no refund of ours';
  } else if (object.id && (event.type.startsWith('refund.') || event.type.startsWith('charge.refund.'))) {
    const ours = object.metadata?.refund_id ? await deps.refunds.get(object.metadata.refund_id) : undefined;
    if (ours && (!ours.psp_refund_id || ours.psp_refund_id === object.id)) {
      result = `refund ${(await applyPspRefund(deps, ours, await deps.psp.retrieveRefund(object.id))).status}`;
    } else {
      result = 'not a refund of ours';
    }
  }
  const first = await deps.refunds.recordWebhook(event.id, { type: event.type, result });
  logger.info('PSP refund/dispute event applied', { event_id: event.id, type: event.type, result, first });
  return first ? result : 'duplicate';
}
