/**
 * Observability on AWS (issue 13): the operations dashboard (one CloudWatch dashboard: its widgets and the metrics
 * each plots, checked against the template's own state machines, functions and queues), X-Ray tracing (every function
 * Active with its X-Ray rights, every state machine traced), and the SDK clients passed through Powertools Tracer on
 * AWS and left alone locally. The business metrics themselves are checked in test/unit/payin-metrics.test.ts.
 * Asset bundling is skipped (context `aws:cdk:bundling-stacks: []`), as in stacks.test.ts.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { DefinitionBody, StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import {
  type FunctionSpec,
  functions,
  METRICS_NAMESPACE,
  metricAlarms,
  queues,
  SERVICE_NAME,
  schedules,
  stateMachines,
  workQueues,
} from '../../lambdas/catalog';
import { addPaymentsStacks, type PaymentsStacks } from '../../lib/app';
import { BUSINESS_METRICS, OPEN_MISMATCH_METRICS } from '../../src/core/metric-names';

const REPO_ROOT = path.join(__dirname, '..', '..');
const CDK_CONTEXT = JSON.parse(readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')).context as Record<
  string,
  unknown
>;
const SKIP_BUNDLING = { 'aws:cdk:bundling-stacks': [] };

// biome-ignore lint/suspicious/noExplicitAny: synthesized CloudFormation JSON, checked by the assertions themselves.
type Json = any;
type Resources = Record<string, { Type: string; Properties: Record<string, Json> }>;

/** A plotted metric of a widget: namespace, name, dimensions, options (stat, label, id, visible...). */
interface PlottedMetric {
  namespace: string;
  name: string;
  dimensions: Record<string, string>;
  options: Record<string, Json>;
}
/** A metric-math line of a widget (an expression, e.g. SUM([...]) or SEARCH(...)). */
interface PlottedExpression {
  expression: string;
  label?: string;
}
interface Widget {
  type: string;
  properties: { title?: string; metrics?: Json[][]; markdown?: string };
}

/**
 * The DashboardBody as the JSON CloudFormation will hand CloudWatch: the Fn::Join's literal parts joined, each
 * reference replaced by a readable marker (`@Ref(<logical id>)`, `@GetAtt(<logical id>.<attribute>)`) that sits
 * inside a JSON string, so the whole parses.
 */
function dashboardBody(body: Json): { widgets: Widget[] } {
  const marker = (part: Json): string => {
    if (typeof part === 'string') return part;
    if (part.Ref) return `@Ref(${part.Ref})`;
    if (part['Fn::GetAtt']) return `@GetAtt(${part['Fn::GetAtt'].join('.')})`;
    throw new Error(`unexpected token in the dashboard body: ${JSON.stringify(part)}`);
  };
  const text = typeof body === 'string' ? body : (body['Fn::Join'][1] as Json[]).map(marker).join('');
  return JSON.parse(text);
}

/** A widget's metric lines, split into metrics and expressions. */
function linesOf(widget: Widget): { metrics: PlottedMetric[]; expressions: PlottedExpression[] } {
  const metrics: PlottedMetric[] = [];
  const expressions: PlottedExpression[] = [];
  for (const line of widget.properties.metrics ?? []) {
    const last = line[line.length - 1];
    const options = typeof last === 'object' ? (last as Record<string, Json>) : {};
    if (typeof line[0] === 'object' && line[0].expression) {
      expressions.push(line[0] as PlottedExpression);
      continue;
    }
    const values = typeof last === 'object' ? line.slice(0, -1) : line;
    const [namespace, name, ...dims] = values as string[];
    const dimensions: Record<string, string> = {};
    for (let i = 0; i < dims.length; i += 2) dimensions[dims[i]!] = dims[i + 1]!;
    metrics.push({ namespace: namespace!, name: name!, dimensions, options });
  }
  return { metrics, expressions };
}

const getAttLogicalId = (value: Json): string | undefined => value?.['Fn::GetAtt']?.[0];

