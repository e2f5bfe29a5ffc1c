/**
 * GET /v1/payments/{payment_id}/timeline: a payment's whole story, in time order, from the records that keep it.
 * The events the flows recorded as they happened (src/core/timeline.ts) are merged with what other append-only
 * records already hold, read rather than copied: every state of the payment's executions (Step Functions' execution
 * history), the ledger's transactions and the wallet movements they mirror, the refunds, when the sellers' funds
 * became available and the payout that paid them out, and whether the day's reconciliation matched the charge.
 * The assembly is a plain function of what was read (`assembleTimeline`), tested without AWS.
 */
import { fromMinorUnits } from '../core/money';
import type { TimelineEvent } from '../core/timeline';
import type { StoredLedgerEntry } from '../ledger/ledger-table';
import type { Payment } from '../payin/payment';
import type { Payout } from '../payout/payout';
import type { ReconciliationRun } from '../reconciliation/domain/run';
import type { Refund } from '../refunds/refund';

/** One event of a GetExecutionHistory answer (the fields used here). */
export interface HistoryEvent {
  id: number;
  timestamp: Date | number | string;
  type: string;
  stateName?: string;
  stateEnteredEventDetails?: { name?: string; input?: string };
  stateExitedEventDetails?: { name?: string; output?: string };
  executionFailedEventDetails?: { error?: string; cause?: string };
  executionAbortedEventDetails?: { error?: string; cause?: string };
  executionTimedOutEventDetails?: { error?: string; cause?: string };
  [details: string]: unknown;
}

export interface ExecutionRecord {
  /** Which workflow: the pay-in, or a refund of the payment. */
  workflow: 'pay-in' | 'refund';
  executionArn: string;
  history: HistoryEvent[];
}

/** A seller's share of the payment as funds in the wallet: pending until the PSP makes it available. */
export interface FundsRecord {
  source_id: string;
  seller_account: string;
  currency: string;
  amount_minor: number;
  status: string;
  created_at: string;
  available_at?: string;
}

export interface TimelineSources {
  payment: Payment;
  recorded: TimelineEvent[];
  executions: ExecutionRecord[];
  ledger: StoredLedgerEntry[];
  refunds: Refund[];
  funds: FundsRecord[];
  /** Per funds record (by source id), the seller's first payout made after the funds became available. */
  payouts: Record<string, Payout | undefined>;
  /** The reconciliation runs of the day the charge was booked. */
  reconciliationRuns: ReconciliationRun[];
  /** The run ids of that day's mismatches about this payment (whichever run found them, recorded or not). */
  mismatchRuns?: string[];
  /** Executions whose history could not be read (not kept any more, or refused), with why. */
  unreadable?: { executionArn: string; error: string; at: string }[];
}

const iso = (value: Date | number | string): string => {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'number') return new Date(value < 1e12 ? value * 1000 : value).toISOString();
  return new Date(value).toISOString();
};

const money = (minor: number, currency: string) => `${fromMinorUnits(minor, currency)} ${currency}`;

const FAILURES = new Set([
  'LambdaFunctionFailed',
  'LambdaFunctionTimedOut',
  'TaskFailed',
  'TaskTimedOut',
  'LambdaFunctionStartFailed',
  'LambdaFunctionScheduleFailed',
]);
const SCHEDULED = new Set(['LambdaFunctionScheduled', 'TaskScheduled']);

function failureDetails(event: HistoryEvent): { error: string; cause: string } {
  for (const [key, value] of Object.entries(event)) {
    if (key.endsWith('EventDetails') && value && typeof value === 'object' && 'error' in value) {
      const details = value as { error?: string; cause?: string };
      return { error: details.error ?? 'error', cause: details.cause ?? '' };
    }
  }
  return { error: 'error', cause: '' };
}

/** A cause as one line (Step Functions causes are often JSON of an error): its message, short. */
function causeLine(cause: string): string {
  let text = cause;
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: string; message?: string };
    text = parsed.errorMessage ?? parsed.message ?? cause;
  } catch {
    // not JSON: as it is
  }
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}

