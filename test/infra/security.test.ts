/**
 * The security controls of the CDK app, on the synthesized templates: the WAF web ACL on the API stage,
 * customer-managed KMS keys (rotated) for every table, queue and bucket and the alarm topic, every alarm notifying
 * the alarm topic (with an email subscription from context `alarmEmail`), and cdk-nag acknowledgments that say
 * what is true of the construct they are attached to. Asset bundling is skipped, as in stacks.test.ts.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { App, ArnFormat, CfnElement, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AuthorizationType, Method, RestApi } from 'aws-cdk-lib/aws-apigateway';
import { Alarm, Metric } from 'aws-cdk-lib/aws-cloudwatch';
import { CfnPolicy, Policy, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { CfnQueue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { type Catalog, catalog, type FunctionSpec, functions } from '../../lambdas/catalog';
import { AUTHORIZED_ROUTE_REASON } from '../../lib/api';
import { addPaymentsStacks, type PaymentsStacks } from '../../lib/app';
import { DATA_KEY_ALIAS, MESSAGING_KEY_ALIAS } from '../../lib/encryption';
import { BODY_SIZE_RULE, DEFAULT_WAF_RATE_LIMIT } from '../../lib/waf';

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
type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Principal?: Json; Condition?: Json };

const toArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/**
 * The catalog plus a second bucket and a second schedule, so that every kind of table, queue, bucket and alarm the
 * app can make is in the templates, more than once.
 */
const fixture: Catalog = {
  ...catalog,
  buckets: { ...catalog.buckets, reports: { id: 'Reports', envVar: 'REPORTS_BUCKET' } },
  schedules: [...catalog.schedules, { functionId: 'Janitor', cron: { minute: '0', hour: '3' } }],
};

function buildApp(context: Record<string, unknown> = {}, appCatalog: Catalog = catalog): PaymentsStacks & { app: App } {
  const app = new App({ context: { ...CDK_CONTEXT, ...SKIP_BUNDLING, ...context } });
  return { app, ...addPaymentsStacks(app, appCatalog) };
}

interface Built extends PaymentsStacks {
  app: App;
  statefulTemplate: Record<string, Resource>;
  statelessTemplate: Record<string, Resource>;
}

function synth(context: Record<string, unknown> = {}, appCatalog: Catalog = catalog): Built {
  const built = buildApp(context, appCatalog);
  return {
    ...built,
    // Synthesizes the whole app: this throws if cdk-nag (registered by addPaymentsStacks) reports an error.
    statelessTemplate: Template.fromStack(built.stateless).toJSON().Resources,
    statefulTemplate: Template.fromStack(built.stateful).toJSON().Resources,
  };
}

const ofType = (resources: Record<string, Resource>, type: string) =>
  Object.entries(resources).filter(([, resource]) => resource.Type === type);
const logicalId = (construct: IConstruct) =>
  Stack.of(construct).getLogicalId(
    (construct instanceof CfnElement ? construct : construct.node.defaultChild) as never,
  );

/** Every cdk-nag acknowledgment under `scope`: the construct it is attached to, the rule (or finding) and reason. */
function acknowledgments(scope: IConstruct): { construct: IConstruct; rule: string; reason: string }[] {
  return scope.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === 'aws:cdk:acknowledged-rules')
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({
          construct,
          rule: id.replace(/^annotation::/i, ''),
          reason,
        })),
      ),
  );
}

let main: Built;
let withFixture: Built;
beforeAll(() => {
  main = synth();
  withFixture = synth({}, fixture);
});

