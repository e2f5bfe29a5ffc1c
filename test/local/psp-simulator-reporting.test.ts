// The settlement file on the PSP simulator: report runs of Stripe's itemized balance report
// (balance_change_from_activity.itemized.3) driven by the real stripe SDK, the CSV downloaded from the run's File,
// and the settlement faults injected into a day's file with their manifest (the ground truth).
//
// The simulator's clock starts at a fixed instant (2030-03-14 09:00 UTC) and moves with real time, so the UTC days
// of these tests never depend on when they run; the money clock is advanced a day at a time.

import { parse } from 'csv-parse/sync';
import Stripe from 'stripe';
import { majorUnits } from '../../local/psp-simulator/currencies';
import { REPORT_COLUMNS, REPORT_TYPE } from '../../local/psp-simulator/reporting';
import { type PspSimulator, type PspSimulatorOptions, startPspSimulator } from '../../local/psp-simulator/server';
import type { SettlementManifest } from '../../local/psp-simulator/settlement-faults';
import { caught } from '../support/stripe-calls';

jest.setTimeout(30_000);

const SECRET_KEY = 'sk_test_simulator_0123456789abcdefWXYZ';
const DAY = 86_400;
/** D-1, the day the simulator starts in. */
const START_MS = Date.UTC(2030, 2, 14, 9, 0, 0);
const DAY_BEFORE = '2030-03-14';
/** D, the day under test (after one advance), and D+1. */
const D = '2030-03-15';
const D_START = Date.UTC(2030, 2, 15) / 1000;
const NEXT_DAY = '2030-03-16';
const NEXT_START = D_START + DAY;
/** 2.9% + 30 of 2599, rounded half up: 75.371 -> 75, + 30. */
const FEE_2599 = 105;
const DISPUTE_FEE = 1500;

// biome-ignore lint/suspicious/noExplicitAny: admin answers are checked field by field
type Json = any;
type CsvRow = Record<string, string>;

function clientFor(sim: PspSimulator): Stripe {
  return new Stripe(SECRET_KEY, { host: sim.host, port: sim.port, protocol: 'http', maxNetworkRetries: 0 });
}

