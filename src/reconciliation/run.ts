/**
 * The reconciliation of one date, step by step (each a Task of state-machines/reconciliation.asl.json):
 *
 *   start        the date's lock (a second run of a running date: 409), the run record, the workflow
 *   requestReport / checkReport   the PSP's itemized balance report of the day (or a file at hand), polled, bounded
 *   splitFile    the raw file archived (S3, versioned), parsed streaming, rows written in shards by settlement key
 *   matchShard   one shard: rows against our ledger's transactions of the day (same shard function), left-overs
 *                looked up and classified, automatic fixes applied once, fees booked, mismatches stored
 *   finishRun    shard results added up, timing differences aged, internal checks (wallets against payables, the
 *                PSP clearing account against the file), work queues, metrics, the run COMPLETED
 *   failRun      the run FAILED with the error; the date free again
 */

import { randomUUID } from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import { parse } from 'csv-parse';
import { logger } from '../core/observability';
import { recordTimeline } from '../core/timeline';
import {
  accounts,
  balanceByCurrency,
  pspFeeTransaction,
  pspFeeTransactionId,
  SETTLEMENT_SHARDS,
  settlementShardOf,
} from '../ledger/postings';
import {
  addToTotals,
  type BookedTransaction,
  bookingsOf,
  type CurrencyTotals,
  classifyOurs,
  classifyRow,
  feeToBook,
  type Lookup,
  matchShard,
  mergeTotals,
  type OurBooking,
} from './domain/match';
import { CARRY_DAYS, type Finding, finding, type MismatchType, mismatchIdOf } from './domain/mismatch';
import {
  addDays,
  type ClassCounts,
  isDay,
  noClassCounts,
  type ReconciliationRun,
  type ShardResult,
  type StoredMismatch,
} from './domain/run';
import {
  checkHeader,
  clearingAmountOf,
  parseRow,
  rowSettlementKey,
  type SettlementRow,
  SettlementRowError,
} from './domain/settlement-row';
import { InvalidRunInputError, RunNotFoundError } from './errors';
import type { ReconciliationDeps, ReportRun } from './ports';
import { renderReport } from './report';

export { InvalidRunInputError, RunNotFoundError } from './errors';

const today = (now: Date) => now.toISOString().slice(0, 10);
const shardPrefix = (run: Pick<ReconciliationRun, 'date' | 'run_id'>, shard: number) =>
  `runs/${run.date}/${run.run_id}/shards/${String(shard).padStart(2, '0')}/`;

/** A run that lost its date to a newer run (it was silent past the stale time) stops: the newer one reports. */
export class RunTakenOverError extends Error {
  override readonly name = 'RunTakenOverError';
}

async function holdLock(deps: ReconciliationDeps, run: ReconciliationRun): Promise<void> {
  if (!(await deps.store.touchLock(run.date, run.run_id, deps.now().toISOString()))) {
    throw new RunTakenOverError(`run ${run.run_id} no longer holds the date ${run.date}: a newer run took it over`);
  }
}

async function loadRun(deps: ReconciliationDeps, runId: string): Promise<ReconciliationRun> {
  const run = await deps.store.getRun(runId);
  if (!run) throw new RunNotFoundError(runId);
  return run;
}

/** Runs `fn` over `items`, at most `concurrency` at a time. */
async function eachLimited<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

/** Starts the run of a date: the date's lock, the run, its workflow. */
export async function startRun(
  deps: ReconciliationDeps,
  input: { date: unknown; trigger: ReconciliationRun['trigger']; file_key?: unknown; created_by?: string },
): Promise<ReconciliationRun> {
  const now = deps.now();
  if (typeof input.date !== 'string' || !isDay(input.date)) {
    throw new InvalidRunInputError('date', 'must be a calendar day as YYYY-MM-DD');
  }
  if (input.date > today(now)) throw new InvalidRunInputError('date', `${input.date} has not happened yet`);
  if (input.file_key !== undefined && (typeof input.file_key !== 'string' || input.file_key.length === 0)) {
    throw new InvalidRunInputError('file_key', 'must be the key of a settlement file in the settlement bucket');
  }
  if (typeof input.file_key === 'string' && !(await deps.archive.exists(input.file_key))) {
    throw new InvalidRunInputError(
      'file_key',
      `there is no file '${input.file_key.slice(0, 200)}' in the settlement bucket`,
    );
  }
  const at = now.toISOString();
  const run: ReconciliationRun = {
    run_id: `rec_${input.date.replaceAll('-', '')}_${randomUUID().replaceAll('-', '').slice(0, 12)}`,
    date: input.date,
    status: 'RUNNING',
    trigger: input.trigger,
    ...(typeof input.file_key === 'string' && { file_key: input.file_key }),
    report_polls: 0,
    rows: 0,
    shards_total: 0,
    shards_done: 0,
    matched: 0,
    fees_booked: 0,
    fees_booked_new: 0,
    mismatches: noClassCounts(),
    by_type: {},
    totals: {},
    ...(input.created_by !== undefined && { created_by: input.created_by }),
    created_at: at,
    updated_at: at,
  };
  const staleBefore = new Date(now.getTime() - deps.settings.staleRunSeconds * 1000).toISOString();
  await deps.store.claimDate(run, staleBefore);
  try {
    await deps.workflow.start(run.run_id);
  } catch (error) {
    // Not started: the run must not hold its date (and the caller learns why it did not start).
    await failRun(deps, run.run_id, { Error: 'StartFailed', Cause: (error as Error).message }).catch((failed) =>
      logger.error('reconciliation run not started, and not marked FAILED', { run_id: run.run_id, error: failed }),
    );
    throw error;
  }
  logger.info('reconciliation run started', { run_id: run.run_id, date: run.date, trigger: run.trigger });
  return run;
}

export interface ReportStep {
  status: 'pending' | 'succeeded' | 'failed';
  poll_seconds: number;
  error?: string;
}