describe('WAF web ACL on the API stage', () => {
  let acl: Resource;
  beforeAll(() => {
    const acls = ofType(main.statelessTemplate, 'AWS::WAFv2::WebACL');
    expect(acls).toHaveLength(1);
    acl = acls[0]![1];
  });

  test('a REGIONAL web ACL, allowing what no rule blocks, CloudWatch metrics and sampled requests on', () => {
    expect(acl.Properties).toMatchObject({
      Scope: 'REGIONAL',
      DefaultAction: { Allow: {} },
      VisibilityConfig: { CloudWatchMetricsEnabled: true, SampledRequestsEnabled: true },
    });
    for (const rule of acl.Properties.Rules) {
      expect([rule.Name, rule.VisibilityConfig]).toEqual([
        rule.Name,
        { CloudWatchMetricsEnabled: true, SampledRequestsEnabled: true, MetricName: rule.Name },
      ]);
    }
  });

  test("associated with the REST API's deployment stage (and no other resource)", () => {
    const associations = ofType(main.statelessTemplate, 'AWS::WAFv2::WebACLAssociation');
    expect(associations).toHaveLength(1);
    const [, association] = associations[0]!;
    const aclId = logicalId(main.stateless.api.firewall.webAcl);
    expect(association.Properties.WebACLArn).toEqual({ 'Fn::GetAtt': [aclId, 'Arn'] });
    const stageId = logicalId(main.stateless.api.api.deploymentStage);
    const apiId = logicalId(main.stateless.api.api);
    expect(main.statelessTemplate[stageId]!.Type).toBe('AWS::ApiGateway::Stage');
    // arn:<partition>:apigateway:<region>::/restapis/<api id>/stages/<stage name>
    const arn = JSON.stringify(association.Properties.ResourceArn);
    expect(arn).toContain(':apigateway:');
    expect(arn).toMatch(
      new RegExp(`::/restapis/",\\{"Ref":"${apiId}"\\},"/stages/",\\{"Ref":"${stageId}"\\}\\]\\]\\}$`),
    );
    ofType(main.statelessTemplate, 'AWS::ApiGateway::Stage').forEach(([id]) => {
      expect(id).toBe(stageId);
    });
  });

  test(`rules: a per-IP rate limit (${DEFAULT_WAF_RATE_LIMIT} / 5 min), the common rule set with ${BODY_SIZE_RULE} counted, known bad inputs`, () => {
    const rules = acl.Properties.Rules as Json[];
    expect(rules.map((rule) => [rule.Priority, rule.Name])).toEqual([
      [0, 'RateLimitPerIp'],
      [1, 'AWSManagedRulesCommonRuleSet'],
      [2, 'AWSManagedRulesKnownBadInputsRuleSet'],
    ]);
    expect(rules[0]).toMatchObject({
      Action: { Block: {} },
      Statement: {
        RateBasedStatement: { Limit: DEFAULT_WAF_RATE_LIMIT, AggregateKeyType: 'IP', EvaluationWindowSec: 300 },
      },
    });
    expect(rules[0].Statement.RateBasedStatement.ScopeDownStatement).toBeUndefined();
    // The managed groups keep their own (blocking) actions...
    for (const rule of rules.slice(1)) {
      expect(rule.OverrideAction).toEqual({ None: {} });
      expect(rule.Statement.ManagedRuleGroupStatement).toMatchObject({ VendorName: 'AWS', Name: rule.Name });
    }
    // ...but the 8 KB body limit, which would refuse 64 KB payments and large PSP webhooks, only counts.
    expect(rules[1].Statement.ManagedRuleGroupStatement.RuleActionOverrides).toEqual([
      { Name: BODY_SIZE_RULE, ActionToUse: { Count: {} } },
    ]);
    expect(rules[2].Statement.ManagedRuleGroupStatement.RuleActionOverrides).toBeUndefined();
  });

  test('context wafRateLimit sets the limit; a value WAF refuses fails the synth', () => {
    const { stateless } = buildApp({ wafRateLimit: '500' });
    const acls = Object.values(Template.fromStack(stateless).findResources('AWS::WAFv2::WebACL'));
    expect(acls[0]!.Properties.Rules[0].Statement.RateBasedStatement.Limit).toBe(500);
    for (const bad of ['5', '12.5', 'many', '']) {
      expect(() => buildApp({ wafRateLimit: bad })).toThrow(/wafRateLimit/);
    }
  });

  test('cdk-nag APIG3 (stage without a web ACL) is met, not acknowledged; control: it fires without the ACL', () => {
    for (const stack of [main.stateful, main.stateless]) {
      expect(acknowledgments(stack).filter((ack) => ack.rule.startsWith('AwsSolutions-APIG3'))).toEqual([]);
    }
    const report = new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(main.stateless);
    expect(report.violations.map((v) => v.ruleName)).not.toContain('AwsSolutions-APIG3');
    const control = new Stack(new App(), 'NoWaf');
    new RestApi(control, 'Api').root.addMethod('GET');
    const controlReport = new AwsSolutionsChecks().validateScope(control);
    expect(controlReport.violations.map((v) => v.ruleName)).toContain('AwsSolutions-APIG3');
  });
});

