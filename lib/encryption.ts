import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { type IKey, Key } from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';

/** The alias of the stateful stack's key (tables and the catalog's buckets). */
export const DATA_KEY_ALIAS = 'alias/marketplace-payments/data';
/** The alias of the stateless stack's key (every queue and the alarm topic). */
export const MESSAGING_KEY_ALIAS = 'alias/marketplace-payments/messaging';

/** What EventBridge needs on the key of an encrypted queue it sends to (SQS developer guide, key management). */
export const EVENTBRIDGE_QUEUE_KEY_ACTIONS = ['kms:GenerateDataKey', 'kms:Decrypt'];

/**
 * A customer-managed symmetric key: yearly automatic rotation, retained when its stack is deleted or the key
 * replaced (what it encrypted stays readable; a key pending deletion can no longer decrypt), with an alias. Its
 * key policy is CDK's default: the account administers it and IAM policies grant its use (the grants of the
 * tables, queues and buckets add kms:* statements on this key's ARN to the roles that use them).
 */
export function customerManagedKey(scope: Construct, id: string, alias: string, description: string): Key {
  return new Key(scope, id, {
    alias,
    description,
    enableKeyRotation: true,
    removalPolicy: RemovalPolicy.RETAIN,
  });
}

const eventBridgeAllowed = new WeakSet<IKey>();

/**
 * Lets EventBridge (events.amazonaws.com) encrypt messages with `key` when it sends to a queue encrypted with it:
 * a rule target's dead-letter queue, which CDK's targets do not grant on the key (only the SqsQueue target's own
 * queue gets a key grant). Without it, EventBridge cannot deliver to the queue and the events are lost. Scoped to
 * the key's account, as CDK's own SqsQueue target grant is. Added once per key.
 */
export function allowEventBridgeToEncrypt(key: IKey): void {
  if (eventBridgeAllowed.has(key)) return;
  eventBridgeAllowed.add(key);
  const result = key.addToResourcePolicy(
    new PolicyStatement({
      sid: 'EventBridgeSendsToEncryptedQueues',
      principals: [new ServicePrincipal('events.amazonaws.com')],
      actions: EVENTBRIDGE_QUEUE_KEY_ACTIONS,
      resources: ['*'],
      conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(key).account } },
    }),
  );
  if (!result.statementAdded) {
    throw new Error('allowEventBridgeToEncrypt: the key is imported, its policy cannot be changed here');
  }
}