/** The day's report asked of the PSP (once: the idempotency key is the run's), or the file at hand. */
export async function requestReport(deps: ReconciliationDeps, runId: string): Promise<ReportStep> {
  const run = await loadRun(deps, runId);
  const poll_seconds = deps.settings.reportPollSeconds;
  if (run.file_key) return { status: 'succeeded', poll_seconds };
  let report: ReportRun;
  if (run.report_run_id) {
    report = await deps.psp.retrieveReportRun(run.report_run_id);
  } else {
    const start = Date.parse(`${run.date}T00:00:00Z`) / 1000;
    let intervalEnd = run.interval_end;
    if (intervalEnd === undefined) {
      const end = start + 86_400;
      const nowSeconds = Math.floor(deps.now().getTime() / 1000);
      // The PSP prepares a report's data some hours after the fact (Stripe: twice a day) and refuses an interval it
      // has not prepared: a day that is over waits for it (bounded by the polls); today's run takes what exists.
      const available = await deps.psp.dataAvailableEnd();
      if (available <= start || (available < end && end <= nowSeconds)) return { status: 'pending', poll_seconds };
      intervalEnd = Math.min(end, available);
      // Chosen once: a retry asks for the same interval under the same idempotency key.
      await deps.store.updateRun(runId, { interval_end: intervalEnd, updated_at: deps.now().toISOString() });
    }
    report = await deps.psp.createReportRun({
      interval_start: start,
      interval_end: intervalEnd,
      idempotencyKey: `reconciliation:${run.run_id}:report`,
    });
  }
  await deps.store.updateRun(runId, { report_run_id: report.id, updated_at: deps.now().toISOString() });
  return { status: report.status, poll_seconds, ...(report.error && { error: report.error }) };
}

/** One poll of the PSP's report; a report still pending after the bounded number of polls fails the run. */
export async function checkReport(deps: ReconciliationDeps, runId: string): Promise<ReportStep> {
  const run = await loadRun(deps, runId);
  await holdLock(deps, run);
  const poll_seconds = deps.settings.reportPollSeconds;
  if (run.file_key) return { status: 'succeeded', poll_seconds };
  const polls = await deps.store.countPoll(runId, deps.now().toISOString());
  const report = run.report_run_id
    ? await deps.psp.retrieveReportRun(run.report_run_id)
    : await requestReport(deps, runId); // the PSP had not prepared the day yet
  if (report.status === 'pending' && polls >= deps.settings.reportMaxPolls) {
    return { status: 'failed', poll_seconds, error: `the PSP's report was not ready after ${polls} polls` };
  }
  return { status: report.status, poll_seconds, ...(report.error && { error: report.error }) };
}

/** Rows buffered per shard before a part is written (bounded memory, whatever the file's size). */
const PART_BYTES = 4 * 1024 * 1024;

/**
 * Archives the raw file and splits it into shards, streaming: the file is read once, never held whole. A row the
 * run cannot read fails it, naming line and column.
 */
export async function splitFile(
  deps: ReconciliationDeps,
  runId: string,
): Promise<{ rows: number; shards: Array<{ shard: number }> }> {
  const run = await loadRun(deps, runId);
  await holdLock(deps, run);
  let source: Readable;
  if (run.file_key) {
    source = await deps.archive.getStream(run.file_key);
  } else {
    if (!run.report_run_id) throw new Error(`run ${runId} has no report`);
    const report = await deps.psp.retrieveReportRun(run.report_run_id);
    if (report.status !== 'succeeded' || !report.file_url) throw new Error(`report ${report.id} is ${report.status}`);
    source = await deps.psp.openFile(report.file_url);
  }
  const archiveKey = `runs/${run.date}/${run.run_id}/settlement.csv`;
  const toArchive = new PassThrough();
  const toParse = new PassThrough();
  source.on('error', (error) => {
    toArchive.destroy(error);
    toParse.destroy(error);
  });
  source.pipe(toArchive);
  source.pipe(toParse);
  const archived = deps.archive.putStream(archiveKey, toArchive, 'text/csv');

  const buffers = new Map<number, { lines: string[]; bytes: number; parts: number }>();
  const writes: Promise<void>[] = [];
  const flush = (shard: number) => {
    const buffer = buffers.get(shard);
    if (!buffer || buffer.lines.length === 0) return;
    const key = `${shardPrefix(run, shard)}part-${String(buffer.parts).padStart(5, '0')}.jsonl`;
    writes.push(deps.archive.putText(key, `${buffer.lines.join('\n')}\n`, 'application/x-ndjson'));
    buffer.lines = [];
    buffer.bytes = 0;
    buffer.parts += 1;
  };
  let rows = 0;
  let records = 0;
  // `info`: each record with the file line it ends on (blank lines and quoted line breaks counted), for errors.
  const parser = toParse.pipe(parse({ relax_column_count: false, skip_empty_lines: true, info: true }));
  const iterator = (parser as AsyncIterable<{ record: string[]; info: { lines: number } }>)[Symbol.asyncIterator]();
  for (;;) {
    let next: IteratorResult<{ record: string[]; info: { lines: number } }>;
    try {
      next = await iterator.next();
    } catch (error) {
      // csv-parse's own errors (a row with another number of columns, a broken quote) name their line.
      const at = (error as { lines?: number }).lines ?? records + 1;
      throw new SettlementRowError(at, 'row', (error as Error).message);
    }
    if (next.done) break;
    const { record: values, info } = next.value;
    records += 1;
    if (records === 1) {
      checkHeader(values);
      continue;
    }
    const row = parseRow(values, info.lines);
    rows += 1;
    const shard = settlementShardOf(rowSettlementKey(row) ?? row.balance_transaction_id, SETTLEMENT_SHARDS);
    const buffer = buffers.get(shard) ?? { lines: [], bytes: 0, parts: 0 };
    buffers.set(shard, buffer);
    const json = JSON.stringify(row);
    buffer.lines.push(json);
    buffer.bytes += json.length;
    if (buffer.bytes >= PART_BYTES) flush(shard);
  }
  if (records === 0) checkHeader([]);
  for (const shard of buffers.keys()) flush(shard);
  await Promise.all(writes);
  const { version } = await archived;
  const shards = Array.from({ length: SETTLEMENT_SHARDS }, (_, shard) => ({ shard }));
  await deps.store.updateRun(runId, {
    rows,
    shards_total: shards.length,
    archive_key: archiveKey,
    ...(version && { archive_version: version }),
    updated_at: deps.now().toISOString(),
  });
  logger.info('settlement file archived and split', { run_id: runId, rows, archive_key: archiveKey });
  return { rows, shards };
}

