import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Arn, ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import type { Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import { Rule } from 'aws-cdk-lib/aws-events';
import { SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import { Policy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { DefinitionBody, LogLevel, StateMachine, StateMachineType } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { StateMachineSpec } from '../lambdas/catalog';
import { REPO_ROOT } from './functions';
import { acknowledge, acknowledgeWildcardResources } from './nag';
import {
  DEAD_LETTER_RETENTION,
  eventTargetDeadLetterQueue,
  MAX_RECEIVE_COUNT,
  messagesVisibleAlarm,
  queueWithDeadLetters,
} from './queues';

/** Execution statuses that end a workflow without its last step (for the pay-in: a payment to look at). */
export const FAILED_EXECUTION_STATUSES = ['FAILED', 'TIMED_OUT', 'ABORTED'];

/**
 * What a state machine with a Distributed Map needs (the IAM policy of the Step Functions guide, "IAM policies for
 * using Distributed Map states"; CDK grants it to a `DistributedMap` construct, not to a definition read from a
 * file): starting its child executions (StartExecution on itself), following and stopping them (on the executions
 * of its map runs, `execution:<machine>/*`: a child execution's ARN is `execution:<machine>/<map run label>:<id>`,
 * and no execution of the machine itself matches).
 */
export const DISTRIBUTED_MAP_ACTIONS = {
  onStateMachine: ['states:StartExecution'],
  onExecutions: ['states:DescribeExecution', 'states:StopExecution'],
};

type AslState = {
  Type?: string;
  ItemProcessor?: AslStates & { ProcessorConfig?: { Mode?: string } };
  Iterator?: AslStates;
  Branches?: AslStates[];
};
type AslStates = { States?: Record<string, AslState> };

/** The names of the Distributed Map states of an ASL definition (nested ones too). */
export function distributedMapStates(definition: AslStates): string[] {
  return Object.entries(definition.States ?? {}).flatMap(([name, state]) => [
    ...(state.Type === 'Map' && state.ItemProcessor?.ProcessorConfig?.Mode === 'DISTRIBUTED' ? [name] : []),
    ...[state.ItemProcessor, state.Iterator, ...(state.Branches ?? [])]
      .filter((child): child is AslStates => child !== undefined)
      .flatMap(distributedMapStates),
  ]);
}

export interface WorkflowProps {
  spec: StateMachineSpec<string>;
  /** At least the functions named by `spec.substitutions`. */
  functions: Partial<Record<string, IFunction>>;
  /** The customer-managed key of the workflow's queues (the stateless stack's messaging key). */
  encryptionKey: IKey;
}

/**
 * One state machine of the catalog, built from its ASL file, and the failure path around it: an EventBridge
 * rule sends every failed/timed-out/aborted execution to the workflow's own failed-executions queue (the pay-in's
 * is FailedPayments), for ops investigation in the Step Functions console and replay, with dead letters and
 * alarms on every queue.
 */
export class Workflow extends Construct {
  readonly spec: StateMachineSpec<string>;
  readonly stateMachine: StateMachine;
  /** Where the failed, timed-out and aborted executions go (`spec.failedExecutionsQueue`). */
  readonly failedExecutions: Queue;
  readonly failedExecutionsDlq: Queue;
  /** Events the rule could not deliver to the failed-executions queue. */
  readonly ruleDlq: Queue;
  readonly alarms: Alarm[];

  constructor(scope: Construct, id: string, props: WorkflowProps) {
    super(scope, id);
    const { spec } = props;
    this.spec = spec;
    const failedId = spec.failedExecutionsQueue.id;

    const stepFunctions = Object.entries(spec.substitutions).map(([variable, functionId]) => {
      const fn = props.functions[functionId];
      if (!fn) throw new Error(`${spec.id}: \${${variable}} names ${functionId}, which was not created first`);
      return { variable, fn };
    });

    // The ASL file is the single source of the workflow (the local engine runs the same file). It is
    // inlined as DefinitionString rather than `DefinitionBody.fromFile`, which stages the file as an S3
    // asset (DefinitionS3Location): the template then carries no definition to review in diffs or test.
    const asl = readFileSync(path.join(REPO_ROOT, spec.file), 'utf8');
    const parsed = JSON.parse(asl) as AslStates;
    const definition = JSON.stringify(parsed);

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
    const distributedMaps = distributedMapStates(parsed);
    if (distributedMaps.length > 0) this.allowDistributedMaps(distributedMaps);

    acknowledgeWildcardResources(
      this.stateMachine,
      /^<[A-Za-z0-9]+\.Arn>:\*$/,
      'lambda:InvokeFunction on <function ARN>:* (added by grantInvoke) covers the versions and aliases of ' +
        `the ${spec.id} step functions named in the ASL substitutions, and nothing else.`,
    );

    // Failed executions -> the workflow's own queue (its own DLQ after repeated receives by ops tooling).
    // All three encrypted with the messaging key: EventBridge may use it for the queue (SqsQueue's own grant) and
    // for the rule's DLQ (eventTargetDeadLetterQueue).
    const failed = queueWithDeadLetters(this, failedId, props.encryptionKey, {
      retentionPeriod: DEAD_LETTER_RETENTION,
    });
    this.failedExecutions = failed.queue;
    this.failedExecutionsDlq = failed.dlq;
    this.ruleDlq = eventTargetDeadLetterQueue(this, `${failedId}RuleDlq`, props.encryptionKey);

    new Rule(this, 'FailedExecutionsRule', {
      description: `Failed, timed-out and aborted ${spec.id} executions -> the ${failedId} queue`,
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: { status: FAILED_EXECUTION_STATUSES, stateMachineArn: [this.stateMachine.stateMachineArn] },
      },
      targets: [
        new SqsQueue(this.failedExecutions, {
          deadLetterQueue: this.ruleDlq,
          retryAttempts: 185,
          maxEventAge: Duration.hours(24),
        }),
      ],
    });

    this.alarms = [
      messagesVisibleAlarm(
        this,
        `${failedId}Alarm`,
        this.failedExecutions,
        `A ${spec.id} execution failed, timed out or was aborted: see the ${failedId} queue`,
      ),
      messagesVisibleAlarm(
        this,
        `${failedId}DlqAlarm`,
        this.failedExecutionsDlq,
        `Messages of ${failedId} were received ${MAX_RECEIVE_COUNT} times without being deleted (dead letters)`,
      ),
      messagesVisibleAlarm(
        this,
        `${failedId}RuleDlqAlarm`,
        this.ruleDlq,
        `EventBridge could not deliver failed-execution events to ${failedId} (dead letters)`,
      ),
    ];
  }

  /**
   * A Distributed Map runs each item as a child execution of this same state machine: its role may start this
   * machine's executions, describe and stop its map runs' child executions, and nothing more (no other machine, no
   * redrive, not the parent executions). In a Policy of its own attached to the role, as CDK's DistributedMap does:
   * the state machine depends on its role (and the role's default policy), so a statement naming the machine's ARN
   * there would be a cycle.
   */
  private allowDistributedMaps(states: string[]): void {
    const stack = Stack.of(this);
    const machineName = Arn.split(this.stateMachine.stateMachineArn, ArnFormat.COLON_RESOURCE_NAME).resourceName;
    const childExecutions = stack.formatArn({
      service: 'states',
      resource: 'execution',
      resourceName: `${machineName}/*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    const policy = new Policy(this.stateMachine, 'DistributedMapPolicy', {
      roles: [this.stateMachine.role],
      statements: [
        new PolicyStatement({
          actions: DISTRIBUTED_MAP_ACTIONS.onStateMachine,
          resources: [this.stateMachine.stateMachineArn],
        }),
        new PolicyStatement({ actions: DISTRIBUTED_MAP_ACTIONS.onExecutions, resources: [childExecutions] }),
      ],
    });
    acknowledgeWildcardResources(
      policy,
      /:execution:.*\/\*$/,
      `states:DescribeExecution and states:StopExecution on <state machine>:execution:<its name>/*: the ` +
        `${this.spec.id} Distributed Map (${states.join(', ')}) follows and stops its child executions, whose ARNs ` +
        '(<its name>/<map run label>:<id>) Step Functions makes at run time; the child executions of this state ' +
        "machine's map runs only.",
    );
  }
}
