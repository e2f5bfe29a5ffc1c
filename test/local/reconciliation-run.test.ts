/**
 * Reconciliation's run, step by step (src/reconciliation/run.ts), against DynamoDB Local in memory and the PSP
 * simulator in process (its Reports API through the real stripe SDK), with an in-memory archive and our other
 * capabilities' records as fakes: a clean day, a day with every settlement fault injected (the simulator's manifest
 * is the ground truth), our own missed outcomes and unbooked reversals, a second run of a day, a late row matched
 * by the next day's run, a timing difference that ages into a manual one, two runs of a date at once, a bad file.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import Stripe from 'stripe';
import { ensureTables, type LocalDynamo, startDynamoDbLocal } from '../../local/dynamodb';
import { freePort } from '../../local/processes';
import { type PspSimulator, startPspSimulator } from '../../local/psp-simulator/server';
import { tableSchemas } from '../../src/core/table-schemas';
import { LedgerTable } from '../../src/ledger/ledger-table';
import {
  accounts,
  payInTransaction,
  pspFeeTransaction,
  refundPosting,
  refundReversalPosting,
} from '../../src/ledger/postings';
import { StripeReporting } from '../../src/psp/stripe-reporting';
import { addDays, type ReconciliationRun, type StoredMismatch } from '../../src/reconciliation/domain/run';
import type { OurRecords, ReconciliationDeps, SettlementArchive } from '../../src/reconciliation/ports';
import { ReconciliationTable, RunInProgressError } from '../../src/reconciliation/reconciliation-table';
import {
  checkReport,
  failRun,
  finishRun,
  matchShardStep,
  requestReport,
  splitFile,
  startRun,
} from '../../src/reconciliation/run';

jest.setTimeout(120_000);

const SECRET = 'sk_test_reconciliation_0123456789abcdef';
let tableSet = 0;

class MemoryArchive implements SettlementArchive {
  objects = new Map<string, string>();
  async putStream(key: string, body: Readable) {
    const chunks: Buffer[] = [];
    for await (const chunk of body) chunks.push(Buffer.from(chunk));
    this.objects.set(key, Buffer.concat(chunks).toString('utf8'));
    return { version: `v${this.objects.size}` };
  }
  async putText(key: string, body: string) {
    this.objects.set(key, body);
  }
  async getStream(key: string) {
    const body = this.objects.get(key);
    if (body === undefined) throw new Error(`no object ${key}`);
    return Readable.from([Buffer.from(body)]);
  }
  async exists(key: string) {
    return this.objects.has(key);
  }
  async list(prefix: string) {
    return [...this.objects.keys()].filter((k) => k.startsWith(prefix));
  }
}

type FakePayment = Awaited<ReturnType<OurRecords['payment']>> & object;

let dynamo: LocalDynamo;
let doc: DynamoDBDocumentClient;
let sim: PspSimulator;
let stripe: Stripe;
let ledger: LedgerTable;
let ledgerTable: string;

/**
 * A platform account's balance per currency (debits positive), summed from every transaction's header (the test's
 * oracle: platform accounts have no statement in the by-account index).
 */
async function platformBalance(account: string): Promise<Map<string, number>> {
  const balance = new Map<string, number>();
  let start: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(
      new ScanCommand({ TableName: ledgerTable, ExclusiveStartKey: start, ConsistentRead: true }),
    );
    for (const item of page.Items ?? []) {
      if (item.entity !== 'TRANSACTION') continue;
      for (const entry of item.entries as Array<{
        account: string;
        direction: string;
        amount_minor: number;
        currency: string;
      }>) {
        if (entry.account !== account) continue;
        const signed = entry.direction === 'DEBIT' ? entry.amount_minor : -entry.amount_minor;
        balance.set(entry.currency, (balance.get(entry.currency) ?? 0) + signed);
      }
    }
    start = page.LastEvaluatedKey;
  } while (start);
  return balance;
}
let store: ReconciliationTable;
let archive: MemoryArchive;
const payments = new Map<string, FakePayment>();
const refunds = new Map<
  string,
  { status: string; payment_id: string; psp_refund_id?: string; amount_minor?: number }
>();
/** Refunds whose settlement the fake leaves undone (a fix that does not settle). */
const refundsLeftUnsettled = new Set<string>();
/** Payments the fake recovery settles FAILED. */
const paymentsRecoveredFailed = new Set<string>();
/** Payments whose charge the fake recovery records on the orders, their bookings to follow. */
const paymentsSettledLater = new Set<string>();
const fixes: string[] = [];
const sent: Array<{ queue: string; mismatch: StoredMismatch }> = [];
let clock: () => Date = () => new Date();
/** When set, up to when the PSP says it has prepared the report's data (else: now, as the simulator says). */
let dataAvailableEnd: number | undefined;

