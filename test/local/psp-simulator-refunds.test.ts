// Refunds on the PSP simulator, driven by the real stripe SDK: partial refunds and Stripe's refusals, idempotency,
// the platform's balance (pending while it is short), failures on request, cancellation, events and webhooks, and
// the fault controls applied to POST /v1/refunds.

import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { type PspSimulator, type PspSimulatorOptions, startPspSimulator } from '../../local/psp-simulator/server';
import { caught, sleep } from '../support/stripe-calls';

jest.setTimeout(30_000);

const SECRET_KEY = 'sk_test_simulator_0123456789abcdefWXYZ';
const WEBHOOK_SECRET = 'whsec_refunds_0123456789';
const DAY = 86_400;
/** 2.9% + 30 of 2599, rounded half up: 75.371 -> 75, + 30. */
const FEE_2599 = 105;

// biome-ignore lint/suspicious/noExplicitAny: admin answers are checked field by field
type Json = any;

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

function eur(entries: { amount: number; currency: string }[]): number | undefined {
  return entries.find((entry) => entry.currency === 'eur')?.amount;
}

describe('PSP simulator: refunds (driven by the stripe SDK)', () => {
  let sim: PspSimulator;
  let stripe: Stripe;
  const extraSims: PspSimulator[] = [];

  async function start(opts: Partial<PspSimulatorOptions> = {}): Promise<void> {
    sim = await startPspSimulator({ secretKey: SECRET_KEY, ...opts });
    stripe = clientFor(sim);
  }

  beforeEach(async () => {
    await start();
  });

  afterEach(async () => {
    await sim.close();
    await Promise.all(extraSims.splice(0).map((extra) => extra.close()));
  });

  function pay(amount: number, key: string) {
    return stripe.paymentIntents.create(
      {
        amount,
        currency: 'eur',
        payment_method: 'pm_card_visa',
        confirm: true,
        automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
        description: `Order ${key}`,
      },
      { idempotencyKey: key },
    );
  }

  async function topUp(amount: number, currency = 'eur') {
    const response = await adminJson(sim, 'POST', '/__admin/balance/topup', { currency, amount });
    expect(response.status).toBe(200);
    return response.body;
  }

  async function advance(seconds: number) {
    const response = await adminJson(sim, 'POST', '/__admin/clock/advance', { seconds });
    expect(response.status).toBe(200);
    return response.body as { now: number; offset_seconds: number };
  }

  function refund(params: Stripe.RefundCreateParams, key: string) {
    return stripe.refunds.create(params, { idempotencyKey: key });
  }

  function eventTypes(prefixes: string[] = ['refund.', 'charge.refunded']): string[] {
    return sim
      .events()
      .map((event) => event.type)
      .filter((type) => prefixes.some((prefix) => type.startsWith(prefix)));
  }

  function eventsOf(type: string): Stripe.Event[] {
    return sim.events().filter((event) => event.type === type);
  }

  describe('partial refunds and what Stripe refuses', () => {
    it('refunds part, then the rest; a third is charge_already_refunded; the charge tracks amount_refunded', async () => {
      await topUp(100_000);
      const pi = await pay(2599, 'order_1');
      const chargeId = pi.latest_charge as string;

      const first = await refund(
        {
          payment_intent: pi.id,
          amount: 1000,
          reason: 'requested_by_customer',
          metadata: { refund_id: 'rf_1' },
        },
        'rf_1',
      );
      expect(first).toMatchObject({
        object: 'refund',
        amount: 1000,
        currency: 'eur',
        status: 'succeeded',
        charge: chargeId,
        payment_intent: pi.id,
        reason: 'requested_by_customer',
        metadata: { refund_id: 'rf_1' },
      });
      expect(first.id).toMatch(/^re_/);
      expect(first.balance_transaction).toMatch(/^txn_/);
      expect(first.failure_reason).toBeUndefined();
      const partly = await stripe.charges.retrieve(chargeId);
      expect(partly).toMatchObject({ amount_refunded: 1000, refunded: false });

      // More than remains: Stripe's `amount` error (no refund made).
      const tooMuch = await caught(refund({ payment_intent: pi.id, amount: 2000 }, 'rf_too_much'));
      expect(tooMuch).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      expect(tooMuch.statusCode).toBe(400);
      expect(tooMuch.param).toBe('amount');
      expect(tooMuch.message).toBe('Refund amount (€20.00) is greater than unrefunded amount on charge (€15.99)');

      // By charge, without an amount: the rest.
      const rest = await refund({ charge: chargeId }, 'rf_2');
      expect(rest).toMatchObject({ amount: 1599, status: 'succeeded', payment_intent: pi.id });

      const third = await caught(refund({ payment_intent: pi.id, amount: 1 }, 'rf_3'));
      expect(third.statusCode).toBe(400);
      expect(third.code).toBe('charge_already_refunded');
      expect(third.message).toBe(`Charge ${chargeId} has already been refunded.`);

      const charge = await stripe.charges.retrieve(chargeId, { expand: ['refunds'] });
      expect(charge).toMatchObject({ amount_refunded: 2599, refunded: true });
      expect(charge.refunds?.data.map((each) => each.id)).toEqual([rest.id, first.id]);
      // Not included unless expanded, as on Stripe since 2022-11-15.
      expect((await stripe.charges.retrieve(chargeId)).refunds).toBeUndefined();

      expect(sim.refunds().map((each) => [each.amount, each.status])).toEqual([
        [1000, 'succeeded'],
        [1599, 'succeeded'],
      ]);
    });

    it('retrieves and lists refunds newest first, by payment_intent or charge, with the cursors', async () => {
      await topUp(100_000);
      const a = await pay(5000, 'order_a');
      const b = await pay(3000, 'order_b');
      const a1 = await refund({ payment_intent: a.id, amount: 100 }, 'a1');
      const b1 = await refund({ payment_intent: b.id, amount: 200 }, 'b1');
      const a2 = await refund({ payment_intent: a.id, amount: 300 }, 'a2');

      expect(await stripe.refunds.retrieve(a1.id)).toEqual(a1);
      const all = await stripe.refunds.list();
      expect(all).toMatchObject({ object: 'list', url: '/v1/refunds', has_more: false });
      expect(all.data.map((each) => each.id)).toEqual([a2.id, b1.id, a1.id]);
      const ofA = await stripe.refunds.list({ payment_intent: a.id });
      expect(ofA.data.map((each) => each.id)).toEqual([a2.id, a1.id]);
      const ofB = await stripe.refunds.list({ charge: b.latest_charge as string });
      expect(ofB.data.map((each) => each.id)).toEqual([b1.id]);
      const page = await stripe.refunds.list({ payment_intent: a.id, limit: 1 });
      expect(page).toMatchObject({ has_more: true });
      expect(page.data.map((each) => each.id)).toEqual([a2.id]);
      const next = await stripe.refunds.list({ payment_intent: a.id, limit: 1, starting_after: a2.id });
      expect(next.data.map((each) => each.id)).toEqual([a1.id]);
      expect(next.has_more).toBe(false);

      const missing = await caught(stripe.refunds.retrieve('re_missing'));
      expect(missing.statusCode).toBe(404);
      expect(missing.code).toBe('resource_missing');
      expect((await adminJson(sim, 'GET', `/__admin/refunds?payment_intent=${b.id}`)).body).toEqual([
        expect.objectContaining({ id: b1.id, amount: 200 }),
      ]);
    });

    it('refuses a refund without a target, of an unknown intent, and of an intent without a successful charge', async () => {
      const none = await caught(stripe.refunds.create({ amount: 100 }));
      expect(none.statusCode).toBe(400);
      const unknown = await caught(stripe.refunds.create({ payment_intent: 'pi_missing' }));
      expect(unknown).toMatchObject({ statusCode: 400, code: 'resource_missing', param: 'payment_intent' });
      const open = await stripe.paymentIntents.create({ amount: 1000, currency: 'eur' });
      const unpaid = await caught(stripe.refunds.create({ payment_intent: open.id }));
      expect(unpaid.message).toBe(`This PaymentIntent (${open.id}) does not have a successful charge to refund.`);
      expect(sim.refunds()).toEqual([]);
    });
  });

  describe('idempotency', () => {
    it('replays the same refund to a retry with the same key, and refuses the key with other parameters', async () => {
      await topUp(100_000);
      const pi = await pay(2599, 'order_idem');
      const first = await refund({ payment_intent: pi.id, amount: 500 }, 'refund:order_idem:1');
      const again = await refund({ payment_intent: pi.id, amount: 500 }, 'refund:order_idem:1');
      expect(again.id).toBe(first.id);
      expect(again.lastResponse.headers['idempotent-replayed']).toBe('true');
      expect(sim.refunds()).toHaveLength(1);
      expect((await stripe.charges.retrieve(pi.latest_charge as string)).amount_refunded).toBe(500);

      const other = await caught(refund({ payment_intent: pi.id, amount: 600 }, 'refund:order_idem:1'));
      expect(other).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
      expect(other.statusCode).toBe(400);
      expect(sim.refunds()).toHaveLength(1);
      expect(sim.balanceTransactions(null).filter((txn) => txn.type === 'refund')).toHaveLength(1);
    });

    it('stores a refusal decided when executing: the retry replays it even after the charge changed', async () => {
      await topUp(100_000);
      const pi = await pay(2599, 'order_refused');
      await refund({ payment_intent: pi.id }, 'full');
      const refused = await caught(refund({ payment_intent: pi.id, amount: 10 }, 'late'));
      expect(refused.code).toBe('charge_already_refunded');
      const replayed = await caught(refund({ payment_intent: pi.id, amount: 10 }, 'late'));
      expect(replayed.code).toBe('charge_already_refunded');
      expect(replayed.headers?.['idempotent-replayed']).toBe('true');
    });
  });

  describe('money: balance transactions and the platform balance', () => {
    it('books a refund transaction (fee 0) on the available balance and keeps the charge fee', async () => {
      await topUp(100_000);
      const pi = await pay(2599, 'order_money');
      const chargeId = pi.latest_charge as string;
      const created = await refund({ payment_intent: pi.id, amount: 1000 }, 'money_1');

      const txn = await stripe.balanceTransactions.retrieve(created.balance_transaction as string);
      expect(txn).toMatchObject({
        type: 'refund',
        reporting_category: 'refund',
        amount: -1000,
        fee: 0,
        fee_details: [],
        net: -1000,
        currency: 'eur',
        source: created.id,
        status: 'available',
      });
      // Stripe keeps its processing fee: the charge's transaction is unchanged.
      const charge = await stripe.charges.retrieve(chargeId, { expand: ['balance_transaction'] });
      expect(charge.balance_transaction).toMatchObject({
        type: 'charge',
        amount: 2599,
        fee: FEE_2599,
        net: 2599 - FEE_2599,
      });
      const balance = await stripe.balance.retrieve();
      expect(eur(balance.available)).toBe(100_000 - 1000);
      expect(eur(balance.pending)).toBe(2599 - FEE_2599);

      const topups = await stripe.balanceTransactions.list({ type: 'topup' });
      expect(topups.data).toEqual([
        expect.objectContaining({ amount: 100_000, reporting_category: 'topup', status: 'available' }),
      ]);
      const bySource = await stripe.balanceTransactions.list({ source: created.id });
      expect(bySource.data.map((each) => each.id)).toEqual([txn.id]);
    });
  });

  describe('pending while the available balance is short', () => {
    it('waits pending (insufficient_funds), counted in amount_refunded, and succeeds after a top-up', async () => {
      const pi = await pay(2599, 'order_short');
      const chargeId = pi.latest_charge as string;
      const pending = await refund({ payment_intent: pi.id, amount: 1000 }, 'short_1');
      expect(pending).toMatchObject({
        status: 'pending',
        pending_reason: 'insufficient_funds',
        balance_transaction: null,
      });
      expect((await stripe.charges.retrieve(chargeId)).amount_refunded).toBe(1000);
      expect(eventTypes()).toEqual(['refund.created']);
      // A sweep or another request changes nothing while the balance stays short.
      await sleep(50);
      expect((await stripe.refunds.retrieve(pending.id)).status).toBe('pending');
      expect(sim.balanceTransactions(null).filter((txn) => txn.type === 'refund')).toEqual([]);

      await topUp(600);
      expect((await stripe.refunds.retrieve(pending.id)).status).toBe('pending');
      await topUp(400);
      const done = await stripe.refunds.retrieve(pending.id);
      expect(done).toMatchObject({ status: 'succeeded' });
      expect(done.pending_reason).toBeUndefined();
      expect(done.balance_transaction).toMatch(/^txn_/);
      expect(eventTypes()).toEqual(['refund.created', 'refund.updated', 'charge.refunded']);
      const [updated] = eventsOf('refund.updated');
      expect(updated?.data.previous_attributes).toMatchObject({
        status: 'pending',
        balance_transaction: null,
        pending_reason: 'insufficient_funds',
      });
      expect(eur((await stripe.balance.retrieve()).available)).toBe(0);
    });

    it('succeeds when the charge funds become available on a clock advance, dated when they did', async () => {
      const pi = await pay(2599, 'order_clock');
      const pending = await refund({ payment_intent: pi.id, amount: 2000 }, 'clock_1');
      expect(pending.status).toBe('pending');
      const chargeTxn = sim.balanceTransactions(null).find((txn) => txn.type === 'charge');

      await advance(DAY);
      const done = await stripe.refunds.retrieve(pending.id);
      expect(done.status).toBe('succeeded');
      const [updated] = eventsOf('refund.updated');
      expect(updated?.created).toBe(chargeTxn?.available_on);
      expect(eventsOf('charge.refunded')[0]?.created).toBe(chargeTxn?.available_on);
      expect(eur((await stripe.balance.retrieve()).available)).toBe(2599 - FEE_2599 - 2000);
    });

    it('books waiting refunds oldest first, each one the balance covers', async () => {
      const a = await pay(5000, 'order_q1');
      const b = await pay(5000, 'order_q2');
      const big = await refund({ payment_intent: a.id, amount: 4000 }, 'q_big');
      const small = await refund({ payment_intent: b.id, amount: 500 }, 'q_small');
      await topUp(1000);
      expect((await stripe.refunds.retrieve(big.id)).status).toBe('pending');
      expect((await stripe.refunds.retrieve(small.id)).status).toBe('succeeded');
      await topUp(3500);
      expect((await stripe.refunds.retrieve(big.id)).status).toBe('succeeded');
      expect(eur((await stripe.balance.retrieve()).available)).toBe(0);
    });
  });

  describe('failures', () => {
    it('fails the next refund on request: pending (processing), then failed with a refund_failure transaction', async () => {
      await topUp(100_000);
      const pi = await pay(2599, 'order_fail');
      const plan = await adminJson(sim, 'POST', '/__admin/refunds/failures', {
        refund_failure_reason: 'expired_or_canceled_card',
      });
      expect(plan.status).toBe(200);
      expect(plan.body).toEqual([{ refund_failure_reason: 'expired_or_canceled_card', count: 1, delay_seconds: 0 }]);

      const created = await refund({ payment_intent: pi.id, amount: 1000 }, 'fail_1');
      expect(created).toMatchObject({ status: 'pending', pending_reason: 'processing' });
      expect(created.balance_transaction).toMatch(/^txn_/);
      expect((await adminJson(sim, 'GET', '/__admin/refunds/failures')).body).toEqual([]);

      // Due at once: the next request sees it failed.
      const failed = await stripe.refunds.retrieve(created.id, { expand: ['failure_balance_transaction'] });
      expect(failed).toMatchObject({ status: 'failed', failure_reason: 'expired_or_canceled_card' });
      expect(failed.failure_balance_transaction).toMatchObject({
        type: 'refund_failure',
        reporting_category: 'refund_failure',
        amount: 1000,
        fee: 0,
        net: 1000,
        source: created.id,
        status: 'available',
      });
      expect(eur((await stripe.balance.retrieve()).available)).toBe(100_000);
      expect((await stripe.charges.retrieve(pi.latest_charge as string)).amount_refunded).toBe(0);
      expect(eventTypes()).toEqual(['refund.created', 'refund.failed', 'refund.updated']);
      expect(eventsOf('refund.failed')[0]?.data.object).toMatchObject({ id: created.id, status: 'failed' });
      expect(eventsOf('refund.updated')[0]?.data.previous_attributes).toMatchObject({ status: 'pending' });

      // The plan is used up: the next refund succeeds, and may take the whole charge again.
      const next = await refund({ payment_intent: pi.id }, 'fail_2');
      expect(next).toMatchObject({ status: 'succeeded', amount: 2599 });
    });

    it('fails after delay_seconds on the money clock', async () => {
      await topUp(100_000);
      const pi = await pay(2599, 'order_delay');
      await adminJson(sim, 'POST', '/__admin/refunds/failures', {
        refund_failure_reason: 'lost_or_stolen_card',
        count: 2,
        delay_seconds: 3600,
      });
      const first = await refund({ payment_intent: pi.id, amount: 100 }, 'delay_1');
      const second = await refund({ payment_intent: pi.id, amount: 200 }, 'delay_2');
      await advance(3599);
      expect((await stripe.refunds.retrieve(first.id)).status).toBe('pending');
      await advance(1);
      expect((await stripe.refunds.retrieve(first.id)).status).toBe('failed');
      expect((await stripe.refunds.retrieve(second.id)).failure_reason).toBe('lost_or_stolen_card');
      const failedEvents = eventsOf('refund.failed');
      expect(failedEvents.map((event) => (event.data.object as Stripe.Refund).id)).toEqual([first.id, second.id]);
      expect(failedEvents[0]?.created).toBe(first.created + 3600);
    });

    it('fails a succeeded refund later (admin), giving the money back', async () => {
      await topUp(100_000);
      const pi = await pay(2599, 'order_late_fail');
      const done = await refund({ payment_intent: pi.id, amount: 700 }, 'late_1');
      expect(done.status).toBe('succeeded');
      const response = await adminJson(sim, 'POST', `/__admin/refunds/${done.id}/fail`, {
        failure_reason: 'lost_or_stolen_card',
      });
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ id: done.id, status: 'failed', failure_reason: 'lost_or_stolen_card' });
      const txns = sim.balanceTransactions(null).filter((txn) => txn.source === done.id);
      expect(txns.map((txn) => [txn.type, txn.amount])).toEqual([
        ['refund', -700],
        ['refund_failure', 700],
      ]);
      expect(eventTypes()).toEqual(['refund.created', 'charge.refunded', 'refund.failed', 'refund.updated']);

      const again = await adminJson(sim, 'POST', `/__admin/refunds/${done.id}/fail`, { failure_reason: 'unknown' });
      expect(again.status).toBe(409);
      const bad = await adminJson(sim, 'POST', `/__admin/refunds/${done.id}/fail`, { failure_reason: 'bogus' });
      expect(bad.status).toBe(400);
      expect(
        (await adminJson(sim, 'POST', '/__admin/refunds/re_nope/fail', { failure_reason: 'unknown' })).status,
      ).toBe(404);
    });

    it('validates failure plans', async () => {
      for (const body of [
        {},
        { refund_failure_reason: 'bogus' },
        { refund_failure_reason: 'unknown', count: 0 },
        { refund_failure_reason: 'unknown', delay_seconds: -1 },
        { refund_failure_reason: 'unknown', colour: 'red' },
      ]) {
        expect((await adminJson(sim, 'POST', '/__admin/refunds/failures', body)).status).toBe(400);
      }
      await adminJson(sim, 'POST', '/__admin/refunds/failures', { refund_failure_reason: 'declined', count: 3 });
      expect((await adminJson(sim, 'DELETE', '/__admin/refunds/failures')).body).toEqual([]);
    });
  });

  describe('cancel', () => {
    it('cancels a pending refund (nothing was booked) and refuses to cancel a succeeded one', async () => {
      const pi = await pay(2599, 'order_cancel');
      const pending = await refund({ payment_intent: pi.id, amount: 1000 }, 'cancel_1');
      expect(pending.status).toBe('pending');
      const canceled = await stripe.refunds.cancel(pending.id, {}, { idempotencyKey: 'cancel_1:cancel' });
      expect(canceled.status).toBe('canceled');
      expect(canceled.pending_reason).toBeUndefined();
      expect((await stripe.charges.retrieve(pi.latest_charge as string)).amount_refunded).toBe(0);
      expect(eventTypes()).toEqual(['refund.created', 'refund.updated']);
      expect(eventsOf('refund.updated')[0]?.data.previous_attributes).toMatchObject({ status: 'pending' });

      // Funds arriving later do not revive it.
      await topUp(5000);
      expect((await stripe.refunds.retrieve(pending.id)).status).toBe('canceled');
      expect(sim.balanceTransactions(null).filter((txn) => txn.source === pending.id)).toEqual([]);

      const done = await refund({ payment_intent: pi.id, amount: 1000 }, 'cancel_2');
      expect(done.status).toBe('succeeded');
      const refused = await caught(stripe.refunds.cancel(done.id));
      expect(refused.statusCode).toBe(400);
      expect(refused.message).toMatch(/status of succeeded/);
      expect((await stripe.refunds.retrieve(done.id)).status).toBe('succeeded');
    });

    it('cancels a booked pending refund (a failure planned) with its money given back', async () => {
      await topUp(10_000);
      const pi = await pay(2599, 'order_cancel_booked');
      await adminJson(sim, 'POST', '/__admin/refunds/failures', {
        refund_failure_reason: 'unknown',
        delay_seconds: 3600,
      });
      const pending = await refund({ payment_intent: pi.id, amount: 1000 }, 'cancel_booked');
      expect(eur((await stripe.balance.retrieve()).available)).toBe(9000);
      const canceled = await stripe.refunds.cancel(pending.id);
      expect(canceled.status).toBe('canceled');
      expect(canceled.failure_balance_transaction).toMatch(/^txn_/);
      expect(eur((await stripe.balance.retrieve()).available)).toBe(10_000);
      await advance(3600);
      expect((await stripe.refunds.retrieve(pending.id)).status).toBe('canceled');
      expect(eventsOf('refund.failed')).toEqual([]);
    });
  });

  describe('events and webhooks', () => {
    it('emits charge.refunded with the Charge, and refund.updated on a metadata update', async () => {
      await topUp(100_000);
      const pi = await pay(2599, 'order_events');
      const created = await refund({ payment_intent: pi.id, amount: 999, metadata: { a: '1' } }, 'ev_1');
      const [refunded] = eventsOf('charge.refunded');
      expect(refunded?.data.object).toMatchObject({
        object: 'charge',
        id: pi.latest_charge,
        amount_refunded: 999,
        refunded: false,
        payment_intent: pi.id,
      });
      expect(refunded?.request).toEqual({ id: expect.stringMatching(/^req_/), idempotency_key: 'ev_1' });
      const [createdEvent] = eventsOf('refund.created');
      expect(createdEvent?.data.object).toMatchObject({ id: created.id, status: 'succeeded' });

      const updated = await stripe.refunds.update(created.id, { metadata: { a: '', b: '2' } });
      expect(updated.metadata).toEqual({ b: '2' });
      expect(eventsOf('refund.updated')[0]?.data.previous_attributes).toEqual({ metadata: { a: '1' } });
      // The events are listed by the API too.
      const listed = await stripe.events.list({ type: 'refund.*' });
      expect(listed.data.map((event) => event.type)).toEqual(['refund.updated', 'refund.created']);
    });

    it('signs and delivers the refund events to the webhook endpoint', async () => {
      const received: { body: string; headers: IncomingHttpHeaders }[] = [];
      const server: Server = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (chunk: Buffer) => chunks.push(chunk));
        req.on('end', () => {
          received.push({ body: Buffer.concat(chunks).toString('utf8'), headers: req.headers });
          res.writeHead(200, { Connection: 'close' }).end('ok');
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const { port } = server.address() as AddressInfo;
        await sim.close();
        await start({ webhookUrl: `http://127.0.0.1:${port}/webhooks`, webhookSecret: WEBHOOK_SECRET });
        await topUp(100_000);
        const pi = await pay(2599, 'order_hook');
        const created = await refund({ payment_intent: pi.id, amount: 100 }, 'hook_1');
        for (let i = 0; i < 100 && sim.pendingWebhooks() > 0; i++) await sleep(20);
        const verified = received.map((entry) =>
          stripe.webhooks.constructEvent(entry.body, entry.headers['stripe-signature'] as string, WEBHOOK_SECRET),
        );
        const refundEvents = verified.filter(
          (event) => event.type.startsWith('refund.') || event.type === 'charge.refunded',
        );
        expect(refundEvents.map((event) => event.type)).toEqual(['refund.created', 'charge.refunded']);
        expect(refundEvents[0]?.data.object).toMatchObject({ object: 'refund', id: created.id });
      } finally {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    });
  });

  describe('fault controls on POST /v1/refunds', () => {
    it('a targeted lost fault executes the refund and drops the answer; the SDK retry with the key replays it', async () => {
      await topUp(100_000);
      const pi = await pay(2599, 'order_lost1');
      const target = await adminJson(sim, 'POST', '/__admin/faults/next', { path: '/v1/refunds', fault: 'lost' });
      expect(target.status).toBe(200);
      // The SDK retries a closed connection once on its own, with the same key: it gets the stored answer.
      const done = await refund({ payment_intent: pi.id, amount: 1200 }, 'lost_1');
      expect(done.lastResponse.headers['idempotent-replayed']).toBe('true');
      expect(sim.refunds().map((each) => each.id)).toEqual([done.id]);
      expect(sim.injectedFaults()).toEqual([
        expect.objectContaining({ fault: 'lost', source: 'targeted', path: '/v1/refunds', idempotency_key: 'lost_1' }),
      ]);
    });

    it('two lost answers fail the SDK call after the refund executed; our retry with the key replays it', async () => {
      await topUp(100_000);
      const pi = await pay(2599, 'order_lost2');
      sim.injectFault({ path: '/v1/refunds', fault: 'lost', count: 2 });

      const lost = await caught(refund({ payment_intent: pi.id, amount: 1200 }, 'lost_2'));
      expect(lost).toBeInstanceOf(Stripe.errors.StripeConnectionError);
      expect(sim.refunds()).toEqual([expect.objectContaining({ amount: 1200, status: 'succeeded' })]);

      const retry = await refund({ payment_intent: pi.id, amount: 1200 }, 'lost_2');
      expect(retry.lastResponse.headers['idempotent-replayed']).toBe('true');
      expect(retry.id).toBe(sim.refunds()[0]?.id);
      expect(sim.refunds()).toHaveLength(1);
      expect(eventsOf('refund.created')).toHaveLength(1);
      expect(eur((await stripe.balance.retrieve()).available)).toBe(100_000 - 1200);
      expect(sim.injectedFaults().map((entry) => [entry.fault, entry.path])).toEqual([
        ['lost', '/v1/refunds'],
        ['lost', '/v1/refunds'],
      ]);
    });

    it('a charged500 on the refund executes it; the stored 500 is replayed to the retry', async () => {
      await topUp(100_000);
      const pi = await pay(2599, 'order_500');
      sim.injectFault({ path: '/v1/refunds', fault: 'charged500' });
      const failed = await caught(refund({ payment_intent: pi.id, amount: 300 }, 'c500'));
      expect(failed.statusCode).toBe(500);
      expect(sim.refunds()).toHaveLength(1);
      const replay = await caught(refund({ payment_intent: pi.id, amount: 300 }, 'c500'));
      expect(replay.statusCode).toBe(500);
      expect(sim.refunds()).toHaveLength(1);
    });

    it('rate faults apply to refunds: a 429 stores nothing and refunds nothing', async () => {
      await topUp(100_000);
      const pi = await pay(2599, 'order_rate');
      sim.setFaults({ ratelimit_rate: 1 });
      const limited = await caught(refund({ payment_intent: pi.id, amount: 300 }, 'rate_1'));
      expect(limited).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
      expect(sim.refunds()).toEqual([]);
      sim.setFaults({});
      const done = await refund({ payment_intent: pi.id, amount: 300 }, 'rate_1');
      expect(done.status).toBe('succeeded');
      expect(done.lastResponse.headers['idempotent-replayed']).toBeUndefined();
    });
  });

  it('reset forgets refunds, failure plans and the top-ups', async () => {
    await topUp(100_000);
    const pi = await pay(2599, 'order_reset');
    await refund({ payment_intent: pi.id, amount: 100 }, 'reset_1');
    await adminJson(sim, 'POST', '/__admin/refunds/failures', { refund_failure_reason: 'unknown' });
    expect((await adminJson(sim, 'POST', '/__admin/reset')).status).toBe(200);
    expect(sim.refunds()).toEqual([]);
    expect((await adminJson(sim, 'GET', '/__admin/refunds')).body).toEqual([]);
    expect((await adminJson(sim, 'GET', '/__admin/refunds/failures')).body).toEqual([]);
    expect(sim.balanceTransactions()).toEqual([]);
  });

  it('offers the same controls programmatically: top-up, failure plans, failing a refund', async () => {
    const txn = sim.topUp('EUR', 50_000);
    expect(txn).toMatchObject({ type: 'topup', currency: 'eur', amount: 50_000 });
    expect(() => sim.topUp('eur', -1)).toThrow('amount');
    const pi = await pay(2599, 'order_programmatic');
    expect(sim.planRefundFailures({ refund_failure_reason: 'declined', delay_seconds: 60 })).toEqual([
      { refund_failure_reason: 'declined', count: 1, delay_seconds: 60 },
    ]);
    expect(() => sim.planRefundFailures({ refund_failure_reason: 'nope' as never })).toThrow('refund_failure_reason');
    const planned = await refund({ payment_intent: pi.id, amount: 100 }, 'prog_1');
    expect(planned.pending_reason).toBe('processing');
    const failed = sim.failRefund(planned.id, 'merchant_request');
    expect(failed).toMatchObject({ status: 'failed', failure_reason: 'merchant_request' });
    sim.advanceClock(120);
    // Failed once: the planned failure does not apply again.
    expect(eventsOf('refund.failed')).toHaveLength(1);
    expect(eur(sim.balance().available)).toBe(50_000);
  });

  it('validates top-ups', async () => {
    expect((await adminJson(sim, 'POST', '/__admin/balance/topup', { currency: 'eur' })).status).toBe(400);
    expect((await adminJson(sim, 'POST', '/__admin/balance/topup', { currency: 'eur', amount: 0 })).status).toBe(400);
    expect((await adminJson(sim, 'POST', '/__admin/balance/topup', { currency: 'xxx', amount: 10 })).status).toBe(400);
    const txn = await topUp(2500, 'USD');
    expect(txn).toMatchObject({ type: 'topup', amount: 2500, currency: 'usd', status: 'available' });
    expect(txn.source).toMatch(/^tu_/);
  });
});
