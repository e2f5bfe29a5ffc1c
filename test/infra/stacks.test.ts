/**
 * The CDK app against its single sources of truth: `lambdas/catalog.ts` (functions, routes, state
 * machines), `src/core/table-schemas.ts` (tables) and `state-machines/*.asl.json` (workflows).
 * Asset bundling is skipped (context `aws:cdk:bundling-stacks: []`): `npx cdk synth` covers esbuild.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import type { CfnTable } from 'aws-cdk-lib/aws-dynamodb';
import { Schedule } from 'aws-cdk-lib/aws-events';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { DefinitionBody, StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { AwsSolutionsChecks } from 'cdk-nag';
import {
  apiRoutes,
  type BucketSpec,
  type Catalog,
  catalog,
  queues as catalogQueues,
  workQueues as catalogWorkQueues,
  type FunctionId,
  type FunctionSpec,
  functions,
  type QueueName,
  type RouteSpec,
  type StateMachineName,
  schedules,
  stateMachines,
  type WorkQueueName,
} from '../../lambdas/catalog';
import { PaymentsApi } from '../../lib/api';
import { addPaymentsStacks, type PaymentsStacks } from '../../lib/app';
import { DEFAULT_MEMORY_MB } from '../../lib/functions';
import { WorkQueues } from '../../lib/work-queues';
import { distributedMapStates } from '../../lib/workflow';
import { cronExpression } from '../../src/core/schedule';
import { allTableSchemas, type TableName, type TableSchema, tableSchemas } from '../../src/core/table-schemas';
import { expectDistributedMapRights } from './distributed-map';

const REPO_ROOT = path.join(__dirname, '..', '..');
/** The real module object that aws-cdk-lib calls (an `import * as` namespace would be a copy under swc). */
const childProcess: typeof import('node:child_process') = jest.requireActual('node:child_process');
/** The feature flags and context of cdk.json, so the tests check what `cdk synth` produces. */
const CDK_CONTEXT = JSON.parse(readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')).context as Record<
  string,
  unknown
>;
const SKIP_BUNDLING = { 'aws:cdk:bundling-stacks': [] };

const functionSpecs = Object.values(functions) as FunctionSpec[];
const queueNames = Object.keys(catalogQueues) as QueueName[];
const workQueueNames = Object.keys(catalogWorkQueues) as WorkQueueName[];
/** The env var of a queue a function may send to: a consumed queue's or a work queue's. */
const queueEnvVar = (name: QueueName | WorkQueueName) =>
  (name in catalogQueues ? catalogQueues[name as QueueName] : catalogWorkQueues[name as WorkQueueName]).envVar;
/** What grantSendMessages / grantConsumeMessages / grantTaskResponse give: the intended rights, pinned. */
const SQS_SEND_ACTIONS = ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'];
const SQS_CONSUME_ACTIONS = [
  'sqs:ReceiveMessage',
  'sqs:ChangeMessageVisibility',
  'sqs:GetQueueUrl',
  'sqs:DeleteMessage',
  'sqs:GetQueueAttributes',
];
const TASK_RESPONSE_ACTIONS = ['states:SendTaskSuccess', 'states:SendTaskFailure', 'states:SendTaskHeartbeat'];
const payIn = stateMachines.payIn;
const aslText = readFileSync(path.join(REPO_ROOT, payIn.file), 'utf8');
const machineNames = Object.keys(stateMachines) as StateMachineName[];
const catalogBuckets: Record<string, BucketSpec> = catalog.buckets;

// biome-ignore lint/suspicious/noExplicitAny: synthesized CloudFormation JSON, checked by the assertions themselves.
type Json = any;
type Resource = {
  Type: string;
  Properties: Record<string, Json>;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
};
type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };

function buildApp(context: Record<string, unknown> = {}): PaymentsStacks & { app: App } {
  const app = new App({ context: { ...CDK_CONTEXT, ...SKIP_BUNDLING, ...context } });
  return { app, ...addPaymentsStacks(app) };
}

const toArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);
const sameElements = <T>(actual: T[], expected: T[]) => expect([...actual].sort()).toEqual([...expected].sort());

const spawned: string[] = [];
let built: PaymentsStacks & { app: App };
let stateful: Template;
let stateless: Template;
let statelessResources: Record<string, Resource>;

beforeAll(() => {
  const spawnSync = childProcess.spawnSync;
  const spy = jest.spyOn(childProcess, 'spawnSync').mockImplementation(((
    cmd: string,
    args?: string[],
    opts?: object,
  ) => {
    spawned.push([cmd, ...(args ?? [])].join(' '));
    return spawnSync(cmd, args ?? [], opts ?? {});
  }) as typeof childProcess.spawnSync);
  try {
    built = buildApp();
    // Synthesizes the whole app: this throws if cdk-nag (registered by addPaymentsStacks) reports an error.
    stateless = Template.fromStack(built.stateless);
    stateful = Template.fromStack(built.stateful);
  } finally {
    spy.mockRestore();
  }
  statelessResources = stateless.toJSON().Resources;
});

/** The logical id of the Lambda function of a catalog entry, found by its (unique) description. */
/** A function of the catalog by id. */
function functionSpecOf(id: string): FunctionSpec {
  const spec = (functions as Record<string, FunctionSpec | undefined>)[id];
  if (!spec) throw new Error(`no function ${id} in the catalog`);
  return spec;
}

function functionLogicalId(spec: FunctionSpec): string {
  const ids = Object.keys(
    stateless.findResources('AWS::Lambda::Function', { Properties: { Description: spec.description } }),
  );
  expect(ids).toHaveLength(1);
  return ids[0]!;
}

function rolePolicyStatements(roleLogicalId: string): Statement[] {
  return Object.values(stateless.findResources('AWS::IAM::Policy'))
    .filter((policy) => toArray(policy.Properties.Roles).some((role: Json) => role.Ref === roleLogicalId))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
}

function functionRoleStatements(spec: FunctionSpec): Statement[] {
  const fn = statelessResources[functionLogicalId(spec)]!;
  return rolePolicyStatements(fn.Properties.Role['Fn::GetAtt'][0]);
}

/** The expression the stateless stack uses for a stateful table's ARN (a cross-stack reference). */
const tableArnIn = (name: TableName) => built.stateless.resolve(built.stateful.tables[name].tableArn);
const refersTo = (resource: unknown, expr: unknown) => JSON.stringify(toArray(resource)).includes(JSON.stringify(expr));