/** The template's dead-letter queues: targets of a queue's RedrivePolicy and of an EventBridge target's DeadLetterConfig. */
function deadLetterQueuesOf(resources: Resources): string[] {
  const ids = new Set<string>();
  for (const resource of Object.values(resources)) {
    if (resource.Type === 'AWS::SQS::Queue') {
      const target = getAttLogicalId(resource.Properties?.RedrivePolicy?.deadLetterTargetArn);
      if (target) ids.add(target);
    }
    if (resource.Type === 'AWS::Events::Rule') {
      for (const target of resource.Properties.Targets ?? []) {
        const dlq = getAttLogicalId(target.DeadLetterConfig?.Arn);
        if (dlq) ids.add(dlq);
      }
    }
  }
  return [...ids].sort();
}

/** The queues the workflows' failed executions are sent to: targets of the rules on `aws.states` events. */
function failedExecutionsQueuesOf(resources: Resources): string[] {
  return Object.values(resources)
    .filter((r) => r.Type === 'AWS::Events::Rule' && r.Properties.EventPattern?.source?.includes('aws.states'))
    .flatMap((r) => (r.Properties.Targets as Json[]).map((target) => getAttLogicalId(target.Arn)!))
    .sort();
}

const logicalIdsOf = (resources: Resources, type: string) =>
  Object.entries(resources)
    .filter(([, r]) => r.Type === type)
    .map(([id]) => id)
    .sort();

/** What the dashboard must show, each item named; the check lists what is missing (empty: all there). */
interface Expected {
  stateMachines: Record<string, string>;
  stepFunctions: string[];
  deadLetterQueues: string[];
  failedExecutionsQueues: string[];
  payOutStateMachine: string;
  failedPayoutsQueue: string;
  apiName: string;
}

/** The widget titles of the dashboard, as the issue lists them. */
const TITLES = [
  'Payments by status',
  'Amounts succeeded per currency (minor units)',
  'Pending payments (non-final, older than the janitor threshold)',
  'Workflow executions failed, timed out, aborted',
  'Step function errors (retried by Step Functions when transient)',
  'Step function throttles',
  'Dead-letter queue depths (messages visible)',
  'Failed-executions queue depths (messages visible)',
  'Payout failures',
  'Open reconciliation mismatches',
  'API latency (ms)',
  'API errors',
];

