/**
 * The composition root of refunds and disputes: the real tables, the Stripe adapter (payments key), the workflow
 * starter, built on first use. The pay-in's orders are read through `orders`, given by the caller (a flow never
 * imports another flow: the handlers, which may, pass it in).
 */
import { type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { dynamo, runtimeConfig, sfn } from '../core/clients';
import { ConfigError, tableName } from '../core/config';
import { asRetryable } from '../core/errors';
import { lazy } from '../core/lazy';
import { provided } from '../core/provided';
import { SfnTaskResponder } from '../core/task-responder';
import { LedgerTable } from '../ledger/ledger-table';
import { Wallets } from '../ledger/wallets';
import type { RefundsPsp } from '../psp/refund-types';
import type { PaymentOrders, RefundDeps, RefundWorkflow } from './ports';
import { RefundsTable } from './refunds-table';

/** One execution per refund, named after it. */
export class SfnRefundWorkflow implements RefundWorkflow {
  constructor(
    private readonly client: () => SFNClient,
    private readonly arn: () => string,
  ) {}

  async start(refundId: string): Promise<void> {
    try {
      await this.client().send(
        new StartExecutionCommand({
          stateMachineArn: this.arn(),
          name: refundId,
          input: JSON.stringify({ refund_id: refundId }),
        }),
      );
    } catch (error) {
      if ((error as Error).name === 'ExecutionAlreadyExists') return;
      throw asRetryable(error);
    }
  }
}

/** The PSP, provided by src/refunds/with-psp.ts to the functions that call it. */
export const refundPsp = provided<RefundsPsp>('the refunds PSP', 'src/refunds/with-psp.ts');

let deps: RefundDeps | undefined;

/** `orders`: how to read a payment's orders (the handler passes the pay-in's table). */
export function refundDeps(orders: () => PaymentOrders): RefundDeps {
  deps ??= lazy<RefundDeps>({
    refunds: () => new RefundsTable(dynamo(), tableName(runtimeConfig(), 'refunds')),
    wallets: () => new Wallets(dynamo(), tableName(runtimeConfig(), 'wallets')),
    ledger: () => new LedgerTable(dynamo(), tableName(runtimeConfig(), 'ledger')),
    psp: () => refundPsp.get(),
    tasks: () => new SfnTaskResponder(sfn),
    workflow: () =>
      new SfnRefundWorkflow(sfn, () => {
        const arn = runtimeConfig().refundStateMachineArn;
        if (!arn) throw new ConfigError('REFUND_STATE_MACHINE_ARN is not set');
        return arn;
      }),
    orders,
    settings: () => ({
      staleAfterSeconds: runtimeConfig().janitorStaleAfterSeconds,
      pspListLagSeconds: runtimeConfig().payIn.pspSearchLagSeconds,
    }),
  });
  return deps;
}
