/**
 * The composition root of the pay-in's functions: the real tables, the Stripe PSP, the risk rules and the task
 * responder, built once per container from the one configuration module, each on first use (a function only
 * needs the settings of what it uses).
 */
import { dynamo, runtimeConfig, sfn } from '../core/clients';
import { ConfigError, tableName } from '../core/config';
import { lazy } from '../core/lazy';
import { provided } from '../core/provided';
import { SfnTaskResponder } from '../core/task-responder';
import { LedgerTable } from '../ledger/ledger-table';
import { Wallets } from '../ledger/wallets';
import { PaymentsTable } from './payments-table';
import type { PendingDeps } from './pending';
import type { BuyerVelocity, PayInPsp } from './ports';
import { RulesRiskProvider } from './risk';
import type { StepDeps } from './steps';
import type { WorkflowDeps } from './workflow';

type AllDeps = StepDeps & PendingDeps & { workflow: WorkflowDeps };

/** The PSP, provided by src/payin/with-psp.ts to the functions that call it. */
export const payInPsp = provided<PayInPsp>('the pay-in PSP', 'src/payin/with-psp.ts');
let deps: AllDeps | undefined;
let paymentsTable: PaymentsTable | undefined;
const payments = () => {
  paymentsTable ??= new PaymentsTable(dynamo(), tableName(runtimeConfig(), 'payments'));
  return paymentsTable;
};

/** The default risk provider: the configured rules, velocity counted in the payments table. */
export function riskProvider(velocity: () => BuyerVelocity, rules = runtimeConfig().risk) {
  return new RulesRiskProvider(rules, (payment) => {
    const hour = new Date();
    hour.setUTCMinutes(0, 0, 0);
    const expiresAt = Math.floor(hour.getTime() / 1000) + 2 * 3600;
    return velocity().countBuyerPayments(payment.buyer.id, payment.payment_id, hour.toISOString(), expiresAt);
  });
}

/** The pay-in's dependencies; each is created on first use with the function's own settings. */
export function stepDeps(): AllDeps {
  deps ??= lazy<AllDeps>({
    tasks: () => new SfnTaskResponder(sfn),
    payments,
    wallets: () => new Wallets(dynamo(), tableName(runtimeConfig(), 'wallets')),
    ledger: () => new LedgerTable(dynamo(), tableName(runtimeConfig(), 'ledger')),
    psp: () => payInPsp.get(),
    risk: () => riskProvider(payments),
    settings: () => runtimeConfig().payIn,
    workflow: () => {
      const config = runtimeConfig();
      if (!config.payInStateMachineArn) throw new ConfigError('PAYIN_STATE_MACHINE_ARN is not set');
      return { sfn: sfn(), stateMachineArn: config.payInStateMachineArn, payments: payments() };
    },
  });
  return deps;
}
