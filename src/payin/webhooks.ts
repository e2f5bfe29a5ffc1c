/**
 * PSP webhook events, after their signature was verified and they were queued: applied exactly once per event id.
 * Event data may be stale (Stripe redelivers for days, in no order), so the PaymentIntent is re-read from the PSP
 * and only its current state is applied; the transition table keeps a settled payment where it is.
 */
import { logger } from '../core/observability';
import { recordTimeline } from '../core/timeline';
import { isPaymentEvent, type PspEvent, paymentEventRouting } from '../psp/events';
import { type PendingDeps, settle } from './pending';

export async function applyPspEvent(deps: PendingDeps, event: PspEvent): Promise<string> {
  const { paymentId, pspReference } = paymentEventRouting(event);
  if (await deps.payments.webhookSeen(event.id)) {
    if (paymentId) await received(paymentId, event, 'duplicate');
    return 'duplicate';
  }
  let result = 'ignored';
  if (isPaymentEvent(event) && paymentId && pspReference && (await deps.payments.get(paymentId))) {
    result = await settle(deps, paymentId, await deps.psp.retrieve(pspReference));
  }
  const first = await deps.payments.recordWebhook(event.id, { type: event.type, payment_id: paymentId, result });
  logger.info('PSP event applied', { event_id: event.id, type: event.type, payment_id: paymentId, result, first });
  // An event about no payment of ours leaves nothing on a timeline.
  if (paymentId && result !== 'ignored') await received(paymentId, event, first ? result : 'duplicate');
  return first ? result : 'duplicate';
}

/** What became of a webhook event, in the payment's words. */
const WEBHOOK_RESULTS: Record<string, string> = {
  duplicate: 'skipped: a duplicate of an event already applied',
  already_settled: 'skipped: stale, the payment was already charged or ended',
  pending: 'applied: the PSP still has it pending',
  succeeded: 'applied: the payment is charged',
  failed: 'applied: the payment failed',
  ignored: 'ignored: not an event that settles a payment',
};

function received(paymentId: string, event: PspEvent, result: string) {
  return recordTimeline({
    payment_id: paymentId,
    source: 'webhook',
    type:
      result === 'duplicate' || result === 'already_settled'
        ? 'webhook.skipped'
        : result === 'ignored'
          ? 'webhook.ignored'
          : 'webhook.applied',
    summary: `${event.type} ${WEBHOOK_RESULTS[result] ?? result}`,
    ids: { webhook_event_id: event.id },
    detail: { result, event_type: event.type },
  });
}
