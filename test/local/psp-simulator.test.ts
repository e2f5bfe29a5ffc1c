import Stripe from 'stripe';
import { DEFAULT_SEARCH_LAG_MS } from '../../local/psp-simulator/payment-intent-routes';
import { type PspSimulator, type PspSimulatorOptions, startPspSimulator } from '../../local/psp-simulator/server';
import { caught, sleep } from '../support/stripe-calls';

const SECRET_KEY = 'sk_test_simulator_0123456789abcdefWXYZ';

// Card payments confirmed server-side without a return_url: no redirect-based methods allowed.
// (allowed_payment_method_types: payment_method_types is no longer writable on a PaymentIntent since 2026-09-30.endive)
const CARD_ONLY: Pick<Stripe.PaymentIntentCreateParams, 'allowed_payment_method_types'> = {
  allowed_payment_method_types: ['card'],
};

function clientFor(sim: PspSimulator, key = SECRET_KEY): Stripe {
  return new Stripe(key, { host: sim.host, port: sim.port, protocol: 'http', maxNetworkRetries: 0 });
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => {};
  const promise = new Promise<void>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

describe('PSP simulator (driven by the stripe SDK)', () => {
  let sim: PspSimulator;
  let stripe: Stripe;
  const extraSims: PspSimulator[] = [];

  async function startExtra(opts: Partial<PspSimulatorOptions>): Promise<{ sim: PspSimulator; stripe: Stripe }> {
    const extra = await startPspSimulator({ secretKey: SECRET_KEY, ...opts });
    extraSims.push(extra);
    return { sim: extra, stripe: clientFor(extra) };
  }

  beforeEach(async () => {
    sim = await startPspSimulator({ secretKey: SECRET_KEY, port: 0 });
    stripe = clientFor(sim);
  });

  afterEach(async () => {
    await sim.close();
    await Promise.all(extraSims.splice(0).map((extra) => extra.close()));
  });

  describe('create and confirm', () => {
    it('charges pm_card_visa on create with confirm=true', async () => {
      const pi = await stripe.paymentIntents.create({
        amount: 2599,
        currency: 'usd',
        payment_method: 'pm_card_visa',
        confirm: true,
        metadata: { payment_id: 'pay_1' },
        description: 'checkout 1',
        ...CARD_ONLY,
      });

      expect(pi.id).toMatch(/^pi_[A-Za-z0-9]{24}$/);
      expect(pi).toMatchObject({
        object: 'payment_intent',
        status: 'succeeded',
        amount: 2599,
        amount_received: 2599,
        currency: 'usd',
        metadata: { payment_id: 'pay_1' },
        description: 'checkout 1',
        livemode: false,
        confirmation_method: 'automatic',
        last_payment_error: null,
        next_action: null,
      });
      expect(pi.client_secret).toMatch(new RegExp(`^${pi.id}_secret_[A-Za-z0-9]+$`));
      expect(pi.latest_charge).toMatch(/^ch_[A-Za-z0-9]{24}$/);
      // Like Stripe, a test token mints a new PaymentMethod.
      expect(pi.payment_method).toMatch(/^pm_[A-Za-z0-9]{24}$/);
      expect(Math.abs(pi.created - Date.now() / 1000)).toBeLessThan(5);

      expect(sim.charges()).toEqual([
        expect.objectContaining({
          id: pi.latest_charge,
          payment_intent: pi.id,
          amount: 2599,
          currency: 'usd',
          metadata: { payment_id: 'pay_1' },
          captured: true,
        }),
      ]);
    });

    it.each(['pm_card_mastercard', 'pm_card_amex'])('charges %s', async (paymentMethod) => {
      const pi = await stripe.paymentIntents.create({
        amount: 1000,
        currency: 'eur',
        payment_method: paymentMethod,
        confirm: true,
        ...CARD_ONLY,
      });
      expect(pi.status).toBe('succeeded');
      expect(sim.chargeCount()).toBe(1);
    });

    it('walks requires_payment_method -> requires_confirmation -> succeeded through /confirm', async () => {
      const created = await stripe.paymentIntents.create({ amount: 1500, currency: 'usd', ...CARD_ONLY });
      expect(created.status).toBe('requires_payment_method');
      expect(created.payment_method).toBeNull();

      const withMethod = await stripe.paymentIntents.create({
        amount: 1500,
        currency: 'usd',
        payment_method: 'pm_card_visa',
        ...CARD_ONLY,
      });
      expect(withMethod.status).toBe('requires_confirmation');
      expect(sim.chargeCount()).toBe(0);

      const confirmed = await stripe.paymentIntents.confirm(created.id, { payment_method: 'pm_card_visa' });
      expect(confirmed).toMatchObject({ id: created.id, status: 'succeeded', amount_received: 1500 });
      const confirmedLater = await stripe.paymentIntents.confirm(withMethod.id);
      expect(confirmedLater.status).toBe('succeeded');
      expect(confirmedLater.payment_method).toBe(withMethod.payment_method);
      expect(sim.chargeCount()).toBe(2);
    });

    it('defaults to automatic payment methods, which need a return_url for a server-side confirm', async () => {
      const error = await caught(
        stripe.paymentIntents.create({ amount: 1000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true }),
      );
      expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      expect(error.message).toContain('return_url');
      expect(sim.paymentIntents()).toHaveLength(0);

      const noRedirects = await stripe.paymentIntents.create({
        amount: 1000,
        currency: 'usd',
        payment_method: 'pm_card_visa',
        confirm: true,
        automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
      });
      expect(noRedirects.status).toBe('succeeded');
      expect(noRedirects.automatic_payment_methods).toEqual({ enabled: true, allow_redirects: 'never' });

      const withReturnUrl = await stripe.paymentIntents.create({
        amount: 1000,
        currency: 'usd',
        payment_method: 'pm_card_visa',
        confirm: true,
        return_url: 'https://shop.example/return',
      });
      expect(withReturnUrl.status).toBe('succeeded');
    });

    it('holds funds with capture_method=manual until captured, and releases them on cancel', async () => {
      const held = await stripe.paymentIntents.create({
        amount: 5000,
        currency: 'usd',
        payment_method: 'pm_card_visa',
        confirm: true,
        capture_method: 'manual',
        ...CARD_ONLY,
      });
      expect(held).toMatchObject({ status: 'requires_capture', amount_capturable: 5000, amount_received: 0 });
      expect(sim.charges()[0]).toMatchObject({ captured: false, amount_captured: 0 });

      const captured = await stripe.paymentIntents.capture(held.id, { amount_to_capture: 4000 });
      expect(captured).toMatchObject({ status: 'succeeded', amount_received: 4000, amount_capturable: 0 });
      expect(sim.charges()[0]).toMatchObject({ captured: true, amount_captured: 4000 });

      const other = await stripe.paymentIntents.create({
        amount: 700,
        currency: 'usd',
        payment_method: 'pm_card_visa',
        confirm: true,
        capture_method: 'manual',
        ...CARD_ONLY,
      });
      const canceled = await stripe.paymentIntents.cancel(other.id, { cancellation_reason: 'abandoned' });
      expect(canceled).toMatchObject({ status: 'canceled', cancellation_reason: 'abandoned', amount_capturable: 0 });
      expect(sim.charges()[1]).toMatchObject({ payment_intent: other.id, captured: false, refunded: true });

      const error = await caught(stripe.paymentIntents.capture(canceled.id));
      expect(error.code).toBe('payment_intent_unexpected_state');
    });
  });

  describe('declines and request errors', () => {
    it('returns a 402 StripeCardError for pm_card_chargeDeclined and keeps the intent', async () => {
      const error = await caught(
        stripe.paymentIntents.create({
          amount: 3000,
          currency: 'usd',
          payment_method: 'pm_card_chargeDeclined',
          confirm: true,
          metadata: { payment_id: 'pay_declined' },
          ...CARD_ONLY,
        }),
      );

      expect(error).toBeInstanceOf(Stripe.errors.StripeCardError);
      expect(error.statusCode).toBe(402);
      expect(error.code).toBe('card_declined');
      expect(error.decline_code).toBe('generic_decline');
      expect(error.message).toBe('Your card was declined.');
      expect(error.doc_url).toBe('https://stripe.com/docs/error-codes/card-declined');
      expect(error.charge).toMatch(/^ch_/);
      expect(error.payment_method?.id).toMatch(/^pm_/);
      expect(error.payment_method?.card?.last4).toBe('0002');
      const failed = error.payment_intent;
      expect(failed).toMatchObject({
        status: 'requires_payment_method',
        payment_method: null,
        latest_charge: error.charge,
        amount_received: 0,
      });
      expect(failed?.last_payment_error).toMatchObject({ code: 'card_declined', decline_code: 'generic_decline' });

      const stored = await stripe.paymentIntents.retrieve(failed?.id ?? '');
      expect(stored.status).toBe('requires_payment_method');
      expect(stored.last_payment_error).toMatchObject({ type: 'card_error', decline_code: 'generic_decline' });
      expect(sim.chargeCount()).toBe(0);
      expect(sim.chargeAttempts()).toEqual([expect.objectContaining({ status: 'failed', payment_intent: stored.id })]);
    });

    it.each([
      ['pm_card_chargeDeclinedInsufficientFunds', 'card_declined', 'insufficient_funds'],
      ['pm_card_chargeDeclinedFraudulent', 'card_declined', 'fraudulent'],
      ['pm_card_chargeDeclinedExpiredCard', 'expired_card', 'expired_card'],
    ])('declines %s with code %s / %s', async (paymentMethod, code, declineCode) => {
      const error = await caught(
        stripe.paymentIntents.create({
          amount: 1000,
          currency: 'usd',
          payment_method: paymentMethod,
          confirm: true,
          ...CARD_ONLY,
        }),
      );
      expect(error).toBeInstanceOf(Stripe.errors.StripeCardError);
      expect(error.code).toBe(code);
      expect(error.decline_code).toBe(declineCode);
    });

    it('accepts a new payment method after a decline', async () => {
      const error = await caught(
        stripe.paymentIntents.create({
          amount: 1000,
          currency: 'usd',
          payment_method: 'pm_card_chargeDeclinedInsufficientFunds',
          confirm: true,
          ...CARD_ONLY,
        }),
      );
      const retried = await stripe.paymentIntents.confirm(error.payment_intent?.id ?? '', {
        payment_method: 'pm_card_visa',
      });
      expect(retried).toMatchObject({ status: 'succeeded', last_payment_error: null });
      expect(sim.chargeCount()).toBe(1);
    });

    it('rejects an unknown payment method token', async () => {
      const error = await caught(
        stripe.paymentIntents.create({
          amount: 1000,
          currency: 'usd',
          payment_method: 'pm_nope',
          confirm: true,
          ...CARD_ONLY,
        }),
      );
      expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      expect(error.statusCode).toBe(400);
      expect(error.code).toBe('resource_missing');
      expect(error.param).toBe('payment_method');
      expect(error.message).toBe("No such PaymentMethod: 'pm_nope'");
      expect(sim.paymentIntents()).toHaveLength(0);
    });

    it('refuses to confirm an intent that already succeeded', async () => {
      const pi = await stripe.paymentIntents.create({
        amount: 1000,
        currency: 'usd',
        payment_method: 'pm_card_visa',
        confirm: true,
        ...CARD_ONLY,
      });
      const error = await caught(stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_visa' }));
      expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      expect(error.code).toBe('payment_intent_unexpected_state');
      expect(error.payment_intent?.status).toBe('succeeded');
      expect(sim.chargeCount()).toBe(1);
    });

    it.each([
      [{ currency: 'usd' }, 'amount', 'parameter_missing'],
      [{ amount: 0, currency: 'usd' }, 'amount', 'parameter_invalid_integer'],
      [{ amount: 10, currency: 'usd' }, 'amount', 'amount_too_small'],
      [{ amount: 1000 }, 'currency', 'parameter_missing'],
      [{ amount: 1000, currency: 'zzz' }, 'currency', undefined],
      [{ amount: 1000, currency: 'usd', colour: 'red' }, 'colour', 'parameter_unknown'],
    ])('validates %j (param %s)', async (params, param, code) => {
      const error = await caught(stripe.paymentIntents.create(params as Stripe.PaymentIntentCreateParams));
      expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      expect(error.statusCode).toBe(400);
      expect(error.param).toBe(param);
      expect(error.code).toBe(code);
      expect(sim.paymentIntents()).toHaveLength(0);
    });

    it('accepts an upper-case currency and answers in lower case', async () => {
      const pi = await stripe.paymentIntents.create({ amount: 1000, currency: 'EUR', ...CARD_ONLY });
      expect(pi.currency).toBe('eur');
    });

    it('rejects a wrong API key with a masked key in the message', async () => {
      const wrongKey = 'sk_test_wrong_key_abcdefghijklmnop1234';
      const error = await caught(clientFor(sim, wrongKey).paymentIntents.list());
      expect(error).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
      expect(error.statusCode).toBe(401);
      expect(error.message).toMatch(/^Invalid API Key provided: sk_test_\*+1234$/);
      expect(error.message).not.toContain('wrong_key');
    });

    it('answers 404 for an unknown route and for a missing intent', async () => {
      const unknown = await caught(stripe.rawRequest('GET', '/v1/not_a_resource', {}));
      expect(unknown).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      expect(unknown.statusCode).toBe(404);
      expect(unknown.message).toContain('Unrecognized request URL (GET: /v1/not_a_resource)');

      const missing = await caught(stripe.paymentIntents.retrieve('pi_doesnotexist'));
      expect(missing.statusCode).toBe(404);
      expect(missing.code).toBe('resource_missing');
      expect(missing.param).toBe('intent');
    });

    it('sends Request-Id and echoes the Stripe-Version header', async () => {
      const pi = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', ...CARD_ONLY });
      expect(pi.lastResponse.requestId).toMatch(/^req_[A-Za-z0-9]{14}$/);
      expect(pi.lastResponse.apiVersion).toBe(Stripe.API_VERSION);
    });
  });

  describe('retrieve, list and search', () => {
    async function createMany(count: number): Promise<Stripe.PaymentIntent[]> {
      const created: Stripe.PaymentIntent[] = [];
      for (let i = 0; i < count; i++) {
        created.push(
          await stripe.paymentIntents.create({
            amount: 1000 + i,
            currency: 'usd',
            metadata: { payment_id: `pay_${i}`, batch: i % 2 === 0 ? 'even' : 'odd' },
            ...CARD_ONLY,
          }),
        );
      }
      return created;
    }

    it('retrieves an intent, optionally expanding its payment method', async () => {
      const pi = await stripe.paymentIntents.create({
        amount: 1234,
        currency: 'usd',
        payment_method: 'pm_card_visa',
        confirm: true,
        ...CARD_ONLY,
      });
      const again = await stripe.paymentIntents.retrieve(pi.id);
      expect(again).toEqual(
        expect.objectContaining({ id: pi.id, status: 'succeeded', latest_charge: pi.latest_charge }),
      );

      const expanded = await stripe.paymentIntents.retrieve(pi.id, { expand: ['payment_method'] });
      expect(expanded.payment_method).toMatchObject({ id: pi.payment_method, object: 'payment_method', type: 'card' });
    });

    it('lists newest first and auto-paginates past the limit', async () => {
      const created = await createMany(7);
      const newestFirst = created.map((pi) => pi.id).reverse();

      const firstPage = await stripe.paymentIntents.list({ limit: 3 });
      expect(firstPage).toMatchObject({ object: 'list', has_more: true, url: '/v1/payment_intents' });
      expect(firstPage.data.map((pi) => pi.id)).toEqual(newestFirst.slice(0, 3));

      let requests = 0;
      stripe.on('request', () => {
        requests++;
      });
      const seen: string[] = [];
      for await (const pi of stripe.paymentIntents.list({ limit: 3 })) seen.push(pi.id);
      expect(seen).toEqual(newestFirst);
      expect(requests).toBe(3);

      const older = await stripe.paymentIntents.list({ limit: 2, starting_after: newestFirst[2] });
      expect(older.data.map((pi) => pi.id)).toEqual(newestFirst.slice(3, 5));
      const newer = await stripe.paymentIntents.list({ limit: 2, ending_before: newestFirst[4] });
      expect(newer.data.map((pi) => pi.id)).toEqual(newestFirst.slice(2, 4));
      expect(newer.has_more).toBe(true);

      const backwards = await stripe.paymentIntents
        .list({ limit: 2, ending_before: newestFirst[6] })
        .autoPagingToArray({
          limit: 100,
        });
      expect(backwards.map((pi) => pi.id)).toEqual(newestFirst.slice(0, 6).reverse());
    });

    it('filters lists by created and validates limit', async () => {
      const now = Math.floor(Date.now() / 1000);
      await createMany(2);
      expect((await stripe.paymentIntents.list({ created: { gte: now - 60 } })).data).toHaveLength(2);
      expect((await stripe.paymentIntents.list({ created: { lt: now - 60 } })).data).toHaveLength(0);

      const error = await caught(stripe.paymentIntents.list({ limit: 101 }));
      expect(error.param).toBe('limit');
    });

    it('searches by metadata and status', async () => {
      const created = await createMany(5);
      const target = created[3] as Stripe.PaymentIntent;
      await stripe.paymentIntents.confirm(target.id, { payment_method: 'pm_card_visa' });
      // Search lags behind writes, as on Stripe (see psp-simulator-truth.test.ts): wait until it has caught up.
      await sleep(DEFAULT_SEARCH_LAG_MS + 50);

      const byId = await stripe.paymentIntents.search({ query: "metadata['payment_id']:'pay_3'" });
      expect(byId).toMatchObject({ object: 'search_result', has_more: false, next_page: null });
      expect(byId.data.map((pi) => pi.id)).toEqual([target.id]);

      const succeeded = await stripe.paymentIntents.search({ query: "status:'succeeded' AND metadata['batch']:'odd'" });
      expect(succeeded.data.map((pi) => pi.id)).toEqual([target.id]);
      const none = await stripe.paymentIntents.search({ query: "status:'succeeded' AND metadata['batch']:'even'" });
      expect(none.data).toEqual([]);

      const evens = await stripe.paymentIntents
        .search({ query: 'metadata["batch"]:"even"', limit: 1 })
        .autoPagingToArray({ limit: 100 });
      expect(evens.map((pi) => pi.metadata.payment_id)).toEqual(['pay_4', 'pay_2', 'pay_0']);

      const error = await caught(stripe.paymentIntents.search({ query: "colour:'red'" }));
      expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      expect(error.param).toBe('query');
    });
  });

  describe('idempotency', () => {
    const params: Stripe.PaymentIntentCreateParams = {
      amount: 4200,
      currency: 'usd',
      payment_method: 'pm_card_visa',
      confirm: true,
      metadata: { payment_id: 'pay_idem' },
      ...CARD_ONLY,
    };

    it('replays the stored response for the same key and parameters, charging once', async () => {
      const first = await stripe.paymentIntents.create(params, { idempotencyKey: 'key-1' });
      const second = await stripe.paymentIntents.create(
        { ...params, metadata: { payment_id: 'pay_idem' } },
        { idempotencyKey: 'key-1' },
      );

      expect(second.id).toBe(first.id);
      expect(second).toEqual(first);
      expect(first.lastResponse.headers['idempotent-replayed']).toBeUndefined();
      expect(second.lastResponse.headers['idempotent-replayed']).toBe('true');
      expect(second.lastResponse.headers['idempotency-key']).toBe('key-1');
      expect(second.lastResponse.headers['original-request']).toBe(first.lastResponse.requestId);
      expect(sim.chargeCount()).toBe(1);
      expect(sim.paymentIntents()).toHaveLength(1);

      const fresh = await stripe.paymentIntents.create(params, { idempotencyKey: 'key-2' });
      expect(fresh.id).not.toBe(first.id);
      expect(sim.chargeCount()).toBe(2);
    });

    it('replays a stored decline as the same 402', async () => {
      const declined = { ...params, payment_method: 'pm_card_chargeDeclined' };
      const first = await caught(stripe.paymentIntents.create(declined, { idempotencyKey: 'decline-1' }));
      const second = await caught(stripe.paymentIntents.create(declined, { idempotencyKey: 'decline-1' }));

      expect(second).toBeInstanceOf(Stripe.errors.StripeCardError);
      expect(second.statusCode).toBe(402);
      expect(second.payment_intent?.id).toBe(first.payment_intent?.id);
      expect(second.charge).toBe(first.charge);
      expect(second.headers?.['idempotent-replayed']).toBe('true');
      expect(sim.chargeAttempts()).toHaveLength(1);
    });

    it('refuses the same key with different parameters or on another endpoint', async () => {
      const first = await stripe.paymentIntents.create(params, { idempotencyKey: 'key-3' });

      const changed = await caught(
        stripe.paymentIntents.create({ ...params, amount: 4300 }, { idempotencyKey: 'key-3' }),
      );
      expect(changed).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
      expect(changed.statusCode).toBe(400);
      expect(changed.message).toContain("Try using a key other than 'key-3'");

      const otherEndpoint = await caught(stripe.paymentIntents.cancel(first.id, {}, { idempotencyKey: 'key-3' }));
      expect(otherEndpoint).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
      expect(sim.chargeCount()).toBe(1);
    });

    it('answers 409 to a concurrent request with the same key while the first is in progress', async () => {
      const entered = deferred();
      const gate = deferred();
      let held = false;
      const busy = await startExtra({
        beforeExecute: async (request) => {
          if (request.idempotencyKey !== 'slow' || held) return;
          held = true;
          entered.resolve();
          await gate.promise;
        },
      });

      const firstCall = busy.stripe.paymentIntents.create(params, { idempotencyKey: 'slow' });
      await entered.promise;
      const concurrent = await caught(busy.stripe.paymentIntents.create(params, { idempotencyKey: 'slow' }));
      expect(concurrent.statusCode).toBe(409);
      expect(concurrent.code).toBe('idempotency_key_in_use');
      expect(concurrent.rawType).toBe('idempotency_error');
      expect(busy.sim.chargeCount()).toBe(0);

      gate.resolve();
      const first = await firstCall;
      expect(first.status).toBe('succeeded');
      const retry = await busy.stripe.paymentIntents.create(params, { idempotencyKey: 'slow' });
      expect(retry.id).toBe(first.id);
      expect(busy.sim.chargeCount()).toBe(1);
    });

    it('stores nothing for a request that fails validation', async () => {
      const invalid = await caught(
        stripe.paymentIntents.create({ ...params, currency: 'zzz' }, { idempotencyKey: 'key-4' }),
      );
      expect(invalid).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      const valid = await stripe.paymentIntents.create(params, { idempotencyKey: 'key-4' });
      expect(valid.status).toBe('succeeded');
    });

    it('forgets keys after 24 hours', async () => {
      let nowMs = Date.now();
      const clocked = await startExtra({ now: () => nowMs });
      const first = await clocked.stripe.paymentIntents.create(params, { idempotencyKey: 'daily' });

      nowMs += 23 * 60 * 60 * 1000;
      const replayed = await clocked.stripe.paymentIntents.create(params, { idempotencyKey: 'daily' });
      expect(replayed.id).toBe(first.id);

      nowMs += 60 * 60 * 1000;
      const afterExpiry = await clocked.stripe.paymentIntents.create(params, { idempotencyKey: 'daily' });
      expect(afterExpiry.id).not.toBe(first.id);
      expect(clocked.sim.chargeCount()).toBe(2);
    });
  });

  describe('admin routes', () => {
    it('lists successful charges at GET /__admin/charges without auth', async () => {
      const pi = await stripe.paymentIntents.create({
        amount: 999,
        currency: 'usd',
        payment_method: 'pm_card_visa',
        confirm: true,
        metadata: { payment_id: 'pay_admin' },
        ...CARD_ONLY,
      });
      await caught(
        stripe.paymentIntents.create({
          amount: 999,
          currency: 'usd',
          payment_method: 'pm_card_chargeDeclined',
          confirm: true,
          ...CARD_ONLY,
        }),
      );

      const response = await fetch(`${sim.url}/__admin/charges`);
      expect(response.status).toBe(200);
      const charges = (await response.json()) as unknown[];
      expect(charges).toEqual([
        expect.objectContaining({
          id: pi.latest_charge,
          payment_intent: pi.id,
          amount: 999,
          metadata: { payment_id: 'pay_admin' },
        }),
      ]);
      expect(charges).toEqual(sim.charges());
    });
  });
});