function dashboardProblems(body: { widgets: Widget[] }, expected: Expected): string[] {
  const problems: string[] = [];
  const titled = body.widgets.filter((w) => w.type === 'metric');
  const titles = titled.map((w) => w.properties.title ?? '(untitled)');
  for (const title of TITLES) if (!titles.includes(title)) problems.push(`no widget '${title}'`);
  for (const title of titles) if (!TITLES.includes(title)) problems.push(`an unexpected widget '${title}'`);
  const lines = (title: string) => {
    const widget = titled.find((w) => w.properties.title === title);
    return widget ? linesOf(widget) : { metrics: [], expressions: [] };
  };
  const has = (title: string, what: string, test: (m: PlottedMetric) => boolean) => {
    if (!lines(title).metrics.some(test)) problems.push(`'${title}': no ${what}`);
  };
  const business = (name: string) => (m: PlottedMetric) =>
    m.namespace === METRICS_NAMESPACE && m.name === name && m.dimensions.service === SERVICE_NAME;
  const queueDepth = (queue: string) => (m: PlottedMetric) =>
    m.namespace === 'AWS/SQS' &&
    m.name === 'ApproximateNumberOfMessagesVisible' &&
    m.dimensions.QueueName === `@GetAtt(${queue}.QueueName)`;
  const execution = (name: string, machine: string) => (m: PlottedMetric) =>
    m.namespace === 'AWS/States' && m.name === name && m.dimensions.StateMachineArn === `@Ref(${machine})`;
  const lambda = (name: string, fn: string) => (m: PlottedMetric) =>
    m.namespace === 'AWS/Lambda' && m.name === name && m.dimensions.FunctionName === `@Ref(${fn})`;
  const api = (name: string, stat?: string) => (m: PlottedMetric) =>
    m.namespace === 'AWS/ApiGateway' &&
    m.name === name &&
    m.dimensions.ApiName === expected.apiName &&
    (stat === undefined || m.options.stat === stat);

  has(TITLES[0]!, 'PaymentsSucceeded', business(BUSINESS_METRICS.paymentsSucceeded));
  has(TITLES[0]!, 'PaymentsFailed', business(BUSINESS_METRICS.paymentsFailed));
  const search = lines(TITLES[1]!).expressions.map((e) => e.expression);
  if (
    !search.some(
      (e) =>
        e.startsWith('SEARCH(') &&
        e.includes(`{${METRICS_NAMESPACE},currency,service}`) &&
        e.includes(`MetricName="${BUSINESS_METRICS.paymentAmountSucceeded}"`),
    )
  ) {
    problems.push(`'${TITLES[1]}': no SEARCH of ${BUSINESS_METRICS.paymentAmountSucceeded} per currency`);
  }
  has(TITLES[2]!, 'PendingPayments', business(BUSINESS_METRICS.pendingPayments));
  for (const [name, machine] of Object.entries(expected.stateMachines)) {
    for (const metric of ['ExecutionsFailed', 'ExecutionsTimedOut', 'ExecutionsAborted']) {
      has(TITLES[3]!, `${metric} of ${name}`, execution(metric, machine));
    }
  }
  for (const fn of expected.stepFunctions) {
    has(TITLES[4]!, `Errors of ${fn}`, lambda('Errors', fn));
    has(TITLES[5]!, `Throttles of ${fn}`, lambda('Throttles', fn));
  }
  // One line per workflow: the sum over its steps (the steps' own metrics are hidden inputs).
  for (const title of [TITLES[4]!, TITLES[5]!]) {
    const labels = lines(title).expressions.map((e) => e.label);
    for (const name of Object.keys(expected.stateMachines)) {
      if (!labels.includes(`${name} steps`)) problems.push(`'${title}': no line for the ${name} steps`);
    }
  }
  for (const queue of expected.deadLetterQueues) has(TITLES[6]!, `depth of ${queue}`, queueDepth(queue));
  for (const queue of expected.failedExecutionsQueues) has(TITLES[7]!, `depth of ${queue}`, queueDepth(queue));
  has(TITLES[8]!, 'PayOut ExecutionsFailed', execution('ExecutionsFailed', expected.payOutStateMachine));
  has(TITLES[8]!, 'PayOut ExecutionsTimedOut', execution('ExecutionsTimedOut', expected.payOutStateMachine));
  has(TITLES[8]!, 'depth of FailedPayouts', queueDepth(expected.failedPayoutsQueue));
  for (const name of OPEN_MISMATCH_METRICS) has(TITLES[9]!, name, business(name));
  has(TITLES[10]!, 'Latency p50', api('Latency', 'p50'));
  has(TITLES[10]!, 'Latency p99', api('Latency', 'p99'));
  has(TITLES[11]!, '4XXError', api('4XXError'));
  has(TITLES[11]!, '5XXError', api('5XXError'));
  return problems;
}

let built: PaymentsStacks;
let resources: Resources;
let outputs: Record<string, Json>;
let expected: Expected;
let body: { widgets: Widget[] };

beforeAll(() => {
  const app = new App({ context: { ...CDK_CONTEXT, ...SKIP_BUNDLING } });
  built = addPaymentsStacks(app);
  // Synthesizes the app: this throws if cdk-nag (registered by addPaymentsStacks) reports an error.
  const template = Template.fromStack(built.stateless).toJSON();
  resources = template.Resources;
  outputs = template.Outputs;
  const id = (construct: Json) => built.stateless.getLogicalId(construct.node.defaultChild);
  const fnLogicalId = (functionId: string) =>
    id(built.stateless.functions[functionId as keyof typeof built.stateless.functions]);
  const machines = Object.fromEntries(
    Object.values(built.stateless.workflows).map((w) => [w.spec.id, id(w.stateMachine)]),
  );
  expected = {
    stateMachines: machines,
    stepFunctions: [...new Set(Object.values(stateMachines).flatMap((spec) => Object.values(spec.substitutions)))].map(
      fnLogicalId,
    ),
    deadLetterQueues: deadLetterQueuesOf(resources),
    failedExecutionsQueues: failedExecutionsQueuesOf(resources),
    payOutStateMachine: machines[stateMachines.payOut.id]!,
    failedPayoutsQueue: id(built.stateless.payOut.failedExecutions),
    apiName: built.stateless.api.api.restApiName,
  };
  const dashboards = Object.values(resources).filter((r) => r.Type === 'AWS::CloudWatch::Dashboard');
  expect(dashboards).toHaveLength(1);
  body = dashboardBody(dashboards[0]!.Properties.DashboardBody);
});

