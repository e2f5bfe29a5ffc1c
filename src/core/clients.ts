/**
 * AWS clients: module singletons, created on first use from the runtime configuration,
 * with endpoint overrides for the local stack. Domain code receives them; it never imports this module.
 * On AWS (no endpoint override) each is traced with X-Ray (src/core/tracing.ts); locally none is.
 */

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { loadRuntimeConfig, type RuntimeConfig } from './config';
import { traced } from './tracing';

let config: RuntimeConfig | undefined;
let rawClient: DynamoDBClient | undefined;
let documentClient: DynamoDBDocumentClient | undefined;
let sfnClient: SFNClient | undefined;
let sqsClient: SQSClient | undefined;
let s3Client: S3Client | undefined;

export function runtimeConfig(): RuntimeConfig {
  config ??= loadRuntimeConfig();
  return config;
}

/** The low-level DynamoDB client (Powertools idempotency takes this one). */
export function dynamoClient(): DynamoDBClient {
  if (!rawClient) {
    const { region, endpoints } = runtimeConfig();
    // Traced here, once: the document client below shares this client's middleware stack.
    rawClient = traced(
      new DynamoDBClient({ region, endpoint: endpoints.dynamodb, maxAttempts: 4 }),
      endpoints.dynamodb,
    );
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
    sfnClient = traced(new SFNClient({ region, endpoint: endpoints.sfn, maxAttempts: 4 }), endpoints.sfn);
  }
  return sfnClient;
}

export function sqs(): SQSClient {
  if (!sqsClient) {
    const { region, endpoints } = runtimeConfig();
    sqsClient = traced(new SQSClient({ region, endpoint: endpoints.sqs, maxAttempts: 4 }), endpoints.sqs);
  }
  return sqsClient;
}

/** S3; with an endpoint override (fauxqs locally) in path style: `<endpoint>/<bucket>/<key>`, no bucket subdomains. */
export function s3(): S3Client {
  if (!s3Client) {
    const { region, endpoints } = runtimeConfig();
    s3Client = traced(
      new S3Client({ region, endpoint: endpoints.s3, forcePathStyle: endpoints.s3 !== undefined, maxAttempts: 4 }),
      endpoints.s3,
    );
  }
  return s3Client;
}
