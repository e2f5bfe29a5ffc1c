/**
 * The embedded local stack: DynamoDB Local, fauxqs (SQS/S3), the PSP simulator, the local Step Functions
 * endpoint and the local API Gateway, all on loopback. The handler modules run in this process with the
 * same environment variables they get on AWS, pointed at these endpoints.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { stateMachines } from '../lambdas/catalog';
import { ApiKeys } from '../src/adapters/api-keys';
import { tableSchemas } from '../src/adapters/table-schemas';
import type { LocalStackConfig } from '../src/config';
import { type LocalApiGateway, startApiGateway } from './api-gateway';
import { ensureTables, type LocalDynamo, startDynamoDbLocal } from './dynamodb';
import { cleanBuilds, LOCAL_REGION } from './lambda-runtime';
import { freePort } from './processes';
import { startPspSimulator } from './psp-simulator/server';
import { LocalStepFunctions, stateMachineArn } from './stepfunctions/engine';
import { startSfnServer } from './stepfunctions/server';

export interface LocalStack {
  urls: { api: string; sfn: string; dynamodb: string; sqs: string; psp: string };
  devApiKey: string;
  /** Where the dev key was written, when it was generated. */
  devApiKeyFile: string;
  stepFunctions: LocalStepFunctions;
  stop(): Promise<void>;
}

/** The environment the functions get: on AWS from the CDK app, here from the stack. */
function functionEnvironment(
  config: LocalStackConfig,
  urls: Pick<LocalStack['urls'], 'dynamodb' | 'sfn' | 'sqs' | 'psp'>,
): Record<string, string> {
  const psp = new URL(urls.psp);
  return {
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    DYNAMODB_ENDPOINT: urls.dynamodb,
    SFN_ENDPOINT: urls.sfn,
    SQS_ENDPOINT: urls.sqs,
    PSP_SECRET_KEY: config.pspSecretKey,
    PSP_API_HOST: psp.hostname,
    PSP_API_PORT: psp.port,
    PSP_API_PROTOCOL: 'http',
    PLATFORM_FEE_BPS: String(config.platformFeeBps),
    [stateMachines.payIn.envVar]: stateMachineArn(stateMachines.payIn),
    POWERTOOLS_SERVICE_NAME: 'payments',
    ...Object.fromEntries(Object.values(tableSchemas).map((schema) => [schema.envVar, schema.id])),
  };
}

async function devApiKey(config: LocalStackConfig, client: DynamoDBDocumentClient, file: string): Promise<string> {
  const keys = new ApiKeys(client, tableSchemas.apiKeys.id);
  if (config.devApiKey) {
    await keys.issue('local dev key (DEV_API_KEY)', config.devApiKey);
    return config.devApiKey;
  }
  if (fs.existsSync(file)) {
    const saved = fs.readFileSync(file, 'utf8').trim();
    if (await keys.verify(saved)) return saved;
  }
  const { secretKey } = await keys.issue('local dev key');
  fs.writeFileSync(file, `${secretKey}\n`, { mode: 0o600 });
  return secretKey;
}

export async function startLocalStack(config: LocalStackConfig): Promise<LocalStack> {
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const fn of stops.reverse()) await fn().catch(() => undefined);
  };
  try {
    fs.mkdirSync(config.dataDir, { recursive: true });
    cleanBuilds();
    stops.push(async () => cleanBuilds());
    const { host } = config;

    const dynamo: LocalDynamo = await startDynamoDbLocal({
      host,
      port: config.ports.dynamodb || (await freePort(host)),
      dataDir: config.dataDir,
      inMemory: config.inMemory,
    });
    stops.push(dynamo.stop);
    await ensureTables(
      dynamo.client,
      Object.values(tableSchemas).map((schema) => ({ schema, name: schema.id })),
    );

    // fauxqs is ESM-only (no `require` export): load it with a real dynamic import.
    const { startFauxqs } = await import('fauxqs');
    const sqs = await startFauxqs({
      host,
      port: config.ports.sqs,
      logger: false,
      dataDir: config.inMemory ? undefined : path.resolve(config.dataDir, 'fauxqs'),
    });
    stops.push(() => sqs.stop());

    const psp = await startPspSimulator({ secretKey: config.pspSecretKey, host, port: config.ports.psp });
    stops.push(() => psp.close());

    const stepFunctions = new LocalStepFunctions();
    stops.push(async () => stepFunctions.abortAll());
    const sfnServer = await startSfnServer(stepFunctions, host, config.ports.sfn);
    stops.push(() => sfnServer.close());

    const urls = {
      dynamodb: dynamo.endpoint,
      sqs: `http://${host}:${sqs.port}`,
      psp: psp.url,
      sfn: sfnServer.url,
      api: '',
    };
    Object.assign(process.env, functionEnvironment(config, urls));

    const api: LocalApiGateway = await startApiGateway(host, config.ports.api);
    stops.push(() => api.close());
    urls.api = api.url;

    const devApiKeyFile = path.join(config.dataDir, 'dev-api-key');
    const documentClient = DynamoDBDocumentClient.from(dynamo.client);
    const key = await devApiKey(config, documentClient, devApiKeyFile);
    return { urls, devApiKey: key, devApiKeyFile, stepFunctions, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
