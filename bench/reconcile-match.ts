/**
 * Reconciliation's matching at scale (issue 10, "Scale"): a settlement file of 1,000,000 rows against 1,000,000
 * ledger transactions of ours, with the same matching code the run uses (src/reconciliation/domain/), in memory.
 *
 * Not timed: a seeded day is generated: our ledger transactions of the day (mostly charges, ~5 % of them split
 * across two orders, refunds, refund failures, transfers and their reversals, disputes and their reversals) as the
 * by-day index gives them per shard, and the PSP's file of the same money movements written to a temporary CSV in the
 * report's exact columns (amounts in major units, lower-case currencies, RFC 4180 quoting), with a small seeded share
 * of faults of every type of the issue's table (duplicate, dropped, late, amount and currency differences, unknown
 * rows, charges of payments we hold UNKNOWN / EXECUTING / FAILED, refund failures and disputes we have not booked)
 * and rows booked on the day before (matched through the settlement-key lookup).
 *
 * Timed, as src/reconciliation/run.ts does it: the file read streaming with csv-parse (the run's options), the header
 * checked, every row read with parseRow and put in its shard by settlementShardOf(rowSettlementKey(row) ?? id); then
 * shard by shard: bookingsOf(our transactions of the day in the shard), matchShard, feeToBook and the totals of the
 * matched rows, classifyRow of each left-over row and classifyOurs of each left-over booking, with in-memory lookups
 * in place of the run's DynamoDB / PSP reads (its I/O: the S3 archive and shard parts, the ledger queries, the fixes,
 * the stored mismatches, is not what this measures).
 *
 * Reported: wall time, rows/s, CPU, peak RSS (sampled every 20 ms during the timed part, and the process's maxRSS
 * when that grew during it). Targets: at most 60 s and 1.5 GB (1.5 × 10^9 bytes); every injected mismatch found with
 * its type, nothing else reported; every other row matched.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parse } from 'csv-parse';
import { fromMinorUnits } from '../src/core/money';
import { SETTLEMENT_SHARDS, settlementKeyOf, settlementShardOf } from '../src/ledger/postings';
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
} from '../src/reconciliation/domain/match';
import type { MismatchType } from '../src/reconciliation/domain/mismatch';
import {
  checkHeader,
  parseRow,
  rowSettlementKey,
  type SettlementRow,
} from '../src/reconciliation/domain/settlement-row';
import { formatTable, type SuiteResult } from './harness';
import {
  chargeCells,
  chargeFeeOf,
  hex,
  movementIds,
  pad,
  prng,
  SettlementFileWriter,
  setAmounts,
  unknownChargeCells,
  utcTime,
} from './settlement-file';

const SEED = 20_240_501;
const DATE = '2024-05-01';
const PREVIOUS_DAY = '2024-04-30';
const NEXT_DAY = '2024-05-02';
const TIME_LIMIT_MS = 60_000;
const MEMORY_LIMIT_BYTES = 1_500_000_000;

type Kind = 'charge' | 'refund' | 'refund_failure' | 'transfer' | 'transfer_reversal' | 'dispute' | 'dispute_reversal';
/** What is done to one money movement (undefined: nothing, its row matches our booking of the day). */
type Fault =
  | 'duplicate'
  | 'drop'
  | 'late'
  | 'amount'
  | 'currency'
  | 'carried'
  | 'unknown_status'
  | 'executing_status'
  | 'failed_status'
  | 'unbooked_refund_failure'
  | 'unbooked_dispute';

/** Kinds of money movement by share (cumulative), the rest charges. */
const KIND_SHARES: Array<[Kind, number]> = [
  ['refund', 0.08],
  ['refund_failure', 0.09],
  ['transfer', 0.15],
  ['transfer_reversal', 0.16],
  ['dispute', 0.19],
  ['dispute_reversal', 0.2],
];
const CURRENCY_SHARES: Array<[string, number]> = [
  ['EUR', 0.6],
  ['USD', 0.85],
  ['GBP', 0.95],
  ['JPY', 1],
];
const DISPUTE_FEE: Record<string, number> = { EUR: 1500, USD: 1500, GBP: 1500, JPY: 2000 };

const utc = (second: number, day = DATE) => utcTime(second, day);

