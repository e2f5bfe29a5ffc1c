import * as path from 'node:path';
import { Duration } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { type FunctionSpec, stateMachines } from '../lambdas/catalog';
import { type TableName, tableSchemas } from '../src/adapters/table-schemas';
import { acknowledge, acknowledgeWildcardResources } from './nag';

/** The repository root: catalog paths (handler entries, ASL files) are relative to it. */
export const REPO_ROOT = path.join(__dirname, '..');

export interface CatalogFunctionProps {
  spec: FunctionSpec;
  tables: Record<TableName, ITable>;
  pspSecret: ISecret;
  /** Required when `spec.startsPayIn`. */
  payInStateMachine?: IStateMachine;
  /** Platform fee in basis points (context `platformFeeBps`). */
  platformFeeBps: string;
}

/**
 * One Lambda function of `lambdas/catalog.ts`, with its own log group and its own role. The role
 * holds only what the spec asks for: writing to its log group, X-Ray, the tables of its access map,
 * the PSP secret when `psp`, starting (and describing) pay-in executions when `startsPayIn`.
 */
export class CatalogFunction extends Construct {
  readonly function: NodejsFunction;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: CatalogFunctionProps) {
    super(scope, id);
    const { spec } = props;

    // Created explicitly (rather than `logRetention`, which adds a CDK-internal helper function).
    this.logGroup = new LogGroup(this, 'Logs', { retention: RetentionDays.ONE_MONTH });

    // Own role instead of the default one with the AWSLambdaBasicExecutionRole managed policy
    // (logs:* on every log group): this one can only write to its own log group.
    const role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of the ${spec.id} function`,
    });
    this.logGroup.grantWrite(role);

    const environment: Record<string, string> = {
      POWERTOOLS_SERVICE_NAME: 'payments',
      POWERTOOLS_LOG_LEVEL: 'INFO',
      NODE_OPTIONS: '--enable-source-maps',
      PLATFORM_FEE_BPS: props.platformFeeBps,
    };
    for (const name of Object.keys(spec.tables) as TableName[]) {
      environment[tableSchemas[name].envVar] = props.tables[name].tableName;
    }
    if (spec.psp) environment.PSP_SECRET_ARN = props.pspSecret.secretArn;
    if (spec.startsPayIn) {
      if (!props.payInStateMachine) throw new Error(`${spec.id} starts pay-in executions: pass the state machine`);
      environment[stateMachines.payIn.envVar] = props.payInStateMachine.stateMachineArn;
    }

    this.function = new NodejsFunction(this, 'Function', {
      description: spec.description,
      entry: path.join(REPO_ROOT, spec.entry),
      handler: 'handler',
      projectRoot: REPO_ROOT,
      depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: 512,
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
    if (spec.startsPayIn && props.payInStateMachine) {
      props.payInStateMachine.grantStartExecution(role);
      // Re-drives check first whether the payment's current execution still runs.
      props.payInStateMachine.grantExecution(role, 'states:DescribeExecution');
      acknowledgeWildcardResources(
        this,
        /:execution:.*:\*$/,
        'states:DescribeExecution on <pay-in state machine>:execution:*: executions are named per payment ' +
          '(and per re-drive), so their ARNs are not known in advance; scoped to the one pay-in state machine.',
      );
    }

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
}
