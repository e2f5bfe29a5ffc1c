/**
 * The pay-in, measured (`npm run bench -- payin`): on the in-memory local stack (a child process, as `npm start`).
 *
 * 1. Per payment, counted (deterministic, comparable across machines): payments made one at a time through a stack
 *    whose functions reach DynamoDB Local through the meter (local/dynamodb-meter.ts): DynamoDB calls by operation
 *    and table, items per transaction, write and read capacity units as DynamoDB reports them, Step Functions state
 *    transitions (from the execution's history), webhook events; modelled from those: function invocations (the
 *    API's two, each task and retry, two per webhook) and PSP calls (those on the payment's timeline, and the
 *    PaymentIntent each payment webhook re-reads); and what a million such payments would cost on AWS at list prices
 *    (PRICES below, with their date; CloudWatch, X-Ray and KMS not modelled).
 * 2. Under load: a second stack (no meter: it would share the stack's event loop), open-loop offered rates of
 *    2-order checkouts: accepted/s, completed/s, acceptance latency (POST -> 202) and created -> SUCCESS, errors; the
 *    invariant checker over every payment made.
 * 3. The store's ceiling for our own write mix: the DynamoDB calls the metered 2-order payments made, replayed
 *    straight against the load stack's DynamoDB Local at the same concurrency (ids renamed per replay, so each
 *    conditional write meets the state it met), as payments/s; and end-to-end / store-only.
 *
 * No figure is hard-coded: every ratio compares two things measured in this run.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GetExecutionHistoryCommand, type HistoryEvent, SFNClient } from '@aws-sdk/client-sfn';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { MeteredCall } from '../local/dynamodb-meter';
import { tableSchemas } from '../src/core/table-schemas';
import { call, checkout, waitForStatus } from '../test/support/api-client';
import { checkInvariants, documentClient } from '../test/support/invariants';
import { ARTIFACTS, type StackInfo, type StackProcess, startStackProcess } from '../test/support/local-stack-process';
import { latencyChart } from './chart';
import { formatTable, latency, load, RESULTS_DIR, type Row, type SuiteResult } from './harness';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? Number.NaN : (sorted[Math.floor((sorted.length - 1) / 2)] as number);
};

/**
 * AWS list prices, us-east-1, as published on 2026-11-29 (the date this table was written; check before relying on
 * them): Step Functions Standard per state transition; Lambda arm64 per request and per GB-second; DynamoDB
 * on-demand per write and read request unit; SQS standard per request; API Gateway REST per request.
 */
export const PRICES = {
  date: '2026-11-29',
  stepFunctionsPerTransition: 0.025 / 1000,
  lambdaPerRequest: 0.2 / 1_000_000,
  lambdaPerGbSecondArm: 0.0000133334,
  dynamoPerWriteUnit: 0.625 / 1_000_000,
  dynamoPerReadUnit: 0.125 / 1_000_000,
  sqsPerRequest: 0.4 / 1_000_000,
  apiGatewayPerRequest: 3.5 / 1_000_000,
};

/** What one payment asked of the system. */
export interface PaymentCount {
  payment_id: string;
  orders: number;
  dynamodb_calls: number;
  by_operation: Record<string, number>;
  by_table: Record<string, number>;
  transaction_items: number[];
  /** Write units as DynamoDB Local reports them (`ReturnConsumedCapacity`), the issue's meter. */
  wcu: number;
  rcu: number;
  /** Write units as AWS bills them, modeled from the items (local/dynamodb-units.ts); the indexes' share of them. */
  aws_wcu: number;
  aws_wcu_indexes: number;
  state_transitions: number;
  task_invocations: number;
  webhook_events: number;
  /** Function invocations: the API's (authorizer and handler), the workflow's tasks, each webhook twice (API, consumer). */
  invocations: number;
  psp_calls: number;
  /** Median time a Task state took (entered -> exited), as a stand-in for a Lambda's billed duration. */
  task_ms: number;
}