/** A state's output as shown on the timeline: the first 2,000 characters (the execution's history has it whole). */
const clip = (text: string | undefined) =>
  text !== undefined && text.length > 2000 ? `${text.slice(0, 2000)}... (${text.length} characters)` : text;

/** An execution's history as timeline events: every state entered, succeeded, retried or failed, and its end. */
export function executionEvents(paymentId: string, execution: ExecutionRecord): TimelineEvent[] {
  const out: TimelineEvent[] = [];
  const name = execution.executionArn.split(':').pop() ?? execution.executionArn;
  const ids = { payment_id: paymentId, execution_arn: execution.executionArn };
  const what = execution.workflow === 'pay-in' ? 'pay-in' : 'refund';
  let current: string | undefined;
  /** States whose last attempt failed without a retry: their exit is through a Catch, not a success. */
  const caught = new Set<string>();
  const events = execution.history;
  events.forEach((event, index) => {
    const at = iso(event.timestamp);
    const base = { payment_id: paymentId, at, source: 'workflow' as const, ids };
    if (event.type.endsWith('StateEntered')) {
      current = event.stateEnteredEventDetails?.name ?? current;
      out.push({ ...base, type: 'state.entered', summary: `${what} ${name}: entered ${current}` });
      return;
    }
    if (event.type.endsWith('StateExited')) {
      const state = event.stateExitedEventDetails?.name ?? current;
      const wasCaught = state !== undefined && caught.delete(state);
      out.push({
        ...base,
        type: wasCaught ? 'state.caught' : 'state.succeeded',
        summary: wasCaught
          ? `${what} ${name}: ${state} left through its Catch (the error above is handled by the workflow)`
          : `${what} ${name}: ${state} succeeded`,
        detail: { output: clip(event.stateExitedEventDetails?.output) },
      });
      return;
    }
    if (FAILURES.has(event.type)) {
      const state = event.stateName ?? current;
      const { error, cause } = failureDetails(event);
      // Retried when the next event of this state schedules it again (before it exits or another state starts).
      let retried = false;
      for (const next of events.slice(index + 1)) {
        const nextState = next.stateName ?? undefined;
        if (nextState !== undefined && nextState !== state) continue;
        if (SCHEDULED.has(next.type)) {
          retried = true;
          break;
        }
        if (
          next.type.endsWith('StateExited') ||
          next.type.endsWith('StateEntered') ||
          next.type.startsWith('Execution')
        )
          break;
      }
      if (!retried && state !== undefined) caught.add(state);
      out.push({
        ...base,
        type: retried ? 'state.retried' : 'state.failed',
        summary: retried
          ? `${what} ${name}: ${state} failed with ${error}, retried`
          : `${what} ${name}: ${state} failed with ${error}: ${causeLine(cause)}`,
        detail: { state, error, cause },
      });
      return;
    }
    const end = /^Execution(Succeeded|Failed|Aborted|TimedOut)$/.exec(event.type);
    if (end) {
      const status = (end[1] ?? '').toLowerCase();
      const details =
        event.executionFailedEventDetails ?? event.executionAbortedEventDetails ?? event.executionTimedOutEventDetails;
      out.push({
        ...base,
        type: `execution.${status === 'timedout' ? 'timed_out' : status}`,
        summary: `${what} execution ${name} ${status === 'timedout' ? 'timed out' : status}${
          details?.error ? `: ${details.error}${details.cause ? ` (${causeLine(details.cause)})` : ''}` : ''
        }`,
        ...(details?.error ? { detail: { error: details.error, cause: details.cause } } : {}),
      });
    }
  });
  return out;
}

