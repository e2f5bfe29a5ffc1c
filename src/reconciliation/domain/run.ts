/**
 * A reconciliation run of one date, its counts, and a stored mismatch: plain types and the rules on them.
 */
import type { CurrencyTotals } from './match';
import type { Finding, MismatchClass, MismatchType } from './mismatch';

export const RUN_STATUSES = ['RUNNING', 'COMPLETED', 'FAILED'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export type ClassCounts = Record<MismatchClass, number>;
export const noClassCounts = (): ClassCounts => ({ auto_fixed: 0, manual: 0, unclassifiable: 0 });

/** What one shard of a run found and did (stored as it finishes; the run adds them up). */
export interface ShardResult {
  shard: number;
  /** Rows of the file in this shard, duplicates included. */
  rows: number;
  /** Rows matched to a booking of ours (the file's day or another), amounts and currency equal. */
  matched: number;
  /** Fee postings in the ledger for this shard's rows (booked now or by an earlier run of the date). */
  fees_booked: number;
  /** Of them, booked by this run. */
  fees_booked_new: number;
  by_type: Partial<Record<MismatchType, number>>;
  by_class: ClassCounts;
  totals: Record<string, CurrencyTotals>;
  /** Our PSP clearing account's movement on the day in this shard (every transaction of the day), per currency. */
  ledger_clearing: Record<string, number>;
  /** Drift explained by this shard's mismatches, per currency (what the file says minus what we booked). */
  explained_drift: Record<string, number>;
  /** The mismatches this shard recorded (read back whole by the run's end, not through an index). */
  mismatch_ids?: string[];
  /** Ledger transactions of the day checked for balance, and how many did not balance. */
  transactions_checked: number;
}

export interface ReconciliationRun {
  run_id: string;
  date: string;
  status: RunStatus;
  trigger: 'schedule' | 'api' | 'cli';
  /** A file at hand (a key in the settlement bucket) instead of the PSP's report. */
  file_key?: string;
  report_run_id?: string;
  report_polls: number;
  /** The raw file as archived (settlement bucket), with its S3 version. */
  archive_key?: string;
  archive_version?: string;
  /** The end (unix seconds, exclusive) of the PSP report's interval: the whole day, or less for a day not over. */
  interval_end?: number;
  /** The report as it stood at completion, archived in the settlement bucket. */
  report_key?: string;
  rows: number;
  shards_total: number;
  shards_done: number;
  matched: number;
  fees_booked: number;
  fees_booked_new: number;
  mismatches: ClassCounts;
  by_type: Partial<Record<MismatchType, number>>;
  totals: Record<string, CurrencyTotals>;
  /** Internal reconciliation: what was checked and the drift found. */
  internal?: InternalChecks;
  error?: string;
  created_by?: string;
  created_at: string;
  updated_at: string;
  completed_at?: string;
}

export interface InternalChecks {
  wallets_checked: number;
  transactions_checked: number;
  orders_checked: number;
  /** Per currency: the file's net, our clearing account's movement, the drift, and what mismatches explain. */
  clearing: Record<
    string,
    { file_net_minor: number; ledger_minor: number; drift_minor: number; explained_minor: number }
  >;
}

export const MISMATCH_STATUSES = ['open', 'carried', 'fixed', 'resolved'] as const;
/** open: a person must act; carried: a timing difference waiting for a later file; fixed: by the run; resolved: by a person or a later file. */
export type MismatchStatus = (typeof MISMATCH_STATUSES)[number];

export interface StoredMismatch extends Finding {
  mismatch_id: string;
  /** The date whose reconciliation found it. */
  date: string;
  /** The first run that found it, and the last. */
  first_run_id: string;
  run_id: string;
  status: MismatchStatus;
  /** What the automatic fix did (auto_fixed). */
  fix_result?: string;
  resolution?: { resolution: string; note?: string; by: string; at: string };
  /** A carried timing difference resolved by a later file: the balance transaction that matched it. */
  matched_by?: string;
  created_at: string;
  updated_at: string;
}

/** The status a new mismatch starts in. */
export function initialStatus(found: Pick<Finding, 'class' | 'type'>): MismatchStatus {
  if (found.type === 'timing') return 'carried';
  return found.class === 'auto_fixed' ? 'fixed' : 'open';
}

/** The work list an open mismatch is on (the by-queue index); none once fixed or resolved. */
export function queueOf(m: Pick<StoredMismatch, 'status' | 'class' | 'type'>): string | undefined {
  if (m.status === 'carried') return 'timing';
  if (m.status === 'open') return m.class;
  return undefined;
}

/** The UTC day `days` before or after a YYYY-MM-DD day. */
export function addDays(day: string, days: number): string {
  const t = Date.parse(`${day}T00:00:00Z`) + days * 86_400_000;
  return new Date(t).toISOString().slice(0, 10);
}

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A YYYY-MM-DD that is a real calendar day. */
export function isDay(value: string): boolean {
  const m = DAY.exec(value);
  if (!m) return false;
  const t = Date.parse(`${value}T00:00:00Z`);
  return Number.isFinite(t) && new Date(t).toISOString().slice(0, 10) === value;
}
