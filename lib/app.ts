import { type App, Aspects, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { type Catalog, catalog as defaultCatalog } from '../lambdas/catalog';
import { AlarmNotifications } from './alarms';
import { PaymentsStatefulStack } from './stateful-stack';
import { PaymentsStatelessStack } from './stateless-stack';

export interface PaymentsStacks {
  stateful: PaymentsStatefulStack;
  stateless: PaymentsStatelessStack;
}

/**
 * The two stacks of the payment system, checked with cdk-nag (the app entry point and the tests share this), from
 * `lambdas/catalog.ts` or (tests) another catalog.
 */
export function addPaymentsStacks(app: App, catalog: Catalog = defaultCatalog): PaymentsStacks {
  const stateful = new PaymentsStatefulStack(app, 'PaymentsStateful', {
    description:
      'Marketplace payments: tables, buckets and their KMS key, the PSP keys (payments, Connect) and webhook signing secret (retained)',
    buckets: catalog.buckets,
  });
  const stateless = new PaymentsStatelessStack(app, 'PaymentsStateless', {
    description:
      'Marketplace payments: functions, workflows, work and failure queues, REST API and WAF, alarms and their topic',
    tables: stateful.tables,
    pspSecret: stateful.pspSecret,
    pspConnectSecret: stateful.pspConnectSecret,
    webhookSecret: stateful.webhookSecret,
    buckets: stateful.buckets,
    catalog,
  });
  // The stateless stack routes its own alarms to its topic; an alarm in the stateful stack could not refer to that
  // topic (the stateless stack depends on the stateful one), so one there is an error, not a silent alarm.
  Aspects.of(stateful).add(new AlarmNotifications(stateless.alarmTopic.topic));
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return { stateful, stateless };
}