describe('Stack: PaymentsStateful', () => {
  test('one DynamoDB table per table schema, nothing else but the PSP keys (payments, Connect) and webhook signing secret', () => {
    stateful.resourceCountIs('AWS::DynamoDB::Table', allTableSchemas.length);
    stateful.resourceCountIs('AWS::SecretsManager::Secret', 3);
    // ...and the one customer-managed key of the tables (and buckets).
    stateful.resourceCountIs('AWS::KMS::Key', 1);
    expect(built.stateful.terminationProtection).toBe(true);
  });

  describe.each(allTableSchemas.map((schema) => [schema.id, schema] as const))(
    'table %s',
    (_id, schema: TableSchema) => {
      let table: Resource;
      beforeAll(() => {
        const name = (Object.keys(tableSchemas) as TableName[]).find((key) => tableSchemas[key].id === schema.id)!;
        const logicalId = built.stateful.getLogicalId(built.stateful.tables[name].node.defaultChild as CfnTable);
        table = stateful.toJSON().Resources[logicalId];
        expect(table?.Type).toBe('AWS::DynamoDB::Table');
      });

      test('key schema and string key attributes', () => {
        const keys = [
          { AttributeName: schema.partitionKey, KeyType: 'HASH' },
          ...(schema.sortKey ? [{ AttributeName: schema.sortKey, KeyType: 'RANGE' }] : []),
        ];
        expect(table.Properties.KeySchema).toEqual(keys);
        const keyAttributes = new Set(
          [
            schema.partitionKey,
            schema.sortKey,
            ...schema.globalSecondaryIndexes.flatMap((i) => [i.partitionKey, i.sortKey]),
          ].filter((name): name is string => name !== undefined),
        );
        sameElements(
          table.Properties.AttributeDefinitions,
          [...keyAttributes].map((name) => ({ AttributeName: name, AttributeType: 'S' })),
        );
      });

      test('GSIs projecting what the schema says (every attribute, or only those its readers read)', () => {
        const expected = schema.globalSecondaryIndexes.map((index) => ({
          IndexName: index.indexName,
          KeySchema: [
            { AttributeName: index.partitionKey, KeyType: 'HASH' },
            ...(index.sortKey ? [{ AttributeName: index.sortKey, KeyType: 'RANGE' }] : []),
          ],
          Projection: index.include
            ? { ProjectionType: 'INCLUDE', NonKeyAttributes: [...index.include] }
            : { ProjectionType: 'ALL' },
        }));
        expect(table.Properties.GlobalSecondaryIndexes ?? []).toEqual(expected);
        if (schema.id === 'Payments') {
          // The janitor reads only ids from by-status: an index write costs the id, not the whole event.
          expect(expected[0]?.Projection).toEqual({ ProjectionType: 'INCLUDE', NonKeyAttributes: ['payment_id'] });
        }
      });

      test('on demand, PITR, customer-managed KMS encryption (the data key), deletion protection, TTL per schema', () => {
        expect(table.Properties.BillingMode).toBe('PAY_PER_REQUEST');
        expect(table.Properties.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
        expect(table.Properties.SSESpecification).toEqual({
          SSEEnabled: true,
          SSEType: 'KMS',
          KMSMasterKeyId: { 'Fn::GetAtt': [dataKeyLogicalId(), 'Arn'] },
        });
        expect(table.Properties.DeletionProtectionEnabled).toBe(true);
        expect(table.Properties.TimeToLiveSpecification).toEqual(
          schema.timeToLiveAttribute ? { AttributeName: schema.timeToLiveAttribute, Enabled: true } : undefined,
        );
      });

      test('retained, with a generated name', () => {
        expect(table.DeletionPolicy).toBe('Retain');
        expect(table.UpdateReplacePolicy).toBe('Retain');
        expect(table.Properties.TableName).toBeUndefined();
      });
    },
  );

  test.each([
    ['PSP secret key', () => built.stateful.pspSecret],
    ['PSP Connect key', () => built.stateful.pspConnectSecret],
    ['webhook signing secret', () => built.stateful.webhookSecret],
  ] as const)('the %s: its own secret, retained, its value not in the template', (_name, secret) => {
    const logicalId = built.stateful.getLogicalId(secret().node.defaultChild as never);
    const resource = stateful.toJSON().Resources[logicalId] as Resource;
    expect(resource.Type).toBe('AWS::SecretsManager::Secret');
    expect(resource.DeletionPolicy).toBe('Retain');
    expect(resource.UpdateReplacePolicy).toBe('Retain');
    expect(resource.Properties.SecretString).toBeUndefined();
    const secrets = [built.stateful.pspSecret, built.stateful.pspConnectSecret, built.stateful.webhookSecret];
    expect(new Set(secrets.map((s) => built.stateful.getLogicalId(s.node.defaultChild as never))).size).toBe(3);
  });

  test("the PSP Connect key's secret: PspConnectSecretKey, described as the pay-out's restricted Connect key", () => {
    const logicalId = built.stateful.getLogicalId(built.stateful.pspConnectSecret.node.defaultChild as never);
    expect(logicalId).toMatch(/^PspConnectSecretKey[0-9A-F]{8}$/);
    const description = stateful.toJSON().Resources[logicalId].Properties.Description as string;
    for (const what of ['restricted key for Connect', 'accounts', 'account links', 'transfers', 'payouts'])
      expect(description).toContain(what);
    expect(description).toMatch(/read payments and balances/);
  });

  test('the pay-out tables and indexes: Sellers, Payouts (by-seller, by-status), and the pending-funds index of Wallets', () => {
    const byId = (id: string) => {
      const tables = Object.entries(stateful.findResources('AWS::DynamoDB::Table')).filter(([logicalId]) =>
        new RegExp(`^${id}[0-9A-F]{8}$`).test(logicalId),
      );
      expect([id, tables.length]).toEqual([id, 1]);
      return tables[0]![1] as Resource;
    };
    const indexes = (table: Resource) =>
      (table.Properties.GlobalSecondaryIndexes ?? []).map((index: Json) => ({
        name: index.IndexName,
        keys: index.KeySchema.map((key: Json) => `${key.KeyType}:${key.AttributeName}`),
      }));
    const sellers = byId('Sellers');
    expect(sellers.Properties.KeySchema).toEqual([{ AttributeName: 'pk', KeyType: 'HASH' }]);
    expect(indexes(sellers)).toEqual([]);
    const payouts = byId('Payouts');
    expect(payouts.Properties.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    expect(indexes(payouts)).toEqual([
      { name: 'by-seller', keys: ['HASH:seller_account', 'RANGE:created_at'] },
      { name: 'by-status', keys: ['HASH:open_status', 'RANGE:updated_at'] },
    ]);
    expect(indexes(byId('Wallets'))).toEqual([
      { name: 'pending-funds', keys: ['HASH:funds_shard', 'RANGE:funds_sort'] },
    ]);
    for (const table of [sellers, payouts]) {
      expect(table.DeletionPolicy).toBe('Retain');
      expect(table.Properties.DeletionProtectionEnabled).toBe(true);
      expect(table.Properties.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    }
  });

  test('the refunds table: Refunds (by-payment, by-status, disputes-by-status), retained, encrypted with the data key', () => {
    // Ten tables: the pay-in's, the pay-out's, Refunds, Reconciliation and the payments' Timeline.
    stateful.resourceCountIs('AWS::DynamoDB::Table', 10);
    const tables = Object.entries(stateful.findResources('AWS::DynamoDB::Table')).filter(([logicalId]) =>
      /^Refunds[0-9A-F]{8}$/.test(logicalId),
    );
    expect(tables).toHaveLength(1);
    const [logicalId, table] = tables[0]! as [string, Resource];
    expect(logicalId).toBe(built.stateful.getLogicalId(built.stateful.tables.refunds.node.defaultChild as CfnTable));
    expect(table.Properties.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    expect(
      (table.Properties.GlobalSecondaryIndexes ?? []).map((index: Json) => ({
        name: index.IndexName,
        keys: index.KeySchema.map((key: Json) => `${key.KeyType}:${key.AttributeName}`),
        projection: index.Projection.ProjectionType,
      })),
    ).toEqual([
      { name: 'by-payment', keys: ['HASH:payment_id', 'RANGE:created_at'], projection: 'ALL' },
      { name: 'by-status', keys: ['HASH:open_status', 'RANGE:updated_at'], projection: 'ALL' },
      { name: 'disputes-by-status', keys: ['HASH:dispute_status', 'RANGE:created_at'], projection: 'ALL' },
    ]);
    sameElements(
      table.Properties.AttributeDefinitions,
      ['pk', 'sk', 'payment_id', 'created_at', 'open_status', 'updated_at', 'dispute_status'].map((name) => ({
        AttributeName: name,
        AttributeType: 'S',
      })),
    );
    expect(table.DeletionPolicy).toBe('Retain');
    expect(table.UpdateReplacePolicy).toBe('Retain');
    expect(table.Properties).toMatchObject({
      BillingMode: 'PAY_PER_REQUEST',
      DeletionProtectionEnabled: true,
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: {
        SSEEnabled: true,
        SSEType: 'KMS',
        KMSMasterKeyId: { 'Fn::GetAtt': [dataKeyLogicalId(), 'Arn'] },
      },
    });
    // Refunds and disputes are kept: no TTL.
    expect(table.Properties.TimeToLiveSpecification).toBeUndefined();
    expect(tableSchemas.refunds.envVar).toBe('REFUNDS_TABLE');
  });
});

describe('Stack: PaymentsStateless', () => {
  describe('functions', () => {
    test('one nodejs22.x arm64 function per catalog entry, and no CDK-internal helper functions', () => {
      const node22arm = stateless.findResources('AWS::Lambda::Function', {
        Properties: { Runtime: 'nodejs22.x', Architectures: ['arm64'] },
      });
      expect(Object.keys(node22arm)).toHaveLength(functionSpecs.length);
      stateless.resourceCountIs('AWS::Lambda::Function', functionSpecs.length);
      stateful.resourceCountIs('AWS::Lambda::Function', 0);
    });

    test('asset bundling was skipped in these tests (no esbuild run)', () => {
      expect(spawned.filter((command) => command.includes('esbuild'))).toEqual([]);
    });

    describe.each(functionSpecs.map((spec) => [spec.id, spec] as const))('%s', (_id, spec: FunctionSpec) => {
      let fn: Resource;
      beforeAll(() => {
        fn = statelessResources[functionLogicalId(spec)]!;
      });

      test('runtime settings from the spec', () => {
        expect(fn.Properties).toMatchObject({
          Handler: 'index.handler',
          MemorySize: spec.memoryMb ?? DEFAULT_MEMORY_MB,
          Timeout: spec.timeoutSeconds,
          TracingConfig: { Mode: 'Active' },
        });
      });

      test('its own log group, with retention', () => {
        const logGroupId = fn.Properties.LoggingConfig.LogGroup.Ref;
        expect(statelessResources[logGroupId]).toMatchObject({
          Type: 'AWS::Logs::LogGroup',
          Properties: { RetentionInDays: 30 },
        });
      });

      test('environment: tables of its access map, PSP secrets, queues and state machine only when asked', () => {
        const env = fn.Properties.Environment.Variables as Record<string, unknown>;
        const expected = [
          'POWERTOOLS_SERVICE_NAME',
          'POWERTOOLS_METRICS_NAMESPACE',
          'POWERTOOLS_LOG_LEVEL',
          'NODE_OPTIONS',
          'PLATFORM_FEE_BPS',
          ...(Object.keys(spec.tables) as TableName[]).map((name) => tableSchemas[name].envVar),
          ...(spec.psp ? ['PSP_SECRET_ARN'] : []),
          ...(spec.pspConnect ? ['PSP_CONNECT_SECRET_ARN'] : []),
          ...(spec.webhookSecret ? ['PSP_WEBHOOK_SECRET_ARN'] : []),
          ...(spec.sendsTo ?? []).map(queueEnvVar),
          ...[...new Set([...(spec.startsWorkflows ?? []), ...(spec.readsHistoryOf ?? [])])].map(
            (name) => stateMachines[name].envVar,
          ),
          ...Object.keys(spec.buckets ?? {}).map((name) => catalogBuckets[name]!.envVar),
          ...(spec.invokes ?? []).map((id) => functionSpecOf(id).nameEnvVar),
        ];
        sameElements(Object.keys(env), expected);
        // The name of each function it invokes, under that function's nameEnvVar.
        for (const id of spec.invokes ?? []) {
          expect(env[functionSpecOf(id).nameEnvVar ?? 'missing']).toEqual({
            Ref: functionLogicalId(functionSpecOf(id)),
          });
        }
        expect(env).toMatchObject({
          POWERTOOLS_SERVICE_NAME: 'payments',
          POWERTOOLS_METRICS_NAMESPACE: 'Payments',
          POWERTOOLS_LOG_LEVEL: 'INFO',
          NODE_OPTIONS: '--enable-source-maps',
          PLATFORM_FEE_BPS: '0',
        });
        for (const name of Object.keys(spec.tables) as TableName[]) {
          expect(env[tableSchemas[name].envVar]).toEqual(
            built.stateless.resolve(built.stateful.tables[name].tableName),
          );
        }
        if (spec.psp) expect(env.PSP_SECRET_ARN).toEqual(built.stateless.resolve(built.stateful.pspSecret.secretArn));
        if (spec.pspConnect) {
          expect(env.PSP_CONNECT_SECRET_ARN).toEqual(
            built.stateless.resolve(built.stateful.pspConnectSecret.secretArn),
          );
        }
        if (spec.webhookSecret) {
          expect(env.PSP_WEBHOOK_SECRET_ARN).toEqual(built.stateless.resolve(built.stateful.webhookSecret.secretArn));
        }
        for (const name of spec.sendsTo ?? []) expect(env[queueEnvVar(name)]).toEqual({ Ref: anyQueueLogicalId(name) });
        for (const name of spec.startsWorkflows ?? []) {
          expect(env[stateMachines[name].envVar]).toEqual({ Ref: workflowLogicalId(name) });
        }
        if (spec.startsWorkflows?.includes('payIn')) expect(env[payIn.envVar]).toEqual({ Ref: payInLogicalId() });
      });

      test('least privilege: its tables with the access of its map, its secrets, queues and workflow rights, nothing else', () => {
        const statements = functionRoleStatements(spec);
        const starts = spec.startsWorkflows ?? [];
        const answers = spec.answersTasksOf ?? [];
        expect(statements.every((s) => s.Effect === 'Allow')).toBe(true);
        const writeActions = [
          'dynamodb:PutItem',
          'dynamodb:UpdateItem',
          'dynamodb:DeleteItem',
          'dynamodb:BatchWriteItem',
        ];
        for (const name of Object.keys(tableSchemas) as TableName[]) {
          const access = spec.tables[name];
          const onTable = statements.filter((s) => refersTo(s.Resource, tableArnIn(name)));
          const actions = onTable.flatMap((s) => toArray(s.Action));
          if (!access) {
            expect(onTable).toEqual([]);
            continue;
          }
          expect(actions).toEqual(expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:Query']));
          if (access === 'readWrite') expect(actions).toEqual(expect.arrayContaining(writeActions));
          else expect(actions.filter((action) => writeActions.includes(action))).toEqual([]);
        }
        // Each secret read only by the functions that ask for it, and only read.
        for (const [asked, secret] of [
          [spec.psp, built.stateful.pspSecret],
          [spec.pspConnect, built.stateful.pspConnectSecret],
          [spec.webhookSecret, built.stateful.webhookSecret],
        ] as const) {
          const onSecret = statements.filter((s) => refersTo(s.Resource, built.stateless.resolve(secret.secretArn)));
          sameElements(
            [...new Set(onSecret.flatMap((s) => toArray(s.Action)))],
            asked ? ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'] : [],
          );
        }
        // Each queue: send rights for its senders, consume rights for its consumer; no function touches a DLQ.
        const consumed = queueNames.filter((name) => catalogQueues[name].consumer === spec.id);
        for (const name of queueNames) {
          const onQueue = statements.filter((s) =>
            refersTo(s.Resource, { 'Fn::GetAtt': [queueLogicalId(name), 'Arn'] }),
          );
          sameElements(
            [...new Set(onQueue.flatMap((s) => toArray(s.Action)))],
            [
              ...new Set([
                ...(spec.sendsTo?.includes(name) ? SQS_SEND_ACTIONS : []),
                ...(consumed.includes(name) ? SQS_CONSUME_ACTIONS : []),
              ]),
            ],
          );
          const dlq = { 'Fn::GetAtt': [dlqLogicalId(name), 'Arn'] };
          expect(statements.filter((s) => refersTo(s.Resource, dlq))).toEqual([]);
        }
        // Each work queue: send rights for its senders only (people read it, no function consumes it); no DLQ.
        for (const name of workQueueNames) {
          const onQueue = statements.filter((s) =>
            refersTo(s.Resource, { 'Fn::GetAtt': [workQueueLogicalId(name), 'Arn'] }),
          );
          sameElements(
            [...new Set(onQueue.flatMap((s) => toArray(s.Action)))],
            spec.sendsTo?.includes(name) ? SQS_SEND_ACTIONS : [],
          );
          const dlq = { 'Fn::GetAtt': [workQueueDlqLogicalId(name), 'Arn'] };
          expect(statements.filter((s) => refersTo(s.Resource, dlq))).toEqual([]);
        }
        // KMS: the data key for its tables (and buckets), the messaging key for its queues, with the access of each.
        expectKeyRights(statements, spec, consumed);
        const services = new Set(statements.flatMap((s) => toArray(s.Action)).map((action) => action.split(':')[0]));
        sameElements(
          [...services],
          [
            'logs',
            'xray',
            ...(Object.keys(spec.tables).length > 0 ||
            Object.keys(spec.buckets ?? {}).length > 0 ||
            (spec.sendsTo ?? []).length > 0 ||
            consumed.length > 0
              ? ['kms']
              : []),
            ...(Object.keys(spec.tables).length > 0 ? ['dynamodb'] : []),
            ...(spec.psp || spec.pspConnect || spec.webhookSecret ? ['secretsmanager'] : []),
            ...((spec.sendsTo ?? []).length > 0 || consumed.length > 0 ? ['sqs'] : []),
            ...(starts.length > 0 || answers.length > 0 || (spec.readsHistoryOf ?? []).length > 0 ? ['states'] : []),
            ...(Object.keys(spec.buckets ?? {}).length > 0 ? ['s3'] : []),
            ...((spec.invokes ?? []).length > 0 ? ['lambda'] : []),
          ],
        );
        const actions = statements.flatMap((s) => toArray(s.Action));
        // Invoking: lambda:InvokeFunction only, on exactly the functions it invokes (unqualified ARNs, no wildcard).
        const onLambda = statements.filter((s) => toArray(s.Action).some((a) => a.startsWith('lambda:')));
        if ((spec.invokes ?? []).length === 0) expect(onLambda).toEqual([]);
        else {
          expect(onLambda).toHaveLength(1);
          expect(toArray(onLambda[0]!.Action)).toEqual(['lambda:InvokeFunction']);
          sameElements(
            toArray(onLambda[0]!.Resource).map((r) => JSON.stringify(r)),
            (spec.invokes ?? []).map((id) =>
              JSON.stringify({ 'Fn::GetAtt': [functionLogicalId(functionSpecOf(id)), 'Arn'] }),
            ),
          );
        }
        expect(actions.filter((action) => action.startsWith('logs:'))).toEqual([
          'logs:CreateLogStream',
          'logs:PutLogEvents',
        ]);
        expectWorkflowRights(statements, starts, answers, workflowLogicalId, spec.readsHistoryOf ?? []);
        if (starts.includes('payIn')) {
          const start = statements.filter((s) => toArray(s.Action).includes('states:StartExecution'));
          expect(start.map((s) => s.Resource)).toEqual([{ Ref: payInLogicalId() }]);
          // DescribeExecution (a re-drive checks whether the current execution runs) on this machine's executions.
          const describe = statements.filter((s) => toArray(s.Action).includes('states:DescribeExecution'));
          expect(describe).toHaveLength(1);
          expect(JSON.stringify(describe[0]!.Resource)).toMatch(/:execution:.*PayInStateMachine.*:\*/);
        }
        if (answers.length > 0) {
          // Answering task tokens (the machines' waitForTaskToken Tasks): on exactly the machines it answers.
          const respond = statements.filter((s) => toArray(s.Action).some((a) => a.startsWith('states:SendTask')));
          expect(respond).toHaveLength(1);
          sameElements(toArray(respond[0]!.Action), TASK_RESPONSE_ACTIONS);
          sameElements(
            toArray(respond[0]!.Resource).map((r) => JSON.stringify(r)),
            answers.map((name) => JSON.stringify({ Ref: workflowLogicalId(name) })),
          );
        }
        sameElements(
          [...new Set(actions.filter((action) => action.startsWith('states:')))],
          [
            ...new Set([
              ...(starts.length > 0 ? ['states:StartExecution', 'states:DescribeExecution'] : []),
              ...(answers.length > 0 ? TASK_RESPONSE_ACTIONS : []),
              ...((spec.readsHistoryOf ?? []).length > 0
                ? ['states:DescribeExecution', 'states:GetExecutionHistory']
                : []),
            ]),
          ],
        );
      });

      test('its role has no managed policies', () => {
        const roleId = fn.Properties.Role['Fn::GetAtt'][0];
        expect(statelessResources[roleId]!.Properties.ManagedPolicyArns).toBeUndefined();
      });
    });

    test('context platformFeeBps reaches every function, and a bad value fails the synth', () => {
      const { stateless: stack } = buildApp({ platformFeeBps: '250' });
      const all = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function'));
      expect(all.map((fn) => fn.Properties.Environment.Variables.PLATFORM_FEE_BPS)).toEqual(all.map(() => '250'));
      expect(() => buildApp({ platformFeeBps: '12.5' })).toThrow(/platformFeeBps/);
    });
  });

  describe.each(machineNames.map((name) => [stateMachines[name].id, name] as const))(
    '%s state machine',
    (_id, name: StateMachineName) => {
      const spec = stateMachines[name];
      const text = readFileSync(path.join(REPO_ROOT, spec.file), 'utf8');
      let machine: Resource;
      beforeAll(() => {
        machine = statelessResources[workflowLogicalId(name)]!;
      });

      test('standard, traced, logging without execution data (one state machine per catalog entry)', () => {
        stateless.resourceCountIs('AWS::StepFunctions::StateMachine', machineNames.length);
        expect(machine.Type).toBe('AWS::StepFunctions::StateMachine');
        expect(machine.Properties).toMatchObject({
          StateMachineType: 'STANDARD',
          TracingConfiguration: { Enabled: true },
          LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: false },
        });
      });

      test('its definition is the ASL file', () => {
        expect(JSON.parse(machine.Properties.DefinitionString)).toEqual(JSON.parse(text));
      });

      test("its substitutions are exactly the ASL's placeholders, each the ARN of the catalog's function", () => {
        const variables = [...new Set([...text.matchAll(/\$\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1]!))];
        expect(variables.length).toBeGreaterThan(0);
        const substitutions = machine.Properties.DefinitionSubstitutions as Record<string, unknown>;
        sameElements(Object.keys(substitutions), variables);
        sameElements(Object.keys(spec.substitutions), variables);
        for (const [variable, functionId] of Object.entries(spec.substitutions)) {
          expect(substitutions[variable]).toEqual({
            'Fn::GetAtt': [functionLogicalId(functions[functionId]), 'Arn'],
          });
        }
      });

      test('its role may invoke exactly the step functions', () => {
        const statements = rolePolicyStatements(machine.Properties.RoleArn['Fn::GetAtt'][0]);
        const invoke = statements.filter((s) => toArray(s.Action).includes('lambda:InvokeFunction'));
        const invoked = new Set(
          invoke
            .flatMap((s) => toArray(s.Resource))
            .map((r) => JSON.stringify(r).match(/"([A-Za-z0-9]+Function[0-9A-F]{8})"/)?.[1]),
        );
        sameElements(
          [...invoked],
          [...new Set(Object.values(spec.substitutions))].map((id) => functionLogicalId(functions[id])),
        );
      });

      test('its role has Step Functions rights on its own executions exactly when it has a Distributed Map', () => {
        const statements = rolePolicyStatements(machine.Properties.RoleArn['Fn::GetAtt'][0]);
        const states = statements.filter((s) => toArray(s.Action).some((action) => action.startsWith('states:')));
        if (distributedMapStates(JSON.parse(text)).length === 0) {
          expect(states).toEqual([]);
          return;
        }
        expectDistributedMapRights(states, workflowLogicalId(name));
      });
      /** Every state of the ASL, Map and Parallel sub-states included. */
      function aslStates(): [string, Json][] {
        const walk = (states: Record<string, Json>): [string, Json][] =>
          Object.entries(states).flatMap(([stateName, state]) => [
            [stateName, state] as [string, Json],
            ...walk(state.ItemProcessor?.States ?? state.Iterator?.States ?? {}),
            ...(state.Branches ?? []).flatMap((branch: Json) => walk(branch.States)),
          ]);
        return walk(JSON.parse(text).States);
      }

      test('every Task invokes a function through a substitution (Resource, or FunctionName of lambda:invoke)', () => {
        const tasks = aslStates().filter(([, state]) => state.Type === 'Task');
        expect(tasks.length).toBeGreaterThan(0);
        const placeholder = /^\$\{([A-Za-z0-9_]+)\}$/;
        for (const [stateName, task] of tasks) {
          const target = String(task.Resource).startsWith('arn:aws:states:::lambda:invoke')
            ? task.Parameters?.FunctionName
            : task.Resource;
          const variable = String(target).match(placeholder)?.[1];
          expect([stateName, variable && variable in spec.substitutions]).toEqual([stateName, true]);
        }
      });

      test('a waitForTaskToken Task passes its token, has a timeout, and catalog functions respond to tasks', () => {
        const waiting = aslStates().filter(([, state]) => String(state.Resource).endsWith('.waitForTaskToken'));
        for (const [, task] of waiting) {
          expect(JSON.stringify(task.Parameters)).toContain('"$$.Task.Token"');
          expect(task.TimeoutSeconds ?? task.TimeoutSecondsPath).toBeDefined();
        }
        // Without a responder the executions could only time out; with tokens nowhere, no function needs the right.
        expect(functionSpecs.some((fnSpec) => fnSpec.answersTasksOf?.includes(name))).toBe(waiting.length > 0);
      });
    },
  );

  describe('pay-out state machine', () => {
    test('PayOut: the definition of state-machines/pay-out.asl.json, its four steps the ARNs of their functions', () => {
      const ids = Object.keys(stateless.findResources('AWS::StepFunctions::StateMachine')).filter((id) =>
        /^PayOutStateMachine[0-9A-F]{8}$/.test(id),
      );
      expect(ids).toEqual([workflowLogicalId('payOut')]);
      const machine = statelessResources[ids[0]!]!;
      const asl = JSON.parse(readFileSync(path.join(REPO_ROOT, 'state-machines/pay-out.asl.json'), 'utf8'));
      expect(JSON.parse(machine.Properties.DefinitionString)).toEqual(asl);
      const arn = (id: FunctionId) => ({ 'Fn::GetAtt': [functionLogicalId(functions[id]), 'Arn'] });
      expect(machine.Properties.DefinitionSubstitutions).toEqual({
        TransferFunctionArn: arn('Transfer'),
        SendPayoutFunctionArn: arn('SendPayout'),
        AwaitPayoutFunctionArn: arn('AwaitPayout'),
        SettlePayoutFunctionArn: arn('SettlePayout'),
      });
      // The pay-in machine is another one, from its own file.
      expect(workflowLogicalId('payOut')).not.toBe(payInLogicalId());
      expect(JSON.parse(statelessResources[payInLogicalId()]!.Properties.DefinitionString)).not.toEqual(asl);
    });

    test('its failed executions go, by their own rule, to the FailedPayouts queue (with DLQs and alarms)', () => {
      const payOut = built.stateless.payOut;
      const queueId = failedExecutionsLogicalId('payOut');
      expect(queueId).toMatch(/^PayOutFailedPayouts[0-9A-F]{8}$/);
      expect(queueId).not.toBe(failedPaymentsLogicalId());
      const rules = Object.values(
        stateless.findResources('AWS::Events::Rule', { Properties: { EventPattern: { source: ['aws.states'] } } }),
      ).filter((rule) =>
        refersTo(rule.Properties.EventPattern.detail.stateMachineArn, { Ref: workflowLogicalId('payOut') }),
      );
      expect(rules).toHaveLength(1);
      expect(rules[0]!.Properties.EventPattern.detail).toEqual({
        status: ['FAILED', 'TIMED_OUT', 'ABORTED'],
        stateMachineArn: [{ Ref: workflowLogicalId('payOut') }],
      });
      expect(rules[0]!.Properties.Targets).toHaveLength(1);
      const [target] = rules[0]!.Properties.Targets;
      expect(target.Arn).toEqual({ 'Fn::GetAtt': [queueId, 'Arn'] });
      const ruleDlqId = built.stateless.getLogicalId(payOut.ruleDlq.node.defaultChild as never);
      expect(target.DeadLetterConfig.Arn).toEqual({ 'Fn::GetAtt': [ruleDlqId, 'Arn'] });
      const dlqId = built.stateless.getLogicalId(payOut.failedExecutionsDlq.node.defaultChild as never);
      expect(statelessResources[queueId]!.Properties.RedrivePolicy).toEqual({
        deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] },
        maxReceiveCount: 5,
      });
      expect(statelessResources[queueId]!.Properties.MessageRetentionPeriod).toBe(14 * 24 * 3600);
      for (const id of [queueId, dlqId, ruleDlqId]) {
        const alarms = Object.values(stateless.findResources('AWS::CloudWatch::Alarm')).filter((alarm) =>
          refersTo(alarm.Properties.Dimensions, { 'Fn::GetAtt': [id, 'QueueName'] }),
        );
        expect([id, alarms.length]).toEqual([id, 1]);
        expect(alarms[0]!.Properties).toMatchObject({ Threshold: 1, MetricName: 'ApproximateNumberOfMessagesVisible' });
      }
    });
  });

  describe('refund state machine', () => {
    const refundFile = 'state-machines/refund.asl.json';
    const refundText = () => readFileSync(path.join(REPO_ROOT, refundFile), 'utf8');
    const refundSteps: [string, FunctionId][] = [
      ['DebitAndBookFunctionArn', 'DebitAndBook'],
      ['RefundAtPspFunctionArn', 'RefundAtPsp'],
      ['AwaitRefundFunctionArn', 'AwaitRefund'],
      ['SettleRefundFunctionArn', 'SettleRefund'],
    ];
    const arn = (id: FunctionId) => ({ 'Fn::GetAtt': [functionLogicalId(functions[id]), 'Arn'] });

    test('four state machines: PayIn, PayOut, Refund and Reconciliation, each from its own file', () => {
      stateless.resourceCountIs('AWS::StepFunctions::StateMachine', 4);
      expect(machineNames).toEqual(['payIn', 'payOut', 'refund', 'reconciliation']);
      expect(stateMachines.refund.file).toBe(refundFile);
      expect(new Set(machineNames.map((name) => workflowLogicalId(name))).size).toBe(4);
      expect(built.stateless.refund).toBe(built.stateless.workflows.refund);
    });

    test('Refund: the definition of state-machines/refund.asl.json, its four steps the ARNs of their functions', () => {
      const ids = Object.keys(stateless.findResources('AWS::StepFunctions::StateMachine')).filter((id) =>
        /^RefundStateMachine[0-9A-F]{8}$/.test(id),
      );
      expect(ids).toEqual([workflowLogicalId('refund')]);
      const machine = statelessResources[ids[0]!]!;
      const asl = JSON.parse(refundText());
      expect(JSON.parse(machine.Properties.DefinitionString)).toEqual(asl);
      expect(machine.Properties.DefinitionSubstitutions).toEqual(
        Object.fromEntries(refundSteps.map(([variable, id]) => [variable, arn(id)])),
      );
      expect(machine.Properties).toMatchObject({
        StateMachineType: 'STANDARD',
        TracingConfiguration: { Enabled: true },
        LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: false },
      });
      // The pay-in and pay-out machines are others, from their own files.
      for (const other of ['payIn', 'payOut'] as const) {
        expect(workflowLogicalId(other)).not.toBe(ids[0]);
        expect(JSON.parse(statelessResources[workflowLogicalId(other)]!.Properties.DefinitionString)).not.toEqual(asl);
      }
    });

    test('its four substitutions resolved, each Task runs its own step function and no placeholder is left', () => {
      const machine = statelessResources[workflowLogicalId('refund')]!;
      const substitutions = machine.Properties.DefinitionSubstitutions as Record<string, Json>;
      const definition = machine.Properties.DefinitionString as string;
      // Control: before the substitutions, the definition names its four placeholders.
      const placeholders = [...new Set([...definition.matchAll(/\$\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1]!))];
      sameElements(
        placeholders,
        refundSteps.map(([variable]) => variable),
      );
      // What Step Functions gets: each ${Variable} replaced by its value (here, the function's logical id).
      let resolved = definition;
      for (const [variable, value] of Object.entries(substitutions)) {
        resolved = resolved.replaceAll(`\${${variable}}`, `function:${value['Fn::GetAtt'][0]}`);
      }
      expect(resolved).not.toMatch(/\$\{/);
      const states = JSON.parse(resolved).States as Record<string, Json>;
      const tasks = Object.entries(states)
        .filter(([, state]) => state.Type === 'Task')
        .map(([name, state]) => [
          name,
          state.Resource === 'arn:aws:states:::lambda:invoke.waitForTaskToken'
            ? state.Parameters.FunctionName
            : state.Resource,
        ]);
      expect(tasks).toEqual(refundSteps.map(([, id]) => [id, `function:${functionLogicalId(functions[id])}`]));
      // The wait passes its task token to AwaitRefund, for 14 days at most.
      expect(states.AwaitRefund.Parameters.Payload['task_token.$']).toBe('$$.Task.Token');
      expect(states.AwaitRefund.TimeoutSeconds).toBe(14 * 24 * 3600);
    });

    test('its role may invoke the four refund steps, and no other function', () => {
      const machine = statelessResources[workflowLogicalId('refund')]!;
      const invoked = rolePolicyStatements(machine.Properties.RoleArn['Fn::GetAtt'][0])
        .filter((s) => toArray(s.Action).includes('lambda:InvokeFunction'))
        .flatMap((s) => toArray(s.Resource))
        .map((r) => JSON.stringify(r).match(/"([A-Za-z0-9]+Function[0-9A-F]{8})"/)?.[1]);
      expect(invoked.length).toBeGreaterThan(0);
      sameElements(
        [...new Set(invoked)],
        refundSteps.map(([, id]) => functionLogicalId(functions[id])),
      );
    });

    test('its failed executions go, by their own rule, to the FailedRefunds queue (with DLQs and alarms)', () => {
      const refund = built.stateless.refund;
      const queueId = failedExecutionsLogicalId('refund');
      expect(queueId).toMatch(/^RefundFailedRefunds[0-9A-F]{8}$/);
      expect(stateMachines.refund.failedExecutionsQueue).toEqual({
        id: 'FailedRefunds',
        envVar: 'FAILED_REFUNDS_QUEUE_URL',
      });
      for (const other of ['payIn', 'payOut'] as const) expect(queueId).not.toBe(failedExecutionsLogicalId(other));
      const rules = Object.values(
        stateless.findResources('AWS::Events::Rule', { Properties: { EventPattern: { source: ['aws.states'] } } }),
      ).filter((rule) =>
        refersTo(rule.Properties.EventPattern.detail.stateMachineArn, { Ref: workflowLogicalId('refund') }),
      );
      expect(rules).toHaveLength(1);
      expect(rules[0]!.Properties.EventPattern.detail).toEqual({
        status: ['FAILED', 'TIMED_OUT', 'ABORTED'],
        stateMachineArn: [{ Ref: workflowLogicalId('refund') }],
      });
      expect(rules[0]!.Properties.Targets).toHaveLength(1);
      const [target] = rules[0]!.Properties.Targets;
      expect(target.Arn).toEqual({ 'Fn::GetAtt': [queueId, 'Arn'] });
      const ruleDlqId = built.stateless.getLogicalId(refund.ruleDlq.node.defaultChild as never);
      expect(ruleDlqId).toMatch(/^RefundFailedRefundsRuleDlq[0-9A-F]{8}$/);
      expect(target.DeadLetterConfig.Arn).toEqual({ 'Fn::GetAtt': [ruleDlqId, 'Arn'] });
      expect(target.RetryPolicy).toEqual({ MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 24 * 3600 });
      const dlqId = built.stateless.getLogicalId(refund.failedExecutionsDlq.node.defaultChild as never);
      expect(dlqId).toMatch(/^RefundFailedRefundsDlq[0-9A-F]{8}$/);
      expect(statelessResources[queueId]!.Properties.RedrivePolicy).toEqual({
        deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] },
        maxReceiveCount: 5,
      });
      expect(statelessResources[queueId]!.Properties.MessageRetentionPeriod).toBe(14 * 24 * 3600);
      for (const id of [queueId, dlqId, ruleDlqId]) {
        expect(statelessResources[id]!.Properties.KmsMasterKeyId).toEqual({
          'Fn::GetAtt': [messagingKeyLogicalId(), 'Arn'],
        });
        const alarms = Object.values(stateless.findResources('AWS::CloudWatch::Alarm')).filter((alarm) =>
          refersTo(alarm.Properties.Dimensions, { 'Fn::GetAtt': [id, 'QueueName'] }),
        );
        expect([id, alarms.length]).toEqual([id, 1]);
        expect(alarms[0]!.Properties).toMatchObject({
          Threshold: 1,
          MetricName: 'ApproximateNumberOfMessagesVisible',
          AlarmActions: [{ Ref: alarmTopicLogicalId() }],
        });
      }
      // Its URL is for operator tooling: no function is given it (control: a work queue's URL is found in its sender's).
      const envText = (spec: FunctionSpec) =>
        JSON.stringify(statelessResources[functionLogicalId(spec)]!.Properties.Environment.Variables);
      expect(envText(functions.PspWebhook)).toContain(queueLogicalId('pspWebhooks'));
      for (const spec of functionSpecs) expect([spec.id, envText(spec).includes(queueId)]).toEqual([spec.id, false]);
    });

    test('its ARN is a stack output', () => {
      const outputs = stateless.toJSON().Outputs;
      expect(outputs.RefundStateMachineArn.Value).toEqual({ Ref: workflowLogicalId('refund') });
    });
  });

  describe('state machines', () => {
    test('no dependency cycle in either template (e.g. task-response grants vs. the step functions)', () => {
      for (const template of [stateless, stateful]) expect(dependencyCycle(template.toJSON())).toEqual([]);
    });

    test('control: a task-response grant in a step function default policy is such a cycle', () => {
      const app = new App();
      const stack = new Stack(app, 'CycleControl');
      const fn = new LambdaFunction(stack, 'Step', {
        runtime: Runtime.NODEJS_22_X,
        handler: 'index.handler',
        code: Code.fromInline('exports.handler = async () => ({});'),
      });
      const machine = new StateMachine(stack, 'Machine', {
        definitionBody: DefinitionBody.fromString(
          // biome-ignore lint/suspicious/noTemplateCurlyInString: an ASL definitionSubstitutions placeholder.
          '{"StartAt":"S","States":{"S":{"Type":"Task","Resource":"${Fn}","End":true}}}',
        ),
        definitionSubstitutions: { Fn: fn.functionArn },
      });
      machine.grantTaskResponse(fn);
      const template = app.synth().getStackByName(stack.stackName).template as { Resources: Record<string, Json> };
      expect(dependencyCycle(template)).toEqual(
        expect.arrayContaining([stack.getLogicalId(fn.node.defaultChild as never)]),
      );
      // The assertions library refuses such a template too (so the synth in beforeAll would have thrown).
      expect(() => Template.fromStack(stack)).toThrow(/dependency cycle/);
    });
  });

  describe('REST API', () => {
    /** API Gateway resource logical id -> its full path, rebuilt from PathPart/ParentId. */
    function resourcePaths(template: Template): Map<string, string> {
      const resources = template.findResources('AWS::ApiGateway::Resource');
      const pathOf = (id: string): string => {
        const parent = resources[id]!.Properties.ParentId;
        return `${parent.Ref ? pathOf(parent.Ref) : ''}/${resources[id]!.Properties.PathPart}`;
      };
      return new Map(Object.keys(resources).map((id) => [id, pathOf(id)]));
    }

    function methodFor(template: Template, route: RouteSpec): Resource {
      const paths = resourcePaths(template);
      const matches = Object.values(template.findResources('AWS::ApiGateway::Method')).filter(
        (method) =>
          method.Properties.HttpMethod === route.method && paths.get(method.Properties.ResourceId.Ref) === route.path,
      );
      expect(matches).toHaveLength(1);
      return matches[0] as Resource;
    }

    test('one method per route', () => {
      stateless.resourceCountIs('AWS::ApiGateway::Method', apiRoutes.length);
    });

    test.each(apiRoutes.map((route) => [`${route.method} ${route.path}`, route] as const))(
      '%s: Lambda proxy to its function, authorizer as the catalog says',
      (_name, route: RouteSpec) => {
        const method = methodFor(stateless, route);
        expect(method.Properties.Integration.Type).toBe('AWS_PROXY');
        expect(JSON.stringify(method.Properties.Integration.Uri)).toContain(
          JSON.stringify({ 'Fn::GetAtt': [functionLogicalId(functions[route.functionId]), 'Arn'] }),
        );
        if (route.authorized) {
          expect(method.Properties.AuthorizationType).toBe('CUSTOM');
          expect(method.Properties.AuthorizerId).toEqual({ Ref: authorizerLogicalId(stateless) });
        } else {
          expect(method.Properties.AuthorizationType).toBe('NONE');
          expect(method.Properties.AuthorizerId).toBeUndefined();
        }
      },
    );

    test('PUT /v1/sellers/{seller_account}: a PUT method, Lambda proxy to PutSeller, behind the REQUEST authorizer', () => {
      const method = methodFor(stateless, {
        method: 'PUT',
        path: '/v1/sellers/{seller_account}',
        functionId: 'PutSeller',
        authorized: true,
      });
      expect(method.Properties.HttpMethod).toBe('PUT');
      expect(method.Properties.AuthorizationType).toBe('CUSTOM');
      expect(method.Properties.AuthorizerId).toEqual({ Ref: authorizerLogicalId(stateless) });
      expect(method.Properties.Integration).toMatchObject({ Type: 'AWS_PROXY', IntegrationHttpMethod: 'POST' });
      expect(JSON.stringify(method.Properties.Integration.Uri)).toContain(
        JSON.stringify({ 'Fn::GetAtt': [functionLogicalId(functions.PutSeller), 'Arn'] }),
      );
      // API Gateway may invoke PutSeller for this method (a permission scoped to PUT on the resource).
      const permissions = Object.values(stateless.findResources('AWS::Lambda::Permission')).filter(
        (permission) =>
          JSON.stringify(permission.Properties.FunctionName) ===
            JSON.stringify({ 'Fn::GetAtt': [functionLogicalId(functions.PutSeller), 'Arn'] }) &&
          JSON.stringify(permission.Properties.SourceArn).includes('/PUT/v1/sellers/*'),
      );
      expect(permissions.length).toBeGreaterThan(0);
    });

    test.each([
      ['POST', '/v1/payments/{payment_id}/refunds', 'CreateRefund', '/POST/v1/payments/*/refunds'],
      ['GET', '/v1/refunds/{refund_id}', 'GetRefund', '/GET/v1/refunds/*'],
      ['GET', '/v1/disputes', 'ListDisputes', '/GET/v1/disputes'],
      ['GET', '/v1/disputes/{dispute_id}', 'GetDispute', '/GET/v1/disputes/*'],
    ] as const)(
      'refunds and disputes: %s %s, Lambda proxy to %s behind the REQUEST authorizer',
      (httpMethod, routePath, functionId, sourcePath) => {
        const route: RouteSpec = { method: httpMethod, path: routePath, functionId, authorized: true };
        expect(apiRoutes).toContainEqual(expect.objectContaining(route));
        const method = methodFor(stateless, route);
        expect(method.Properties.HttpMethod).toBe(httpMethod);
        expect(method.Properties.AuthorizationType).toBe('CUSTOM');
        expect(method.Properties.AuthorizerId).toEqual({ Ref: authorizerLogicalId(stateless) });
        expect(method.Properties.ApiKeyRequired).toBeFalsy();
        expect(method.Properties.Integration).toMatchObject({ Type: 'AWS_PROXY', IntegrationHttpMethod: 'POST' });
        const fnArn = { 'Fn::GetAtt': [functionLogicalId(functions[functionId]), 'Arn'] };
        expect(JSON.stringify(method.Properties.Integration.Uri)).toContain(JSON.stringify(fnArn));
        // API Gateway may invoke the function for this method and path on the deployed stage only (no test-invoke
        // permission), and for nothing else.
        const permissions = Object.values(stateless.findResources('AWS::Lambda::Permission')).filter(
          (permission) => JSON.stringify(permission.Properties.FunctionName) === JSON.stringify(fnArn),
        );
        expect(permissions).toHaveLength(1);
        expect(permissions[0]!.Properties.Principal).toBe('apigateway.amazonaws.com');
        const sourceArn = permissions[0]!.Properties.SourceArn['Fn::Join'][1] as Json[];
        expect(sourceArn.at(-1)).toBe(sourcePath);
        expect(sourceArn).toContainEqual({
          Ref: built.stateless.getLogicalId(built.stateless.api.api.deploymentStage.node.defaultChild as never),
        });
      },
    );

    function authorizerLogicalId(template: Template): string {
      const ids = Object.keys(template.findResources('AWS::ApiGateway::Authorizer'));
      expect(ids).toHaveLength(1);
      return ids[0]!;
    }

    test('a REQUEST authorizer on the Authorization header, backed by the Authorizer function, cached 5 min', () => {
      const authorizer = statelessResources[authorizerLogicalId(stateless)]!;
      expect(authorizer.Properties).toMatchObject({
        Type: 'REQUEST',
        IdentitySource: 'method.request.header.Authorization',
        AuthorizerResultTtlInSeconds: 300,
      });
      expect(JSON.stringify(authorizer.Properties.AuthorizerUri)).toContain(functionLogicalId(functions.Authorizer));
    });

    test('stage: throttled, access logs, execution logs without data, tracing', () => {
      stateless.hasResourceProperties('AWS::ApiGateway::Stage', {
        TracingEnabled: true,
        AccessLogSetting: { DestinationArn: Match.anyValue(), Format: Match.anyValue() },
        MethodSettings: Match.arrayWith([
          Match.objectLike({
            HttpMethod: '*',
            ResourcePath: '/*',
            LoggingLevel: 'ERROR',
            DataTraceEnabled: false,
            ThrottlingRateLimit: Match.anyValue(),
            ThrottlingBurstLimit: Match.anyValue(),
          }),
        ]),
      });
    });

    const publicRoutes = apiRoutes.filter((route) => !route.authorized);

    test('the PSP webhook route is public, and every public route verifies a webhook signature', () => {
      expect(publicRoutes).toContainEqual(expect.objectContaining({ method: 'POST', path: '/v1/webhooks/psp' }));
      for (const route of publicRoutes)
        expect([route.path, functions[route.functionId].webhookSecret]).toEqual([route.path, true]);
    });

    test('public routes: no authorizer, no API key, and the raw body passed through untouched', () => {
      for (const route of publicRoutes) {
        const method = methodFor(stateless, route).Properties;
        expect(method.AuthorizationType).toBe('NONE');
        expect(method.AuthorizerId).toBeUndefined();
        expect(method.ApiKeyRequired).toBeFalsy();
        // A Lambda proxy hands the function the body as received; nothing maps, converts or validates it.
        expect(method.Integration.Type).toBe('AWS_PROXY');
        expect(method.Integration.RequestTemplates).toBeUndefined();
        expect(method.Integration.ContentHandling).toBeUndefined();
        expect(method.RequestValidatorId).toBeUndefined();
        expect(method.RequestModels).toBeUndefined();
      }
      stateless.resourceCountIs('AWS::ApiGateway::RequestValidator', 0);
      stateless.resourceCountIs('AWS::ApiGateway::Model', 0);
      const apis = Object.values(stateless.findResources('AWS::ApiGateway::RestApi'));
      expect(apis).toHaveLength(1);
      expect(apis[0]!.Properties.BinaryMediaTypes).toBeUndefined();
    });

    test('public routes: cdk-nag APIG4 and COG4 acknowledged on the method itself, with the signature as reason', () => {
      for (const route of publicRoutes) {
        const resource = built.stateless.api.api.root.resourceForPath(route.path);
        const method = resource.node.findChild(route.method);
        for (const rule of ['AwsSolutions-APIG4', 'AwsSolutions-COG4']) {
          const own = method.node.metadata
            .filter((entry) => entry.type === 'aws:cdk:acknowledged-rules')
            .flatMap((entry) => Object.entries(entry.data as Record<string, string>))
            .find(([id]) => id.replace(/^annotation::/i, '') === rule);
          expect(own?.[1]).toMatch(/^PSP webhook: authenticated by the Stripe-Signature HMAC verified in the function/);
        }
      }
    });

    test('control (scratch API): a public route whose function verifies no signature fails the synth', () => {
      const stack = new Stack(new App(), 'ScratchApi');
      const stub = (id: string) =>
        new LambdaFunction(stack, id, {
          runtime: Runtime.NODEJS_22_X,
          handler: 'index.handler',
          code: Code.fromInline('exports.handler = async () => ({});'),
        });
      const fns = Object.fromEntries(functionSpecs.map((spec) => [spec.id, stub(spec.id)])) as Record<
        FunctionId,
        LambdaFunction
      >;
      const unsigned = functionSpecs.find((spec) => !spec.webhookSecret)!;
      const routes: RouteSpec[] = [
        { method: 'POST', path: '/v1/open', functionId: unsigned.id as FunctionId, authorized: false },
      ];
      expect(() => new PaymentsApi(stack, 'Api', { routes, functions: fns, authorizer: fns.Authorizer })).toThrow(
        /authorized: false .* verifies no webhook signature/,
      );
    });
  });

  describe('failure paths: queues, dead letters, alarms', () => {
    let queues: Record<string, Resource>;
    let dlqs: Set<string>;
    const getAttQueue = (value: Json): string => {
      const [id, attribute] = value['Fn::GetAtt'];
      expect(attribute).toBe('Arn');
      expect(queues[id]).toBeDefined();
      return id;
    };

    beforeAll(() => {
      queues = stateless.findResources('AWS::SQS::Queue') as Record<string, Resource>;
      const rules = Object.values(stateless.findResources('AWS::Events::Rule'));
      dlqs = new Set([
        ...Object.values(queues)
          .filter((queue) => queue.Properties.RedrivePolicy)
          .map((queue) => getAttQueue(queue.Properties.RedrivePolicy.deadLetterTargetArn)),
        ...rules
          .flatMap((rule) => rule.Properties.Targets)
          .filter((target: Json) => target.DeadLetterConfig)
          .map((target: Json) => getAttQueue(target.DeadLetterConfig.Arn)),
      ]);
    });

    test('every queue that is not a DLQ redrives to its own DLQ (after 5 receives, or those of its catalog spec)', () => {
      const workQueues = Object.keys(queues).filter((id) => !dlqs.has(id));
      const expected = new Map<string, number>([
        [failedPaymentsLogicalId(), 5],
        ...machineNames.map((name) => [failedExecutionsLogicalId(name), 5] as [string, number]),
        ...queueNames.map((name) => [queueLogicalId(name), catalogQueues[name].maxReceiveCount] as [string, number]),
        ...workQueueNames.map(
          (name) => [workQueueLogicalId(name), catalogWorkQueues[name].maxReceiveCount] as [string, number],
        ),
      ]);
      sameElements(workQueues, [...expected.keys()]);
      const targets = new Set<string>();
      for (const id of workQueues) {
        const redrive = queues[id]!.Properties.RedrivePolicy;
        expect([id, redrive?.maxReceiveCount]).toEqual([id, expected.get(id)]);
        const target = getAttQueue(redrive.deadLetterTargetArn);
        expect(dlqs.has(target)).toBe(true);
        targets.add(target);
      }
      expect(targets.size).toBe(workQueues.length);
    });

    test('DLQs keep messages 14 days and have no DLQ themselves', () => {
      expect(dlqs.size).toBeGreaterThanOrEqual(2);
      for (const id of dlqs) {
        expect(queues[id]!.Properties.MessageRetentionPeriod).toBe(14 * 24 * 3600);
        expect(queues[id]!.Properties.RedrivePolicy).toBeUndefined();
      }
    });

    test('every queue: encrypted with the messaging key (customer-managed) and TLS only', () => {
      const policies = Object.values(stateless.findResources('AWS::SQS::QueuePolicy'));
      for (const id of Object.keys(queues)) {
        expect([id, queues[id]!.Properties.KmsMasterKeyId]).toEqual([
          id,
          { 'Fn::GetAtt': [messagingKeyLogicalId(), 'Arn'] },
        ]);
        expect(queues[id]!.Properties.SqsManagedSseEnabled).toBeUndefined();
        const statements = policies
          .filter((policy) => toArray(policy.Properties.Queues).some((q: Json) => q.Ref === id))
          .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
        expect(statements).toContainEqual(
          expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        );
      }
    });

    test('an EventBridge rule sends failed/timed-out/aborted pay-ins to FailedPayments, with its own DLQ and retries', () => {
      const allRules = Object.values(
        stateless.findResources('AWS::Events::Rule', { Properties: { EventPattern: { source: ['aws.states'] } } }),
      );
      // One per state machine, each for its own machine only.
      expect(allRules).toHaveLength(machineNames.length);
      const rules = allRules.filter((rule) =>
        refersTo(rule.Properties.EventPattern.detail.stateMachineArn, { Ref: payInLogicalId() }),
      );
      expect(rules).toHaveLength(1);
      const rule = rules[0]!;
      expect(rule.Properties.EventPattern).toEqual({
        source: ['aws.states'],
        'detail-type': ['Step Functions Execution Status Change'],
        detail: { status: ['FAILED', 'TIMED_OUT', 'ABORTED'], stateMachineArn: [{ Ref: payInLogicalId() }] },
      });
      expect(rule.Properties.Targets).toHaveLength(1);
      const target = rule.Properties.Targets[0];
      expect(target.Arn).toEqual({ 'Fn::GetAtt': [failedPaymentsLogicalId(), 'Arn'] });
      const targetDlq = getAttQueue(target.DeadLetterConfig.Arn);
      expect(targetDlq).not.toBe(failedPaymentsLogicalId());
      expect(target.RetryPolicy).toEqual({
        MaximumRetryAttempts: expect.any(Number),
        MaximumEventAgeInSeconds: expect.any(Number),
      });
    });

    test('an alarm at >= 1 visible message on FailedPayments and on each DLQ', () => {
      const alarmed = Object.values(stateless.findResources('AWS::CloudWatch::Alarm'))
        .filter(
          (alarm) =>
            alarm.Properties.Namespace === 'AWS/SQS' &&
            alarm.Properties.MetricName === 'ApproximateNumberOfMessagesVisible' &&
            alarm.Properties.Threshold === 1 &&
            alarm.Properties.ComparisonOperator === 'GreaterThanOrEqualToThreshold',
        )
        .map((alarm) => {
          const dimension = alarm.Properties.Dimensions.find((d: Json) => d.Name === 'QueueName');
          expect(dimension.Value['Fn::GetAtt'][1]).toBe('QueueName');
          return dimension.Value['Fn::GetAtt'][0];
        });
      sameElements(alarmed, [
        ...new Set([failedPaymentsLogicalId(), ...machineNames.map(failedExecutionsLogicalId)]),
        ...dlqs,
      ]);
    });
  });

  describe('work queues of the catalog', () => {
    const mappings = () => Object.values(stateless.findResources('AWS::Lambda::EventSourceMapping'));

    test('one event source mapping per catalog queue, and no other', () => {
      expect(mappings()).toHaveLength(queueNames.length);
    });

    test("control (scratch stack): the spec's receives, batch size and a visibility timeout above 6x are kept", () => {
      const stack = new Stack(new App(), 'ScratchQueues');
      const [name] = queueNames;
      if (!name) return;
      const spec = catalogQueues[name];
      const consumerTimeout = functions[spec.consumer as FunctionId].timeoutSeconds;
      const custom = { ...spec, maxReceiveCount: 3, batchSize: 7, visibilityTimeoutSeconds: 6 * consumerTimeout + 11 };
      const work = new WorkQueues(stack, 'Queues', {
        queues: { ...catalogQueues, [name]: custom },
        encryptionKey: new Key(stack, 'Key'),
      });
      const consumer = new LambdaFunction(stack, 'Consumer', {
        runtime: Runtime.NODEJS_22_X,
        handler: 'index.handler',
        code: Code.fromInline('exports.handler = async () => ({});'),
        timeout: Duration.seconds(consumerTimeout),
      });
      work.addConsumers(
        Object.fromEntries(functionSpecs.map((fnSpec) => [fnSpec.id, consumer])) as Record<FunctionId, LambdaFunction>,
      );
      const template = Template.fromStack(stack);
      const queueId = stack.getLogicalId(work.queues[name].node.defaultChild as never);
      expect(template.toJSON().Resources[queueId].Properties).toMatchObject({
        VisibilityTimeout: 6 * consumerTimeout + 11,
        RedrivePolicy: { maxReceiveCount: 3 },
      });
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        EventSourceArn: { 'Fn::GetAtt': [queueId, 'Arn'] },
        BatchSize: 7,
      });
    });

    test('PayoutRuns: consumed by PayoutRunWorker in batches of 5, its own DLQ after 5 receives, alarmed', () => {
      const queueId = queueLogicalId('payoutRuns');
      const dlqId = dlqLogicalId('payoutRuns');
      expect(queueId).toMatch(/^WorkQueuesPayoutRuns[0-9A-F]{8}$/);
      expect(dlqId).toMatch(/^WorkQueuesPayoutRunsDlq[0-9A-F]{8}$/);
      const queue = statelessResources[queueId]!.Properties;
      expect(queue.RedrivePolicy).toEqual({
        deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] },
        maxReceiveCount: 5,
      });
      // 6x PayoutRunWorker's 150 s timeout.
      expect(queue.VisibilityTimeout).toBe(900);
      expect(statelessResources[dlqId]!.Properties.MessageRetentionPeriod).toBe(14 * 24 * 3600);
      expect(statelessResources[dlqId]!.Properties.RedrivePolicy).toBeUndefined();
      const alarms = Object.values(stateless.findResources('AWS::CloudWatch::Alarm')).filter((alarm) =>
        refersTo(alarm.Properties.Dimensions, { 'Fn::GetAtt': [dlqId, 'QueueName'] }),
      );
      expect(alarms).toHaveLength(1);
      expect(alarms[0]!.Properties).toMatchObject({
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      });
      const mappings = Object.values(stateless.findResources('AWS::Lambda::EventSourceMapping')).filter((mapping) =>
        refersTo(mapping.Properties.EventSourceArn, { 'Fn::GetAtt': [queueId, 'Arn'] }),
      );
      expect(mappings).toHaveLength(1);
      expect(mappings[0]!.Properties).toMatchObject({
        FunctionName: { Ref: functionLogicalId(functions.PayoutRunWorker) },
        BatchSize: 5,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
      });
    });

    // A loop rather than test.each, which fails on an empty table (a catalog without queues).
    for (const name of queueNames) {
      const spec = catalogQueues[name];

      test(`${spec.id}: visibility timeout >= 6x its consumer's timeout (max of the spec and that)`, () => {
        const consumerTimeout = functions[spec.consumer as FunctionId].timeoutSeconds;
        const visibility = statelessResources[queueLogicalId(name)]!.Properties.VisibilityTimeout;
        expect(visibility).toBe(Math.max(spec.visibilityTimeoutSeconds, 6 * consumerTimeout));
        expect(visibility).toBeGreaterThanOrEqual(6 * consumerTimeout);
        expect(visibility).toBeGreaterThanOrEqual(spec.visibilityTimeoutSeconds);
      });

      test(`${spec.id}: its own DLQ after ${spec.maxReceiveCount} receives, kept 14 days, alarmed`, () => {
        const queue = statelessResources[queueLogicalId(name)]!;
        expect(queue.Properties.RedrivePolicy).toEqual({
          deadLetterTargetArn: { 'Fn::GetAtt': [dlqLogicalId(name), 'Arn'] },
          maxReceiveCount: spec.maxReceiveCount,
        });
        expect(statelessResources[dlqLogicalId(name)]!.Properties.MessageRetentionPeriod).toBe(14 * 24 * 3600);
        const alarms = Object.values(stateless.findResources('AWS::CloudWatch::Alarm')).filter((alarm) =>
          refersTo(alarm.Properties.Dimensions, { 'Fn::GetAtt': [dlqLogicalId(name), 'QueueName'] }),
        );
        expect(alarms).toHaveLength(1);
        expect(alarms[0]!.Properties).toMatchObject({ Threshold: 1, MetricName: 'ApproximateNumberOfMessagesVisible' });
      });

      test(`${spec.id}: consumed by ${spec.consumer} in batches of ${spec.batchSize}, reporting item failures`, () => {
        const forQueue = mappings().filter((mapping) =>
          refersTo(mapping.Properties.EventSourceArn, { 'Fn::GetAtt': [queueLogicalId(name), 'Arn'] }),
        );
        expect(forQueue).toHaveLength(1);
        expect(forQueue[0]!.Properties).toMatchObject({
          FunctionName: { Ref: functionLogicalId(functions[spec.consumer as FunctionId]) },
          BatchSize: spec.batchSize,
          FunctionResponseTypes: ['ReportBatchItemFailures'],
        });
      });

      test(`${spec.id}: its URL reaches exactly the functions that send to it`, () => {
        const withUrl = functionSpecs.filter((fnSpec) => {
          const env = statelessResources[functionLogicalId(fnSpec)]!.Properties.Environment.Variables;
          return JSON.stringify(env).includes(JSON.stringify({ Ref: queueLogicalId(name) }));
        });
        sameElements(
          withUrl.map((fnSpec) => fnSpec.id),
          functionSpecs.filter((fnSpec) => fnSpec.sendsTo?.includes(name)).map((fnSpec) => fnSpec.id),
        );
      });
    }
  });

  describe('schedules', () => {
    test('one EventBridge rule per catalog schedule, plus the failed-executions rule of each state machine', () => {
      stateless.resourceCountIs('AWS::Events::Rule', schedules.length + machineNames.length);
      expect(machineNames).toContain('payIn');
      // Five schedules (the three janitors, the daily payout run, the nightly reconciliation) and four state machines.
      expect(schedules.map((schedule) => schedule.functionId)).toEqual([
        'Janitor',
        'PayoutJanitor',
        'RefundJanitor',
        'PayoutRunScheduled',
        'ReconciliationScheduled',
      ]);
      stateless.resourceCountIs('AWS::Events::Rule', 9);
    });

    test.each([
      ['PayoutRunScheduled', 'cron(0 6 * * ? *)', 24 * 3600],
      ['ReconciliationScheduled', 'cron(0 4 * * ? *)', 24 * 3600],
      ['PayoutJanitor', 'rate(5 minutes)', 5 * 60],
      ['RefundJanitor', 'rate(5 minutes)', 5 * 60],
      ['Janitor', 'rate(5 minutes)', 5 * 60],
    ] as const)(
      '%s: runs on %s, retried until the next run at most, with a DLQ and alarms',
      (functionId, expression, maxAge) => {
        const fnArn = { 'Fn::GetAtt': [functionLogicalId(functions[functionId]), 'Arn'] };
        const rules = Object.values(stateless.findResources('AWS::Events::Rule')).filter((rule) =>
          (rule.Properties.Targets ?? []).some((target: Json) => JSON.stringify(target.Arn) === JSON.stringify(fnArn)),
        );
        expect(rules).toHaveLength(1);
        expect(rules[0]!.Properties.ScheduleExpression).toBe(expression);
        expect(rules[0]!.Properties.State).toBe('ENABLED');
        const [target] = rules[0]!.Properties.Targets;
        expect(target.RetryPolicy).toEqual({ MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: maxAge });
        const dlqId = target.DeadLetterConfig.Arn['Fn::GetAtt'][0];
        expect(statelessResources[dlqId]?.Type).toBe('AWS::SQS::Queue');
        const alarms = Object.values(stateless.findResources('AWS::CloudWatch::Alarm'));
        expect(
          alarms.filter((alarm) => refersTo(alarm.Properties.Dimensions, { 'Fn::GetAtt': [dlqId, 'QueueName'] })),
        ).toHaveLength(1);
        // A failed run pages (its errors alarmed).
        const errors = alarms.filter(
          (alarm) =>
            alarm.Properties.MetricName === 'Errors' &&
            refersTo(alarm.Properties.Dimensions, { Ref: functionLogicalId(functions[functionId]) }),
        );
        expect(errors).toHaveLength(1);
      },
    );

    test('RefundJanitor: its own rule, DLQ (messaging key) and two alarms, the errors one naming the refunds', () => {
      const rules = Object.entries(stateless.findResources('AWS::Events::Rule')).filter(([id]) =>
        /^SchedulesRefundJanitorEvery5Minutes[0-9A-F]{8}$/.test(id),
      );
      expect(rules).toHaveLength(1);
      const [, rule] = rules[0]!;
      expect(rule.Properties.Description).toBe('Runs RefundJanitor every 5 minute(s)');
      expect(rule.Properties.Targets.map((target: Json) => target.Arn)).toEqual([
        { 'Fn::GetAtt': [functionLogicalId(functions.RefundJanitor), 'Arn'] },
      ]);
      const dlqId = rule.Properties.Targets[0].DeadLetterConfig.Arn['Fn::GetAtt'][0];
      expect(dlqId).toMatch(/^SchedulesRefundJanitorEvery5MinutesDlq[0-9A-F]{8}$/);
      expect(statelessResources[dlqId]!.Properties.KmsMasterKeyId).toEqual({
        'Fn::GetAtt': [messagingKeyLogicalId(), 'Arn'],
      });
      const alarms = Object.entries(stateless.findResources('AWS::CloudWatch::Alarm')).filter(([id]) =>
        /^SchedulesRefundJanitorEvery5Minutes(Dlq|Errors)Alarm[0-9A-F]{8}$/.test(id),
      );
      expect(alarms.map(([, alarm]) => alarm.Properties.MetricName).sort()).toEqual([
        'ApproximateNumberOfMessagesVisible',
        'Errors',
      ]);
      const errors = alarms.find(([, alarm]) => alarm.Properties.MetricName === 'Errors')![1];
      expect(errors.Properties.Dimensions).toEqual([
        { Name: 'FunctionName', Value: { Ref: functionLogicalId(functions.RefundJanitor) } },
      ]);
      expect(errors.Properties.AlarmDescription).toBe(
        'A scheduled RefundJanitor run failed: see its logs (a payment, payout or refund may need a person)',
      );
    });

    // A loop rather than test.each, which fails on an empty table (a catalog without schedules).
    for (const schedule of schedules) {
      test(`${schedule.functionId}: a ${schedule.cron ? 'cron' : 'rate'} rule invoking it, with retries and a DLQ`, () => {
        const minutes = schedule.rate;
        const expression =
          schedule.cron !== undefined
            ? cronExpression(schedule.cron)
            : `rate(${minutes} ${minutes === 1 ? 'minute' : 'minutes'})`;
        const rules = Object.values(
          stateless.findResources('AWS::Events::Rule', {
            Properties: { ScheduleExpression: expression },
          }),
        ).filter((rule) =>
          rule.Properties.Targets.some(
            (target: Json) =>
              JSON.stringify(target.Arn) ===
              JSON.stringify({ 'Fn::GetAtt': [functionLogicalId(functions[schedule.functionId]), 'Arn'] }),
          ),
        );
        expect(rules).toHaveLength(1);
        const [target] = rules[0]!.Properties.Targets;
        expect(target.DeadLetterConfig.Arn['Fn::GetAtt'][1]).toBe('Arn');
        expect(statelessResources[target.DeadLetterConfig.Arn['Fn::GetAtt'][0]]?.Type).toBe('AWS::SQS::Queue');
        expect(target.RetryPolicy).toEqual({
          MaximumRetryAttempts: expect.any(Number),
          MaximumEventAgeInSeconds: expect.any(Number),
        });
      });
    }
  });

  test('outputs: API URL, alarm topic ARN, the dashboard and state machine ARN (one per state machine)', () => {
    const outputs = stateless.toJSON().Outputs;
    // The dashboard's outputs are checked in observability.test.ts.
    expect(Object.keys(outputs).sort()).toEqual(
      [
        'ApiUrl',
        'AlarmTopicArn',
        'DashboardName',
        'DashboardUrl',
        ...machineNames.map((name) => `${stateMachines[name].id}StateMachineArn`),
      ].sort(),
    );
    expect(outputs.AlarmTopicArn.Value).toEqual({ Ref: alarmTopicLogicalId() });
    expect(Object.keys(outputs)).toContain('PayInStateMachineArn');
    expect(outputs.PayInStateMachineArn.Value).toEqual({ Ref: payInLogicalId() });
    expect(JSON.stringify(outputs.ApiUrl.Value)).toContain('execute-api');
  });
});

