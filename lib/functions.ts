import * as path from 'node:path';
import { Duration } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Policy, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, type IFunction, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import {
  type BucketSpec,
  type FunctionSpec,
  METRICS_NAMESPACE,
  SERVICE_NAME,
  type StateMachineSpec,
} from '../lambdas/catalog';
import { type TableName, tableSchemas } from '../src/core/table-schemas';
import { acknowledge, acknowledgeKeyActionWildcards, acknowledgeWildcardResources } from './nag';

/** The repository root: catalog paths (handler entries, ASL files) are relative to it. */
export const REPO_ROOT = path.join(__dirname, '..');

/** A state machine of the catalog with its spec (a `Workflow`). */
export interface CatalogStateMachine {
  spec: Pick<StateMachineSpec<string>, 'id' | 'envVar'>;
  stateMachine: IStateMachine;
}

/** A queue of the catalog (consumed, or a work queue) with what its senders need of its spec. */
export interface CatalogQueue {
  spec: { id: string; envVar: string };
  queue: IQueue;
}

/** A bucket of the catalog with its spec. */
export interface CatalogBucket {
  spec: BucketSpec;
  bucket: IBucket;
}

export interface CatalogFunctionProps {
  spec: FunctionSpec<string, string>;
  tables: Record<TableName, ITable>;
  pspSecret: ISecret;
  /** The PSP's restricted Connect key (the pay-out's); required when `spec.pspConnect`. */
  pspConnectSecret?: ISecret;
  /** The PSP's webhook signing secret; required when `spec.webhookSecret`. */
  webhookSecret?: ISecret;
  /** The catalog's queues (consumed ones and work queues), by name; those of `spec.sendsTo` are required. */
  queues?: Partial<Record<string, CatalogQueue>>;
  /** The catalog's state machines, by name; those of `spec.startsWorkflows` are required. */
  workflows?: Partial<Record<string, CatalogStateMachine>>;
  /** The catalog's buckets, by name; those of `spec.buckets` are required. */
  buckets?: Partial<Record<string, CatalogBucket>>;
  /** The catalog's functions created so far, by id, with their specs; those of `spec.invokes` are required. */
  invocable?: Partial<
    Record<string, { spec: Pick<FunctionSpec<string, string>, 'id' | 'nameEnvVar'>; function: IFunction }>
  >;
  /** Platform fee in basis points (context `platformFeeBps`). */
  platformFeeBps: string;
}

/** Lambda's default memory for the catalog's functions; a spec's `memoryMb` replaces it. */
export const DEFAULT_MEMORY_MB = 512;

/** The actions of `StateMachine.grantTaskResponse`: answering the task tokens of the machine's executions. */
export const TASK_RESPONSE_ACTIONS = ['states:SendTaskSuccess', 'states:SendTaskFailure', 'states:SendTaskHeartbeat'];

/**
 * One Lambda function of `lambdas/catalog.ts`, with its own log group and its own role. The role
 * holds only what the spec asks for: writing to its log group, X-Ray, the tables of its access map,
 * the PSP secret key when `psp`, the PSP Connect key when `pspConnect` (each a secret of its own: a pay-in function
 * cannot read the key that moves money out), the webhook signing secret when `webhookSecret`, sending to the queues of
 * `sendsTo`, reading (or reading and writing) the buckets of `buckets`, starting (and describing) the executions
 * of the state machines of `startsWorkflows`, answering the task tokens of those of `answersTasksOf` (added
 * by `allowTaskResponses`, once the state machines exist), and invoking the functions of `invokes` (each by its
 * unqualified ARN: no version or alias wildcard).
 */
export class CatalogFunction extends Construct {
  readonly function: NodejsFunction;
  readonly logGroup: LogGroup;
  readonly role: Role;
  private readonly spec: FunctionSpec<string, string>;

