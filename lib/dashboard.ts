import { Duration, Stack } from 'aws-cdk-lib';
import type { RestApi } from 'aws-cdk-lib/aws-apigateway';
import {
  Dashboard,
  GraphWidget,
  type IMetric,
  MathExpression,
  Metric,
  Stats,
  TextWidget,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../lambdas/catalog';
import { BUSINESS_METRICS, CURRENCY_DIMENSION, OPEN_MISMATCH_METRICS } from '../src/core/metric-names';
import type { Workflow } from './workflow';

export interface OperationsDashboardProps {
  /** The catalog's workflows, by state machine name. */
  workflows: Record<string, Workflow>;
  /** The catalog's functions, by id: at least every step function of the workflows. */
  functions: Partial<Record<string, IFunction>>;
  /** Every dead-letter queue of the stack (consumed and work queues', failed-executions queues', rules' DLQs). */
  deadLetterQueues: IQueue[];
  /** The REST API. */
  api: RestApi;
  /** The workflow whose failures are the payouts' (`payOut`). */
  payoutWorkflow?: string;
}

const WIDTH = 8;
const HEIGHT = 6;
const FIVE_MINUTES = Duration.minutes(5);

/** A metric the functions publish with Powertools (namespace `METRICS_NAMESPACE`, dimension `service`). */
function businessMetric(metricName: string, statistic: string, label: string, period = FIVE_MINUTES): Metric {
  return new Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: { service: SERVICE_NAME },
    statistic,
    period,
    label,
  });
}

/** A graph of the dashboard's grid (three per row), counts from zero. */
const graph = (props: { title: string; left: IMetric[] }): GraphWidget =>
  new GraphWidget({ ...props, width: WIDTH, height: HEIGHT, leftYAxis: { min: 0, showUnits: false } });

/** A queue's label on the dashboard: its construct id (e.g. `PspWebhooksDlq`, `FailedPaymentsRuleDlq`). */
const queueLabel = (queue: IQueue): string => queue.node.id;

const messagesVisible = (queue: IQueue): IMetric =>
  queue.metricApproximateNumberOfMessagesVisible({
    period: FIVE_MINUTES,
    statistic: Stats.MAXIMUM,
    label: queueLabel(queue),
  });

/**
 * The operations dashboard (one CloudWatch dashboard: a single resource, whatever the number of widgets): payments by
 * status and their amounts per currency (the business metrics of src/core/metric-names.ts), the pending payments the
 * janitor finds, failures and retries (each workflow's failed, timed-out and aborted executions; its step
 * functions' errors, which Step Functions retries when transient, and throttles), the depths of every dead-letter
 * queue and failed-executions queue, the payouts' failures, the open reconciliation mismatches, and the API's
 * latency and errors.
 */