/** The ledger's transactions of the payment, one event each, and the wallet movement each seller payable shows. */
export function ledgerEvents(paymentId: string, entries: StoredLedgerEntry[]): TimelineEvent[] {
  const byTransaction = new Map<string, StoredLedgerEntry[]>();
  for (const entry of entries) {
    const list = byTransaction.get(entry.transaction_id) ?? [];
    list.push(entry);
    byTransaction.set(entry.transaction_id, list);
  }
  const out: TimelineEvent[] = [];
  for (const [transactionId, list] of byTransaction) {
    const first = list[0] as StoredLedgerEntry;
    const debits = list.filter((e) => e.direction === 'DEBIT');
    const total = debits.reduce((sum, e) => sum + e.amount_minor, 0);
    out.push({
      payment_id: paymentId,
      at: first.posted_at,
      source: 'ledger',
      type: 'ledger.posted',
      summary: `ledger ${transactionId}: ${money(total, first.currency)} (${list
        .map(
          (e) => `${e.direction === 'DEBIT' ? 'Dr' : 'Cr'} ${e.account} ${fromMinorUnits(e.amount_minor, e.currency)}`,
        )
        .join(', ')})`,
      ids: { payment_id: paymentId, transaction_id: transactionId },
      detail: {
        entries: list.map(({ account, direction, amount_minor, currency }) => ({
          account,
          direction,
          amount_minor,
          currency,
        })),
      },
    });
    for (const entry of list) {
      const seller = /^liability:seller_payable:(.+)$/.exec(entry.account)?.[1];
      if (!seller) continue;
      const credited = entry.direction === 'CREDIT';
      out.push({
        payment_id: paymentId,
        at: entry.posted_at,
        source: 'wallet',
        type: credited ? 'wallet.credited' : 'wallet.debited',
        summary: `wallet of ${seller} ${credited ? 'credited' : 'debited'} ${money(entry.amount_minor, entry.currency)} (${transactionId})`,
        ids: { payment_id: paymentId, seller_account: seller, transaction_id: transactionId },
      });
    }
  }
  return out;
}

/** What a key may see of a timeline: payouts and reconciliation findings only with their own read scopes. */
export function visibleTo(
  events: TimelineEvent[],
  may: { payouts: boolean; reconciliation: boolean },
): TimelineEvent[] {
  return events.filter(
    (e) => (e.source !== 'payout' || may.payouts) && (e.source !== 'reconciliation' || may.reconciliation),
  );
}

/**
 * The facts of an ordinary start that are kept already, told as events rather than written twice: the payment
 * accepted (its event item, written once at acceptance) and the start of an execution that has no recorded start
 * (the first, named after the payment: its history begins with it). Re-drives are recorded when started.
 */
export function startEvents(
  payment: Payment,
  executions: ExecutionRecord[],
  recorded: TimelineEvent[],
): TimelineEvent[] {
  const { event } = payment;
  const paymentId = event.payment_id;
  const out: TimelineEvent[] = [];
  if (!recorded.some((e) => e.type === 'payment.accepted')) {
    out.push({
      payment_id: paymentId,
      at: event.created_at,
      source: 'api',
      type: 'payment.accepted',
      summary: `accepted: ${event.order_ids.length} order(s), ${money(event.total_minor, event.currency)}, ${event.mode === 'hosted' ? 'hosted page' : 'card token'}`,
      ids: { payment_id: paymentId, checkout_id: event.checkout_id, payment_order_ids: event.order_ids.join(',') },
    });
  }
  const started = new Set(recorded.filter((e) => e.type === 'execution.started').map((e) => e.ids.execution_arn));
  for (const execution of executions) {
    const first = execution.history.find((e) => e.type === 'ExecutionStarted');
    if (execution.workflow !== 'pay-in' || !first || started.has(execution.executionArn)) continue;
    const name = execution.executionArn.split(':').pop() ?? execution.executionArn;
    out.push({
      payment_id: paymentId,
      at: iso(first.timestamp),
      source: name === paymentId ? 'api' : 'workflow',
      type: 'execution.started',
      summary: `pay-in workflow started: execution ${name}`,
      ids: { payment_id: paymentId, execution_arn: execution.executionArn, execution_name: name },
    });
  }
  return out;
}