describe('customer-managed KMS keys', () => {
  const keysOf = (resources: Record<string, Resource>) => ofType(resources, 'AWS::KMS::Key');
  const keyRef = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });

  test.each([
    ['PaymentsStateful', 'data', DATA_KEY_ALIAS],
    ['PaymentsStateless', 'messaging', MESSAGING_KEY_ALIAS],
  ])('%s: one key (%s): symmetric, rotated yearly, retained, with its alias', (stackName, _name, alias) => {
    const resources = stackName === 'PaymentsStateful' ? main.statefulTemplate : main.statelessTemplate;
    const keys = keysOf(resources);
    expect(keys).toHaveLength(1);
    const [id, key] = keys[0]!;
    expect(key.Properties.EnableKeyRotation).toBe(true);
    expect(key.Properties.KeySpec ?? 'SYMMETRIC_DEFAULT').toBe('SYMMETRIC_DEFAULT');
    expect(key.Properties.Enabled ?? true).toBe(true);
    expect(key.DeletionPolicy).toBe('Retain');
    expect(key.UpdateReplacePolicy).toBe('Retain');
    const aliases = ofType(resources, 'AWS::KMS::Alias');
    expect(aliases.map(([, a]) => a.Properties)).toEqual([{ AliasName: alias, TargetKeyId: keyRef(id) }]);
  });

  test('every table, bucket (but the access log target), queue and topic of both templates uses a key of its stack', () => {
    for (const built of [main, withFixture]) {
      const dataKey = keyRef(logicalId(built.stateful.dataKey));
      const messagingKey = keyRef(logicalId(built.stateless.messagingKey));
      const tables = ofType(built.statefulTemplate, 'AWS::DynamoDB::Table');
      expect(tables.length).toBeGreaterThan(0);
      for (const [id, table] of tables) {
        expect([id, table.Properties.SSESpecification]).toEqual([
          id,
          { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: dataKey },
        ]);
      }
      const accessLogs = built.stateful.accessLogsBucket ? logicalId(built.stateful.accessLogsBucket) : undefined;
      for (const [id, bucket] of ofType(built.statefulTemplate, 'AWS::S3::Bucket')) {
        const [rule] = bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration;
        expect([id, rule.ServerSideEncryptionByDefault]).toEqual([
          id,
          id === accessLogs ? { SSEAlgorithm: 'AES256' } : { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: dataKey },
        ]);
      }
      const queues = ofType(built.statelessTemplate, 'AWS::SQS::Queue');
      expect(queues.length).toBeGreaterThan(0);
      for (const [id, queue] of queues) {
        expect([id, queue.Properties.KmsMasterKeyId, queue.Properties.SqsManagedSseEnabled]).toEqual([
          id,
          messagingKey,
          undefined,
        ]);
      }
      const topics = ofType(built.statelessTemplate, 'AWS::SNS::Topic');
      expect(topics).toHaveLength(1);
      for (const [id, topic] of topics) expect([id, topic.Properties.KmsMasterKeyId]).toEqual([id, messagingKey]);
      // No other stack holds any of these.
      for (const type of ['AWS::DynamoDB::Table', 'AWS::S3::Bucket'])
        expect(ofType(built.statelessTemplate, type)).toEqual([]);
      for (const type of ['AWS::SQS::Queue', 'AWS::SNS::Topic'])
        expect(ofType(built.statefulTemplate, type)).toEqual([]);
    }
    // The catalog has a bucket (Settlement) and the fixture a second one, with their access log target.
    expect(ofType(main.statefulTemplate, 'AWS::S3::Bucket')).toHaveLength(2);
    expect(ofType(withFixture.statefulTemplate, 'AWS::S3::Bucket')).toHaveLength(3);
  });

  test('the secrets keep the AWS-managed key of Secrets Manager (no KmsKeyId)', () => {
    const secrets = ofType(main.statefulTemplate, 'AWS::SecretsManager::Secret');
    // The PSP's payments key, its Connect key, its webhook signing secret.
    expect(secrets).toHaveLength(3);
    for (const [, secret] of secrets) expect(secret.Properties.KmsKeyId).toBeUndefined();
  });

  test("the data key's policy: the account only (its use is granted in the roles' IAM policies), no service", () => {
    const [, key] = keysOf(main.statefulTemplate)[0]!;
    const statements = key.Properties.KeyPolicy.Statement as Statement[];
    expect(statements).toHaveLength(1);
    expect(statements[0]).toMatchObject({ Effect: 'Allow', Action: 'kms:*', Resource: '*' });
    expect(JSON.stringify(statements[0]!.Principal)).toMatch(/:root"/);
    expect(statements[0]!.Principal.Service).toBeUndefined();
  });

  test("the messaging key's policy: EventBridge (queues and target DLQs) and CloudWatch (alarm topic), this account only", () => {
    const [, key] = keysOf(main.statelessTemplate)[0]!;
    const statements = key.Properties.KeyPolicy.Statement as Statement[];
    const forService = (service: string) => statements.filter((s) => s.Principal?.Service === service);
    const account = { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } };
    const events = forService('events.amazonaws.com');
    expect(events.length).toBeGreaterThan(0);
    // What EventBridge needs to send to an encrypted queue, in one statement (the DLQs), under the account condition.
    expect(events).toContainEqual(
      expect.objectContaining({ Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Condition: account }),
    );
    for (const statement of events) expect(statement.Condition).toEqual(account);
    const cloudWatch = forService('cloudwatch.amazonaws.com');
    expect(cloudWatch).toHaveLength(1);
    expect(cloudWatch[0]).toMatchObject({ Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey*'] });
    expect(cloudWatch[0]!.Condition.StringEquals).toEqual(account.StringEquals);
    expect(JSON.stringify(cloudWatch[0]!.Condition.ArnLike['aws:SourceArn'])).toMatch(
      /:cloudwatch:.*:alarm:\*"\]\]\}$/,
    );
    // Nothing else but the account's own statement.
    expect(statements.filter((s) => !s.Principal?.Service)).toHaveLength(1);
    expect(statements.every((s) => s.Effect === 'Allow')).toBe(true);
  });

  test('cross-stack: the stateless stack depends on the stateful one, never the reverse (no cycle)', () => {
    expect(main.stateless.dependencies).toContain(main.stateful);
    expect(main.stateful.dependencies).not.toContain(main.stateless);
    const stateful = JSON.stringify(main.statefulTemplate);
    expect(stateful).not.toContain('PaymentsStateless');
    expect(stateful).not.toContain('Fn::ImportValue');
    expect(stateful).not.toContain('Fn::GetStackOutput');
  });

  test('a reader of a table gets kms:Decrypt on the data key; a writer also kms:Encrypt and GenerateDataKey*', () => {
    const dataKey = main.stateless.resolve(main.stateful.dataKey.keyArn);
    const rolePolicies = ofType(main.statelessTemplate, 'AWS::IAM::Policy');
    for (const spec of Object.values(functions) as FunctionSpec[]) {
      const fnId = logicalId(main.stateless.functions[spec.id as keyof typeof main.stateless.functions]);
      const roleId = main.statelessTemplate[fnId]!.Properties.Role['Fn::GetAtt'][0];
      const actions = rolePolicies
        .filter(([, policy]) => toArray(policy.Properties.Roles).some((role: Json) => role.Ref === roleId))
        .flatMap(([, policy]) => policy.Properties.PolicyDocument.Statement as Statement[])
        .filter((s) => JSON.stringify(toArray(s.Resource)).includes(JSON.stringify(dataKey)))
        .flatMap((s) => toArray(s.Action));
      // Its tables and buckets: both encrypted with the data key.
      const access = [...Object.values(spec.tables), ...Object.values(spec.buckets ?? {})];
      expect([spec.id, actions.includes('kms:Decrypt')]).toEqual([spec.id, access.length > 0]);
      expect([spec.id, actions.includes('kms:GenerateDataKey*')]).toEqual([spec.id, access.includes('readWrite')]);
    }
  });
});

