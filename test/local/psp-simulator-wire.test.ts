// The PSP simulator's wire details that make it truthful to Stripe, through the real stripe SDK where it can
// see them: error bodies, response headers (Stripe-Version, Request-Id, Stripe-Should-Retry, Idempotent-Replayed),
// the events of each flow and their API version, and the /v1/charges endpoints. Each test names the behaviour it
// replaced ("Old: ...").

import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { type PspSimulator, type PspSimulatorOptions, startPspSimulator } from '../../local/psp-simulator/server';
import { caught } from '../support/stripe-calls';

jest.setTimeout(30_000);

const SECRET_KEY = 'sk_test_simulator_0123456789abcdefWXYZ';
const WEBHOOK_SECRET = 'whsec_wire_test_secret_0123456789abcdef';
// Card payments confirmed server-side without a return_url: no redirect-based methods allowed.
const NO_REDIRECTS = { automatic_payment_methods: { enabled: true, allow_redirects: 'never' as const } };

function clientFor(sim: PspSimulator, settings: Partial<Stripe.StripeConfig> = {}): Stripe {
  return new Stripe(SECRET_KEY, {
    host: sim.host,
    port: sim.port,
    protocol: 'http',
    maxNetworkRetries: 0,
    ...settings,
  });
}

interface Raw {
  status: number;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

/** A request without the SDK, so no Stripe-Version header unless given. */
function raw(
  sim: PspSimulator,
  method: 'GET' | 'POST',
  path: string,
  options: { form?: Record<string, string>; headers?: Record<string, string> } = {},
): Promise<Raw> {
  const payload = options.form ? new URLSearchParams(options.form).toString() : '';
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: sim.host,
        port: sim.port,
        path,
        method,
        agent: false,
        headers: {
          Authorization: `Bearer ${SECRET_KEY}`,
          'Content-Type': 'application/x-www-form-urlencoded',
          ...options.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

interface Receiver {
  url: string;
  bodies: string[];
  /** The delivered events, their signatures verified. */
  events(): Stripe.Event[];
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const received: { body: string; signature: string }[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({
        body: Buffer.concat(chunks).toString('utf8'),
        signature: String(req.headers['stripe-signature']),
      });
      res.writeHead(200, { Connection: 'close' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const verifier = new Stripe(SECRET_KEY);
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    get bodies() {
      return received.map((entry) => entry.body);
    },
    events: () =>
      received.map((entry) => verifier.webhooks.constructEvent(entry.body, entry.signature, WEBHOOK_SECRET)),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The types of the events about one PaymentIntent (itself or its charges), oldest first. */
function typesFor(sim: PspSimulator, intentId: string): string[] {
  return sim
    .events()
    .filter((event) => {
      const object = event.data.object as { id?: string; payment_intent?: unknown };
      return object.id === intentId || object.payment_intent === intentId;
    })
    .map((event) => event.type);
}

describe('PSP simulator: wire truthfulness', () => {
  let sim: PspSimulator;
  let stripe: Stripe;
  const extras: PspSimulator[] = [];

  async function startExtra(opts: Partial<PspSimulatorOptions>): Promise<PspSimulator> {
    const extra = await startPspSimulator({ secretKey: SECRET_KEY, ...opts });
    extras.push(extra);
    return extra;
  }

  beforeEach(async () => {
    sim = await startPspSimulator({ secretKey: SECRET_KEY });
    stripe = clientFor(sim);
  });

  afterEach(async () => {
    await Promise.all([sim, ...extras.splice(0)].map((each) => each.close()));
  });

  describe('error bodies', () => {
    it('a 429 is an invalid_request_error with code rate_limit (Old: type rate_limit_error, not a Stripe type)', async () => {
      const error = await caught(
        stripe.paymentIntents.create(
          { amount: 1000, currency: 'eur', payment_method: 'pm_card_visa_ratelimitx1', confirm: true, ...NO_REDIRECTS },
          { idempotencyKey: 'rl-1' },
        ),
      );
      expect(error).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
      expect(error.statusCode).toBe(429);
      expect(error.rawType).toBe('invalid_request_error');
      expect(error.code).toBe('rate_limit');
      expect(error.doc_url).toBe('https://stripe.com/docs/error-codes/rate-limit');
      // Rate limits run before the idempotency layer and are not advised for retry.
      expect(error.headers?.['stripe-should-retry']).toBeUndefined();
      expect(error.headers?.['idempotent-replayed']).toBeUndefined();
    });

    it('a 500 is an api_error', async () => {
      const error = await caught(
        stripe.paymentIntents.create(
          { amount: 1000, currency: 'eur', payment_method: 'pm_card_visa_error500x1', confirm: true, ...NO_REDIRECTS },
          { idempotencyKey: 'e500-1' },
        ),
      );
      expect(error).toBeInstanceOf(Stripe.errors.StripeAPIError);
      expect(error.statusCode).toBe(500);
      expect(error.rawType).toBe('api_error');
    });
  });

  describe('headers', () => {
    it('Stripe-Version: the request’s version, else the account default (Old: absent without the request header)', async () => {
      const form = { amount: '1000', currency: 'eur', 'allowed_payment_method_types[0]': 'card' };
      const plain = await raw(sim, 'POST', '/v1/payment_intents', { form });
      expect(plain.status).toBe(200);
      expect(plain.headers['stripe-version']).toBe(Stripe.API_VERSION);
      expect(plain.headers['request-id']).toMatch(/^req_[A-Za-z0-9]{14}$/);

      const pinned = await raw(sim, 'POST', '/v1/payment_intents', {
        form,
        headers: { 'Stripe-Version': '2024-06-20' },
      });
      expect(pinned.headers['stripe-version']).toBe('2024-06-20');

      // Errors too: an unknown route, a bad key, a missing object.
      const unknown = await raw(sim, 'GET', '/v1/nope');
      const unauthorized = await raw(sim, 'GET', '/v1/payment_intents', { headers: { Authorization: 'Bearer sk_x' } });
      const missing = await raw(sim, 'GET', '/v1/charges/ch_missing');
      for (const response of [unknown, unauthorized, missing]) {
        expect(response.headers['stripe-version']).toBe(Stripe.API_VERSION);
        expect(response.headers['request-id']).toMatch(/^req_/);
      }
      expect([unknown.status, unauthorized.status, missing.status]).toEqual([404, 401, 404]);

      const viaSdk = await stripe.paymentIntents.create({ amount: 1000, currency: 'eur', ...NO_REDIRECTS });
      expect(viaSdk.lastResponse.apiVersion).toBe(Stripe.API_VERSION);
    });

    it('Stripe-Should-Retry: true on a key in use, false on replays and 4xx, absent on success (Old: never sent)', async () => {
      const params = {
        amount: 1000,
        currency: 'eur',
        payment_method: 'pm_card_visa_latency400',
        confirm: true,
        ...NO_REDIRECTS,
      };
      const first = stripe.paymentIntents.create(params, { idempotencyKey: 'busy' });
      await new Promise((resolve) => setTimeout(resolve, 100));
      const busy = await caught(stripe.paymentIntents.create(params, { idempotencyKey: 'busy' }));
      expect(busy.statusCode).toBe(409);
      expect(busy.code).toBe('idempotency_key_in_use');
      expect(busy.headers?.['stripe-should-retry']).toBe('true');

      const created = await first;
      expect(created.lastResponse.headers['stripe-should-retry']).toBeUndefined();
      expect(created.lastResponse.headers['idempotent-replayed']).toBeUndefined();
      const replayed = await stripe.paymentIntents.create(params, { idempotencyKey: 'busy' });
      expect(replayed.id).toBe(created.id);
      expect(replayed.lastResponse.headers['idempotent-replayed']).toBe('true');
      expect(replayed.lastResponse.headers['stripe-should-retry']).toBe('false');

      const invalid = await caught(stripe.paymentIntents.create({ amount: -1, currency: 'eur' }));
      expect(invalid.statusCode).toBe(400);
      expect(invalid.headers?.['stripe-should-retry']).toBe('false');
      const declined = await caught(
        stripe.paymentIntents.create({ ...params, payment_method: 'pm_card_chargeDeclined' }, { idempotencyKey: 'd' }),
      );
      expect(declined.statusCode).toBe(402);
      expect(declined.headers?.['stripe-should-retry']).toBe('false');
      const mismatch = await caught(
        stripe.paymentIntents.create({ ...params, amount: 2000 }, { idempotencyKey: 'busy' }),
      );
      expect(mismatch).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
      expect(mismatch.headers?.['stripe-should-retry']).toBe('false');
    });

    it('an SDK with retries honours them: it retries the 409 of a busy key and gets the stored result', async () => {
      const retrying = clientFor(sim, { maxNetworkRetries: 3 });
      const params = {
        amount: 1000,
        currency: 'eur',
        payment_method: 'pm_card_visa_latency300',
        confirm: true,
        ...NO_REDIRECTS,
      };
      const [a, b] = await Promise.all([
        retrying.paymentIntents.create(params, { idempotencyKey: 'k' }),
        new Promise((resolve) => setTimeout(resolve, 50)).then(() =>
          retrying.paymentIntents.create(params, { idempotencyKey: 'k' }),
        ),
      ]);
      expect(b.id).toBe(a.id);
      expect(b.lastResponse.headers['idempotent-replayed']).toBe('true');
      expect(sim.chargeCount()).toBe(1);
    });
  });

  describe('events', () => {
    const pay = (paymentMethod: string, extra: Partial<Stripe.PaymentIntentCreateParams> = {}) =>
      stripe.paymentIntents.create({
        amount: 2500,
        currency: 'eur',
        payment_method: paymentMethod,
        confirm: true,
        metadata: { payment_id: 'pay_ev' },
        ...NO_REDIRECTS,
        ...extra,
      });

    it('a charge: payment_intent.created, charge.succeeded, payment_intent.succeeded (Old: only the last)', async () => {
      const pi = await pay('pm_card_visa');
      expect(typesFor(sim, pi.id)).toEqual(['payment_intent.created', 'charge.succeeded', 'payment_intent.succeeded']);
      const [created, charged] = sim.events() as [Stripe.Event, Stripe.Event];
      // The intent as created, before its confirmation.
      expect(created.data.object).toMatchObject({ id: pi.id, status: 'requires_confirmation', latest_charge: null });
      expect(charged.data.object).toMatchObject({
        object: 'charge',
        id: pi.latest_charge,
        payment_intent: pi.id,
        status: 'succeeded',
        paid: true,
        captured: true,
        amount_captured: 2500,
        metadata: { payment_id: 'pay_ev' },
      });
      // An intent created without confirming: its creation alone.
      const open = await stripe.paymentIntents.create({ amount: 100, currency: 'eur', ...NO_REDIRECTS });
      expect(typesFor(sim, open.id)).toEqual(['payment_intent.created']);
    });

    it('a decline: charge.failed with the decline, then payment_intent.payment_failed', async () => {
      const error = await caught(pay('pm_card_chargeDeclinedInsufficientFunds'));
      const pi = error.payment_intent as Stripe.PaymentIntent;
      expect(typesFor(sim, pi.id)).toEqual([
        'payment_intent.created',
        'charge.failed',
        'payment_intent.payment_failed',
      ]);
      const failed = sim.events().find((event) => event.type === 'charge.failed')?.data.object as Stripe.Charge;
      expect(failed).toMatchObject({
        id: error.charge,
        status: 'failed',
        paid: false,
        captured: false,
        failure_code: 'card_declined',
        failure_message: 'Your card has insufficient funds.',
        outcome: { type: 'issuer_declined', reason: 'insufficient_funds', network_status: 'declined_by_network' },
      });
    });

    it('manual capture: charge.succeeded uncaptured, amount_capturable_updated; capture: charge.captured; cancel: charge.refunded', async () => {
      const held = await pay('pm_card_visa', { capture_method: 'manual' });
      const captured = await stripe.paymentIntents.capture(held.id);
      expect(typesFor(sim, captured.id)).toEqual([
        'payment_intent.created',
        'charge.succeeded',
        'payment_intent.amount_capturable_updated',
        'charge.captured',
        'payment_intent.succeeded',
      ]);
      const objects = sim.events().map((event) => event.data.object as Stripe.Charge);
      expect(objects[1]).toMatchObject({ captured: false, amount_captured: 0, paid: true });
      expect(objects[3]).toMatchObject({ captured: true, amount_captured: 2500 });

      const released = await pay('pm_card_visa', { capture_method: 'manual' });
      await stripe.paymentIntents.cancel(released.id);
      expect(typesFor(sim, released.id).slice(-2)).toEqual(['charge.refunded', 'payment_intent.canceled']);
      const refunded = await stripe.charges.retrieve(released.latest_charge as string);
      expect(refunded).toMatchObject({ refunded: true, amount_refunded: 2500, captured: false });
    });

    it('3-D Secure and processing: requires_action / processing, then the charge when they settle', async () => {
      const challenged = await stripe.paymentIntents.create({
        amount: 2500,
        currency: 'eur',
        payment_method: 'pm_card_threeDSecure2Required',
        confirm: true,
        return_url: 'https://shop.example/back',
      });
      expect(challenged.status).toBe('requires_action');
      sim.authenticatePaymentIntent(challenged.id, 'approve');
      expect(typesFor(sim, challenged.id)).toEqual([
        'payment_intent.created',
        'payment_intent.requires_action',
        'charge.succeeded',
        'payment_intent.succeeded',
      ]);

      const slow = await pay('pm_card_processing');
      expect(slow.status).toBe('processing');
      sim.settlePaymentIntent(slow.id, 'failed');
      expect(typesFor(sim, slow.id)).toEqual([
        'payment_intent.created',
        'payment_intent.processing',
        'charge.failed',
        'payment_intent.payment_failed',
      ]);
    });

    it('a charged500 still emits the events of what happened (the client saw only a 500)', async () => {
      const error = await caught(
        stripe.paymentIntents.create(
          {
            amount: 2500,
            currency: 'eur',
            payment_method: 'pm_card_visa_charged500x1',
            confirm: true,
            ...NO_REDIRECTS,
          },
          { idempotencyKey: 'c500' },
        ),
      );
      expect(error.statusCode).toBe(500);
      const [pi] = sim.paymentIntents();
      expect(typesFor(sim, pi?.id as string)).toEqual([
        'payment_intent.created',
        'charge.succeeded',
        'payment_intent.succeeded',
      ]);
    });

    it('events carry the webhook ENDPOINT’s api_version, not the request’s (Old: always the SDK’s)', async () => {
      const receiver = await startReceiver();
      try {
        const other = await startExtra({
          webhookUrl: receiver.url,
          webhookSecret: WEBHOOK_SECRET,
          webhookApiVersion: '2025-03-31.basil',
        });
        const client = clientFor(other, { apiVersion: '2024-06-20' as Stripe.LatestApiVersion });
        const pi = await client.paymentIntents.create({ amount: 1000, currency: 'eur', ...NO_REDIRECTS });
        expect(pi.lastResponse.apiVersion).toBe('2024-06-20');
        await waitFor(() => receiver.bodies.length === 1, 'the delivery');
        const [delivered] = receiver.events();
        expect(delivered).toMatchObject({ type: 'payment_intent.created', api_version: '2025-03-31.basil' });
        // The event as the API shows it is rendered in the account's default version.
        expect((await client.events.retrieve(delivered?.id as string)).api_version).toBe(Stripe.API_VERSION);
        expect(other.webhookEndpoint()).toEqual({
          url: receiver.url,
          secret: WEBHOOK_SECRET,
          apiVersion: '2025-03-31.basil',
        });

        // setWebhookEndpoint and the admin route take it too; null goes back to the account default.
        other.setWebhookEndpoint(receiver.url, undefined, '2025-09-30.clover');
        await client.paymentIntents.create({ amount: 1000, currency: 'eur', ...NO_REDIRECTS });
        await waitFor(() => receiver.bodies.length === 2, 'the second delivery');
        expect(receiver.events()[1]?.api_version).toBe('2025-09-30.clover');

        const admin = async (body: unknown) => {
          const response = await fetch(`${other.url}/__admin/webhooks/endpoint`, {
            method: 'POST',
            body: JSON.stringify(body),
          });
          return { status: response.status, body: (await response.json()) as unknown };
        };
        expect(await admin({ url: receiver.url, api_version: '2026-01-28.clover' })).toEqual({
          status: 200,
          body: { url: receiver.url, secret: WEBHOOK_SECRET, api_version: '2026-01-28.clover' },
        });
        expect((await admin({ url: receiver.url, api_version: 'yesterday' })).status).toBe(400);
        expect(await admin({ url: receiver.url, api_version: null })).toEqual({
          status: 200,
          body: { url: receiver.url, secret: WEBHOOK_SECRET },
        });
        await client.paymentIntents.create({ amount: 1000, currency: 'eur', ...NO_REDIRECTS });
        await waitFor(() => receiver.bodies.length === 3, 'the third delivery');
        expect(receiver.events()[2]?.api_version).toBe(Stripe.API_VERSION);
        // An event's body is fixed when it is created: a resend keeps its version.
        expect(receiver.events()[0]?.api_version).toBe('2025-03-31.basil');
        expect(() => other.setWebhookEndpoint(receiver.url, undefined, 'v2')).toThrow('Invalid API version');
      } finally {
        await receiver.close();
      }
    });
  });

  describe('/v1/charges', () => {
    // The fields Stripe.Charge (stripe v23) declares as required, all present (null where not modelled).
    const REQUIRED: (keyof Stripe.Charge)[] = [
      'id',
      'object',
      'amount',
      'amount_captured',
      'amount_refunded',
      'application',
      'application_fee',
      'application_fee_amount',
      'balance_transaction',
      'billing_details',
      'calculated_statement_descriptor',
      'captured',
      'created',
      'currency',
      'customer',
      'description',
      'disputed',
      'failure_balance_transaction',
      'failure_code',
      'failure_message',
      'fraud_details',
      'livemode',
      'metadata',
      'on_behalf_of',
      'outcome',
      'paid',
      'payment_intent',
      'payment_method',
      'payment_method_details',
      'receipt_email',
      'receipt_number',
      'receipt_url',
      'refunded',
      'review',
      'shipping',
      'source',
      'source_transfer',
      'statement_descriptor',
      'statement_descriptor_suffix',
      'status',
      'transfer_data',
      'transfer_group',
    ];

    it('retrieves the charge a PaymentIntent names as latest_charge, in Stripe shape (Old: 404 unrecognized URL)', async () => {
      const pi = await stripe.paymentIntents.create({
        amount: 4200,
        currency: 'eur',
        payment_method: 'pm_card_visa',
        confirm: true,
        description: 'Order 42',
        metadata: { payment_id: 'pay_42' },
        ...NO_REDIRECTS,
      });
      const charge = await stripe.charges.retrieve(pi.latest_charge as string);
      for (const field of REQUIRED) expect(charge).toHaveProperty(field);
      expect(charge).toMatchObject({
        id: pi.latest_charge,
        object: 'charge',
        amount: 4200,
        amount_captured: 4200,
        amount_refunded: 0,
        balance_transaction: expect.stringMatching(/^txn_/),
        captured: true,
        currency: 'eur',
        description: 'Order 42',
        livemode: false,
        metadata: { payment_id: 'pay_42' },
        paid: true,
        payment_intent: pi.id,
        payment_method: pi.payment_method,
        refunded: false,
        status: 'succeeded',
        failure_code: null,
        failure_message: null,
        outcome: { type: 'authorized', network_status: 'approved_by_network', seller_message: 'Payment complete.' },
        payment_method_details: { type: 'card', card: { brand: 'visa', last4: '4242', amount_authorized: 4200 } },
      });
      expect(Math.abs(charge.created - pi.created)).toBeLessThan(5);

      const withIntent = await stripe.charges.retrieve(charge.id, { expand: ['payment_intent'] });
      expect((withIntent.payment_intent as Stripe.PaymentIntent).id).toBe(pi.id);
      const badExpand = await caught(stripe.charges.retrieve(charge.id, { expand: ['customer'] }));
      expect(badExpand.statusCode).toBe(400);

      const missing = await caught(stripe.charges.retrieve('ch_doesnotexist'));
      expect(missing).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      expect(missing.statusCode).toBe(404);
      expect(missing.code).toBe('resource_missing');
      expect(missing.message).toBe("No such charge: 'ch_doesnotexist'");
    });

    it('lists the attempts of a PaymentIntent newest first, declines included, and pages through all', async () => {
      const intent = await stripe.paymentIntents.create({
        amount: 1500,
        currency: 'eur',
        metadata: { payment_id: 'pay_list' },
        ...NO_REDIRECTS,
      });
      const declined = await caught(
        stripe.paymentIntents.confirm(intent.id, { payment_method: 'pm_card_chargeDeclined' }),
      );
      const paid = await stripe.paymentIntents.confirm(intent.id, { payment_method: 'pm_card_mastercard' });
      await stripe.paymentIntents.create({
        amount: 999,
        currency: 'eur',
        payment_method: 'pm_card_visa',
        confirm: true,
        ...NO_REDIRECTS,
      });

      const listed = await stripe.charges.list({ payment_intent: intent.id });
      expect(listed).toMatchObject({ object: 'list', has_more: false, url: '/v1/charges' });
      expect(listed.data.map((c) => [c.id, c.status])).toEqual([
        [paid.latest_charge, 'succeeded'],
        [declined.charge, 'failed'],
      ]);
      expect(listed.data[1]).toMatchObject({
        paid: false,
        failure_code: 'card_declined',
        failure_message: 'Your card was declined.',
        outcome: { type: 'issuer_declined', reason: 'generic_decline' },
      });

      const all = await stripe.charges.list({ limit: 2 }).autoPagingToArray({ limit: 10 });
      expect(all).toHaveLength(3);
      expect(
        sim
          .chargeAttempts()
          .map((c) => c.id)
          .reverse(),
      ).toEqual(all.map((c) => c.id));
      expect((await stripe.charges.list({ payment_intent: 'pi_none' })).data).toEqual([]);
      expect((await caught(stripe.charges.list({ limit: 101 }))).param).toBe('limit');
    });
  });
});