/** The payment's story: every source merged, in time order (ties keep the order the sources were read in). */
export function assembleTimeline(sources: TimelineSources): TimelineEvent[] {
  const paymentId = sources.payment.event.payment_id;
  const events: TimelineEvent[] = [
    ...startEvents(sources.payment, sources.executions, sources.recorded),
    ...sources.recorded,
  ];
  for (const execution of sources.executions) events.push(...executionEvents(paymentId, execution));
  events.push(...ledgerEvents(paymentId, sources.ledger));
  for (const refund of sources.refunds) {
    const ids = { payment_id: paymentId, refund_id: refund.refund_id, payment_order_id: refund.payment_order_id };
    events.push({
      payment_id: paymentId,
      at: refund.created_at,
      source: 'refund',
      type: 'refund.requested',
      summary: `refund ${refund.refund_id} of ${money(refund.amount_minor, refund.currency)} requested for order ${refund.payment_order_id} (${refund.reason})`,
      ids,
    });
    if (refund.status !== 'CREATED' && refund.status !== 'PROCESSING') {
      events.push({
        payment_id: paymentId,
        at: refund.updated_at,
        source: 'refund',
        type: `refund.${refund.status.toLowerCase()}`,
        summary: `refund ${refund.refund_id} ${refund.status}${refund.failure_reason ? ` (${refund.failure_reason})` : ''}`,
        ids: refund.psp_refund_id ? { ...ids, psp_refund_id: refund.psp_refund_id } : ids,
      });
    }
  }
  for (const funds of sources.funds) {
    const ids = { payment_id: paymentId, payment_order_id: funds.source_id, seller_account: funds.seller_account };
    if (funds.available_at) {
      events.push({
        payment_id: paymentId,
        at: funds.available_at,
        source: 'wallet',
        type: 'wallet.funds_available',
        summary: `${money(funds.amount_minor, funds.currency)} of ${funds.seller_account} became available (the PSP made the charge's money available)`,
        ids,
      });
    }
    const payout = sources.payouts[funds.source_id];
    if (payout) {
      events.push({
        payment_id: paymentId,
        at: payout.paid_at ?? payout.created_at,
        source: 'payout',
        type: `payout.${payout.status.toLowerCase()}`,
        summary: `payout ${payout.payout_id} of ${money(payout.amount_minor, payout.currency)} to ${payout.seller_account} (${payout.status}): the seller's first payout after these funds became available`,
        ids: { ...ids, payout_id: payout.payout_id },
      });
    }
  }
  // A date's mismatch has one id whichever run found it: any mismatch of this payment on that date means no run of
  // the date matched it cleanly.
  const mismatched = new Set(
    sources.recorded.filter((e) => e.type === 'reconciliation.mismatch').map((e) => e.ids.run_id ?? ''),
  );
  const anyMismatch = (sources.mismatchRuns ?? []).length > 0;
  for (const gap of sources.unreadable ?? []) {
    events.push({
      payment_id: paymentId,
      at: gap.at,
      source: 'workflow',
      type: 'execution.history_unavailable',
      summary: `the history of execution ${gap.executionArn.split(':').pop()} could not be read (${gap.error})`,
      ids: { payment_id: paymentId, execution_arn: gap.executionArn },
    });
  }
  const chargeBooked = sources.ledger.find((e) => e.transaction_id.startsWith('payin:'));
  for (const run of sources.reconciliationRuns) {
    if (run.status !== 'COMPLETED' || anyMismatch || mismatched.has(run.run_id) || !chargeBooked) continue;
    events.push({
      payment_id: paymentId,
      at: run.completed_at ?? run.updated_at ?? run.created_at,
      source: 'reconciliation',
      type: 'reconciliation.matched',
      summary: `reconciliation of ${run.date} (run ${run.run_id}) recorded no mismatch about this payment`,
      ids: { payment_id: paymentId, run_id: run.run_id },
    });
  }
  return events
    .map((event, order) => ({ event, order }))
    .sort((a, b) => (a.event.at < b.event.at ? -1 : a.event.at > b.event.at ? 1 : a.order - b.order))
    .map(({ event }) => event);
}