async function readShard(deps: ReconciliationDeps, run: ReconciliationRun, shard: number): Promise<SettlementRow[]> {
  const rows: SettlementRow[] = [];
  for (const key of (await deps.archive.list(shardPrefix(run, shard))).sort()) {
    let rest = '';
    for await (const chunk of await deps.archive.getStream(key)) {
      const text = rest + chunk.toString();
      const lines = text.split('\n');
      rest = lines.pop() ?? '';
      for (const l of lines) if (l) rows.push(JSON.parse(l) as SettlementRow);
    }
    if (rest) rows.push(JSON.parse(rest) as SettlementRow);
  }
  // File order: a duplicate is the later line.
  return rows.sort((a, b) => a.line - b.line);
}

/** What one shard's work adds up to, while it runs. */
class ShardTally {
  readonly result: ShardResult;
  constructor(shard: number) {
    this.result = {
      shard,
      rows: 0,
      matched: 0,
      fees_booked: 0,
      fees_booked_new: 0,
      by_type: {},
      by_class: noClassCounts(),
      totals: {},
      ledger_clearing: {},
      explained_drift: {},
      transactions_checked: 0,
    };
  }
  found(f: Finding) {
    this.result.by_type[f.type] = (this.result.by_type[f.type] ?? 0) + 1;
    this.result.by_class[f.class] += 1;
  }
  explain(currency: string, amount: number) {
    this.result.explained_drift[currency] = (this.result.explained_drift[currency] ?? 0) + amount;
  }
}

