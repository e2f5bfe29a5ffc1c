/**
 * The PSP's clients: the stripe SDK (pointed at the PSP simulator locally) and the webhook signing secret,
 * module singletons created on first use from the runtime configuration. Only src/psp and the composition
 * roots import this module.
 */
import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import Stripe from 'stripe';
import { runtimeConfig } from '../core/clients';
import { ConfigError, type RuntimeConfig } from '../core/config';

let stripeClient: Promise<Stripe> | undefined;
let webhookSecret: Promise<string> | undefined;

/** The PSP's webhook signing secret. */
export function pspWebhookSecret(): Promise<string> {
  webhookSecret ??= (async () => {
    const { psp } = runtimeConfig();
    if (psp.webhookSecret) return psp.webhookSecret;
    if (psp.webhookSecretArn) {
      const secret = await getSecret(psp.webhookSecretArn, { maxAge: 300 });
      if (typeof secret === 'string' && secret.length > 0) return secret;
    }
    throw new ConfigError('neither PSP_WEBHOOK_SECRET nor PSP_WEBHOOK_SECRET_ARN is set (or the secret is empty)');
  })();
  webhookSecret.catch(() => {
    webhookSecret = undefined;
  });
  return webhookSecret;
}

async function pspSecretKey(psp: RuntimeConfig['psp']): Promise<string> {
  if (psp.secretKey) return psp.secretKey;
  if (psp.secretArn) {
    const secret = await getSecret(psp.secretArn, { maxAge: 300 });
    if (typeof secret === 'string' && secret.length > 0) return secret;
    throw new ConfigError('the PSP secret is empty');
  }
  throw new ConfigError('neither PSP_SECRET_KEY nor PSP_SECRET_ARN is set');
}

/** The stripe SDK, pointed at the PSP simulator locally. Retries are ours (the workflow's), not the SDK's. */
export function stripe(): Promise<Stripe> {
  stripeClient ??= (async () => {
    const { psp } = runtimeConfig();
    return new Stripe(await pspSecretKey(psp), {
      host: psp.host,
      port: psp.port,
      protocol: psp.protocol,
      maxNetworkRetries: 0,
      timeout: 20_000,
      telemetry: false,
    });
  })();
  stripeClient.catch(() => {
    stripeClient = undefined;
  });
  return stripeClient;
}
