// CONTRACT TEST: the PSP simulator, driven by the real stripe SDK through every flow it supports, must
// answer bodies that match what the INSTALLED stripe package declares. Every raw JSON response is recorded
// (recorder.ts) and validated against JSON Schemas generated from the SDK's type declarations at test
// time (stripe-schemas.ts, cached per stripe version). A flow fails when the simulator misbehaves (its
// assertions) or when any body drifts from the declarations (then the report names the object type, the
// JSON path and the problem). Routes the simulator lacks are in the flow list on purpose: they fail, naming
// the route, until implemented.

import Stripe from 'stripe';
import { type PspSimulator, startPspSimulator } from '../../local/psp-simulator/server';
import { caught } from '../support/stripe-calls';
import {
  type CheckedDocument,
  type ContractKind,
  ContractValidator,
  formatReport,
  type Violation,
} from './contract-validator';
import { paymentIntentFixture } from './fixtures';
import { isUnrecognizedUrl, kindOf, type RecordedExchange, recordingClient, routeName } from './recorder';
import { loadStripeSchemas } from './stripe-schemas';

const SECRET_KEY = 'sk_test_contract_0123456789abcdefWXYZ';
// Server-side confirmations without a return_url: card only (no redirect-based methods).
// (allowed_payment_method_types: payment_method_types is no longer writable on a PaymentIntent since 2026-09-30.endive)
const CARD_ONLY: Pick<Stripe.PaymentIntentCreateParams, 'allowed_payment_method_types'> = {
  allowed_payment_method_types: ['card'],
};
const RETURN_URL = 'https://shop.example/return';
const SUCCESS_URL = 'https://shop.example/success?session_id={CHECKOUT_SESSION_ID}';
const CANCEL_URL = 'https://shop.example/cancel';
const CARD_FORM = { cardnumber: '4242 4242 4242 4242', exp: '12/34', cvc: '123' };

interface FlowContext {
  sim: PspSimulator;
  stripe: Stripe;
  /** A client with another API key (its exchanges are recorded and validated too). */
  clientWithKey(secretKey: string): Stripe;
  /** Validates a value that is not a whole response body (an expanded object), as `kind`. */
  check(kind: ContractKind, value: unknown, source: string): void;
}

interface Flow {
  name: string;
  run(ctx: FlowContext): Promise<void>;
}

