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
import { CARRY_DAYS, type Finding, type FixAction, finding, type MismatchType, mismatchIdOf } from './domain/mismatch';
import {
  addDays,
  type ClassCounts,
  isDay,
  noClassCounts,
  type ReconciliationRun,
  type ShardResult,
  type StoredMismatch,
} from './domain/run';
import { checkHeader, parseRow, rowSettlementKey, type SettlementRow } from './domain/settlement-row';
import { InvalidRunInputError, RunNotFoundError } from './errors';
import type { ReconciliationDeps } from './ports';

export { InvalidRunInputError, RunNotFoundError } from './errors';

const today = (now: Date) => now.toISOString().slice(0, 10);
const shardPrefix = (run: Pick<ReconciliationRun, 'date' | 'run_id'>, shard: number) =>
  `runs/${run.date}/${run.run_id}/shards/${String(shard).padStart(2, '0')}/`;

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
    // Not started: the run must not hold its date.
    await failRun(deps, run.run_id, { Error: 'StartFailed', Cause: (error as Error).message });
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
  const start = Date.parse(`${run.date}T00:00:00Z`) / 1000;
  const report = run.report_run_id
    ? await deps.psp.retrieveReportRun(run.report_run_id)
    : await deps.psp.createReportRun({
        interval_start: start,
        interval_end: start + 86_400,
        idempotencyKey: `reconciliation:${run.run_id}:report`,
      });
  await deps.store.updateRun(runId, { report_run_id: report.id, updated_at: deps.now().toISOString() });
  return { status: report.status, poll_seconds, ...(report.error && { error: report.error }) };
}

