import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, Stats, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { type IQueue, Queue, QueueEncryption, type QueueProps } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { allowEventBridgeToEncrypt } from './encryption';
import { acknowledge } from './nag';

/** How long a dead letter (or an ops queue message) is kept: the SQS maximum. */
export const DEAD_LETTER_RETENTION = Duration.days(14);

/** Redrives after this many receives: a poison message then sits in the DLQ for investigation. */
export const MAX_RECEIVE_COUNT = 5;

/**
 * What every queue gets: TLS only, and encryption with the customer-managed key `key` (the stateless stack's
 * messaging key). A queue's senders and consumers get the key's use with their queue grants (grantSendMessages:
 * kms:Encrypt, kms:Decrypt, kms:ReEncrypt* and kms:GenerateDataKey*; grantConsumeMessages: kms:Decrypt), on this
 * key's ARN.
 */
function secureDefaults(key: IKey): QueueProps {
  return { enforceSSL: true, encryption: QueueEncryption.KMS, encryptionMasterKey: key };
}

/** A dead-letter queue: no DLQ of its own, TLS only, encrypted with `key`, 14-day retention. */
export function deadLetterQueue(scope: Construct, id: string, key: IKey): Queue {
  return new Queue(scope, id, { ...secureDefaults(key), retentionPeriod: DEAD_LETTER_RETENTION });
}

/**
 * The dead-letter queue of an EventBridge rule target (events it could not deliver after its retries). EventBridge
 * writes to it, so the key's policy lets EventBridge use the key (CDK grants it only on an SqsQueue target's own
 * queue, not on a target's DLQ).
 */
export function eventTargetDeadLetterQueue(scope: Construct, id: string, key: IKey): Queue {
  const dlq = deadLetterQueue(scope, id, key);
  allowEventBridgeToEncrypt(key);
  acknowledge(dlq, {
    id: 'AwsSolutions-SQS3',
    reason:
      'This queue is itself a dead-letter queue: the DLQ of an EventBridge rule target (DeadLetterConfig), ' +
      'which cdk-nag does not recognise since no queue RedrivePolicy points at it.',
  });
  return dlq;
}

/**
 * A work queue with its own DLQ (after `maxReceiveCount` receives, `MAX_RECEIVE_COUNT` by default), TLS only, both
 * encrypted with `key`.
 */
export function queueWithDeadLetters(
  scope: Construct,
  id: string,
  key: IKey,
  props: Omit<QueueProps, 'deadLetterQueue' | 'enforceSSL' | 'encryption' | 'encryptionMasterKey'> = {},
  maxReceiveCount: number = MAX_RECEIVE_COUNT,
): { queue: Queue; dlq: Queue } {
  const dlq = deadLetterQueue(scope, `${id}Dlq`, key);
  const queue = new Queue(scope, id, {
    ...props,
    ...secureDefaults(key),
    deadLetterQueue: { queue: dlq, maxReceiveCount },
  });
  return { queue, dlq };
}

/**
 * Alarms as soon as one message is visible in the queue (a failed payment or a dead letter). Its notifications go
 * to the alarm topic: every alarm of the stateless stack gets it (`AlarmNotifications`, lib/alarms.ts).
 */
export function messagesVisibleAlarm(scope: Construct, id: string, queue: IQueue, description: string): Alarm {
  return new Alarm(scope, id, {
    alarmDescription: description,
    metric: queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: Stats.MAXIMUM }),
    threshold: 1,
    comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    evaluationPeriods: 1,
    treatMissingData: TreatMissingData.NOT_BREACHING,
  });
}
