/** The PSP adapter over the real stripe SDK (Stripe on AWS, the PSP simulator locally). */
import type Stripe from 'stripe';
import { InconsistentStateError, PspOutcomeUnknownError, PspTransientError } from '../core/errors';
import type {
  ChargeRequest,
  ChargeResult,
  HostedPayment,
  HostedPaymentRequest,
  NextAction,
  Psp,
  PspChargeState,
} from './types';

type StripeError = Error & {
  type?: string;
  code?: string;
  decline_code?: string;
  statusCode?: number;
  raw?: { payment_intent?: { id?: string } };
};

/** `code[:decline_code]`, e.g. `card_declined:insufficient_funds` (Stripe repeats `expired_card` in both). */
function declineReason(
  error: { code?: string | null; decline_code?: string | null },
  fallback = 'card_declined',
): string {
  const parts = [error.code, error.decline_code].filter((part): part is string => Boolean(part));
  return [...new Set(parts)].join(':') || fallback;
}

function isTransient(error: StripeError): boolean {
  return (
    error.statusCode === 409 ||
    error.type === 'StripeConnectionError' ||
    error.type === 'StripeAPIError' ||
    error.type === 'StripeRateLimitError' ||
    (error.statusCode !== undefined && error.statusCode >= 500)
  );
}

/**
 * Runs a PSP call, turning transient failures into PspTransientError (retried by the workflow). For a `create`
 * (a new payment, a hosted page), a 500 is an unknown outcome (PspOutcomeUnknownError), never retried blindly.
 */
export async function ask<T>(call: () => Promise<T>, kind: 'create' | 'other' = 'other'): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (kind === 'create' && isOutcomeUnknown(error as StripeError)) {
      throw new PspOutcomeUnknownError(`PSP outcome unknown (500): ${(error as Error).message}`, { cause: error });
    }
    if (isTransient(error as StripeError)) {
      throw new PspTransientError(`PSP unavailable: ${(error as Error).message}`, { cause: error });
    }
    throw error;
  }
}

export function chargeState(intent: Stripe.PaymentIntent): PspChargeState {
  const pending = ['processing', 'requires_action', 'requires_capture', 'requires_confirmation'];
  const failedAttempt = intent.status === 'requires_payment_method' && intent.last_payment_error;
  const state =
    intent.status === 'succeeded'
      ? 'succeeded'
      : intent.status === 'canceled' || failedAttempt
        ? 'failed'
        : pending.includes(intent.status) || intent.status === 'requires_payment_method'
          ? 'pending'
          : 'failed';
  return {
    pspReference: intent.id,
    state,
    amountMinor: intent.amount,
    currency: intent.currency.toUpperCase(),
    reason:
      state === 'failed'
        ? intent.status === 'canceled'
          ? `canceled:${intent.cancellation_reason ?? 'requested'}`
          : declineReason(intent.last_payment_error ?? {}, intent.status)
        : undefined,
  };
}

/** What the buyer must do: a URL to visit, or (no URL) the PSP's client SDK with the intent's client secret. */
export function nextAction(intent: Stripe.PaymentIntent): NextAction | undefined {
  const url = intent.next_action?.redirect_to_url?.url;
  if (url) return { type: 'redirect_to_url', redirect_url: url };
  if (intent.next_action?.type === 'use_stripe_sdk' && intent.client_secret) {
    return { type: 'use_stripe_sdk', client_secret: intent.client_secret };
  }
  return undefined;
}

/**
 * A create the PSP answered with a 500 has an outcome we cannot know: Stripe stores that 500 under the idempotency
 * key and replays it, so a retry learns nothing. 502/503/504 come from in front of the PSP (not stored): retried.
 */
function isOutcomeUnknown(error: StripeError): boolean {
  return error.statusCode === 500;
}

export class StripePsp implements Psp {
  constructor(private readonly stripe: () => Promise<Stripe>) {}

  async charge(request: ChargeRequest): Promise<ChargeResult> {
    const stripe = await this.stripe();
    let intent: Stripe.PaymentIntent;
    try {
      intent = await stripe.paymentIntents.create(
        {
          amount: request.amountMinor,
          currency: request.currency.toLowerCase(),
          payment_method: request.paymentMethod,
          confirm: true,
          // Cards only: a bank debit could stay processing for days, past our deadline, and other methods have next
          // actions we do not pass on. 3-D Secure may redirect the buyer: with a return URL the PSP sends them back
          // to it; without one a 3-D Secure card answers use_stripe_sdk (no URL). (`payment_method_types` is no
          // longer writable on current API versions.)
          allowed_payment_method_types: ['card'],
          ...(request.returnUrl ? { return_url: request.returnUrl } : {}),
          metadata: request.metadata,
          description: request.description,
        },
        { idempotencyKey: request.idempotencyKey },
      );
    } catch (error) {
      const stripeError = error as StripeError;
      if (stripeError.type === 'StripeCardError') {
        return {
          outcome: 'DECLINED',
          pspReference: stripeError.raw?.payment_intent?.id,
          reason: declineReason(stripeError),
        };
      }
      if (stripeError.type === 'StripeInvalidRequestError' && stripeError.statusCode === 400) {
        // The PSP refused the request itself (e.g. an amount it does not take): nothing was charged.
        const param = (error as { param?: string }).param;
        return {
          outcome: 'DECLINED',
          reason: ['psp_refused', stripeError.code ?? 'invalid_request', param].filter(Boolean).join(':'),
        };
      }
      if (isOutcomeUnknown(stripeError)) {
        throw new PspOutcomeUnknownError(`PSP outcome unknown (500): ${stripeError.message}`, { cause: error });
      }
      if (stripeError.type === 'StripeIdempotencyError') {
        // Our key was used with other parameters: a bug or a manual change; a charge may exist. Never guess.
        throw new InconsistentStateError(`PSP idempotency conflict: ${stripeError.message}`, { cause: error });
      }
      if (isTransient(stripeError)) {
        throw new PspTransientError(`PSP unavailable: ${stripeError.message}`, { cause: error });
      }
      throw error;
    }
    switch (intent.status) {
      case 'succeeded':
        return { outcome: 'SUCCEEDED', pspReference: intent.id };
      case 'processing':
      case 'requires_action':
        return { outcome: 'PENDING', pspReference: intent.id, status: intent.status, nextAction: nextAction(intent) };
      case 'requires_payment_method':
      case 'canceled':
        return {
          outcome: 'DECLINED',
          pspReference: intent.id,
          reason: declineReason(intent.last_payment_error ?? {}, intent.status),
        };
      default:
        throw new InconsistentStateError(`unexpected PaymentIntent status ${intent.status} for ${intent.id}`);
    }
  }

