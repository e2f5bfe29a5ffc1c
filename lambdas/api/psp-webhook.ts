/**
 * POST /v1/webhooks/psp (no API key: the PSP signs its calls). The signature is verified on the raw body with the
 * stripe SDK (300 s tolerance); a missing, bad or stale signature or a tampered body gets 400 and nothing is stored.
 * A verified event is queued and acknowledged at once; the processor applies it.
 */
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { invalidHeader, json } from '../../src/api/http';
import { apiHandler } from '../../src/api/middleware';
import { runtimeConfig, sqs } from '../../src/core/clients';
import { ConfigError } from '../../src/core/config';
import { asRetryable } from '../../src/core/errors';
import { logger } from '../../src/core/observability';
import { InvalidWebhookSignatureError, verifyWebhook } from '../../src/psp/webhooks';

export const handler = apiHandler(async (event) => {
  const headers = event.headers ?? {};
  const signature = Object.entries(headers).find(([name]) => name.toLowerCase() === 'stripe-signature')?.[1];
  const raw = event.body
    ? event.isBase64Encoded
      ? Buffer.from(event.body, 'base64').toString('utf8')
      : event.body
    : '';
  let verified: { id: string; type: string };
  try {
    verified = await verifyWebhook(raw, signature);
  } catch (error) {
    if (!(error instanceof InvalidWebhookSignatureError)) throw error;
    // A security event: someone sent us an unsigned, forged, replayed or altered call. Nothing of it is kept.
    logger.warn('security: refused a PSP webhook with an invalid signature', {
      security_event: 'webhook_signature_invalid',
      reason: (error as Error).message,
      source_ip: event.requestContext?.identity?.sourceIp,
      body_bytes: raw.length,
    });
    throw invalidHeader('Stripe-Signature', 'the webhook signature could not be verified', {
      code: 'invalid_signature',
    });
  }
  const queueUrl = runtimeConfig().pspWebhookQueueUrl;
  if (!queueUrl) throw new ConfigError('PSP_WEBHOOK_QUEUE_URL is not set');
  await sqs()
    .send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: raw }))
    .catch((error) => {
      throw asRetryable(error);
    });
  logger.info('PSP webhook queued', { event_id: verified.id, type: verified.type });
  return json(200, { received: true });
});