describe('the operations dashboard', () => {
  test('one dashboard in the stateless stack, none in the stateful one', () => {
    expect(logicalIdsOf(resources, 'AWS::CloudWatch::Dashboard')).toHaveLength(1);
    Template.fromStack(built.stateful).resourceCountIs('AWS::CloudWatch::Dashboard', 0);
  });

  test('what it must show is found in the template: every DLQ and failed-executions queue of the catalog', () => {
    // The expectations come from the template itself; their sizes from the catalog (so a new queue is expected too).
    const machineCount = Object.keys(stateMachines).length;
    expect(expected.deadLetterQueues).toHaveLength(
      Object.keys(queues).length + Object.keys(workQueues).length + 2 * machineCount + schedules.length,
    );
    expect(expected.failedExecutionsQueues).toHaveLength(machineCount);
    expect(Object.keys(expected.stateMachines)).toHaveLength(machineCount);
    expect(expected.stepFunctions.length).toBeGreaterThan(machineCount);
  });

  test('its widgets are exactly the issue list, each plotting what its title says', () => {
    expect(
      body.widgets
        .filter((w) => w.type === 'metric')
        .map((w) => w.properties.title)
        .sort(),
    ).toEqual([...TITLES].sort());
    expect(dashboardProblems(body, expected)).toEqual([]);
  });

  test('the reconciliation widget plots the metrics the catalog alarms on (the open mismatches)', () => {
    expect([...OPEN_MISMATCH_METRICS].sort()).toEqual(metricAlarms.map((alarm) => alarm.metricName).sort());
  });

  test('amounts are plotted per currency as published (minor units), never divided into major units', () => {
    const widget = body.widgets.find((w) => w.properties.title === 'Amounts succeeded per currency (minor units)')!;
    const [search] = linesOf(widget).expressions;
    expect(search!.expression).toBe(
      `SEARCH('{Payments,currency,service} MetricName="PaymentAmountSucceeded" service="payments"', 'Sum', 300)`,
    );
    // CloudWatch's dynamic label: each line is named after its currency.
    expect(search!.label).toBe(`\${PROP('Dim.currency')}`);
  });

  test("stack outputs: the dashboard's name and its console URL", () => {
    const dashboardId = logicalIdsOf(resources, 'AWS::CloudWatch::Dashboard')[0]!;
    expect(resources[dashboardId]!.Properties.DashboardName).toBe('PaymentsStateless-Operations');
    expect(outputs.DashboardName.Value).toEqual({ Ref: dashboardId });
    expect(outputs.DashboardUrl.Value).toEqual({
      'Fn::Join': [
        '',
        [
          'https://console.aws.amazon.com/cloudwatch/home?region=',
          { Ref: 'AWS::Region' },
          '#dashboards:name=',
          { Ref: dashboardId },
        ],
      ],
    });
  });

  describe('the check itself', () => {
    const without = (predicate: (w: Widget) => boolean) => ({ widgets: body.widgets.filter((w) => !predicate(w)) });
    const withoutLines = (title: string, predicate: (line: Json[]) => boolean) => ({
      widgets: body.widgets.map((w) =>
        w.properties.title === title
          ? { ...w, properties: { ...w.properties, metrics: w.properties.metrics!.filter((l) => !predicate(l)) } }
          : w,
      ),
    });

    test('a missing widget is reported', () => {
      expect(
        dashboardProblems(
          without((w) => w.properties.title === 'API errors'),
          expected,
        ),
      ).toEqual(["no widget 'API errors'", "'API errors': no 4XXError", "'API errors': no 5XXError"]);
    });

    test("a DLQ missing from the DLQ widget is reported (the first of the template's)", () => {
      const dlq = expected.deadLetterQueues[0]!;
      const body2 = withoutLines('Dead-letter queue depths (messages visible)', (line) =>
        line.includes(`@GetAtt(${dlq}.QueueName)`),
      );
      expect(dashboardProblems(body2, expected)).toEqual([
        `'Dead-letter queue depths (messages visible)': no depth of ${dlq}`,
      ]);
    });

    test('a business metric missing is reported', () => {
      const body2 = withoutLines('Payments by status', (line) => line.includes('PaymentsFailed'));
      expect(dashboardProblems(body2, expected)).toEqual(["'Payments by status': no PaymentsFailed"]);
    });
  });
});