/** An IAM action pattern (`s3:GetObject*`, `dynamodb:*`, `*`) that covers `action`. */
const covers = (pattern: string, action: string) =>
  pattern === '*' || pattern === action || (pattern.endsWith('*') && action.startsWith(pattern.slice(0, -1)));

/**
 * The functions of `specs` whose role may do one of `actions` on `resource` (or on "*"), read from the synthesized
 * template `resources`: the role's own policies and every AWS::IAM::Policy attached to it.
 */
function functionsAllowed(
  resources: Record<string, Resource>,
  specs: FunctionSpec<string, string>[],
  actions: string[],
  resource: unknown,
): string[] {
  return specs
    .filter((spec) => {
      const ids = Object.keys(resources).filter(
        (id) =>
          resources[id]!.Type === 'AWS::Lambda::Function' && resources[id]!.Properties.Description === spec.description,
      );
      expect([spec.id, ids.length]).toEqual([spec.id, 1]);
      const roleId = resources[ids[0]!]!.Properties.Role['Fn::GetAtt'][0];
      const statements = [
        ...(resources[roleId]!.Properties.Policies ?? []).flatMap((policy: Json) => policy.PolicyDocument.Statement),
        ...Object.values(resources)
          .filter(
            (r) => r.Type === 'AWS::IAM::Policy' && toArray(r.Properties.Roles).some((x: Json) => x.Ref === roleId),
          )
          .flatMap((policy) => policy.Properties.PolicyDocument.Statement),
      ] as Statement[];
      return statements.some(
        (s) =>
          s.Effect === 'Allow' &&
          toArray(s.Action).some((pattern) => actions.some((action) => covers(pattern, action))) &&
          (toArray(s.Resource).includes('*') || refersTo(s.Resource, resource)),
      );
    })
    .map((spec) => spec.id);
}

