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
let connectClient: Promise<Stripe> | undefined;
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

function client(psp: RuntimeConfig['psp'], key: string): Stripe {
  return new Stripe(key, {
    host: psp.host,
    port: psp.port,
    protocol: psp.protocol,
    maxNetworkRetries: 0,
    timeout: 20_000,
    telemetry: false,
  });
}

/** The payments secret key itself, for what the SDK does not download (report files). Never logged. */
export function pspSecret(): Promise<string> {
  return pspSecretKey(runtimeConfig().psp);
}

/** The stripe SDK, pointed at the PSP simulator locally. Retries are ours (the workflow's), not the SDK's. */
export function stripe(): Promise<Stripe> {
  stripeClient ??= (async () => {
    const { psp } = runtimeConfig();
    return client(psp, await pspSecretKey(psp));
  })();
  stripeClient.catch(() => {
    stripeClient = undefined;
  });
  return stripeClient;
}

/**
 * The stripe SDK with the Connect key: on AWS a restricted key that may write accounts, account links, transfers
 * and payouts (and read payments and balances), given only to the pay-out's functions. Locally the simulator's
 * one key.
 */
export function stripeConnect(): Promise<Stripe> {
  connectClient ??= (async () => {
    const { psp } = runtimeConfig();
    if (psp.connectSecretKey) return client(psp, psp.connectSecretKey);
    if (psp.connectSecretArn) {
      const secret = await getSecret(psp.connectSecretArn, { maxAge: 300 });
      if (typeof secret === 'string' && secret.length > 0) return client(psp, secret);
      throw new ConfigError('the PSP Connect secret is empty');
    }
    throw new ConfigError('neither PSP_CONNECT_SECRET_KEY nor PSP_CONNECT_SECRET_ARN is set');
  })();
  connectClient.catch(() => {
    connectClient = undefined;
  });
  return connectClient;
}