/** Matches one shard of the run's file against our ledger, applies its fixes, stores what it found. */
export async function matchShardStep(deps: ReconciliationDeps, runId: string, shard: number): Promise<ShardResult> {
  const run = await loadRun(deps, runId);
  await holdLock(deps, run);
  const date = run.date;
  const now = () => deps.now().toISOString();
  const tally = new ShardTally(shard);
  const r = tally.result;
  const rows = await readShard(deps, run, shard);
  r.rows = rows.length;
  const recorded: string[] = [];
  const record = async (f: Finding, extra: Parameters<ReconciliationDeps['store']['recordMismatch']>[4] = {}) => {
    tally.found(f);
    const out = await deps.store.recordMismatch(date, runId, f, now(), extra);
    recorded.push(out.mismatch.mismatch_id);
    await onTimeline(out.mismatch, runId);
    return out;
  };

  // Our side: every transaction of the day in this shard, checked for balance, and how it moved the PSP clearing
  // account. Fee postings are left out here and counted from the rows below (they are exactly the day's rows' fees).
  const dayTransactions = await deps.ledger.transactionsOfDay(date, shard);
  r.transactions_checked = dayTransactions.length;
  for (const t of dayTransactions) {
    if (t.currency !== undefined && t.clearing_minor !== undefined && !t.transaction_id.startsWith('psp-fee:')) {
      r.ledger_clearing[t.currency] = (r.ledger_clearing[t.currency] ?? 0) + t.clearing_minor;
    }
    let entries = t.entries;
    if (entries.length !== t.entry_count || [...balanceByCurrency(entries)].some(([, sum]) => sum !== 0)) {
      // An index shows a transaction's items one by one: read it whole from the table before calling it broken.
      entries = await deps.ledger.entriesOfTransaction(t.reference, t.transaction_id);
    }
    const unbalanced = [...balanceByCurrency(entries)].filter(([, sum]) => sum !== 0);
    if (unbalanced.length > 0 || entries.length !== t.entry_count) {
      await record(
        finding('unbalanced_transaction', {
          key: `transaction:${t.transaction_id}`,
          detail:
            entries.length !== t.entry_count
              ? `ledger transaction ${t.transaction_id} has ${entries.length} entries of ${t.entry_count}`
              : `ledger transaction ${t.transaction_id} does not balance: ${unbalanced.map(([c, sum]) => `${c} off by ${sum}`).join(', ')}`,
        }),
      );
    }
  }
  const joined = matchShard(rows, bookingsOf(dayTransactions));

  // Every row's PSP fee (a duplicate's aside) is a fact of the PSP balance whatever else the row shows: booked once
  // each, in bulk (many postings per DynamoDB transaction), valued on the row's day.
  const uniqueRows = [
    ...joined.matched.map(({ row }) => row),
    ...joined.feeRows,
    ...joined.findings.filter(({ finding: f }) => f.type !== 'duplicate_row').map(({ row }) => row),
    ...joined.unmatchedRows,
  ];
  const fees = uniqueRows.flatMap((row) => {
    const fee = feeToBook(row);
    return fee ? [fee] : [];
  });
  const bookedNow = await deps.ledger.appendManyOnce(fees.map((fee) => pspFeeTransaction(fee)));
  const feeOf = new Map<string, number>();
  for (const fee of fees) {
    feeOf.set(fee.balance_transaction_id, fee.fee_minor);
    r.fees_booked += 1;
    if (bookedNow.has(pspFeeTransactionId(fee.balance_transaction_id))) r.fees_booked_new += 1;
    r.ledger_clearing[fee.currency] = (r.ledger_clearing[fee.currency] ?? 0) - fee.fee_minor;
  }
  /** What a row leaves between the file's net and the day's ledger: its net and fee, less what the day booked. */
  const explainRow = (row: SettlementRow, ourInDay = 0, ourCurrency = row.currency) => {
    tally.explain(row.currency, row.net_minor + (feeOf.get(row.balance_transaction_id) ?? 0));
    if (ourInDay !== 0) tally.explain(ourCurrency, -ourInDay);
  };
  const matchedRow = (row: SettlementRow) => {
    r.matched += 1;
    addToTotals(r.totals, row, true);
  };

  for (const { row } of joined.matched) matchedRow(row);
  for (const row of joined.feeRows) matchedRow(row);
  // The pay-ins matched: every order booked for the charge is SUCCESS, credited and booked (internal reconciliation),
  // read in batches (the orders' ids come from their ledger transactions, `payin:<order>`).
  const chargeIds = joined.matched
    .filter(({ row }) => row.reporting_category === 'charge')
    .flatMap(({ row, booking }) =>
      booking.transaction_ids
        .filter((id) => id.startsWith('payin:'))
        .map((id) => ({ payment_id: row.payment_id, payment_order_id: id.slice('payin:'.length), row })),
    );
  const orders = new Map(
    (await deps.records.orders(chargeIds)).map((o) => [`${o.payment_id}\u0000${o.payment_order_id}`, o]),
  );
  const incomplete = new Map<string, { row: SettlementRow; orders: string[] }>();
  for (const { payment_id, payment_order_id, row } of chargeIds) {
    const order = orders.get(`${payment_id}\u0000${payment_order_id}`);
    if (order && order.status === 'SUCCESS' && order.wallet_updated && order.ledger_updated) continue;
    const entry = incomplete.get(payment_id) ?? { row, orders: [] };
    entry.orders.push(payment_order_id);
    incomplete.set(payment_id, entry);
  }
  for (const [paymentId, { row, orders: missing }] of incomplete) {
    await record(
      finding('unbooked_order', {
        key: `charge:${paymentId}`,
        payment_id: paymentId,
        currency: row.currency,
        detail: `payment ${paymentId} is charged and booked, but order(s) ${missing.join(', ')} are not all SUCCESS with their wallet credit and ledger booking`,
      }),
    );
  }

  for (const { row, finding: f } of joined.findings) {
    if (f.type === 'duplicate_row') {
      await record(f, { fix_result: 'counted once' });
      continue;
    }
    // A charge whose orders were booked on two days: the day holds a part; all its bookings may hold the whole.
    if (f.type === 'amount_mismatch' && f.key !== undefined) {
      const whole = bookingsOf(await deps.ledger.transactionsWithSettlementKey(f.key)).get(f.key);
      if (whole && whole.currency === row.currency && whole.amount_minor === clearingAmountOf(row)) {
        matchedRow(row);
        explainRow(row, f.our_amount_minor ?? 0);
        continue;
      }
    }
    addToTotals(r.totals, row, false);
    explainRow(row, f.our_amount_minor ?? 0, f.our_currency ?? row.currency);
    await record(f);
  }

  // Phase 2: rows with no booking of the day. The rows of one key are taken in file order, one after the other: a
  // booking of another day can be claimed by one row only (a second row is a second movement).
  const byKey = new Map<string, SettlementRow[]>();
  for (const row of joined.unmatchedRows) {
    const key = rowSettlementKey(row) ?? `row:${row.balance_transaction_id}`;
    byKey.set(key, [...(byKey.get(key) ?? []), row]);
  }
  await eachLimited([...byKey.values()], 4, async (keyRows) => {
    let claimed = false;
    for (const row of keyRows) {
      explainRow(row);
      const lookup = await lookUp(deps, row);
      const classified = classifyRow(row, lookup);
      if (lookup.kind === 'booked') {
        const booking = lookup.booking;
        const second = claimed ? secondMovement(booking, date) : await isSecondMovement(deps, booking, date, row);
        if (second) {
          addToTotals(r.totals, row, false);
          await record(second(row));
          continue;
        }
        claimed = true;
        if (booking.day < date) {
          await deps.store.resolveCarried(
            mismatchIdOf(booking.day, { type: 'timing', key: booking.key }),
            runId,
            `row ${row.balance_transaction_id} of the ${date} file`,
            now(),
            row.balance_transaction_id,
          );
        }
        if ('matched' in classified) {
          matchedRow(row);
        } else {
          addToTotals(r.totals, row, false);
          await record(classified.finding);
        }
        continue;
      }
      if ('matched' in classified) continue; // only a booking matches
      addToTotals(r.totals, row, false);
      const f = classified.finding;
      if (!f.fix) {
        await record(f);
        continue;
      }
      const applied = await applyFix(deps, runId, f.balance_transaction_id ?? row.balance_transaction_id, f, row);
      if (applied.ok) {
        const { mismatch } = await record(f, { fix_result: applied.result });
        // A fix that did not settle on an earlier run of the date, and did now.
        if (mismatch.status === 'open') await deps.store.markFixed(mismatch.mismatch_id, applied.result, now());
        continue;
      }
      await record(applied.instead ?? unsettledFix(f, applied.result), { fix_result: applied.result });
    }
  });

  // Phase 3: our bookings of the day no row matched: when does the PSP date them? Each leaves its amount unexplained
  // in the day's ledger (an earlier file had it, a later one will, or a person must look).
  await eachLimited(joined.unmatchedOurs, 4, async (booking) => {
    tally.explain(booking.currency, -booking.amount_minor);
    const psp = await pspDayOf(deps, booking);
    if (psp.kind === 'not_sent') {
      // Booked and reversed here, never made at the PSP: nothing moved there. A day that carried the refund as not
      // yet made lets it go.
      const [kind, id] = booking.key.split(/:(.*)/s);
      if (kind === 'refund_failure' && id) {
        const refundKey = `refund:${id}`;
        const made = bookingsOf(await deps.ledger.transactionsWithSettlementKey(refundKey)).get(refundKey);
        if (made && made.day < date) {
          await deps.store.resolveCarried(
            mismatchIdOf(made.day, { type: 'timing', key: refundKey }),
            runId,
            `refund ${id} was refused before it was made at the PSP, and reversed on ${date}`,
            now(),
          );
        }
      }
      return;
    }
    // Dated by the PSP this day, after the end of the report's interval (a run of a day not over): not reported yet.
    if (psp.kind === 'day' && psp.day === date && run.interval_end !== undefined && psp.created >= run.interval_end) {
      return;
    }
    const f =
      psp.kind === 'in_flight'
        ? finding('timing', {
            key: booking.key,
            currency: booking.currency,
            our_amount_minor: booking.amount_minor,
            detail: `${booking.key} was booked on ${date} and is not yet made at the PSP; carried forward`,
            fix: { kind: 'carry_forward' },
          })
        : classifyOurs(booking, psp.kind === 'day' ? psp.day : null, date);
    if (f) await record(f);
  });

  // Read back by id at the run's end; a shard that found very many leaves them to the date's index (item size).
  const ids = [...new Set(recorded)];
  if (ids.length <= 1000) r.mismatch_ids = ids;
  await deps.store.putShardResult(runId, r);
  logger.info('reconciliation shard matched', {
    run_id: runId,
    shard,
    rows: r.rows,
    matched: r.matched,
    mismatches: r.by_class,
  });
  return r;
}

