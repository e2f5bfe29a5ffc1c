/**
 * Reconciliation end to end on the local stack (issue 10, "Scale": 100,000 rows, fetch, archive, match against
 * DynamoDB Local, store, in at most 5 minutes). The stack is started as `npm start -- --in-memory` would (a child
 * process, as the payout-run suite does) and driven over HTTP with its dev key.
 *
 * Not timed:
 * - seeding: 100,000 pay-ins of today (UTC), each a payment of ours charged once at the PSP, ~5 % of them split
 *   across two orders (one ledger transaction per order): `payInTransaction` of src/ledger/postings.ts, written with
 *   the project's own `LedgerTable.appendManyOnce` (one DynamoDB transaction of at most 100 items per call, a few
 *   calls at a time) straight into the stack's DynamoDB Local; its time reported on its own;
 * - the day's settlement file of the same money movements (bench/settlement-file.ts, the generator of
 *   reconcile-match: the report's exact columns, amounts in major units, `payment_metadata[payment_id]` set, the
 *   PSP's fee at 2.9 % + 30), with a small seeded set of mismatches: rows whose gross differs from our booking
 *   (amount_mismatch), charges made directly at the PSP with no metadata of ours (unknown_row), pay-ins of ours with
 *   no row (missing_in_settlement); put in the stack's settlement bucket (fauxqs's S3, path style, bucket
 *   `settlement`, as scripts/reconcile.ts does, but in parts: fauxqs refuses a single request body over 11 MiB).
 *
 * Timed: `POST /v1/reconciliation/runs {date, file_key}`, then `GET /v1/reconciliation/runs/{id}` every second
 * until the run is no longer RUNNING. The phases as the run's fields show them (at the poll's 1 s resolution):
 * archive + split (until shards_total > 0), the shards matched (until shards_done = shards_total), the finish
 * (until COMPLETED); and, from the stack's log (bench-results/reconcile-e2e-stack.log), when the split step and
 * each shard (`reconciliation shard matched`) ended. The stack process's RSS (and DynamoDB Local's, its Java child)
 * is sampled at every poll, and the CPU each used during the run read, from /proc (Linux only).
 *
 * Targets: COMPLETED within 5 minutes; every row matched but the injected ones, and every row's PSP fee booked once
 * (mismatched rows' too: the PSP took it); every injected mismatch reported (GET
 * /v1/reconciliation/mismatches?run_id=) with its type, nothing else.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Upload } from '@aws-sdk/lib-storage';
import { tableSchemas } from '../src/core/table-schemas';
import { LedgerTable } from '../src/ledger/ledger-table';
import { type LedgerTransaction, payInTransaction } from '../src/ledger/postings';
import { call } from '../test/support/api-client';
import { type StackInfo, startStackProcess } from '../test/support/local-stack-process';
import { formatTable, RESULTS_DIR, type SuiteResult } from './harness';
import {
  chargeCells,
  chargeFeeOf,
  movementIds,
  pad,
  prng,
  SettlementFileWriter,
  setAmounts,
  unknownChargeCells,
  utcTime,
} from './settlement-file';

const SEED = 20_261_129;
const TIME_LIMIT_MS = 5 * 60_000;
/** How long the benchmark waits for the run at most (it reports the run as it is then). */
const GIVE_UP_MS = 30 * 60_000;
const POLL_MS = 1_000;
/** Ledger transactions per appendManyOnce call: 25 pay-ins (a header and the seller's payable entry each), one DynamoDB transaction. */
const SEED_BATCH = 25;
/** appendManyOnce calls in flight while seeding. */
const SEED_CONCURRENCY = 4;
const SELLERS = 2_000;
/**
 * The stack's log, one per benchmark run, with the results (git-ignored): not in test-artifacts/, which the
 * integration tests' setup empties (another session's test run would take it away mid-run).
 */
const LOG_FILE = path.join(RESULTS_DIR, 'reconcile-e2e-stack.log');

