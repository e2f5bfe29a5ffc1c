// The root types of the contract: ts-json-schema-generator turns each exported `Contract_*` type below
// into a JSON Schema generated from the INSTALLED stripe package's declarations (stripe-schemas.ts). They
// are all spelled through the SDK's public `Stripe` namespace, so `npx tsc --noEmit` also fails, naming the
// type, when a stripe upgrade removes or renames one of them.
//
// Nothing imports this file at run time; it is the generator's entry point (and part of the cache key).

import type Stripe from 'stripe';

export type Contract_PaymentIntent = Stripe.PaymentIntent;
export type Contract_CheckoutSession = Stripe.Checkout.Session;
export type Contract_Charge = Stripe.Charge;
export type Contract_PaymentMethod = Stripe.PaymentMethod;

export type Contract_PaymentIntentList = Stripe.ApiList<Stripe.PaymentIntent>;
export type Contract_PaymentIntentSearchResult = Stripe.ApiSearchResult<Stripe.PaymentIntent>;
export type Contract_CheckoutSessionList = Stripe.ApiList<Stripe.Checkout.Session>;
export type Contract_ChargeList = Stripe.ApiList<Stripe.Charge>;

// `Stripe.Event` is a union of ~250 event interfaces that reaches nearly every object of the API; a schema
// of it would be huge. An event list is checked as a list of `EventBase` (its `type` must be one of
// Stripe's event types), then each event against the interface of its type from `Contract_Events`.
export type Contract_EventList = Stripe.ApiList<Stripe.EventBase>;
export type Contract_EventBase = Stripe.EventBase;

/**
 * The event types whose `data.object` the contract checks, keyed by `type`. The simulator emits the
 * payment_intent.* and checkout.session.* ones; the charge.* ones are here for when it emits those. An event
 * of a type missing here is reported as a contract gap (stripe-contract.test.ts).
 */
export interface Contract_Events {
  'payment_intent.amount_capturable_updated': Stripe.PaymentIntentAmountCapturableUpdatedEvent;
  'payment_intent.canceled': Stripe.PaymentIntentCanceledEvent;
  'payment_intent.created': Stripe.PaymentIntentCreatedEvent;
  'payment_intent.partially_funded': Stripe.PaymentIntentPartiallyFundedEvent;
  'payment_intent.payment_failed': Stripe.PaymentIntentPaymentFailedEvent;
  'payment_intent.processing': Stripe.PaymentIntentProcessingEvent;
  'payment_intent.requires_action': Stripe.PaymentIntentRequiresActionEvent;
  'payment_intent.succeeded': Stripe.PaymentIntentSucceededEvent;
  'checkout.session.async_payment_failed': Stripe.CheckoutSessionAsyncPaymentFailedEvent;
  'checkout.session.async_payment_succeeded': Stripe.CheckoutSessionAsyncPaymentSucceededEvent;
  'checkout.session.completed': Stripe.CheckoutSessionCompletedEvent;
  'checkout.session.expired': Stripe.CheckoutSessionExpiredEvent;
  'charge.captured': Stripe.ChargeCapturedEvent;
  'charge.expired': Stripe.ChargeExpiredEvent;
  'charge.failed': Stripe.ChargeFailedEvent;
  'charge.pending': Stripe.ChargePendingEvent;
  'charge.refunded': Stripe.ChargeRefundedEvent;
  'charge.succeeded': Stripe.ChargeSucceededEvent;
  'charge.updated': Stripe.ChargeUpdatedEvent;
}

/**
 * Stripe's v1 error body. `StripeRawError` also declares what the SDK adds on the client side after
 * parsing (the response's headers, status code and request id, the underlying exception): those are not
 * on the wire, so they are left out.
 */
export interface Contract_ErrorEnvelope {
  error: Omit<Stripe.StripeRawError, 'headers' | 'statusCode' | 'requestId' | 'detail' | 'exception'>;
}