  async registerHostedPayment(request: HostedPaymentRequest): Promise<HostedPayment> {
    const stripe = await this.stripe();
    const separator = request.returnUrl.includes('?') ? '&' : '?';
    const session = await ask(
      () =>
        stripe.checkout.sessions.create(
          {
            mode: 'payment',
            // Cards only, as for token payments: a voucher or bank debit could stay open past our deadline.
            allowed_payment_method_types: ['card'],
            client_reference_id: request.paymentId,
            line_items: [
              {
                quantity: 1,
                price_data: {
                  currency: request.currency.toLowerCase(),
                  unit_amount: request.amountMinor,
                  product_data: { name: `Payment ${request.paymentId}` },
                },
              },
            ],
            success_url: `${request.returnUrl}${separator}payment_id=${request.paymentId}&session_id={CHECKOUT_SESSION_ID}`,
            cancel_url: `${request.returnUrl}${separator}payment_id=${request.paymentId}&status=canceled`,
            metadata: request.metadata,
            payment_intent_data: { metadata: request.metadata },
            expires_at: request.expiresAt,
          },
          { idempotencyKey: request.idempotencyKey },
        ),
      'create',
    );
    if (!session.url) throw new InconsistentStateError(`checkout session ${session.id} has no URL`);
    // Stripe creates the session's PaymentIntent only when the buyer pays: until then the session is our reference.
    const intent = typeof session.payment_intent === 'string' ? session.payment_intent : session.payment_intent?.id;
    return { sessionId: session.id, pspReference: intent ?? session.id, redirectUrl: session.url };
  }

  /**
   * Every PaymentIntent for our payment id: by search, and, when the search finds none and a creation window is
   * given, confirmed by listing the intents created since then (the list has no indexing delay; the search lags
   * writes, by up to an hour in an outage, so its "none" alone is never proof).
   */
  async findCharges(paymentId: string, window?: { createdFrom: number }): Promise<PspChargeState[]> {
    const stripe = await this.stripe();
    return ask(async () => {
      const found: PspChargeState[] = [];
      // Our payment ids are [a-z0-9_] only, so they need no escaping in the query.
      for await (const intent of stripe.paymentIntents.search({
        query: `metadata['payment_id']:'${paymentId}'`,
        limit: 100,
      })) {
        found.push(chargeState(intent));
      }
      if (found.length > 0 || !window) return found;
      for await (const intent of stripe.paymentIntents.list({ created: { gte: window.createdFrom }, limit: 100 })) {
        if (intent.metadata?.payment_id === paymentId) found.push(chargeState(intent));
      }
      return found;
    });
  }

  async retrieve(pspReference: string): Promise<PspChargeState> {
    const stripe = await this.stripe();
    if (pspReference.startsWith('cs_')) return this.sessionState(pspReference);
    return chargeState(await ask(() => stripe.paymentIntents.retrieve(pspReference)));
  }

  /** A hosted page's state: its PaymentIntent's once there is one, else open (pending) or expired (failed). */
  private async sessionState(sessionId: string): Promise<PspChargeState> {
    const stripe = await this.stripe();
    const session = await ask(() => stripe.checkout.sessions.retrieve(sessionId, { expand: ['payment_intent'] }));
    const intent = session.payment_intent;
    if (intent && typeof intent !== 'string') {
      const state = chargeState(intent);
      // An expired page whose intent is still open cannot be paid any more.
      return session.status === 'expired' && state.state === 'pending'
        ? { ...state, state: 'failed', reason: 'expired' }
        : state;
    }
    return {
      pspReference: typeof intent === 'string' ? intent : session.id,
      state: session.status === 'expired' ? 'failed' : 'pending',
      amountMinor: session.amount_total ?? 0,
      currency: (session.currency ?? '').toUpperCase(),
      reason: session.status === 'expired' ? 'expired' : undefined,
    };
  }

  async stopPending(
    pspReference: string,
    sessionId: string | undefined,
    idempotencyKey: string,
  ): Promise<PspChargeState> {
    const stripe = await this.stripe();
    try {
      if (sessionId) {
        // Expiring the hosted page cancels its PaymentIntent: the buyer can no longer pay.
        await ask(() => stripe.checkout.sessions.expire(sessionId, {}, { idempotencyKey }));
      } else {
        await ask(() => stripe.paymentIntents.cancel(pspReference, {}, { idempotencyKey }));
      }
    } catch (error) {
      // Already paid (or already stopped): the PSP refuses; its current state is the answer.
      if ((error as StripeError).type !== 'StripeInvalidRequestError') throw error;
    }
    return sessionId ? this.sessionState(sessionId) : this.retrieve(pspReference);
  }
}