/** The calls of the meter that belong to a payment: those naming it, and the unnamed ones made while it was the one in flight. */
export function callsOfPayments(
  calls: MeteredCall[],
  windows: { payment_id: string; from: number; to: number }[],
): Map<string, MeteredCall[]> {
  const out = new Map<string, MeteredCall[]>(windows.map((w) => [w.payment_id, []]));
  for (const c of calls) {
    const owner = c.payment_id ?? windows.find((w) => c.at >= w.from && c.at < w.to)?.payment_id;
    if (owner && out.has(owner)) out.get(owner)?.push(c);
  }
  return out;
}

/** A sum of modeled units, NaN when one of them is unknown. */
function modeledSum(values: (number | null)[]): number {
  if (values.some((value) => value === null || Number.isNaN(value))) return Number.NaN;
  return round(values.reduce<number>((sum, value) => sum + (value ?? 0), 0));
}

export function countCalls(calls: MeteredCall[]) {
  const by_operation: Record<string, number> = {};
  const by_table: Record<string, number> = {};
  for (const c of calls) {
    by_operation[c.operation] = (by_operation[c.operation] ?? 0) + 1;
    for (const t of c.tables) by_table[t] = (by_table[t] ?? 0) + 1;
  }
  return {
    dynamodb_calls: calls.length,
    by_operation,
    by_table,
    transaction_items: calls.filter((c) => c.operation.startsWith('Transact')).map((c) => c.items),
    wcu: round(calls.reduce((sum, c) => sum + c.wcu, 0)),
    rcu: round(calls.reduce((sum, c) => sum + c.rcu, 0)),
    // Unknown when any call's could not be modeled (null, or NaN): never a lower total.
    aws_wcu: modeledSum(calls.map((c) => c.aws_wcu)),
    aws_wcu_indexes: modeledSum(calls.map((c) => c.aws_wcu_indexes)),
  };
}

/**
 * The modeled AWS cost of a million payments like `count` (Lambda at 512 MB for the measured task time). DynamoDB's
 * writes at the units AWS bills (modeled from the items: DynamoDB Local reports fewer for a transaction of several).
 */
export function costPerMillion(count: PaymentCount, memoryGb = 0.5) {
  const million = 1_000_000;
  const sqsRequests = count.webhook_events * 3; // send, receive, delete
  const apiRequests = 1 + count.webhook_events;
  const parts = {
    step_functions: count.state_transitions * PRICES.stepFunctionsPerTransition * million,
    lambda:
      count.invocations * PRICES.lambdaPerRequest * million +
      count.invocations * (count.task_ms / 1000) * memoryGb * PRICES.lambdaPerGbSecondArm * million,
    dynamodb: (count.aws_wcu * PRICES.dynamoPerWriteUnit + count.rcu * PRICES.dynamoPerReadUnit) * million,
    sqs: sqsRequests * PRICES.sqsPerRequest * million,
    api_gateway: apiRequests * PRICES.apiGatewayPerRequest * million,
  };
  const rounded = Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, round(v, 2)])) as typeof parts;
  return {
    ...rounded,
    total: round(
      Object.values(parts).reduce((a, b) => a + b, 0),
      2,
    ),
  };
}

async function history(sfn: SFNClient, arn: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(new GetExecutionHistoryCommand({ executionArn: arn, maxResults: 1000, nextToken }));
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
}

const ts = (e: HistoryEvent) => (e.timestamp instanceof Date ? e.timestamp.getTime() : Number(e.timestamp) * 1000);

async function pspJson<T>(stack: StackInfo, route: string): Promise<T> {
  const response = await fetch(`${stack.urls.psp}${route}`);
  if (!response.ok) throw new Error(`${route}: ${response.status}`);
  return (await response.json()) as T;
}

async function startStack(name: string, env: Record<string, string>): Promise<StackProcess> {
  return startStackProcess({
    dataDir: fs.mkdtempSync(path.join(os.tmpdir(), `payments-bench-${name}-`)),
    logFile: path.join(ARTIFACTS, `bench-${name}.log`),
    env: { POWERTOOLS_LOG_LEVEL: 'WARN', ...env },
  });
}

/** A checkout of `orders` orders, each to a seller of its own (a marketplace's many sellers: no one wallet is hot). */
function body(orders: number) {
  return checkout({
    sellers: Array.from({ length: orders }, (_, i) => ({
      seller: `bench_seller_${randomUUID().slice(0, 8)}`,
      amount: `${12 + i}.34`,
    })),
  });
}