describe('alarms notify the alarm topic', () => {
  const topicRef = (built: Built) => ({ Ref: logicalId(built.stateless.alarmTopic.topic) });

  test('every alarm of both templates: AlarmActions and OKActions are the alarm topic', () => {
    for (const built of [main, withFixture]) {
      const alarms = [
        ...ofType(built.statelessTemplate, 'AWS::CloudWatch::Alarm'),
        ...ofType(built.statefulTemplate, 'AWS::CloudWatch::Alarm'),
      ];
      expect(alarms.length).toBeGreaterThan(0);
      for (const [id, alarm] of alarms) {
        expect([id, alarm.Properties.AlarmActions, alarm.Properties.OKActions]).toEqual([
          id,
          [topicRef(built)],
          [topicRef(built)],
        ]);
      }
      expect(ofType(built.statelessTemplate, 'AWS::CloudWatch::CompositeAlarm')).toEqual([]);
    }
    // The fixture's cron schedule adds its DLQ alarm and the alarm on its function's errors.
    expect(ofType(withFixture.statelessTemplate, 'AWS::CloudWatch::Alarm').length).toBe(
      ofType(main.statelessTemplate, 'AWS::CloudWatch::Alarm').length + 2,
    );
    // The catalog's: the DLQ of each of its 4 consumed queues (the PSP's events of each of 3 flows, payout runs) and 2
    // work queues, 3 per workflow (its failed-executions queue, that queue's DLQ, its rule's DLQ) for PayIn, PayOut,
    // Refund and Reconciliation, 2 per schedule (its DLQ, its function's errors) for 5, and its 2 metric alarms (the
    // open mismatches).
    expect(ofType(main.statelessTemplate, 'AWS::CloudWatch::Alarm')).toHaveLength(4 + 2 + 3 * 4 + 2 * 5 + 2);
    expect(ofType(main.statefulTemplate, 'AWS::CloudWatch::Alarm')).toEqual([]);
  });

  test('the topic: encrypted with the messaging key, TLS-only publishing, CloudWatch may publish for this account', () => {
    const topicId = logicalId(main.stateless.alarmTopic.topic);
    const policies = ofType(main.statelessTemplate, 'AWS::SNS::TopicPolicy').filter(([, policy]) =>
      toArray(policy.Properties.Topics).some((topic: Json) => topic.Ref === topicId),
    );
    expect(policies).toHaveLength(1);
    const statements = policies[0]![1].Properties.PolicyDocument.Statement as Statement[];
    expect(statements).toContainEqual(
      expect.objectContaining({
        Effect: 'Deny',
        Action: 'sns:Publish',
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      }),
    );
    const allows = statements.filter((s) => s.Effect === 'Allow');
    expect(allows).toHaveLength(1);
    expect(allows[0]).toMatchObject({
      Action: 'sns:Publish',
      Principal: { Service: 'cloudwatch.amazonaws.com' },
      Resource: { Ref: topicId },
      Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
    });
    expect(main.statelessTemplate[topicId]!.Properties.KmsMasterKeyId).toEqual({
      'Fn::GetAtt': [logicalId(main.stateless.messagingKey), 'Arn'],
    });
  });

  test('no subscription without context alarmEmail; an email subscription with it; a bad address fails', () => {
    expect(ofType(main.statelessTemplate, 'AWS::SNS::Subscription')).toEqual([]);
    const { stateless } = buildApp({ alarmEmail: 'payments-oncall@example.com' });
    const template = Template.fromStack(stateless);
    const subscriptions = Object.values(template.findResources('AWS::SNS::Subscription'));
    expect(subscriptions).toHaveLength(1);
    expect(subscriptions[0]!.Properties).toEqual({
      Protocol: 'email',
      Endpoint: 'payments-oncall@example.com',
      TopicArn: { Ref: logicalId(stateless.alarmTopic.topic) },
    });
    expect(() => buildApp({ alarmEmail: 'not an address' })).toThrow(/alarmEmail/);
    expect(() => buildApp({ alarmEmail: '' })).not.toThrow();
  });

  test('control: any alarm added to the stateless stack gets the topic; one in the stateful stack is an error', () => {
    const { stateful, stateless } = buildApp();
    const metric = new Metric({ namespace: 'Test', metricName: 'Anything', period: Duration.minutes(1) });
    const extra = new Alarm(stateless, 'ExtraAlarm', { metric, threshold: 1, evaluationPeriods: 1 });
    const misplaced = new Alarm(stateful, 'MisplacedAlarm', { metric, threshold: 1, evaluationPeriods: 1 });
    const resources = Template.fromStack(stateless).toJSON().Resources;
    const topic = { Ref: logicalId(stateless.alarmTopic.topic) };
    expect(resources[logicalId(extra)].Properties).toMatchObject({ AlarmActions: [topic], OKActions: [topic] });
    const errors = Annotations.fromStack(stateful).findError('*', Match.stringLikeRegexp('alarm topic'));
    expect(errors.map((error) => error.id)).toEqual([`/${misplaced.node.path}`]);
    expect(
      Template.fromStack(stateful).toJSON().Resources[logicalId(misplaced)].Properties.AlarmActions,
    ).toBeUndefined();
  });
});