/** The Lambda functions of a template without active tracing, and its state machines without X-Ray. */
function untraced(template: Resources): string[] {
  return Object.entries(template).flatMap(([id, r]) => {
    if (r.Type === 'AWS::Lambda::Function' && r.Properties.TracingConfig?.Mode !== 'Active') return [id];
    if (r.Type === 'AWS::StepFunctions::StateMachine' && r.Properties.TracingConfiguration?.Enabled !== true) {
      return [id];
    }
    return [];
  });
}

/** The roles of a template whose policies allow xray:PutTraceSegments and xray:PutTelemetryRecords on `*`. */
function rolesWithXRay(template: Resources): Set<string> {
  const roles = new Set<string>();
  for (const r of Object.values(template)) {
    if (r.Type !== 'AWS::IAM::Policy') continue;
    const allows = (r.Properties.PolicyDocument.Statement as Json[]).some((s) => {
      const actions = [s.Action].flat();
      return (
        s.Effect === 'Allow' &&
        s.Resource === '*' &&
        actions.includes('xray:PutTraceSegments') &&
        actions.includes('xray:PutTelemetryRecords')
      );
    });
    if (allows) for (const role of r.Properties.Roles as Json[]) roles.add(role.Ref);
  }
  return roles;
}

describe('X-Ray tracing', () => {
  test('every function of the catalog: TracingConfig Active, and its role may write traces', () => {
    const fnIds = logicalIdsOf(resources, 'AWS::Lambda::Function');
    // The catalog's functions, and nothing else (no CDK helper function, untraced, slipped in).
    expect(fnIds).toHaveLength((Object.values(functions) as FunctionSpec[]).length);
    const xray = rolesWithXRay(resources);
    for (const fnId of fnIds) {
      expect([fnId, resources[fnId]!.Properties.TracingConfig]).toEqual([fnId, { Mode: 'Active' }]);
      expect([fnId, xray.has(resources[fnId]!.Properties.Role['Fn::GetAtt'][0])]).toEqual([fnId, true]);
    }
  });

  test('every state machine: TracingConfiguration Enabled, and its role may write traces', () => {
    const machineIds = logicalIdsOf(resources, 'AWS::StepFunctions::StateMachine');
    expect(machineIds).toHaveLength(Object.keys(stateMachines).length);
    const xray = rolesWithXRay(resources);
    for (const id of machineIds) {
      expect([id, resources[id]!.Properties.TracingConfiguration]).toEqual([id, { Enabled: true }]);
      expect([id, xray.has(resources[id]!.Properties.RoleArn['Fn::GetAtt'][0])]).toEqual([id, true]);
    }
    expect(untraced(resources)).toEqual([]);
  });

  test('the API stage is traced', () => {
    const stages = Object.values(resources).filter((r) => r.Type === 'AWS::ApiGateway::Stage');
    expect(stages.map((stage) => stage.Properties.TracingEnabled)).toEqual([true]);
  });

  test('control: an untraced function and state machine are found', () => {
    const stack = new Stack(new App(), 'Untraced');
    new LambdaFunction(stack, 'Plain', {
      runtime: Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: Code.fromInline('exports.handler = async () => {};'),
    });
    new StateMachine(stack, 'PlainMachine', {
      definitionBody: DefinitionBody.fromString('{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}'),
    });
    const template = Template.fromStack(stack).toJSON().Resources as Resources;
    expect(untraced(template).sort()).toEqual(
      [
        logicalIdsOf(template, 'AWS::Lambda::Function')[0],
        logicalIdsOf(template, 'AWS::StepFunctions::StateMachine')[0],
      ].sort(),
    );
    expect(rolesWithXRay(template).size).toBe(0);
  });
});

