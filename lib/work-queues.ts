import { Duration } from 'aws-cdk-lib';
import type { Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  type FunctionId,
  type FunctionSpec,
  functions,
  type QueueName,
  type QueueSpec,
  type WorkQueueName,
  type WorkQueueSpec,
} from '../lambdas/catalog';
import type { CatalogQueue } from './functions';
import { DEAD_LETTER_RETENTION, messagesVisibleAlarm, queueWithDeadLetters } from './queues';

/**
 * AWS guidance for a Lambda SQS event source: the queue's visibility timeout is at least six times the
 * function's timeout, so a message is not received again while a (retried, throttled) invocation still holds it.
 */
export const VISIBILITY_TIMEOUT_TO_FUNCTION_TIMEOUT = 6;

/** The visibility timeout a catalog queue gets: its spec's, raised to 6x its consumer's timeout when lower. */
export function visibilityTimeoutSeconds(spec: QueueSpec): number {
  return Math.max(
    spec.visibilityTimeoutSeconds,
    VISIBILITY_TIMEOUT_TO_FUNCTION_TIMEOUT * consumerSpec(spec).timeoutSeconds,
  );
}

function consumerSpec(spec: QueueSpec): FunctionSpec {
  const consumer = (functions as Record<string, FunctionSpec>)[spec.consumer];
  if (!consumer) throw new Error(`catalog: queue ${spec.id} is consumed by ${spec.consumer}, which is not a function`);
  return consumer;
}

export interface WorkQueuesProps {
  queues: Record<QueueName, QueueSpec>;
  /** The catalog's work queues (no consumer: people's work lists, read by a tool); none by default. */
  workQueues?: Record<WorkQueueName, WorkQueueSpec>;
  /** The customer-managed key of every queue and DLQ (the stateless stack's messaging key). */
  encryptionKey: IKey;
}

/**
 * The queues of the catalog: the consumed ones (`queues`) and the work queues (`workQueues`, read by people through
 * a tool, with no function consuming them). Each with its own DLQ (after the spec's `maxReceiveCount` receives,
 * kept 14 days) and an alarm on it, all encrypted with the messaging key; a work queue keeps its messages 14 days
 * too (the SQS maximum). Created before the functions (the senders get the URLs); the consumers' event sources are
 * added once the functions exist (`addConsumers`).
 */
export class WorkQueues extends Construct {
  /** The consumed queues, by catalog name. */
  readonly queues: Record<QueueName, Queue>;
  readonly deadLetterQueues: Record<QueueName, Queue>;
  /** The work queues (no consumer), by catalog name. */
  readonly workQueues: Record<WorkQueueName, Queue>;
  readonly workQueueDeadLetterQueues: Record<WorkQueueName, Queue>;
  readonly alarms: Alarm[] = [];
  private readonly specs: [QueueName, QueueSpec][];
  private readonly workSpecs: [WorkQueueName, WorkQueueSpec][];

  constructor(scope: Construct, id: string, props: WorkQueuesProps) {
    super(scope, id);
    this.specs = Object.entries(props.queues) as [QueueName, QueueSpec][];
    this.workSpecs = Object.entries(props.workQueues ?? {}) as [WorkQueueName, WorkQueueSpec][];
    const names = [...this.specs, ...this.workSpecs].map(([name]) => name as string);
    const twice = names.find((name, i) => names.indexOf(name) !== i);
    if (twice) throw new Error(`catalog: ${twice} is both a consumed queue and a work queue`);
    const queues: Partial<Record<QueueName, Queue>> = {};
    const dlqs: Partial<Record<QueueName, Queue>> = {};
    for (const [name, spec] of this.specs) {
      const { queue, dlq } = queueWithDeadLetters(
        this,
        spec.id,
        props.encryptionKey,
        { visibilityTimeout: Duration.seconds(visibilityTimeoutSeconds(spec)) },
        spec.maxReceiveCount,
      );
      queues[name] = queue;
      dlqs[name] = dlq;
      this.alarms.push(
        messagesVisibleAlarm(
          this,
          `${spec.id}DlqAlarm`,
          dlq,
          `Messages of ${spec.id} failed in ${spec.consumer} ${spec.maxReceiveCount} times (dead letters)`,
        ),
      );
    }
    this.queues = queues as Record<QueueName, Queue>;
    this.deadLetterQueues = dlqs as Record<QueueName, Queue>;

    const workQueues: Partial<Record<WorkQueueName, Queue>> = {};
    const workDlqs: Partial<Record<WorkQueueName, Queue>> = {};
    for (const [name, spec] of this.workSpecs) {
      const { queue, dlq } = queueWithDeadLetters(
        this,
        spec.id,
        props.encryptionKey,
        {
          visibilityTimeout: Duration.seconds(spec.visibilityTimeoutSeconds),
          retentionPeriod: DEAD_LETTER_RETENTION,
        },
        spec.maxReceiveCount,
      );
      workQueues[name] = queue;
      workDlqs[name] = dlq;
      this.alarms.push(
        messagesVisibleAlarm(
          this,
          `${spec.id}DlqAlarm`,
          dlq,
          `Messages of the ${spec.id} work queue were received ${spec.maxReceiveCount} times without being deleted (dead letters)`,
        ),
      );
    }
    this.workQueues = workQueues as Record<WorkQueueName, Queue>;
    this.workQueueDeadLetterQueues = workDlqs as Record<WorkQueueName, Queue>;
  }

  /** Every queue a function may send to (consumed ones and work queues), by catalog name, with its spec. */
  get catalogQueues(): Record<string, CatalogQueue> {
    const out: Record<string, CatalogQueue> = {};
    for (const [name, spec] of this.specs) out[name] = { spec, queue: this.queues[name] };
    for (const [name, spec] of this.workSpecs) out[name] = { spec, queue: this.workQueues[name] };
    return out;
  }

  /** Each queue's consumer polls it in batches of the spec's size, reporting the failed messages of a batch. */
  addConsumers(fns: Record<FunctionId, IFunction>): void {
    for (const [name, spec] of this.specs) {
      const consumer = fns[spec.consumer as FunctionId];
      if (!consumer)
        throw new Error(`catalog: queue ${spec.id} is consumed by ${spec.consumer}, which was not created`);
      consumer.addEventSource(
        new SqsEventSource(this.queues[name], { batchSize: spec.batchSize, reportBatchItemFailures: true }),
      );
    }
  }
}
