/**
 * PSP webhook events, after their signature was verified and they were queued: applied exactly once per event id.
 * Event data may be stale (Stripe redelivers for days, in no order), so the PaymentIntent is re-read from the PSP
 * and only its current state is applied; the transition table keeps a settled payment where it is.
 */
import { logger } from '../core/observability';
import { isPaymentEvent, type PspEvent, paymentEventRouting } from '../psp/events';
import { type PendingDeps, settle } from './pending';

export async function applyPspEvent(deps: PendingDeps, event: PspEvent): Promise<string> {
  if (await deps.payments.webhookSeen(event.id)) return 'duplicate';
  const { paymentId, pspReference } = paymentEventRouting(event);
  let result = 'ignored';
  if (isPaymentEvent(event) && paymentId && pspReference && (await deps.payments.get(paymentId))) {
    result = await settle(deps, paymentId, await deps.psp.retrieve(pspReference));
  }
  const first = await deps.payments.recordWebhook(event.id, { type: event.type, payment_id: paymentId, result });
  logger.info('PSP event applied', { event_id: event.id, type: event.type, payment_id: paymentId, result, first });
  return first ? result : 'duplicate';
}