/**
 * A row whose key we booked, but not for it: the day's booking was taken by another row of this file, or an earlier
 * day's booking was matched by that day's file (no timing difference carried, or one resolved by another balance
 * transaction). A second charge, refund or transfer the PSP made for one of ours: for a person.
 */
async function isSecondMovement(
  deps: ReconciliationDeps,
  booking: OurBooking,
  date: string,
  row: SettlementRow,
): Promise<((row: SettlementRow) => Finding) | undefined> {
  if (booking.day > date) return undefined; // booked after the PSP's day: that later day's run sees it
  if (booking.day < date) {
    const carried = await deps.store.getMismatch(mismatchIdOf(booking.day, { type: 'timing', key: booking.key }));
    if (carried?.type === 'timing') {
      // Still waiting for its row, or resolved by this very row (a retried shard, a second run of the date).
      if (carried.status !== 'resolved' || carried.matched_by === row.balance_transaction_id) return undefined;
    }
  }
  return secondMovement(booking, date);
}

function secondMovement(booking: OurBooking, date: string): (row: SettlementRow) => Finding {
  return (row) =>
    finding('duplicate_movement', {
      key: booking.key,
      balance_transaction_id: row.balance_transaction_id,
      line: row.line,
      currency: row.currency,
      psp_amount_minor: clearingAmountOf(row),
      our_amount_minor: booking.amount_minor,
      ...(row.payment_id && { payment_id: row.payment_id }),
      ...(row.refund_id && { refund_id: row.refund_id }),
      ...(row.payout_id && { payout_id: row.payout_id }),
      detail: `the PSP moved money again for ${booking.key} (${row.reporting_category} ${row.source_id || row.balance_transaction_id}), which we booked once on ${booking.day} and which another row ${booking.day >= date ? 'of this file' : `(the ${booking.day} file or an earlier run)`} already matched: a second movement at the PSP`,
    });
}

/** An automatic fix that did not settle the row: a person's now (the next run of the date tries again). */
function unsettledFix(f: Finding, result: string): Finding {
  return {
    ...f,
    class: 'manual',
    detail: `${f.detail}; the automatic fix did not settle it (${result}): check it, a later run of the date tries again`,
  };
}

/** What we hold under a left-over row's key: a booking of another day, else the record it names. */
async function lookUp(deps: ReconciliationDeps, row: SettlementRow): Promise<Lookup> {
  const key = rowSettlementKey(row);
  if (key === undefined) return { kind: 'none' };
  const booked = bookingsOf(await deps.ledger.transactionsWithSettlementKey(key)).get(key);
  if (booked) return { kind: 'booked', booking: booked };
  switch (row.reporting_category) {
    case 'charge': {
      const payment = await deps.records.payment(row.payment_id);
      return payment
        ? {
            kind: 'payment',
            payment_id: row.payment_id,
            status: payment.status,
            currency: payment.currency,
            total_minor: payment.total_minor,
          }
        : { kind: 'none' };
    }
    case 'refund':
    case 'refund_failure': {
      const refund = await deps.records.refund(row.refund_id);
      return refund ? { kind: 'refund', refund_id: row.refund_id, status: refund.status } : { kind: 'none' };
    }
    case 'dispute':
    case 'dispute_reversal': {
      const dispute = await deps.records.dispute(row.source_id);
      if (dispute) return { kind: 'dispute', dispute_id: row.source_id, payment_id: dispute.payment_id, known: true };
      const payment = row.payment_id ? await deps.records.payment(row.payment_id) : undefined;
      return payment
        ? { kind: 'dispute', dispute_id: row.source_id, payment_id: row.payment_id, known: false }
        : { kind: 'none' };
    }
    case 'transfer':
    case 'transfer_reversal': {
      const payout = await deps.records.payout(row.payout_id);
      return payout ? { kind: 'payout', payout_id: row.payout_id, status: payout.status } : { kind: 'none' };
    }
    default:
      return { kind: 'none' };
  }
}

/** How the PSP dates one of our bookings left over by the day's file. */
type PspDating =
  /** Its balance transaction's UTC day, and when (unix seconds). */
  | { kind: 'day'; day: string; created: number }
  /** The PSP has no record of it. */
  | { kind: 'none' }
  /** Never made at the PSP: a refund refused before it was made, booked and reversed here (they net to zero). */
  | { kind: 'not_sent' }
  /** Not made at the PSP yet (a refund still being made). */
  | { kind: 'in_flight' };

const FINAL_REFUND = new Set(['FAILED', 'CANCELED']);

