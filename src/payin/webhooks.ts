/**
 * PSP webhook events, after their signature was verified and they were queued: applied exactly once per event id.
 * Event data may be stale (Stripe redelivers for days, in no order), so the PaymentIntent is re-read from the PSP
 * and only its current state is applied; the transition table keeps a settled payment where it is.
 *
 * Most events change nothing and cost next to nothing: an event that settles no payment of ours is not read or
 * written at all, and the PSP's echo of the answer it gave our own charge call (the ordinary payment: its
 * `payment_intent.*` events arrive after the charge step recorded the success) costs one read of the payment and
 * no write. Every other event is logged as applied (once per event id) and told on the payment's timeline.
 */
import { logger } from '../core/observability';
import { recordTimeline } from '../core/timeline';
import { isPaymentEvent, type PspEvent, paymentEventRouting } from '../psp/events';
import { type PendingDeps, settle } from './pending';

/**
 * Events that settle nothing: an intent we created ourselves, announced. Whatever becomes of it later has an event
 * of its own (succeeded, failed, canceled), so nothing is lost by not reading the payment for this one.
 */
const ANNOUNCES_ONLY = new Set(['payment_intent.created']);

export async function applyPspEvent(deps: PendingDeps, event: PspEvent): Promise<string> {
  const { paymentId, pspReference } = paymentEventRouting(event);
  const facts = { event_id: event.id, type: event.type, payment_id: paymentId };
  if (!isPaymentEvent(event) || ANNOUNCES_ONLY.has(event.type) || !paymentId || !pspReference) {
    logger.info('PSP event ignored: it settles no payment', facts);
    return 'ignored';
  }
  const current = await deps.payments.getEvent(paymentId);
  if (!current) {
    // An event about no payment of ours leaves nothing on a timeline.
    logger.info('PSP event ignored: no such payment', facts);
    return 'ignored';
  }
  if (current.outcome_from === 'charge_response') {
    // Charged by the PSP's answer to our charge call: whatever the PSP says of it now is the same success (a
    // succeeded PaymentIntent never changes state), so there is nothing to apply, re-read or remember.
    logger.info('PSP event skipped: the payment was charged by the answer to our charge call', facts);
    return 'already_settled';
  }
  if (await deps.payments.webhookSeen(event.id)) {
    await received(paymentId, event, 'duplicate');
    return 'duplicate';
  }
  const result = await settle(deps, paymentId, await deps.psp.retrieve(pspReference));
  const first = await deps.payments.recordWebhook(event.id, { type: event.type, payment_id: paymentId, result });
  logger.info('PSP event applied', { ...facts, result, first });
  await received(paymentId, event, first ? result : 'duplicate');
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