describe('the SDK clients (src/core/clients.ts) and Powertools Tracer', () => {
  const ENV_KEYS = [
    'AWS_REGION',
    'AWS_EXECUTION_ENV',
    'AWS_LAMBDA_FUNCTION_NAME',
    'POWERTOOLS_TRACE_ENABLED',
    'DYNAMODB_ENDPOINT',
    'SFN_ENDPOINT',
    'SQS_ENDPOINT',
    'S3_ENDPOINT',
  ];
  let saved: Record<string, string | undefined>;
  beforeEach(() => {
    saved = Object.fromEntries(ENV_KEYS.map((key) => [key, process.env[key]]));
    for (const key of ENV_KEYS) delete process.env[key];
    process.env.AWS_REGION = 'eu-west-1';
  });
  afterEach(() => {
    for (const key of ENV_KEYS) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
    jest.dontMock('@aws-lambda-powertools/tracer');
  });

  /**
   * Runs `use` on the clients module, fresh, with a recording Tracer in place of Powertools'. Everything happens
   * inside isolateModules: the Tracer is required lazily, on the first client, and must come from the same registry.
   */
  function withRecordingTracer(use: (clients: typeof import('../../src/core/clients')) => void) {
    const captured: unknown[] = [];
    let loaded = 0;
    jest.isolateModules(() => {
      jest.doMock('@aws-lambda-powertools/tracer', () => {
        loaded++;
        return {
          Tracer: class {
            captureAWSv3Client<T>(client: T): T {
              captured.push(client);
              return client;
            }
          },
        };
      });
      use(require('../../src/core/clients'));
    });
    return { captured, loaded };
  }

  test('on AWS (no endpoint override) each client is passed through captureAWSv3Client, once', () => {
    const made: unknown[] = [];
    const { captured, loaded } = withRecordingTracer((clients) => {
      const raw = clients.dynamoClient();
      const document = clients.dynamo();
      // The document client shares the raw client's middleware stack: tracing the raw one traces both, once.
      expect(document.middlewareStack).toBe(raw.middlewareStack);
      made.push(raw, clients.sfn(), clients.sqs(), clients.s3());
      // Singletons: asked again, nothing more is captured.
      clients.dynamo();
      clients.sqs();
    });
    expect(loaded).toBe(1);
    expect(captured).toHaveLength(4);
    for (const [i, client] of captured.entries()) expect(client).toBe(made[i]);
  });

  test('locally (every endpoint overridden, as the local stack sets them) nothing is traced, the Tracer not even loaded', () => {
    Object.assign(process.env, {
      AWS_LAMBDA_FUNCTION_NAME: 'local',
      DYNAMODB_ENDPOINT: 'http://127.0.0.1:8000',
      SFN_ENDPOINT: 'http://127.0.0.1:8083',
      SQS_ENDPOINT: 'http://127.0.0.1:9324',
      S3_ENDPOINT: 'http://127.0.0.1:9324',
    });
    const { captured, loaded } = withRecordingTracer((clients) => {
      clients.dynamo();
      clients.sfn();
      clients.sqs();
      clients.s3();
    });
    expect(captured).toEqual([]);
    expect(loaded).toBe(0);
  });

  test("Powertools' own decision: on only in a Lambda execution environment, unless POWERTOOLS_TRACE_ENABLED=false", () => {
    const { Tracer } = jest.requireActual(
      '@aws-lambda-powertools/tracer',
    ) as typeof import('@aws-lambda-powertools/tracer');
    // The local stack's environment: AWS_LAMBDA_FUNCTION_NAME but no AWS_EXECUTION_ENV.
    process.env.AWS_LAMBDA_FUNCTION_NAME = 'local';
    expect(new Tracer().isTracingEnabled()).toBe(false);
    process.env.AWS_EXECUTION_ENV = 'AWS_Lambda_nodejs22.x';
    expect(new Tracer().isTracingEnabled()).toBe(true);
    process.env.POWERTOOLS_TRACE_ENABLED = 'false';
    expect(new Tracer().isTracingEnabled()).toBe(false);
  });
});