const SECRET_READ = ['secretsmanager:GetSecretValue'];
const TABLE_WRITE = ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'];
const START_EXECUTION = ['states:StartExecution'];
const PAY_IN_FUNCTIONS = ['Charge', 'CancelPending', 'Janitor', 'CreatePayment', 'PspWebhookProcessor'];
const PAY_OUT_MONEY_MOVERS = ['Transfer', 'SendPayout', 'SettlePayout', 'PayoutJanitor'];

describe('pay-out: least privilege (from the synthesized IAM policies)', () => {
  const connectKey = () => built.stateless.resolve(built.stateful.pspConnectSecret.secretArn);
  const paymentsKey = () => built.stateless.resolve(built.stateful.pspSecret.secretArn);
  const payOutRef = () => ({ Ref: workflowLogicalId('payOut') });
  const withEnv = (name: string) =>
    functionSpecs
      .filter((spec) => name in statelessResources[functionLogicalId(spec)]!.Properties.Environment.Variables)
      .map((spec) => spec.id);

  test('the Connect key and the payments key are two secrets', () => {
    expect(JSON.stringify(connectKey())).not.toBe(JSON.stringify(paymentsKey()));
    expect(JSON.stringify(connectKey())).toContain('PspConnectSecretKey');
  });

  test('only the functions with pspConnect: true can read the Connect key: the money movers, no pay-in function', () => {
    const readers = functionsAllowed(statelessResources, functionSpecs, SECRET_READ, connectKey());
    sameElements(
      readers,
      functionSpecs.filter((spec) => spec.pspConnect).map((spec) => spec.id),
    );
    expect(readers).toEqual(expect.arrayContaining(PAY_OUT_MONEY_MOVERS));
    for (const id of PAY_IN_FUNCTIONS) expect(readers).not.toContain(id);
    // ...and only they are told where it is.
    sameElements(withEnv('PSP_CONNECT_SECRET_ARN'), readers);
  });

  test('the payments key stays with the functions with psp: true; the pay-out steps cannot read it', () => {
    const readers = functionsAllowed(statelessResources, functionSpecs, SECRET_READ, paymentsKey());
    sameElements(
      readers,
      functionSpecs.filter((spec) => spec.psp).map((spec) => spec.id),
    );
    expect(readers).toEqual(expect.arrayContaining(['Charge', 'CancelPending', 'Janitor']));
    for (const id of [...PAY_OUT_MONEY_MOVERS, 'AwaitPayout', 'CreatePayout', 'PutSeller']) {
      expect(readers).not.toContain(id);
    }
  });

  test('only the pay-out functions that must write the payouts table can; its readers read only', () => {
    const payouts = tableArnIn('payouts');
    const writers = functionsAllowed(statelessResources, functionSpecs, TABLE_WRITE, payouts);
    sameElements(writers, [
      'ConnectWebhookProcessor',
      'CreatePayout',
      'CreatePayoutRun',
      'Transfer',
      'SendPayout',
      'AwaitPayout',
      'SettlePayout',
      'PayoutJanitor',
      'PayoutRunScheduled',
      'PayoutRunWorker',
    ]);
    sameElements(
      writers,
      functionSpecs.filter((spec) => spec.tables.payouts === 'readWrite').map((spec) => spec.id),
    );
    const readers = functionsAllowed(
      statelessResources,
      functionSpecs,
      ['dynamodb:GetItem', 'dynamodb:Query'],
      payouts,
    );
    sameElements(
      readers,
      functionSpecs.filter((spec) => spec.tables.payouts !== undefined).map((spec) => spec.id),
    );
    for (const id of ['GetPayout', 'ListSellerPayouts', 'GetPayoutRun']) {
      expect(readers).toContain(id);
      expect(writers).not.toContain(id);
    }
    for (const id of PAY_IN_FUNCTIONS) expect(readers).not.toContain(id);
  });

  test('only CreatePayout and PayoutRunWorker may start PayOut executions (and get its ARN)', () => {
    const starters = functionsAllowed(statelessResources, functionSpecs, START_EXECUTION, payOutRef());
    sameElements(starters, ['CreatePayout', 'PayoutRunWorker']);
    sameElements(withEnv(stateMachines.payOut.envVar), ['CreatePayout', 'PayoutRunWorker']);
    // Neither may start the pay-in.
    const payInStarters = functionsAllowed(statelessResources, functionSpecs, START_EXECUTION, {
      Ref: payInLogicalId(),
    });
    for (const id of starters) expect(payInStarters).not.toContain(id);
  });

  test('control: the same checks catch a pay-in function with the Connect key, a reader that writes, another starter', () => {
    const loose: Catalog = {
      ...catalog,
      functions: {
        ...catalog.functions,
        Charge: { ...functions.Charge, pspConnect: true },
        GetPayout: { ...functions.GetPayout, tables: { payouts: 'readWrite' }, startsWorkflows: ['payOut'] },
      },
    };
    const app = new App({ context: { ...CDK_CONTEXT, ...SKIP_BUNDLING } });
    const stacks = addPaymentsStacks(app, loose);
    const resources = Template.fromStack(stacks.stateless).toJSON().Resources as Record<string, Resource>;
    const specs = Object.values(loose.functions);
    const machine = stacks.stateless.getLogicalId(stacks.stateless.payOut.stateMachine.node.defaultChild as never);
    expect(
      functionsAllowed(
        resources,
        specs,
        SECRET_READ,
        stacks.stateless.resolve(stacks.stateful.pspConnectSecret.secretArn),
      ),
    ).toContain('Charge');
    expect(
      functionsAllowed(
        resources,
        specs,
        TABLE_WRITE,
        stacks.stateless.resolve(stacks.stateful.tables.payouts.tableArn),
      ),
    ).toContain('GetPayout');
    expect(functionsAllowed(resources, specs, START_EXECUTION, { Ref: machine })).toContain('GetPayout');
    // A grant on "*" counts too.
    expect(
      functionsAllowed(
        { ...resources, Extra: { Type: 'AWS::IAM::Policy', Properties: extraPolicy(resources, specs, 'GetSeller') } },
        specs,
        SECRET_READ,
        stacks.stateless.resolve(stacks.stateful.pspConnectSecret.secretArn),
      ),
    ).toContain('GetSeller');
  });
});

