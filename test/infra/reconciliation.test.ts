/**
 * The reconciliation's infrastructure, on the synthesized templates: the Settlement bucket (stateful, retained,
 * versioned, the data key, no public access, TLS only) and who may touch it; the two work queues (finance,
 * investigation: no consumer, a DLQ each, only FinishRun sends); the Reconciliation state machine from its ASL file,
 * whose Distributed Map may start, describe and stop its own child executions and nothing more; the nightly
 * schedule; the alarms on the open mismatches FinishRun publishes; the API routes. Each least-privilege check has a
 * control that shows it fails on a catalog that grants too much. Asset bundling is skipped, as in stacks.test.ts.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import {
  apiRoutes,
  type Catalog,
  catalog,
  type FunctionId,
  type FunctionSpec,
  functions,
  METRICS_NAMESPACE,
  metricAlarms,
  SERVICE_NAME,
  schedules,
  stateMachines,
  type WorkQueueName,
  workQueues,
} from '../../lambdas/catalog';
import { addPaymentsStacks, type PaymentsStacks } from '../../lib/app';
import { distributedMapStates } from '../../lib/workflow';
import { expectDistributedMapRights, type Statement } from './distributed-map';

const REPO_ROOT = path.join(__dirname, '..', '..');
const CDK_CONTEXT = JSON.parse(readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')).context as Record<
  string,
  unknown
>;
const SKIP_BUNDLING = { 'aws:cdk:bundling-stacks': [] };

// biome-ignore lint/suspicious/noExplicitAny: synthesized CloudFormation JSON, checked by the assertions themselves.
type Json = any;
type Resource = {
  Type: string;
  Properties: Record<string, Json>;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
};

const toArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);
const sorted = <T>(items: T[]) => [...items].sort();
const refersTo = (resource: unknown, expr: unknown) => JSON.stringify(toArray(resource)).includes(JSON.stringify(expr));
/** An IAM action pattern (`s3:GetObject*`, `sqs:*`, `*`) that covers `action`. */
const covers = (pattern: string, action: string) =>
  pattern === '*' || pattern === action || (pattern.endsWith('*') && action.startsWith(pattern.slice(0, -1)));

const S3_READ = ['s3:GetObject'];
const S3_WRITE = ['s3:PutObject', 's3:DeleteObject'];
const SQS_SEND = ['sqs:SendMessage'];
const SQS_RECEIVE = ['sqs:ReceiveMessage', 'sqs:DeleteMessage'];
const START_EXECUTION = ['states:StartExecution'];
/** The functions of the catalog that may touch the Settlement bucket, and how. */
const SETTLEMENT_WRITERS = ['SplitFile', 'FinishRun'];
const SETTLEMENT_READERS = ['SplitFile', 'MatchShard', 'FinishRun', 'CreateReconciliationRun'];
const RECONCILIATION_STEPS = ['RequestReport', 'CheckReport', 'SplitFile', 'MatchShard', 'FinishRun', 'FailRun'];

interface Built extends PaymentsStacks {
  stateless: PaymentsStacks['stateless'];
  resources: Record<string, Resource>;
  statefulResources: Record<string, Resource>;
}

function synth(appCatalog: Catalog = catalog): Built {
  const app = new App({ context: { ...CDK_CONTEXT, ...SKIP_BUNDLING } });
  const stacks = addPaymentsStacks(app, appCatalog);
  return {
    ...stacks,
    // Synthesizes the whole app: this throws if cdk-nag (registered by addPaymentsStacks) reports an error.
    resources: Template.fromStack(stacks.stateless).toJSON().Resources,
    statefulResources: Template.fromStack(stacks.stateful).toJSON().Resources,
  };
}

const logicalIdIn = (built: Built, construct: { node: { defaultChild?: unknown } }) =>
  built.stateless.getLogicalId(construct.node.defaultChild as never);

