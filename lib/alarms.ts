import { Annotations, type IAspect, Stack } from 'aws-cdk-lib';
import { AlarmBase, CfnAlarm } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { type ITopic, Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct, type IConstruct } from 'constructs';

/** What CloudWatch needs on the key of an encrypted topic it publishes alarm notifications to (what grantPublish gives). */
export const CLOUDWATCH_TOPIC_KEY_ACTIONS = ['kms:Decrypt', 'kms:GenerateDataKey*'];

export interface AlarmTopicProps {
  /** A customer-managed key: CloudWatch cannot publish to a topic encrypted with the AWS-managed SNS key. */
  masterKey: IKey;
  /** Subscribed by email (context `alarmEmail`) when set; the address confirms the subscription from the email. */
  email?: string;
}

/**
 * The SNS topic every alarm notifies (ALARM and OK). TLS-only publishing, encrypted with a customer-managed key
 * (the AWS-managed alias/aws/sns key's policy cannot let CloudWatch use it, so alarms could not publish), and
 * CloudWatch allowed to publish to it and use the key for this account's alarms only.
 */
export class AlarmTopic extends Construct {
  readonly topic: Topic;

  constructor(scope: Construct, id: string, props: AlarmTopicProps) {
    super(scope, id);
    this.topic = new Topic(this, 'Topic', {
      displayName: 'Marketplace payments alarms',
      enforceSSL: true,
      masterKey: props.masterKey,
    });
    const stack = Stack.of(this);
    // sns:Publish on the topic (topic policy) and kms:Decrypt + kms:GenerateDataKey* on its key (key policy),
    // for CloudWatch acting for an alarm of this account and region.
    this.topic.grantPublish(
      new ServicePrincipal('cloudwatch.amazonaws.com', {
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: { 'aws:SourceArn': `arn:${stack.partition}:cloudwatch:${stack.region}:${stack.account}:alarm:*` },
        },
      }),
    );
    if (props.email) this.topic.addSubscription(new EmailSubscription(props.email));
  }
}

/** Context `alarmEmail`: the address subscribed to the alarm topic; none when unset or empty. */
export function alarmEmailFromContext(scope: Construct): string | undefined {
  const raw: unknown = scope.node.tryGetContext('alarmEmail');
  if (raw === undefined || raw === null || raw === '') return undefined;
  if (typeof raw !== 'string' || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(raw)) {
    throw new Error(`context alarmEmail must be an email address, got '${String(raw)}'`);
  }
  return raw;
}

/**
 * The one place alarms get their actions: every alarm under the scope it is added to (an Aspect, so an alarm
 * created anywhere, by any construct, is covered) notifies `topic` when it goes to ALARM and back to OK. An alarm
 * in another stack than the topic's is an error (the stateful stack cannot refer to the stateless stack's topic:
 * the stateless stack already depends on it), as is an L1 CfnAlarm outside an L2 alarm that already has actions.
 */
export class AlarmNotifications implements IAspect {
  constructor(private readonly topic: ITopic) {}

  visit(node: IConstruct): void {
    if (node instanceof AlarmBase) {
      if (!this.sameStack(node)) return;
      const action = new SnsAction(this.topic);
      node.addAlarmAction(action);
      node.addOkAction(action);
    } else if (node instanceof CfnAlarm && !(node.node.scope instanceof AlarmBase)) {
      if (!this.sameStack(node)) return;
      if (node.alarmActions !== undefined || node.okActions !== undefined) {
        Annotations.of(node).addError(
          'an L1 alarm with its own actions: create it with Alarm, the alarm topic is added',
        );
        return;
      }
      node.alarmActions = [this.topic.topicArn];
      node.okActions = [this.topic.topicArn];
    }
  }

  private sameStack(alarm: IConstruct): boolean {
    if (Stack.of(alarm) === Stack.of(this.topic)) return true;
    Annotations.of(alarm).addError(
      `alarms notify the alarm topic of ${Stack.of(this.topic).stackName}: create this alarm in that stack`,
    );
    return false;
  }
}