function deps(): ReconciliationDeps {
  return {
    store,
    psp: pspWithAvailability(),
    archive,
    records: {
      payment: async (id) => payments.get(id),
      orders: async (ids) =>
        ids.flatMap(({ payment_id, payment_order_id }) => {
          const order = payments.get(payment_id)?.orders.find((o) => o.payment_order_id === payment_order_id);
          return order ? [{ payment_id, ...order }] : [];
        }),
      refund: async (id) => refunds.get(id),
      dispute: async () => undefined,
      payout: async () => undefined,
    },
    recovery: {
      settlePayment: async (id) => {
        fixes.push(`payment:${id}`);
        const p = payments.get(id);
        // As pay-in's recovery would when the PSP's search does not show the charge yet: settled FAILED.
        if (p && paymentsRecoveredFailed.has(id)) {
          p.status = 'FAILED';
          return 'pay-in recovery: resolved_failed';
        }
        // As pay-in's recovery does: the charge recorded on the orders, the workflow re-driven to book them later.
        if (p && paymentsSettledLater.has(id)) {
          for (const order of p.orders) order.status = 'SUCCESS';
          return 'pay-in recovery: redriven';
        }
        // As pay-in's recovery would: the payment settled SUCCESS, its orders credited and booked.
        if (p) {
          p.status = 'SUCCESS';
          for (const order of p.orders) {
            await ledger.appendOnce(
              payInTransaction({
                payment_id: id,
                payment_order_id: order.payment_order_id,
                seller_account: 'seller_0',
                currency: p.currency,
                amount_minor: p.total_minor / p.orders.length,
                fee_minor: 0,
              }),
            );
            Object.assign(order, { status: 'SUCCESS', wallet_updated: true, ledger_updated: true });
          }
        }
        return 'settled SUCCESS';
      },
      settleRefund: async (id) => {
        fixes.push(`refund:${id}`);
        // As the refund flow would on the PSP's failure: the booking reversed exactly.
        const refund = refunds.get(id);
        if (refund && !refundsLeftUnsettled.has(id)) {
          await ledger.appendOnce(
            refundReversalPosting({
              refund_id: id,
              payment_id: refund.payment_id,
              seller_account: 'seller_0',
              currency: 'EUR',
              amount_minor: refund.amount_minor ?? 0,
              fee_share_minor: 0,
            }).transaction,
          );
          refund.status = 'FAILED';
        }
        return 'refund FAILED, reversed';
      },
      applyDispute: async (id) => {
        fixes.push(`dispute:${id}`);
        return 'applied';
      },
      settlePayout: async (id) => {
        fixes.push(`payout:${id}`);
        return 'settled';
      },
    },
    ledger,
    wallets: { all: async () => [], of: async () => undefined },
    queues: { send: async (queue, mismatch) => void sent.push({ queue, mismatch }) },
    metrics: { openMismatches: () => undefined },
    workflow: { start: async () => undefined },
    settings: { reportPollSeconds: 0, reportMaxPolls: 5, staleRunSeconds: 3600 },
    now: () => clock(),
  };
}

/** The Reports adapter on the simulator; when a test sets `dataAvailableEnd`, the PSP prepared only up to then. */
function pspWithAvailability(): StripeReporting {
  const psp = new StripeReporting(
    async () => stripe,
    async () => SECRET,
  );
  const prepared = psp.dataAvailableEnd.bind(psp);
  psp.dataAvailableEnd = async () => dataAvailableEnd ?? prepared();
  return psp;
}

/** The whole run of a date, as the state machine drives it. */
async function reconcile(date: string): Promise<ReconciliationRun> {
  const d = deps();
  const run = await startRun(d, { date, trigger: 'api' });
  let report = await requestReport(d, run.run_id);
  for (let i = 0; report.status === 'pending' && i < 5; i++) report = await checkReport(d, run.run_id);
  expect(report.status).toBe('succeeded');
  const split = await splitFile(d, run.run_id);
  for (const { shard } of split.shards) await matchShardStep(d, run.run_id, shard);
  return finishRun(d, run.run_id);
}

let seq = 0;
const unique = (prefix: string) => `${prefix}_${Date.now().toString(36)}_${++seq}`;