/** Waits for SUCCESS reading DynamoDB Local directly (not through the meter: the wait is not the payment's work). */
async function waitUnmetered(stack: StackInfo, paymentId: string, timeoutMs = 60_000): Promise<void> {
  const client = documentClient(stack.urls.dynamodb);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { Item } = await client.send(
      new GetCommand({ TableName: tableSchemas.payments.id, Key: { pk: `PAY#${paymentId}`, sk: 'EVENT' } }),
    );
    if (Item?.status === 'SUCCESS') return;
    if (Item?.status === 'FAILED') throw new Error(`payment ${paymentId} FAILED: ${Item.status_reason}`);
    await sleep(100);
  }
  throw new Error(`payment ${paymentId} not SUCCESS after ${timeoutMs} ms`);
}

/** Payments made one at a time through the metered stack, each counted. */
async function countPayments(
  stack: StackInfo,
  orders: number,
  n: number,
): Promise<{ counts: PaymentCount[]; calls: Map<string, MeteredCall[]> }> {
  const meter = stack.urls as StackInfo['urls'] & { dynamodbMeter?: string };
  if (!meter.dynamodbMeter) throw new Error('the stack runs without the DynamoDB meter (LOCAL_DYNAMODB_METER)');
  const sfn = new SFNClient({
    endpoint: stack.urls.sfn,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  await fetch(`${meter.dynamodbMeter}/__meter/reset`, { method: 'POST' });
  const windows: { payment_id: string; from: number; to: number }[] = [];
  for (let i = 0; i < n; i++) {
    const from = Date.now();
    const accepted = await call<{ payment_id: string }>('POST', '/v1/payments', { body: body(orders), stack });
    if (accepted.status !== 202)
      throw new Error(`POST /v1/payments: ${accepted.status} ${JSON.stringify(accepted.body)}`);
    const paymentId = accepted.body.payment_id;
    await waitUnmetered(stack, paymentId);
    // The PSP's webhooks for it are delivered and applied before the next payment starts.
    await sleep(1500);
    windows.push({ payment_id: paymentId, from, to: Date.now() });
  }
  const calls = (await (await fetch(`${meter.dynamodbMeter}/__meter`)).json()) as MeteredCall[];
  const byPayment = callsOfPayments(calls, windows);
  const events = await pspJson<{ id: string; type: string; data: { object: { metadata?: Record<string, string> } } }[]>(
    stack,
    '/__admin/events',
  );
  const counts: PaymentCount[] = [];
  for (const { payment_id } of windows) {
    const arn = `arn:aws:states:us-east-1:000000000000:execution:PayIn:${payment_id}`;
    const h = await history(sfn, arn);
    const entered = new Map<string, number>();
    const taskMs: number[] = [];
    for (const e of h) {
      if (e.type === 'TaskStateEntered') entered.set(e.stateEnteredEventDetails?.name ?? '', ts(e));
      if (e.type === 'TaskStateExited') {
        const start = entered.get(e.stateExitedEventDetails?.name ?? '');
        if (start !== undefined) taskMs.push(ts(e) - start);
      }
    }
    const tasks = h.filter((e) => e.type === 'TaskStateEntered').length;
    const retries = h.filter((e) => e.type === 'LambdaFunctionScheduled').length;
    const webhookEvents = events.filter((e) => e.data.object.metadata?.payment_id === payment_id).length;
    // PSP calls: those the timeline records (charge, lookups, stops) and the PaymentIntent each webhook of a payment
    // event re-reads (a duplicate is skipped before).
    type Told = { source: string; detail?: { result?: string; event_type?: string } };
    const timeline = await call<{ events: Told[] }>('GET', `/v1/payments/${payment_id}/timeline`, { stack });
    const pspCalls = (timeline.body.events ?? []).filter(
      (e) =>
        e.source === 'psp' ||
        (e.source === 'webhook' &&
          e.detail?.result !== 'duplicate' &&
          e.detail?.event_type?.startsWith('payment_intent.') === true),
    ).length;
    counts.push({
      payment_id,
      orders,
      ...countCalls(byPayment.get(payment_id) ?? []),
      state_transitions: h.filter((e) => e.type?.endsWith('StateEntered')).length,
      task_invocations: tasks + retries,
      webhook_events: webhookEvents,
      invocations: 2 + tasks + retries + 2 * webhookEvents,
      psp_calls: pspCalls,
      task_ms: round(median(taskMs)),
    });
  }
  sfn.destroy();
  return { counts, calls: byPayment };
}

/** The median payment of a set of counts (each figure its own median). */
function medianCount(counts: PaymentCount[]): PaymentCount {
  // The breakdowns (by operation, table, transaction) are those of a payment with the median number of calls.
  const calls = median(counts.map((c) => c.dynamodb_calls));
  const first = counts.find((c) => c.dynamodb_calls === calls) ?? (counts[0] as PaymentCount);
  const m = (pick: (c: PaymentCount) => number) => median(counts.map(pick));
  return {
    ...first,
    payment_id: `median of ${counts.length}`,
    dynamodb_calls: m((c) => c.dynamodb_calls),
    wcu: m((c) => c.wcu),
    rcu: m((c) => c.rcu),
    aws_wcu: m((c) => c.aws_wcu),
    aws_wcu_indexes: m((c) => c.aws_wcu_indexes),
    state_transitions: m((c) => c.state_transitions),
    task_invocations: m((c) => c.task_invocations),
    webhook_events: m((c) => c.webhook_events),
    invocations: m((c) => c.invocations),
    psp_calls: m((c) => c.psp_calls),
    task_ms: m((c) => c.task_ms),
  };
}

/** Each template payment's calls with its ids renamed: a fresh copy of the same work for the store. */
export function renamed(calls: MeteredCall[], suffix: string): { target: string; body: string; status: number }[] {
  const ids = new Set<string>();
  for (const c of calls) {
    for (const match of c.request.matchAll(
      /pay_[0-9a-f]{32}|buyer_[0-9a-f]{8}|chk_[0-9a-f]{8}|bench_seller_[0-9a-f]{8}|evt_[A-Za-z0-9]+/g,
    ))
      ids.add(match[0]);
  }
  return calls.map((c) => {
    let text = c.request;
    for (const id of ids) text = text.split(id).join(`${id}${suffix}`);
    // Powertools' idempotency records are keyed by a hash of the request: a fresh key per copy.
    if (c.tables.includes('Idempotency')) text = text.replace(/("id":\{"S":")([^"]+)/, `$1$2${suffix}`);
    // A transaction's ClientRequestToken (the SDK's own) is the original's: a copy sending it again would be refused.
    if (c.operation.startsWith('Transact')) {
      const parsed = JSON.parse(text) as { ClientRequestToken?: string };
      delete parsed.ClientRequestToken;
      text = JSON.stringify(parsed);
    }
    return { target: `DynamoDB_20120810.${c.operation}`, body: text, status: c.status };
  });
}

/** The recorded payments' calls replayed straight against DynamoDB Local, `concurrency` payments at a time. */
async function storeOnly(endpoint: string, templates: MeteredCall[][], concurrency: number, durationMs: number) {
  let done = 0;
  let failed = 0;
  let next = 0;
  const unlike: Record<string, unknown>[] = [];
  const deadline = Date.now() + durationMs;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < deadline) {
        const n = next++;
        const template = templates[n % templates.length] as MeteredCall[];
        for (const request of renamed(template, `r${n}`)) {
          const response = await fetch(endpoint, {
            method: 'POST',
            headers: {
              'content-type': 'application/x-amz-json-1.0',
              'x-amz-target': request.target,
              authorization:
                'AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
            },
            body: request.body,
          });
          const answer = await response.text();
          // Faithful only if each copy meets the state its original met: the same answer (a refused condition too).
          if (response.status !== request.status) {
            failed++;
            if (unlike.length < 5) {
              unlike.push({
                target: request.target,
                original: request.status,
                copy: response.status,
                answer: answer.slice(0, 200),
                request: request.body.slice(0, 300),
              });
            }
          }
        }
        done++;
      }
    }),
  );
  return {
    payments: done,
    calls_answered_unlike_the_original: failed,
    unlike_examples: unlike,
    per_second: round(done / ((Date.now() - started) / 1000)),
  };
}

