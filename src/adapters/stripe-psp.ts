/** The PSP adapter over the real stripe SDK (Stripe on AWS, the PSP simulator locally). */
import type Stripe from 'stripe';
import type { ChargeRequest, ChargeResult, Psp, PspChargeState } from '../payin/psp';
import { InconsistentStateError, PspTransientError } from './errors';

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

export class StripePsp implements Psp {
  constructor(private readonly stripe: () => Promise<Stripe>) {}

  async findCharges(paymentId: string): Promise<PspChargeState[]> {
    const stripe = await this.stripe();
    const found: PspChargeState[] = [];
    try {
      // Our payment ids are [a-z0-9_] only, so they need no escaping in the query.
      for await (const intent of stripe.paymentIntents.search({
        query: `metadata['payment_id']:'${paymentId}'`,
        limit: 100,
      })) {
        const state =
          intent.status === 'succeeded'
            ? 'succeeded'
            : intent.status === 'processing' ||
                intent.status === 'requires_action' ||
                intent.status === 'requires_capture'
              ? 'pending'
              : 'failed';
        found.push({
          pspReference: intent.id,
          state,
          amountMinor: intent.amount,
          currency: intent.currency.toUpperCase(),
        });
      }
    } catch (error) {
      if (isTransient(error as StripeError)) {
        throw new PspTransientError(`PSP unavailable: ${(error as Error).message}`, { cause: error });
      }
      throw error;
    }
    return found;
  }

  async charge(request: ChargeRequest): Promise<ChargeResult> {
    const stripe = await this.stripe();
    let intent: Stripe.PaymentIntent;
    try {
      intent = await stripe.paymentIntents.create(
        {
          amount: request.amountMinor,
          currency: request.currency.toLowerCase(),
          payment_method: request.paymentMethod,
          automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
          confirm: true,
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
        return { outcome: 'PENDING', pspReference: intent.id, status: intent.status };
      case 'requires_payment_method':
      case 'canceled': {
        return {
          outcome: 'DECLINED',
          pspReference: intent.id,
          reason: declineReason(intent.last_payment_error ?? {}, intent.status),
        };
      }
      default:
        throw new InconsistentStateError(`unexpected PaymentIntent status ${intent.status} for ${intent.id}`);
    }
  }
}