interface Day {
  file: string;
  fileBytes: number;
  rows: number;
  /** Our ledger transactions of the day, per shard (as the by-day index gives them). */
  oursByShard: BookedTransaction[][];
  ourTransactions: number;
  splitCharges: number;
  /** What the run's lookups would find for a left-over row's key (bookings of another day, records of ours). */
  lookups: Map<string, Lookup>;
  /** The day the PSP dates a booking of ours whose row is not in the file. */
  pspDays: Map<string, string>;
  /** Every injected mismatch: `type|subject` (subject: the balance transaction, else the key). */
  expected: Map<string, number>;
  expectedMatched: number;
  byFault: Partial<Record<Fault | 'unknown_row' | 'fee_row', number>>;
}

/** The seeded day: our transactions in memory, the file on disk. */
function generateDay(rowsWanted: number, dir: string): Day {
  const random = prng(SEED);
  const scale = rowsWanted / 1_000_000;
  const count = (n: number) => Math.max(2, Math.round(n * scale));
  const faultCounts: Record<Fault, number> = {
    duplicate: count(100),
    drop: count(100),
    late: count(100),
    amount: count(100),
    currency: count(100),
    carried: count(100),
    unknown_status: count(25),
    executing_status: count(25),
    failed_status: count(20),
    unbooked_refund_failure: count(20),
    unbooked_dispute: count(20),
  };
  const unknownRows = count(100);
  const feeRows = 4;
  // Rows = movements - dropped - late + duplicates + unknown rows + fee rows.
  const movements = rowsWanted - faultCounts.duplicate - unknownRows - feeRows + faultCounts.drop + faultCounts.late;

  const faults = new Map<number, Fault>();
  for (const [fault, n] of Object.entries(faultCounts) as Array<[Fault, number]>) {
    for (let k = 0; k < n; ) {
      const i = Math.floor(random() * movements);
      if (faults.has(i)) continue;
      faults.set(i, fault);
      k += 1;
    }
  }
  const unknownBefore = new Set<number>();
  while (unknownBefore.size < unknownRows) unknownBefore.add(Math.floor(random() * movements));

  const oursByShard: BookedTransaction[][] = Array.from({ length: SETTLEMENT_SHARDS }, () => []);
  const elsewhere: BookedTransaction[] = [];
  const lookups = new Map<string, Lookup>();
  const pspDays = new Map<string, string>();
  const expected = new Map<string, number>();
  const expect = (type: MismatchType, subject: string, line?: number) => {
    const id = `${type}|${subject}${line === undefined ? '' : `|${line}`}`;
    expected.set(id, (expected.get(id) ?? 0) + 1);
  };
  const byFault: Day['byFault'] = {};
  let ourTransactions = 0;
  let splitCharges = 0;
  let expectedMatched = 0;

  const file = path.join(dir, `settlement-${DATE}.csv`);
  const out = new SettlementFileWriter(file);
  const write = (cells: Record<string, string>) => out.write(cells);
  /** The file's line of the next row written (the header is line 1). */
  const nextLine = () => out.nextLine();
  const createdNow = () => utc(Math.min(86_399, Math.floor((out.written * 86_400) / rowsWanted)));
  const ledger = (t: Omit<BookedTransaction, 'settlement_key' | 'day'>, day = DATE) => {
    const key = settlementKeyOf(t.transaction_id, t.reference);
    const booked: BookedTransaction = { ...t, day, ...(key !== undefined && { settlement_key: key }) };
    if (day !== DATE) {
      elsewhere.push(booked);
      return;
    }
    oursByShard[settlementShardOf(key ?? t.transaction_id)]?.push(booked);
    ourTransactions += 1;
  };

  for (let f = 0; f < feeRows; f++) {
    const currency = CURRENCY_SHARES[f]?.[0] ?? 'EUR';
    const amount = -2500;
    write({
      balance_transaction_id: `txn_fee${pad(f, 21)}`,
      created_utc: utc(0),
      available_on_utc: utc(0),
      currency: currency.toLowerCase(),
      gross: fromMinorUnits(amount, currency),
      fee: fromMinorUnits(0, currency),
      net: fromMinorUnits(amount, currency),
      reporting_category: 'fee',
      description: 'Monthly platform fee',
    });
    expectedMatched += 1;
    byFault.fee_row = (byFault.fee_row ?? 0) + 1;
  }

  for (let i = 0; i < movements; i++) {
    if (unknownBefore.has(i)) {
      // A charge made directly at the PSP: no metadata of ours.
      const amount = 500 + Math.floor(random() * 20_000);
      const unknown = unknownChargeCells(i, amount, createdNow(), utc(0, NEXT_DAY));
      const id = unknown.balance_transaction_id ?? '';
      write(unknown);
      expect('unknown_row', id);
      byFault.unknown_row = (byFault.unknown_row ?? 0) + 1;
    }
    const fault = faults.get(i);
    if (fault) byFault[fault] = (byFault[fault] ?? 0) + 1;
    let kind: Kind = 'charge';
    const k = random();
    for (const [candidate, upTo] of KIND_SHARES) {
      if (k < upTo) {
        kind = candidate;
        break;
      }
    }
    if (fault === 'unknown_status' || fault === 'executing_status' || fault === 'failed_status') kind = 'charge';
    if (fault === 'unbooked_refund_failure') kind = 'refund_failure';
    if (fault === 'unbooked_dispute') kind = 'dispute';
    const c = random();
    const currency = CURRENCY_SHARES.find(([, upTo]) => c < upTo)?.[0] ?? 'EUR';
    const amount = 100 + Math.floor(random() * 50_000);
    const split = kind === 'charge' && random() < 0.05;
    const bookedDay = fault === 'carried' ? PREVIOUS_DAY : DATE;
    const unbooked =
      fault === 'unknown_status' ||
      fault === 'executing_status' ||
      fault === 'failed_status' ||
      fault === 'unbooked_refund_failure' ||
      fault === 'unbooked_dispute';

    const ids = movementIds(i);
    const id = ids.balance_transaction_id;
    const payment = ids.payment_id;
    const checkout = ids.checkout_id;
    const charge = ids.charge_id;
    const intent = ids.payment_intent_id;
    const created = createdNow();
    const cells: Record<string, string> = {
      balance_transaction_id: id,
      created_utc: created,
      available_on_utc: utc(Math.floor(random() * 86_400), NEXT_DAY),
      currency: currency.toLowerCase(),
      reporting_category: kind,
    };
    let gross: number;
    let fee = 0;
    let clearing: number;
    let key: string;
    switch (kind) {
      case 'charge': {
        fee = chargeFeeOf(amount);
        gross = amount;
        clearing = amount;
        key = `charge:${payment}`;
        Object.assign(cells, chargeCells(i, ids, amount, currency));
        if (!unbooked) {
          if (split) {
            const first = Math.max(1, Math.floor(amount * random()));
            ledger(
              { transaction_id: `payin:po_${pad(i, 20)}_a`, reference: payment, clearing_minor: first, currency },
              bookedDay,
            );
            ledger(
              {
                transaction_id: `payin:po_${pad(i, 20)}_b`,
                reference: payment,
                clearing_minor: amount - first,
                currency,
              },
              bookedDay,
            );
            splitCharges += 1;
          } else {
            ledger(
              { transaction_id: `payin:po_${pad(i, 20)}`, reference: payment, clearing_minor: amount, currency },
              bookedDay,
            );
          }
        } else {
          const status = { unknown_status: 'UNKNOWN', executing_status: 'EXECUTING', failed_status: 'FAILED' }[
            fault as 'unknown_status' | 'executing_status' | 'failed_status'
          ];
          lookups.set(key, { kind: 'payment', payment_id: payment, status, currency, total_minor: amount });
          expect(fault === 'failed_status' ? 'charged_but_failed' : 'missed_outcome', id);
        }
        break;
      }
      case 'refund':
      case 'refund_failure': {
        const refund = `rf_${hex(i)}`;
        gross = kind === 'refund' ? -amount : amount;
        clearing = gross;
        key = `${kind}:${refund}`;
        Object.assign(cells, {
          source_id: `re_${pad(i, 24)}`,
          description: kind === 'refund' ? 'REFUND FOR CHARGE' : 'REFUND FAILURE',
          customer_facing_amount: fromMinorUnits(gross, currency),
          customer_facing_currency: currency.toLowerCase(),
          charge_id: charge,
          payment_intent_id: intent,
          payment_method_type: 'card',
          card_brand: 'visa',
          card_country: 'FR',
          'payment_metadata[payment_id]': payment,
          'payment_metadata[checkout_id]': checkout,
          'refund_metadata[refund_id]': refund,
        });
        if (unbooked) {
          lookups.set(key, { kind: 'refund', refund_id: refund, status: 'SUCCEEDED' });
          expect('unbooked_reversal', id);
        } else {
          ledger(
            {
              transaction_id: kind === 'refund' ? `refund:${refund}` : `refund:${refund}:reversal`,
              reference: payment,
              clearing_minor: clearing,
              currency,
            },
            bookedDay,
          );
        }
        break;
      }
      case 'transfer':
      case 'transfer_reversal': {
        const payout = `po_${hex(i)}`;
        gross = kind === 'transfer' ? -amount : amount;
        clearing = gross;
        key = `${kind}:${payout}`;
        Object.assign(cells, {
          source_id: kind === 'transfer' ? `tr_${pad(i, 24)}` : `trr_${pad(i, 24)}`,
          description: kind === 'transfer' ? `payout ${payout}` : `payout ${payout} reversed`,
          connected_account_id: `acct_${pad(i % 5000, 16)}`,
          'transfer_metadata[payout_id]': payout,
        });
        ledger(
          {
            transaction_id: kind === 'transfer' ? `payout:${payout}:transfer` : `payout:${payout}:transfer-reversal`,
            reference: payout,
            clearing_minor: clearing,
            currency,
          },
          bookedDay,
        );
        break;
      }
      case 'dispute':
      case 'dispute_reversal': {
        const dispute = `du_${pad(i, 24)}`;
        const disputeFee = DISPUTE_FEE[currency] ?? 1500;
        gross = kind === 'dispute' ? -amount : amount;
        fee = kind === 'dispute' ? disputeFee : -disputeFee;
        clearing = gross - fee;
        key = `${kind}:${dispute}`;
        Object.assign(cells, {
          source_id: dispute,
          description: kind === 'dispute' ? 'Chargeback withdrawal' : 'Chargeback reversal',
          charge_id: charge,
          payment_intent_id: intent,
          payment_method_type: 'card',
          card_brand: 'visa',
          card_country: 'FR',
          dispute_reason: 'fraudulent',
          'payment_metadata[payment_id]': payment,
          'payment_metadata[checkout_id]': checkout,
        });
        if (unbooked) {
          lookups.set(key, { kind: 'dispute', dispute_id: dispute, payment_id: payment, known: true });
          expect('unbooked_reversal', id);
        } else {
          ledger(
            {
              transaction_id: kind === 'dispute' ? `dispute:${dispute}:withdrawal` : `dispute:${dispute}:reinstatement`,
              reference: payment,
              clearing_minor: clearing,
              currency,
            },
            bookedDay,
          );
        }
        break;
      }
    }

    if (fault === 'drop' || fault === 'late') {
      pspDays.set(key, fault === 'late' ? NEXT_DAY : DATE);
      expect(fault === 'late' ? 'timing' : 'missing_in_settlement', key);
      continue;
    }
    let rowCurrency = currency;
    if (fault === 'amount') {
      gross += 1 + Math.floor(random() * 99);
      expect('amount_mismatch', id);
    }
    if (fault === 'currency') {
      rowCurrency = currency === 'EUR' ? 'USD' : 'EUR';
      expect('currency_mismatch', id);
    }
    setAmounts(cells, gross, fee, rowCurrency);
    if (fault === undefined || fault === 'duplicate' || fault === 'carried') expectedMatched += 1;
    write(cells);
    if (fault === 'duplicate') {
      expect('duplicate_row', id, nextLine());
      write(cells);
    }
  }
  const fileBytes = out.close();

  for (const booking of bookingsOf(elsewhere).values()) lookups.set(booking.key, { kind: 'booked', booking });
  return {
    file,
    fileBytes,
    rows: out.written,
    oursByShard,
    ourTransactions,
    splitCharges,
    lookups,
    pspDays,
    expected,
    expectedMatched,
    byFault,
  };
}