const CURRENCY_SHARES: Array<[string, number]> = [
  ['EUR', 0.6],
  ['USD', 0.85],
  ['GBP', 0.95],
  ['JPY', 1],
];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const seconds = (ms: number) => (Number.isFinite(ms) ? (ms / 1000).toFixed(1) : 'n/a');
const mb = (bytes: number | undefined) => (bytes === undefined ? 'n/a' : String(Math.round(bytes / 1e6)));
const dayAfter = (day: string) => new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);

/** Runs `work` over `items` with at most `limit` in flight. */
async function pool<T>(items: T[], limit: number, work: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

interface Faults {
  amount: number;
  drop: number;
  unknown: number;
}

interface Day {
  file: string;
  fileBytes: number;
  rows: number;
  movements: number;
  /** Our ledger transactions (one per order), to seed. */
  transactions: LedgerTransaction[];
  splitPayments: number;
  /** Every injected mismatch: `type|subject` (the balance transaction; for a row we lack, our settlement key). */
  expected: Set<string>;
  expectedByType: Record<string, number>;
  expectedMatched: number;
  /** Rows whose PSP fee the run books (every row's, whatever else it shows: all of them here). */
  expectedFees: number;
}

/** The seeded day: our pay-ins in memory, the PSP's file of them (and the injected faults) on disk. */
function generateDay(movements: number, faults: Faults, date: string, dir: string): Day {
  const random = prng(SEED);
  const nextDay = dayAfter(date);
  const faultOf = new Map<number, 'amount' | 'drop'>();
  for (const [fault, n] of [
    ['amount', faults.amount],
    ['drop', faults.drop],
  ] as const) {
    for (let k = 0; k < n; ) {
      const i = Math.floor(random() * movements);
      if (faultOf.has(i)) continue;
      faultOf.set(i, fault);
      k += 1;
    }
  }
  const unknownBefore = new Set<number>();
  while (unknownBefore.size < faults.unknown) unknownBefore.add(Math.floor(random() * movements));

  const rowsExpected = movements - faults.drop + faults.unknown;
  const out = new SettlementFileWriter(path.join(dir, `settlement-${date}.csv`));
  const createdNow = () => utcTime(Math.min(86_399, Math.floor((out.written * 86_400) / rowsExpected)), date);
  const transactions: LedgerTransaction[] = [];
  const expected = new Set<string>();
  const expectedByType: Record<string, number> = {};
  const expect = (type: string, subject: string) => {
    expected.add(`${type}|${subject}`);
    expectedByType[type] = (expectedByType[type] ?? 0) + 1;
  };
  let splitPayments = 0;
  let expectedMatched = 0;
  let expectedFees = 0;

  for (let i = 0; i < movements; i++) {
    if (unknownBefore.has(i)) {
      const amount = 500 + Math.floor(random() * 20_000);
      const unknown = unknownChargeCells(i, amount, createdNow(), utcTime(0, nextDay));
      out.write(unknown);
      expectedFees += 1;
      expect('unknown_row', unknown.balance_transaction_id ?? '');
    }
    const fault = faultOf.get(i);
    const c = random();
    const currency = CURRENCY_SHARES.find(([, upTo]) => c < upTo)?.[0] ?? 'EUR';
    const amount = 100 + Math.floor(random() * 50_000);
    const split = random() < 0.05;
    const ids = movementIds(i);

    // Ours: the payment's orders, each booked by its pay-in (the platform keeps 5 %).
    const orders = split
      ? (() => {
          const first = Math.max(1, Math.floor(amount * random()));
          return [
            { id: `po_${pad(i, 20)}_a`, seller: `seller_${pad(i % SELLERS, 6)}`, amount: first },
            { id: `po_${pad(i, 20)}_b`, seller: `seller_${pad((i + 1) % SELLERS, 6)}`, amount: amount - first },
          ];
        })()
      : [{ id: `po_${pad(i, 20)}`, seller: `seller_${pad(i % SELLERS, 6)}`, amount }];
    if (split) splitPayments += 1;
    for (const order of orders) {
      transactions.push(
        payInTransaction({
          payment_id: ids.payment_id,
          payment_order_id: order.id,
          seller_account: order.seller,
          currency,
          amount_minor: order.amount,
          fee_minor: Math.round(order.amount * 0.05),
        }),
      );
    }

    // The PSP's: the charge's row.
    if (fault === 'drop') {
      expect('missing_in_settlement', `charge:${ids.payment_id}`);
      continue;
    }
    const cells: Record<string, string> = {
      balance_transaction_id: ids.balance_transaction_id,
      created_utc: createdNow(),
      available_on_utc: utcTime(Math.floor(random() * 86_400), nextDay),
      reporting_category: 'charge',
      ...chargeCells(i, ids, amount, currency),
    };
    let gross = amount;
    if (fault === 'amount') {
      gross += 1 + Math.floor(random() * 99);
      expect('amount_mismatch', ids.balance_transaction_id);
    } else {
      expectedMatched += 1;
    }
    setAmounts(cells, gross, chargeFeeOf(amount), currency);
    out.write(cells);
    expectedFees += 1;
  }
  const fileBytes = out.close();
  return {
    file: out.file,
    fileBytes,
    rows: out.written,
    movements,
    transactions,
    splitPayments,
    expected,
    expectedByType,
    expectedMatched,
    expectedFees,
  };
}

// ---- the stack's processes' memory (Linux /proc) ----------------------------------------------------------------

/** A field of /proc/<pid>/status in bytes (VmRSS, VmHWM), undefined when unreadable (not Linux, process gone). */
function procStatusBytes(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** The descendants of `root` (its children, theirs...), from /proc/<pid>/stat. */
function descendants(root: number): Array<{ pid: number; command: string }> {
  const parentOf = new Map<number, { ppid: number; command: string }>();
  let entries: string[] = [];
  try {
    entries = fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return [];
  }
  for (const name of entries) {
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const command = stat.slice(stat.indexOf('(') + 1, close);
      const ppid = Number(stat.slice(close + 2).split(' ')[1]);
      parentOf.set(Number(name), { ppid, command });
    } catch {
      // gone meanwhile
    }
  }
  const found: Array<{ pid: number; command: string }> = [];
  const frontier = [root];
  while (frontier.length > 0) {
    const parent = frontier.pop() as number;
    for (const [pid, { ppid, command }] of parentOf) {
      if (ppid === parent) {
        found.push({ pid, command });
        frontier.push(pid);
      }
    }
  }
  return found;
}

/** CPU time (user + system) of a process so far, in seconds (clock ticks of 1/100 s), undefined when unreadable. */
function procCpuSeconds(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/**
 * The stack's Node process (the API, the engine and every function) and DynamoDB Local (its Java descendant): peak
 * RSS sampled, and the CPU each used from `start()` to `result()`.
 */
function processSampler(stackPid: number | undefined) {
  const java = stackPid === undefined ? undefined : descendants(stackPid).find((p) => p.command === 'java')?.pid;
  let stackPeak: number | undefined;
  let javaPeak: number | undefined;
  let stackCpu0: number | undefined;
  let javaCpu0: number | undefined;
  const max = (a: number | undefined, b: number | undefined) => (b === undefined ? a : Math.max(a ?? 0, b));
  const since = (pid: number | undefined, from: number | undefined) => {
    const now = pid === undefined ? undefined : procCpuSeconds(pid);
    return now === undefined || from === undefined ? undefined : Math.round((now - from) * 10) / 10;
  };
  return {
    start() {
      stackCpu0 = stackPid === undefined ? undefined : procCpuSeconds(stackPid);
      javaCpu0 = java === undefined ? undefined : procCpuSeconds(java);
      this.sample();
    },
    sample() {
      if (stackPid !== undefined) stackPeak = max(stackPeak, procStatusBytes(stackPid, 'VmRSS'));
      if (java !== undefined) javaPeak = max(javaPeak, procStatusBytes(java, 'VmRSS'));
    },
    result() {
      return {
        stack_sampled_peak_rss_bytes: stackPeak,
        stack_vmhwm_bytes: stackPid === undefined ? undefined : procStatusBytes(stackPid, 'VmHWM'),
        dynamodb_local_sampled_peak_rss_bytes: javaPeak,
        dynamodb_local_vmhwm_bytes: java === undefined ? undefined : procStatusBytes(java, 'VmHWM'),
        stack_cpu_seconds: since(stackPid, stackCpu0),
        dynamodb_local_cpu_seconds: since(java, javaCpu0),
      };
    },
  };
}

// ---- the run, over HTTP -----------------------------------------------------------------------------------------

interface RunView {
  run_id: string;
  status: 'RUNNING' | 'COMPLETED' | 'FAILED';
  rows: number;
  matched: number;
  fees_booked: number;
  fees_booked_new: number;
  shards_total: number;
  shards_done: number;
  mismatches: { auto_fixed: number; manual: number; unclassifiable: number };
  by_type: Record<string, number>;
  internal: { transactions_checked: number } | null;
  error: string | null;
}

interface MismatchView {
  type: string;
  class: string;
  key?: string;
  balance_transaction_id?: string;
}

async function allMismatches(stack: StackInfo, runId: string): Promise<MismatchView[]> {
  const all: MismatchView[] = [];
  let cursor: string | undefined;
  do {
    const page = await call<{ data: MismatchView[]; next_cursor?: string }>(
      'GET',
      `/v1/reconciliation/mismatches?run_id=${encodeURIComponent(runId)}&limit=100${cursor ? `&cursor=${cursor}` : ''}`,
      { stack },
    );
    if (page.status !== 200) throw new Error(`GET /v1/reconciliation/mismatches: ${page.status}`);
    all.push(...page.body.data);
    cursor = page.body.next_cursor;
  } while (cursor);
  return all;
}

/** The run's own log lines (the stack writes JSON lines): when the split step and each shard ended. */
function runLog(runId: string, postedAt: number) {
  const at = (line: { timestamp?: string }) => (line.timestamp ? Date.parse(line.timestamp) - postedAt : Number.NaN);
  let splitEndMs = Number.NaN;
  let completedMs = Number.NaN;
  const shards: Array<{ shard: number; rows: number; ended_ms: number }> = [];
  let text = '';
  try {
    text = fs.readFileSync(LOG_FILE, 'utf8');
  } catch {
    return { split_end_ms: splitEndMs, completed_ms: completedMs, shards };
  }
  for (const raw of text.split('\n')) {
    if (!raw.startsWith('{') || !raw.includes(runId)) continue;
    let line: { message?: string; timestamp?: string; run_id?: string; shard?: number; rows?: number };
    try {
      line = JSON.parse(raw);
    } catch {
      continue;
    }
    if (line.run_id !== runId) continue;
    if (line.message === 'settlement file archived and split') splitEndMs = at(line);
    if (line.message === 'reconciliation run completed') completedMs = at(line);
    if (line.message === 'reconciliation shard matched') {
      shards.push({ shard: Number(line.shard), rows: Number(line.rows), ended_ms: at(line) });
    }
  }
  shards.sort((a, b) => a.ended_ms - b.ended_ms);
  return { split_end_ms: splitEndMs, completed_ms: completedMs, shards };
}

export async function reconcileE2eSuite({ quick }: { quick: boolean }): Promise<SuiteResult> {
  const movements = quick ? 5_000 : 100_000;
  const faults: Faults = quick ? { amount: 5, drop: 2, unknown: 5 } : { amount: 50, drop: 20, unknown: 50 };
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'payments-bench-reconcile-e2e-'));
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'payments-bench-reconcile-e2e-file-'));
  process.stdout.write(
    `\nReconciliation end to end: starting the local stack (log: ${path.relative(process.cwd(), LOG_FILE)})...\n`,
  );
  fs.rmSync(LOG_FILE, { force: true });
  const stack = await startStackProcess({
    dataDir,
    logFile: LOG_FILE,
    // INFO: the run's steps log their ends (the phases below are read from the log). No scheduled run.
    env: {
      POWERTOOLS_LOG_LEVEL: 'INFO',
      RECONCILIATION_INTERVAL_SECONDS: '86400',
      PAYOUT_RUN_INTERVAL_SECONDS: '86400',
    },
  });
  const info = stack.info;
  const processes = processSampler(stack.child.pid);
  const dynamo = new DynamoDBClient({
    endpoint: info.urls.dynamodb,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const s3 = new S3Client({
    region: 'us-east-1',
    endpoint: info.urls.sqs,
    forcePathStyle: true,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  let measured: Awaited<ReturnType<typeof measureRun>>;
  try {
    measured = await measureRun();
  } finally {
    dynamo.destroy();
    s3.destroy();
    await stack.stop('SIGTERM');
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(workDir, { recursive: true, force: true });
  }

  async function measureRun() {
    // ---- not timed: our pay-ins of the day, the PSP's file ---------------------------------------------------
    const date = new Date().toISOString().slice(0, 10);
    process.stdout.write(`  generating ${movements.toLocaleString('en')} pay-ins of ${date} (seed ${SEED})...\n`);
    const g0 = performance.now();
    const day = generateDay(movements, faults, date, workDir);
    const generateMs = performance.now() - g0;

    // As the functions build theirs (src/core/clients.ts), against the stack's DynamoDB Local and its Ledger table.
    const doc = DynamoDBDocumentClient.from(dynamo, { marshallOptions: { removeUndefinedValues: true } });
    const ledger = new LedgerTable(doc, tableSchemas.ledger.id);
    const batches: LedgerTransaction[][] = [];
    for (let i = 0; i < day.transactions.length; i += SEED_BATCH) {
      batches.push(day.transactions.slice(i, i + SEED_BATCH));
    }
    let seeded = 0;
    const s0 = performance.now();
    await pool(batches, SEED_CONCURRENCY, async (batch) => {
      const booked = await ledger.appendManyOnce(batch);
      if (booked.size !== batch.length) throw new Error(`seeding: ${batch.length - booked.size} pay-ins not booked`);
      seeded += batch.length;
      if (seeded % (SEED_BATCH * 800) < SEED_BATCH || seeded === day.transactions.length) {
        process.stdout.write(
          `${process.stdout.isTTY ? '\r' : ''}  seeding the ledger: ${seeded.toLocaleString('en')}/${day.transactions.length.toLocaleString('en')} pay-ins, ${seconds(performance.now() - s0)} s${process.stdout.isTTY ? '' : '\n'}`,
        );
      }
    });
    // The payments' orders, as the pay-in leaves them once charged, credited and booked (the run checks each order of
    // a matched charge), written straight as items: the pay-in's own writes are not what this suite measures.
    const orderItems = day.transactions.map((t) => {
      const orderId = t.transaction_id.slice('payin:'.length);
      return {
        pk: `PAY#${t.reference}`,
        sk: `ORDER#${orderId}`,
        entity: 'ORDER',
        payment_id: t.reference,
        payment_order_id: orderId,
        status: 'SUCCESS',
        wallet_updated: true,
        ledger_updated: true,
      };
    });
    const orderBatches: (typeof orderItems)[] = [];
    for (let i = 0; i < orderItems.length; i += 25) orderBatches.push(orderItems.slice(i, i + 25));
    await pool(orderBatches, SEED_CONCURRENCY, async (items) => {
      let pending = items.map((Item) => ({ PutRequest: { Item } }));
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 20) throw new Error('seeding orders: DynamoDB Local kept items unprocessed');
        const out = await doc.send(new BatchWriteCommand({ RequestItems: { [tableSchemas.payments.id]: pending } }));
        pending = (out.UnprocessedItems?.[tableSchemas.payments.id] ?? []) as typeof pending;
      }
    });
    const seedMs = performance.now() - s0;
    if (process.stdout.isTTY) process.stdout.write('\n');
    if (new Date().toISOString().slice(0, 10) !== date) {
      throw new Error(`the UTC day changed while seeding (the pay-ins are booked on the day they are written)`);
    }

    const fileKey = `uploads/${date}/bench-reconcile-e2e-${Date.now()}.csv`;
    const u0 = performance.now();
    // Multipart, as the run's archive writes (src/reconciliation/adapters.ts): fauxqs refuses a request body over
    // 11 MiB, and the file is about 30 MB.
    await new Upload({
      client: s3,
      params: { Bucket: 'settlement', Key: fileKey, Body: fs.createReadStream(day.file), ContentType: 'text/csv' },
      queueSize: 2,
      partSize: 8 * 1024 * 1024,
    }).done();
    const uploadMs = performance.now() - u0;

    // ---- timed: the run, from its POST until it is no longer RUNNING ------------------------------------------
    processes.start();
    const postedAt = Date.now();
    const started = performance.now();
    const post = await call<RunView>('POST', '/v1/reconciliation/runs', {
      body: { date, file_key: fileKey },
      stack: info,
    });
    if (post.status !== 202)
      throw new Error(`POST /v1/reconciliation/runs: ${post.status} ${JSON.stringify(post.body)}`);
    const runId = post.body.run_id;
    let splitMs = Number.NaN;
    let matchedMs = Number.NaN;
    const shardsSeen: Array<{ shards_done: number; at_ms: number }> = [];
    let last: RunView = post.body;
    const interactive = process.stdout.isTTY;
    let printedAt = Number.NEGATIVE_INFINITY;
    let printedShards = -1;
    const postedMs = performance.now() - started;
    for (let poll = 1; ; poll++) {
      // Every second from the POST's answer.
      await sleep(Math.max(0, started + postedMs + poll * POLL_MS - performance.now()));
      const got = await call<RunView>('GET', `/v1/reconciliation/runs/${encodeURIComponent(runId)}`, { stack: info });
      if (got.status !== 200) throw new Error(`GET /v1/reconciliation/runs/${runId}: ${got.status}`);
      last = got.body;
      const at = performance.now() - started;
      processes.sample();
      if (Number.isNaN(splitMs) && last.shards_total > 0) splitMs = at;
      if (last.shards_total > 0 && last.shards_done > (shardsSeen.at(-1)?.shards_done ?? 0)) {
        shardsSeen.push({ shards_done: last.shards_done, at_ms: Math.round(at) });
      }
      if (Number.isNaN(matchedMs) && last.shards_total > 0 && last.shards_done >= last.shards_total) matchedMs = at;
      const done = last.status !== 'RUNNING' || at > GIVE_UP_MS;
      // A TTY: one line, redrawn; else a line when a shard is done or every 15 s.
      if (interactive || done || last.shards_done !== printedShards || at - printedAt >= 15_000) {
        process.stdout.write(
          `${interactive ? '\r' : ''}  reconciliation run: ${seconds(at)} s, ${last.status}, rows ${last.rows}, shards ${last.shards_done}/${last.shards_total}${interactive ? '   ' : '\n'}`,
        );
        printedAt = at;
        printedShards = last.shards_done;
      }
      if (done) break;
    }
    const wallMs = performance.now() - started;
    if (interactive) process.stdout.write('\n');
    // Before the stack stops: its processes' high-water marks and CPU.
    const used = processes.result();
    const mismatches = last.status === 'COMPLETED' ? await allMismatches(info, runId) : [];
    return {
      date,
      day,
      generateMs,
      seedMs,
      uploadMs,
      runId,
      postedAt,
      splitMs,
      matchedMs,
      wallMs,
      shardsSeen,
      last,
      mismatches,
      used,
    };
  }

  const { day, last, mismatches, wallMs, splitMs, matchedMs } = measured;
  const log = runLog(measured.runId, measured.postedAt);
  const mem = measured.used;
  const completed = last.status === 'COMPLETED';

  const found = new Map<string, number>();
  for (const m of mismatches) {
    const id = `${m.type}|${m.type === 'missing_in_settlement' ? m.key : (m.balance_transaction_id ?? m.key)}`;
    found.set(id, (found.get(id) ?? 0) + 1);
  }
  const missing = [...day.expected].filter((id) => found.get(id) !== 1);
  const unexpected = [...found].filter(([id, n]) => !day.expected.has(id) || n !== 1).map(([id]) => id);
  const byTypeAsInjected =
    Object.keys({ ...last.by_type, ...day.expectedByType }).every(
      (type) => (last.by_type[type] ?? 0) === (day.expectedByType[type] ?? 0),
    ) &&
    last.mismatches.manual ===
      (day.expectedByType.amount_mismatch ?? 0) + (day.expectedByType.missing_in_settlement ?? 0) &&
    last.mismatches.unclassifiable === (day.expectedByType.unknown_row ?? 0) &&
    last.mismatches.auto_fixed === 0;
  const shardEnds = log.shards.map((s) => s.ended_ms);

  const rows = [
    ['pay-ins of ours (payments)', day.movements.toLocaleString('en')],
    ['  of them split across 2 orders', day.splitPayments.toLocaleString('en')],
    ['ledger transactions seeded', day.transactions.length.toLocaleString('en')],
    ['rows in the file', day.rows.toLocaleString('en')],
    ['file size (MB)', mb(day.fileBytes)],
    ['injected: amount deltas / unknown rows / dropped rows', `${faults.amount} / ${faults.unknown} / ${faults.drop}`],
    ['generation, not timed (s)', seconds(measured.generateMs)],
    [
      `seeding the ledger, not timed (s; ${SEED_BATCH} pay-ins per appendManyOnce, ${SEED_CONCURRENCY} at a time)`,
      seconds(measured.seedMs),
    ],
    ['  pay-ins/s', Math.round(day.transactions.length / (measured.seedMs / 1000)).toLocaleString('en')],
    ['file put in the settlement bucket, not timed (s)', seconds(measured.uploadMs)],
    ['run status', last.status + (last.error ? ` (${last.error})` : '')],
    ...(last.error?.includes('States.Timeout')
      ? [['  (a Task state ran longer than its TimeoutSeconds; the local engine defaults it to 60 s)', '']]
      : []),
    ['run wall time, POST to not RUNNING (s)', seconds(wallMs)],
    ['  archive + split: shards_total > 0 at (s)', seconds(splitMs)],
    ['    split step ended, from the log (s)', seconds(log.split_end_ms)],
    ['  shards matched: shards_done = shards_total at (s)', seconds(matchedMs)],
    [
      '    first / median / last shard ended, from the log (s)',
      shardEnds.length > 0
        ? `${seconds(shardEnds[0] ?? Number.NaN)} / ${seconds(shardEnds[Math.floor((shardEnds.length - 1) / 2)] ?? Number.NaN)} / ${seconds(shardEnds.at(-1) ?? Number.NaN)}`
        : 'n/a',
    ],
    ['  finish: COMPLETED at, from the log (s)', seconds(log.completed_ms)],
    ['rows/s (wall, when COMPLETED)', completed ? Math.round(last.rows / (wallMs / 1000)).toLocaleString('en') : 'n/a'],
    ['rows', last.rows.toLocaleString('en')],
    ['matched (expected)', `${last.matched.toLocaleString('en')} (${day.expectedMatched.toLocaleString('en')})`],
    [
      'fees booked, new (expected)',
      `${last.fees_booked.toLocaleString('en')}, ${last.fees_booked_new.toLocaleString('en')} (${day.expectedFees.toLocaleString('en')})`,
    ],
    [
      'mismatches: auto_fixed / manual / unclassifiable',
      `${last.mismatches.auto_fixed} / ${last.mismatches.manual} / ${last.mismatches.unclassifiable}`,
    ],
    ...Object.entries(last.by_type).map(([type, n]) => [
      `  ${type} (injected)`,
      `${n} (${day.expectedByType[type] ?? 0})`,
    ]),
    ['mismatches listed for the run', mismatches.length],
    ['injected, not reported as injected', missing.length],
    ['reported, not injected', unexpected.length],
    ['stack process (Node) peak RSS, sampled each poll (MB)', mb(mem.stack_sampled_peak_rss_bytes)],
    ['  its VmHWM (MB)', mb(mem.stack_vmhwm_bytes)],
    ['DynamoDB Local (Java) peak RSS, sampled each poll (MB)', mb(mem.dynamodb_local_sampled_peak_rss_bytes)],
    [
      'CPU during the run (s): stack process (Node) / DynamoDB Local (Java)',
      `${mem.stack_cpu_seconds ?? 'n/a'} / ${mem.dynamodb_local_cpu_seconds ?? 'n/a'}`,
    ],
  ];
  process.stdout.write(`\nReconciliation end to end (local stack)\n${formatTable(['measure', 'value'], rows)}\n`);
  for (const id of [...missing.slice(0, 5), ...unexpected.slice(0, 5)]) process.stdout.write(`  ${id}\n`);

  return {
    suite: 'reconcile-e2e',
    rows: [],
    details: {
      seed: SEED,
      date: measured.date,
      run_id: measured.runId,
      movements: day.movements,
      split_payments: day.splitPayments,
      ledger_transactions: day.transactions.length,
      file_rows: day.rows,
      file_bytes: day.fileBytes,
      injected: faults,
      generate_ms: Math.round(measured.generateMs),
      seed_ms: Math.round(measured.seedMs),
      seed_batch: SEED_BATCH,
      seed_concurrency: SEED_CONCURRENCY,
      upload_ms: Math.round(measured.uploadMs),
      status: last.status,
      error: last.error,
      wall_ms: Math.round(wallMs),
      split_seen_ms: Number.isFinite(splitMs) ? Math.round(splitMs) : null,
      shards_matched_seen_ms: Number.isFinite(matchedMs) ? Math.round(matchedMs) : null,
      shards_seen: measured.shardsSeen,
      log: log,
      rows: last.rows,
      matched: last.matched,
      expected_matched: day.expectedMatched,
      expected_fees: day.expectedFees,
      fees_booked: last.fees_booked,
      fees_booked_new: last.fees_booked_new,
      mismatches: last.mismatches,
      by_type: last.by_type,
      expected_by_type: day.expectedByType,
      transactions_checked: last.internal?.transactions_checked ?? null,
      missing: missing.slice(0, 20),
      unexpected: unexpected.slice(0, 20),
      processes: mem,
    },
    targets: {
      ...(!quick && {
        'reconciliation of 100,000 rows on the local stack COMPLETED in at most 5 minutes':
          completed && wallMs <= TIME_LIMIT_MS,
      }),
      "every row matched except the injected ones, every row's fee booked once":
        completed &&
        last.rows === day.rows &&
        last.matched === day.expectedMatched &&
        last.fees_booked === day.expectedFees &&
        last.fees_booked_new === day.expectedFees,
      'every injected mismatch reported with its type, nothing else':
        completed && missing.length === 0 && unexpected.length === 0 && byTypeAsInjected,
    },
  };
}