  constructor(scope: Construct, id: string, props: CatalogFunctionProps) {
    super(scope, id);
    const { spec } = props;
    this.spec = spec;

    // Created explicitly (rather than `logRetention`, which adds a CDK-internal helper function).
    this.logGroup = new LogGroup(this, 'Logs', { retention: RetentionDays.ONE_MONTH });

    // Own role instead of the default one with the AWSLambdaBasicExecutionRole managed policy
    // (logs:* on every log group): this one can only write to its own log group.
    const role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of the ${spec.id} function`,
    });
    this.role = role;
    this.logGroup.grantWrite(role);

    const environment: Record<string, string> = {
      POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
      // Powertools Metrics (EMF): the namespace of every metric the functions publish (the alarms of metricAlarms).
      POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
      POWERTOOLS_LOG_LEVEL: 'INFO',
      NODE_OPTIONS: '--enable-source-maps',
      PLATFORM_FEE_BPS: props.platformFeeBps,
    };
    for (const name of Object.keys(spec.tables) as TableName[]) {
      environment[tableSchemas[name].envVar] = props.tables[name].tableName;
    }
    if (spec.psp) environment.PSP_SECRET_ARN = props.pspSecret.secretArn;
    if (spec.pspConnect) {
      if (!props.pspConnectSecret) throw new Error(`${spec.id} reads the PSP Connect key: pass its secret`);
      environment.PSP_CONNECT_SECRET_ARN = props.pspConnectSecret.secretArn;
    }
    if (spec.webhookSecret) {
      if (!props.webhookSecret) throw new Error(`${spec.id} reads the webhook signing secret: pass it`);
      environment.PSP_WEBHOOK_SECRET_ARN = props.webhookSecret.secretArn;
    }
    const sendsTo = (spec.sendsTo ?? []).map((name) => {
      const catalogQueue = props.queues?.[name];
      if (!catalogQueue) throw new Error(`${spec.id} sends to the ${name} queue: pass it`);
      environment[catalogQueue.spec.envVar] = catalogQueue.queue.queueUrl;
      return catalogQueue.queue;
    });
    const starts = (spec.startsWorkflows ?? []).map((name) => {
      const workflow = props.workflows?.[name];
      if (!workflow) throw new Error(`${spec.id} starts ${name} executions: pass the state machine`);
      environment[workflow.spec.envVar] = workflow.stateMachine.stateMachineArn;
      return workflow;
    });
    const histories = (spec.readsHistoryOf ?? []).map((name) => {
      const workflow = props.workflows?.[name];
      if (!workflow) throw new Error(`${spec.id} reads ${name} execution histories: pass the state machine`);
      environment[workflow.spec.envVar] = workflow.stateMachine.stateMachineArn;
      return workflow;
    });
    const invokes = (spec.invokes ?? []).map((functionId) => {
      const invoked = props.invocable?.[functionId];
      if (!invoked) throw new Error(`${spec.id} invokes ${functionId}: create it first and pass it`);
      if (!invoked.spec.nameEnvVar) throw new Error(`${spec.id} invokes ${functionId}, which has no nameEnvVar`);
      environment[invoked.spec.nameEnvVar] = invoked.function.functionName;
      return invoked.function;
    });
    const buckets = (Object.entries(spec.buckets ?? {}) as [string, 'read' | 'readWrite'][]).map(([name, access]) => {
      const bucket = props.buckets?.[name];
      if (!bucket) throw new Error(`${spec.id} uses the ${name} bucket: pass it`);
      environment[bucket.spec.envVar] = bucket.bucket.bucketName;
      return { ...bucket, access };
    });

    this.function = new NodejsFunction(this, 'Function', {
      description: spec.description,
      entry: path.join(REPO_ROOT, spec.entry),
      handler: 'handler',
      projectRoot: REPO_ROOT,
      depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: spec.memoryMb ?? DEFAULT_MEMORY_MB,
      timeout: Duration.seconds(spec.timeoutSeconds),
      tracing: Tracing.ACTIVE,
      role,
      logGroup: this.logGroup,
      environment,
      bundling: {
        minify: true,
        sourceMap: true,
        target: 'node22',
        format: OutputFormat.CJS,
        // The Node.js 22 runtime ships AWS SDK v3.
        externalModules: ['@aws-sdk/*'],
      },
    });

    for (const [name, access] of Object.entries(spec.tables) as [TableName, 'read' | 'readWrite'][]) {
      const table = props.tables[name];
      if (access === 'readWrite') table.grantReadWriteData(role);
      else table.grantReadData(role);
    }
    if (spec.psp) props.pspSecret.grantRead(role);
    if (spec.pspConnect) props.pspConnectSecret?.grantRead(role);
    if (spec.webhookSecret) props.webhookSecret?.grantRead(role);
    for (const queue of sendsTo) queue.grantSendMessages(role);
    if (invokes.length > 0) {
      role.addToPrincipalPolicy(
        new PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: invokes.map((f) => f.functionArn) }),
      );
    }
    for (const { bucket, access } of buckets) {
      if (access === 'readWrite') bucket.grantReadWrite(role);
      else bucket.grantRead(role);
    }
    if (buckets.length > 0) acknowledgeBucketGrants(this, role, buckets);
    for (const { stateMachine } of starts) {
      stateMachine.grantStartExecution(role);
      // Re-drives check first whether the current execution (e.g. a payment's) still runs.
      stateMachine.grantExecution(role, 'states:DescribeExecution');
    }
    for (const { stateMachine } of histories) {
      // A payment's timeline reads the histories of its executions (nothing else: no start, stop or task answer).
      stateMachine.grantExecution(role, 'states:DescribeExecution', 'states:GetExecutionHistory');
    }
    if (starts.length > 0 || histories.length > 0) {
      acknowledgeWildcardResources(
        this,
        /:execution:.*:\*$/,
        'states:DescribeExecution on <state machine>:execution:*: executions are named per business object (a ' +
          'payment, a payout, a refund) and per re-drive, so their ARNs are not known in advance; scoped to the state ' +
          `machines the function starts or whose histories it reads (${[...starts, ...histories].map((workflow) => workflow.spec.id).join(', ')}).`,
      );
    }

    // The customer-managed keys of what the function writes: a write grant (grantReadWriteData, grantSendMessages,
    // grantReadWrite) also grants kms:Encrypt, kms:ReEncrypt* and kms:GenerateDataKey* on the resource's key.
    const writtenWithKeys = [
      ...(Object.entries(spec.tables) as [TableName, 'read' | 'readWrite'][])
        .filter(([, access]) => access === 'readWrite')
        .map(([name]) => props.tables[name].encryptionKey),
      ...sendsTo.map((queue) => queue.encryptionMasterKey),
      ...buckets.filter(({ access }) => access === 'readWrite').map(({ bucket }) => bucket.encryptionKey),
    ].filter((key) => key !== undefined);
    acknowledgeKeyActionWildcards(
      this,
      [...new Set(writtenWithKeys)],
      'kms:GenerateDataKey* (GenerateDataKey, GenerateDataKeyWithoutPlaintext) and kms:ReEncrypt* (ReEncryptFrom, ' +
        "ReEncryptTo) come with CDK's write grants on a table, queue or bucket encrypted with a customer-managed " +
        "key: DynamoDB, SQS and S3 call KMS with the function's credentials for what it writes. Only on the keys of " +
        'the tables, queues and buckets its catalog entry lets it write, and on no other key.',
    );
    acknowledge(role, {
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'X-Ray (tracing ACTIVE): xray:PutTraceSegments and xray:PutTelemetryRecords support no ' +
        'resource-level permissions, so their resource must be "*".',
    });
    acknowledgeWildcardResources(
      this,
      /\/index\/\*$/,
      'grantReadData/grantReadWriteData on a table with GSIs also grants <table ARN>/index/*: the function ' +
        "queries the GSIs of a table it may already read; the wildcard spans that one table's indexes only.",
    );
    acknowledge(this.function, {
      id: 'AwsSolutions-L1',
      reason:
        'Pinned to nodejs22.x on purpose: the code base, its tests and the local stack run on Node 22 ' +
        '(esbuild target node22); a runtime move is a deliberate, tested change.',
    });
  }

  /**
   * Lets the function answer the task tokens of the executions of the state machines of `answersTasksOf` (what
   * `grantTaskResponse` grants, on the state machines' ARNs), taken from `workflows` by name. In a Policy of its
   * own, attached to the role, not in the role's default policy: a Lambda function depends on its role and the
   * role's default policy, and a state machine depends on its step functions' ARNs (definitionSubstitutions), so
   * for a function that is also a step (AwaitPsp) a default-policy grant would make a cycle: default policy ->
   * state machine -> function -> default policy. Nothing depends on this Policy.
   */
  allowTaskResponses(workflows: Partial<Record<string, Pick<CatalogStateMachine, 'stateMachine'>>>): void {
    const names = this.spec.answersTasksOf ?? [];
    if (names.length === 0) throw new Error(`${this.spec.id} answers no workflow's tasks (catalog)`);
    const resources = names.map((name) => {
      const workflow = workflows[name];
      if (!workflow) throw new Error(`${this.spec.id} answers the tasks of ${name}: pass the state machine`);
      return workflow.stateMachine.stateMachineArn;
    });
    new Policy(this, 'TaskResponsePolicy', {
      roles: [this.role],
      statements: [new PolicyStatement({ actions: TASK_RESPONSE_ACTIONS, resources })],
    });
  }
}

