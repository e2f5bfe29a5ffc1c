import { Aspects, CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { Key } from 'aws-cdk-lib/aws-kms';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import {
  type Catalog,
  catalog as defaultCatalog,
  type FunctionId,
  type QueueName,
  type QueueSpec,
  type WorkQueueName,
  type WorkQueueSpec,
} from '../lambdas/catalog';
import type { TableName } from '../src/core/table-schemas';
import { AlarmNotifications, AlarmTopic, alarmEmailFromContext } from './alarms';
import { PaymentsApi } from './api';
import { OperationsDashboard } from './dashboard';
import { customerManagedKey, MESSAGING_KEY_ALIAS } from './encryption';
import { type CatalogBucket, CatalogFunction } from './functions';
import { MetricAlarms } from './metric-alarms';
import { Schedules } from './schedules';
import { DEFAULT_WAF_RATE_LIMIT } from './waf';
import { WorkQueues } from './work-queues';
import { Workflow } from './workflow';

export interface PaymentsStatelessStackProps extends StackProps {
  tables: Record<TableName, ITable>;
  pspSecret: ISecret;
  /** The PSP's restricted Connect key (the pay-out's), read only by the functions with `pspConnect`. */
  pspConnectSecret: ISecret;
  webhookSecret: ISecret;
  /** The catalog's buckets (from the stateful stack), by name; those the functions use are required. */
  buckets?: Record<string, IBucket>;
  /** What to deploy: `lambdas/catalog.ts` by default (the tests pass fixtures). */
  catalog?: Catalog;
}

/**
 * Compute and wiring, safe to destroy and redeploy: the functions of `lambdas/catalog.ts`, its workflows (one
 * state machine per ASL file, each with its failed-executions queue and alarms), the catalog's queues (with
 * DLQs and alarms) and their consumers, its work queues (people's work lists, no consumer), the REST API (behind a
 * WAF web ACL), the scheduled functions and the alarms on the functions' own metrics; the alarm topic every alarm
 * notifies, and the customer-managed key of every queue and of that topic.
 *
 * Two keys, not one: the queues have this stack's `messagingKey` rather than the stateful stack's data key,
 * because EventBridge (to the failed-executions queues and the targets' DLQs) and CloudWatch (to the alarm topic)
 * must be allowed to use the key in its key policy, as services: those grants stay off the key of the money
 * tables, and they are made in this stack, so a change here never edits the termination-protected stateful stack
 * (nor makes it refer to this one). The messaging key is retained too: a failed payment waits up to 14 days in its
 * queue, and must stay readable if the key is ever replaced.
 */
export class PaymentsStatelessStack extends Stack {
  /** The customer-managed key of every queue (work, failed-executions, DLQs) and of the alarm topic. */
  readonly messagingKey: Key;
  readonly alarmTopic: AlarmTopic;
  readonly functions: Record<FunctionId, NodejsFunction>;
  /** The catalog's workflows, by state machine name. */
  readonly workflows: Record<string, Workflow>;
  readonly workQueues: WorkQueues;
  readonly api: PaymentsApi;
  readonly schedules: Schedules;
  /** The alarms on the metrics the functions publish (the catalog's `metricAlarms`). */
  readonly metricAlarms: MetricAlarms;
  /** The operations dashboard (lib/dashboard.ts). */
  readonly dashboard: OperationsDashboard;

  constructor(scope: Construct, id: string, props: PaymentsStatelessStackProps) {
    super(scope, id, props);
    const catalog = props.catalog ?? defaultCatalog;
    const platformFeeBps = platformFeeBpsFromContext(this);
    this.messagingKey = customerManagedKey(
      this,
      'MessagingKey',
      MESSAGING_KEY_ALIAS,
      'Marketplace payments: encrypts the SQS queues (work, failed executions, dead letters) and the alarm topic',
    );
    // Every alarm of this stack notifies the topic (one Aspect: no alarm can be missed).
    this.alarmTopic = new AlarmTopic(this, 'Alarms', {
      masterKey: this.messagingKey,
      email: alarmEmailFromContext(this),
    });
    Aspects.of(this).add(new AlarmNotifications(this.alarmTopic.topic));
    const encryptionKey = this.messagingKey;
    // Queues first: their senders get their URLs, and they depend on no function.
    this.workQueues = new WorkQueues(this, 'WorkQueues', {
      queues: catalog.queues as Record<QueueName, QueueSpec>,
      workQueues: catalog.workQueues as Record<WorkQueueName, WorkQueueSpec>,
      encryptionKey,
    });
    const queues = this.workQueues.catalogQueues;
    const buckets: Record<string, CatalogBucket> = {};
    for (const [name, spec] of Object.entries(catalog.buckets)) {
      const bucket = props.buckets?.[name];
      if (bucket) buckets[name] = { spec, bucket };
    }
    const catalogFunctions: Record<string, CatalogFunction> = {};
    const created: Record<string, NodejsFunction> = {};
    const workflows: Record<string, Workflow> = {};

    // A state machine needs the ARNs of its step functions, and the functions that start it need its ARN: each
    // workflow's steps first (in catalog order), then the workflow, then the functions that start it. A function
    // that starts a workflow it is (directly or not) a step of is a cycle, refused.
    const path: string[] = [];
    const enter = (node: string) => {
      if (path.includes(node)) {
        throw new Error(`catalog: a cycle: ${[...path.slice(path.indexOf(node)), node].join(' -> ')}`);
      }
      path.push(node);
    };
    const ensureFunction = (functionId: string): void => {
      if (created[functionId]) return;
      const spec = catalog.functions[functionId];
      if (!spec) throw new Error(`catalog: no function ${functionId}`);
      if (spec.id !== functionId) throw new Error(`catalog: functions.${functionId} has id ${spec.id}`);
      enter(`function ${functionId}`);
      for (const name of [...(spec.startsWorkflows ?? []), ...(spec.readsHistoryOf ?? [])]) ensureWorkflow(name);
      for (const invoked of spec.invokes ?? []) ensureFunction(invoked);
      path.pop();
      const catalogFunction = new CatalogFunction(this, spec.id, {
        spec,
        tables: props.tables,
        pspSecret: props.pspSecret,
        pspConnectSecret: props.pspConnectSecret,
        webhookSecret: props.webhookSecret,
        queues,
        workflows,
        buckets,
        invocable: Object.fromEntries(
          (spec.invokes ?? []).flatMap((id) => {
            const invoked = created[id];
            const invokedSpec = catalog.functions[id];
            return invoked && invokedSpec ? [[id, { spec: invokedSpec, function: invoked }]] : [];
          }),
        ),
        platformFeeBps,
      });
      catalogFunctions[functionId] = catalogFunction;
      created[functionId] = catalogFunction.function;
    };
    const ensureWorkflow = (name: string): void => {
      if (workflows[name]) return;
      const spec = catalog.stateMachines[name];
      if (!spec) throw new Error(`catalog: no state machine ${name}`);
      enter(`workflow ${name}`);
      const steps = new Set(Object.values(spec.substitutions));
      for (const functionId of steps) {
        if (!catalog.functions[functionId]) throw new Error(`catalog: ${spec.id} runs ${functionId}, not a function`);
      }
      for (const functionId of Object.keys(catalog.functions).filter((fnId) => steps.has(fnId))) {
        ensureFunction(functionId);
      }
      path.pop();
      workflows[name] = new Workflow(this, spec.id, { spec, functions: created, encryptionKey });
    };
    for (const name of Object.keys(catalog.stateMachines)) ensureWorkflow(name);
    for (const functionId of Object.keys(catalog.functions)) ensureFunction(functionId);
    this.functions = created as Record<FunctionId, NodejsFunction>;
    this.workflows = workflows;

    // Task responses last, in policies of their own: some responders are steps of the machine (see allowTaskResponses).
    for (const [functionId, spec] of Object.entries(catalog.functions)) {
      if ((spec.answersTasksOf ?? []).length > 0) catalogFunctions[functionId]?.allowTaskResponses(workflows);
    }
    this.workQueues.addConsumers(this.functions);

    this.api = new PaymentsApi(this, 'PaymentsApi', {
      routes: catalog.apiRoutes,
      functions: this.functions,
      authorizer: this.functions.Authorizer,
      wafRateLimit: wafRateLimitFromContext(this),
    });

    this.schedules = new Schedules(this, 'Schedules', {
      schedules: catalog.schedules,
      functions: created,
      encryptionKey,
    });

    this.metricAlarms = new MetricAlarms(this, 'MetricAlarms', {
      alarms: catalog.metricAlarms,
      functionIds: Object.keys(created),
    });

    this.dashboard = new OperationsDashboard(this, 'Operations', {
      workflows,
      functions: created,
      deadLetterQueues: [
        ...Object.values(this.workQueues.deadLetterQueues),
        ...Object.values(this.workQueues.workQueueDeadLetterQueues),
        ...Object.values(workflows).flatMap((workflow) => [workflow.failedExecutionsDlq, workflow.ruleDlq]),
        ...this.schedules.deadLetterQueues,
      ],
      api: this.api.api,
    });

    new CfnOutput(this, 'ApiUrl', { value: this.api.api.url, description: 'Base URL of the payments API' });
    new CfnOutput(this, 'AlarmTopicArn', {
      value: this.alarmTopic.topic.topicArn,
      description: 'The SNS topic every alarm notifies (subscribe to it, or set context alarmEmail)',
    });
    new CfnOutput(this, 'DashboardName', {
      value: this.dashboard.dashboard.dashboardName,
      description: 'The operations dashboard (CloudWatch)',
    });
    new CfnOutput(this, 'DashboardUrl', {
      value: `https://console.aws.amazon.com/cloudwatch/home?region=${this.region}#dashboards:name=${this.dashboard.dashboard.dashboardName}`,
      description: 'The operations dashboard in the CloudWatch console',
    });
    for (const workflow of Object.values(workflows)) {
      new CfnOutput(this, `${workflow.spec.id}StateMachineArn`, {
        value: workflow.stateMachine.stateMachineArn,
        description: `The ${workflow.spec.id} state machine`,
      });
    }
  }

  /** The pay-in workflow. */
  get payIn(): Workflow {
    const payIn = this.workflows.payIn;
    if (!payIn) throw new Error('catalog: no payIn state machine');
    return payIn;
  }

  /** The pay-out workflow. */
  get payOut(): Workflow {
    const payOut = this.workflows.payOut;
    if (!payOut) throw new Error('catalog: no payOut state machine');
    return payOut;
  }

  /** The refund workflow. */
  get refund(): Workflow {
    const refund = this.workflows.refund;
    if (!refund) throw new Error('catalog: no refund state machine');
    return refund;
  }

  /** The reconciliation workflow. */
  get reconciliation(): Workflow {
    const reconciliation = this.workflows.reconciliation;
    if (!reconciliation) throw new Error('catalog: no reconciliation state machine');
    return reconciliation;
  }
}

/** Context `platformFeeBps` (default 0): an integer number of basis points, 0..10000. */
function platformFeeBpsFromContext(scope: Construct): string {
  const raw = scope.node.tryGetContext('platformFeeBps') ?? '0';
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 10_000) {
    throw new Error(`context platformFeeBps must be an integer in 0..10000, got '${raw}'`);
  }
  return String(value);
}

/** Context `wafRateLimit` (default `DEFAULT_WAF_RATE_LIMIT`): requests per client IP per 5 minutes, 10..2e9. */
function wafRateLimitFromContext(scope: Construct): number {
  const raw = scope.node.tryGetContext('wafRateLimit') ?? DEFAULT_WAF_RATE_LIMIT;
  const value = Number(raw);
  if (raw === '' || !Number.isInteger(value) || value < 10 || value > 2_000_000_000) {
    throw new Error(`context wafRateLimit must be an integer in 10..2000000000, got '${raw}'`);
  }
  return value;
}
