/**
 * The embedded local stack: DynamoDB Local, fauxqs (SQS/S3), the PSP simulator, the local Step Functions
 * endpoint and the local API Gateway, all on loopback. The handler modules run in this process with the
 * same environment variables they get on AWS, pointed at these endpoints.
 */

import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  catalog,
  type FunctionId,
  METRICS_NAMESPACE,
  queues,
  SERVICE_NAME,
  type StateMachineName,
  stateMachines,
  type WorkQueueName,
  workQueues,
} from '../lambdas/catalog';
import { ApiKeys, SCOPES } from '../src/api/api-keys';
import type { LocalStackConfig } from '../src/core/config';
import { tableSchemas } from '../src/core/table-schemas';
import { type LocalApiGateway, startApiGateway } from './api-gateway';
import { ensureTables, type LocalDynamo, startDynamoDbLocal } from './dynamodb';
import { startDynamoMeter } from './dynamodb-meter';
import { cleanBuilds, invoke, LOCAL_ACCOUNT, LOCAL_REGION } from './lambda-runtime';
import { startLambdaServer } from './lambda-server';
import { createOpsConsole } from './ops-console/console';
import { freePort } from './processes';
import { startPspSimulator } from './psp-simulator/server';
import { startScheduler } from './scheduler';
import { type Execution, LocalStepFunctions, stateMachineArn } from './stepfunctions/engine';
import { startSfnServer } from './stepfunctions/server';

const machineNames = Object.keys(stateMachines) as StateMachineName[];

export interface LocalStack {
  urls: {
    api: string;
    sfn: string;
    dynamodb: string;
    sqs: string;
    psp: string;
    lambda: string;
    dynamodbMeter?: string;
  };
  /** Where failed pay-in executions are dead-lettered (EventBridge rule -> SQS on AWS). */
  failedPaymentsQueueUrl: string;
  /** Where each state machine's failed executions are dead-lettered, by state machine name. */
  failedExecutionQueueUrls: Record<StateMachineName, string>;
  /** The catalog's buckets (in fauxqs), by bucket name. */
  bucketNames: Record<string, string>;
  /** The catalog's work queues (in fauxqs, no consumer: people's work lists), by name. */
  workQueueUrls: Record<WorkQueueName, string>;
  devApiKey: string;
  /** Where the dev key was written, when it was generated. */
  devApiKeyFile: string;
  stepFunctions: LocalStepFunctions;
  stop(): Promise<void>;
}

/**
 * The environment the functions get: on AWS from the CDK app (each function what its catalog entry asks for),
 * here from the stack (every function all of it): queue URLs, every state machine's ARN, every bucket's name.
 */
function functionEnvironment(
  config: LocalStackConfig,
  urls: Pick<LocalStack['urls'], 'dynamodb' | 'sfn' | 'sqs' | 'psp' | 'lambda'>,
  queueUrls: Record<string, string>,
  bucketNames: Record<string, string>,
): Record<string, string> {
  const psp = new URL(urls.psp);
  return {
    ...queueUrls,
    ...Object.fromEntries(
      Object.entries(catalog.buckets).map(([name, spec]) => [spec.envVar, bucketNames[name] ?? '']),
    ),
    PSP_WEBHOOK_SECRET: config.pspWebhookSecret,
    AWS_REGION: LOCAL_REGION,
    AWS_LAMBDA_FUNCTION_NAME: 'local',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    DYNAMODB_ENDPOINT: urls.dynamodb,
    SFN_ENDPOINT: urls.sfn,
    SQS_ENDPOINT: urls.sqs,
    LAMBDA_ENDPOINT: urls.lambda,
    // The names of the functions others invoke: here, their catalog ids.
    ...Object.fromEntries(
      Object.values(catalog.functions).flatMap((spec) => (spec.nameEnvVar ? [[spec.nameEnvVar, spec.id]] : [])),
    ),
    // fauxqs serves S3 on the same port as SQS (the clients use path-style URLs with an endpoint override).
    S3_ENDPOINT: urls.sqs,
    PSP_SECRET_KEY: config.pspSecretKey,
    // The simulator has one key; on AWS the pay-out's Connect key is a restricted key of its own.
    PSP_CONNECT_SECRET_KEY: config.pspSecretKey,
    PSP_API_HOST: psp.hostname,
    PSP_API_PORT: psp.port,
    PSP_API_PROTOCOL: 'http',
    PLATFORM_FEE_BPS: String(config.platformFeeBps),
    ...Object.fromEntries(Object.values(stateMachines).map((spec) => [spec.envVar, stateMachineArn(spec)])),
    POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
    POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
    ...Object.fromEntries(Object.values(tableSchemas).map((schema) => [schema.envVar, schema.id])),
  };
}