async function pspDayOf(deps: ReconciliationDeps, booking: OurBooking): Promise<PspDating> {
  const [kind, id = ''] = booking.key.split(/:(.*)/s);
  let source: string | undefined;
  switch (kind) {
    case 'charge': {
      const payment = await deps.records.payment(id);
      source = payment?.psp_reference ? await deps.psp.chargeOf(payment.psp_reference) : undefined;
      break;
    }
    case 'refund':
    case 'refund_failure': {
      const refund = await deps.records.refund(id);
      if (refund && !refund.psp_refund_id)
        return FINAL_REFUND.has(refund.status) ? { kind: 'not_sent' } : { kind: 'in_flight' };
      source = refund?.psp_refund_id;
      break;
    }
    case 'transfer':
      source = (await deps.records.payout(id))?.transfer_id;
      break;
    case 'transfer_reversal':
      source = (await deps.records.payout(id))?.reversal_id;
      break;
    case 'dispute':
    case 'dispute_reversal':
      source = id;
      break;
    default:
      return { kind: 'none' };
  }
  if (!source) return { kind: 'none' };
  const transactions = await deps.psp.balanceTransactionsOf(source);
  const match = transactions.find((t) => t.reporting_category === kind);
  return match
    ? { kind: 'day', day: new Date(match.created * 1000).toISOString().slice(0, 10), created: match.created }
    : { kind: 'none' };
}

/** What an automatic fix did: settled (ok), or not, and what the row is instead when the fix revealed it. */
interface FixOutcome {
  ok: boolean;
  result: string;
  /** The fix showed the row is something else (a payment recovered as FAILED: charged_but_failed). */
  instead?: Finding;
}

/**
 * Applies an automatic fix once: it is recorded (by balance transaction) only when it settled the row, so a later
 * run of the date finds the record and applies nothing; one that did not settle is tried again by the next run.
 * Settled means: the payment is SUCCESS, or the key is now booked in the ledger.
 */
async function applyFix(
  deps: ReconciliationDeps,
  runId: string,
  subject: string,
  f: Finding,
  row: SettlementRow,
): Promise<FixOutcome> {
  const fix = f.fix;
  if (!fix) return { ok: false, result: 'no automatic fix' };
  const done = await deps.store.findFix(subject);
  if (done) return { ok: true, result: `${done.result} (by run ${done.run_id})` };
  let result: string;
  try {
    switch (fix.kind) {
      case 'settle_payment':
        result = await deps.recovery.settlePayment(fix.payment_id);
        break;
      case 'settle_refund':
        result = await deps.recovery.settleRefund(fix.refund_id);
        break;
      case 'apply_dispute':
        result = await deps.recovery.applyDispute(fix.dispute_id);
        break;
      case 'settle_payout':
        result = await deps.recovery.settlePayout(fix.payout_id);
        break;
      default:
        return { ok: true, result: fix.kind === 'count_once' ? 'counted once' : 'carried forward' };
    }
  } catch (error) {
    logger.warn('automatic fix failed; the next run of the date tries again', {
      run_id: runId,
      subject,
      error: error as Error,
    });
    return { ok: false, result: `failed: ${(error as Error).message}` };
  }
  const settled = await settledBy(deps, f, row);
  if (typeof settled === 'object') {
    const { type: _type, class: _class, fix: _fix, ...fields } = f;
    return {
      ok: false,
      result,
      instead: finding('amount_mismatch', {
        ...fields,
        our_amount_minor: settled.amount_minor,
        ...(settled.currency !== row.currency && { our_currency: settled.currency }),
        detail: `the PSP's ${row.reporting_category} ${row.source_id || row.balance_transaction_id} moved ${clearingAmountOf(row)} minor units of ${row.currency}; settled by its automatic fix (${result}), we hold ${settled.amount_minor} of ${settled.currency}`,
      }),
    };
  }
  if (settled === 'failed_payment' && fix.kind === 'settle_payment') {
    const { type: _type, class: _class, fix: _fix, ...fields } = f;
    return {
      ok: false,
      result,
      instead: finding('charged_but_failed', {
        ...fields,
        detail: `the PSP charged for payment ${fix.payment_id}, and its recovery settled it FAILED (${result}): the buyer paid for nothing; decide on a refund`,
      }),
    };
  }
  if (settled !== true) return { ok: false, result };
  await deps.store.recordFix(subject, fix.kind, result, runId, deps.now().toISOString());
  if (f.payment_id) {
    await recordTimeline({
      payment_id: f.payment_id,
      source: 'reconciliation',
      type: 'reconciliation.fixed',
      summary: `reconciliation run ${runId} fixed ${f.type} by ${fix.kind}: ${result}`,
      ids: { run_id: runId, balance_transaction_id: subject },
      once: `fix:${subject}`,
    });
  }
  return { ok: true, result };
}

/**
 * Whether a fix settled its row: the payment's charge recorded (every order SUCCESS; its bookings follow in its
 * workflow), or the key booked in the ledger; and for the amount the row moved (else what we hold instead).
 */
async function settledBy(
  deps: ReconciliationDeps,
  f: Finding,
  row: SettlementRow,
): Promise<boolean | 'failed_payment' | { amount_minor: number; currency: string }> {
  if (f.fix?.kind === 'settle_payment') {
    const payment = await deps.records.payment(f.fix.payment_id);
    if (!payment) return false;
    if (payment.status === 'FAILED' || payment.status === 'CANCELED') return 'failed_payment';
    const charged =
      payment.status === 'SUCCESS' ||
      (payment.orders.length > 0 && payment.orders.every((order) => order.status === 'SUCCESS'));
    if (!charged) return false;
    if (payment.total_minor !== clearingAmountOf(row) || payment.currency !== row.currency) {
      return { amount_minor: payment.total_minor, currency: payment.currency };
    }
    return true;
  }
  const key = f.key;
  if (key === undefined) return false;
  // The by-settlement-key index follows its table within moments: ask a few times before calling it unsettled.
  for (let attempt = 0; attempt < 3; attempt++) {
    const booking = bookingsOf(await deps.ledger.transactionsWithSettlementKey(key)).get(key);
    if (booking) {
      if (booking.amount_minor !== clearingAmountOf(row) || booking.currency !== row.currency) {
        return { amount_minor: booking.amount_minor, currency: booking.currency };
      }
      return true;
    }
    await new Promise((resolve) => setTimeout(resolve, 300 * (attempt + 1)));
  }
  return false;
}