export class OperationsDashboard extends Construct {
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: OperationsDashboardProps) {
    super(scope, id);
    const workflows = Object.values(props.workflows);
    const payout = props.workflows[props.payoutWorkflow ?? 'payOut'];
    if (!payout) throw new Error(`dashboard: no ${props.payoutWorkflow ?? 'payOut'} workflow for the payout failures`);

    /** The step functions of a workflow (those its ASL substitutions name), in their order, without repeats. */
    const stepsOf = (workflow: Workflow): IFunction[] =>
      [...new Set(Object.values(workflow.spec.substitutions))].map((functionId) => {
        const fn = props.functions[functionId];
        if (!fn) throw new Error(`dashboard: ${workflow.spec.id} runs ${functionId}, which was not created`);
        return fn;
      });
    /** One line per workflow: the sum of a Lambda metric over its step functions. */
    const perWorkflowSum = (what: 'Errors' | 'Throttles'): IMetric[] =>
      workflows.map((workflow, w) => {
        const usingMetrics = Object.fromEntries(
          stepsOf(workflow).map((fn, i) => [
            `w${w}s${i}`,
            what === 'Errors'
              ? fn.metricErrors({ period: FIVE_MINUTES, statistic: Stats.SUM })
              : fn.metricThrottles({ period: FIVE_MINUTES, statistic: Stats.SUM }),
          ]),
        );
        return new MathExpression({
          expression: `SUM([${Object.keys(usingMetrics).join(',')}])`,
          usingMetrics,
          label: `${workflow.spec.id} steps`,
          period: FIVE_MINUTES,
        });
      });
    const executionEnds = (workflow: Workflow): IMetric[] => [
      workflow.stateMachine.metricFailed({ period: FIVE_MINUTES, label: `${workflow.spec.id} failed` }),
      workflow.stateMachine.metricTimedOut({ period: FIVE_MINUTES, label: `${workflow.spec.id} timed out` }),
      workflow.stateMachine.metricAborted({ period: FIVE_MINUTES, label: `${workflow.spec.id} aborted` }),
    ];

    const widgets = [
      // Payments
      graph({
        title: 'Payments by status',
        left: [
          businessMetric(BUSINESS_METRICS.paymentsSucceeded, Stats.SUM, 'Succeeded (Finalize)'),
          businessMetric(
            BUSINESS_METRICS.paymentsFailed,
            Stats.SUM,
            'Failed (declined, rejected, stopped at the deadline)',
          ),
        ],
      }),
      graph({
        title: 'Amounts succeeded per currency (minor units)',
        left: [
          new MathExpression({
            expression:
              `SEARCH('{${METRICS_NAMESPACE},${CURRENCY_DIMENSION},service} ` +
              `MetricName="${BUSINESS_METRICS.paymentAmountSucceeded}" service="${SERVICE_NAME}"', 'Sum', 300)`,
            usingMetrics: {},
            label: `\${PROP('Dim.${CURRENCY_DIMENSION}')}`,
            period: FIVE_MINUTES,
          }),
        ],
      }),
      graph({
        title: 'Pending payments (non-final, older than the janitor threshold)',
        left: [businessMetric(BUSINESS_METRICS.pendingPayments, Stats.MAXIMUM, 'Found by the janitor run')],
      }),
      // Failures and retries
      graph({
        title: 'Workflow executions failed, timed out, aborted',
        left: workflows.flatMap(executionEnds),
      }),
      graph({
        title: 'Step function errors (retried by Step Functions when transient)',
        left: perWorkflowSum('Errors'),
      }),
      graph({
        title: 'Step function throttles',
        left: perWorkflowSum('Throttles'),
      }),
      // Queues
      graph({
        title: 'Dead-letter queue depths (messages visible)',
        left: props.deadLetterQueues.map(messagesVisible),
      }),
      graph({
        title: 'Failed-executions queue depths (messages visible)',
        left: workflows.map((workflow) => messagesVisible(workflow.failedExecutions)),
      }),
      graph({
        title: 'Payout failures',
        left: [...executionEnds(payout), messagesVisible(payout.failedExecutions)],
      }),
      // Reconciliation and the API
      graph({
        title: 'Open reconciliation mismatches',
        // Published once per run (nightly): the hour's maximum.
        left: OPEN_MISMATCH_METRICS.map((name) => businessMetric(name, Stats.MAXIMUM, name, Duration.hours(1))),
      }),
      graph({
        title: 'API latency (ms)',
        left: [
          props.api.metricLatency({ period: FIVE_MINUTES, statistic: Stats.p(50), label: 'p50' }),
          props.api.metricLatency({ period: FIVE_MINUTES, statistic: Stats.p(99), label: 'p99' }),
        ],
      }),
      graph({
        title: 'API errors',
        left: [
          props.api.metricClientError({ period: FIVE_MINUTES, statistic: Stats.SUM, label: '4XXError' }),
          props.api.metricServerError({ period: FIVE_MINUTES, statistic: Stats.SUM, label: '5XXError' }),
        ],
      }),
    ];

    this.dashboard = new Dashboard(this, 'Dashboard', {
      dashboardName: `${Stack.of(this).stackName}-Operations`,
      defaultInterval: Duration.days(1),
    });
    this.dashboard.addWidgets(
      new TextWidget({
        markdown:
          `Business metrics: namespace \`${METRICS_NAMESPACE}\`, dimension \`service=${SERVICE_NAME}\` ` +
          `(Powertools Metrics, EMF); amounts in integer minor units per \`${CURRENCY_DIMENSION}\`. ` +
          'Retries: Step Functions retries a step function that fails with a transient error; a failed, timed-out ' +
          'or aborted execution lands in its failed-executions queue (`npm run replay` for payments).',
        width: 24,
        height: 2,
      }),
    );
    for (let row = 0; row < widgets.length; row += 3) this.dashboard.addWidgets(...widgets.slice(row, row + 3));
  }
}
