import { Duration } from 'aws-cdk-lib';
import type { Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { type FunctionId, type FunctionSpec, functions, type QueueName, type QueueSpec } from '../lambdas/catalog';
import { messagesVisibleAlarm, queueWithDeadLetters } from './queues';

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
  /** The customer-managed key of every queue and DLQ (the stateless stack's messaging key). */
  encryptionKey: IKey;
}

/**
 * The queues of the catalog (`queues`): each with its own DLQ (after the spec's `maxReceiveCount` receives,
 * kept 14 days) and an alarm on it, all encrypted with the messaging key. Created before the functions (the senders
 * get the URLs); the consumers' event sources are added once the functions exist (`addConsumers`).
 */
export class WorkQueues extends Construct {
  readonly queues: Record<QueueName, Queue>;
  readonly deadLetterQueues: Record<QueueName, Queue>;
  readonly alarms: Alarm[] = [];
  private readonly specs: [QueueName, QueueSpec][];

  constructor(scope: Construct, id: string, props: WorkQueuesProps) {
    super(scope, id);
    this.specs = Object.entries(props.queues) as [QueueName, QueueSpec][];
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
