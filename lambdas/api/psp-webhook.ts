/**
 * POST /v1/webhooks/psp (no API key: the PSP signs its calls). The signature is verified on the raw body with the
 * stripe SDK (300 s tolerance); a missing, bad or stale signature, a tampered body or a Stripe-Signature header given
 * more than once (whatever the case of its names) gets 400 and nothing is stored. A verified event is queued, on the
 * queue of the flow that applies it (src/psp/event-flows.ts), and acknowledged at once; that flow's consumer applies it.
 */
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { invalidHeader, json } from '../../src/api/http';
import { apiHandler } from '../../src/api/middleware';
import { headerValues } from '../../src/api/request-guards';
import { runtimeConfig, sqs } from '../../src/core/clients';
import { ConfigError } from '../../src/core/config';
import { asRetryable } from '../../src/core/errors';
import { logger } from '../../src/core/observability';
import { type PspEventFlow, pspEventFlow } from '../../src/psp/event-flows';
import { InvalidWebhookSignatureError, verifyWebhook } from '../../src/psp/webhooks';

const SIGNATURE_HEADER = 'Stripe-Signature';
const SIGNATURE_REFUSED = 'the webhook signature could not be verified';

/** Each flow's queue: its URL in the configuration and the variable that carries it. */
const QUEUES: Record<
  PspEventFlow,
  { url: (config: ReturnType<typeof runtimeConfig>) => string | undefined; envVar: string }
> = {
  payin: { url: (config) => config.pspWebhookQueueUrl, envVar: 'PSP_WEBHOOK_QUEUE_URL' },
  refunds: { url: (config) => config.refundWebhookQueueUrl, envVar: 'REFUND_WEBHOOK_QUEUE_URL' },
  payout: { url: (config) => config.connectWebhookQueueUrl, envVar: 'CONNECT_WEBHOOK_QUEUE_URL' },
};

export const handler = apiHandler(
  async (event) => {
    // Every value of the header, whatever the case of its name: API Gateway passes a repeated header in
    // multiValueHeaders (the headers map keeps one value per name). Two of them are refused, not one picked.
    const signatures = headerValues(event.headers, event.multiValueHeaders, SIGNATURE_HEADER);
    const raw = event.body
      ? event.isBase64Encoded
        ? Buffer.from(event.body, 'base64').toString('utf8')
        : event.body
      : '';
    let verified: { id: string; type: string };
    try {
      if (signatures.length > 1) {
        throw new InvalidWebhookSignatureError(`the ${SIGNATURE_HEADER} header was given ${signatures.length} times`);
      }
      verified = await verifyWebhook(raw, signatures[0]);
    } catch (error) {
      if (!(error instanceof InvalidWebhookSignatureError)) throw error;
      // A security event: someone sent us an unsigned, forged, replayed or altered call. Nothing of it is kept.
      logger.warn('security: refused a PSP webhook with an invalid signature', {
        security_event: 'webhook_signature_invalid',
        reason: (error as Error).message,
        source_ip: event.requestContext?.identity?.sourceIp,
        body_bytes: raw.length,
      });
      throw invalidHeader(SIGNATURE_HEADER, SIGNATURE_REFUSED, {
        code: 'invalid_signature',
        ...(signatures.length > 1 && { detail: 'must be given once' }),
      });
    }
    const flow = pspEventFlow(verified.type);
    const queueUrl = QUEUES[flow].url(runtimeConfig());
    if (!queueUrl) throw new ConfigError(`${QUEUES[flow].envVar} is not set`);
    await sqs()
      .send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: raw }))
      .catch((error) => {
        throw asRetryable(error);
      });
    logger.info('PSP webhook queued', { event_id: verified.id, type: verified.type, flow });
    return json(200, { received: true });
  },
  { scope: 'public' },
);
