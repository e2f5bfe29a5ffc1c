/**
 * Reconciliation's dependencies for the handlers: our other capabilities' records are read here, where every
 * capability may be imported (a flow never imports another flow), through each one's read-only module. An automatic
 * fix runs exactly the code the janitors run (pay-in's one recovery decision, the refund janitor's settlement, the
 * dispute's application from the PSP's state, the pay-out janitor's settlement): each flow's janitor makes it, invoked
 * (lambdas/ops/reconciliation-fix.ts); the matching function reads and books, and neither holds the rights nor
 * bundles the code of every flow's recovery.
 */
import { dynamo, runtimeConfig } from '../../src/core/clients';
import { tableName } from '../../src/core/config';
import type { TableName } from '../../src/core/table-schemas';
import { LedgerTable } from '../../src/ledger/ledger-table';
import { readOrdersByIds, readPayment } from '../../src/payin/payment-reads';
import { readPayout } from '../../src/payout/payout-reads';
import { reconciliationDeps, type WiredByCaller } from '../../src/reconciliation/deps';
import type { OurRecords } from '../../src/reconciliation/ports';
import { readDispute, readRefund } from '../../src/refunds/refund-reads';

const table = (name: TableName) => tableName(runtimeConfig(), name);

const records: OurRecords = {
  async payment(paymentId) {
    const payment = await readPayment(dynamo(), table('payments'), paymentId);
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
    return (await readOrdersByIds(dynamo(), table('payments'), ids)).map((o) => ({
      payment_id: o.payment_id,
      payment_order_id: o.payment_order_id,
      status: o.status,
      wallet_updated: o.wallet_updated,
      ledger_updated: o.ledger_updated,
    }));
  },
  async refund(refundId) {
    const refund = await readRefund(dynamo(), table('refunds'), refundId);
    if (!refund) return undefined;
    return {
      status: refund.status,
      payment_id: refund.payment_id,
      ...(refund.psp_refund_id && { psp_refund_id: refund.psp_refund_id }),
    };
  },
  async dispute(disputeId) {
    const dispute = await readDispute(dynamo(), table('refunds'), disputeId);
    return dispute ? { payment_id: dispute.payment_id } : undefined;
  },
  async payout(payoutId) {
    const payout = await readPayout(dynamo(), table('payouts'), payoutId);
    if (!payout) return undefined;
    return {
      status: payout.status,
      ...(payout.transfer_id && { transfer_id: payout.transfer_id }),
      ...(payout.reversal_id && { reversal_id: payout.reversal_id }),
    };
  },
};

/**
 * The ledger as reconciliation reads and books it. From the one step that uses each: the automatic fixes (MatchShard,
 * which invokes the janitors: src/reconciliation/fix-invoker.ts), the wallets' balances and the mismatch metrics
 * (FinishRun: wallet-balances.ts), so no step bundles or loads what another one needs.
 */
/** Each function is a process (a bundle) of its own: its first wiring is kept (reconciliationDeps builds once). */
export const deps = (wired: Pick<WiredByCaller, 'recovery' | 'wallets' | 'metrics'> = {}) =>
  reconciliationDeps({
    records: () => records,
    ledger: () => new LedgerTable(dynamo(), table('ledger')),
    ...wired,
  });