/** Samples the process's RSS while it runs (the peak). */
function rssSampler(everyMs: number) {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, everyMs);
  return {
    sample: () => {
      peak = Math.max(peak, process.memoryUsage().rss);
    },
    stop: () => {
      clearInterval(timer);
      peak = Math.max(peak, process.memoryUsage().rss);
      return peak;
    },
  };
}

const mb = (bytes: number) => Math.round(bytes / 1e6);

export async function reconcileMatchSuite({ quick }: { quick: boolean }): Promise<SuiteResult> {
  const wanted = quick ? 100_000 : 1_000_000;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payments-bench-reconcile-'));
  try {
    process.stdout.write(
      `\nReconciliation matching: generating ${wanted.toLocaleString('en')} rows (seed ${SEED})...\n`,
    );
    const g0 = performance.now();
    const day = generateDay(wanted, dir);
    const generateMs = performance.now() - g0;
    const { oursByShard, lookups, pspDays } = day;

    // ---- timed: parse and split, then every shard matched and classified ------------------------------------
    const maxRssBefore = process.resourceUsage().maxRSS * 1024;
    const rss = rssSampler(20);
    const cpu = process.cpuUsage();
    const started = performance.now();
    const shardRows: SettlementRow[][] = Array.from({ length: SETTLEMENT_SHARDS }, () => []);
    let line = 0;
    let rows = 0;
    const parser = fs.createReadStream(day.file).pipe(parse({ relax_column_count: false, skip_empty_lines: true }));
    for await (const values of parser as AsyncIterable<string[]>) {
      line += 1;
      if (line === 1) {
        checkHeader(values);
        continue;
      }
      const row = parseRow(values, line);
      rows += 1;
      shardRows[settlementShardOf(rowSettlementKey(row) ?? row.balance_transaction_id, SETTLEMENT_SHARDS)]?.push(row);
    }
    if (line === 0) checkHeader([]);
    const parsed = performance.now();
    rss.sample();

    let matched = 0;
    let feesToBook = 0;
    let duplicates = 0;
    const found = new Map<string, number>();
    const byType: Partial<Record<MismatchType, number>> = {};
    const totals: Record<string, CurrencyTotals> = {};
    const report = (f: { type: MismatchType; balance_transaction_id?: string; key?: string; line?: number }) => {
      byType[f.type] = (byType[f.type] ?? 0) + 1;
      const id = `${f.type}|${f.balance_transaction_id ?? f.key}${f.type === 'duplicate_row' ? `|${f.line}` : ''}`;
      found.set(id, (found.get(id) ?? 0) + 1);
    };
    for (let shard = 0; shard < SETTLEMENT_SHARDS; shard++) {
      const shardTotals: Record<string, CurrencyTotals> = {};
      const joined = matchShard(shardRows[shard] ?? [], bookingsOf(oursByShard[shard] ?? []));
      // As the run: one shard's rows at a time (the next shard's are read from its parts then).
      shardRows[shard] = [];
      const matchedRow = (row: SettlementRow) => {
        matched += 1;
        if (feeToBook(row)) feesToBook += 1;
        addToTotals(shardTotals, row, true);
      };
      for (const { row } of joined.matched) matchedRow(row);
      for (const row of joined.feeRows) matchedRow(row);
      for (const { row, finding } of joined.findings) {
        report(finding);
        if (finding.type === 'duplicate_row') duplicates += 1;
        else addToTotals(shardTotals, row, false);
      }
      for (const row of joined.unmatchedRows) {
        const key = rowSettlementKey(row);
        const lookup: Lookup = (key === undefined ? undefined : lookups.get(key)) ?? { kind: 'none' };
        const classified = classifyRow(row, lookup);
        if ('matched' in classified) matchedRow(row);
        else {
          report(classified.finding);
          addToTotals(shardTotals, row, false);
        }
      }
      for (const booking of joined.unmatchedOurs) {
        const f = classifyOurs(booking, pspDays.get(booking.key) ?? null, DATE);
        if (f) report(f);
      }
      mergeTotals(totals, shardTotals);
      rss.sample();
    }
    const finished = performance.now();
    const cpuUs = process.cpuUsage(cpu);
    const sampledPeak = rss.stop();
    const maxRssAfter = process.resourceUsage().maxRSS * 1024;
    // maxRSS is the whole process's; it is the timed part's own peak only if it grew during it.
    const peakRss = maxRssAfter > maxRssBefore ? Math.max(maxRssAfter, sampledPeak) : sampledPeak;

    const wallMs = finished - started;
    const missing = [...day.expected].filter(([id, n]) => found.get(id) !== n).map(([id]) => id);
    const unexpected = [...found].filter(([id, n]) => day.expected.get(id) !== n).map(([id]) => id);
    const injected = [...day.expected.values()].reduce((a, b) => a + b, 0);
    const totalsRows = Object.values(totals).reduce((sum, t) => sum + t.rows, 0);

    const table = [
      ['rows in the file', rows.toLocaleString('en')],
      ['file size (MB)', mb(day.fileBytes)],
      ['our ledger transactions of the day', day.ourTransactions.toLocaleString('en')],
      ['  of them charges split across 2 orders (pairs)', day.splitCharges.toLocaleString('en')],
      ['generation, not timed (s)', (generateMs / 1000).toFixed(1)],
      ['parse + split into 16 shards (s)', ((parsed - started) / 1000).toFixed(1)],
      ['match + classify, 16 shards (s)', ((finished - parsed) / 1000).toFixed(1)],
      ['wall time (s)', (wallMs / 1000).toFixed(1)],
      ['rows/s', Math.round(rows / (wallMs / 1000)).toLocaleString('en')],
      ['CPU user + system (s)', ((cpuUs.user + cpuUs.system) / 1e6).toFixed(1)],
      ['peak RSS, timed part (MB)', mb(peakRss)],
      ['  sampled every 20 ms (MB)', mb(sampledPeak)],
      ['  process maxRSS before / after (MB)', `${mb(maxRssBefore)} / ${mb(maxRssAfter)}`],
      ['matched (expected)', `${matched.toLocaleString('en')} (${day.expectedMatched.toLocaleString('en')})`],
      ['fees to book', feesToBook.toLocaleString('en')],
      ['duplicates counted once', duplicates],
      ['mismatches injected / found', `${injected} / ${[...found.values()].reduce((a, b) => a + b, 0)}`],
      ...Object.entries(byType).map(([type, n]) => [`  ${type}`, n]),
      ['injected, not found as injected', missing.length],
      ['found, not injected', unexpected.length],
    ];
    process.stdout.write(`\nReconciliation matching\n${formatTable(['measure', 'value'], table)}\n`);
    for (const id of [...missing.slice(0, 5), ...unexpected.slice(0, 5)]) process.stdout.write(`  ${id}\n`);

    return {
      suite: 'reconcile-match',
      rows: [],
      details: {
        seed: SEED,
        rows,
        file_bytes: day.fileBytes,
        our_transactions: day.ourTransactions,
        split_charges: day.splitCharges,
        generate_ms: Math.round(generateMs),
        parse_split_ms: Math.round(parsed - started),
        match_classify_ms: Math.round(finished - parsed),
        wall_ms: Math.round(wallMs),
        rows_per_second: Math.round(rows / (wallMs / 1000)),
        cpu_ms: Math.round((cpuUs.user + cpuUs.system) / 1000),
        peak_rss_bytes: peakRss,
        sampled_peak_rss_bytes: sampledPeak,
        max_rss_before_bytes: maxRssBefore,
        max_rss_after_bytes: maxRssAfter,
        matched,
        expected_matched: day.expectedMatched,
        fees_to_book: feesToBook,
        injected: day.byFault,
        by_type: byType,
        mismatches_injected: injected,
        missing: missing.slice(0, 20),
        unexpected: unexpected.slice(0, 20),
        totals_rows: totalsRows,
      },
      targets: {
        ...(!quick && {
          'matching 1,000,000 rows against 1,000,000 records of ours in at most 60 s': wallMs <= TIME_LIMIT_MS,
          'peak memory (RSS) at most 1.5 GB': peakRss <= MEMORY_LIMIT_BYTES,
        }),
        'every injected mismatch found with its type, nothing else reported':
          missing.length === 0 && unexpected.length === 0,
        'every other row matched': matched === day.expectedMatched,
      },
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