/** A payment charged at the PSP (our ids in its metadata) and, unless told otherwise, booked per order. */
async function paidPayment(amounts: number[], options: { book?: boolean; status?: string } = {}) {
  const paymentId = unique('pay');
  const total = amounts.reduce((a, b) => a + b, 0);
  const intent = await stripe.paymentIntents.create(
    {
      amount: total,
      currency: 'eur',
      payment_method: 'pm_card_visa',
      allowed_payment_method_types: ['card'],
      confirm: true,
      metadata: { payment_id: paymentId, checkout_id: unique('co') },
    },
    { idempotencyKey: `${paymentId}:charge` },
  );
  const orders = amounts.map((amount, i) => ({
    payment_id: paymentId,
    payment_order_id: `${paymentId}_o${i}`,
    seller_account: `seller_${i}`,
    currency: 'EUR',
    amount_minor: amount,
    fee_minor: Math.floor(amount / 10),
  }));
  const book = options.book ?? true;
  if (book) for (const order of orders) await ledger.appendOnce(payInTransaction(order));
  payments.set(paymentId, {
    status: options.status ?? 'SUCCESS',
    currency: 'EUR',
    total_minor: total,
    psp_reference: intent.id,
    orders: orders.map((o) => ({
      payment_order_id: o.payment_order_id,
      status: options.status ?? 'SUCCESS',
      wallet_updated: book,
      ledger_updated: book,
    })),
  });
  return { paymentId, intent, orders };
}