describe('cdk-nag acknowledgments say what is true of what they are attached to', () => {
  const webhookReason = /^PSP webhook: authenticated by the Stripe-Signature HMAC verified in the function/;

  test('API authorization (APIG4, COG4): on each method only, the authorizer for authorized ones, the signature for the webhook', () => {
    const acks = acknowledgments(main.stateless).filter((ack) =>
      ['AwsSolutions-APIG4', 'AwsSolutions-COG4'].includes(ack.rule),
    );
    const methods = main.stateless.node.findAll().filter((c): c is Method => c instanceof Method);
    expect(methods.length).toBeGreaterThan(0);
    // Nothing above a method (the API, the stack) acknowledges them for all routes at once.
    for (const ack of acks)
      expect([ack.construct.node.path, ack.construct instanceof Method]).toEqual([ack.construct.node.path, true]);
    for (const method of methods) {
      const own = acks.filter((ack) => ack.construct === method);
      const cog4 = own.filter((ack) => ack.rule === 'AwsSolutions-COG4');
      const apig4 = own.filter((ack) => ack.rule === 'AwsSolutions-APIG4');
      expect(cog4).toHaveLength(1);
      const cfn = method.node.defaultChild as { authorizationType?: string; authorizerId?: string };
      if (cfn.authorizationType === AuthorizationType.CUSTOM) {
        expect(cfn.authorizerId).toBeDefined();
        expect(cog4[0]!.reason).toBe(AUTHORIZED_ROUTE_REASON);
        expect(apig4).toEqual([]);
      } else {
        expect([method.node.path, cfn.authorizationType]).toEqual([method.node.path, AuthorizationType.NONE]);
        expect(method.resource.path).toBe('/v1/webhooks/psp');
        expect(cog4[0]!.reason).toMatch(webhookReason);
        expect(apig4).toHaveLength(1);
        expect(apig4[0]!.reason).toMatch(webhookReason);
      }
    }
    // No reason anywhere still claims that every route needs a key.
    for (const ack of acknowledgments(main.app)) expect(ack.reason).not.toMatch(/every route/i);
  });

  test('IAM5 Resource::* on roles: the "*" statements are X-Ray (functions) and log delivery + X-Ray (state machines)', () => {
    const allowed =
      /^(xray:(PutTraceSegments|PutTelemetryRecords|GetSamplingRules|GetSamplingTargets)|logs:(Create|Get|Update|Delete)LogDelivery|logs:ListLogDeliveries|logs:PutResourcePolicy|logs:DescribeResourcePolicies|logs:DescribeLogGroups)$/;
    for (const built of [main, withFixture]) {
      for (const stack of [built.stateful, built.stateless]) {
        for (const policy of stack.node.findAll().filter((c): c is CfnPolicy => c instanceof CfnPolicy)) {
          const document = stack.resolve(policy.policyDocument) as { Statement: Statement[] };
          for (const statement of document.Statement.filter((s) => toArray(s.Resource).includes('*'))) {
            for (const action of toArray(statement.Action))
              expect([policy.node.path, action]).toEqual([policy.node.path, expect.stringMatching(allowed)]);
          }
        }
      }
    }
  });

  test('IAM5 KMS wildcard actions: acknowledged only on the roles of functions that write a table, queue or bucket', () => {
    for (const [id, fn] of Object.entries(withFixture.stateless.functions)) {
      const spec = fixture.functions[id as keyof typeof fixture.functions] as FunctionSpec<string, string>;
      const writes =
        Object.values(spec.tables).includes('readWrite') ||
        (spec.sendsTo ?? []).length > 0 ||
        Object.values(spec.buckets ?? {}).includes('readWrite');
      // Everything of the catalog function: its role, the role's policies, the function.
      const kmsAcks = acknowledgments(fn.node.scope!).filter((ack) =>
        /^AwsSolutions-IAM5\[Action::kms:/.test(ack.rule),
      );
      const rules = [...new Set(kmsAcks.map((ack) => ack.rule))].sort();
      expect([id, rules]).toEqual([
        id,
        writes ? ['AwsSolutions-IAM5[Action::kms:GenerateDataKey*]', 'AwsSolutions-IAM5[Action::kms:ReEncrypt*]'] : [],
      ]);
    }
  });

  test("SQS3 (no DLQ) acknowledged only on queues that are an EventBridge rule target's dead-letter queue", () => {
    for (const built of [main, withFixture]) {
      const targetDlqs = new Set(
        ofType(built.statelessTemplate, 'AWS::Events::Rule')
          .flatMap(([, rule]) => rule.Properties.Targets as Json[])
          .filter((target) => target.DeadLetterConfig)
          .map((target) => target.DeadLetterConfig.Arn['Fn::GetAtt'][0]),
      );
      const acked = acknowledgments(built.stateless)
        .filter((ack) => ack.rule === 'AwsSolutions-SQS3')
        .map((ack) => ack.construct.node.findAll().find((c): c is CfnQueue => c instanceof CfnQueue)!)
        .map((queue) => built.stateless.getLogicalId(queue));
      expect(acked.length).toBeGreaterThan(0);
      expect([...acked].sort()).toEqual([...targetDlqs].sort());
    }
  });

  test('SMG4 (no rotation) acknowledged on each PSP secret itself (payments key, Connect key, webhook secret), nowhere else', () => {
    const acks = acknowledgments(main.app).filter((ack) => ack.rule === 'AwsSolutions-SMG4');
    const secrets = [main.stateful.pspSecret, main.stateful.pspConnectSecret, main.stateful.webhookSecret];
    expect(acks.map((ack) => ack.construct)).toHaveLength(secrets.length);
    expect(new Set(acks.map((ack) => ack.construct))).toEqual(new Set(secrets));
    const connect = acks.find((ack) => ack.construct === main.stateful.pspConnectSecret)!;
    expect(connect.reason).toMatch(/restricted key issued by the PSP/);
    expect(connect.reason).toMatch(/rolled in the PSP dashboard/);
    // Control: without the acknowledgment, cdk-nag reports the Connect key's secret.
    const control = new Stack(new App(), 'SecretControl');
    new Secret(control, 'PspConnectSecretKey');
    const report = new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(control);
    expect(report.violations.map((v) => v.ruleName)).toContain('AwsSolutions-SMG4');
  });

  test('S1 (no access logs) acknowledged only on the access log target, which the other buckets log to', () => {
    const acks = acknowledgments(withFixture.stateful).filter((ack) => ack.rule === 'AwsSolutions-S1');
    expect(acks.map((ack) => ack.construct)).toEqual([withFixture.stateful.accessLogsBucket]);
    const logsId = logicalId(withFixture.stateful.accessLogsBucket!);
    const others = ofType(withFixture.statefulTemplate, 'AWS::S3::Bucket').filter(([id]) => id !== logsId);
    expect(others.length).toBeGreaterThan(0);
    for (const [, bucket] of others) {
      expect(bucket.Properties.LoggingConfiguration.DestinationBucketName).toEqual({ Ref: logsId });
    }
  });

  test('no unacknowledged finding in either stack, with the fixture catalog too', () => {
    for (const built of [main, withFixture]) {
      for (const stack of [built.stateful, built.stateless]) {
        const report = new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(stack);
        expect(report.violations.map((v) => [v.ruleName, v.violatingResources.map((r) => r.constructPath)])).toEqual(
          [],
        );
      }
    }
  });
});

describe('refunds: keys, secrets and alarms', () => {
  test('the Refunds table has the data key; FailedRefunds, its DLQ and its rule DLQ the messaging key, TLS only, each alarmed to the topic', () => {
    const table = main.statefulTemplate[logicalId(main.stateful.tables.refunds)]!;
    expect(table.Type).toBe('AWS::DynamoDB::Table');
    expect(table.Properties.SSESpecification).toEqual({
      SSEEnabled: true,
      SSEType: 'KMS',
      KMSMasterKeyId: { 'Fn::GetAtt': [logicalId(main.stateful.dataKey), 'Arn'] },
    });
    const refund = main.stateless.refund;
    const queues = [refund.failedExecutions, refund.failedExecutionsDlq, refund.ruleDlq].map(logicalId);
    expect(new Set(queues).size).toBe(3);
    const topic = { Ref: logicalId(main.stateless.alarmTopic.topic) };
    const alarms = ofType(main.statelessTemplate, 'AWS::CloudWatch::Alarm');
    for (const id of queues) {
      expect([id, main.statelessTemplate[id]!.Properties.KmsMasterKeyId]).toEqual([
        id,
        { 'Fn::GetAtt': [logicalId(main.stateless.messagingKey), 'Arn'] },
      ]);
      const statements = ofType(main.statelessTemplate, 'AWS::SQS::QueuePolicy')
        .filter(([, policy]) => toArray(policy.Properties.Queues).some((q: Json) => q.Ref === id))
        .flatMap(([, policy]) => policy.Properties.PolicyDocument.Statement as Statement[]);
      expect(statements).toContainEqual(
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      );
      const own = alarms.filter(([, alarm]) =>
        JSON.stringify(alarm.Properties.Dimensions).includes(JSON.stringify({ 'Fn::GetAtt': [id, 'QueueName'] })),
      );
      expect([id, own.length]).toEqual([id, 1]);
      expect(own[0]![1].Properties).toMatchObject({ AlarmActions: [topic], OKActions: [topic] });
    }
  });

  test('no secret of their own: the refunds use the payments key, and no refund function may read the Connect key', () => {
    const secrets = ofType(main.statefulTemplate, 'AWS::SecretsManager::Secret');
    expect(secrets).toHaveLength(3);
    const connect = JSON.stringify(main.stateless.resolve(main.stateful.pspConnectSecret.secretArn));
    const payments = JSON.stringify(main.stateless.resolve(main.stateful.pspSecret.secretArn));
    const secretStatements = (id: keyof typeof main.stateless.functions) => {
      const roleId = main.statelessTemplate[logicalId(main.stateless.functions[id])]!.Properties.Role['Fn::GetAtt'][0];
      return ofType(main.statelessTemplate, 'AWS::IAM::Policy')
        .filter(([, policy]) => toArray(policy.Properties.Roles).some((role: Json) => role.Ref === roleId))
        .flatMap(([, policy]) => policy.Properties.PolicyDocument.Statement as Statement[])
        .filter((s) => toArray(s.Action).some((action) => action.startsWith('secretsmanager:')))
        .map((s) => JSON.stringify(s.Resource));
    };
    // Control: a pay-out step does read the Connect key.
    expect(secretStatements('Transfer').some((resource) => resource.includes(connect))).toBe(true);
    const refundFunctions = [
      'CreateRefund',
      'GetRefund',
      'ListDisputes',
      'GetDispute',
      'DebitAndBook',
      'RefundAtPsp',
      'AwaitRefund',
      'SettleRefund',
      'RefundJanitor',
    ] as const;
    for (const id of refundFunctions) {
      const resources = secretStatements(id);
      expect([id, resources.some((resource) => resource.includes(connect))]).toEqual([id, false]);
      // Only the payments key, and only for the functions that call the PSP.
      expect([id, resources.every((resource) => resource.includes(payments))]).toEqual([id, true]);
      expect([id, resources.length > 0]).toEqual([id, functions[id].psp === true]);
    }
  });
});

describe('cdk-nag: the DescribeExecution wildcard of the workflow starters', () => {
  test("acknowledged on the starters' own policies only, naming the machines each starts (CreateRefund: Refund)", () => {
    const acks = acknowledgments(main.stateless).filter((ack) =>
      /^AwsSolutions-IAM5\[Resource::.*:execution:.*:\*\]$/.test(ack.rule),
    );
    // The starters, and the readers of execution histories (DescribeExecution on the same executions).
    const starters = (Object.values(functions) as FunctionSpec[]).filter(
      (spec) => (spec.startsWorkflows ?? []).length > 0 || (spec.readsHistoryOf ?? []).length > 0,
    );
    expect(starters.map((spec) => spec.id)).toContain('CreateRefund');
    const owners = acks.map((ack) => ack.construct.node.path.split('/')[1]);
    expect([...new Set(owners)].sort()).toEqual(starters.map((spec) => spec.id).sort());
    const createRefund = acks.filter((ack) => ack.construct.node.path.split('/')[1] === 'CreateRefund');
    expect(createRefund).toHaveLength(1);
    expect(createRefund[0]!.rule).toMatch(/RefundStateMachine/);
    expect(createRefund[0]!.reason).toMatch(/a refund\) and per re-drive/);
    expect(createRefund[0]!.reason).toMatch(
      /the state machines the function starts or whose histories it reads \(Refund\)\.$/,
    );
  });
});