interface RatePhase {
  offered: number;
  accepted_per_s: number;
  completed_per_s: number;
  acceptance_p50_ms: number;
  acceptance_p99_ms: number;
  success_p50_ms: number;
  success_p99_ms: number;
  /** Checkouts not accepted (not 202). */
  rejected: number;
  /** Accepted payments that ended FAILED. */
  failed: number;
  /** Accepted payments not final after the bounded wait (they go on in the stack). */
  unfinished: number;
  errors: number;
  payments: string[];
}

/** One offered rate for `durationMs`: every checkout accepted, then how long each took to SUCCESS. */
async function ratePhase(stack: StackInfo, rate: number, durationMs: number): Promise<RatePhase> {
  const payments: string[] = [];
  const result = await load(
    [
      {
        name: `${rate}/s`,
        ratePerSecond: rate,
        fn: async () => {
          const accepted = await call<{ payment_id: string }>('POST', '/v1/payments', { body: body(2), stack });
          if (accepted.status !== 202) throw new Error(String(accepted.status));
          payments.push(accepted.body.payment_id);
        },
      },
    ],
    durationMs,
  );
  const stream = result.streams[0];
  // Then each payment's time from created to SUCCESS (its event's timestamps), waiting for the stragglers (bounded).
  const tookMs: number[] = [];
  let unfinished = 0;
  let failed = 0;
  // One deadline for the whole wait (not one per payment, which could add up).
  const waitUntil = Date.now() + 120_000;
  let lastDone = 0;
  let firstCreated = Number.POSITIVE_INFINITY;
  for (const paymentId of payments) {
    const left = Math.max(1000, waitUntil - Date.now());
    const view = await waitForStatus(paymentId, ['SUCCESS', 'FAILED'], left, stack).catch(() => undefined);
    const v = view as unknown as { status: string; created_at: string; updated_at: string } | undefined;
    if (v?.status !== 'SUCCESS') {
      if (v?.status === 'FAILED') failed++;
      else unfinished++;
      continue;
    }
    const created = Date.parse(v.created_at);
    const done = Date.parse(v.updated_at);
    firstCreated = Math.min(firstCreated, created);
    lastDone = Math.max(lastDone, done);
    tookMs.push(done - created);
  }
  const took = latency(tookMs);
  const acceptance = latency(result.raw[0] ?? []);
  return {
    offered: rate,
    accepted_per_s: round((payments.length * 1000) / result.duration_ms),
    completed_per_s: lastDone > firstCreated ? round((tookMs.length * 1000) / (lastDone - firstCreated)) : 0,
    acceptance_p50_ms: round(acceptance.p50_us / 1000),
    acceptance_p99_ms: round(acceptance.p99_us / 1000),
    success_p50_ms: round(took.p50_us / 1000),
    success_p99_ms: round(took.p99_us / 1000),
    rejected: stream?.failed ?? 0,
    failed,
    unfinished,
    errors: (stream?.failed ?? 0) + failed + unfinished,
    payments,
  };
}

