/**
 * What the API (and the report page) shows of a reconciliation run and of a mismatch: amounts as decimal strings in
 * their currency's exponent (the money module; never floats, never minor units), absent values as null in a run and
 * left out of a mismatch. The report page renders these same views, so that its numbers are the JSON's.
 */
import { fromMinorUnits, isSupportedCurrency } from '../core/money';
import { MISMATCH_CLASSES, MISMATCH_TYPES, type MismatchClass, type MismatchType } from './domain/mismatch';
import type { ReconciliationRun, StoredMismatch } from './domain/run';

/** Where a run's report page is. */
export const reportUrlOf = (runId: string) => `/v1/reconciliation/runs/${encodeURIComponent(runId)}/report.html`;
export const runUrlOf = (runId: string) => `/v1/reconciliation/runs/${encodeURIComponent(runId)}`;

/** Minor units as a decimal string of the currency; undefined for a currency the money module does not know. */
function decimal(minor: number | undefined, currency: string | undefined): string | undefined {
  if (minor === undefined || currency === undefined || !isSupportedCurrency(currency)) return undefined;
  return fromMinorUnits(Number(minor), currency);
}

/** A stored number (DynamoDB may give it back as a string-like Number), or 0. */
const count = (value: unknown): number => (typeof value === 'number' ? value : Number(value ?? 0) || 0);

/** Currency codes in a stable order (alphabetical). */
const currenciesOf = (record: Record<string, unknown> | undefined) => Object.keys(record ?? {}).sort();

export interface CurrencyTotalsView {
  rows: number;
  gross: string;
  fee: string;
  net: string;
  matched: string;
  unmatched: string;
}

export interface ClearingView {
  file_net: string;
  ledger: string;
  drift: string;
  explained: string;
  /** drift - explained: what no mismatch explains (zero on a healthy day). */
  unexplained: string;
}

export interface RunView {
  run_id: string;
  date: string;
  status: ReconciliationRun['status'];
  trigger: ReconciliationRun['trigger'];
  rows: number;
  matched: number;
  fees_booked: number;
  fees_booked_new: number;
  mismatches: Record<MismatchClass, number>;
  by_type: Partial<Record<MismatchType, number>>;
  totals: Record<string, CurrencyTotalsView>;
  internal: {
    wallets_checked: number;
    transactions_checked: number;
    orders_checked: number;
    clearing: Record<string, ClearingView>;
  } | null;
  shards_total: number;
  shards_done: number;
  file_key: string | null;
  archive_key: string | null;
  error: string | null;
  created_by: string | null;
  created_at: string;
  updated_at: string;
  completed_at: string | null;
  report_url: string;
}

export function runView(run: ReconciliationRun): RunView {
  const mismatches = Object.fromEntries(
    MISMATCH_CLASSES.map((c) => [c, count(run.mismatches?.[c])]),
  ) as RunView['mismatches'];
  // The types found, in the order of MISMATCH_TYPES (those of no count left out).
  const byType: RunView['by_type'] = {};
  for (const type of MISMATCH_TYPES) {
    const n = run.by_type?.[type];
    if (n !== undefined && count(n) !== 0) byType[type] = count(n);
  }
  const totals: RunView['totals'] = {};
  for (const currency of currenciesOf(run.totals)) {
    const t = run.totals[currency];
    if (!t || !isSupportedCurrency(currency)) continue;
    totals[currency] = {
      rows: count(t.rows),
      gross: fromMinorUnits(count(t.gross_minor), currency),
      fee: fromMinorUnits(count(t.fee_minor), currency),
      net: fromMinorUnits(count(t.net_minor), currency),
      matched: fromMinorUnits(count(t.matched_net_minor), currency),
      unmatched: fromMinorUnits(count(t.unmatched_net_minor), currency),
    };
  }
  let internal: RunView['internal'] = null;
  if (run.internal) {
    const clearing: Record<string, ClearingView> = {};
    for (const currency of currenciesOf(run.internal.clearing)) {
      const c = run.internal.clearing[currency];
      if (!c || !isSupportedCurrency(currency)) continue;
      clearing[currency] = {
        file_net: fromMinorUnits(count(c.file_net_minor), currency),
        ledger: fromMinorUnits(count(c.ledger_minor), currency),
        drift: fromMinorUnits(count(c.drift_minor), currency),
        explained: fromMinorUnits(count(c.explained_minor), currency),
        unexplained: fromMinorUnits(count(c.drift_minor) - count(c.explained_minor), currency),
      };
    }
    internal = {
      wallets_checked: count(run.internal.wallets_checked),
      transactions_checked: count(run.internal.transactions_checked),
      orders_checked: count(run.internal.orders_checked),
      clearing,
    };
  }
  return {
    run_id: run.run_id,
    date: run.date,
    status: run.status,
    trigger: run.trigger,
    rows: count(run.rows),
    matched: count(run.matched),
    fees_booked: count(run.fees_booked),
    fees_booked_new: count(run.fees_booked_new),
    mismatches,
    by_type: byType,
    totals,
    internal,
    shards_total: count(run.shards_total),
    shards_done: count(run.shards_done),
    file_key: run.file_key ?? null,
    archive_key: run.archive_key ?? null,
    error: run.error ?? null,
    created_by: run.created_by ?? null,
    created_at: run.created_at,
    updated_at: run.updated_at,
    completed_at: run.completed_at ?? null,
    report_url: reportUrlOf(run.run_id),
  };
}

