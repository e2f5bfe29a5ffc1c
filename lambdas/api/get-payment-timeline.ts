/** GET /v1/payments/{payment_id}/timeline: the payment's whole story in time order (src/api/timeline.ts). */

import { GetExecutionHistoryCommand, type HistoryEvent as SfnHistoryEvent } from '@aws-sdk/client-sfn';
import { HttpError, json } from '../../src/api/http';
import { apiHandler } from '../../src/api/middleware';
import { pathParam, quote } from '../../src/api/request-guards';
import { assembleTimeline, type ExecutionRecord, type FundsRecord, type HistoryEvent } from '../../src/api/timeline';
import { dynamo, runtimeConfig, sfn } from '../../src/core/clients';
import { tableName } from '../../src/core/config';
import { TimelineTable } from '../../src/core/timeline';
import { LedgerTable } from '../../src/ledger/ledger-table';
import { Wallets } from '../../src/ledger/wallets';
import { PaymentsTable } from '../../src/payin/payments-table';
import { executionArn } from '../../src/payin/workflow';
import type { Payout } from '../../src/payout/payout';
import { PayoutsTable } from '../../src/payout/payouts-table';
import { ReconciliationTable } from '../../src/reconciliation/reconciliation-table';
import { RefundsTable } from '../../src/refunds/refunds-table';

/** An execution's whole history; undefined when Step Functions no longer has it (or never had). */
async function history(arn: string): Promise<HistoryEvent[] | undefined> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  try {
    do {
      const page = await sfn().send(
        new GetExecutionHistoryCommand({ executionArn: arn, maxResults: 1000, nextToken, includeExecutionData: true }),
      );
      events.push(...((page.events ?? []) as (SfnHistoryEvent & HistoryEvent)[]));
      nextToken = page.nextToken;
    } while (nextToken);
  } catch (error) {
    if ((error as Error).name === 'ExecutionDoesNotExist') return undefined;
    throw error;
  }
  return events;
}

export const handler = apiHandler(
  async (event) => {
    const paymentId = pathParam(event, 'payment_id');
    const config = runtimeConfig();
    const db = dynamo();
    const payment = await new PaymentsTable(db, tableName(config, 'payments')).get(paymentId);
    if (!payment) throw new HttpError(404, 'payment_not_found', `no payment ${quote(paymentId)}`);
    const [recorded, ledger, refunds] = await Promise.all([
      new TimelineTable(db, tableName(config, 'timeline')).eventsOf(paymentId),
      new LedgerTable(db, tableName(config, 'ledger')).entriesFor(paymentId),
      new RefundsTable(db, tableName(config, 'refunds')).byPayment(paymentId),
    ]);

    // Every pay-in execution of the payment (the first is named after it; re-drives are recorded as started), and
    // every refund's.
    const payIn = new Set<string>();
    if (config.payInStateMachineArn) {
      payIn.add(executionArn(config.payInStateMachineArn, paymentId));
      if (payment.event.execution_name)
        payIn.add(executionArn(config.payInStateMachineArn, payment.event.execution_name));
    }
    for (const e of recorded) if (e.type === 'execution.started' && e.ids.execution_arn) payIn.add(e.ids.execution_arn);
    const wanted: Omit<ExecutionRecord, 'history'>[] = [
      ...[...payIn].map((arn) => ({ workflow: 'pay-in' as const, executionArn: arn })),
      ...(config.refundStateMachineArn
        ? refunds.map((r) => ({
            workflow: 'refund' as const,
            executionArn: executionArn(config.refundStateMachineArn as string, r.refund_id),
          }))
        : []),
    ];
    const executions: ExecutionRecord[] = [];
    for (const w of wanted) {
      const events = await history(w.executionArn);
      if (events) executions.push({ ...w, history: events });
    }

    // Each order's funds in its seller's wallet, and the seller's first payout after they became available.
    const wallets = new Wallets(db, tableName(config, 'wallets'));
    const payoutsTable = new PayoutsTable(db, tableName(config, 'payouts'));
    const funds: FundsRecord[] = [];
    const payouts: Record<string, Payout | undefined> = {};
    for (const order of payment.orders) {
      const record = await wallets.fundsRecord(order.payment_order_id);
      if (!record) continue;
      funds.push(record);
      if (!record.available_at) continue;
      const after = (await payoutsTable.bySeller(record.seller_account, 100))
        .filter((p) => p.currency === record.currency && p.created_at >= (record.available_at as string))
        .sort((a, b) => a.created_at.localeCompare(b.created_at));
      payouts[record.source_id] = after[0];
    }

    // The reconciliation runs of the day the charge was booked.
    const charged = ledger.find((e) => e.transaction_id.startsWith('payin:'));
    const reconciliationRuns = charged
      ? await new ReconciliationTable(db, tableName(config, 'reconciliation')).runsOfDate(
          charged.posted_at.slice(0, 10),
        )
      : [];

    const events = assembleTimeline({
      payment,
      recorded,
      executions,
      ledger,
      refunds,
      funds,
      payouts,
      reconciliationRuns,
    });
    return json(200, { payment_id: paymentId, status: payment.event.status, events });
  },
  { scope: 'payments:read' },
);
