/**
 * PSP webhook events, after their signature was verified and they were queued: applied exactly once per event id.
 * Event data may be stale (Stripe redelivers for days, in no order), so the PaymentIntent is re-read from the PSP
 * and only its current state is applied; the transition table keeps a settled payment where it is.
 */
import { logger } from '../adapters/observability';
import { type PendingDeps, settle } from './pending';

/** The part of a Stripe event we read. */
export interface PspEvent {
  id: string;
  type: string;
  data: {
    object: {
      id: string;
      object: string;
      metadata?: Record<string, string> | null;
      client_reference_id?: string | null;
      payment_intent?: string | { id: string } | null;
    };
  };
}

const RELEVANT = /^(payment_intent|checkout\.session)\./;

export async function applyPspEvent(deps: PendingDeps, event: PspEvent): Promise<string> {
  if (await deps.payments.webhookSeen(event.id)) return 'duplicate';
  const object = event.data.object;
  const paymentId = object.metadata?.payment_id ?? object.client_reference_id ?? undefined;
  // A hosted page's events name the session (its PaymentIntent may not exist yet); the PSP adapter reads either.
  const pspReference =
    object.object === 'payment_intent' || object.object === 'checkout.session' ? object.id : undefined;
  let result = 'ignored';
  if (RELEVANT.test(event.type) && paymentId && pspReference && (await deps.payments.get(paymentId))) {
    result = await settle(deps, paymentId, await deps.psp.retrieve(pspReference));
  }
  const first = await deps.payments.recordWebhook(event.id, { type: event.type, payment_id: paymentId, result });
  logger.info('PSP event applied', { event_id: event.id, type: event.type, payment_id: paymentId, result, first });
  return first ? result : 'duplicate';
}