/** What `POST /v1/reconciliation/runs` answers (202): the run started. */
export function startedRunView(run: ReconciliationRun) {
  return {
    run_id: run.run_id,
    date: run.date,
    status: run.status,
    status_url: runUrlOf(run.run_id),
    report_url: reportUrlOf(run.run_id),
  };
}

export interface MismatchView {
  mismatch_id: string;
  date: string;
  run_id: string;
  first_run_id: string;
  type: MismatchType;
  class: MismatchClass;
  status: StoredMismatch['status'];
  detail: string;
  key?: string;
  balance_transaction_id?: string;
  /** The line of the settlement file (the header is line 1). */
  line?: number;
  currency?: string;
  /** What the PSP's file says, signed as the PSP balance moved. */
  psp_amount?: string;
  /** What our ledger says (the PSP clearing account's movement), in `our_currency` when given, else `currency`. */
  our_amount?: string;
  our_currency?: string;
  payment_id?: string;
  refund_id?: string;
  payout_id?: string;
  dispute_id?: string;
  seller_account?: string;
  fix?: StoredMismatch['fix'];
  fix_result?: string;
  resolution?: { resolution: string; note?: string; by: string; at: string };
  created_at: string;
  updated_at: string;
  links: { payment?: string; refund?: string; payout?: string; dispute?: string; run: string };
}

export function mismatchView(m: StoredMismatch): MismatchView {
  const pspAmount = decimal(m.psp_amount_minor, m.currency);
  const ourAmount = decimal(m.our_amount_minor, m.our_currency ?? m.currency);
  const links: MismatchView['links'] = {
    ...(m.payment_id && { payment: `/v1/payments/${encodeURIComponent(m.payment_id)}` }),
    ...(m.refund_id && { refund: `/v1/refunds/${encodeURIComponent(m.refund_id)}` }),
    ...(m.payout_id && { payout: `/v1/payouts/${encodeURIComponent(m.payout_id)}` }),
    ...(m.dispute_id && { dispute: `/v1/disputes/${encodeURIComponent(m.dispute_id)}` }),
    run: runUrlOf(m.run_id),
  };
  return {
    mismatch_id: m.mismatch_id,
    date: m.date,
    run_id: m.run_id,
    first_run_id: m.first_run_id,
    type: m.type,
    class: m.class,
    status: m.status,
    detail: m.detail,
    ...(m.key !== undefined && { key: m.key }),
    ...(m.balance_transaction_id !== undefined && { balance_transaction_id: m.balance_transaction_id }),
    ...(m.line !== undefined && { line: count(m.line) }),
    ...(m.currency !== undefined && { currency: m.currency }),
    ...(pspAmount !== undefined && { psp_amount: pspAmount }),
    ...(ourAmount !== undefined && { our_amount: ourAmount }),
    ...(m.our_currency !== undefined && { our_currency: m.our_currency }),
    ...(m.payment_id && { payment_id: m.payment_id }),
    ...(m.refund_id && { refund_id: m.refund_id }),
    ...(m.payout_id && { payout_id: m.payout_id }),
    ...(m.dispute_id && { dispute_id: m.dispute_id }),
    ...(m.seller_account && { seller_account: m.seller_account }),
    ...(m.fix !== undefined && { fix: m.fix }),
    ...(m.fix_result !== undefined && { fix_result: m.fix_result }),
    ...(m.resolution !== undefined && {
      resolution: {
        resolution: m.resolution.resolution,
        ...(m.resolution.note !== undefined && { note: m.resolution.note }),
        by: m.resolution.by,
        at: m.resolution.at,
      },
    }),
    created_at: m.created_at,
    updated_at: m.updated_at,
    links,
  };
}