/** One poll of the PSP's report; a report still pending after the bounded number of polls fails the run. */
export async function checkReport(deps: ReconciliationDeps, runId: string): Promise<ReportStep> {
  const run = await loadRun(deps, runId);
  const poll_seconds = deps.settings.reportPollSeconds;
  if (run.file_key) return { status: 'succeeded', poll_seconds };
  if (!run.report_run_id) return requestReport(deps, runId);
  const polls = await deps.store.countPoll(runId, deps.now().toISOString());
  const report = await deps.psp.retrieveReportRun(run.report_run_id);
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
  let line = 0;
  const parser = toParse.pipe(parse({ relax_column_count: false, skip_empty_lines: true }));
  for await (const values of parser as AsyncIterable<string[]>) {
    line += 1;
    if (line === 1) {
      checkHeader(values);
      continue;
    }
    const row = parseRow(values, line);
    rows += 1;
    const shard = settlementShardOf(rowSettlementKey(row) ?? row.balance_transaction_id, SETTLEMENT_SHARDS);
    const buffer = buffers.get(shard) ?? { lines: [], bytes: 0, parts: 0 };
    buffers.set(shard, buffer);
    const json = JSON.stringify(row);
    buffer.lines.push(json);
    buffer.bytes += json.length;
    if (buffer.bytes >= PART_BYTES) flush(shard);
  }
  if (line === 0) checkHeader([]);
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
  const date = run.date;
  const now = () => deps.now().toISOString();
  const tally = new ShardTally(shard);
  const r = tally.result;
  const rows = await readShard(deps, run, shard);
  r.rows = rows.length;

  // Our side: every transaction of the day in this shard, checked for balance; the PSP clearing account's movement.
  const dayTransactions = await deps.ledger.transactionsOfDay(date, shard);
  r.transactions_checked = dayTransactions.length;
  // Fees booked from an earlier file read of this day (they share the row's shard), by balance transaction.
  const feesInLedger = new Map<string, number>();
  for (const t of dayTransactions) {
    if (t.currency !== undefined && t.clearing_minor !== undefined) {
      r.ledger_clearing[t.currency] = (r.ledger_clearing[t.currency] ?? 0) + t.clearing_minor;
      if (t.transaction_id.startsWith('psp-fee:')) feesInLedger.set(t.transaction_id.slice(8), -t.clearing_minor);
    }
    const unbalanced = [...balanceByCurrency(t.entries)].filter(([, sum]) => sum !== 0);
    if (unbalanced.length > 0 || t.entries.length !== t.entry_count) {
      const f = finding('unbalanced_transaction', {
        key: `transaction:${t.transaction_id}`,
        detail:
          t.entries.length !== t.entry_count
            ? `ledger transaction ${t.transaction_id} has ${t.entries.length} entries of ${t.entry_count}`
            : `ledger transaction ${t.transaction_id} does not balance: ${unbalanced.map(([c, s]) => `${c} off by ${s}`).join(', ')}`,
      });
      tally.found(f);
      await deps.store.recordMismatch(date, runId, f, now());
    }
  }
  const ours = bookingsOf(dayTransactions);
  const joined = matchShard(rows, ours);

  /** Books a row's PSP fee once; answers the fee now in the ledger for it (booked now or before). */
  const bookFee = async (row: SettlementRow): Promise<number> => {
    const fee = feeToBook(row);
    if (!fee) return 0;
    const booked = await deps.ledger.appendOnce(pspFeeTransaction(fee));
    r.fees_booked += 1;
    if (booked) {
      r.fees_booked_new += 1;
      // Booked after this shard's ledger was read: the day's clearing movement now includes it.
      r.ledger_clearing[row.currency] = (r.ledger_clearing[row.currency] ?? 0) - fee.fee_minor;
    }
    return fee.fee_minor;
  };
  /** The PSP fee of a row in the ledger without booking it (a row left to a person). */
  const feeInLedger = (row: SettlementRow) => feesInLedger.get(row.balance_transaction_id) ?? 0;
  const matchedRow = async (row: SettlementRow) => {
    r.matched += 1;
    addToTotals(r.totals, row, true);
    return bookFee(row);
  };

  // The rows matched by the join and the fee rows: their fees booked in bulk (many postings per DynamoDB
  // transaction, each still once by its id).
  const joinedRows = [...joined.matched.map(({ row }) => row), ...joined.feeRows];
  const fees = joinedRows.flatMap((row) => {
    const fee = feeToBook(row);
    return fee ? [fee] : [];
  });
  const bookedNow = await deps.ledger.appendManyOnce(fees.map((fee) => pspFeeTransaction(fee)));
  for (const row of joinedRows) {
    r.matched += 1;
    addToTotals(r.totals, row, true);
  }
  for (const fee of fees) {
    r.fees_booked += 1;
    if (bookedNow.has(pspFeeTransactionId(fee.balance_transaction_id))) {
      r.fees_booked_new += 1;
      r.ledger_clearing[fee.currency] = (r.ledger_clearing[fee.currency] ?? 0) - fee.fee_minor;
    }
  }
  // The pay-ins matched today: every order of a SUCCESS payment booked and credited (internal reconciliation).
  await eachLimited(
    joined.matched.filter(({ row }) => row.reporting_category === 'charge'),
    8,
    async ({ row }) => {
      const payment = await deps.records.payment(row.payment_id);
      const incomplete = payment?.orders.filter(
        (o) => o.status !== 'SUCCESS' || !o.wallet_updated || !o.ledger_updated,
      );
      if (payment && payment.status === 'SUCCESS' && incomplete && incomplete.length > 0) {
        const f = finding('unbooked_order', {
          key: `charge:${row.payment_id}`,
          payment_id: row.payment_id,
          currency: row.currency,
          detail: `payment ${row.payment_id} is SUCCESS but order(s) ${incomplete.map((o) => o.payment_order_id).join(', ')} lack their wallet credit or ledger booking`,
        });
        tally.found(f);
        await deps.store.recordMismatch(date, runId, f, now());
      }
    },
  );

  for (const { row, finding: f } of joined.findings) {
    tally.found(f);
    if (f.type !== 'duplicate_row') {
      addToTotals(r.totals, row, false);
      explainRowFinding(tally, row, f, feeInLedger(row));
    }
    await deps.store.recordMismatch(date, runId, f, now(), f.fix ? { fix_result: 'counted once' } : {});
  }

  // Phase 2: rows with no booking of the day.
  await eachLimited(joined.unmatchedRows, 4, async (row) => {
    const lookup = await lookUp(deps, row);
    const classified = classifyRow(row, lookup);
    if ('matched' in classified) {
      const fee = await matchedRow(row);
      // Our booking is of another day: the day's ledger does not hold it (the fee, valued today, it does).
      tally.explain(row.currency, row.net_minor + fee);
      if (classified.matched.day < date) {
        await deps.store.resolveCarried(
          mismatchIdOf(classified.matched.day, { type: 'timing', key: classified.matched.key }),
          runId,
          `row ${row.balance_transaction_id} of the ${date} file`,
          now(),
        );
      }
      return;
    }
    const f = classified.finding;
    tally.found(f);
    let fee = feeInLedger(row);
    let fixResult: string | undefined;
    let status: StoredMismatch['status'] | undefined;
    if (f.fix) {
      const applied = await applyFix(
        deps,
        runId,
        f.balance_transaction_id ?? f.key ?? row.balance_transaction_id,
        f.fix,
      );
      fixResult = applied.result;
      if (applied.ok) fee = await bookFee(row);
      else status = 'open';
    }
    addToTotals(r.totals, row, false);
    explainRowFinding(tally, row, f, fee);
    const { mismatch } = await deps.store.recordMismatch(date, runId, f, now(), {
      ...(fixResult !== undefined && { fix_result: fixResult }),
      ...(status && { status }),
    });
    // A fix that failed on an earlier run and worked now.
    if (f.fix && !status && mismatch.status === 'open') {
      await deps.store.markFixed(mismatch.mismatch_id, fixResult ?? 'fixed', now());
    }
  });

  // Phase 3: our bookings of the day no row matched: when does the PSP date them?
  await eachLimited(joined.unmatchedOurs, 4, async (booking) => {
    const pspDay = await pspDayOf(deps, booking);
    const f = classifyOurs(booking, pspDay, date);
    if (!f) return;
    tally.found(f);
    tally.explain(booking.currency, -booking.amount_minor);
    await deps.store.recordMismatch(date, runId, f, now());
  });

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

/** What a row-side finding leaves unexplained between the file's net and our clearing account. */
function explainRowFinding(tally: ShardTally, row: SettlementRow, f: Finding, feeBooked: number) {
  switch (f.type) {
    case 'amount_mismatch':
      tally.explain(row.currency, row.net_minor + feeBooked - (f.our_amount_minor ?? 0));
      return;
    case 'currency_mismatch':
      tally.explain(row.currency, row.net_minor + feeBooked);
      tally.explain(f.our_currency ?? row.currency, -(f.our_amount_minor ?? 0));
      return;
    case 'duplicate_row':
      return;
    default:
      tally.explain(row.currency, row.net_minor + feeBooked);
  }
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

/** The UTC day the PSP dates one of our bookings (its balance transaction), null when the PSP has none. */
async function pspDayOf(deps: ReconciliationDeps, booking: OurBooking): Promise<string | null> {
  const [kind, id = ''] = booking.key.split(/:(.*)/s);
  let source: string | undefined;
  let category = kind ?? '';
  switch (kind) {
    case 'charge': {
      const payment = await deps.records.payment(id);
      source = payment?.psp_reference ? await deps.psp.chargeOf(payment.psp_reference) : undefined;
      break;
    }
    case 'refund':
    case 'refund_failure':
      source = (await deps.records.refund(id))?.psp_refund_id;
      break;
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
      category = '';
  }
  if (!source) return null;
  const transactions = await deps.psp.balanceTransactionsOf(source);
  const match = transactions.find((t) => t.reporting_category === category) ?? (category ? undefined : transactions[0]);
  return match ? new Date(match.created * 1000).toISOString().slice(0, 10) : null;
}

/** Applies an automatic fix once (recorded by its subject; a later run finds the record and applies nothing). */
async function applyFix(
  deps: ReconciliationDeps,
  runId: string,
  subject: string,
  fix: FixAction,
): Promise<{ ok: boolean; result: string }> {
  const done = await deps.store.findFix(subject);
  if (done) return { ok: true, result: `${done.result} (by run ${done.run_id})` };
  try {
    let result: string;
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
        result = fix.kind === 'count_once' ? 'counted once' : 'carried forward';
    }
    await deps.store.recordFix(subject, fix.kind, result, runId, deps.now().toISOString());
    return { ok: true, result };
  } catch (error) {
    logger.warn('automatic fix failed; the next run tries again', { run_id: runId, subject, error: error as Error });
    return { ok: false, result: `failed: ${(error as Error).message}` };
  }
}

/** Adds up the shards, ages carried differences, checks wallets and the clearing account, publishes, completes. */
export async function finishRun(deps: ReconciliationDeps, runId: string): Promise<ReconciliationRun> {
  const run = await loadRun(deps, runId);
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
  const found = async (f: Finding) => {
    await deps.store.recordMismatch(date, runId, f, now());
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
  await eachLimited(wallets, 8, async (w) => {
    const payable = -(
      (await deps.ledger.accountBalance(accounts.sellerPayable(w.seller_account))).get(w.currency) ?? 0
    );
    if (payable !== w.balance_minor) {
      await found(
        finding('wallet_drift', {
          seller_account: w.seller_account,
          currency: w.currency,
          our_amount_minor: w.balance_minor,
          detail: `the wallet of ${w.seller_account} holds ${w.balance_minor} minor units of ${w.currency}; its payable account in the ledger ${payable}`,
        }),
      );
    }
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

  // The run's mismatches: every one of the date (a second run finds the same), and the timing differences of
  // earlier dates it made manual. The counts are theirs.
  const mismatches = [...(await deps.store.mismatchesOfDate(date)), ...escalated];
  for (const key of Object.keys(byType) as MismatchType[]) delete byType[key];
  Object.assign(byClass, noClassCounts());
  for (const m of mismatches) {
    byType[m.type] = (byType[m.type] ?? 0) + 1;
    byClass[m.class] += 1;
  }

  // The work lists: each new manual and unclassifiable mismatch sent once (sent, then marked: at least once).
  for (const m of mismatches) {
    if (m.status !== 'open' || m.published_at || (m.class !== 'manual' && m.class !== 'unclassifiable')) continue;
    await deps.queues.send(m.class, m);
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
