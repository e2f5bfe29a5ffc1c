/**
 * The CDK app against its single sources of truth: `lambdas/catalog.ts` (functions, routes, state
 * machines), `src/adapters/table-schemas.ts` (tables) and `state-machines/*.asl.json` (workflows).
 * Asset bundling is skipped (context `aws:cdk:bundling-stacks: []`): `npx cdk synth` covers esbuild.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Capture, Match, Template } from 'aws-cdk-lib/assertions';
import type { CfnTable } from 'aws-cdk-lib/aws-dynamodb';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import {
  apiRoutes,
  type FunctionId,
  type FunctionSpec,
  functions,
  type RouteSpec,
  schedules,
  stateMachines,
} from '../../lambdas/catalog';
import { PaymentsApi } from '../../lib/api';
import { addPaymentsStacks, type PaymentsStacks } from '../../lib/app';
import { allTableSchemas, type TableName, type TableSchema, tableSchemas } from '../../src/adapters/table-schemas';

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
const payIn = stateMachines.payIn;
const aslText = readFileSync(path.join(REPO_ROOT, payIn.file), 'utf8');

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
  test('one DynamoDB table per table schema, nothing else but the PSP secret', () => {
    stateful.resourceCountIs('AWS::DynamoDB::Table', allTableSchemas.length);
    stateful.resourceCountIs('AWS::SecretsManager::Secret', 1);
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

      test('GSIs with projection ALL', () => {
        const expected = schema.globalSecondaryIndexes.map((index) => ({
          IndexName: index.indexName,
          KeySchema: [
            { AttributeName: index.partitionKey, KeyType: 'HASH' },
            ...(index.sortKey ? [{ AttributeName: index.sortKey, KeyType: 'RANGE' }] : []),
          ],
          Projection: { ProjectionType: 'ALL' },
        }));
        expect(table.Properties.GlobalSecondaryIndexes ?? []).toEqual(expected);
      });

      test('on demand, PITR, AWS-managed encryption, deletion protection, TTL per schema', () => {
        expect(table.Properties.BillingMode).toBe('PAY_PER_REQUEST');
        expect(table.Properties.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
        expect(table.Properties.SSESpecification).toEqual({ SSEEnabled: true });
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

  test('the PSP secret is retained and its value is not in the template', () => {
    const secrets = Object.values(stateful.findResources('AWS::SecretsManager::Secret'));
    expect(secrets).toHaveLength(1);
    expect(secrets[0]!.DeletionPolicy).toBe('Retain');
    expect(secrets[0]!.Properties.SecretString).toBeUndefined();
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
          MemorySize: 512,
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

      test('environment: tables of its access map, PSP secret and state machine only when asked', () => {
        const env = fn.Properties.Environment.Variables as Record<string, unknown>;
        const expected = [
          'POWERTOOLS_SERVICE_NAME',
          'POWERTOOLS_LOG_LEVEL',
          'NODE_OPTIONS',
          'PLATFORM_FEE_BPS',
          ...(Object.keys(spec.tables) as TableName[]).map((name) => tableSchemas[name].envVar),
          ...(spec.psp ? ['PSP_SECRET_ARN'] : []),
          ...(spec.startsPayIn ? [payIn.envVar] : []),
        ];
        sameElements(Object.keys(env), expected);
        expect(env).toMatchObject({
          POWERTOOLS_SERVICE_NAME: 'payments',
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
        if (spec.startsPayIn) expect(env[payIn.envVar]).toEqual({ Ref: payInLogicalId() });
      });

      test('least privilege: its tables with the access of its map, nothing else', () => {
        const statements = functionRoleStatements(spec);
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
        const services = new Set(statements.flatMap((s) => toArray(s.Action)).map((action) => action.split(':')[0]));
        sameElements(
          [...services],
          [
            'logs',
            'xray',
            ...(Object.keys(spec.tables).length > 0 ? ['dynamodb'] : []),
            ...(spec.psp ? ['secretsmanager'] : []),
            ...(spec.startsPayIn ? ['states'] : []),
          ],
        );
        const actions = statements.flatMap((s) => toArray(s.Action));
        expect(actions.filter((action) => action.startsWith('logs:'))).toEqual([
          'logs:CreateLogStream',
          'logs:PutLogEvents',
        ]);
        if (spec.startsPayIn) {
          const start = statements.filter((s) => toArray(s.Action).includes('states:StartExecution'));
          expect(start.map((s) => s.Resource)).toEqual([{ Ref: payInLogicalId() }]);
          // DescribeExecution (a re-drive checks whether the current execution runs) on this machine's executions.
          const describe = statements.filter((s) => toArray(s.Action).includes('states:DescribeExecution'));
          expect(describe).toHaveLength(1);
          expect(JSON.stringify(describe[0]!.Resource)).toMatch(/:execution:.*PayInStateMachine.*:\*/);
        }
        sameElements(
          actions.filter((action) => action.startsWith('states:')),
          spec.startsPayIn ? ['states:StartExecution', 'states:DescribeExecution'] : [],
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

  describe('pay-in state machine', () => {
    let machine: Resource;
    beforeAll(() => {
      machine = statelessResources[payInLogicalId()]!;
    });

    test('standard, traced, logging without execution data', () => {
      stateless.resourceCountIs('AWS::StepFunctions::StateMachine', 1);
      expect(machine.Properties).toMatchObject({
        StateMachineType: 'STANDARD',
        TracingConfiguration: { Enabled: true },
        LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: false },
      });
    });

    test('its definition is the ASL file', () => {
      const definition = new Capture();
      stateless.hasResourceProperties('AWS::StepFunctions::StateMachine', { DefinitionString: definition });
      expect(JSON.parse(definition.asString())).toEqual(JSON.parse(aslText));
    });

    test("its substitutions are exactly the ASL's placeholders, each the ARN of the catalog's function", () => {
      const variables = [...new Set([...aslText.matchAll(/\$\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1]!))];
      expect(variables.length).toBeGreaterThan(0);
      const substitutions = machine.Properties.DefinitionSubstitutions as Record<string, unknown>;
      sameElements(Object.keys(substitutions), variables);
      sameElements(Object.keys(payIn.substitutions), variables);
      for (const [variable, functionId] of Object.entries(payIn.substitutions)) {
        expect(substitutions[variable]).toEqual({ 'Fn::GetAtt': [functionLogicalId(functions[functionId]), 'Arn'] });
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
        [...new Set(Object.values(payIn.substitutions))].map((id) => functionLogicalId(functions[id])),
      );
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

    test('an unauthorized route gets no authorizer (catalog has none yet: checked on a scratch API)', () => {
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
      const routes: RouteSpec[] = [
        { method: 'POST', path: '/v1/webhooks/psp', functionId: 'CreatePayment', authorized: false },
        { method: 'GET', path: '/v1/payments/{payment_id}', functionId: 'GetPayment', authorized: true },
      ];
      new PaymentsApi(stack, 'Api', { routes, functions: fns, authorizer: fns.Authorizer });
      const template = Template.fromStack(stack);
      expect(methodFor(template, routes[0]!).Properties).toMatchObject({ AuthorizationType: 'NONE' });
      expect(methodFor(template, routes[0]!).Properties.AuthorizerId).toBeUndefined();
      expect(methodFor(template, routes[1]!).Properties).toMatchObject({
        AuthorizationType: 'CUSTOM',
        AuthorizerId: { Ref: authorizerLogicalId(template) },
      });
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

    test('every queue that is not a DLQ redrives to a DLQ after 5 receives', () => {
      const workQueues = Object.keys(queues).filter((id) => !dlqs.has(id));
      expect(workQueues).toContain(failedPaymentsLogicalId());
      for (const id of workQueues) {
        const redrive = queues[id]!.Properties.RedrivePolicy;
        expect(redrive?.maxReceiveCount).toBe(5);
        expect(dlqs.has(getAttQueue(redrive.deadLetterTargetArn))).toBe(true);
      }
    });

    test('DLQs keep messages 14 days and have no DLQ themselves', () => {
      expect(dlqs.size).toBeGreaterThanOrEqual(2);
      for (const id of dlqs) {
        expect(queues[id]!.Properties.MessageRetentionPeriod).toBe(14 * 24 * 3600);
        expect(queues[id]!.Properties.RedrivePolicy).toBeUndefined();
      }
    });

    test('every queue: SQS-managed encryption and TLS only', () => {
      const policies = Object.values(stateless.findResources('AWS::SQS::QueuePolicy'));
      for (const id of Object.keys(queues)) {
        expect(queues[id]!.Properties.SqsManagedSseEnabled).toBe(true);
        const statements = policies
          .filter((policy) => toArray(policy.Properties.Queues).some((q: Json) => q.Ref === id))
          .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
        expect(statements).toContainEqual(
          expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        );
      }
    });

    test('an EventBridge rule sends failed/timed-out/aborted pay-ins to FailedPayments, with its own DLQ and retries', () => {
      const rules = Object.values(
        stateless.findResources('AWS::Events::Rule', { Properties: { EventPattern: { source: ['aws.states'] } } }),
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
      sameElements(alarmed, [failedPaymentsLogicalId(), ...dlqs]);
    });
  });

  describe('schedules', () => {
    test('one EventBridge rule per catalog schedule, plus the failed pay-ins rule', () => {
      stateless.resourceCountIs('AWS::Events::Rule', schedules.length + 1);
    });

    // A loop rather than test.each, which fails on an empty table (a catalog without schedules).
    for (const schedule of schedules) {
      test(`${schedule.functionId}: a rate rule invoking it, with retries and a DLQ`, () => {
        const minutes = schedule.everyMinutes;
        const rules = Object.values(
          stateless.findResources('AWS::Events::Rule', {
            Properties: { ScheduleExpression: `rate(${minutes} ${minutes === 1 ? 'minute' : 'minutes'})` },
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

  test('outputs: API URL and state machine ARN', () => {
    const outputs = stateless.toJSON().Outputs;
    expect(Object.keys(outputs).sort()).toEqual(['ApiUrl', 'PayInStateMachineArn']);
    expect(outputs.PayInStateMachineArn.Value).toEqual({ Ref: payInLogicalId() });
    expect(JSON.stringify(outputs.ApiUrl.Value)).toContain('execute-api');
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

function payInLogicalId(): string {
  return built.stateless.getLogicalId(built.stateless.payIn.stateMachine.node.defaultChild as never);
}

function failedPaymentsLogicalId(): string {
  return built.stateless.getLogicalId(built.stateless.payIn.failedPayments.node.defaultChild as never);
}