/** A policy allowing secretsmanager:* on "*", attached to the role of `functionId` (for the control above). */
function extraPolicy(resources: Record<string, Resource>, specs: FunctionSpec<string, string>[], functionId: string) {
  const spec = specs.find((candidate) => candidate.id === functionId)!;
  const fn = Object.values(resources).find(
    (r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Description === spec.description,
  )!;
  return {
    Roles: [{ Ref: fn.Properties.Role['Fn::GetAtt'][0] }],
    PolicyDocument: { Statement: [{ Effect: 'Allow', Action: 'secretsmanager:*', Resource: '*' }] },
  };
}

const REFUND_FUNCTIONS = [
  'CreateRefund',
  'GetRefund',
  'ListDisputes',
  'GetDispute',
  'DebitAndBook',
  'RefundAtPsp',
  'AwaitRefund',
  'SettleRefund',
  'RefundJanitor',
];
const REFUND_STEPS = ['DebitAndBook', 'RefundAtPsp', 'AwaitRefund', 'SettleRefund'];
/** The refund functions that call the PSP (refund, read it back, find it): `psp: true`, the payments key. */
const REFUND_PSP_CALLERS = ['RefundAtPsp', 'SettleRefund', 'RefundJanitor'];
/** The GET handlers that show refunds and disputes. */
// MatchShard reads the refund or dispute a settlement row names (its fix is the refund janitor's).
const REFUND_READERS = ['GetPayment', 'GetRefund', 'ListDisputes', 'GetDispute', 'GetPaymentTimeline', 'MatchShard'];
const TABLE_READ = ['dynamodb:GetItem', 'dynamodb:Query'];

describe('refunds: least privilege (from the synthesized IAM policies)', () => {
  const refundRef = () => ({ Ref: workflowLogicalId('refund') });
  const withEnv = (name: string) =>
    functionSpecs
      .filter((spec) => name in statelessResources[functionLogicalId(spec)]!.Properties.Environment.Variables)
      .map((spec) => spec.id);

  test('the refund functions are in the catalog', () => {
    for (const id of [...REFUND_FUNCTIONS, ...REFUND_READERS]) expect(Object.keys(functions)).toContain(id);
  });

  test('only CreateRefund may start Refund executions (and gets its ARN); it starts no other workflow', () => {
    const starters = functionsAllowed(statelessResources, functionSpecs, START_EXECUTION, refundRef());
    expect(starters).toEqual(['CreateRefund']);
    // GetPaymentTimeline gets the ARN to read its executions' histories, and no right to start one.
    sameElements(withEnv(stateMachines.refund.envVar), ['CreateRefund', 'GetPaymentTimeline']);
    for (const other of ['payIn', 'payOut'] as const) {
      const otherStarters = functionsAllowed(statelessResources, functionSpecs, START_EXECUTION, {
        Ref: workflowLogicalId(other),
      });
      expect(otherStarters.length).toBeGreaterThan(0);
      expect([other, otherStarters.includes('CreateRefund')]).toEqual([other, false]);
    }
  });

  test("the refund steps that resume a wait, the refund janitor, the refunds' webhook processor answer Refund's tasks (the refund janitor for reconciliation's fixes too); none may start it", () => {
    const answerers = functionsAllowed(statelessResources, functionSpecs, TASK_RESPONSE_ACTIONS, refundRef());
    sameElements(answerers, ['RefundAtPsp', 'AwaitRefund', 'SettleRefund', 'RefundJanitor', 'RefundWebhookProcessor']);
    sameElements(
      answerers,
      functionSpecs.filter((spec) => spec.answersTasksOf?.includes('refund')).map((spec) => spec.id),
    );
    const starters = functionsAllowed(statelessResources, functionSpecs, START_EXECUTION, refundRef());
    expect(starters.length).toBeGreaterThan(0);
    for (const id of [...answerers, 'Janitor', 'PayoutJanitor'])
      expect([id, starters.includes(id)]).toEqual([id, false]);
    // Each flow's webhook processor answers the tasks of its own workflow only (the reconciliation waits for no task
    // token): a flow's events cannot resume another flow's executions.
    const processors = {
      payIn: 'PspWebhookProcessor',
      payOut: 'ConnectWebhookProcessor',
      refund: 'RefundWebhookProcessor',
    } as const;
    for (const name of ['payIn', 'payOut', 'refund'] as const) {
      const answering = functionsAllowed(statelessResources, functionSpecs, TASK_RESPONSE_ACTIONS, {
        Ref: workflowLogicalId(name),
      });
      expect([name, Object.values(processors).filter((id) => answering.includes(id))]).toEqual([
        name,
        [processors[name]],
      ]);
    }
  });

  test("only CreateRefund, the refund steps, the refund janitor, the refunds' webhook processor may write the refunds table (the refund janitor for reconciliation's fixes too); its GET handlers read only", () => {
    const refunds = tableArnIn('refunds');
    const writers = functionsAllowed(statelessResources, functionSpecs, TABLE_WRITE, refunds);
    sameElements(writers, ['CreateRefund', ...REFUND_STEPS, 'RefundJanitor', 'RefundWebhookProcessor']);
    sameElements(
      writers,
      functionSpecs.filter((spec) => spec.tables.refunds === 'readWrite').map((spec) => spec.id),
    );
    const readers = functionsAllowed(statelessResources, functionSpecs, TABLE_READ, refunds);
    sameElements(readers, [...writers, ...REFUND_READERS]);
    for (const id of REFUND_READERS) expect([id, writers.includes(id)]).toEqual([id, false]);
    for (const id of [...PAY_IN_FUNCTIONS, ...PAY_OUT_MONEY_MOVERS]) {
      expect([id, readers.includes(id)]).toEqual([id, false]);
    }
    // ListDisputes and GetPayment query the table's indexes (disputes-by-status, by-payment).
    for (const id of ['ListDisputes', 'GetPayment'] as const) {
      const onIndexes = functionRoleStatements(functions[id]).filter(
        (s) =>
          toArray(s.Action).includes('dynamodb:Query') &&
          toArray(s.Resource).some(
            (r) => JSON.stringify(r) === JSON.stringify({ 'Fn::Join': ['', [refunds, '/index/*']] }),
          ),
      );
      expect([id, onIndexes.length]).toEqual([id, 1]);
    }
  });

  test('no refund function can read the Connect key (nor is told where it is)', () => {
    const connectKey = built.stateless.resolve(built.stateful.pspConnectSecret.secretArn);
    const readers = functionsAllowed(statelessResources, functionSpecs, SECRET_READ, connectKey);
    expect(readers).toEqual(expect.arrayContaining(PAY_OUT_MONEY_MOVERS));
    for (const id of REFUND_FUNCTIONS) {
      expect([id, functions[id as FunctionId].pspConnect]).toEqual([id, undefined]);
      expect([id, readers.includes(id)]).toEqual([id, false]);
      expect([id, withEnv('PSP_CONNECT_SECRET_ARN').includes(id)]).toEqual([id, false]);
    }
  });

  test('the refund functions that call the PSP (psp: true) read the payments key; the other refund functions cannot', () => {
    const paymentsKey = built.stateless.resolve(built.stateful.pspSecret.secretArn);
    const readers = functionsAllowed(statelessResources, functionSpecs, SECRET_READ, paymentsKey);
    sameElements(
      REFUND_FUNCTIONS.filter((id) => functions[id as FunctionId].psp),
      REFUND_PSP_CALLERS,
    );
    for (const id of REFUND_FUNCTIONS) {
      const calls = REFUND_PSP_CALLERS.includes(id);
      expect([id, readers.includes(id)]).toEqual([id, calls]);
      expect([id, withEnv('PSP_SECRET_ARN').includes(id)]).toEqual([id, calls]);
    }
    // The webhook secret stays with the webhook function.
    const webhookSecret = built.stateless.resolve(built.stateful.webhookSecret.secretArn);
    expect(functionsAllowed(statelessResources, functionSpecs, SECRET_READ, webhookSecret)).toEqual(['PspWebhook']);
  });

  test('control: the same checks catch another starter, a GET handler that writes, a refund function with the Connect key, another answerer', () => {
    const loose: Catalog = {
      ...catalog,
      functions: {
        ...catalog.functions,
        GetRefund: { ...functions.GetRefund, tables: { refunds: 'readWrite' }, startsWorkflows: ['refund'] },
        RefundJanitor: { ...functions.RefundJanitor, startsWorkflows: ['refund'], pspConnect: true },
        GetDispute: { ...functions.GetDispute, answersTasksOf: ['refund'] },
        DebitAndBook: { ...functions.DebitAndBook, psp: true },
      },
    };
    const app = new App({ context: { ...CDK_CONTEXT, ...SKIP_BUNDLING } });
    const stacks = addPaymentsStacks(app, loose);
    const resources = Template.fromStack(stacks.stateless).toJSON().Resources as Record<string, Resource>;
    const specs = Object.values(loose.functions);
    const machine = {
      Ref: stacks.stateless.getLogicalId(stacks.stateless.refund.stateMachine.node.defaultChild as never),
    };
    sameElements(functionsAllowed(resources, specs, START_EXECUTION, machine), [
      'CreateRefund',
      'GetRefund',
      'RefundJanitor',
    ]);
    expect(
      functionsAllowed(
        resources,
        specs,
        TABLE_WRITE,
        stacks.stateless.resolve(stacks.stateful.tables.refunds.tableArn),
      ),
    ).toContain('GetRefund');
    expect(
      functionsAllowed(
        resources,
        specs,
        SECRET_READ,
        stacks.stateless.resolve(stacks.stateful.pspConnectSecret.secretArn),
      ),
    ).toContain('RefundJanitor');
    expect(
      functionsAllowed(resources, specs, SECRET_READ, stacks.stateless.resolve(stacks.stateful.pspSecret.secretArn)),
    ).toContain('DebitAndBook');
    expect(functionsAllowed(resources, specs, TASK_RESPONSE_ACTIONS, machine)).toContain('GetDispute');
  });
});

describe("the PSP's events: a queue and a consumer per flow (from the synthesized template and IAM policies)", () => {
  const PROCESSORS = {
    pspWebhooks: 'PspWebhookProcessor',
    refundWebhooks: 'RefundWebhookProcessor',
    connectWebhooks: 'ConnectWebhookProcessor',
  } as const;
  const env = (id: string) =>
    JSON.stringify(
      statelessResources[functionLogicalId(functionSpecs.find((spec) => spec.id === id) as FunctionSpec)]!.Properties
        .Environment.Variables,
    );

  test("the receiver is told every flow's queue; no consumer is told any", () => {
    for (const queue of Object.keys(PROCESSORS) as (keyof typeof PROCESSORS)[]) {
      expect([queue, env('PspWebhook').includes(queueLogicalId(queue))]).toEqual([queue, true]);
      for (const id of Object.values(PROCESSORS))
        expect([queue, id, env(id).includes(queueLogicalId(queue))]).toEqual([queue, id, false]);
    }
  });

  test("each flow's consumer writes only its flow's tables and reads only its flow's PSP key", () => {
    const writers = (table: TableName) =>
      Object.values(PROCESSORS).filter((id) =>
        functionsAllowed(statelessResources, functionSpecs, TABLE_WRITE, tableArnIn(table)).includes(id),
      );
    expect(writers('payments')).toEqual(['PspWebhookProcessor']);
    expect(writers('refunds')).toEqual(['RefundWebhookProcessor']);
    expect(writers('payouts')).toEqual(['ConnectWebhookProcessor']);
    expect(writers('sellers')).toEqual(['ConnectWebhookProcessor']);
    expect(writers('wallets')).toEqual(['RefundWebhookProcessor', 'ConnectWebhookProcessor']);
    const readers = (secret: unknown) =>
      Object.values(PROCESSORS).filter((id) =>
        functionsAllowed(statelessResources, functionSpecs, SECRET_READ, built.stateless.resolve(secret)).includes(id),
      );
    expect(readers(built.stateful.pspSecret.secretArn)).toEqual(['PspWebhookProcessor', 'RefundWebhookProcessor']);
    expect(readers(built.stateful.pspConnectSecret.secretArn)).toEqual(['ConnectWebhookProcessor']);
  });
});

describe('cdk-nag (AwsSolutions)', () => {
  test.each(['PaymentsStateful', 'PaymentsStateless'])('%s: no unacknowledged errors or warnings', (stackName) => {
    const stack = built.app.node.findChild(stackName) as Stack;
    // After synthesis, so the acknowledgments made once references are resolved are in place.
    const report = new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(stack);
    const violations = report.violations.map((v) => ({
      rule: v.ruleName,
      severity: v.severity,
      at: v.violatingResources.map((r) => r.constructPath),
    }));
    expect(violations).toEqual([]);
    expect(report.success).toBe(true);
  });

  test.each(['PaymentsStateful', 'PaymentsStateless'])('%s: no error or warning annotations', (stackName) => {
    const annotations = Annotations.fromStack(built.app.node.findChild(stackName) as Stack);
    expect(annotations.findError('*', Match.anyValue())).toEqual([]);
    expect(annotations.findWarning('*', Match.anyValue())).toEqual([]);
  });

  test('control: the same check does report a violation (a queue without DLQ)', () => {
    const stack = new Stack(new App(), 'Control');
    new Queue(stack, 'NoDlq', { enforceSSL: true });
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations.map((v) => v.ruleName)).toContain('AwsSolutions-SQS3');
  });
});