/** Adds up the shards, ages carried differences, checks wallets and the clearing account, publishes, completes. */
export async function finishRun(deps: ReconciliationDeps, runId: string): Promise<ReconciliationRun> {
  const run = await loadRun(deps, runId);
  if (run.status === 'COMPLETED') return run; // a retried step: done already
  await holdLock(deps, run);
  const date = run.date;
  const now = () => deps.now().toISOString();
  const shards = await deps.store.shardResults(runId);
  const totals: Record<string, CurrencyTotals> = {};
  const byType: Partial<Record<MismatchType, number>> = {};
  const byClass: ClassCounts = noClassCounts();
  const ledgerClearing: Record<string, number> = {};
  const explained: Record<string, number> = {};
  let matched = 0;
  let feesBooked = 0;
  let feesBookedNew = 0;
  let transactionsChecked = 0;
  const add = (into: Record<string, number>, from: Record<string, number>) => {
    for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
  };
  for (const s of shards) {
    mergeTotals(totals, s.totals);
    add(byType as Record<string, number>, s.by_type as Record<string, number>);
    add(byClass as unknown as Record<string, number>, s.by_class as unknown as Record<string, number>);
    add(ledgerClearing, s.ledger_clearing);
    add(explained, s.explained_drift);
    matched += s.matched;
    feesBooked += s.fees_booked;
    feesBookedNew += s.fees_booked_new;
    transactionsChecked += s.transactions_checked;
  }
  // What this step finds is merged by id with the date's list below (an index may not show a write of a moment ago).
  const foundHere: Array<StoredMismatch & { published_at?: string }> = [];
  const found = async (f: Finding) => {
    const out = await deps.store.recordMismatch(date, runId, f, now());
    await onTimeline(out.mismatch, runId);
    foundHere.push(out.mismatch);
  };
  const escalated: Array<StoredMismatch & { published_at?: string }> = [];

  // Timing differences carried for CARRY_DAYS without a later file matching them: a person's now.
  for (const carried of await deps.store.carriedUpTo(addDays(date, -CARRY_DAYS))) {
    const done = await deps.store.escalateTiming(
      carried.mismatch_id,
      runId,
      now(),
      `${carried.detail}; still unmatched ${CARRY_DAYS} days later (reconciliation of ${date}): check with the PSP`,
    );
    if (done) escalated.push({ ...carried, class: 'manual', status: 'open' });
  }

  // Internal: every wallet equals the balance of its seller's payable account.
  const wallets = await deps.wallets.all();
  const payableOf = async (seller: string, currency: string) =>
    -((await deps.ledger.accountBalance(accounts.sellerPayable(seller))).get(currency) ?? 0);
  await eachLimited(wallets, 8, async (w) => {
    if ((await payableOf(w.seller_account, w.currency)) === w.balance_minor) return;
    // A pay-in between its wallet credit and its booking (two steps) differs for a moment: look again before reporting.
    let wallet = w.balance_minor;
    let payable = 0;
    for (let attempt = 0; attempt < 3; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, deps.settings.recheckMs ?? 2000));
      wallet = (await deps.wallets.of(w.seller_account, w.currency)) ?? 0;
      payable = await payableOf(w.seller_account, w.currency);
      if (wallet === payable) return;
    }
    await found(
      finding('wallet_drift', {
        seller_account: w.seller_account,
        currency: w.currency,
        our_amount_minor: wallet,
        detail: `the wallet of ${w.seller_account} holds ${wallet} minor units of ${w.currency}; its payable account in the ledger ${payable}`,
      }),
    );
  });

  // Internal: the PSP clearing account moved by what the file says, but for what the mismatches explain.
  const clearing: NonNullable<ReconciliationRun['internal']>['clearing'] = {};
  for (const currency of new Set([...Object.keys(totals), ...Object.keys(ledgerClearing), ...Object.keys(explained)])) {
    const fileNet = totals[currency]?.net_minor ?? 0;
    const ledger = ledgerClearing[currency] ?? 0;
    const drift = fileNet - ledger;
    const explainedMinor = explained[currency] ?? 0;
    clearing[currency] = {
      file_net_minor: fileNet,
      ledger_minor: ledger,
      drift_minor: drift,
      explained_minor: explainedMinor,
    };
    if (drift !== explainedMinor) {
      await found(
        finding('clearing_drift', {
          key: `clearing:${currency}`,
          currency,
          psp_amount_minor: fileNet,
          our_amount_minor: ledger,
          detail: `the file moves the PSP balance by ${fileNet} minor units of ${currency}, our clearing account by ${ledger} on ${date}; the mismatches explain ${explainedMinor} of the ${drift} difference`,
        }),
      );
    }
  }

  // Open items whose automatic fix did not settle them, of any date: settled since (the capability's own janitor or
  // webhook, or a fix of this run), they are fixed now.
  for (const m of await deps.store.openOn('manual')) {
    // Only fixes that settle a row of the PSP's (a carried timing difference is about our own booking).
    if (!m.fix || m.key === undefined || m.fix.kind === 'carry_forward' || m.fix.kind === 'count_once') continue;
    if (m.type !== 'missed_outcome' && m.type !== 'unbooked_reversal') continue;
    const settled =
      m.fix.kind === 'settle_payment'
        ? (await deps.records.payment(m.fix.payment_id))?.status === 'SUCCESS'
        : (await deps.ledger.transactionsWithSettlementKey(m.key)).length > 0;
    if (settled) await deps.store.markFixed(m.mismatch_id, 'settled since the run that found it', now());
  }

  // The run's mismatches: every one of the date (a second run finds the same), and the timing differences of
  // earlier dates it made manual. The counts are theirs.
  // The shards' own are read back by id from the table (an index may not show a write of a moment ago).
  const fromShards = (
    await Promise.all([...new Set(shards.flatMap((s) => s.mismatch_ids ?? []))].map((id) => deps.store.getMismatch(id)))
  ).filter((m): m is StoredMismatch => m !== undefined);
  const byId = new Map<string, StoredMismatch & { published_at?: string }>();
  for (const m of [...(await deps.store.mismatchesOfDate(date)), ...fromShards, ...foundHere, ...escalated]) {
    byId.set(m.mismatch_id, m); // the freshest read of each wins
  }
  const mismatches = [...byId.values()];
  for (const key of Object.keys(byType) as MismatchType[]) delete byType[key];
  Object.assign(byClass, noClassCounts());
  for (const m of mismatches) {
    byType[m.type] = (byType[m.type] ?? 0) + 1;
    byClass[m.class] += 1;
  }

  // The work lists: each open manual and unclassifiable mismatch sent once (sent, then marked: at least once), this
  // run's and any an earlier run could not send.
  const unsent = new Map<string, StoredMismatch & { published_at?: string }>();
  for (const m of mismatches) {
    if (m.status === 'open' && !m.published_at && (m.class === 'manual' || m.class === 'unclassifiable')) {
      unsent.set(m.mismatch_id, m);
    }
  }
  for (const queue of ['manual', 'unclassifiable'] as const) {
    for (const m of await deps.store.unpublished(queue)) unsent.set(m.mismatch_id, m);
  }
  for (const m of unsent.values()) {
    await deps.queues.send(m.class === 'unclassifiable' ? 'unclassifiable' : 'manual', m);
    await deps.store.markPublished(m.mismatch_id, now());
  }
  const open = {
    manual: await deps.store.countOpen('manual'),
    unclassifiable: await deps.store.countOpen('unclassifiable'),
  };
  deps.metrics.openMismatches(open);

  const completed: Partial<ReconciliationRun> = {
    status: 'COMPLETED',
    shards_done: shards.length,
    matched,
    fees_booked: feesBooked,
    fees_booked_new: feesBookedNew,
    mismatches: byClass,
    by_type: byType,
    totals,
    internal: {
      wallets_checked: wallets.length,
      transactions_checked: transactionsChecked,
      orders_checked: matched,
      clearing,
    },
    updated_at: now(),
    completed_at: now(),
  };
  // The report as it stood when the run completed, archived beside the file (the API renders it live: resolutions
  // made later show there).
  const reportKey = `runs/${date}/${runId}/report.html`;
  await deps.archive.putText(
    reportKey,
    renderReport({ ...run, ...completed } as ReconciliationRun, mismatches),
    'text/html; charset=utf-8',
  );
  completed.report_key = reportKey;
  await deps.store.updateRun(runId, completed);
  await deps.store.releaseDate(date, runId, 'COMPLETED', now());
  logger.info('reconciliation run completed', { run_id: runId, date, matched, mismatches: byClass, open });
  return { ...run, ...completed } as ReconciliationRun;
}

