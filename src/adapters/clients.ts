/**
 * AWS and PSP clients: module singletons, created on first use from the runtime configuration,
 * with endpoint overrides for the local stack. Domain code receives them; it never imports this module.
 */

import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import Stripe from 'stripe';
import { ConfigError, loadRuntimeConfig, type RuntimeConfig } from '../config';

let config: RuntimeConfig | undefined;
let rawClient: DynamoDBClient | undefined;
let documentClient: DynamoDBDocumentClient | undefined;
let sfnClient: SFNClient | undefined;
let sqsClient: SQSClient | undefined;
let stripeClient: Promise<Stripe> | undefined;
let webhookSecret: Promise<string> | undefined;

export function runtimeConfig(): RuntimeConfig {
  config ??= loadRuntimeConfig();
  return config;
}

/** The low-level DynamoDB client (Powertools idempotency takes this one). */
export function dynamoClient(): DynamoDBClient {
  if (!rawClient) {
    const { region, endpoints } = runtimeConfig();
    rawClient = new DynamoDBClient({ region, endpoint: endpoints.dynamodb, maxAttempts: 4 });
  }
  return rawClient;
}

export function dynamo(): DynamoDBDocumentClient {
  documentClient ??= DynamoDBDocumentClient.from(dynamoClient(), { marshallOptions: { removeUndefinedValues: true } });
  return documentClient;
}

export function sfn(): SFNClient {
  if (!sfnClient) {
    const { region, endpoints } = runtimeConfig();
    sfnClient = new SFNClient({ region, endpoint: endpoints.sfn, maxAttempts: 4 });
  }
  return sfnClient;
}

export function sqs(): SQSClient {
  if (!sqsClient) {
    const { region, endpoints } = runtimeConfig();
    sqsClient = new SQSClient({ region, endpoint: endpoints.sqs, maxAttempts: 4 });
  }
  return sqsClient;
}

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
