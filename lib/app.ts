import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { PaymentsStatefulStack } from './stateful-stack';
import { PaymentsStatelessStack } from './stateless-stack';

export interface PaymentsStacks {
  stateful: PaymentsStatefulStack;
  stateless: PaymentsStatelessStack;
}

/** The two stacks of the payment system, checked with cdk-nag (the app entry point and the tests share this). */
export function addPaymentsStacks(app: App): PaymentsStacks {
  const stateful = new PaymentsStatefulStack(app, 'PaymentsStateful', {
    description: 'Marketplace payments: tables, the PSP secret key and webhook signing secret (retained)',
  });
  const stateless = new PaymentsStatelessStack(app, 'PaymentsStateless', {
    description: 'Marketplace payments: functions, pay-in workflow, work and failure queues, REST API',
    tables: stateful.tables,
    pspSecret: stateful.pspSecret,
    webhookSecret: stateful.webhookSecret,
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return { stateful, stateless };
}
