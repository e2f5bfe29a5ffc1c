/** PSP (Stripe) events: what we read of them, and which of our objects they concern. No SDK needed. */

/** The part of a Stripe event we read. */
export interface PspEvent {
  id: string;
  type: string;
  account?: string;
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

/** Our payment id and the PSP object an event is about (a PaymentIntent or a hosted page), when it names them. */
export function paymentEventRouting(event: PspEvent): { paymentId?: string; pspReference?: string } {
  const object = event.data.object;
  const paymentId = object.metadata?.payment_id ?? object.client_reference_id ?? undefined;
  // A hosted page's events name the session (its PaymentIntent may not exist yet); the PSP adapter reads either.
  const pspReference =
    object.object === 'payment_intent' || object.object === 'checkout.session' ? object.id : undefined;
  return { paymentId, pspReference };
}

/** Event types that may change a pay-in. */
export const isPaymentEvent = (event: PspEvent) => /^(payment_intent|checkout\.session)\./.test(event.type);
