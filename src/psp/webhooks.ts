/**
 * PSP webhooks: signature verification. The `Stripe-Signature` header is checked strictly first (its grammar, one
 * timestamp of digits only, within 300 s of now in EITHER direction): the stripe SDK reads the timestamp with
 * parseInt (so `t=123x` passed as 123) and refuses only stale timestamps, not future ones. The HMAC over the raw body
 * is then verified with the SDK's `constructEvent` (same tolerance).
 */

import Stripe from 'stripe';
import { ConfigError } from '../core/config';
import { pspWebhookSecret } from './client';
import type { PspEvent } from './events';

export const WEBHOOK_TOLERANCE_SECONDS = 300;
/** Far more than Stripe sends (a timestamp and a few signatures while a secret is rolled). */
export const MAX_SIGNATURE_HEADER_LENGTH = 2048;

/** A webhook whose signature is missing, malformed, forged, stale or from the future, or whose body was altered. */
export class InvalidWebhookSignatureError extends Error {
  override readonly name = 'InvalidWebhookSignatureError';
}

const ELEMENT = /^(t|v[0-9]+)=([^\s,=]+)$/;
const TIMESTAMP = /^[0-9]{1,12}$/;
const HMAC_SHA256 = /^[0-9a-f]{64}$/;
const OTHER_SIGNATURE = /^[0-9A-Za-z+/_-]{1,512}$/;

/**
 * Checks the grammar and the timestamp of a `Stripe-Signature` header (`t=<unix seconds>,v1=<hex>[,v1=...][,v0=...]`)
 * and returns its timestamp; throws InvalidWebhookSignatureError saying what is wrong. The signatures themselves are
 * verified by `verifyWebhook`.
 */
export function checkSignatureHeader(
  header: string | undefined,
  nowMs: number = Date.now(),
  toleranceSeconds: number = WEBHOOK_TOLERANCE_SECONDS,
): number {
  const refuse = (reason: string): never => {
    throw new InvalidWebhookSignatureError(reason);
  };
  if (header === undefined || header === '') return refuse('no Stripe-Signature header');
  if (header.length > MAX_SIGNATURE_HEADER_LENGTH) return refuse('the Stripe-Signature header is too long');
  const timestamps: string[] = [];
  let v1 = 0;
  for (const element of header.split(',')) {
    const match = ELEMENT.exec(element);
    if (!match) return refuse('the Stripe-Signature header is malformed: expected t=<timestamp>,v1=<signature>');
    const [, key, value = ''] = match;
    if (key === 't') timestamps.push(value);
    else if (key === 'v1') {
      if (!HMAC_SHA256.test(value)) return refuse('the Stripe-Signature header has a malformed v1 signature');
      v1++;
    } else if (!OTHER_SIGNATURE.test(value)) return refuse(`the Stripe-Signature header has a malformed ${key} value`);
  }
  if (timestamps.length !== 1) return refuse('the Stripe-Signature header must have exactly one timestamp (t=)');
  const [text = ''] = timestamps;
  if (!TIMESTAMP.test(text)) return refuse('the Stripe-Signature timestamp must be whole seconds, digits only');
  if (v1 === 0) return refuse('the Stripe-Signature header has no v1 signature');
  const timestamp = Number(text);
  const offset = timestamp - Math.floor(nowMs / 1000);
  if (offset > toleranceSeconds)
    return refuse('the Stripe-Signature timestamp is in the future (outside the tolerance)');
  if (-offset > toleranceSeconds) return refuse('the Stripe-Signature timestamp is too old (outside the tolerance)');
  return timestamp;
}

/** Verifies a webhook call and returns its event; throws InvalidWebhookSignatureError, or ConfigError. */
export async function verifyWebhook(
  rawBody: string,
  signature: string | undefined,
  nowMs: number = Date.now(),
): Promise<PspEvent> {
  checkSignatureHeader(signature, nowMs);
  const secret = await pspWebhookSecret();
  try {
    // The SDK's static helper: verifying a signature needs the webhook secret only, never the PSP's secret key, so
    // the public webhook function is not given that key.
    const event = Stripe.webhooks.constructEvent(
      rawBody,
      signature as string,
      secret,
      WEBHOOK_TOLERANCE_SECONDS,
      undefined,
      nowMs,
    );
    return event as unknown as PspEvent;
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new InvalidWebhookSignatureError((error as Error).message, { cause: error });
  }
}