/** The synthesized function of a catalog entry (found by its unique description). */
function functionResource(built: Built, spec: FunctionSpec<string, string>): Resource {
  const found = Object.values(built.resources).filter(
    (r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Description === spec.description,
  );
  expect([spec.id, found.length]).toEqual([spec.id, 1]);
  return found[0]!;
}

/** Every statement of the role of a catalog function: its own policies and every policy attached to it. */
function roleStatements(built: Built, spec: FunctionSpec<string, string>): Statement[] {
  const roleId = functionResource(built, spec).Properties.Role['Fn::GetAtt'][0];
  return [
    ...(built.resources[roleId]!.Properties.Policies ?? []).flatMap((policy: Json) => policy.PolicyDocument.Statement),
    ...Object.values(built.resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy' && toArray(r.Properties.Roles).some((x: Json) => x.Ref === roleId))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement),
  ] as Statement[];
}

/** The functions of `appCatalog` whose role may do one of `actions` on `resource` (or on "*"). */
function functionsAllowed(built: Built, appCatalog: Catalog, actions: string[], resource: unknown): string[] {
  return Object.values(appCatalog.functions)
    .filter((spec) =>
      roleStatements(built, spec).some(
        (s) =>
          s.Effect === 'Allow' &&
          toArray(s.Action).some((pattern) => actions.some((action) => covers(pattern, action))) &&
          (toArray(s.Resource).includes('*') || refersTo(s.Resource, resource)),
      ),
    )
    .map((spec) => spec.id);
}

/** The catalog functions whose environment refers to `value`. */
function functionsTold(built: Built, appCatalog: Catalog, value: unknown): string[] {
  return Object.values(appCatalog.functions)
    .filter((spec) => refersTo(functionResource(built, spec).Properties.Environment.Variables, value))
    .map((spec) => spec.id);
}

let main: Built;
/**
 * A catalog that grants too much: a GET handler that reads the Settlement bucket, writes it, sends to a work queue
 * and starts the reconciliation; a scheduled function that reads the finance queue.
 */
const loose: Catalog = {
  ...catalog,
  functions: {
    ...catalog.functions,
    GetReconciliationRun: {
      ...functions.GetReconciliationRun,
      buckets: { settlement: 'readWrite' },
      sendsTo: ['reconciliationFinance', 'reconciliationInvestigation'],
      startsWorkflows: ['reconciliation'],
    },
  },
};
let withLoose: Built;

beforeAll(() => {
  main = synth();
  withLoose = synth(loose);
});

describe('the Settlement bucket', () => {
  let bucketId: string;
  let bucket: Resource;
  beforeAll(() => {
    bucketId = main.stateful.getLogicalId(main.stateful.buckets.settlement!.node.defaultChild as never);
    bucket = main.statefulResources[bucketId]!;
  });

  test('in the stateful stack, retained, with a generated name', () => {
    expect(bucketId).toMatch(/^Settlement[0-9A-F]{8}$/);
    expect(bucket.Type).toBe('AWS::S3::Bucket');
    expect(bucket.DeletionPolicy).toBe('Retain');
    expect(bucket.UpdateReplacePolicy).toBe('Retain');
    expect(bucket.Properties.BucketName).toBeUndefined();
    expect(Object.values(main.resources).filter((r) => r.Type === 'AWS::S3::Bucket')).toEqual([]);
  });

  test('versioned, encrypted with the data key (bucket key on), all public access blocked, owner-enforced', () => {
    const dataKeyId = main.stateful.getLogicalId(main.stateful.dataKey.node.defaultChild as never);
    expect(bucket.Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
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
    expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(bucket.Properties.OwnershipControls).toEqual({ Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] });
  });

  test('TLS only (its policy denies every request without SecureTransport), and its accesses logged', () => {
    const statements = Object.values(main.statefulResources)
      .filter((r) => r.Type === 'AWS::S3::BucketPolicy' && r.Properties.Bucket.Ref === bucketId)
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
    expect(statements).toContainEqual(
      expect.objectContaining({
        Effect: 'Deny',
        Action: 's3:*',
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      }),
    );
    // Nothing in its policy allows anyone anything: access is granted in the functions' roles only.
    expect(statements.filter((s) => s.Effect === 'Allow')).toEqual([]);
    const logsId = main.stateful.getLogicalId(main.stateful.accessLogsBucket!.node.defaultChild as never);
    expect(bucket.Properties.LoggingConfiguration).toEqual({
      DestinationBucketName: { Ref: logsId },
      LogFilePrefix: 'Settlement/',
    });
  });

  test('read by SplitFile, MatchShard, FinishRun and CreateReconciliationRun only; written by SplitFile and FinishRun only', () => {
    const arn = main.stateless.resolve(main.stateful.buckets.settlement!.bucketArn);
    expect(sorted(functionsAllowed(main, catalog, S3_READ, arn))).toEqual(sorted(SETTLEMENT_READERS));
    expect(sorted(functionsAllowed(main, catalog, S3_WRITE, arn))).toEqual(sorted(SETTLEMENT_WRITERS));
    // No function may use S3 on any other bucket, nor on "*".
    for (const spec of Object.values(functions) as FunctionSpec[]) {
      for (const statement of roleStatements(main, spec).filter((s) =>
        toArray(s.Action).some((a) => a.startsWith('s3:')),
      )) {
        for (const resource of toArray(statement.Resource))
          expect([spec.id, JSON.stringify(resource)]).toEqual([spec.id, expect.stringContaining(JSON.stringify(arn))]);
      }
    }
    // The bucket's name reaches exactly those functions.
    const name = main.stateless.resolve(main.stateful.buckets.settlement!.bucketName);
    expect(sorted(functionsTold(main, catalog, name))).toEqual(sorted(SETTLEMENT_READERS));
    for (const id of SETTLEMENT_READERS) {
      expect(
        functionResource(main, functions[id as keyof typeof functions]).Properties.Environment.Variables,
      ).toMatchObject({ SETTLEMENT_BUCKET: name });
    }
  });

  test('control: the same checks catch a GET handler that reads and writes the bucket', () => {
    const arn = withLoose.stateless.resolve(withLoose.stateful.buckets.settlement!.bucketArn);
    expect(functionsAllowed(withLoose, loose, S3_READ, arn)).toContain('GetReconciliationRun');
    expect(functionsAllowed(withLoose, loose, S3_WRITE, arn)).toContain('GetReconciliationRun');
    const name = withLoose.stateless.resolve(withLoose.stateful.buckets.settlement!.bucketName);
    expect(functionsTold(withLoose, loose, name)).toContain('GetReconciliationRun');
  });
});

describe('the work queues: finance and investigation', () => {
  const names = Object.keys(workQueues) as WorkQueueName[];
  const queueId = (built: Built, name: WorkQueueName) =>
    logicalIdIn(built, built.stateless.workQueues.workQueues[name]);
  const dlqId = (built: Built, name: WorkQueueName) =>
    logicalIdIn(built, built.stateless.workQueues.workQueueDeadLetterQueues[name]);

  test('the catalog has the two, with their env vars', () => {
    expect(workQueues).toEqual({
      reconciliationFinance: expect.objectContaining({
        id: 'ReconciliationFinance',
        envVar: 'RECONCILIATION_FINANCE_QUEUE_URL',
      }),
      reconciliationInvestigation: expect.objectContaining({
        id: 'ReconciliationInvestigation',
        envVar: 'RECONCILIATION_INVESTIGATION_QUEUE_URL',
      }),
    });
  });

  test.each(names)(
    '%s: its own DLQ, the messaging key, TLS only, 14-day retention, its DLQ alarmed to the topic',
    (name) => {
      const spec = workQueues[name];
      const id = queueId(main, name);
      expect(id).toMatch(new RegExp(`^WorkQueues${spec.id}[0-9A-F]{8}$`));
      const queue = main.resources[id]!;
      const messagingKey = { 'Fn::GetAtt': [logicalIdIn(main, main.stateless.messagingKey), 'Arn'] };
      expect(queue.Properties).toMatchObject({
        KmsMasterKeyId: messagingKey,
        MessageRetentionPeriod: 14 * 24 * 3600,
        VisibilityTimeout: spec.visibilityTimeoutSeconds,
        RedrivePolicy: {
          deadLetterTargetArn: { 'Fn::GetAtt': [dlqId(main, name), 'Arn'] },
          maxReceiveCount: spec.maxReceiveCount,
        },
      });
      const dlq = main.resources[dlqId(main, name)]!;
      expect(dlq.Properties).toMatchObject({ KmsMasterKeyId: messagingKey, MessageRetentionPeriod: 14 * 24 * 3600 });
      expect(dlq.Properties.RedrivePolicy).toBeUndefined();
      for (const queueLogicalId of [id, dlqId(main, name)]) {
        const statements = Object.values(main.resources)
          .filter(
            (r) =>
              r.Type === 'AWS::SQS::QueuePolicy' &&
              toArray(r.Properties.Queues).some((q: Json) => q.Ref === queueLogicalId),
          )
          .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
        expect(statements).toContainEqual(
          expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        );
      }
      const topic = { Ref: logicalIdIn(main, main.stateless.alarmTopic.topic) };
      const alarms = Object.values(main.resources).filter(
        (r) =>
          r.Type === 'AWS::CloudWatch::Alarm' &&
          refersTo(r.Properties.Dimensions, { 'Fn::GetAtt': [dlqId(main, name), 'QueueName'] }),
      );
      expect(alarms).toHaveLength(1);
      expect(alarms[0]!.Properties).toMatchObject({
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        AlarmActions: [topic],
      });
    },
  );

  test.each(names)(
    '%s: no function consumes it (no event source); only FinishRun may send to it, and knows its URL',
    (name) => {
      const arn = { 'Fn::GetAtt': [queueId(main, name), 'Arn'] };
      expect(
        Object.values(main.resources).filter(
          (r) => r.Type === 'AWS::Lambda::EventSourceMapping' && refersTo(r.Properties.EventSourceArn, arn),
        ),
      ).toEqual([]);
      expect(functionsAllowed(main, catalog, SQS_SEND, arn)).toEqual(['FinishRun']);
      expect(functionsAllowed(main, catalog, SQS_RECEIVE, arn)).toEqual([]);
      expect(functionsTold(main, catalog, { Ref: queueId(main, name) })).toEqual(['FinishRun']);
      // Nobody touches its DLQ.
      const dlqArn = { 'Fn::GetAtt': [dlqId(main, name), 'Arn'] };
      expect(functionsAllowed(main, catalog, [...SQS_SEND, ...SQS_RECEIVE], dlqArn)).toEqual([]);
    },
  );

  test('control: the same checks catch another sender', () => {
    for (const name of names) {
      const arn = { 'Fn::GetAtt': [queueId(withLoose, name), 'Arn'] };
      expect(sorted(functionsAllowed(withLoose, loose, SQS_SEND, arn))).toEqual(['FinishRun', 'GetReconciliationRun']);
      expect(sorted(functionsTold(withLoose, loose, { Ref: queueId(withLoose, name) }))).toEqual([
        'FinishRun',
        'GetReconciliationRun',
      ]);
    }
  });
});

describe('the Reconciliation state machine', () => {
  const spec = stateMachines.reconciliation;
  const asl = JSON.parse(readFileSync(path.join(REPO_ROOT, spec.file), 'utf8'));
  const machineId = (built: Built) => logicalIdIn(built, built.stateless.reconciliation.stateMachine);
  const machineRoleStatements = (built: Built, id: string): Statement[] => {
    const roleId = built.resources[id]!.Properties.RoleArn['Fn::GetAtt'][0];
    return Object.values(built.resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy' && toArray(r.Properties.Roles).some((x: Json) => x.Ref === roleId))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
  };

  test('built from state-machines/reconciliation.asl.json, its six steps the ARNs of their functions', () => {
    const machine = main.resources[machineId(main)]!;
    expect(JSON.parse(machine.Properties.DefinitionString)).toEqual(asl);
    expect(Object.keys(machine.Properties.DefinitionSubstitutions).sort()).toEqual(
      [
        'RequestReportFunctionArn',
        'CheckReportFunctionArn',
        'SplitFileFunctionArn',
        'MatchShardFunctionArn',
        'FinishRunFunctionArn',
        'FailRunFunctionArn',
      ].sort(),
    );
    for (const [variable, functionId] of Object.entries(spec.substitutions)) {
      const fn = main.stateless.functions[functionId as keyof typeof main.stateless.functions];
      expect(machine.Properties.DefinitionSubstitutions[variable]).toEqual({
        'Fn::GetAtt': [logicalIdIn(main, fn), 'Arn'],
      });
    }
    expect(sorted(Object.values(spec.substitutions))).toEqual(sorted(RECONCILIATION_STEPS));
  });

  test('its shards run in a Distributed Map (STANDARD child executions, 4 at a time), the catch on the Map itself', () => {
    expect(distributedMapStates(asl)).toEqual(['MatchShards']);
    const map = asl.States.MatchShards;
    expect(map).toMatchObject({
      Type: 'Map',
      ItemsPath: '$.split.shards',
      ItemSelector: { 'run_id.$': '$.run_id', 'shard.$': '$$.Map.Item.Value.shard' },
      MaxConcurrency: 4,
      ResultPath: null,
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'FailRun' }],
      Next: 'FinishRun',
    });
    expect(map.ItemProcessor.ProcessorConfig).toEqual({ Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' });
    expect(map.ItemProcessor.States.MatchShard.Catch).toBeUndefined();
  });

  test("every Task retries as the pay-out's do; every Task but FailRun (and the Map) catches to FailRun, which ends in Fail", () => {
    const payOut = JSON.parse(readFileSync(path.join(REPO_ROOT, stateMachines.payOut.file), 'utf8'));
    const retry = payOut.States.Transfer.Retry;
    const tasks = Object.entries({ ...asl.States, ...asl.States.MatchShards.ItemProcessor.States }).filter(
      ([, state]) => (state as Json).Type === 'Task',
    ) as [string, Json][];
    expect(tasks.map(([name]) => name).sort()).toEqual(sorted(RECONCILIATION_STEPS));
    for (const [name, task] of tasks) {
      expect([name, task.Retry]).toEqual([name, retry]);
      const catchesToFailRun = [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'FailRun' }];
      const inMap = name === 'MatchShard';
      expect([name, task.Catch]).toEqual([name, name === 'FailRun' || inMap ? undefined : catchesToFailRun]);
    }
    expect(asl.States.FailRun).toMatchObject({
      Parameters: { 'run_id.$': '$.run_id', 'error.$': '$.error' },
      Next: 'Failed',
    });
    expect(asl.States.Failed.Type).toBe('Fail');
    expect(asl.States['ReportReady?'].Choices).toEqual([
      { Variable: '$.report.status', StringEquals: 'succeeded', Next: 'SplitFile' },
      { Variable: '$.report.status', StringEquals: 'pending', Next: 'WaitForReport' },
    ]);
    expect(asl.States.WaitForReport).toMatchObject({
      Type: 'Wait',
      SecondsPath: '$.report.poll_seconds',
      Next: 'CheckReport',
    });
  });

  test('its role may start, describe and stop its own executions (the Distributed Map), and nothing more of Step Functions', () => {
    const statements = machineRoleStatements(main, machineId(main)).filter((s) =>
      toArray(s.Action).some((a) => a.startsWith('states:')),
    );
    expectDistributedMapRights(statements, machineId(main));
    // In a policy of its own, not the role's default policy (which the state machine depends on: a cycle).
    const policies = Object.entries(main.resources).filter(
      ([, r]) =>
        r.Type === 'AWS::IAM::Policy' &&
        (r.Properties.PolicyDocument.Statement as Statement[]).some((s) =>
          toArray(s.Action).includes('states:StartExecution'),
        ) &&
        refersTo(r.Properties.Roles, { Ref: main.resources[machineId(main)]!.Properties.RoleArn['Fn::GetAtt'][0] }),
    );
    expect(policies.map(([id]) => id)).toEqual([
      expect.stringMatching(/^ReconciliationStateMachineDistributedMapPolicy/),
    ]);
    // No other state machine's role may start any execution.
    for (const name of ['payIn', 'payOut', 'refund'] as const) {
      const id = logicalIdIn(main, main.stateless.workflows[name]!.stateMachine);
      const other = machineRoleStatements(main, id).filter((s) =>
        toArray(s.Action).some((a) => a.startsWith('states:')),
      );
      expect([name, other]).toEqual([name, []]);
    }
  });

  test('control: an inline Map gets no Step Functions rights; the check refuses any more than the three', () => {
    const inline: Catalog = {
      ...catalog,
      stateMachines: {
        ...catalog.stateMachines,
        reconciliation: {
          ...spec,
          file: 'test/infra/fixtures/inline-map.asl.json',
          substitutions: { MatchShardFunctionArn: 'MatchShard' },
        },
      },
    };
    const built = synth(inline);
    const statements = machineRoleStatements(built, machineId(built));
    expect(statements.filter((s) => toArray(s.Action).some((a) => a.startsWith('states:')))).toEqual([]);
    // The shared check fails on a role that may also start another machine, or redrive, or act on "*".
    const own = machineRoleStatements(main, machineId(main)).filter((s) =>
      toArray(s.Action).some((a) => a.startsWith('states:')),
    );
    const extra: Statement[][] = [
      [...own, { Effect: 'Allow', Action: 'states:StartExecution', Resource: { Ref: 'PayInStateMachine' } }],
      [...own, { Effect: 'Allow', Action: 'states:RedriveExecution', Resource: '*' }],
      own.map((s) => ({ ...s, Resource: '*' })),
    ];
    for (const statements of extra) expect(() => expectDistributedMapRights(statements, machineId(main))).toThrow();
  });

  test('only CreateReconciliationRun and ReconciliationScheduled may start it (and know its ARN); its steps may not', () => {
    const ref = { Ref: machineId(main) };
    expect(sorted(functionsAllowed(main, catalog, START_EXECUTION, ref))).toEqual([
      'CreateReconciliationRun',
      'ReconciliationScheduled',
    ]);
    expect(sorted(functionsTold(main, catalog, ref))).toEqual(['CreateReconciliationRun', 'ReconciliationScheduled']);
    // MatchShard starts no workflow: a payment's re-drive is the pay-in janitor's, which it invokes for a fix.
    const starts = roleStatements(main, functions.MatchShard).filter((s) =>
      toArray(s.Action).some((action) => action.startsWith('states:')),
    );
    expect(starts).toEqual([]);
    const payIn = { Ref: logicalIdIn(main, main.stateless.payIn.stateMachine) };
    expect(functionsAllowed(main, catalog, START_EXECUTION, payIn)).toContain('Janitor');
  });

  test('control: the same check catches another starter', () => {
    expect(functionsAllowed(withLoose, loose, START_EXECUTION, { Ref: machineId(withLoose) })).toContain(
      'GetReconciliationRun',
    );
  });

  test('its failed executions go, by their own rule, to FailedReconciliations (its DLQs alarmed)', () => {
    const workflow = main.stateless.reconciliation;
    const queueId = logicalIdIn(main, workflow.failedExecutions);
    expect(queueId).toMatch(/^ReconciliationFailedReconciliations[0-9A-F]{8}$/);
    const rules = Object.values(main.resources).filter(
      (r) =>
        r.Type === 'AWS::Events::Rule' &&
        refersTo(r.Properties.EventPattern?.detail?.stateMachineArn, { Ref: machineId(main) }),
    );
    expect(rules).toHaveLength(1);
    expect(rules[0]!.Properties.EventPattern.detail.status).toEqual(['FAILED', 'TIMED_OUT', 'ABORTED']);
    expect(rules[0]!.Properties.Targets.map((t: Json) => t.Arn)).toEqual([{ 'Fn::GetAtt': [queueId, 'Arn'] }]);
    const alarmed = Object.values(main.resources)
      .filter((r) => r.Type === 'AWS::CloudWatch::Alarm' && r.Properties.Namespace === 'AWS/SQS')
      .map((alarm) => alarm.Properties.Dimensions[0].Value['Fn::GetAtt'][0]);
    for (const queue of [workflow.failedExecutions, workflow.failedExecutionsDlq, workflow.ruleDlq]) {
      expect(alarmed).toContain(logicalIdIn(main, queue));
    }
    expect(spec.failedExecutionsQueue).toEqual({
      id: 'FailedReconciliations',
      envVar: 'FAILED_RECONCILIATIONS_QUEUE_URL',
    });
  });
});

describe('the reconciliation functions', () => {
  test('SplitFile and MatchShard: 1024 MB and 15 minutes; the steps and API handlers with their timeouts', () => {
    for (const [id, memory, timeout] of [
      ['RequestReport', 512, 30],
      ['CheckReport', 512, 30],
      ['SplitFile', 1024, 900],
      ['MatchShard', 1024, 900],
      ['FinishRun', 512, 900],
      ['FailRun', 512, 15],
      ['ReconciliationScheduled', 512, 30],
    ] as const) {
      expect([id, functionResource(main, functions[id]).Properties]).toEqual([
        id,
        expect.objectContaining({ MemorySize: memory, Timeout: timeout }),
      ]);
    }
  });

  test("none of them reads the Connect key (a payout's fix is the pay-out janitor's); the PSP's readers read the payments key", () => {
    const connect = main.stateless.resolve(main.stateful.pspConnectSecret.secretArn);
    const payments = main.stateless.resolve(main.stateful.pspSecret.secretArn);
    const reconciliation = Object.values(functions).filter((spec) => spec.tables.reconciliation !== undefined);
    const only: Catalog = { ...catalog, functions: Object.fromEntries(reconciliation.map((s) => [s.id, s])) };
    expect(functionsAllowed(main, only, ['secretsmanager:GetSecretValue'], connect)).toEqual([]);
    expect(sorted(functionsAllowed(main, only, ['secretsmanager:GetSecretValue'], payments))).toEqual(
      sorted(['RequestReport', 'CheckReport', 'SplitFile', 'MatchShard']),
    );
  });

  test("MatchShard: reads the records the rows name, books fees, and has the flows' janitors make the fixes", () => {
    const spec = functions.MatchShard;
    expect(spec.tables).toEqual({
      reconciliation: 'readWrite',
      ledger: 'readWrite',
      payments: 'read',
      refunds: 'read',
      payouts: 'read',
      timeline: 'readWrite',
    });
    expect(spec.invokes).toEqual(['Janitor', 'RefundJanitor', 'PayoutJanitor']);
    const invoke = roleStatements(main, spec).filter((s) => toArray(s.Action).includes('lambda:InvokeFunction'));
    const arns = (list: unknown[]) => list.map((r) => JSON.stringify(r)).sort();
    expect(arns(invoke.flatMap((s) => toArray(s.Resource)))).toEqual(
      arns(
        (spec.invokes ?? []).map((id) => ({
          'Fn::GetAtt': [logicalIdIn(main, main.stateless.functions[id as FunctionId]), 'Arn'],
        })),
      ),
    );
    // No other function of the app may invoke a function (the state machines invoke their steps).
    const functionRoles = new Set(
      Object.values(main.resources)
        .filter((r) => r.Type === 'AWS::Lambda::Function')
        .map((r) => JSON.stringify({ Ref: r.Properties.Role['Fn::GetAtt'][0] })),
    );
    const invokers = Object.values(main.resources).filter(
      (r) =>
        r.Type === 'AWS::IAM::Policy' &&
        toArray(r.Properties.Roles).some((role) => functionRoles.has(JSON.stringify(role))) &&
        JSON.stringify(r.Properties.PolicyDocument.Statement).includes('lambda:'),
    );
    expect(invokers.map((r) => r.Properties.PolicyName)).toEqual([expect.stringMatching(/^MatchShardRole/)]);
  });

  test('the nightly schedule: cron 04:00 UTC invoking ReconciliationScheduled, retried until the next run at most', () => {
    expect(schedules).toContainEqual({
      functionId: 'ReconciliationScheduled',
      cron: { minute: '0', hour: '4' },
      localIntervalEnvVar: 'RECONCILIATION_INTERVAL_SECONDS',
    });
    const fnArn = { 'Fn::GetAtt': [logicalIdIn(main, main.stateless.functions.ReconciliationScheduled), 'Arn'] };
    const rules = Object.values(main.resources).filter(
      (r) => r.Type === 'AWS::Events::Rule' && (r.Properties.Targets ?? []).some((t: Json) => refersTo(t.Arn, fnArn)),
    );
    expect(rules).toHaveLength(1);
    expect(rules[0]!.Properties.ScheduleExpression).toBe('cron(0 4 * * ? *)');
    expect(rules[0]!.Properties.Targets[0].RetryPolicy).toEqual({
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 24 * 3600,
    });
  });
});

describe('alarms on the open mismatches (metrics FinishRun publishes)', () => {
  test.each([['OpenManualMismatches'], ['OpenUnclassifiableMismatches']])(
    '%s: namespace Payments, dimension service = payments, max over a day >= 1, to the alarm topic',
    (metricName) => {
      expect(METRICS_NAMESPACE).toBe('Payments');
      expect(SERVICE_NAME).toBe('payments');
      expect(metricAlarms).toContainEqual(expect.objectContaining({ metricName, functionId: 'FinishRun' }));
      const alarms = Object.values(main.resources).filter(
        (r) => r.Type === 'AWS::CloudWatch::Alarm' && r.Properties.MetricName === metricName,
      );
      expect(alarms).toHaveLength(1);
      const topic = { Ref: logicalIdIn(main, main.stateless.alarmTopic.topic) };
      expect(alarms[0]!.Properties).toMatchObject({
        Namespace: 'Payments',
        Dimensions: [{ Name: 'service', Value: 'payments' }],
        Statistic: 'Maximum',
        Period: 86400,
        EvaluationPeriods: 1,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
        AlarmActions: [topic],
        OKActions: [topic],
      });
    },
  );

  test('every function publishes into that namespace under that service name', () => {
    for (const spec of Object.values(functions) as FunctionSpec[]) {
      expect([spec.id, functionResource(main, spec).Properties.Environment.Variables]).toEqual([
        spec.id,
        expect.objectContaining({ POWERTOOLS_METRICS_NAMESPACE: 'Payments', POWERTOOLS_SERVICE_NAME: 'payments' }),
      ]);
    }
  });

  test('control: an alarm on a metric of a function the catalog does not have fails the synth', () => {
    const broken: Catalog = {
      ...catalog,
      metricAlarms: [{ ...metricAlarms[0]!, id: 'Orphan', functionId: 'NoSuchFunction' }],
    };
    expect(() => synth(broken)).toThrow(/alarm Orphan is on a metric of NoSuchFunction/);
  });
});

describe('the reconciliation API', () => {
  const routes = apiRoutes.filter((route) => route.path.startsWith('/v1/reconciliation/'));

  test('six routes, each behind the authorizer with its reconciliation scope', () => {
    expect(routes.map((r) => `${r.method} ${r.path} ${r.functionId} ${r.scope}`)).toEqual([
      'POST /v1/reconciliation/runs CreateReconciliationRun reconciliation:write',
      'GET /v1/reconciliation/runs/{run_id} GetReconciliationRun reconciliation:read',
      'GET /v1/reconciliation/runs/{run_id}/report.html GetReconciliationReport reconciliation:read',
      'GET /v1/reconciliation/runs ListReconciliationRuns reconciliation:read',
      'GET /v1/reconciliation/mismatches ListReconciliationMismatches reconciliation:read',
      'POST /v1/reconciliation/mismatches/{mismatch_id}/resolve ResolveReconciliationMismatch reconciliation:write',
    ]);
    expect(routes.every((route) => route.authorized)).toBe(true);
  });

  test('the HTML report: a Lambda proxy (body and Content-Type as the handler answers), no binary media types', () => {
    const resources = Object.entries(main.resources).filter(([, r]) => r.Type === 'AWS::ApiGateway::Resource');
    const report = resources.filter(([, r]) => r.Properties.PathPart === 'report.html');
    expect(report).toHaveLength(1);
    const methods = Object.values(main.resources).filter(
      (r) => r.Type === 'AWS::ApiGateway::Method' && r.Properties.ResourceId?.Ref === report[0]![0],
    );
    expect(methods).toHaveLength(1);
    const method = methods[0]!.Properties;
    expect(method).toMatchObject({ HttpMethod: 'GET', AuthorizationType: 'CUSTOM' });
    expect(method.Integration.Type).toBe('AWS_PROXY');
    // A proxy integration maps nothing: no templates, no content handling, no integration responses.
    expect(method.Integration.RequestTemplates).toBeUndefined();
    expect(method.Integration.ContentHandling).toBeUndefined();
    expect(method.Integration.IntegrationResponses).toBeUndefined();
    expect(method.MethodResponses).toBeUndefined();
    const api = Object.values(main.resources).find((r) => r.Type === 'AWS::ApiGateway::RestApi')!;
    expect(api.Properties.BinaryMediaTypes).toBeUndefined();
  });
});