async function admin(method: string, route: string, body?: unknown) {
  const response = await fetch(`${sim.url}${route}`, {
    method,
    ...(body !== undefined && { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  // biome-ignore lint/suspicious/noExplicitAny: admin answers are read field by field
  return { status: response.status, body: (await response.json().catch(() => ({}))) as any };
}

const today = () => new Date().toISOString().slice(0, 10);

async function mismatchesOf(run: ReconciliationRun) {
  return store.mismatchesOfDate(run.date);
}

beforeAll(async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'reconciliation-run-'));
  dynamo = await startDynamoDbLocal({ host: '127.0.0.1', port: await freePort('127.0.0.1'), dataDir, inMemory: true });
  doc = DynamoDBDocumentClient.from(dynamo.client, { marshallOptions: { removeUndefinedValues: true } });
});

afterAll(async () => {
  doc?.destroy();
  await dynamo?.stop();
});

beforeEach(async () => {
  // A fresh PSP and fresh tables per scenario: each day's file and ledger hold only what the scenario made.
  tableSet += 1;
  const names = { ledger: `RecLedger${tableSet}`, reconciliation: `RecRuns${tableSet}` };
  await ensureTables(dynamo.client, [
    { schema: tableSchemas.ledger, name: names.ledger },
    { schema: tableSchemas.reconciliation, name: names.reconciliation },
  ]);
  ledger = new LedgerTable(doc, names.ledger);
  ledgerTable = names.ledger;
  store = new ReconciliationTable(doc, names.reconciliation);
  payments.clear();
  refunds.clear();
  refundsLeftUnsettled.clear();
  paymentsRecoveredFailed.clear();
  paymentsSettledLater.clear();
  sim = await startPspSimulator({ secretKey: SECRET });
  stripe = new Stripe(SECRET, { host: sim.host, port: sim.port, protocol: 'http', maxNetworkRetries: 0 });
  archive = new MemoryArchive();
  clock = () => new Date();
  dataAvailableEnd = undefined;
  fixes.length = 0;
  sent.length = 0;
});

afterEach(async () => {
  await sim.close();
});

describe('reconciliation run', () => {
  it('a clean day: every row matched, every fee booked once, nothing reported; a second run changes nothing', async () => {
    const one = await paidPayment([2599]);
    const split = await paidPayment([1000, 1500]); // one charge, two orders booked
    await admin('POST', '/__admin/stripe_fees', { currency: 'eur', amount: 2500, description: 'Monthly platform fee' });
    const ledgerBefore = await platformBalance(accounts.pspClearing);

    const run = await reconcileIsolated();
    expect(run.status).toBe('COMPLETED');
    expect(run.rows).toBe(3);
    expect(run.matched).toBe(3);
    expect(run.mismatches).toEqual({ auto_fixed: 0, manual: 0, unclassifiable: 0 });
    // Processing fees of both charges and the fee row, booked as the platform's expense.
    expect(run.fees_booked).toBe(3);
    expect(run.fees_booked_new).toBe(3);
    const fees = (await platformBalance(accounts.pspFees)).get('EUR');
    const expectedFees = fee(2599) + fee(2500) + 2500;
    expect(fees).toBe(expectedFees);
    expect((await platformBalance(accounts.pspClearing)).get('EUR')).toBe(
      (ledgerBefore.get('EUR') ?? 0) - expectedFees,
    );
    expect(run.internal?.clearing.EUR?.drift_minor).toBe(run.internal?.clearing.EUR?.explained_minor);
    expect(run.totals.EUR?.net_minor).toBe(2599 + 2500 - expectedFees);
    expect(await mismatchesOf(run)).toEqual([]);
    // The raw file and the report as it stood at completion are archived.
    expect(archive.objects.get(run.archive_key ?? '')?.split('\n')[0]).toContain('balance_transaction_id,created_utc');
    expect(run.report_key).toBe(`runs/${run.date}/${run.run_id}/report.html`);
    expect(archive.objects.get(run.report_key ?? '')).toContain(`Reconciliation of ${run.date}`);
    void one;
    void split;

    const again = await reconcileIsolated();
    expect(again.matched).toBe(3);
    expect(again.fees_booked).toBe(3);
    expect(again.fees_booked_new).toBe(0);
    expect(again.mismatches).toEqual({ auto_fixed: 0, manual: 0, unclassifiable: 0 });
    expect((await platformBalance(accounts.pspFees)).get('EUR')).toBe(expectedFees);
  });

  it('a day with every settlement fault and our own missed outcomes: each found with its type and class, fixed once', async () => {
    for (let i = 0; i < 8; i++) await paidPayment([1000 + i * 100]);
    // The faults pick their rows now, among these eight charges only.
    const date = today();
    const faults = await admin('POST', '/__admin/settlement/faults', {
      seed: 7,
      date,
      duplicate_rows: 1,
      late_rows: 1,
      amount_deltas: 1,
      currency_flips: 1,
      drop_rows: 1,
      unknown_rows: 2,
    });
    expect(faults.status).toBe(200);
    // Ours: a charge for a payment we hold UNKNOWN (no booking), one for a payment we recorded FAILED.
    const unknown = await paidPayment([3300], { book: false, status: 'UNKNOWN' });
    const failed = await paidPayment([3400], { book: false, status: 'FAILED' });
    // A refund that failed at the PSP, which we hold SUCCEEDED and never reversed.
    const refunded = await paidPayment([5000]);
    await admin('POST', '/__admin/balance/topup', { currency: 'eur', amount: 100_000 });
    const refundId = unique('ref');
    const pspRefund = await stripe.refunds.create(
      { payment_intent: refunded.intent.id, amount: 1200, metadata: { refund_id: refundId } },
      { idempotencyKey: refundId },
    );
    await ledger.appendOnce(
      refundPosting({
        refund_id: refundId,
        payment_id: refunded.paymentId,
        seller_account: 'seller_0',
        currency: 'EUR',
        amount_minor: 1200,
        fee_share_minor: 0,
      }).transaction,
    );
    refunds.set(refundId, {
      status: 'SUCCEEDED',
      payment_id: refunded.paymentId,
      psp_refund_id: pspRefund.id,
      amount_minor: 1200,
    });
    expect(
      (await admin('POST', `/__admin/refunds/${pspRefund.id}/fail`, { failure_reason: 'lost_or_stolen_card' })).status,
    ).toBe(200);

    const manifest = (await admin('GET', `/__admin/settlement/manifest?date=${date}`)).body as {
      injected: Array<{
        balance_transaction_id: string;
        payment_id: string | null;
        type: string;
        expected_class: string;
      }>;
    };
    expect(manifest.injected).toHaveLength(7);

    const run = await reconcileIsolated();
    const found = await mismatchesOf(run);
    const expected = [
      ...manifest.injected.map((m) => ({ type: m.type, class: m.expected_class, payment: m.payment_id })),
      { type: 'missed_outcome', class: 'auto_fixed', payment: unknown.paymentId },
      { type: 'charged_but_failed', class: 'manual', payment: failed.paymentId },
      { type: 'unbooked_reversal', class: 'auto_fixed', payment: refunded.paymentId },
      // The platform's top-up is a row linked to nothing of ours: for investigation.
      { type: 'unknown_row', class: 'unclassifiable', payment: null },
    ];
    const got = found.map((m) => ({ type: m.type, class: m.class, payment: m.payment_id ?? null }));
    const sortKey = (m: { type: string; payment: string | null }) => `${m.type}:${m.payment ?? ''}`;
    expect(got.sort((a, b) => sortKey(a).localeCompare(sortKey(b)))).toEqual(
      expected
        .map((m) => ({ ...m, payment: m.type === 'unknown_row' ? null : m.payment }))
        .sort((a, b) => sortKey(a).localeCompare(sortKey(b))),
    );
    // Every injected balance transaction (or its payment, for the ones our side reports) is named.
    for (const injected of manifest.injected) {
      const match = found.find(
        (m) =>
          m.type === injected.type &&
          (m.balance_transaction_id === injected.balance_transaction_id ||
            (injected.payment_id !== null && m.payment_id === injected.payment_id)),
      );
      expect(match).toBeDefined();
    }
    expect(fixes.sort()).toEqual([`payment:${unknown.paymentId}`, `refund:${refundId}`].sort());
    expect(run.mismatches).toEqual({
      auto_fixed: found.filter((m) => m.class === 'auto_fixed').length,
      manual: found.filter((m) => m.class === 'manual').length,
      unclassifiable: found.filter((m) => m.class === 'unclassifiable').length,
    });
    // The work lists got each manual and unclassifiable mismatch once.
    expect(sent.map((s) => s.mismatch.mismatch_id).sort()).toEqual(
      found
        .filter((m) => m.class !== 'auto_fixed')
        .map((m) => m.mismatch_id)
        .sort(),
    );
    // The drift of the PSP clearing account is exactly what the mismatches explain.
    expect(run.internal?.clearing.EUR?.drift_minor).toBe(run.internal?.clearing.EUR?.explained_minor);

    // A second run of the date: the same mismatches, no fix applied twice, nothing sent again.
    const feesBefore = (await platformBalance(accounts.pspFees)).get('EUR');
    const again = await reconcileIsolated();
    const foundAgain = await mismatchesOf(again);
    expect(foundAgain.map((m) => m.mismatch_id).sort()).toEqual(found.map((m) => m.mismatch_id).sort());
    expect(fixes).toHaveLength(2);
    expect(sent).toHaveLength(found.filter((m) => m.class !== 'auto_fixed').length);
    expect(again.fees_booked_new).toBe(0);
    expect((await platformBalance(accounts.pspFees)).get('EUR')).toBe(feesBefore);
  });

  it('a late row: timing today (carried), matched by the next day run, which resolves it', async () => {
    for (let i = 0; i < 3; i++) await paidPayment([2000 + i]);
    const date = today();
    await admin('POST', '/__admin/settlement/faults', { seed: 3, date, late_rows: 1 });
    const manifest = (await admin('GET', `/__admin/settlement/manifest?date=${date}`)).body as {
      injected: Array<{ payment_id: string; type: string }>;
    };
    const late = manifest.injected[0];
    expect(late?.type).toBe('timing');

    const run = await reconcileIsolated();
    const timing = (await mismatchesOf(run)).filter((m) => m.type === 'timing');
    expect(timing).toHaveLength(1);
    expect(timing[0]).toMatchObject({ class: 'auto_fixed', status: 'carried', payment_id: late?.payment_id });

    // Tomorrow (our clock): the row is in tomorrow's file; matched to our booking of today.
    const tomorrow = addDays(date, 1);
    clock = () => new Date(Date.parse(`${tomorrow}T06:00:00Z`));
    const next = await reconcile(tomorrow);
    expect(next.rows).toBe(1);
    expect(next.matched).toBe(1);
    expect(next.mismatches).toEqual({ auto_fixed: 0, manual: 0, unclassifiable: 0 });
    const resolved = await store.getMismatch(timing[0]?.mismatch_id ?? '');
    expect(resolved).toMatchObject({ status: 'resolved' });
    expect(resolved?.resolution?.by).toBe(`run:${next.run_id}`);
    // Tomorrow reconciled again (a re-run, or a retried shard): the row is still the one that resolved it.
    const rerun = await reconcile(tomorrow);
    expect(rerun.matched).toBe(1);
    expect(rerun.mismatches).toEqual({ auto_fixed: 0, manual: 0, unclassifiable: 0 });
  });

  it('a timing difference still unmatched three days later becomes manual', async () => {
    await paidPayment([2100]);
    await paidPayment([2200]);
    const date = today();
    await admin('POST', '/__admin/settlement/faults', { seed: 5, date, late_rows: 1 });
    const run = await reconcileIsolated();
    const [timing] = (await mismatchesOf(run)).filter((m) => m.type === 'timing');
    expect(timing?.status).toBe('carried');

    const later = addDays(date, 3);
    clock = () => new Date(Date.parse(`${later}T06:00:00Z`));
    // The PSP (real time) has prepared that day too, in this test: it holds nothing then.
    dataAvailableEnd = Date.parse(`${addDays(later, 1)}T00:00:00Z`) / 1000;
    const aged = await reconcile(later);
    expect(aged.by_type.timing).toBe(1);
    expect(aged.mismatches.manual).toBe(1);
    expect(await store.getMismatch(timing?.mismatch_id ?? '')).toMatchObject({ status: 'open', class: 'manual' });
    expect(sent.map((s) => s.mismatch.mismatch_id)).toContain(timing?.mismatch_id);
  });

  it('a second PSP charge for a payment we booked once is a second movement for a person; every fee is booked', async () => {
    const once = await paidPayment([4000]);
    // The same payment charged again at the PSP (our ids in its metadata, another PaymentIntent).
    await stripe.paymentIntents.create(
      {
        amount: 4000,
        currency: 'eur',
        payment_method: 'pm_card_visa',
        allowed_payment_method_types: ['card'],
        confirm: true,
        metadata: { payment_id: once.paymentId },
      },
      { idempotencyKey: `${once.paymentId}:again` },
    );
    const run = await reconcileIsolated();
    expect(run.rows).toBe(2);
    expect(run.matched).toBe(1);
    const found = await mismatchesOf(run);
    expect(found.map((m) => [m.type, m.class, m.payment_id])).toEqual([
      ['duplicate_movement', 'manual', once.paymentId],
    ]);
    // Both fees are facts of the PSP balance: booked, the second charge's included.
    expect(run.fees_booked).toBe(2);
    expect((await platformBalance(accounts.pspFees)).get('EUR')).toBe(2 * fee(4000));
    expect(run.internal?.clearing.EUR?.drift_minor).toBe(run.internal?.clearing.EUR?.explained_minor);
  });

  it("a fix that does not settle is a person's: a payment recovered FAILED, a refund left unsettled; a re-run retries", async () => {
    const lost = await paidPayment([3100], { book: false, status: 'UNKNOWN' });
    paymentsRecoveredFailed.add(lost.paymentId);
    const refunded = await paidPayment([5000]);
    await admin('POST', '/__admin/balance/topup', { currency: 'eur', amount: 100_000 });
    const refundId = unique('ref');
    const pspRefund = await stripe.refunds.create(
      { payment_intent: refunded.intent.id, amount: 700, metadata: { refund_id: refundId } },
      { idempotencyKey: refundId },
    );
    await ledger.appendOnce(
      refundPosting({
        refund_id: refundId,
        payment_id: refunded.paymentId,
        seller_account: 'seller_0',
        currency: 'EUR',
        amount_minor: 700,
        fee_share_minor: 0,
      }).transaction,
    );
    refunds.set(refundId, {
      status: 'SUCCEEDED',
      payment_id: refunded.paymentId,
      psp_refund_id: pspRefund.id,
      amount_minor: 700,
    });
    refundsLeftUnsettled.add(refundId);
    await admin('POST', `/__admin/refunds/${pspRefund.id}/fail`, { failure_reason: 'lost_or_stolen_card' });

    const run = await reconcileIsolated();
    const found = await mismatchesOf(run);
    const byType = (type: string) => found.filter((m) => m.type === type);
    expect(byType('charged_but_failed')).toEqual([
      expect.objectContaining({ class: 'manual', status: 'open', payment_id: lost.paymentId }),
    ]);
    expect(byType('missed_outcome')).toEqual([]);
    expect(byType('unbooked_reversal')).toEqual([
      expect.objectContaining({ class: 'manual', status: 'open', refund_id: refundId }),
    ]);
    expect(sent.map((s) => s.mismatch.type).sort()).toEqual(['charged_but_failed', 'unbooked_reversal', 'unknown_row']);

    // The refund settles later: a re-run of the date applies the fix again, and the mismatch is fixed.
    refundsLeftUnsettled.delete(refundId);
    const again = await reconcileIsolated();
    const reversal = (await mismatchesOf(again)).find((m) => m.type === 'unbooked_reversal');
    expect(reversal).toMatchObject({ class: 'auto_fixed', status: 'fixed' });
    expect(fixes.filter((f) => f === `refund:${refundId}`)).toHaveLength(2);
  });

  it('bookings dated after the PSP day and a charge booked across two days: no false mismatch, no drift', async () => {
    const date = today();
    const tomorrow = addDays(date, 1);
    // Charged today at the PSP; booked tomorrow (a late webhook), or one order today and one tomorrow.
    const late = await paidPayment([1800], { book: false });
    const split = await paidPayment([1000, 2000], { book: false });
    for (const order of late.orders) await ledger.appendOnce({ ...payInTransaction(order), value_date: tomorrow });
    await ledger.appendOnce(payInTransaction(split.orders[0] as (typeof split.orders)[number]));
    await ledger.appendOnce({
      ...payInTransaction(split.orders[1] as (typeof split.orders)[number]),
      value_date: tomorrow,
    });

    const first = await reconcileIsolated();
    expect(first.matched).toBe(2);
    expect(first.mismatches).toEqual({ auto_fixed: 0, manual: 0, unclassifiable: 0 });
    clock = () => new Date(Date.parse(`${tomorrow}T06:00:00Z`));
    dataAvailableEnd = Date.parse(`${addDays(tomorrow, 1)}T00:00:00Z`) / 1000;
    const next = await reconcile(tomorrow);
    expect(next.rows).toBe(0);
    expect(next.mismatches).toEqual({ auto_fixed: 0, manual: 0, unclassifiable: 0 });
    expect(next.internal?.clearing.EUR?.drift_minor).toBe(next.internal?.clearing.EUR?.explained_minor);
  });

  it('a charge recovery records on the orders (its bookings to follow) is fixed; a second charge of a payment booked later is a second movement', async () => {
    const lost = await paidPayment([2700], { book: false, status: 'UNKNOWN' });
    paymentsSettledLater.add(lost.paymentId);
    const late = await paidPayment([1900], { book: false });
    for (const order of late.orders) {
      await ledger.appendOnce({ ...payInTransaction(order), value_date: addDays(today(), 1) });
    }
    await stripe.paymentIntents.create(
      {
        amount: 1900,
        currency: 'eur',
        payment_method: 'pm_card_visa',
        allowed_payment_method_types: ['card'],
        confirm: true,
        metadata: { payment_id: late.paymentId },
      },
      { idempotencyKey: `${late.paymentId}:again` },
    );
    const run = await reconcileIsolated();
    const found = await mismatchesOf(run);
    expect(found.map((m) => [m.type, m.class, m.status, m.payment_id]).sort()).toEqual(
      [
        ['duplicate_movement', 'manual', 'open', late.paymentId],
        ['missed_outcome', 'auto_fixed', 'fixed', lost.paymentId],
      ].sort(),
    );
  });

  it('a charged and booked payment whose order lacks its wallet credit is an unbooked_order for a person', async () => {
    const paid = await paidPayment([1500, 2500]);
    const order = payments.get(paid.paymentId)?.orders[1];
    if (order) order.wallet_updated = false;
    const run = await reconcileIsolated();
    expect(run.matched).toBe(1);
    expect((await mismatchesOf(run)).map((m) => [m.type, m.class, m.payment_id])).toEqual([
      ['unbooked_order', 'manual', paid.paymentId],
    ]);
    expect((await mismatchesOf(run))[0]?.detail).toContain(`${paid.paymentId}_o1`);
  });

  it('many postings at once: those booked before are skipped, the others booked once', async () => {
    const fees = [1, 2, 3, 4, 5].map((n) =>
      pspFeeTransaction({
        balance_transaction_id: `txn_bulk_${n}`,
        currency: 'EUR',
        fee_minor: 10 * n,
        value_date: today(),
        description: `fee ${n}`,
      }),
    );
    expect(await ledger.appendOnce(fees[1] as (typeof fees)[number])).toBe(true);
    expect(await ledger.appendOnce(fees[3] as (typeof fees)[number])).toBe(true);
    const booked = await ledger.appendManyOnce(fees);
    expect([...booked].sort()).toEqual(['psp-fee:txn_bulk_1', 'psp-fee:txn_bulk_3', 'psp-fee:txn_bulk_5']);
    expect(await ledger.appendManyOnce(fees)).toEqual(new Set());
    expect((await platformBalance(accounts.pspFees)).get('EUR')).toBe(10 + 20 + 30 + 40 + 50);
  });

  it('a resolved mismatch stays resolved when its date is reconciled again', async () => {
    await paidPayment([2500]);
    await paidPayment([2600]);
    await admin('POST', '/__admin/settlement/faults', { seed: 2, date: today(), amount_deltas: 1 });
    const run = await reconcileIsolated();
    const [item] = await mismatchesOf(run);
    expect(item).toMatchObject({ type: 'amount_mismatch', status: 'open' });
    expect(await store.countOpen('manual')).toBe(1);
    await store.resolve(item?.mismatch_id ?? '', {
      resolution: 'psp_corrected',
      by: 'key_finance',
      at: new Date().toISOString(),
    });
    const again = await reconcileIsolated();
    expect(again.mismatches.manual).toBe(1);
    expect(await store.getMismatch(item?.mismatch_id ?? '')).toMatchObject({ status: 'resolved' });
    expect(await store.countOpen('manual')).toBe(0);
    // Sent to the finance list once, not again after the resolution.
    expect(sent.filter((s) => s.mismatch.mismatch_id === item?.mismatch_id)).toHaveLength(1);
  });

  it('a day the PSP has not prepared yet waits (bounded), then its report is asked for', async () => {
    const date = addDays(today(), -2);
    const start = Date.parse(`${date}T00:00:00Z`) / 1000;
    dataAvailableEnd = start + 3600; // prepared up to 01:00 of the day only
    const d = deps();
    const run = await startRun(d, { date, trigger: 'api' });
    expect(await requestReport(d, run.run_id)).toMatchObject({ status: 'pending' });
    for (let poll = 1; poll < 5; poll++) expect((await checkReport(d, run.run_id)).status).toBe('pending');
    expect(await store.getRun(run.run_id)).not.toHaveProperty('report_run_id');
    // The fifth poll is the last one allowed.
    expect(await checkReport(d, run.run_id)).toMatchObject({
      status: 'failed',
      error: expect.stringContaining('5 polls'),
    });

    dataAvailableEnd = start + 2 * 86_400;
    await expect(startRun(d, { date, trigger: 'api' })).rejects.toThrow('already running');
    await failRun(d, run.run_id, { Error: 'ReportFailed', Cause: 'not ready' });
    const again = await startRun(d, { date, trigger: 'api' });
    expect((await requestReport(d, again.run_id)).status).toBe('pending'); // asked for: pending once at the PSP
    expect((await store.getRun(again.run_id))?.report_run_id).toMatch(/^frr_/);
    // The simulator answers pending to the first retrieve, then succeeded.
    expect((await checkReport(d, again.run_id)).status).toBe('pending');
    expect((await checkReport(d, again.run_id)).status).toBe('succeeded');
  });

  it('two runs of one date at once: the second is refused with the running run named', async () => {
    const date = addDays(today(), -20);
    const first = await startRun(deps(), { date, trigger: 'api' });
    await expect(startRun(deps(), { date, trigger: 'api' })).rejects.toEqual(
      new RunInProgressError(date, first.run_id),
    );
    await finishRun(deps(), first.run_id);
    const second = await startRun(deps(), { date, trigger: 'api' });
    expect(second.run_id).not.toBe(first.run_id);
    await finishRun(deps(), second.run_id);
  });

  it('a file at hand with a bad row fails the split naming the line and column; a bad date is refused', async () => {
    const date = addDays(today(), -30);
    const header =
      'balance_transaction_id,created_utc,available_on_utc,currency,gross,fee,net,reporting_category,source_id,description,customer_facing_amount,customer_facing_currency,charge_id,payment_intent_id,connected_account_id,automatic_payout_id,automatic_payout_effective_at_utc,payment_method_type,card_brand,card_country,dispute_reason,statement_descriptor,payment_metadata[payment_id],payment_metadata[checkout_id],refund_metadata[refund_id],transfer_metadata[payout_id]';
    archive.objects.set(
      'uploads/bad.csv',
      `${header}\ntxn_1,${date} 10:00:00,${date} 10:00:00,eur,10.00,0.59,9.41,charge,ch_1,,,,,,,,,,,,,,,,,\ntxn_2,${date} 10:00:00,${date} 10:00:00,eur,12.345,0.00,12.345,charge,ch_2,,,,,,,,,,,,,,,,,\n`,
    );
    const d = deps();
    const run = await startRun(d, { date, trigger: 'cli', file_key: 'uploads/bad.csv' });
    expect((await requestReport(d, run.run_id)).status).toBe('succeeded');
    await expect(splitFile(d, run.run_id)).rejects.toThrow('settlement file line 3, column gross');
    await expect(startRun(d, { date: '2026-02-30', trigger: 'api' })).rejects.toThrow('date: must be a calendar day');
    await expect(startRun(d, { date, trigger: 'cli', file_key: 'uploads/none.csv' })).rejects.toThrow(
      "file_key: there is no file 'uploads/none.csv'",
    );
    await expect(startRun(d, { date: addDays(today(), 2), trigger: 'api' })).rejects.toThrow('has not happened yet');
  });
});

/** Stripe's fee of a charge on the simulator's default schedule (2.9% rounded half up, + 30). */
function fee(amount: number): number {
  return Math.round((amount * 29) / 1000) + 30;
}

/** Today's run (each scenario has its own tables and PSP). */
async function reconcileIsolated(): Promise<ReconciliationRun> {
  return reconcile(today());
}