async function adminJson(sim: PspSimulator, method: string, path: string, body?: unknown) {
  const response = await fetch(`${sim.url}${path}`, {
    method,
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Json };
}

/** Minor units of eur/usd as the report writes them, computed independently of the simulator. */
function cents(amount: number): string {
  return (amount / 100).toFixed(2);
}

function rowsOf(csv: string): CsvRow[] {
  return parse(csv, { columns: true }) as CsvRow[];
}

function headerOf(csv: string): string[] {
  return (parse(csv, { to_line: 1 }) as string[][])[0] as string[];
}

describe('PSP simulator: the settlement file (Reports API, driven by the stripe SDK)', () => {
  let sim: PspSimulator;
  let stripe: Stripe;
  const extraSims: PspSimulator[] = [];

  async function start(opts: Partial<PspSimulatorOptions> = {}, startMs = START_MS): Promise<PspSimulator> {
    const origin = Date.now();
    return startPspSimulator({ secretKey: SECRET_KEY, now: () => startMs + (Date.now() - origin), ...opts });
  }

  beforeEach(async () => {
    sim = await start();
    stripe = clientFor(sim);
  });

  afterEach(async () => {
    await sim.close();
    await Promise.all(extraSims.splice(0).map((extra) => extra.close()));
  });

  async function advanceDay(target = sim): Promise<void> {
    expect((await adminJson(target, 'POST', '/__admin/clock/advance', { seconds: DAY })).status).toBe(200);
  }

  function pay(amount: number, key: string, metadata: Record<string, string> = {}, description?: string) {
    return stripe.paymentIntents.create(
      {
        amount,
        currency: 'eur',
        payment_method: 'pm_card_visa',
        confirm: true,
        automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
        metadata,
        ...(description !== undefined && { description }),
      },
      { idempotencyKey: key },
    );
  }

  async function onboardedSeller(name: string): Promise<string> {
    const account = await stripe.accounts.create(
      {
        type: 'custom',
        country: 'DE',
        email: `${name}@example.com`,
        default_currency: 'eur',
        capabilities: { transfers: { requested: true } },
        business_type: 'individual',
      },
      { idempotencyKey: `${name}:account` },
    );
    expect((await adminJson(sim, 'POST', `/__admin/accounts/${account.id}`, { payouts_enabled: true })).status).toBe(
      200,
    );
    return account.id;
  }

  async function download(url: string): Promise<string> {
    const response = await fetch(url, { headers: { Authorization: `Bearer ${SECRET_KEY}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/csv/);
    return response.text();
  }

  /** Creates a run of [start, end), polls it (pending, then succeeded) and downloads its CSV. */
  async function runReport(startS: number, endS: number, client = stripe) {
    const created = await client.reporting.reportRuns.create({
      report_type: REPORT_TYPE,
      parameters: { interval_start: startS, interval_end: endS },
    });
    expect(created).toMatchObject({ object: 'reporting.report_run', status: 'pending', result: null });
    expect((await client.reporting.reportRuns.retrieve(created.id)).status).toBe('pending');
    const done = await client.reporting.reportRuns.retrieve(created.id);
    expect(done.status).toBe('succeeded');
    return { run: done, csv: await download(done.result?.url as string) };
  }

  /** The platform's balance transactions created on a day, in the report's order. */
  function platformTransactionsOf(dayStart: number) {
    return sim
      .balanceTransactions(null)
      .filter((txn) => txn.created >= dayStart && txn.created < dayStart + DAY)
      .sort((a, b) => a.created - b.created || (a.id < b.id ? -1 : 1));
  }

  describe('a day of activity', () => {
    it('lists every platform balance transaction of the day, once, with its amounts in major units and the ids and metadata of its payment', async () => {
      const seller = await onboardedSeller('seller_1');
      // D-1: funds for the refund and the transfer, available on D.
      const funding = await pay(100_000, 'fund', { payment_id: 'pay_fund' });
      await advanceDay();

      // D
      const paid = await pay(2599, 'pay_a', { payment_id: 'pay_a', checkout_id: 'chk_a' }, 'Order "A", two items');
      const refund = await stripe.refunds.create(
        { payment_intent: paid.id, amount: 1000, metadata: { refund_id: 'rf_1' } },
        { idempotencyKey: 'refund_1' },
      );
      expect(refund.status).toBe('succeeded');
      expect(sim.failRefund(refund.id, 'expired_or_canceled_card').status).toBe('failed');
      const disputed = await pay(5000, 'pay_b', { payment_id: 'pay_b' });
      const dispute = sim.openDispute({ payment_intent: disputed.id, reason: 'product_not_received' });
      sim.closeDispute(dispute.id, 'won');
      const transfer = await stripe.transfers.create(
        { amount: 3000, currency: 'eur', destination: seller, metadata: { payout_id: 'po_1' } },
        { idempotencyKey: 'transfer_1' },
      );
      const reversal = await stripe.transfers.createReversal(
        transfer.id,
        { amount: 1000 },
        { idempotencyKey: 'rev_1' },
      );
      const fee = await adminJson(sim, 'POST', '/__admin/stripe_fees', {
        currency: 'eur',
        amount: 2500,
        description: 'Monthly platform fee',
      });
      expect(fee.status).toBe(200);
      expect(fee.body).toMatchObject({ type: 'stripe_fee', amount: -2500, fee: 0, net: -2500, source: null });
      expect(fee.body.reporting_category).toBe('fee');

      await advanceDay();
      // D+1
      const later = await pay(700, 'pay_c', { payment_id: 'pay_c' });

      const { run, csv } = await runReport(D_START, NEXT_START);
      expect(run).toMatchObject({
        object: 'reporting.report_run',
        livemode: false,
        report_type: REPORT_TYPE,
        error: null,
        parameters: { interval_start: D_START, interval_end: NEXT_START },
        result: { object: 'file', purpose: 'finance_report_run', type: 'csv', size: Buffer.byteLength(csv) },
      });
      expect(run.id).toMatch(/^frr_/);
      expect(run.succeeded_at).toEqual(expect.any(Number));
      const file = run.result as Stripe.File;
      expect(file.id).toMatch(/^file_/);
      expect(file.url).toBe(`${sim.url}/v1/files/${file.id}/contents`);
      expect(await stripe.files.retrieve(file.id)).toMatchObject({ id: file.id, size: file.size, url: file.url });

      expect(headerOf(csv)).toEqual([...REPORT_COLUMNS]);
      const rows = rowsOf(csv);
      const expected = platformTransactionsOf(D_START);
      // Each one once, in order; nothing from another day or from a connected account.
      expect(rows.map((row) => row.balance_transaction_id)).toEqual(expected.map((txn) => txn.id));
      expect(expected.map((txn) => txn.reporting_category).sort()).toEqual(
        [
          'charge',
          'charge',
          'dispute',
          'dispute_reversal',
          'fee',
          'refund',
          'refund_failure',
          'transfer',
          'transfer_reversal',
        ].sort(),
      );
      const listed = new Set(rows.map((row) => row.balance_transaction_id));
      for (const txn of sim.balanceTransactions()) {
        if (txn.account !== null) expect(listed.has(txn.id)).toBe(false);
      }
      const chargeOf = (intent: Stripe.PaymentIntent) => intent.latest_charge as string;
      expect(rows.some((row) => row.charge_id === chargeOf(funding) || row.charge_id === chargeOf(later))).toBe(false);

      for (const [index, row] of rows.entries()) {
        const txn = expected[index] as (typeof expected)[number];
        expect(row.gross).toBe(cents(txn.amount));
        expect(row.fee).toBe(cents(txn.fee));
        expect(row.net).toBe(cents(txn.net));
        expect(Number(row.net)).toBeCloseTo(Number(row.gross) - Number(row.fee), 2);
        expect(row.currency).toBe('eur');
        expect(row.reporting_category).toBe(txn.reporting_category);
        expect(row.created_utc).toMatch(/^2030-03-15 \d\d:\d\d:\d\d$/);
        expect(row.created_utc).toBe(new Date(txn.created * 1000).toISOString().slice(0, 19).replace('T', ' '));
        expect(row.available_on_utc).toBe(
          new Date(txn.available_on * 1000).toISOString().slice(0, 19).replace('T', ' '),
        );
        expect(row.automatic_payout_id).toBe('');
      }
      const byCategory = (category: string) => rows.filter((row) => row.reporting_category === category);

      // The charge's own row (its refund's row names the same charge, and may share its second).
      const charge = rows.find((row) => row.charge_id === chargeOf(paid) && row.reporting_category === 'charge');
      const otherCharge = rows.find(
        (row) => row.charge_id === chargeOf(disputed) && row.reporting_category === 'charge',
      );
      expect(byCategory('charge')).toHaveLength(2);
      expect(charge).toMatchObject({
        source_id: chargeOf(paid),
        charge_id: chargeOf(paid),
        payment_intent_id: paid.id,
        gross: '25.99',
        fee: cents(FEE_2599),
        net: cents(2599 - FEE_2599),
        description: 'Order "A", two items',
        customer_facing_amount: '25.99',
        customer_facing_currency: 'eur',
        payment_method_type: 'card',
        card_brand: 'visa',
        card_country: 'US',
        'payment_metadata[payment_id]': 'pay_a',
        'payment_metadata[checkout_id]': 'chk_a',
        'refund_metadata[refund_id]': '',
        connected_account_id: '',
      });
      expect(csv).toContain('"Order ""A"", two items"');
      expect(otherCharge).toMatchObject({
        charge_id: chargeOf(disputed),
        gross: '50.00',
        fee: cents(175),
        'payment_metadata[payment_id]': 'pay_b',
        'payment_metadata[checkout_id]': '',
      });

      const common = { charge_id: chargeOf(paid), payment_intent_id: paid.id, 'payment_metadata[payment_id]': 'pay_a' };
      expect(byCategory('refund')).toEqual([
        expect.objectContaining({
          ...common,
          source_id: refund.id,
          gross: '-10.00',
          fee: '0.00',
          net: '-10.00',
          customer_facing_amount: '-10.00',
          'refund_metadata[refund_id]': 'rf_1',
        }),
      ]);
      expect(byCategory('refund_failure')).toEqual([
        expect.objectContaining({
          ...common,
          source_id: refund.id,
          gross: '10.00',
          fee: '0.00',
          net: '10.00',
          'refund_metadata[refund_id]': 'rf_1',
        }),
      ]);

      const disputeCommon = {
        source_id: dispute.id,
        charge_id: chargeOf(disputed),
        payment_intent_id: disputed.id,
        dispute_reason: 'product_not_received',
        'payment_metadata[payment_id]': 'pay_b',
        customer_facing_amount: '',
      };
      expect(byCategory('dispute')).toEqual([
        expect.objectContaining({ ...disputeCommon, gross: '-50.00', fee: cents(DISPUTE_FEE), net: '-65.00' }),
      ]);
      expect(byCategory('dispute_reversal')).toEqual([
        expect.objectContaining({ ...disputeCommon, gross: '50.00', fee: cents(-DISPUTE_FEE), net: '65.00' }),
      ]);

      expect(byCategory('transfer')).toEqual([
        expect.objectContaining({
          source_id: transfer.id,
          connected_account_id: seller,
          gross: '-30.00',
          fee: '0.00',
          net: '-30.00',
          'transfer_metadata[payout_id]': 'po_1',
          charge_id: '',
          payment_intent_id: '',
        }),
      ]);
      expect(byCategory('transfer_reversal')).toEqual([
        expect.objectContaining({
          source_id: reversal.id,
          connected_account_id: seller,
          gross: '10.00',
          net: '10.00',
          'transfer_metadata[payout_id]': 'po_1',
        }),
      ]);
      expect(byCategory('fee')).toEqual([
        expect.objectContaining({
          balance_transaction_id: fee.body.id,
          source_id: '',
          description: 'Monthly platform fee',
          gross: '-25.00',
          fee: '0.00',
          net: '-25.00',
          charge_id: '',
          payment_intent_id: '',
          'payment_metadata[payment_id]': '',
          'transfer_metadata[payout_id]': '',
        }),
      ]);

      // The in-process handle makes the same file; a later run of the same day gives the same rows.
      expect(sim.settlementFile(D)).toBe(csv);
      expect((await runReport(D_START, NEXT_START)).csv).toBe(csv);
      // The other days have their own rows.
      expect(rowsOf(sim.settlementFile(DAY_BEFORE)).map((row) => row.source_id)).toEqual([chargeOf(funding)]);
      expect(rowsOf(sim.settlementFile(NEXT_DAY)).map((row) => row.source_id)).toEqual([chargeOf(later)]);
    });

    it('produces the file when the run is created, selects columns, and filters by currency and category', async () => {
      await advanceDay();
      await pay(2599, 'pay_1', { payment_id: 'pay_1' });
      const run = await stripe.reporting.reportRuns.create({
        report_type: REPORT_TYPE,
        parameters: {
          interval_start: D_START,
          interval_end: NEXT_START,
          timezone: 'Etc/UTC',
          columns: ['gross', 'balance_transaction_id', 'payment_metadata[payment_id]'],
        },
      });
      expect(run.parameters).toEqual({
        interval_start: D_START,
        interval_end: NEXT_START,
        timezone: 'Etc/UTC',
        columns: ['gross', 'balance_transaction_id', 'payment_metadata[payment_id]'],
      });
      // Activity after the run's creation is not in its file.
      await pay(1000, 'pay_2', { payment_id: 'pay_2' });
      await stripe.reporting.reportRuns.retrieve(run.id);
      const done = await stripe.reporting.reportRuns.retrieve(run.id);
      const csv = await download(done.result?.url as string);
      expect(headerOf(csv)).toEqual(['gross', 'balance_transaction_id', 'payment_metadata[payment_id]']);
      expect(rowsOf(csv)).toEqual([
        expect.objectContaining({ gross: '25.99', 'payment_metadata[payment_id]': 'pay_1' }),
      ]);

      const filtered = await stripe.reporting.reportRuns.create({
        report_type: REPORT_TYPE,
        parameters: {
          interval_start: D_START,
          interval_end: NEXT_START,
          currency: 'usd',
          reporting_category: 'charge',
        },
      });
      await stripe.reporting.reportRuns.retrieve(filtered.id);
      const filteredCsv = await download(
        (await stripe.reporting.reportRuns.retrieve(filtered.id)).result?.url as string,
      );
      expect(rowsOf(filteredCsv)).toEqual([]);
      expect(headerOf(filteredCsv)).toEqual([...REPORT_COLUMNS]);

      const runs = await stripe.reporting.reportRuns.list({ limit: 10 });
      expect(runs.data.map((listed) => listed.id)).toEqual([filtered.id, run.id]);
    });

    it('says up to when its data is prepared: now, or later when it holds balance transactions dated ahead', async () => {
      const type = await stripe.reporting.reportTypes.retrieve(REPORT_TYPE);
      expect(type).toMatchObject({ id: REPORT_TYPE, object: 'reporting.report_type', version: 3 });
      // Nothing dated ahead: prepared up to the simulator's now (`updated`), inclusive.
      expect(type.data_available_end).toBe(type.updated + 1);
      expect(type.updated).toBeGreaterThanOrEqual(Math.floor(START_MS / 1000));
      const missing = await caught(stripe.reporting.reportTypes.retrieve('balance.summary.1'));
      expect(missing.statusCode).toBe(404);
    });

    it('answers pending for as many retrieves as the setting says', async () => {
      expect((await adminJson(sim, 'POST', '/__admin/settings', { report_pending_polls: 0 })).body).toMatchObject({
        report_pending_polls: 0,
      });
      const params = { report_type: REPORT_TYPE, parameters: { interval_start: D_START, interval_end: NEXT_START } };
      const immediate = await stripe.reporting.reportRuns.create(params);
      expect(immediate.status).toBe('pending');
      expect((await stripe.reporting.reportRuns.retrieve(immediate.id)).status).toBe('succeeded');

      const slow = await start({ reportPendingPolls: 3 });
      extraSims.push(slow);
      const slowClient = clientFor(slow);
      const run = await slowClient.reporting.reportRuns.create(params);
      const statuses: string[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await slowClient.reporting.reportRuns.retrieve(run.id)).status);
      expect(statuses).toEqual(['pending', 'pending', 'pending', 'succeeded']);
    });

    it('replays a creation under the same idempotency key', async () => {
      const params = { report_type: REPORT_TYPE, parameters: { interval_start: D_START, interval_end: NEXT_START } };
      const first = await stripe.reporting.reportRuns.create(params, { idempotencyKey: 'report-1' });
      const again = await stripe.reporting.reportRuns.create(params, { idempotencyKey: 'report-1' });
      expect(again.id).toBe(first.id);
      expect(again.lastResponse.headers['idempotent-replayed']).toBe('true');
      expect(sim.reportRuns()).toHaveLength(1);
    });

    it('books a monthly fee row, once, when a file first covers the first day of a month', async () => {
      const april = await start({ monthlyFees: { eur: 2500 } }, Date.UTC(2030, 3, 1, 9, 0, 0));
      extraSims.push(april);
      const client = clientFor(april);
      const first = Date.UTC(2030, 3, 1) / 1000;
      const { csv } = await runReport(first, first + DAY, client);
      expect(rowsOf(csv)).toEqual([
        expect.objectContaining({
          created_utc: '2030-04-01 00:00:00',
          reporting_category: 'fee',
          currency: 'eur',
          gross: '-25.00',
          fee: '0.00',
          net: '-25.00',
          source_id: '',
          description: 'Monthly platform fee',
        }),
      ]);
      expect((await runReport(first, first + DAY, client)).csv).toBe(csv);
      expect(april.balanceTransactions(null).filter((txn) => txn.type === 'stripe_fee')).toHaveLength(1);
    });

    it('formats amounts with the decimals of their currency', () => {
      expect(majorUnits(1234, 'eur')).toBe('12.34');
      expect(majorUnits(-65, 'eur')).toBe('-0.65');
      expect(majorUnits(0, 'usd')).toBe('0.00');
      expect(majorUnits(1200, 'jpy')).toBe('1200');
      expect(majorUnits(-5, 'jpy')).toBe('-5');
      expect(majorUnits(12340, 'kwd')).toBe('12.340');
    });
  });

  describe('settlement faults', () => {
    const FAULTS = {
      seed: 7,
      date: D,
      duplicate_rows: 1,
      late_rows: 1,
      amount_deltas: 1,
      currency_flips: 1,
      drop_rows: 1,
      unknown_rows: 2,
    };

    /** D: eight charges with a payment_id each, a refund, and a fee row. */
    async function dayOfCharges(): Promise<Stripe.PaymentIntent[]> {
      await advanceDay();
      const intents: Stripe.PaymentIntent[] = [];
      for (let i = 1; i <= 8; i++) {
        intents.push(await pay(1000 + i * 100, `pay_${i}`, { payment_id: `pay_${i}`, checkout_id: `chk_${i}` }));
      }
      expect((await adminJson(sim, 'POST', '/__admin/balance/topup', { currency: 'eur', amount: 10_000 })).status).toBe(
        200,
      );
      await stripe.refunds.create({ payment_intent: intents[0]?.id as string, amount: 100 });
      sim.addStripeFee('eur', 300, 'Platform fee');
      return intents;
    }

    async function setFaults(body: unknown) {
      return adminJson(sim, 'POST', '/__admin/settlement/faults', body);
    }

    it('injects each fault into the file as the manifest says, and only there', async () => {
      const intents = await dayOfCharges();
      const before = new Map(sim.balanceTransactions(null).map((txn) => [txn.id, txn]));
      const set = await setFaults(FAULTS);
      expect(set.status).toBe(200);
      const manifest = set.body as SettlementManifest;
      expect(manifest.date).toBe(D);
      expect((await adminJson(sim, 'GET', `/__admin/settlement/manifest?date=${D}`)).body).toEqual(manifest);
      expect(sim.settlementManifest(D)).toEqual(manifest);
      const ofType = (type: string) => manifest.injected.filter((entry) => entry.type === type);
      expect(manifest.injected.map((entry) => [entry.type, entry.expected_class]).sort()).toEqual(
        [
          ['amount_mismatch', 'manual'],
          ['currency_mismatch', 'manual'],
          ['duplicate_row', 'auto_fixed'],
          ['missing_in_settlement', 'manual'],
          ['timing', 'auto_fixed'],
          ['unknown_row', 'unclassifiable'],
          ['unknown_row', 'unclassifiable'],
        ].sort(),
      );
      // Distinct rows; real ones carry their payment's ids.
      const ids = manifest.injected.map((entry) => entry.balance_transaction_id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const entry of manifest.injected.filter((candidate) => candidate.type !== 'unknown_row')) {
        const txn = before.get(entry.balance_transaction_id);
        expect(txn).toBeDefined();
        expect(entry.source_id).toBe(txn?.source);
        if (entry.payment_intent_id !== null) {
          const intent = intents.find((candidate) => candidate.id === entry.payment_intent_id);
          expect(entry.payment_id).toBe(intent?.metadata.payment_id);
        }
      }
      for (const type of ['timing', 'amount_mismatch', 'currency_mismatch', 'missing_in_settlement']) {
        const [entry] = ofType(type);
        expect(before.get(entry?.balance_transaction_id as string)?.type).toBe('charge');
        expect(entry?.payment_id).toMatch(/^pay_\d$/);
      }

      const { csv } = await runReport(D_START, NEXT_START);
      const rows = rowsOf(csv);
      const rowsWith = (id: string) => rows.filter((row) => row.balance_transaction_id === id);

      const [duplicate] = ofType('duplicate_row');
      expect(rowsWith(duplicate?.balance_transaction_id as string)).toHaveLength(2);

      const [late] = ofType('timing');
      const lateId = late?.balance_transaction_id as string;
      expect(rowsWith(lateId)).toHaveLength(0);
      const moved = await stripe.balanceTransactions.retrieve(lateId);
      expect(moved.created).toBeGreaterThan(NEXT_START);
      expect(moved.created).toBeLessThan(NEXT_START + 10);
      expect((await stripe.charges.retrieve(late?.source_id as string)).created).toBe(moved.created);
      const nextDay = rowsOf((await runReport(NEXT_START, NEXT_START + DAY)).csv);
      expect(nextDay).toEqual([
        expect.objectContaining({
          balance_transaction_id: lateId,
          created_utc: expect.stringMatching(/^2030-03-16 00:00:0\d$/),
          'payment_metadata[payment_id]': late?.payment_id,
        }),
      ]);

      const [amount] = ofType('amount_mismatch');
      const amountTxn = await stripe.balanceTransactions.retrieve(amount?.balance_transaction_id as string);
      expect(amountTxn).toMatchObject({ amount: before.get(amountTxn.id)?.amount, net: before.get(amountTxn.id)?.net });
      expect(rowsWith(amountTxn.id)).toEqual([
        expect.objectContaining({
          gross: cents(amountTxn.amount + 100),
          net: cents(amountTxn.net + 100),
          fee: cents(amountTxn.fee),
          currency: 'eur',
        }),
      ]);

      const [flip] = ofType('currency_mismatch');
      const flipTxn = await stripe.balanceTransactions.retrieve(flip?.balance_transaction_id as string);
      expect(flipTxn.currency).toBe('eur');
      expect(rowsWith(flipTxn.id)).toEqual([
        expect.objectContaining({ currency: 'usd', gross: cents(flipTxn.amount), net: cents(flipTxn.net) }),
      ]);

      const [dropped] = ofType('missing_in_settlement');
      expect(rowsWith(dropped?.balance_transaction_id as string)).toHaveLength(0);
      const droppedTxn = await stripe.balanceTransactions.retrieve(dropped?.balance_transaction_id as string);
      expect(droppedTxn.created).toBeGreaterThanOrEqual(D_START);
      expect(droppedTxn.created).toBeLessThan(NEXT_START);

      const known = new Set(sim.balanceTransactions().map((txn) => txn.id));
      for (const entry of ofType('unknown_row')) {
        expect(known.has(entry.balance_transaction_id)).toBe(false);
        expect(entry.payment_id).toBeNull();
        expect(rowsWith(entry.balance_transaction_id)).toEqual([
          expect.objectContaining({
            reporting_category: 'charge',
            source_id: entry.source_id,
            charge_id: entry.source_id,
            payment_intent_id: entry.payment_intent_id,
            'payment_metadata[payment_id]': '',
            'payment_metadata[checkout_id]': '',
            created_utc: expect.stringMatching(/^2030-03-15 /),
          }),
        ]);
        expect(entry.source_id).toMatch(/^ch_/);
        expect(entry.payment_intent_id).toMatch(/^pi_/);
      }
      // Every other row of the day is there once, as its balance transaction says.
      const faulted = new Set(ids);
      for (const txn of platformTransactionsOf(D_START).filter((candidate) => !faulted.has(candidate.id))) {
        expect(rowsWith(txn.id)).toEqual([expect.objectContaining({ gross: cents(txn.amount), currency: 'eur' })]);
      }
      // 8 charges (one late, one dropped), a refund, a top-up, a fee row; one duplicate and two unknown rows.
      expect(rows).toHaveLength(11 - 2 + 1 + 2);
    });

    it('is seeded: the same seed gives the same file, a new run of the day too; clearing restores the day', async () => {
      await dayOfCharges();
      const plain = sim.settlementFile(D);
      const first = sim.setSettlementFaults(FAULTS);
      const file = sim.settlementFile(D);
      expect(file).not.toBe(plain);
      expect((await runReport(D_START, NEXT_START)).csv).toBe(file);
      expect((await runReport(D_START, NEXT_START)).csv).toBe(file);

      const other = sim.setSettlementFaults({ ...FAULTS, seed: 8 });
      expect(other).not.toEqual(first);
      expect(sim.settlementFile(D)).not.toBe(file);
      // Setting the first seed again moves the late row of seed 8 back first: the same rows, the same file.
      expect(sim.setSettlementFaults(FAULTS)).toEqual(first);
      expect(sim.settlementFile(D)).toBe(file);
      expect(sim.settlementFaults()).toEqual([FAULTS]);

      const cleared = await adminJson(sim, 'DELETE', '/__admin/settlement/faults');
      expect(cleared).toEqual({ status: 200, body: [] });
      expect(sim.settlementManifest(D)).toEqual({ date: D, injected: [] });
      expect(sim.settlementFile(D)).toBe(plain);
    });

    it('defaults the date to the money clock day, and reset forgets the faults', async () => {
      await dayOfCharges();
      const set = await setFaults({ seed: 3, drop_rows: 2 });
      expect(set.status).toBe(200);
      expect(set.body.date).toBe(D);
      expect(set.body.injected).toHaveLength(2);
      expect((await adminJson(sim, 'GET', '/__admin/settlement/faults')).body).toEqual([
        {
          seed: 3,
          date: D,
          duplicate_rows: 0,
          late_rows: 0,
          amount_deltas: 0,
          currency_flips: 0,
          drop_rows: 2,
          unknown_rows: 0,
        },
      ]);
      const file = await fetch(`${sim.url}/__admin/settlement/file?date=${D}`);
      expect(file.headers.get('content-type')).toMatch(/^text\/csv/);
      expect(await file.text()).toBe(sim.settlementFile(D));
      sim.reset();
      expect(sim.settlementFaults()).toEqual([]);
      expect(sim.settlementManifest(D).injected).toEqual([]);
    });
  });

  describe('validation', () => {
    it('refuses an unknown report type, a missing or empty interval, another timezone and an unknown column', async () => {
      const interval = { interval_start: D_START, interval_end: NEXT_START };
      const unknownType = await caught(
        stripe.reporting.reportRuns.create({ report_type: 'balance.summary.1', parameters: interval }),
      );
      expect(unknownType).toMatchObject({ statusCode: 400, type: 'StripeInvalidRequestError', param: 'report_type' });
      expect(unknownType.raw).toMatchObject({ type: 'invalid_request_error' });

      const missing = await caught(stripe.reporting.reportRuns.create({ report_type: REPORT_TYPE }));
      expect(missing).toMatchObject({ statusCode: 400, param: 'parameters[interval_start]' });
      const noEnd = await caught(
        stripe.reporting.reportRuns.create({ report_type: REPORT_TYPE, parameters: { interval_start: D_START } }),
      );
      expect(noEnd.param).toBe('parameters[interval_end]');
      const backwards = await caught(
        stripe.reporting.reportRuns.create({
          report_type: REPORT_TYPE,
          parameters: { interval_start: NEXT_START, interval_end: D_START },
        }),
      );
      expect(backwards).toMatchObject({ statusCode: 400, param: 'parameters[interval_end]' });
      const timezone = await caught(
        stripe.reporting.reportRuns.create({
          report_type: REPORT_TYPE,
          parameters: { ...interval, timezone: 'Europe/Paris' },
        }),
      );
      expect(timezone.param).toBe('parameters[timezone]');
      const column = await caught(
        stripe.reporting.reportRuns.create({
          report_type: REPORT_TYPE,
          parameters: { ...interval, columns: ['gross', 'customer_email'] },
        }),
      );
      expect(column).toMatchObject({ statusCode: 400, param: 'parameters[columns]' });
      expect(column.message).toContain("'customer_email'");
      expect(sim.reportRuns()).toEqual([]);

      const noRun = await caught(stripe.reporting.reportRuns.retrieve('frr_missing'));
      expect(noRun).toMatchObject({ statusCode: 404, code: 'resource_missing' });
      const noFile = await caught(stripe.files.retrieve('file_missing'));
      expect(noFile).toMatchObject({ statusCode: 404, code: 'resource_missing' });
    });

    it('serves file contents to the secret key only', async () => {
      const run = await stripe.reporting.reportRuns.create({
        report_type: REPORT_TYPE,
        parameters: { interval_start: D_START, interval_end: NEXT_START },
      });
      await stripe.reporting.reportRuns.retrieve(run.id);
      const url = (await stripe.reporting.reportRuns.retrieve(run.id)).result?.url as string;
      expect((await fetch(url)).status).toBe(401);
      expect((await fetch(url, { headers: { Authorization: 'Bearer sk_test_other' } })).status).toBe(401);
      expect(headerOf(await download(url))).toEqual([...REPORT_COLUMNS]);
    });

    it('refuses bad fault fields (400 naming the field) and too many faults (409), keeping the faults in force', async () => {
      await advanceDay();
      for (let i = 1; i <= 3; i++) await pay(1000, `pay_${i}`, { payment_id: `pay_${i}` });
      const post = (body: unknown) => adminJson(sim, 'POST', '/__admin/settlement/faults', body);
      for (const [body, param] of [
        [{ late_rows: -1 }, 'late_rows'],
        [{ duplicate_rows: 1.5 }, 'duplicate_rows'],
        [{ unknown_rows: '2' }, 'unknown_rows'],
        [{ drop_rows: 1, colour: 'red' }, 'colour'],
        [{ date: '2030-02-30' }, 'date'],
        [{ date: '15/03/2030' }, 'date'],
        [{ seed: 'x' }, 'seed'],
      ] as const) {
        const response = await post(body);
        expect(response.status).toBe(400);
        expect(response.body.error.param).toBe(param);
        expect(response.body.error.message).toContain(param);
      }
      const fee = await adminJson(sim, 'POST', '/__admin/stripe_fees', { currency: 'eur', amount: -5 });
      expect(fee.status).toBe(400);

      const kept = await post({ seed: 1, date: D, drop_rows: 1 });
      expect(kept.status).toBe(200);
      // Three charge rows: late, drop, amount and currency faults share them.
      const tooMany = await post({ seed: 1, date: D, late_rows: 2, currency_flips: 2 });
      expect(tooMany.status).toBe(409);
      expect(tooMany.body.error).toMatchObject({ param: 'currency_flips', eligible: 1 });
      expect(tooMany.body.error.message).toContain('currency_flips');
      // The day with no activity has nothing to duplicate.
      const empty = await post({ date: '2030-01-01', duplicate_rows: 1 });
      expect(empty.status).toBe(409);
      expect(empty.body.error).toMatchObject({ param: 'duplicate_rows', eligible: 0 });
      // The refused request changed nothing: the earlier faults are in force, no row moved.
      expect(sim.settlementManifest(D)).toEqual(kept.body);
      expect(platformTransactionsOf(D_START)).toHaveLength(3);
      expect(rowsOf(sim.settlementFile(D))).toHaveLength(2);
    });
  });
});