describe('a second workflow, a cron schedule and a bucket (fixture catalog)', () => {
  const fixtureEntry = 'test/infra/fixtures/noop-handler.ts';
  const reportAsl = 'test/infra/fixtures/report.asl.json';
  const reportCron = { minute: '30', hour: '2', weekDay: 'MON-FRI' };
  const buildReport: FunctionSpec<string, string> = {
    id: 'BuildReport',
    entry: fixtureEntry,
    description: 'Test-only: the Task of the Report workflow, writes reports',
    timeoutSeconds: 30,
    tables: {},
    buckets: { reports: 'readWrite' },
  };
  const startReport: FunctionSpec<string, string> = {
    id: 'StartReport',
    entry: fixtureEntry,
    description: 'Test-only: starts Report executions on a cron schedule, reads reports',
    timeoutSeconds: 10,
    tables: {},
    startsWorkflows: ['report'],
    answersTasksOf: ['report', 'payIn'],
    buckets: { reports: 'read' },
  };
  const fixture: Catalog = {
    ...catalog,
    functions: { ...catalog.functions, BuildReport: buildReport, StartReport: startReport },
    stateMachines: {
      ...catalog.stateMachines,
      report: {
        id: 'Report',
        file: reportAsl,
        substitutions: { BuildReportFunctionArn: 'BuildReport' },
        envVar: 'REPORT_STATE_MACHINE_ARN',
        failedExecutionsQueue: { id: 'FailedReports', envVar: 'FAILED_REPORTS_QUEUE_URL' },
      },
    },
    schedules: [...catalog.schedules, { functionId: 'StartReport', cron: reportCron }],
    buckets: { ...catalog.buckets, reports: { id: 'Reports', envVar: 'REPORTS_BUCKET' } },
  };

  let app: App;
  let stacks: PaymentsStacks;
  let resources: Record<string, Resource>;
  let statefulResources: Record<string, Resource>;
  const logicalId = (construct: { node: { defaultChild?: unknown } }) =>
    stacks.stateless.getLogicalId(construct.node.defaultChild as never);
  const machineId = (name: string) => logicalId(stacks.stateless.workflows[name]!.stateMachine);
  const fnId = (spec: FunctionSpec<string, string>) => {
    const ids = Object.keys(resources).filter(
      (id) =>
        resources[id]!.Type === 'AWS::Lambda::Function' && resources[id]!.Properties.Description === spec.description,
    );
    expect(ids).toHaveLength(1);
    return ids[0]!;
  };
  const roleStatements = (spec: FunctionSpec<string, string>): Statement[] => {
    const role = resources[fnId(spec)]!.Properties.Role['Fn::GetAtt'][0];
    return Object.values(resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy' && toArray(r.Properties.Roles).some((x: Json) => x.Ref === role))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
  };
  const envOf = (spec: FunctionSpec<string, string>) =>
    resources[fnId(spec)]!.Properties.Environment.Variables as Record<string, unknown>;

  beforeAll(() => {
    app = new App({ context: { ...CDK_CONTEXT, ...SKIP_BUNDLING } });
    stacks = addPaymentsStacks(app, fixture);
    // Synthesizes the whole app: this throws if cdk-nag reports an error.
    resources = Template.fromStack(stacks.stateless).toJSON().Resources;
    statefulResources = Template.fromStack(stacks.stateful).toJSON().Resources;
  });

  test('its state machine is built from its own ASL file, its Task the catalog function', () => {
    const machines = Object.values(resources).filter((r) => r.Type === 'AWS::StepFunctions::StateMachine');
    expect(machines).toHaveLength(machineNames.length + 1);
    const machine = resources[machineId('report')]!;
    const asl = JSON.parse(readFileSync(path.join(REPO_ROOT, reportAsl), 'utf8'));
    expect(JSON.parse(machine.Properties.DefinitionString)).toEqual(asl);
    expect(machine.Properties.DefinitionSubstitutions).toEqual({
      BuildReportFunctionArn: { 'Fn::GetAtt': [fnId(buildReport), 'Arn'] },
    });
    expect(machine.Properties).toMatchObject({
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: false },
    });
    // The pay-in is still there, from its own file.
    expect(JSON.parse(resources[machineId('payIn')]!.Properties.DefinitionString)).toEqual(JSON.parse(aslText));
    expect(Template.fromStack(stacks.stateless).toJSON().Outputs.ReportStateMachineArn.Value).toEqual({
      Ref: machineId('report'),
    });
  });

  test('its failed executions go, by their own rule, to its own queue (with DLQs and alarms)', () => {
    const report = stacks.stateless.workflows.report!;
    const queueId = logicalId(report.failedExecutions);
    expect(queueId).not.toBe(logicalId(stacks.stateless.payIn.failedExecutions));
    expect(queueId).toMatch(/^ReportFailedReports/);
    const rules = Object.values(resources).filter(
      (r) => r.Type === 'AWS::Events::Rule' && r.Properties.EventPattern?.source?.[0] === 'aws.states',
    );
    expect(rules).toHaveLength(machineNames.length + 1);
    const own = rules.filter((r) =>
      refersTo(r.Properties.EventPattern.detail.stateMachineArn, { Ref: machineId('report') }),
    );
    expect(own).toHaveLength(1);
    expect(own[0]!.Properties.EventPattern.detail).toEqual({
      status: ['FAILED', 'TIMED_OUT', 'ABORTED'],
      stateMachineArn: [{ Ref: machineId('report') }],
    });
    expect(own[0]!.Properties.Targets).toHaveLength(1);
    expect(own[0]!.Properties.Targets[0].Arn).toEqual({ 'Fn::GetAtt': [queueId, 'Arn'] });
    expect(own[0]!.Properties.Targets[0].DeadLetterConfig.Arn).toEqual({
      'Fn::GetAtt': [logicalId(report.ruleDlq), 'Arn'],
    });
    expect(resources[queueId]!.Properties.RedrivePolicy).toEqual({
      deadLetterTargetArn: { 'Fn::GetAtt': [logicalId(report.failedExecutionsDlq), 'Arn'] },
      maxReceiveCount: 5,
    });
    const alarmed = Object.values(resources)
      .filter((r) => r.Type === 'AWS::CloudWatch::Alarm' && r.Properties.Namespace === 'AWS/SQS')
      .map((alarm) => alarm.Properties.Dimensions[0].Value['Fn::GetAtt'][0]);
    for (const queue of [report.failedExecutions, report.failedExecutionsDlq, report.ruleDlq]) {
      expect(alarmed).toContain(logicalId(queue));
    }
  });

  test('the starter gets its ARN env var and StartExecution on it only; no other function does', () => {
    expect(envOf(startReport).REPORT_STATE_MACHINE_ARN).toEqual({ Ref: machineId('report') });
    expect(envOf(startReport)[payIn.envVar]).toBeUndefined();
    expectWorkflowRights(roleStatements(startReport), ['report'], ['report', 'payIn'], machineId);
    for (const spec of Object.values(fixture.functions).filter((s) => s.id !== startReport.id)) {
      expect([spec.id, envOf(spec).REPORT_STATE_MACHINE_ARN]).toEqual([spec.id, undefined]);
      expectWorkflowRights(
        roleStatements(spec),
        spec.startsWorkflows ?? [],
        spec.answersTasksOf ?? [],
        machineId,
        spec.readsHistoryOf ?? [],
      );
    }
    // The step of the report workflow only: the state machine's role invokes BuildReport, and nothing else.
    const machineRole = resources[machineId('report')]!.Properties.RoleArn['Fn::GetAtt'][0];
    const invoked = Object.values(resources)
      .filter(
        (r) => r.Type === 'AWS::IAM::Policy' && toArray(r.Properties.Roles).some((x: Json) => x.Ref === machineRole),
      )
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[])
      .filter((s) => toArray(s.Action).includes('lambda:InvokeFunction'))
      .flatMap((s) => toArray(s.Resource))
      .map((r) => JSON.stringify(r).match(/"([A-Za-z0-9]+Function[0-9A-F]{8})"/)?.[1]);
    sameElements([...new Set(invoked)], [fnId(buildReport)]);
  });

  test('the cron schedule renders as an EventBridge cron rule invoking its function, with retries and a DLQ', () => {
    const expression = 'cron(30 2 ? * MON-FRI *)';
    expect(cronExpression(reportCron)).toBe(expression);
    expect(Schedule.cron(reportCron).expressionString).toBe(expression);
    const rules = Object.values(resources).filter(
      (r) => r.Type === 'AWS::Events::Rule' && r.Properties.ScheduleExpression === expression,
    );
    expect(rules).toHaveLength(1);
    const [target] = rules[0]!.Properties.Targets;
    expect(target.Arn).toEqual({ 'Fn::GetAtt': [fnId(startReport), 'Arn'] });
    expect(resources[target.DeadLetterConfig.Arn['Fn::GetAtt'][0]]?.Type).toBe('AWS::SQS::Queue');
    // Until the next run at the latest: the shortest gap of a weekday schedule is a day (EventBridge's maximum).
    expect(target.RetryPolicy).toEqual({ MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 24 * 3600 });
    // The janitor's rate rule is unchanged.
    const janitorRules = Object.values(resources).filter(
      (r) =>
        r.Type === 'AWS::Events::Rule' &&
        r.Properties.Targets.some(
          (t: Json) =>
            JSON.stringify(t.Arn) === JSON.stringify({ 'Fn::GetAtt': [fnId(catalog.functions.Janitor!), 'Arn'] }),
        ),
    );
    expect(janitorRules.map((r) => r.Properties.ScheduleExpression)).toEqual(['rate(5 minutes)']);
  });

  test('the bucket: retained, encrypted with the data key, versioned, no public access, TLS only, access logged', () => {
    const bucketId = stacks.stateful.getLogicalId(stacks.stateful.buckets.reports!.node.defaultChild as never);
    const bucket = statefulResources[bucketId]!;
    expect(bucket.Type).toBe('AWS::S3::Bucket');
    expect(bucket.DeletionPolicy).toBe('Retain');
    expect(bucket.UpdateReplacePolicy).toBe('Retain');
    expect(bucket.Properties.BucketName).toBeUndefined();
    const dataKeyId = stacks.stateful.getLogicalId(stacks.stateful.dataKey.node.defaultChild as never);
    expect(bucket.Properties.BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [
        {
          ServerSideEncryptionByDefault: {
            SSEAlgorithm: 'aws:kms',
            KMSMasterKeyID: { 'Fn::GetAtt': [dataKeyId, 'Arn'] },
          },
          BucketKeyEnabled: true,
        },
      ],
    });
    expect(bucket.Properties).toMatchObject({
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      VersioningConfiguration: { Status: 'Enabled' },
    });
    const logsId = stacks.stateful.getLogicalId(stacks.stateful.accessLogsBucket!.node.defaultChild as never);
    expect(bucket.Properties.LoggingConfiguration).toEqual({
      DestinationBucketName: { Ref: logsId },
      LogFilePrefix: 'Reports/',
    });
    expect(statefulResources[logsId]!.DeletionPolicy).toBe('Retain');
    // The access log target stays SSE-S3 (request metadata only; no log-delivery grant on the data key).
    expect(statefulResources[logsId]!.Properties.BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
    });
    expect(JSON.stringify(statefulResources[dataKeyId]!.Properties.KeyPolicy)).not.toContain('logging.s3');
    for (const id of [bucketId, logsId]) {
      const statements = Object.values(statefulResources)
        .filter((r) => r.Type === 'AWS::S3::BucketPolicy' && r.Properties.Bucket.Ref === id)
        .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
      expect(statements).toContainEqual(
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      );
    }
  });

  test("the bucket's name reaches its functions by env var, with read or read-write rights; no other function", () => {
    const bucket = stacks.stateful.buckets.reports!;
    const nameRef = stacks.stateless.resolve(bucket.bucketName);
    const arnRef = stacks.stateless.resolve(bucket.bucketArn);
    for (const spec of Object.values(fixture.functions)) {
      const env = envOf(spec);
      const statements = roleStatements(spec);
      const onBucket = statements.filter((s) => refersTo(s.Resource, arnRef));
      const actions = new Set(onBucket.flatMap((s) => toArray(s.Action)));
      const access = spec.buckets?.reports;
      expect([spec.id, env.REPORTS_BUCKET]).toEqual([spec.id, access ? nameRef : undefined]);
      expect([spec.id, onBucket.length > 0]).toEqual([spec.id, access !== undefined]);
      // The catalog's own buckets (the Settlement bucket) are still only those of each function's entry.
      const s3Statements = statements.filter((s) => toArray(s.Action).some((a) => a.startsWith('s3:')));
      expect([spec.id, s3Statements.length > 0]).toEqual([spec.id, Object.keys(spec.buckets ?? {}).length > 0]);
      if (!access) continue;
      expect(actions).toContain('s3:GetObject*');
      expect(actions).toContain('s3:List*');
      expect([spec.id, actions.has('s3:PutObject')]).toEqual([spec.id, access === 'readWrite']);
      expect([spec.id, actions.has('s3:DeleteObject*')]).toEqual([spec.id, access === 'readWrite']);
      // The bucket and its objects, nothing else.
      for (const statement of s3Statements) {
        for (const resource of toArray(statement.Resource))
          expect(JSON.stringify(resource)).toContain(JSON.stringify(arnRef));
      }
      // And the bucket's key (the data key): decrypt to read, encrypt too to write (these functions use no table).
      expect(Object.keys(spec.tables)).toEqual([]);
      const keyRef = stacks.stateless.resolve(stacks.stateful.dataKey.keyArn);
      const onKey = new Set(statements.filter((s) => refersTo(s.Resource, keyRef)).flatMap((s) => toArray(s.Action)));
      expect(onKey.has('kms:Decrypt')).toBe(true);
      for (const action of ['kms:Encrypt', 'kms:GenerateDataKey*']) {
        expect([spec.id, action, onKey.has(action)]).toEqual([spec.id, action, access === 'readWrite']);
      }
    }
  });

  test('cdk-nag: no unacknowledged findings, no error or warning annotations, no dependency cycle', () => {
    for (const stack of [stacks.stateful, stacks.stateless]) {
      const report = new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(stack);
      expect(
        report.violations.map((v) => ({ rule: v.ruleName, at: v.violatingResources.map((r) => r.constructPath) })),
      ).toEqual([]);
      const annotations = Annotations.fromStack(stack);
      expect(annotations.findError('*', Match.anyValue())).toEqual([]);
      expect(annotations.findWarning('*', Match.anyValue())).toEqual([]);
      expect(dependencyCycle(Template.fromStack(stack).toJSON())).toEqual([]);
    }
  });

  test('a workflow step that starts its own workflow is refused (a cycle)', () => {
    const cyclic: Catalog = {
      ...fixture,
      functions: { ...fixture.functions, BuildReport: { ...buildReport, startsWorkflows: ['report'] } },
    };
    const scratch = new App({ context: { ...CDK_CONTEXT, ...SKIP_BUNDLING } });
    expect(() => addPaymentsStacks(scratch, cyclic)).toThrow(
      /cycle: workflow report -> function BuildReport -> workflow report/,
    );
  });
});

