import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Duration } from 'aws-cdk-lib';
import type { Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import { Rule } from 'aws-cdk-lib/aws-events';
import { SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { DefinitionBody, LogLevel, StateMachine, StateMachineType } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { FunctionId, StateMachineSpec } from '../lambdas/catalog';
import { REPO_ROOT } from './functions';
import { acknowledge, acknowledgeWildcardResources } from './nag';
import {
  DEAD_LETTER_RETENTION,
  eventTargetDeadLetterQueue,
  messagesVisibleAlarm,
  queueWithDeadLetters,
} from './queues';

/** Execution statuses that end a pay-in without its Finalize step: each one is a payment to look at. */
export const FAILED_EXECUTION_STATUSES = ['FAILED', 'TIMED_OUT', 'ABORTED'];

export interface PayInWorkflowProps {
  spec: StateMachineSpec;
  /** At least the functions named by `spec.substitutions`. */
  functions: Partial<Record<FunctionId, IFunction>>;
}

/**
 * The pay-in state machine, built from its ASL file, and the failure path around it: an EventBridge
 * rule sends every failed/timed-out/aborted execution to the FailedPayments queue (for ops
 * investigation in the Step Functions console), with dead letters and alarms on every queue.
 */
export class PayInWorkflow extends Construct {
  readonly stateMachine: StateMachine;
  readonly failedPayments: Queue;
  readonly failedPaymentsDlq: Queue;
  /** Events the rule could not deliver to FailedPayments. */
  readonly ruleDlq: Queue;
  readonly alarms: Alarm[];

  constructor(scope: Construct, id: string, props: PayInWorkflowProps) {
    super(scope, id);
    const { spec } = props;

    const stepFunctions = Object.entries(spec.substitutions).map(([variable, functionId]) => {
      const fn = props.functions[functionId];
      if (!fn) throw new Error(`${spec.id}: \${${variable}} names ${functionId}, which was not created first`);
      return { variable, fn };
    });

    // The ASL file is the single source of the workflow (the local engine runs the same file). It is
    // inlined as DefinitionString rather than `DefinitionBody.fromFile`, which stages the file as an S3
    // asset (DefinitionS3Location): the template then carries no definition to review in diffs or test.
    const asl = readFileSync(path.join(REPO_ROOT, spec.file), 'utf8');
    const definition = JSON.stringify(JSON.parse(asl));

    // Level ALL is what lets ops follow an execution's history from the logs; includeExecutionData
    // false keeps the state inputs/outputs (payment ids, amounts, PSP references) out of the logs:
    // they stay in the execution history, behind Step Functions IAM permissions.
    const logGroup = new LogGroup(this, 'Logs', { retention: RetentionDays.ONE_MONTH });
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: DefinitionBody.fromString(definition),
      definitionSubstitutions: Object.fromEntries(stepFunctions.map(({ variable, fn }) => [variable, fn.functionArn])),
      logs: { destination: logGroup, level: LogLevel.ALL, includeExecutionData: false },
      tracingEnabled: true,
    });
    for (const { fn } of stepFunctions) fn.grantInvoke(this.stateMachine);

    acknowledge(this.stateMachine, {
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'CloudWatch Logs delivery (logs:*LogDelivery*, PutResourcePolicy, Describe*) and X-Ray actions ' +
        'support no resource-level permissions, so their resource must be "*".',
    });
    acknowledgeWildcardResources(
      this.stateMachine,
      /^<[A-Za-z0-9]+\.Arn>:\*$/,
      'lambda:InvokeFunction on <function ARN>:* (added by grantInvoke) covers the versions and aliases of ' +
        'the pay-in step functions named in the ASL substitutions, and nothing else.',
    );

    // Failed executions -> FailedPayments (its own DLQ after repeated receives by ops tooling).
    const failed = queueWithDeadLetters(this, 'FailedPayments', { retentionPeriod: DEAD_LETTER_RETENTION });
    this.failedPayments = failed.queue;
    this.failedPaymentsDlq = failed.dlq;
    this.ruleDlq = eventTargetDeadLetterQueue(this, 'FailedPaymentsRuleDlq');

    new Rule(this, 'FailedExecutionsRule', {
      description: `Failed, timed-out and aborted ${spec.id} executions -> the FailedPayments queue`,
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: { status: FAILED_EXECUTION_STATUSES, stateMachineArn: [this.stateMachine.stateMachineArn] },
      },
      targets: [
        new SqsQueue(this.failedPayments, {
          deadLetterQueue: this.ruleDlq,
          retryAttempts: 185,
          maxEventAge: Duration.hours(24),
        }),
      ],
    });

    this.alarms = [
      messagesVisibleAlarm(
        this,
        'FailedPaymentsAlarm',
        this.failedPayments,
        `A ${spec.id} execution failed, timed out or was aborted: see the FailedPayments queue`,
      ),
      messagesVisibleAlarm(
        this,
        'FailedPaymentsDlqAlarm',
        this.failedPaymentsDlq,
        'Messages of FailedPayments were received 5 times without being deleted (dead letters)',
      ),
      messagesVisibleAlarm(
        this,
        'FailedPaymentsRuleDlqAlarm',
        this.ruleDlq,
        'EventBridge could not deliver failed-execution events to FailedPayments (dead letters)',
      ),
    ];
  }
}
