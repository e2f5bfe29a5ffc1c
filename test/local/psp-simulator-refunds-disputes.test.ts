// Disputes on the PSP simulator: opened by the admin as a cardholder's bank would, answered through the real stripe
// SDK. Money (the withdrawal of the amount and the dispute fee, their reinstatement when won), events in order,
// evidence, lists, and the refusal to refund a disputed charge.

import Stripe from 'stripe';
import { type PspSimulator, startPspSimulator } from '../../local/psp-simulator/server';
import { caught } from '../support/stripe-calls';

jest.setTimeout(30_000);

const SECRET_KEY = 'sk_test_simulator_0123456789abcdefWXYZ';
const DISPUTE_FEE = 1500;
const SEVEN_DAYS = 7 * 86_400;

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

describe('PSP simulator: disputes (driven by the stripe SDK)', () => {
  let sim: PspSimulator;
  let stripe: Stripe;

  beforeEach(async () => {
    sim = await startPspSimulator({ secretKey: SECRET_KEY });
    stripe = clientFor(sim);
  });

  afterEach(async () => {
    await sim.close();
  });

  function pay(amount: number, key: string) {
    return stripe.paymentIntents.create(
      {
        amount,
        currency: 'eur',
        payment_method: 'pm_card_visa',
        confirm: true,
        automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
      },
      { idempotencyKey: key },
    );
  }

  async function topUp(amount: number) {
    expect((await adminJson(sim, 'POST', '/__admin/balance/topup', { currency: 'eur', amount })).status).toBe(200);
  }

  async function openDispute(body: Record<string, unknown>): Promise<Stripe.Dispute> {
    const response = await adminJson(sim, 'POST', '/__admin/disputes', body);
    expect(response.status).toBe(200);
    return response.body as Stripe.Dispute;
  }

  async function closeDispute(id: string, status: string) {
    return adminJson(sim, 'POST', `/__admin/disputes/${id}/close`, { status });
  }

  function disputeEvents(): Stripe.Event[] {
    return sim.events().filter((event) => event.type.startsWith('charge.dispute.'));
  }

  async function available(): Promise<number | undefined> {
    return eur((await stripe.balance.retrieve()).available);
  }

  describe('opening', () => {
    it('withdraws the amount and the fee in one adjustment (category dispute) and emits created, funds_withdrawn', async () => {
      await topUp(100_000);
      const pi = await pay(2599, 'order_d1');
      const chargeId = pi.latest_charge as string;
      const opened = await openDispute({ payment_intent: pi.id, reason: 'fraudulent' });
      expect(opened).toMatchObject({
        object: 'dispute',
        amount: 2599,
        currency: 'eur',
        charge: chargeId,
        payment_intent: pi.id,
        reason: 'fraudulent',
        status: 'needs_response',
        is_charge_refundable: false,
        livemode: false,
        evidence_details: { has_evidence: false, past_due: false, submission_count: 0 },
      });
      expect(opened.id).toMatch(/^du_/);
      expect(opened.evidence_details.due_by).toBe(opened.created + SEVEN_DAYS);
      expect(opened.balance_transactions).toHaveLength(1);
      const [withdrawal] = opened.balance_transactions;
      expect(withdrawal).toMatchObject({
        type: 'adjustment',
        reporting_category: 'dispute',
        amount: -2599,
        fee: DISPUTE_FEE,
        fee_details: [expect.objectContaining({ amount: DISPUTE_FEE, type: 'stripe_fee', description: 'Dispute fee' })],
        net: -2599 - DISPUTE_FEE,
        source: opened.id,
        status: 'available',
      });
      expect(await available()).toBe(100_000 - 2599 - DISPUTE_FEE);
      expect(await stripe.balanceTransactions.retrieve(withdrawal?.id as string)).toEqual(withdrawal);

      expect((await stripe.charges.retrieve(chargeId)).disputed).toBe(true);
      expect(disputeEvents().map((event) => event.type)).toEqual([
        'charge.dispute.created',
        'charge.dispute.funds_withdrawn',
      ]);
      const withdrawn = disputeEvents()[1]?.data.object as Stripe.Dispute;
      expect(withdrawn.balance_transactions.map((txn) => txn.id)).toEqual([withdrawal?.id]);

      const retrieved = await stripe.disputes.retrieve(opened.id);
      expect(retrieved).toEqual(opened);
    });

    it('takes a partial amount, lets the balance go negative, and refuses a second dispute or an unknown intent', async () => {
      const pi = await pay(5000, 'order_d2');
      const opened = await openDispute({ payment_intent: pi.id, reason: 'product_not_received', amount: 1200 });
      expect(opened.amount).toBe(1200);
      expect(await available()).toBe(-1200 - DISPUTE_FEE);

      const twice = await adminJson(sim, 'POST', '/__admin/disputes', { payment_intent: pi.id });
      expect(twice.status).toBe(409);
      const unknown = await adminJson(sim, 'POST', '/__admin/disputes', { payment_intent: 'pi_missing' });
      expect(unknown.status).toBe(400);
      expect(unknown.body.error.code).toBe('resource_missing');
      const other = await pay(1000, 'order_d2b');
      const tooMuch = await adminJson(sim, 'POST', '/__admin/disputes', { payment_intent: other.id, amount: 1001 });
      expect(tooMuch.status).toBe(400);
      const badReason = await adminJson(sim, 'POST', '/__admin/disputes', { payment_intent: other.id, reason: 'nope' });
      expect(badReason.status).toBe(400);
      expect(sim.disputes()).toHaveLength(1);
    });

    it('takes the dispute fee from the settings, by currency', async () => {
      const set = await adminJson(sim, 'POST', '/__admin/settings', { dispute_fee: { eur: 2000, default: 1500 } });
      expect(set.status).toBe(200);
      expect(set.body.dispute_fee).toEqual({ eur: 2000, default: 1500 });
      const pi = await pay(1000, 'order_fee');
      const opened = await openDispute({ payment_intent: pi.id });
      expect(opened.reason).toBe('fraudulent');
      expect(opened.balance_transactions[0]).toMatchObject({ fee: 2000, net: -3000 });
      expect((await adminJson(sim, 'POST', '/__admin/settings', { dispute_fee: { eur: -1 } })).status).toBe(400);
      sim.reset();
      expect((await adminJson(sim, 'GET', '/__admin/settings')).body.dispute_fee).toBeUndefined();
    });
  });

  describe('closing', () => {
    it('won: the amount and the fee are reinstated (category dispute_reversal), then funds_reinstated, closed', async () => {
      await topUp(100_000);
      const pi = await pay(2599, 'order_won');
      const opened = await openDispute({ payment_intent: pi.id });
      const closed = await closeDispute(opened.id, 'won');
      expect(closed.status).toBe(200);
      expect(closed.body.status).toBe('won');
      const dispute = await stripe.disputes.retrieve(opened.id);
      expect(dispute.status).toBe('won');
      expect(dispute.balance_transactions).toHaveLength(2);
      expect(dispute.balance_transactions[1]).toMatchObject({
        type: 'adjustment',
        reporting_category: 'dispute_reversal',
        amount: 2599,
        fee: -DISPUTE_FEE,
        net: 2599 + DISPUTE_FEE,
        source: opened.id,
      });
      expect(await available()).toBe(100_000);
      expect(disputeEvents().map((event) => event.type)).toEqual([
        'charge.dispute.created',
        'charge.dispute.funds_withdrawn',
        'charge.dispute.funds_reinstated',
        'charge.dispute.closed',
      ]);
      expect(disputeEvents()[3]?.data.previous_attributes).toMatchObject({ status: 'needs_response' });
      // Stripe keeps `disputed` on the charge after the dispute is won.
      expect((await stripe.charges.retrieve(pi.latest_charge as string)).disputed).toBe(true);
      expect((await closeDispute(opened.id, 'lost')).status).toBe(409);
    });

    it('lost: the withdrawal is final, closed only', async () => {
      await topUp(100_000);
      const pi = await pay(2599, 'order_lost');
      const opened = await openDispute({ payment_intent: pi.id });
      const closed = await closeDispute(opened.id, 'lost');
      expect(closed.body).toMatchObject({ status: 'lost' });
      expect(closed.body.balance_transactions).toHaveLength(1);
      expect(await available()).toBe(100_000 - 2599 - DISPUTE_FEE);
      expect(disputeEvents().map((event) => event.type)).toEqual([
        'charge.dispute.created',
        'charge.dispute.funds_withdrawn',
        'charge.dispute.closed',
      ]);
      expect(sim.balanceTransactions(null).filter((txn) => txn.reporting_category === 'dispute_reversal')).toEqual([]);
      expect((await closeDispute(opened.id, 'maybe')).status).toBe(400);
    });

    it('stripe.disputes.close accepts the dispute: lost, and a second close is refused', async () => {
      const pi = await pay(2599, 'order_accept');
      const opened = await openDispute({ payment_intent: pi.id });
      const accepted = await stripe.disputes.close(opened.id, {}, { idempotencyKey: `${opened.id}:accept` });
      expect(accepted.status).toBe('lost');
      const [closedEvent] = disputeEvents().filter((event) => event.type === 'charge.dispute.closed');
      expect(closedEvent?.request).toEqual({
        id: expect.stringMatching(/^req_/),
        idempotency_key: `${opened.id}:accept`,
      });
      const again = await caught(stripe.disputes.close(opened.id));
      expect(again.statusCode).toBe(400);
      expect(again.message).toMatch(/already closed/);
    });
  });

  describe('evidence and metadata', () => {
    it('submits evidence (under_review, charge.dispute.updated); submit=false only stages it', async () => {
      const pi = await pay(2599, 'order_evidence');
      const opened = await openDispute({ payment_intent: pi.id });
      const staged = await stripe.disputes.update(opened.id, {
        evidence: { customer_email_address: 'buyer@example.com' },
        metadata: { case: 'c1' },
        submit: false,
      });
      expect(staged).toMatchObject({
        status: 'needs_response',
        metadata: { case: 'c1' },
        evidence: { customer_email_address: 'buyer@example.com', product_description: null },
        evidence_details: { has_evidence: true, submission_count: 0 },
      });
      const submitted = await stripe.disputes.update(opened.id, {
        evidence: { product_description: 'A blue widget', shipping_tracking_number: 'TRACK123' },
      });
      expect(submitted).toMatchObject({
        status: 'under_review',
        evidence: {
          customer_email_address: 'buyer@example.com',
          product_description: 'A blue widget',
          shipping_tracking_number: 'TRACK123',
        },
        evidence_details: { has_evidence: true, submission_count: 1, submission_method: 'manual' },
      });
      const updates = disputeEvents().filter((event) => event.type === 'charge.dispute.updated');
      expect(updates).toHaveLength(2);
      expect(updates[1]?.data.previous_attributes).toMatchObject({ status: 'needs_response' });

      // Under review: evidence can no longer change, metadata still can; it cannot be accepted any more.
      const late = await caught(stripe.disputes.update(opened.id, { evidence: { uncategorized_text: 'more' } }));
      expect(late.statusCode).toBe(400);
      const meta = await stripe.disputes.update(opened.id, { metadata: { case: 'c2' } });
      expect(meta.metadata).toEqual({ case: 'c2' });
      expect((await caught(stripe.disputes.close(opened.id))).statusCode).toBe(400);
      expect((await closeDispute(opened.id, 'won')).body.status).toBe('won');
      const unknown = await caught(stripe.disputes.update(opened.id, { evidence: { colour: 'red' } } as never));
      expect(unknown.code).toBe('parameter_unknown');
    });
  });

  describe('lists', () => {
    it('lists disputes newest first, by payment_intent and by charge', async () => {
      const a = await pay(1000, 'order_la');
      const b = await pay(2000, 'order_lb');
      const da = await openDispute({ payment_intent: a.id });
      const db = await openDispute({ charge: b.latest_charge, reason: 'duplicate' });
      const all = await stripe.disputes.list();
      expect(all).toMatchObject({ object: 'list', url: '/v1/disputes', has_more: false });
      expect(all.data.map((dispute) => dispute.id)).toEqual([db.id, da.id]);
      const ofA = await stripe.disputes.list({ payment_intent: a.id });
      expect(ofA.data.map((dispute) => dispute.id)).toEqual([da.id]);
      const ofB = await stripe.disputes.list({ charge: b.latest_charge as string });
      expect(ofB.data.map((dispute) => dispute.id)).toEqual([db.id]);
      const page = await stripe.disputes.list({ limit: 1 });
      expect(page.has_more).toBe(true);
      const next = await stripe.disputes.list({ limit: 1, starting_after: page.data[0]?.id as string });
      expect(next.data.map((dispute) => dispute.id)).toEqual([da.id]);
      const expanded = await stripe.disputes.retrieve(da.id, { expand: ['charge'] });
      expect(expanded.charge).toMatchObject({ object: 'charge', id: a.latest_charge, disputed: true });
      expect((await adminJson(sim, 'GET', `/__admin/disputes?payment_intent=${b.id}`)).body).toEqual([
        expect.objectContaining({ id: db.id, reason: 'duplicate' }),
      ]);
      expect((await caught(stripe.disputes.retrieve('du_missing'))).statusCode).toBe(404);
    });
  });

  describe('refunds of a disputed charge', () => {
    it('refuses them with charge_disputed (stored under the key), and allows them once the dispute is won', async () => {
      await topUp(100_000);
      const pi = await pay(2599, 'order_disputed');
      const chargeId = pi.latest_charge as string;
      const opened = await openDispute({ payment_intent: pi.id });

      const refused = await caught(stripe.refunds.create({ payment_intent: pi.id }, { idempotencyKey: 'r1' }));
      expect(refused).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      expect(refused.statusCode).toBe(400);
      expect(refused.code).toBe('charge_disputed');
      expect(refused.message).toBe(`Charge ${chargeId} has been charged back; cannot issue a refund.`);
      expect(sim.refunds()).toEqual([]);

      await closeDispute(opened.id, 'won');
      // The refusal was decided when executing: stored under its key and replayed.
      const replayed = await caught(stripe.refunds.create({ payment_intent: pi.id }, { idempotencyKey: 'r1' }));
      expect(replayed.code).toBe('charge_disputed');
      const refund = await stripe.refunds.create({ payment_intent: pi.id, amount: 500 }, { idempotencyKey: 'r2' });
      expect(refund.status).toBe('succeeded');
    });

    it('fails the refunds still pending on the charge when a dispute opens (charge_for_pending_refund_disputed)', async () => {
      const pi = await pay(2599, 'order_pending_disputed');
      const pending = await stripe.refunds.create({ payment_intent: pi.id, amount: 1000 });
      expect(pending).toMatchObject({ status: 'pending', pending_reason: 'insufficient_funds' });
      await openDispute({ payment_intent: pi.id });
      const failed = await stripe.refunds.retrieve(pending.id);
      expect(failed).toMatchObject({ status: 'failed', failure_reason: 'charge_for_pending_refund_disputed' });
      // Nothing had been booked: nothing to give back.
      expect(failed.failure_balance_transaction).toBeUndefined();
      expect(
        sim
          .events()
          .map((event) => event.type)
          .slice(-4),
      ).toEqual(['charge.dispute.created', 'charge.dispute.funds_withdrawn', 'refund.failed', 'refund.updated']);
      await adminJson(sim, 'POST', '/__admin/balance/topup', { currency: 'eur', amount: 10_000 });
      expect((await stripe.refunds.retrieve(pending.id)).status).toBe('failed');
    });

    it('still refuses them once the dispute is lost', async () => {
      const pi = await pay(2599, 'order_lost_refund');
      const opened = await openDispute({ payment_intent: pi.id });
      await closeDispute(opened.id, 'lost');
      const refused = await caught(stripe.refunds.create({ payment_intent: pi.id, amount: 100 }));
      expect(refused.code).toBe('charge_disputed');
    });
  });

  it('reset forgets disputes', async () => {
    const pi = await pay(2599, 'order_reset');
    await openDispute({ payment_intent: pi.id });
    sim.reset();
    expect(sim.disputes()).toEqual([]);
    expect((await adminJson(sim, 'GET', '/__admin/disputes')).body).toEqual([]);
  });
});
