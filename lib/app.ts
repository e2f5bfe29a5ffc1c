import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { type Catalog, catalog as defaultCatalog } from '../lambdas/catalog';
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
    description: 'Marketplace payments: tables, the PSP secret key and webhook signing secret (retained)',
    buckets: catalog.buckets,
  });
  const stateless = new PaymentsStatelessStack(app, 'PaymentsStateless', {
    description: 'Marketplace payments: functions, pay-in workflow, work and failure queues, REST API',
    tables: stateful.tables,
    pspSecret: stateful.pspSecret,
    webhookSecret: stateful.webhookSecret,
    buckets: stateful.buckets,
    catalog,
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return { stateful, stateless };
}