// THE FLOWS. Each runs against a fresh simulator.
const FLOWS: Flow[] = [
  {
    name: 'PaymentIntent: create with confirm=true succeeds',
    run: async ({ stripe }) => {
      const pi = await stripe.paymentIntents.create({
        amount: 2599,
        currency: 'usd',
        payment_method: 'pm_card_visa',
        confirm: true,
        metadata: { order: 'o-1' },
        description: 'contract',
        ...CARD_ONLY,
      });
      expect(pi).toMatchObject({ object: 'payment_intent', status: 'succeeded', amount_received: 2599 });
    },
  },
  {
    name: 'PaymentIntent: create, then confirm',
    run: async ({ stripe }) => {
      const created = await stripe.paymentIntents.create({ amount: 1500, currency: 'eur', ...CARD_ONLY });
      expect(created.status).toBe('requires_payment_method');
      const confirmed = await stripe.paymentIntents.confirm(created.id, { payment_method: 'pm_card_mastercard' });
      expect(confirmed.status).toBe('succeeded');
    },
  },
  {
    name: 'PaymentIntent: a decline is a 402 card_error carrying the intent',
    run: async ({ stripe }) => {
      const error = await caught(
        stripe.paymentIntents.create({
          amount: 1000,
          currency: 'usd',
          payment_method: 'pm_card_chargeDeclinedInsufficientFunds',
          confirm: true,
          ...CARD_ONLY,
        }),
      );
      expect(error).toBeInstanceOf(Stripe.errors.StripeCardError);
      expect(error.statusCode).toBe(402);
      expect(error.decline_code).toBe('insufficient_funds');
      const id = error.payment_intent?.id as string;
      const pi = await stripe.paymentIntents.retrieve(id);
      expect(pi.status).toBe('requires_payment_method');
      expect(pi.last_payment_error?.type).toBe('card_error');
    },
  },
  {
    name: 'PaymentIntent: 3-D Secure with return_url -> redirect_to_url, then the challenge page approves',
    run: async ({ stripe }) => {
      // Automatic payment methods: a server-side confirmation needs the return_url.
      const pi = await stripe.paymentIntents.create({
        amount: 4200,
        currency: 'usd',
        payment_method: 'pm_card_authenticationRequired',
        confirm: true,
        return_url: RETURN_URL,
      });
      expect(pi.status).toBe('requires_action');
      expect(pi.next_action?.type).toBe('redirect_to_url');
      expect(pi.next_action?.redirect_to_url?.return_url).toBe(RETURN_URL);
      const challenge = await postForm(pi.next_action?.redirect_to_url?.url as string, { action: 'approve' });
      expect(challenge.status).toBe(303);
      expect(challenge.headers.get('location')).toMatch(
        /^https:\/\/shop\.example\/return\?.*redirect_status=succeeded/,
      );
      expect((await stripe.paymentIntents.retrieve(pi.id)).status).toBe('succeeded');
    },
  },
  {
    name: 'PaymentIntent: 3-D Secure without return_url -> use_stripe_sdk, then authentication approves',
    run: async ({ stripe, sim }) => {
      const pi = await stripe.paymentIntents.create({
        amount: 4300,
        currency: 'usd',
        payment_method: 'pm_card_threeDSecure2Required',
        confirm: true,
        ...CARD_ONLY,
      });
      // As on Stripe, where the buyer completes it in Stripe.js (handleNextAction): nothing to redirect to.
      sim.authenticatePaymentIntent(pi.id, 'approve');
      const after = await stripe.paymentIntents.retrieve(pi.id);
      expect(pi.status).toBe('requires_action');
      expect(pi.next_action?.type).toBe('use_stripe_sdk');
      expect(after.status).toBe('succeeded');
    },
  },
  {
    name: 'PaymentIntent: processing, then settled',
    run: async ({ stripe, sim }) => {
      const pi = await stripe.paymentIntents.create({
        amount: 5000,
        currency: 'usd',
        payment_method: 'pm_card_processing',
        confirm: true,
        ...CARD_ONLY,
      });
      expect(pi.status).toBe('processing');
      sim.settlePaymentIntent(pi.id, 'succeeded');
      expect((await stripe.paymentIntents.retrieve(pi.id)).status).toBe('succeeded');
    },
  },
  {
    name: 'PaymentIntent: capture_method=manual -> requires_capture, then a partial capture',
    run: async ({ stripe }) => {
      const pi = await stripe.paymentIntents.create({
        amount: 3000,
        currency: 'usd',
        payment_method: 'pm_card_visa',
        confirm: true,
        capture_method: 'manual',
        ...CARD_ONLY,
      });
      expect(pi).toMatchObject({ status: 'requires_capture', amount_capturable: 3000 });
      const captured = await stripe.paymentIntents.capture(pi.id, { amount_to_capture: 2000 });
      expect(captured).toMatchObject({ status: 'succeeded', amount_received: 2000 });
    },
  },
  {
    name: 'PaymentIntent: cancel',
    run: async ({ stripe }) => {
      const pi = await stripe.paymentIntents.create({ amount: 1200, currency: 'usd', ...CARD_ONLY });
      const canceled = await stripe.paymentIntents.cancel(pi.id, { cancellation_reason: 'requested_by_customer' });
      expect(canceled).toMatchObject({ status: 'canceled', cancellation_reason: 'requested_by_customer' });
    },
  },
  {
    name: 'PaymentIntent: retrieve, with expand[]=payment_method',
    run: async ({ stripe, check }) => {
      const pi = await stripe.paymentIntents.create({
        amount: 2100,
        currency: 'usd',
        payment_method: 'pm_card_amex',
        confirm: true,
        ...CARD_ONLY,
      });
      expect((await stripe.paymentIntents.retrieve(pi.id)).id).toBe(pi.id);
      const expanded = await stripe.paymentIntents.retrieve(pi.id, { expand: ['payment_method'] });
      expect(typeof expanded.payment_method).toBe('object');
      check('PaymentMethod', expanded.payment_method, 'the expanded payment_method of GET /v1/payment_intents/:id');
    },
  },
  {
    name: 'PaymentIntent: list, two pages',
    run: async ({ stripe }) => {
      for (const amount of [100, 200, 300])
        await stripe.paymentIntents.create({ amount, currency: 'usd', ...CARD_ONLY });
      const first = await stripe.paymentIntents.list({ limit: 2 });
      expect(first.data.map((pi) => pi.amount)).toEqual([300, 200]);
      expect(first.has_more).toBe(true);
      const second = await stripe.paymentIntents.list({ limit: 2, starting_after: first.data[1]?.id });
      expect(second.data.map((pi) => pi.amount)).toEqual([100]);
      expect(second.has_more).toBe(false);
    },
  },
  {
    name: 'PaymentIntent: search, two pages',
    run: async ({ stripe }) => {
      for (const order of ['o-1', 'o-2', 'o-3']) {
        await stripe.paymentIntents.create({
          amount: 1000,
          currency: 'usd',
          payment_method: 'pm_card_visa',
          confirm: true,
          metadata: { order },
          ...CARD_ONLY,
        });
      }
      // As on Stripe, search lags behind writes: ask until the new intents are searchable.
      const one = await eventually(
        () => stripe.paymentIntents.search({ query: "metadata['order']:'o-2'" }),
        (result) => result.data.length > 0,
      );
      expect(one.data.map((pi) => pi.metadata.order)).toEqual(['o-2']);
      const first = await eventually(
        () => stripe.paymentIntents.search({ query: "status:'succeeded'", limit: 2 }),
        (result) => result.has_more,
      );
      expect(first).toMatchObject({ object: 'search_result', has_more: true });
      const second = await stripe.paymentIntents.search({
        query: "status:'succeeded'",
        limit: 2,
        page: first.next_page as string,
      });
      expect(second).toMatchObject({ has_more: false, next_page: null });
      expect(second.data).toHaveLength(1);
    },
  },
  {
    name: 'Checkout Session: create, retrieve, pay on the hosted page, retrieve with expand[]=payment_intent, list',
    run: async ({ stripe }) => {
      const session = await createSession(stripe);
      expect(session).toMatchObject({ object: 'checkout.session', status: 'open', payment_status: 'unpaid' });
      expect((await stripe.checkout.sessions.retrieve(session.id)).status).toBe('open');
      const paid = await postForm(session.url as string, CARD_FORM);
      expect(paid.status).toBe(303);
      expect(paid.headers.get('location')).toMatch(/^https:\/\/shop\.example\/success\?/);
      const complete = await stripe.checkout.sessions.retrieve(session.id, { expand: ['payment_intent'] });
      expect(complete).toMatchObject({ status: 'complete', payment_status: 'paid' });
      const intent = complete.payment_intent as Stripe.PaymentIntent;
      expect(intent).toMatchObject({ object: 'payment_intent', status: 'succeeded', amount: 2500 });
      const listed = await stripe.checkout.sessions.list({ limit: 10 });
      expect(listed.data.map((s) => s.id)).toContain(session.id);
      const byIntent = await stripe.checkout.sessions.list({ payment_intent: intent.id });
      expect(byIntent.data.map((s) => s.id)).toEqual([session.id]);
      // As on Stripe (API versions since 2022-08-01): no PaymentIntent until the buyer pays.
      expect(session.payment_intent).toBeNull();
    },
  },
  {
    name: 'Checkout Session: 3-D Secure on the hosted page',
    run: async ({ stripe, sim }) => {
      const session = await createSession(stripe);
      const toChallenge = await postForm(session.url as string, { ...CARD_FORM, cardnumber: '4000002760003184' });
      expect(toChallenge.status).toBe(303);
      const challengeUrl = new URL(toChallenge.headers.get('location') as string, sim.url).href;
      const approved = await postForm(challengeUrl, { action: 'approve' });
      expect(approved.status).toBe(303);
      expect(approved.headers.get('location')).toMatch(/^https:\/\/shop\.example\/success\?/);
      const complete = await stripe.checkout.sessions.retrieve(session.id, { expand: ['payment_intent'] });
      expect(complete).toMatchObject({ status: 'complete', payment_status: 'paid' });
    },
  },
  {
    name: 'Checkout Session: expire',
    run: async ({ stripe }) => {
      const session = await createSession(stripe);
      const expired = await stripe.checkout.sessions.expire(session.id);
      expect(expired.status).toBe('expired');
      const retrieved = await stripe.checkout.sessions.retrieve(session.id, { expand: ['payment_intent'] });
      expect(retrieved.status).toBe('expired');
      const listed = await stripe.checkout.sessions.list({ status: 'expired' });
      expect(listed.data.map((s) => s.id)).toEqual([session.id]);
    },
  },
  {
    name: 'Event: list (all, by type), retrieve one of each type',
    run: async ({ stripe, sim }) => {
      await emitEveryEventType(stripe, sim);
      const all = await stripe.events.list({ limit: 100 });
      const types = [...new Set(all.data.map((event) => event.type))];
      expect(types).toEqual(
        expect.arrayContaining([
          'payment_intent.succeeded',
          'payment_intent.payment_failed',
          'payment_intent.requires_action',
          'payment_intent.processing',
          'payment_intent.amount_capturable_updated',
          'payment_intent.canceled',
          'checkout.session.completed',
          'checkout.session.expired',
        ]),
      );
      for (const type of types) {
        const first = all.data.find((event) => event.type === type) as Stripe.Event;
        expect((await stripe.events.retrieve(first.id)).id).toBe(first.id);
      }
      const checkout = await stripe.events.list({ type: 'checkout.session.*' });
      expect(checkout.data.length).toBeGreaterThan(0);
      expect(checkout.data.every((event) => event.type.startsWith('checkout.session.'))).toBe(true);
    },
  },
  {
    name: 'Charge: retrieve and list (latest_charge of a succeeded and of a declined PaymentIntent)',
    run: async ({ stripe }) => {
      const pi = await stripe.paymentIntents.create({
        amount: 2600,
        currency: 'usd',
        payment_method: 'pm_card_visa',
        confirm: true,
        ...CARD_ONLY,
      });
      const charge = await stripe.charges.retrieve(pi.latest_charge as string);
      expect(charge).toMatchObject({
        object: 'charge',
        id: pi.latest_charge,
        payment_intent: pi.id,
        status: 'succeeded',
      });
      const listed = await stripe.charges.list({ payment_intent: pi.id });
      expect(listed.data.map((c) => c.id)).toEqual([charge.id]);
      const declined = await caught(
        stripe.paymentIntents.create({
          amount: 2700,
          currency: 'usd',
          payment_method: 'pm_card_chargeDeclined',
          confirm: true,
          ...CARD_ONLY,
        }),
      );
      const failedCharge = await stripe.charges.retrieve(declined.payment_intent?.latest_charge as string);
      expect(failedCharge).toMatchObject({ object: 'charge', status: 'failed' });
      expect((await stripe.charges.list({ limit: 10 })).data).toHaveLength(2);
    },
  },
  {
    name: 'Errors: 400 invalid_request_error (missing and unknown parameters, a PaymentIntent in the wrong state)',
    run: async ({ stripe }) => {
      const missing = await caught(
        stripe.paymentIntents.create({ currency: 'usd' } as Stripe.PaymentIntentCreateParams),
      );
      expect(missing).toMatchObject({ statusCode: 400, type: 'StripeInvalidRequestError', code: 'parameter_missing' });
      const unknown = await caught(
        stripe.paymentIntents.create({ amount: 100, currency: 'usd', bogus: 1 } as Stripe.PaymentIntentCreateParams),
      );
      expect(unknown.statusCode).toBe(400);
      const pi = await stripe.paymentIntents.create({ amount: 100, currency: 'usd', ...CARD_ONLY });
      await stripe.paymentIntents.cancel(pi.id);
      const wrongState = await caught(stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_visa' }));
      expect(wrongState).toMatchObject({ statusCode: 400, code: 'payment_intent_unexpected_state' });
    },
  },
  {
    name: 'Errors: 401 with a wrong API key',
    run: async ({ clientWithKey }) => {
      const error = await caught(clientWithKey('sk_test_wrong_0123456789abcdef').paymentIntents.list());
      expect(error).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
      expect(error.statusCode).toBe(401);
    },
  },
  {
    name: 'Errors: 404 resource_missing (PaymentIntent, Checkout Session, Event)',
    run: async ({ stripe }) => {
      for (const promise of [
        stripe.paymentIntents.retrieve('pi_doesnotexist'),
        stripe.checkout.sessions.retrieve('cs_test_doesnotexist'),
        stripe.events.retrieve('evt_doesnotexist'),
      ]) {
        expect(await caught(promise)).toMatchObject({ statusCode: 404, code: 'resource_missing' });
      }
    },
  },
  {
    name: 'Errors: 409 idempotency_key_in_use, replay, 400 idempotency_error on other parameters',
    run: async ({ stripe, sim }) => {
      const params = {
        amount: 1800,
        currency: 'usd',
        payment_method: 'pm_card_visa_latency800',
        confirm: true,
        ...CARD_ONLY,
      };
      const idempotencyKey = 'contract-idempotency-1';
      // Both settled before any assertion, so that no request is left running when the simulator stops.
      const slow = stripe.paymentIntents.create(params, { idempotencyKey }).catch((error: unknown) => error);
      // The simulator logs the latency once the first request holds the key: the retry goes in then.
      await eventually(
        async () => sim.injectedFaults(),
        (faults) => faults.some((fault) => fault.fault === 'latency'),
      );
      const conflict = await stripe.paymentIntents.create(params, { idempotencyKey }).catch((error: unknown) => error);
      const first = (await slow) as Stripe.PaymentIntent;
      // The SDK raises a 409 as a StripeAPIError (only 400/404 idempotency errors get StripeIdempotencyError).
      expect(conflict).toBeInstanceOf(Stripe.errors.StripeError);
      expect(conflict).toMatchObject({
        statusCode: 409,
        code: 'idempotency_key_in_use',
        raw: expect.objectContaining({ type: 'idempotency_error' }),
      });
      expect(first).toMatchObject({ object: 'payment_intent', status: 'succeeded' });
      const replay = await stripe.paymentIntents.create(params, { idempotencyKey });
      expect(replay.id).toBe(first.id);
      const mismatch = await caught(stripe.paymentIntents.create({ ...params, amount: 1900 }, { idempotencyKey }));
      expect(mismatch).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
      expect(mismatch.statusCode).toBe(400);
    },
  },
  {
    name: 'Errors: 429 rate limit (injected with pm_card_visa_ratelimitx1), then the retry succeeds',
    run: async ({ stripe }) => {
      const params = { amount: 1100, currency: 'usd', payment_method: 'pm_card_visa_ratelimitx1', confirm: true };
      const idempotencyKey = 'contract-429';
      const error = await caught(stripe.paymentIntents.create({ ...params, ...CARD_ONLY }, { idempotencyKey }));
      expect(error).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
      expect(error.statusCode).toBe(429);
      const retried = await stripe.paymentIntents.create({ ...params, ...CARD_ONLY }, { idempotencyKey });
      expect(retried.status).toBe('succeeded');
    },
  },
  {
    name: 'Errors: 500 api_error (injected with pm_card_visa_error500x1), replayed under its key, a new key succeeds',
    run: async ({ stripe }) => {
      const params = { amount: 1300, currency: 'usd', payment_method: 'pm_card_visa_error500x1', confirm: true };
      const error = await caught(
        stripe.paymentIntents.create({ ...params, ...CARD_ONLY }, { idempotencyKey: 'contract-500' }),
      );
      expect(error).toBeInstanceOf(Stripe.errors.StripeAPIError);
      expect(error.statusCode).toBe(500);
      // As on Stripe, the first result of a key is stored, a 500 included: the same key replays it.
      const replayed = await caught(
        stripe.paymentIntents.create({ ...params, ...CARD_ONLY }, { idempotencyKey: 'contract-500' }),
      );
      expect(replayed.statusCode).toBe(500);
      // A new attempt (new key, the plain card: `x1` faults the first attempt of every key) succeeds.
      const retried = await stripe.paymentIntents.create(
        { ...params, payment_method: 'pm_card_visa', ...CARD_ONLY },
        { idempotencyKey: 'contract-500-b' },
      );
      expect(retried.status).toBe('succeeded');
    },
  },
];

let validator: ContractValidator;
const checked: CheckedDocument[] = [];

beforeAll(async () => {
  validator = new ContractValidator(await loadStripeSchemas());
}, 120_000);

afterAll(() => {
  if (!validator || checked.length === 0) return;
  const failing = checked.filter((doc) => doc.violations.length > 0);
  const { stripeVersion, fromCache, ms, cacheFile } = validator.schemas;
  console.info(
    [
      `contract: ${checked.length - failing.length} of ${checked.length} bodies match stripe@${stripeVersion}` +
        ` (schemas ${fromCache ? 'read from' : 'generated into'} ${cacheFile} in ${ms} ms)`,
      ...failing.map((doc) => `  drifted: ${doc.kind} from ${doc.source} (${doc.violations.length} problem(s))`),
    ].join('\n'),
  );
});

describe('contract: the PSP simulator, driven by the stripe SDK, answers what the installed SDK declares', () => {
  it.each(FLOWS.map((flow) => [flow.name, flow] as const))(
    '%s',
    async (_name, flow) => {
      await runFlow(flow);
    },
    30_000,
  );
});

describe('contract validator: negative controls', () => {
  const validate = (kind: ContractKind, body: unknown) => validator.validate(kind, body);
  const at = (violations: Violation[]) => violations.map((v) => `${v.path} ${v.keyword}`);

  it('accepts the unmodified PaymentIntent (null in `string | null` fields included)', () => {
    const pi = paymentIntentFixture();
    expect(pi.description).toBeNull();
    expect(validate('PaymentIntent', pi)).toEqual([]);
  });

  it('rejects a PaymentIntent without a required property', () => {
    const { amount: _amount, ...pi } = paymentIntentFixture();
    expect(at(validate('PaymentIntent', pi))).toEqual(['/amount required']);
  });

  it('rejects a missing `string | null` property: null is allowed, absent is not', () => {
    const pi = JSON.parse(JSON.stringify({ ...paymentIntentFixture(), description: undefined }));
    expect(at(validate('PaymentIntent', pi))).toEqual(['/description required']);
  });

  it('rejects a property of the wrong type', () => {
    const violations = validate('PaymentIntent', { ...paymentIntentFixture(), amount: '2599' });
    expect(violations).toEqual([{ path: '/amount', keyword: 'type', message: 'must be number, got "2599"' }]);
  });

  it("rejects an unknown enum value (status 'bogus'), naming the allowed ones", () => {
    const violations = validate('PaymentIntent', { ...paymentIntentFixture(), status: 'bogus' });
    expect(at(violations)).toEqual(['/status enum']);
    expect(violations[0]?.message).toMatch(/^must be one of .*"succeeded".*, got "bogus"$/);
  });

  it('rejects an unknown value of a nullable enum, naming the alternatives', () => {
    const violations = validate('PaymentIntent', { ...paymentIntentFixture(), cancellation_reason: 'bored' });
    expect(at(violations)).toEqual(['/cancellation_reason anyOf']);
    expect(violations[0]?.message).toMatch(/"requested_by_customer".* \| null, got "bored"$/);
  });

  it('reports the inner problem of an object inside a union, not the union', () => {
    const pi = {
      ...paymentIntentFixture(),
      status: 'requires_action',
      next_action: { type: 'redirect_to_url', redirect_to_url: { url: 42, return_url: null } },
    };
    expect(at(validate('PaymentIntent', pi))).toEqual(['/next_action/redirect_to_url/url type']);
  });

  it('allows properties the SDK does not declare (deliberate: Stripe adds fields before the SDK lists them)', () => {
    expect(validate('PaymentIntent', { ...paymentIntentFixture(), some_future_field: { a: 1 } })).toEqual([]);
  });

  it('checks error envelopes, and the objects inside them', () => {
    expect(validate('ErrorEnvelope', { error: { type: 'card_error', message: 'Declined.' } })).toEqual([]);
    expect(at(validate('ErrorEnvelope', { error: { type: 'bogus_error', message: 'x' } }))).toEqual([
      '/error/type enum',
    ]);
    expect(at(validate('ErrorEnvelope', { message: 'x' }))).toEqual(['/error required']);
    // Declared by the SDK's RawErrorType, but not one of the documented types of a v1 error body.
    expect(at(validate('ErrorEnvelope', { error: { type: 'rate_limit_error', code: 'rate_limit' } }))).toEqual([
      '/error/type enum',
    ]);
    const { status: _status, ...pi } = paymentIntentFixture();
    expect(at(validate('ErrorEnvelope', { error: { type: 'card_error', payment_intent: pi } }))).toEqual([
      '/error/payment_intent/status required',
    ]);
  });

  it("checks an event's data.object by its type, and refuses event types it has no schema for", () => {
    const event = {
      id: 'evt_1',
      object: 'event',
      api_version: Stripe.API_VERSION,
      created: 1_767_225_600,
      data: { object: paymentIntentFixture() },
      livemode: false,
      pending_webhooks: 0,
      request: { id: null, idempotency_key: null },
      type: 'payment_intent.succeeded',
    };
    expect(validate('Event', event)).toEqual([]);
    const { amount: _amount, ...pi } = paymentIntentFixture();
    expect(at(validate('Event', { ...event, data: { object: pi } }))).toEqual(['/data/object/amount required']);
    expect(
      at(
        validate('ApiList<Event>', {
          object: 'list',
          data: [event, { ...event, type: 'payment_intent.bogus' }],
          has_more: false,
          url: '/v1/events',
        }),
      ),
    ).toEqual(expect.arrayContaining(['/data/1/type enum', '/data/1/type contract']));
  });

  it('prints the drift as object type, JSON path and message, not the body', () => {
    const pi = { ...paymentIntentFixture(), status: 'bogus' };
    const report = formatReport(
      [
        {
          kind: 'PaymentIntent',
          source: 'GET /v1/payment_intents/:id -> 200',
          body: pi,
          violations: validate('PaymentIntent', pi),
        },
      ],
      validator.schemas.stripeVersion,
    );
    expect(report.split('\n')).toEqual([
      `PaymentIntent from GET /v1/payment_intents/:id -> 200 does not match stripe@${validator.schemas.stripeVersion}:`,
      expect.stringMatching(/^ {2}\/status: must be one of .*, got "bogus"$/),
    ]);
  });
});

async function runFlow(flow: Flow): Promise<void> {
  const sim = await startPspSimulator({ secretKey: SECRET_KEY, port: 0 });
  const exchanges: RecordedExchange[] = [];
  const extra: CheckedDocument[] = [];
  const ctx: FlowContext = {
    sim,
    stripe: recordingClient(sim, SECRET_KEY, exchanges),
    clientWithKey: (secretKey) => recordingClient(sim, secretKey, exchanges),
    check: (kind, value, source) =>
      extra.push({ kind, source, body: value, violations: validator.validate(kind, value) }),
  };
  let failure: unknown;
  try {
    await flow.run(ctx);
  } catch (error) {
    failure = error;
  } finally {
    await sim.close();
  }

  const documents = [...exchanges.map(checkExchange), ...extra];
  checked.push(...documents);
  const problems: string[] = [];
  const missingRoutes = [...new Set(exchanges.filter(isUnrecognizedUrl).map(routeName))];
  if (missingRoutes.length > 0) {
    problems.push(`The simulator does not implement: ${missingRoutes.join(', ')} (404 Unrecognized request URL).`);
  }
  if (failure !== undefined) {
    const message = failure instanceof Error ? failure.message : String(failure);
    problems.push(`The flow failed: ${message}\nIts exchanges:\n${exchanges.map(describeExchange).join('\n')}`);
  }
  const drift = formatReport(documents, validator.schemas.stripeVersion);
  if (drift) problems.push(`Responses that drifted from the SDK's declarations:\n${drift}`);
  if (problems.length > 0) throw new Error(problems.join('\n\n'));
}

function checkExchange(exchange: RecordedExchange): CheckedDocument {
  const source = `${routeName(exchange)} -> ${exchange.status}`;
  const kind = kindOf(exchange);
  let body: unknown;
  try {
    body = JSON.parse(exchange.body);
  } catch {
    return { kind: kind ?? 'ErrorEnvelope', source, body: undefined, violations: [fault('/', 'the body is not JSON')] };
  }
  if (!kind)
    return {
      kind: 'ErrorEnvelope',
      source,
      body,
      violations: [fault('/', 'no contract schema for this route: add it to test/contract/recorder.ts')],
    };
  return { kind, source, body, violations: validator.validate(kind, body) };
}

/** `POST /v1/payment_intents -> 402 card_error/card_declined`: one line, for a failed flow's log. */
function describeExchange(exchange: RecordedExchange): string {
  let outcome = '';
  try {
    const body = JSON.parse(exchange.body) as {
      error?: { type?: string; code?: string };
      object?: string;
      status?: string;
    };
    outcome = body.error
      ? `${body.error.type ?? '?'}${body.error.code ? `/${body.error.code}` : ''}`
      : [body.object, body.status].filter(Boolean).join(' ');
  } catch {
    outcome = 'not JSON';
  }
  return `  ${routeName(exchange)} -> ${exchange.status} ${outcome}`;
}

function fault(path: string, message: string): Violation {
  return { path, message, keyword: 'contract' };
}

/** Repeats a call until its result satisfies `done` (at most 10 s), then returns the last result. */
async function eventually<T>(call: () => Promise<T>, done: (result: T) => boolean): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const result = await call();
    if (done(result) || Date.now() > deadline) return result;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Submits a hosted page's form as the buyer's browser would, without following the redirect. */
function postForm(url: string, fields: Record<string, string>): Promise<Response> {
  return fetch(url, { method: 'POST', body: new URLSearchParams(fields), redirect: 'manual' });
}

function createSession(stripe: Stripe): Promise<Stripe.Checkout.Session> {
  return stripe.checkout.sessions.create({
    mode: 'payment',
    line_items: [{ quantity: 2, price_data: { currency: 'usd', unit_amount: 1250, product_data: { name: 'Widget' } } }],
    success_url: SUCCESS_URL,
    cancel_url: CANCEL_URL,
    metadata: { order: 'o-9' },
  });
}

/** Drives the simulator into emitting each event type it knows. */
async function emitEveryEventType(stripe: Stripe, sim: PspSimulator): Promise<void> {
  const card = (payment_method: string, extra: Partial<Stripe.PaymentIntentCreateParams> = {}) =>
    stripe.paymentIntents.create({
      amount: 1000,
      currency: 'usd',
      payment_method,
      confirm: true,
      ...CARD_ONLY,
      ...extra,
    });
  await card('pm_card_visa');
  await caught(card('pm_card_chargeDeclined'));
  await card('pm_card_authenticationRequired');
  await card('pm_card_processing');
  const manual = await card('pm_card_visa', { capture_method: 'manual' });
  await stripe.paymentIntents.capture(manual.id);
  const open = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', ...CARD_ONLY });
  await stripe.paymentIntents.cancel(open.id);
  const paid = await createSession(stripe);
  expect((await postForm(paid.url as string, CARD_FORM)).status).toBe(303);
  await stripe.checkout.sessions.expire((await createSession(stripe)).id);
  expect(sim.events().length).toBeGreaterThan(0);
}