describe("cdk-nag: the Distributed Map's wildcard (the Reconciliation state machine's child executions)", () => {
  const childExecutions = /^AwsSolutions-IAM5\[Resource::.*:execution:.*\/\*\]$/;

  test("acknowledged once, on the Reconciliation state machine's DistributedMapPolicy, naming its map's child executions", () => {
    const acks = acknowledgments(main.app).filter((ack) => childExecutions.test(ack.rule));
    expect(acks.map((ack) => ack.construct.node.path)).toEqual([
      'PaymentsStateless/Reconciliation/StateMachine/DistributedMapPolicy/Resource',
    ]);
    expect(acks[0]!.rule).toMatch(/ReconciliationStateMachine/);
    expect(acks[0]!.reason).toMatch(
      /Reconciliation Distributed Map \(MatchShards\) follows and stops its child executions/,
    );
    // The policy's wildcard is the only one: StartExecution names the state machine itself.
    const policy = main.stateless.reconciliation.stateMachine.node.findChild('DistributedMapPolicy');
    const cfn = policy.node.defaultChild as CfnPolicy;
    const document = main.stateless.resolve(cfn.policyDocument) as { Statement: Statement[] };
    const wildcards = document.Statement.flatMap((s) => toArray(s.Resource)).filter((r) =>
      JSON.stringify(r).includes('*'),
    );
    expect(wildcards).toHaveLength(1);
    expect(JSON.stringify(wildcards[0])).toMatch(/:execution:.*\/\*"\]\]\}$/);
  });

  test('control: without the acknowledgment, cdk-nag reports the wildcard (AwsSolutions-IAM5)', () => {
    const control = new Stack(new App(), 'DistributedMapControl');
    const role = new Role(control, 'Role', { assumedBy: new ServicePrincipal('states.amazonaws.com') });
    new Policy(control, 'DistributedMapPolicy', {
      roles: [role],
      statements: [
        new PolicyStatement({
          actions: ['states:DescribeExecution', 'states:StopExecution'],
          resources: [
            control.formatArn({
              service: 'states',
              resource: 'execution',
              resourceName: 'Machine/*',
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          ],
        }),
      ],
    });
    const report = new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(control);
    expect(report.violations.map((v) => v.ruleName)).toContainEqual(
      expect.stringMatching(/^AwsSolutions-IAM5\[Resource::.*:execution:Machine\/\*\]$/),
    );
  });
});

describe("API Gateway's own errors in the API's JSON error shape", () => {
  test('every gateway answer (no key, refused key, no route, throttled, too large, WAF, default 4xx/5xx) has error.code', () => {
    // Prepare
    const responses = ofType(main.statelessTemplate, 'AWS::ApiGateway::GatewayResponse');

    // Assess
    const byType = Object.fromEntries(
      responses.map(([, r]) => [
        String(r.Properties.ResponseType),
        JSON.parse(
          String((r.Properties.ResponseTemplates as Record<string, string>)['application/json']).replaceAll(
            '$context.error.messageString',
            '"message"',
          ),
        ) as { error: { code: string; message: string } },
      ]),
    );
    expect(Object.keys(byType).sort()).toEqual(
      [
        'ACCESS_DENIED',
        'DEFAULT_4XX',
        'DEFAULT_5XX',
        'MISSING_AUTHENTICATION_TOKEN',
        'REQUEST_TOO_LARGE',
        'THROTTLED',
        'UNAUTHORIZED',
        'WAF_FILTERED',
      ].sort(),
    );
    expect(byType.UNAUTHORIZED).toEqual({ message: 'message', error: { code: 'unauthorized', message: 'message' } });
    for (const body of Object.values(byType)) expect(body.error.code).toMatch(/^[a-z_]+$/);
  });
});

describe('scheduled runs that fail page someone', () => {
  test('each scheduled function (the janitors, the daily payout run, the reconciliation) has an alarm on its errors, sent to the topic', () => {
    // Prepare
    const alarms = ofType(main.statelessTemplate, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
    const fnRef = (id: keyof typeof main.stateless.functions) => ({ Ref: logicalId(main.stateless.functions[id]) });

    // Assess
    const errors = alarms.filter((p) => p.MetricName === 'Errors' && p.Namespace === 'AWS/Lambda');
    expect(errors.map((p) => p.Dimensions)).toEqual(
      expect.arrayContaining(
        (['Janitor', 'PayoutJanitor', 'RefundJanitor', 'PayoutRunScheduled', 'ReconciliationScheduled'] as const).map(
          (id) => [{ Name: 'FunctionName', Value: fnRef(id) }],
        ),
      ),
    );
    expect(errors).toHaveLength(new Set(catalog.schedules.map((schedule) => schedule.functionId)).size);
    // The three janitors, the daily payout run and the nightly reconciliation.
    expect(errors).toHaveLength(5);
    for (const p of errors) {
      expect(p.AlarmActions).toEqual([{ Ref: logicalId(main.stateless.alarmTopic.topic) }]);
      expect(p).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
    }
  });
});
