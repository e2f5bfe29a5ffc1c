/**
 * PSP webhooks: signature verification and the routing facts of an event. Verification uses the stripe SDK's
 * `constructEvent` (HMAC over the raw body, 300 s tolerance): `verifyHeader` alone defaults to no timestamp check.
 */
import { ConfigError } from '../core/config';
import { pspWebhookSecret, stripe } from './client';
import type { PspEvent } from './events';

export const WEBHOOK_TOLERANCE_SECONDS = 300;

/** A webhook whose signature is missing, forged, stale or whose body was altered. */
export class InvalidWebhookSignatureError extends Error {
  override readonly name = 'InvalidWebhookSignatureError';
}

/** Verifies a webhook call and returns its event; throws InvalidWebhookSignatureError, or ConfigError. */
export async function verifyWebhook(rawBody: string, signature: string | undefined): Promise<PspEvent> {
  const secret = await pspWebhookSecret();
  const client = await stripe();
  try {
    if (!signature) throw new Error('no Stripe-Signature header');
    return client.webhooks.constructEvent(rawBody, signature, secret, WEBHOOK_TOLERANCE_SECONDS) as unknown as PspEvent;
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new InvalidWebhookSignatureError((error as Error).message, { cause: error });
  }
}