export async function payinSuite({ quick }: { quick: boolean }): Promise<SuiteResult> {
  const counted = quick ? 3 : 20;
  const rows: Row[] = [];
  const targets: Record<string, boolean> = {};
  const details: Record<string, unknown> = {};

  // 1. Counted, through the metered stack.
  process.stdout.write('payin: counting (one payment at a time, metered)...\n');
  // The schedules (janitors, runs) kept quiet: their calls are nobody's payment.
  const quiet = {
    JANITOR_INTERVAL_SECONDS: '86400',
    PAYOUT_JANITOR_INTERVAL_SECONDS: '86400',
    REFUND_JANITOR_INTERVAL_SECONDS: '86400',
    PAYOUT_RUN_INTERVAL_SECONDS: '86400',
    RECONCILIATION_INTERVAL_SECONDS: '86400',
  };
  const metered = await startStack('payin-counts', { LOCAL_DYNAMODB_METER: 'true', ...quiet });
  let single: PaymentCount;
  let double: PaymentCount;
  let templates: MeteredCall[][];
  try {
    // Warm-up, not counted: the local runtime bundles each function on its first invocation.
    await countPayments(metered.info, 2, 2);
    const one = await countPayments(metered.info, 1, counted);
    const two = await countPayments(metered.info, 2, Math.max(2, Math.ceil(counted / 2)));
    single = medianCount(one.counts);
    double = medianCount(two.counts);
    templates = [...two.calls.values()];
    details.counts = { single_order: one.counts, two_orders: two.counts };
  } finally {
    await metered.stop();
  }
  const countRows = [single, double].map((c) => [
    `${c.orders} order${c.orders > 1 ? 's' : ''}`,
    c.dynamodb_calls,
    Object.entries(c.by_operation)
      .map(([op, n]) => `${op} ${n}`)
      .join(', '),
    c.transaction_items.join('+') || '-',
    c.wcu,
    `${c.aws_wcu} (${c.aws_wcu_indexes} index)`,
    c.rcu,
    c.state_transitions,
    c.invocations,
    c.psp_calls,
    c.webhook_events,
  ]);
  process.stdout.write(
    `\nPer payment (median; DynamoDB as the meter saw it; WCU and RCU as DynamoDB Local reports them, AWS WCU modeled from the items)\n${formatTable(
      [
        'payment',
        'DynamoDB calls',
        'by operation',
        'items/transaction',
        'WCU',
        'AWS WCU (modeled)',
        'RCU',
        'SFN transitions',
        'invocations (modelled)',
        'PSP calls (timeline)',
        'webhooks',
      ],
      countRows,
    )}\n`,
  );
  const byTable = Object.entries(single.by_table)
    .map(([table, n]) => `${table} ${n}`)
    .join(', ');
  process.stdout.write(`single order, calls by table: ${byTable}\n`);
  const cost = costPerMillion(single);
  process.stdout.write(
    `\nModeled AWS cost per million single-order payments (list prices of ${PRICES.date}, us-east-1; Lambda at 512 MB for the median task time ${single.task_ms} ms measured locally through the meter, whose reads of each written item make it an upper bound)\n${formatTable(
      ['Step Functions', 'Lambda', 'DynamoDB', 'SQS', 'API Gateway', 'total'],
      [
        [
          `$${cost.step_functions}`,
          `$${cost.lambda}`,
          `$${cost.dynamodb}`,
          `$${cost.sqs}`,
          `$${cost.api_gateway}`,
          `$${cost.total}`,
        ],
      ],
    )}\n`,
  );
  details.per_payment = { single_order: single, two_orders: double };
  details.cost_per_million_single_order_usd = cost;
  details.prices = PRICES;
  targets['single-order payment: at most 20 WCU'] = single.wcu <= 20;
  targets['single-order payment: at most 12 DynamoDB calls'] = single.dynamodb_calls <= 12;
  targets['two-order payment: at most 28 WCU'] = double.wcu <= 28;
  targets['single-order payment: at most 10 state transitions'] = single.state_transitions <= 10;

  // 2. Under load, and 3. the store's ceiling, on a stack without the meter.
  const rates = quick ? [5] : [10, 20, 40, 60];
  const phaseMs = quick ? 4000 : 60_000;
  process.stdout.write(`\npayin: under load (${rates.join(', ')} checkouts/s offered, ${phaseMs / 1000} s each)...\n`);
  const loaded = await startStack('payin-load', {});
  try {
    // Warm-up, not measured: the local runtime bundles each function on its first invocation.
    for (let i = 0; i < 3; i++) {
      const warm = await call<{ payment_id: string }>('POST', '/v1/payments', { body: body(2), stack: loaded.info });
      await waitForStatus(warm.body.payment_id, ['SUCCESS'], 60_000, loaded.info);
    }
    const phases: RatePhase[] = [];
    for (const rate of rates) {
      phases.push(await ratePhase(loaded.info, rate, phaseMs));
      const p = phases.at(-1) as RatePhase;
      process.stdout.write(
        `  ${rate}/s: accepted ${p.accepted_per_s}/s, completed ${p.completed_per_s}/s, p99 acceptance ${p.acceptance_p99_ms} ms, p99 to SUCCESS ${p.success_p99_ms} ms\n`,
      );
    }
    const sustained = phases.filter((p) => p.errors === 0 && p.completed_per_s >= 0.9 * p.offered);
    const best = sustained.at(-1) ?? phases[0];
    const all = phases.flatMap((p) => p.payments);
    const violations = await checkInvariants(loaded.info, all);
    const concurrency = 16;
    const store = await storeOnly(loaded.info.urls.dynamodb, templates, concurrency, quick ? 3000 : 20_000);
    // The most the pay-in completed in any phase (its throughput at saturation) against the store's own rate.
    const peak = Math.max(...phases.map((p) => p.completed_per_s));
    const ratio = store.per_second > 0 ? round(peak / store.per_second, 2) : 0;
    process.stdout.write(
      `\nUnder load (2-order checkouts, open loop)\n${formatTable(
        [
          'offered/s',
          'accepted/s',
          'completed/s',
          'p50 accept ms',
          'p99 accept ms',
          'p50 to SUCCESS ms',
          'p99 to SUCCESS ms',
          'rejected / failed / unfinished',
        ],
        phases.map((p) => [
          p.offered,
          p.accepted_per_s,
          p.completed_per_s,
          p.acceptance_p50_ms,
          p.acceptance_p99_ms,
          p.success_p50_ms,
          p.success_p99_ms,
          `${p.rejected} / ${p.failed} / ${p.unfinished}`,
        ]),
      )}\n`,
    );
    process.stdout.write(
      `invariants over ${all.length} payments: ${violations.length === 0 ? 'every charge booked once, ledger balanced, wallets equal ledger' : `${violations.length} violations`}\n`,
    );
    process.stdout.write(
      `store only (the 2-order payments' DynamoDB calls replayed, ${concurrency} at a time): ${store.per_second} payments/s (${store.calls_answered_unlike_the_original} calls answered unlike their original); end-to-end at most ${peak}/s completed = ${ratio} of the store's rate; highest rate sustained (completed >= 90% of offered, no errors): ${best?.offered ?? 'none'}/s\n`,
    );
    for (const p of phases) {
      rows.push({
        name: `pay-in ${p.offered}/s offered: acceptance`,
        ...latency([]),
        n: p.payments.length,
        p50_us: p.acceptance_p50_ms * 1000,
        p99_us: p.acceptance_p99_ms * 1000,
        max_us: Number.NaN,
        note: `completed ${p.completed_per_s}/s; to SUCCESS p50 ${p.success_p50_ms} ms p99 ${p.success_p99_ms} ms; errors ${p.errors}`,
      });
    }
    details.load = phases.map(({ payments, ...p }) => ({ ...p, payments: payments.length }));
    // The chart of latency against offered load (bench-results/payin-latency.svg, git-ignored like the JSON).
    fs.mkdirSync(RESULTS_DIR, { recursive: true });
    const chart = path.join(RESULTS_DIR, 'payin-latency.svg');
    fs.writeFileSync(
      chart,
      latencyChart(phases, `pay-in, 2-order checkouts, open loop (${new Date().toISOString().slice(0, 10)})`),
    );
    details.chart = path.relative(process.cwd(), chart);
    process.stdout.write(`chart: ${path.relative(process.cwd(), chart)}\n`);
    details.store_only = { ...store, concurrency };
    details.end_to_end_over_store = ratio;
    details.highest_sustained_offered = best?.offered;
    details.peak_completed_per_s = peak;
    details.invariant_violations = violations;
    targets['invariants hold after the load'] = violations.length === 0;
    targets['end-to-end at least 70% of the store-only rate'] = ratio >= 0.7;
    const at20 = phases.find((p) => p.offered === 20);
    if (at20) {
      targets['p99 acceptance at most 150 ms at 20/s'] = at20.acceptance_p99_ms <= 150;
      targets['p99 created -> SUCCESS at most 2 s at 20/s'] = at20.success_p99_ms <= 2000;
    }
  } finally {
    await loaded.stop();
  }
  return { suite: 'payin', rows, details, targets };
}