/** The run FAILED with the error Step Functions caught; its date is free for a new run. */
export async function failRun(
  deps: ReconciliationDeps,
  runId: string,
  error: { Error?: string; Cause?: string } | undefined,
): Promise<void> {
  const run = await deps.store.getRun(runId);
  if (!run) return;
  let cause = error?.Cause ?? '';
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: string };
    if (parsed.errorMessage) cause = parsed.errorMessage;
  } catch {
    // a plain message
  }
  const message = [error?.Error, cause].filter(Boolean).join(': ') || 'the run failed';
  await deps.store.updateRun(runId, {
    status: 'FAILED',
    error: message.slice(0, 2000),
    updated_at: deps.now().toISOString(),
  });
  await deps.store.releaseDate(run.date, runId, 'FAILED', deps.now().toISOString());
  logger.error('reconciliation run failed', { run_id: runId, date: run.date, error: message });
}

/** A person resolves an open mismatch: what was decided, a note, who and when. */
export async function resolveMismatch(
  deps: ReconciliationDeps,
  mismatchId: string,
  input: { resolution: unknown; note?: unknown },
  by: string,
): Promise<StoredMismatch> {
  if (typeof input.resolution !== 'string' || input.resolution.trim() === '' || input.resolution.length > 200) {
    throw new InvalidRunInputError('resolution', 'must be a non-empty string of at most 200 characters');
  }
  if (input.note !== undefined && (typeof input.note !== 'string' || input.note.length > 2000)) {
    throw new InvalidRunInputError('note', 'must be a string of at most 2000 characters');
  }
  return deps.store.resolve(mismatchId, {
    resolution: input.resolution.trim(),
    ...(typeof input.note === 'string' && input.note !== '' && { note: input.note }),
    by,
    at: deps.now().toISOString(),
  });
}

export type { BookedTransaction };

/** A mismatch about a payment, on the payment's timeline (once per mismatch: the run that first recorded it). */
async function onTimeline(mismatch: StoredMismatch, runId: string): Promise<void> {
  if (!mismatch.payment_id) return;
  await recordTimeline({
    payment_id: mismatch.payment_id,
    source: 'reconciliation',
    type: 'reconciliation.mismatch',
    summary: `reconciliation of ${mismatch.date} found ${mismatch.type} (${mismatch.class}, ${mismatch.status}): ${mismatch.detail}`,
    ids: {
      run_id: runId,
      mismatch_id: mismatch.mismatch_id,
      ...(mismatch.balance_transaction_id ? { balance_transaction_id: mismatch.balance_transaction_id } : {}),
    },
    once: `mismatch:${mismatch.mismatch_id}`,
  });
}