describe('bundling (control for the skip above)', () => {
  test('without the skip context a NodejsFunction does run esbuild', () => {
    const commands: string[] = [];
    const spawnSync = childProcess.spawnSync;
    const spy = jest.spyOn(childProcess, 'spawnSync').mockImplementation(((
      cmd: string,
      args?: string[],
      opts?: object,
    ) => {
      commands.push([cmd, ...(args ?? [])].join(' '));
      return spawnSync(cmd, args ?? [], opts ?? {});
    }) as typeof childProcess.spawnSync);
    try {
      const stack = new Stack(new App(), 'Bundled');
      new NodejsFunction(stack, 'Fn', {
        entry: path.join(REPO_ROOT, functions.Authorizer.entry),
        projectRoot: REPO_ROOT,
        depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
        runtime: Runtime.NODEJS_22_X,
        bundling: { externalModules: ['@aws-sdk/*'] },
      });
    } finally {
      spy.mockRestore();
    }
    expect(commands.some((command) => command.includes('esbuild'))).toBe(true);
  });
});

function dataKeyLogicalId(): string {
  return built.stateful.getLogicalId(built.stateful.dataKey.node.defaultChild as never);
}

function messagingKeyLogicalId(): string {
  return built.stateless.getLogicalId(built.stateless.messagingKey.node.defaultChild as never);
}

