/**
 * The composition root of the pay-out's functions: the real tables, the Stripe Connect adapter, the workflow
 * starter and the run queue, each built on first use from the one configuration module.
 */
import { dynamo, runtimeConfig, sfn, sqs } from '../core/clients';
import { ConfigError, tableName } from '../core/config';
import { lazy } from '../core/lazy';
import { provided } from '../core/provided';
import { SfnTaskResponder } from '../core/task-responder';
import { LedgerTable } from '../ledger/ledger-table';
import { Wallets } from '../ledger/wallets';
import type { ConnectPsp } from '../psp/connect-types';
import { SfnPayoutWorkflow, SqsRunQueue } from './adapters';
import { PayoutsTable } from './payouts-table';
import type { PayoutDeps } from './ports';
import type { RunDeps } from './runs';
import { SellersTable } from './sellers-table';

/** The PSP (Connect), provided by src/payout/with-psp.ts to the functions that call it. */
export const payoutPsp = provided<ConnectPsp>('the pay-out PSP', 'src/payout/with-psp.ts');

let deps: RunDeps | undefined;

export function payoutDeps(): RunDeps {
  deps ??= lazy<RunDeps>({
    sellers: () => new SellersTable(dynamo(), tableName(runtimeConfig(), 'sellers')),
    payouts: () => new PayoutsTable(dynamo(), tableName(runtimeConfig(), 'payouts')),
    wallets: () => new Wallets(dynamo(), tableName(runtimeConfig(), 'wallets')),
    ledger: () => new LedgerTable(dynamo(), tableName(runtimeConfig(), 'ledger')),
    psp: () => payoutPsp.get(),
    tasks: () => new SfnTaskResponder(sfn),
    workflow: () =>
      new SfnPayoutWorkflow(sfn, () => {
        const arn = runtimeConfig().payOutStateMachineArn;
        if (!arn) throw new ConfigError('PAYOUT_STATE_MACHINE_ARN is not set');
        return arn;
      }),
    queue: () =>
      new SqsRunQueue(sqs, () => {
        const url = runtimeConfig().payoutRunQueueUrl;
        if (!url) throw new ConfigError('PAYOUT_RUN_QUEUE_URL is not set');
        return url;
      }),
    settings: (): PayoutDeps['settings'] => {
      const config = runtimeConfig();
      return {
        ...config.payOut,
        staleAfterSeconds: config.janitorStaleAfterSeconds,
        pspListLagSeconds: config.payIn.pspSearchLagSeconds,
      };
    },
  });
  return deps;
}