/**
 * The dev key of `npm start`: DEV_API_KEY, else the one saved under the data folder, else a new one. It has every
 * scope: a saved key stored before scopes existed (which, like every key without scopes, may do nothing) or before
 * a scope was added is re-issued with all of them. A revoked saved key is replaced by a new one.
 */
async function devApiKey(config: LocalStackConfig, client: DynamoDBDocumentClient, file: string): Promise<string> {
  const keys = new ApiKeys(client, tableSchemas.apiKeys.id);
  const scopes = [...SCOPES];
  if (config.devApiKey) {
    await keys.issue('local dev key (DEV_API_KEY)', { scopes, preset: config.devApiKey });
    return config.devApiKey;
  }
  if (fs.existsSync(file)) {
    const saved = fs.readFileSync(file, 'utf8').trim();
    const principal = await keys.verify(saved);
    if (principal) {
      if (!scopes.every((scope) => principal.scopes.includes(scope))) {
        await keys.issue('local dev key', { scopes, preset: saved });
      }
      return saved;
    }
  }
  const { secretKey } = await keys.issue('local dev key', { scopes });
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

    let pspUrl = config.pspUrl;
    let simulator: Awaited<ReturnType<typeof startPspSimulator>> | undefined;
    if (!pspUrl) {
      simulator = await startPspSimulator({ secretKey: config.pspSecretKey, host, port: config.ports.psp });
      const psp = simulator;
      stops.push(() => psp.close());
      pspUrl = psp.url;
    }

    // Each state machine's failed executions go to its own queue, as its EventBridge rule sends them on AWS.
    const failedExecutionQueueUrls = failedExecutionQueues(sqs);
    const failedQueueByArn = new Map(
      machineNames.map((name) => [stateMachineArn(stateMachines[name]), failedExecutionQueueUrls[name]]),
    );
    const workQueueUrls = Object.fromEntries(
      Object.entries(workQueues).map(([name, spec]) => [
        name,
        queueWithDlq(sqs, localName(spec.id), spec.maxReceiveCount, spec.visibilityTimeoutSeconds),
      ]),
    ) as Record<WorkQueueName, string>;
    // The functions get every queue's URL: the consumed ones' and the work queues' (no poller: people read those).
    const queueUrls = {
      ...Object.fromEntries(
        Object.values(queues).map((queue) => [queue.envVar, queueWithDlq(sqs, queue.id, queue.maxReceiveCount)]),
      ),
      ...Object.fromEntries(
        (Object.keys(workQueues) as WorkQueueName[]).map((name) => [workQueues[name].envVar, workQueueUrls[name]]),
      ),
    };
    const bucketNames = Object.fromEntries(
      Object.entries(catalog.buckets).map(([name, spec]) => [name, sqs.createBucket(localName(spec.id)).bucketName]),
    );
    // Every state machine of the catalog, each from its own ASL file.
    // On disk, executions and their history outlive a restart (<dataDir>/stepfunctions/).
    const stepFunctions = new LocalStepFunctions(Object.values(stateMachines), config.retryIntervalMs, undefined, {
      dataDir: config.inMemory ? undefined : path.resolve(config.dataDir, 'stepfunctions'),
    });
    const sqsClient = new SQSClient({
      endpoint: `http://${host}:${sqs.port}`,
      region: LOCAL_REGION,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    stepFunctions.onClosed = (execution) => {
      if (execution.status === 'SUCCEEDED') return;
      const failedQueue = failedQueueByArn.get(execution.stateMachineArn);
      if (!failedQueue) return;
      sqsClient
        .send(
          new SendMessageCommand({
            QueueUrl: failedQueue,
            MessageBody: JSON.stringify(statusChangeEvent(execution)),
          }),
        )
        .catch((error: Error) => process.stderr.write(`could not dead-letter ${execution.name}: ${error.message}\n`));
    };
    stops.push(async () => {
      // Shutting down is a crash for running executions: they are lost, not failed (the janitor recovers them).
      stepFunctions.onClosed = () => undefined;
      stepFunctions.abortAll();
      sqsClient.destroy();
    });
    const sfnServer = await startSfnServer(stepFunctions, host, config.ports.sfn);
    stops.push(() => sfnServer.close());
    const lambdaServer = await startLambdaServer((functionId, event) => invoke(functionId as FunctionId, event), host);
    stops.push(() => lambdaServer.close());

    const urls = {
      dynamodb: dynamo.endpoint,
      sqs: `http://${host}:${sqs.port}`,
      psp: pspUrl,
      sfn: sfnServer.url,
      lambda: lambdaServer.url,
      api: '',
    } as LocalStack['urls'];
    // The benchmark's meter (LOCAL_DYNAMODB_METER): the functions talk to DynamoDB Local through it.
    if (config.dynamodbMeter) {
      const meter = await startDynamoMeter(dynamo.endpoint, host);
      stops.push(() => meter.close());
      urls.dynamodbMeter = meter.url;
    }
    const functionUrls = { ...urls, dynamodb: urls.dynamodbMeter ?? urls.dynamodb };
    Object.assign(process.env, functionEnvironment(config, functionUrls, queueUrls, bucketNames));

    // The local ops console under /ops on the API's port: admin keys only, checked against the stack's keys table.
    const consoleKeys = new ApiKeys(DynamoDBDocumentClient.from(dynamo.client), tableSchemas.apiKeys.id);
    const ops = createOpsConsole({ engine: stepFunctions, verifyKey: (key) => consoleKeys.verify(key) });
    const api: LocalApiGateway = await startApiGateway(host, config.ports.api, { ops });
    stops.push(() => api.close());
    urls.api = api.url;
    // The simulator signs and delivers its webhooks to our endpoint, as Stripe would to the deployed API.
    simulator?.setWebhookEndpoint(`${api.url}/v1/webhooks/psp`, config.pspWebhookSecret);
    for (const queue of Object.values(queues)) {
      stops.push(
        startQueuePoller(sqsClient, queueUrls[queue.envVar] ?? '', queue.consumer as FunctionId, queue.batchSize),
      );
    }

    const devApiKeyFile = path.join(config.dataDir, 'dev-api-key');
    const documentClient = DynamoDBDocumentClient.from(dynamo.client);
    const key = await devApiKey(config, documentClient, devApiKeyFile);
    // The functions' environment, for operator scripts (e.g. the replay command) run against this stack, with
    // each workflow's failed-executions queue (FAILED_PAYMENTS_QUEUE_URL for the pay-in).
    const failedQueueEnvironment = Object.fromEntries(
      machineNames.map((name) => [stateMachines[name].failedExecutionsQueue.envVar, failedExecutionQueueUrls[name]]),
    );
    fs.writeFileSync(
      path.join(config.dataDir, 'function-env.json'),
      JSON.stringify(
        { ...functionEnvironment(config, functionUrls, queueUrls, bucketNames), ...failedQueueEnvironment },
        null,
        2,
      ),
      { mode: 0o600 },
    );
    stops.push(
      startScheduler({
        schedules: catalog.schedules,
        intervals: config.scheduleIntervalSeconds,
        run: (functionId, event) => invoke(functionId as FunctionId, event),
        onError: (functionId, error) => process.stderr.write(`scheduled ${functionId} failed: ${error.message}\n`),
      }),
    );
    return {
      urls,
      failedPaymentsQueueUrl: failedExecutionQueueUrls.payIn,
      failedExecutionQueueUrls,
      bucketNames,
      workQueueUrls,
      devApiKey: key,
      devApiKeyFile,
      stepFunctions,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

type Fauxqs = Awaited<ReturnType<typeof import('fauxqs')['startFauxqs']>>;

/** A queue and its DLQ (created once; kept across restarts when on disk), with the queue's visibility timeout. */
function queueWithDlq(sqs: Fauxqs, name: string, maxReceiveCount: number, visibilityTimeoutSeconds?: number): string {
  const existing = sqs.inspectQueue(name);
  if (existing) return existing.url;
  const dlq = sqs.createQueue(`${name}-dlq`, { attributes: { MessageRetentionPeriod: '1209600' } });
  return sqs.createQueue(name, {
    attributes: {
      MessageRetentionPeriod: '1209600',
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.queueArn, maxReceiveCount }),
      ...(visibilityTimeoutSeconds === undefined ? {} : { VisibilityTimeout: String(visibilityTimeoutSeconds) }),
    },
  }).queueUrl;
}

/** A catalog id as a local resource name: `FailedPayments` -> `failed-payments`. */
function localName(id: string): string {
  return id.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

/**
 * Each state machine's failed-executions queue (the pay-in's `failed-payments`), with its DLQ: where EventBridge
 * sends that machine's failed executions on AWS.
 */
function failedExecutionQueues(sqs: Fauxqs): Record<StateMachineName, string> {
  return Object.fromEntries(
    machineNames.map((name) => [name, queueWithDlq(sqs, localName(stateMachines[name].failedExecutionsQueue.id), 5)]),
  ) as Record<StateMachineName, string>;
}

/**
 * The local stand-in for an SQS event source mapping: long-polls the queue, invokes the consumer with a batch,
 * and deletes only the messages the consumer did not report as failed (ReportBatchItemFailures). Failed ones
 * come back after their visibility timeout and move to the DLQ after maxReceiveCount receives.
 */
function startQueuePoller(client: SQSClient, queueUrl: string, consumer: FunctionId, batchSize: number) {
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const { Messages = [] } = await client.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: batchSize,
            WaitTimeSeconds: 1,
            MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp'],
          }),
        );
        if (!running || Messages.length === 0) continue;
        const event = {
          Records: Messages.map((m) => ({
            messageId: m.MessageId,
            receiptHandle: m.ReceiptHandle,
            body: m.Body,
            attributes: m.Attributes ?? {},
            messageAttributes: {},
            md5OfBody: m.MD5OfBody,
            eventSource: 'aws:sqs',
            eventSourceARN: queueUrl,
            awsRegion: LOCAL_REGION,
          })),
        };
        let failed = new Set<string>(Messages.map((m) => m.MessageId ?? ''));
        try {
          const result = (await invoke(consumer, event)) as { batchItemFailures?: { itemIdentifier: string }[] };
          failed = new Set((result?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
        } catch (error) {
          process.stderr.write(`queue consumer ${consumer} failed: ${(error as Error).message}\n`);
        }
        const done = Messages.filter((m) => !failed.has(m.MessageId ?? ''));
        if (done.length > 0) {
          await client.send(
            new DeleteMessageBatchCommand({
              QueueUrl: queueUrl,
              Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
            }),
          );
        }
      } catch (error) {
        if (running) {
          process.stderr.write(`queue poller ${consumer}: ${(error as Error).message}\n`);
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
      }
    }
  })();
  return async () => {
    running = false;
    await loop;
  };
}

/** The event EventBridge delivers for a closed execution ("Step Functions Execution Status Change"). */
function statusChangeEvent(execution: Execution) {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Step Functions Execution Status Change',
    source: 'aws.states',
    account: LOCAL_ACCOUNT,
    time: new Date().toISOString(),
    region: LOCAL_REGION,
    resources: [execution.executionArn],
    detail: {
      executionArn: execution.executionArn,
      stateMachineArn: execution.stateMachineArn,
      name: execution.name,
      status: execution.status,
      startDate: Math.round(execution.startDate * 1000),
      stopDate: execution.stopDate === undefined ? null : Math.round(execution.stopDate * 1000),
      input: execution.input,
      output: execution.output ?? null,
      error: execution.error ?? null,
      cause: execution.cause ?? null,
    },
  };
}