function alarmTopicLogicalId(): string {
  return built.stateless.getLogicalId(built.stateless.alarmTopic.topic.node.defaultChild as never);
}

/** What the grants on a table, queue or bucket encrypted with a customer-managed key add for writing to it. */
const KMS_WRITE_ACTIONS = ['kms:Encrypt', 'kms:GenerateDataKey*', 'kms:ReEncrypt*'];

/**
 * A function's KMS rights: on the data key (its tables and buckets) and the messaging key (its queues) only, never
 * on "*" or another key; kms:Decrypt when it reads or writes what the key encrypts, the write actions only when it
 * writes (a readWrite table or bucket, a queue it sends to); a consumer only decrypts.
 */
function expectKeyRights(statements: Statement[], spec: FunctionSpec, consumed: QueueName[]): void {
  const dataKey = built.stateless.resolve(built.stateful.dataKey.keyArn);
  const messagingKey = { 'Fn::GetAtt': [messagingKeyLogicalId(), 'Arn'] };
  const kms = statements.filter((s) => toArray(s.Action).some((action) => action.startsWith('kms:')));
  for (const statement of kms) {
    expect(toArray(statement.Action).every((action) => action.startsWith('kms:'))).toBe(true);
    for (const resource of toArray(statement.Resource)) {
      expect([JSON.stringify(dataKey), JSON.stringify(messagingKey)]).toContain(JSON.stringify(resource));
    }
  }
  const actionsOn = (key: unknown) =>
    new Set(kms.filter((s) => refersTo(s.Resource, key)).flatMap((s) => toArray(s.Action)));
  const dataAccess = [...Object.values(spec.tables), ...Object.values(spec.buckets ?? {})];
  const onData = actionsOn(dataKey);
  expect([spec.id, 'data key', onData.has('kms:Decrypt')]).toEqual([spec.id, 'data key', dataAccess.length > 0]);
  for (const action of KMS_WRITE_ACTIONS) {
    expect([spec.id, action, onData.has(action)]).toEqual([spec.id, action, dataAccess.includes('readWrite')]);
  }
  const sends = (spec.sendsTo ?? []).length > 0;
  const onMessaging = actionsOn(messagingKey);
  expect([spec.id, 'messaging key', onMessaging.has('kms:Decrypt')]).toEqual([
    spec.id,
    'messaging key',
    sends || consumed.length > 0,
  ]);
  for (const action of KMS_WRITE_ACTIONS) {
    expect([spec.id, action, onMessaging.has(action)]).toEqual([spec.id, action, sends]);
  }
}

function payInLogicalId(): string {
  return built.stateless.getLogicalId(built.stateless.payIn.stateMachine.node.defaultChild as never);
}

function failedPaymentsLogicalId(): string {
  return built.stateless.getLogicalId(built.stateless.payIn.failedExecutions.node.defaultChild as never);
}

function workflowLogicalId(name: string): string {
  const workflow = built.stateless.workflows[name]!;
  return built.stateless.getLogicalId(workflow.stateMachine.node.defaultChild as never);
}

function failedExecutionsLogicalId(name: string): string {
  const workflow = built.stateless.workflows[name]!;
  return built.stateless.getLogicalId(workflow.failedExecutions.node.defaultChild as never);
}

/**
 * A function's Step Functions rights: StartExecution on exactly the machines it starts and DescribeExecution on
 * their executions and on those of the machines whose histories it reads (GetExecutionHistory on exactly those);
 * SendTask* in one statement on exactly the machines whose tasks it answers; nothing else.
 */
function expectWorkflowRights(
  statements: Statement[],
  starts: string[],
  answers: string[],
  logicalId: (name: string) => string,
  histories: string[] = [],
): void {
  const withAction = (action: string) => statements.filter((s) => toArray(s.Action).includes(action));
  const refs = (items: unknown[]) => items.map((item) => JSON.stringify(item));
  sameElements(
    refs(withAction('states:StartExecution').flatMap((s) => toArray(s.Resource))),
    refs(starts.map((name) => ({ Ref: logicalId(name) }))),
  );
  const described = withAction('states:DescribeExecution').flatMap((s) => toArray(s.Resource));
  const describes = [...new Set([...starts, ...histories])];
  expect(described).toHaveLength(starts.length + histories.length);
  const historyOf = withAction('states:GetExecutionHistory').flatMap((s) => toArray(s.Resource));
  expect(historyOf).toHaveLength(histories.length);
  for (const name of histories) {
    const ofMachine = historyOf.filter((r) => JSON.stringify(r).includes(JSON.stringify({ Ref: logicalId(name) })));
    expect([name, ofMachine.length]).toEqual([name, 1]);
  }
  for (const name of describes) {
    // <machine ARN's account and region>:execution:<machine name>:*, the name taken from this machine's ARN.
    const ofMachine = described.filter((r) => JSON.stringify(r).includes(JSON.stringify({ Ref: logicalId(name) })));
    expect(ofMachine).toHaveLength(1);
    expect(JSON.stringify(ofMachine[0])).toMatch(/:execution:.*:\*"\]\]\}$/);
  }
  const respond = statements.filter((s) => toArray(s.Action).some((a) => a.startsWith('states:SendTask')));
  if (answers.length === 0) {
    expect(respond).toEqual([]);
    return;
  }
  expect(respond).toHaveLength(1);
  sameElements(toArray(respond[0]!.Action), TASK_RESPONSE_ACTIONS);
  sameElements(refs(toArray(respond[0]!.Resource)), refs(answers.map((name) => ({ Ref: logicalId(name) }))));
}

function queueLogicalId(name: QueueName): string {
  return built.stateless.getLogicalId(built.stateless.workQueues.queues[name].node.defaultChild as never);
}

function dlqLogicalId(name: QueueName): string {
  return built.stateless.getLogicalId(built.stateless.workQueues.deadLetterQueues[name].node.defaultChild as never);
}

function workQueueLogicalId(name: WorkQueueName): string {
  return built.stateless.getLogicalId(built.stateless.workQueues.workQueues[name].node.defaultChild as never);
}

function workQueueDlqLogicalId(name: WorkQueueName): string {
  return built.stateless.getLogicalId(
    built.stateless.workQueues.workQueueDeadLetterQueues[name].node.defaultChild as never,
  );
}

/** The logical id of a queue a function may send to: a consumed queue or a work queue. */
function anyQueueLogicalId(name: QueueName | WorkQueueName): string {
  return name in catalogQueues ? queueLogicalId(name as QueueName) : workQueueLogicalId(name as WorkQueueName);
}

/**
 * A dependency cycle among a template's resources (as CloudFormation sees them: DependsOn, Ref, Fn::GetAtt and
 * Fn::Sub references), as the list of logical ids around it; [] when there is none. CDK does not detect these at
 * synth time; CloudFormation rejects the template at deploy time ("Circular dependency between resources").
 */
function dependencyCycle(template: { Resources?: Record<string, Json> }): string[] {
  const resources = template.Resources ?? {};
  const dependencies = (resource: Json): Set<string> => {
    const found = new Set<string>(toArray(resource.DependsOn ?? []));
    const visit = (value: Json): void => {
      if (Array.isArray(value)) {
        for (const item of value) visit(item);
        return;
      }
      if (value === null || typeof value !== 'object') return;
      for (const [key, inner] of Object.entries(value as Record<string, Json>)) {
        if (key === 'Ref' && typeof inner === 'string') found.add(inner);
        else if (key === 'Fn::GetAtt') found.add(typeof inner === 'string' ? inner.split('.')[0]! : inner[0]);
        else if (key === 'Fn::Sub') {
          const text = typeof inner === 'string' ? inner : inner[0];
          for (const m of String(text).matchAll(/\$\{([^}.!]+)[^}]*\}/g)) found.add(m[1]!);
        }
        visit(inner);
      }
    };
    visit({ Properties: resource.Properties });
    return new Set([...found].filter((id) => id in resources));
  };
  const edges = new Map(Object.entries(resources).map(([id, resource]) => [id, dependencies(resource)]));
  const state = new Map<string, 'visiting' | 'done'>();
  const path: string[] = [];
  const dfs = (id: string): string[] => {
    if (state.get(id) === 'done') return [];
    if (state.get(id) === 'visiting') return [...path.slice(path.indexOf(id)), id];
    state.set(id, 'visiting');
    path.push(id);
    for (const next of edges.get(id) ?? []) {
      const cycle = dfs(next);
      if (cycle.length > 0) return cycle;
    }
    path.pop();
    state.set(id, 'done');
    return [];
  };
  for (const id of edges.keys()) {
    const cycle = dfs(id);
    if (cycle.length > 0) return cycle;
  }
  return [];
}
