/** GET /v1/payments/{payment_id}/timeline: the payment's whole story in time order (src/api/timeline.ts). */

import { GetExecutionHistoryCommand, type HistoryEvent as SfnHistoryEvent } from '@aws-sdk/client-sfn';
import { hasScope, scopesFromContext } from '../../src/api/api-keys';
import { HttpError, json } from '../../src/api/http';
import { apiHandler } from '../../src/api/middleware';
import { pathParam, quote } from '../../src/api/request-guards';
import {
  assembleTimeline,
  type ExecutionRecord,
  type FundsRecord,
  type HistoryEvent,
  visibleTo,
} from '../../src/api/timeline';
import { dynamo, runtimeConfig, sfn } from '../../src/core/clients';
import { tableName } from '../../src/core/config';
import { logger } from '../../src/core/observability';
import { TimelineTable } from '../../src/core/timeline';
import { LedgerTable } from '../../src/ledger/ledger-table';
import { Wallets } from '../../src/ledger/wallets';
import { PaymentsTable } from '../../src/payin/payments-table';
import { executionArn } from '../../src/payin/workflow';
import type { Payout } from '../../src/payout/payout';
import { PayoutsTable } from '../../src/payout/payouts-table';
import { ReconciliationTable } from '../../src/reconciliation/reconciliation-table';
import { RefundsTable } from '../../src/refunds/refunds-table';

/**
 * An execution's whole history; undefined when Step Functions never had it; an error's name when it cannot be read
 * (no longer kept, refused, throttled): the timeline says so instead of failing.
 */
async function history(arn: string): Promise<HistoryEvent[] | undefined | { error: string }> {
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
    const name = error instanceof Error ? error.name : String(error);
    if (name === 'ExecutionDoesNotExist') return undefined;
    logger.warn('execution history not read', { execution_arn: arn, error });
    return { error: name };
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
    // Re-drives, as recorded when started (only executions of the configured pay-in machine).
    const payInExecutions = config.payInStateMachineArn ? executionArn(config.payInStateMachineArn, '') : undefined;
    for (const e of recorded) {
      const arn = e.type === 'execution.started' ? e.ids.execution_arn : undefined;
      if (arn && payInExecutions && arn.startsWith(payInExecutions)) payIn.add(arn);
    }
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
    const unreadable: { executionArn: string; error: string; at: string }[] = [];
    const read = await Promise.all(wanted.map((w) => history(w.executionArn)));
    wanted.forEach((w, i) => {
      const events = read[i];
      if (Array.isArray(events)) executions.push({ ...w, history: events });
      else if (events)
        unreadable.push({ executionArn: w.executionArn, error: events.error, at: payment.event.created_at });
    });

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
      payouts[record.source_id] = await payoutsTable.firstSince(
        record.seller_account,
        record.currency,
        record.available_at,
      );
    }

    // The reconciliation runs of the day the charge was booked.
    const charged = ledger.find((e) => e.transaction_id.startsWith('payin:'));
    const reconciliation = new ReconciliationTable(db, tableName(config, 'reconciliation'));
    const day = charged?.posted_at.slice(0, 10);
    const [reconciliationRuns, mismatches] = day
      ? await Promise.all([reconciliation.runsOfDate(day), reconciliation.mismatchesOfDate(day)])
      : [[], []];
    const mismatchRuns = mismatches.filter((m) => m.payment_id === paymentId).map((m) => m.first_run_id ?? m.run_id);

    const events = assembleTimeline({
      payment,
      recorded,
      executions,
      ledger,
      refunds,
      funds,
      payouts,
      reconciliationRuns,
      mismatchRuns,
      unreadable,
    });
    // Payouts and reconciliation findings only for a key that may read those.
    const scopes = scopesFromContext(event.requestContext?.authorizer?.scopes);
    const visible = visibleTo(events, {
      payouts: hasScope(scopes, 'payouts:read'),
      reconciliation: hasScope(scopes, 'reconciliation:read'),
    });
    return json(200, { payment_id: paymentId, status: payment.event.status, events: visible });
  },
  { scope: 'payments:read' },
);