/**
 * The wildcards of `grantRead` / `grantReadWrite` on the catalog's buckets, acknowledged with their reason: the
 * objects' keys are not known in advance (`<bucket ARN>/*`), and the grants' action groups (`s3:GetObject*`,
 * `s3:List*`...) are CDK's read and read-write sets on those buckets.
 */
function acknowledgeBucketGrants(
  scope: Construct,
  role: Role,
  buckets: (CatalogBucket & { access: 'read' | 'readWrite' })[],
): void {
  const ids = buckets.map(({ spec }) => spec.id).join(', ');
  acknowledgeWildcardResources(
    scope,
    { exactly: buckets.map(({ bucket }) => bucket.arnForObjects('*')) },
    `Objects of the ${ids} bucket(s) (<bucket ARN>/*): their keys are made at run time; the function is granted ` +
      'the objects of the buckets its catalog entry names, and of no other bucket.',
  );
  const actions = new Set(['s3:GetObject*', 's3:GetBucket*', 's3:List*']);
  if (buckets.some(({ access }) => access === 'readWrite')) {
    for (const action of ['s3:DeleteObject*', 's3:Abort*']) actions.add(action);
  }
  for (const action of actions) {
    acknowledge(role, {
      id: `AwsSolutions-IAM5[Action::${action}]`,
      reason:
        `${action} is part of CDK's grantRead / grantReadWrite, on the ${ids} bucket(s) named in the function's ` +
        'catalog entry only (object reads with their versions, listing, and for read-write deletes and aborted ' +
        'multipart uploads).',
    });
  }
}
