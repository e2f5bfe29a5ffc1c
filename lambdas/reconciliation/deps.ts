/**
 * Reconciliation's dependencies for the handlers: our other capabilities' records and their recovery code are
 * wired here, where every capability may be imported (a flow never imports another flow). An automatic fix runs
 * exactly the code the janitors run: pay-in's one recovery decision, the refund janitor's settlement, the dispute's
 * application from the PSP's state, the pay-out janitor's settlement.
 */
import { dynamo, runtimeConfig, sfn } from '../../src/core/clients';
import { ConfigError, tableName } from '../../src/core/config';
import { LedgerTable } from '../../src/ledger/ledger-table';
import { Wallets } from '../../src/ledger/wallets';
import { stepDeps } from '../../src/payin/deps';
import { PaymentsTable } from '../../src/payin/payments-table';
import { recover } from '../../src/payin/recovery';
import { payoutDeps } from '../../src/payout/deps';
import { recoverPayout } from '../../src/payout/janitor';
import { reconciliationDeps } from '../../src/reconciliation/deps';
import type { OurRecords, RecoveryActions } from '../../src/reconciliation/ports';
import { refundDeps } from '../../src/refunds/deps';
import { applyDispute } from '../../src/refunds/disputes';
import { recoverRefund } from '../../src/refunds/janitor';
import { applyPspRefund } from '../../src/refunds/steps';
import { paymentOrders } from '../refunds/deps';

const refunds = () => refundDeps(() => paymentOrders);
let paymentsTable: PaymentsTable | undefined;

const records: OurRecords = {
  async payment(paymentId) {
    const payment = await stepDeps().payments.get(paymentId);
    if (!payment) return undefined;
    return {
      status: payment.event.status,
      currency: payment.event.currency,
      total_minor: payment.event.total_minor,
      ...(payment.event.psp_reference && { psp_reference: payment.event.psp_reference }),
      orders: payment.orders.map((o) => ({
        payment_order_id: o.payment_order_id,
        status: o.status,
        wallet_updated: o.wallet_updated,
        ledger_updated: o.ledger_updated,
      })),
    };
  },
  async orders(ids) {
    paymentsTable ??= new PaymentsTable(dynamo(), tableName(runtimeConfig(), 'payments'));
    return (await paymentsTable.ordersByIds(ids)).map((o) => ({
      payment_id: o.payment_id,
      payment_order_id: o.payment_order_id,
      status: o.status,
      wallet_updated: o.wallet_updated,
      ledger_updated: o.ledger_updated,
    }));
  },
  async refund(refundId) {
    const refund = await refunds().refunds.get(refundId);
    if (!refund) return undefined;
    return {
      status: refund.status,
      payment_id: refund.payment_id,
      ...(refund.psp_refund_id && { psp_refund_id: refund.psp_refund_id }),
    };
  },
  async dispute(disputeId) {
    const dispute = await refunds().refunds.getDispute(disputeId);
    return dispute ? { payment_id: dispute.payment_id } : undefined;
  },
  async payout(payoutId) {
    const payout = await payoutDeps().payouts.get(payoutId);
    if (!payout) return undefined;
    return {
      status: payout.status,
      ...(payout.transfer_id && { transfer_id: payout.transfer_id }),
      ...(payout.reversal_id && { reversal_id: payout.reversal_id }),
    };
  },
};

const recovery: RecoveryActions = {
  async settlePayment(paymentId) {
    const config = runtimeConfig();
    if (!config.payInStateMachineArn) throw new ConfigError('PAYIN_STATE_MACHINE_ARN is not set');
    const deps = stepDeps();
    const result = await recover(
      {
        payments: deps.payments,
        psp: deps.psp,
        tasks: deps.tasks,
        settings: deps.settings,
        workflow: { sfn: sfn(), stateMachineArn: config.payInStateMachineArn, payments: deps.payments },
      },
      paymentId,
      { trigger: 'janitor', now: new Date() },
    );
    return `pay-in recovery: ${result.action}${result.resolved.length > 0 ? ` (${result.resolved.join(', ')})` : ''}`;
  },
  async settleRefund(refundId) {
    const deps = refunds();
    const refund = await deps.refunds.get(refundId);
    if (!refund) throw new Error(`no refund ${refundId}`);
    // Made at the PSP: its state applied as its webhook would be (a success that failed later included).
    if (refund.psp_refund_id) {
      const applied = await applyPspRefund(deps, refund, await deps.psp.retrieveRefund(refund.psp_refund_id));
      return `refund settled from the PSP: ${applied.status}`;
    }
    return `refund recovery: ${await recoverRefund(deps, refund, new Date())}`;
  },
  async applyDispute(disputeId) {
    return `dispute applied from the PSP: ${await applyDispute(refunds(), disputeId)}`;
  },
  async settlePayout(payoutId) {
    const deps = payoutDeps();
    const payout = await deps.payouts.get(payoutId);
    if (!payout) throw new Error(`no payout ${payoutId}`);
    return `pay-out recovery: ${await recoverPayout(deps, payout, new Date())}`;
  },
};

/** The ledger as reconciliation reads and books it, and the wallets' balances (matching and the run's checks). */
const books = () => {
  const wallets = new Wallets(dynamo(), tableName(runtimeConfig(), 'wallets'));
  return {
    ledger: new LedgerTable(dynamo(), tableName(runtimeConfig(), 'ledger')),
    wallets: {
      all: () => wallets.allBalances(),
      of: async (seller: string, currency: string) =>
        (await wallets.balances(seller)).find((b) => b.currency === currency)?.balance_minor,
    },
  };
};

export const deps = () =>
  reconciliationDeps(
    () => records,
    () => recovery,
    books,
  );
