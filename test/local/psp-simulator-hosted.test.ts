// The PSP simulator's hosted payment page, 3-D Secure, pending payments, events and signed webhooks,
// driven by the real stripe SDK (API) and plain fetch (the buyer's browser).

import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { type PspSimulator, type PspSimulatorOptions, startPspSimulator } from '../../local/psp-simulator/server';
import { caught, sleep } from '../support/stripe-calls';

jest.setTimeout(20_000);

const SECRET_KEY = 'sk_test_simulator_0123456789abcdefWXYZ';
const WEBHOOK_SECRET = 'whsec_test_0123456789abcdefghijklmnopqrstuv';
// (allowed_payment_method_types: payment_method_types is no longer writable on a PaymentIntent since 2026-09-30.endive)
const CARD_ONLY: Pick<Stripe.PaymentIntentCreateParams, 'allowed_payment_method_types'> = {
  allowed_payment_method_types: ['card'],
};

const CARDS = {
  success: '4242 4242 4242 4242',
  declined: '4000 0000 0000 0002',
  threeDS: '4000 0027 6000 3184',
  insufficientFunds: '4000 0000 0000 9995',
  threeDSThenDeclined: '4000 0082 6000 3178',
};
const ALL_TEST_NUMBERS = [...Object.values(CARDS), '4000 0000 0000 3220', '4000 0566 5566 5556', '5555 5555 5555 4444'];

// ---------------------------------------------------------------------------------------------------
// helpers

function clientFor(sim: PspSimulator): Stripe {
  return new Stripe(SECRET_KEY, { host: sim.host, port: sim.port, protocol: 'http', maxNetworkRetries: 0 });
}

async function waitFor(condition: () => boolean, timeoutMs = 5000, label = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

interface Received {
  body: string;
  headers: IncomingHttpHeaders;
  at: number;
}

/** A webhook endpoint of ours: records every request, answers with `statusFor(n)` (n = 1, 2, ...). */
interface Receiver {
  url: string;
  received: Received[];
  statusFor: (n: number) => number;
  close(): Promise<void>;
  /** Verified events, in arrival order. */
  events(secret?: string): Stripe.Event[];
}

async function startReceiver(statusFor: (n: number) => number = () => 200): Promise<Receiver> {
  const received: Received[] = [];
  const receiver: Partial<Receiver> = { received, statusFor };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ body: Buffer.concat(chunks).toString('utf8'), headers: req.headers, at: Date.now() });
      res.writeHead((receiver as Receiver).statusFor(received.length), { Connection: 'close' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const stripe = new Stripe(SECRET_KEY);
  receiver.url = `http://127.0.0.1:${port}/v1/webhooks/psp`;
  receiver.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  receiver.events = (secret = WEBHOOK_SECRET) =>
    received.map((entry) =>
      stripe.webhooks.constructEvent(entry.body, entry.headers['stripe-signature'] as string, secret),
    );
  return receiver as Receiver;
}

/** Events that accompany the state changes under test here (their own tests are elsewhere). */
function isLifecycleDetail(type: string): boolean {
  return type === 'payment_intent.created' || type.startsWith('charge.');
}

function sessionParams(
  overrides: Partial<Stripe.Checkout.SessionCreateParams> = {},
): Stripe.Checkout.SessionCreateParams {
  return {
    mode: 'payment',
    client_reference_id: 'pay_123',
    line_items: [
      {
        quantity: 1,
        price_data: { currency: 'eur', unit_amount: 2599, product_data: { name: 'Payment pay_123' } },
      },
    ],
    success_url: 'https://shop.example/return?payment_id=pay_123&session_id={CHECKOUT_SESSION_ID}',
    cancel_url: 'https://shop.example/return?payment_id=pay_123&status=canceled',
    metadata: { payment_id: 'pay_123' },
    payment_intent_data: { metadata: { payment_id: 'pay_123', checkout_id: 'chk_1' } },
    ...overrides,
  };
}

interface Page {
  status: number;
  html: string;
  location: string | null;
}

async function browse(url: string, form?: Record<string, string>): Promise<Page> {
  const response = await fetch(url, {
    method: form ? 'POST' : 'GET',
    redirect: 'manual',
    ...(form && { body: new URLSearchParams(form) }),
  });
  return { status: response.status, html: await response.text(), location: response.headers.get('location') };
}

/** The hosted page's card form: its action and the names of its inputs. */
function cardForm(html: string): { action: string; inputs: string[]; payButton: boolean } {
  const form = /<form[^>]*id="payment-form"[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/.exec(html);
  if (!form) throw new Error(`no payment form in:\n${html}`);
  const inputs = [...(form[2] ?? '').matchAll(/<input[^>]*name="([^"]+)"/g)].map((match) => match[1] ?? '');
  return { action: form[1] ?? '', inputs, payButton: /<button[^>]*type="submit"[^>]*id="pay"/.test(form[2] ?? '') };
}

function challengeForm(html: string): { action: string; buttons: Record<string, string> } {
  const form = /<form[^>]*id="challenge"[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/.exec(html);
  if (!form) throw new Error(`no challenge form in:\n${html}`);
  const buttons: Record<string, string> = {};
  for (const match of (form[2] ?? '').matchAll(
    /<button[^>]*id="([^"]+)"[^>]*value="([^"]+)"[^>]*>([^<]*)<\/button>/g,
  )) {
    buttons[match[1] ?? ''] = `${match[2]}|${match[3]}`;
  }
  return { action: form[1] ?? '', buttons };
}

function errorCode(html: string): string | undefined {
  return /id="error"[^>]*data-code="([^"]+)"/.exec(html)?.[1];
}

async function payOnPage(sim: PspSimulator, session: Stripe.Checkout.Session, number: string): Promise<Page> {
  const page = await browse(session.url as string);
  const form = cardForm(page.html);
  return browse(new URL(form.action, sim.url).toString(), { cardnumber: number, exp: '12/34', cvc: '123' });
}

/** The PaymentIntent of a session, which exists once the buyer has attempted a payment on the page. */
async function intentIdOf(stripe: Stripe, session: Stripe.Checkout.Session): Promise<string> {
  const intent = (await stripe.checkout.sessions.retrieve(session.id)).payment_intent;
  if (typeof intent !== 'string') throw new Error(`session ${session.id} has no PaymentIntent yet`);
  return intent;
}

async function adminPost(sim: PspSimulator, path: string, body?: unknown) {
  const response = await fetch(`${sim.url}${path}`, {
    method: 'POST',
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function adminGet(sim: PspSimulator, path: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`${sim.url}${path}`);
  return { status: response.status, text: await response.text() };
}

function digitsOf(number: string): string {
  return number.replace(/\s/g, '');
}

function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let digit = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

/** Throws when a test card number (plain or spaced) or a card-shaped Luhn-valid run (see card-scan.ts) appears. */
function expectNoCardNumbers(label: string, value: unknown): void {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  for (const number of ALL_TEST_NUMBERS) {
    for (const form of [digitsOf(number), number]) {
      if (text.includes(form)) throw new Error(`${label} contains the card number ${form}`);
    }
  }
  // A card-shaped run: not a piece of a hex id, signature or UUID (letters or digits around it), brand range 2-6.
  for (const match of text.matchAll(/(?<![0-9A-Za-z])\d{13,19}(?![0-9A-Za-z])/g)) {
    if (/^[2-6]/.test(match[0]) && luhnValid(match[0])) {
      throw new Error(`${label} contains a Luhn-valid number ${match[0]}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------------

describe('PSP simulator: hosted page, 3-D Secure, pending payments, webhooks', () => {
  let sim: PspSimulator;
  let stripe: Stripe;
  let receiver: Receiver;
  const extras: PspSimulator[] = [];

  async function startSim(opts: Partial<PspSimulatorOptions> = {}): Promise<{ sim: PspSimulator; stripe: Stripe }> {
    const extra = await startPspSimulator({ secretKey: SECRET_KEY, ...opts });
    extras.push(extra);
    return { sim: extra, stripe: clientFor(extra) };
  }

  beforeEach(async () => {
    receiver = await startReceiver();
    sim = await startPspSimulator({
      secretKey: SECRET_KEY,
      webhookUrl: receiver.url,
      webhookSecret: WEBHOOK_SECRET,
      webhookRetryBaseMs: 50,
    });
    stripe = clientFor(sim);
  });

  afterEach(async () => {
    try {
      await Promise.all([sim, ...extras.splice(0)].map((each) => each.close()));
    } finally {
      await receiver.close();
    }
  });

  // The types of the events received, in order, leaving out the ones each state change also emits
  // (payment_intent.created, charge.*: lifecycle-events.ts), which these tests are not about.
  const eventsReceived = () => receiver.events().filter((event) => !isLifecycleDetail(event.type));
  const typesReceived = () => eventsReceived().map((event) => event.type);

  describe('Checkout Sessions', () => {
    it('creates a session in Stripe shape, its PaymentIntent created by the first attempt, and retrieves it', async () => {
      const session = await stripe.checkout.sessions.create(sessionParams());

      expect(session.id).toMatch(/^cs_test_[A-Za-z0-9]+$/);
      expect(session).toMatchObject({
        object: 'checkout.session',
        mode: 'payment',
        status: 'open',
        payment_status: 'unpaid',
        amount_total: 2599,
        amount_subtotal: 2599,
        currency: 'eur',
        client_reference_id: 'pay_123',
        metadata: { payment_id: 'pay_123' },
        success_url: 'https://shop.example/return?payment_id=pay_123&session_id={CHECKOUT_SESSION_ID}',
        cancel_url: 'https://shop.example/return?payment_id=pay_123&status=canceled',
        livemode: false,
        url: `${sim.url}/pay/${session.id}`,
      });
      const now = Date.now() / 1000;
      expect(Math.abs(session.created - now)).toBeLessThan(5);
      expect(session.expires_at - session.created).toBe(24 * 3600);

      // Was: a PaymentIntent created with the session. Stripe (API >= 2022-08-01) creates it when the buyer pays.
      expect(session.payment_intent).toBeNull();
      expect(sim.paymentIntents()).toEqual([]);
      const retrieved = await stripe.checkout.sessions.retrieve(session.id);
      expect(withoutResponse(retrieved)).toEqual(withoutResponse(session));
      const unexpanded = await stripe.checkout.sessions.retrieve(session.id, { expand: ['payment_intent'] });
      expect(unexpanded.payment_intent).toBeNull();

      // A declined attempt creates the intent, which stays open for another card.
      expect((await payOnPage(sim, session, CARDS.declined)).status).toBe(402);
      const intentId = await intentIdOf(stripe, session);
      expect(intentId).toMatch(/^pi_/);
      const intent = await stripe.paymentIntents.retrieve(intentId);
      expect(intent).toMatchObject({
        status: 'requires_payment_method',
        amount: 2599,
        currency: 'eur',
        metadata: { payment_id: 'pay_123', checkout_id: 'chk_1' },
        payment_method_types: ['card'],
      });

      const expanded = await stripe.checkout.sessions.retrieve(session.id, { expand: ['payment_intent'] });
      expect((expanded.payment_intent as Stripe.PaymentIntent).id).toBe(intentId);
      expect(sim.checkoutSessions().map((s) => s.id)).toEqual([session.id]);

      const listed = await stripe.checkout.sessions.list({ payment_intent: intentId });
      expect(listed.data.map((s) => s.id)).toEqual([session.id]);
      const missing = await caught(stripe.checkout.sessions.retrieve('cs_test_nope'));
      expect(missing.statusCode).toBe(404);
      expect(missing.code).toBe('resource_missing');
    });

    it('honours Idempotency-Key: same key and params replay, other params are refused', async () => {
      const first = await stripe.checkout.sessions.create(sessionParams(), { idempotencyKey: 'pay_123:register' });
      const replay = await stripe.checkout.sessions.create(sessionParams(), { idempotencyKey: 'pay_123:register' });
      expect(replay.id).toBe(first.id);
      expect(replay.payment_intent).toBe(first.payment_intent);
      expect(replay.lastResponse.headers['idempotent-replayed']).toBe('true');
      expect(sim.checkoutSessions()).toHaveLength(1);
      // Was 1: no PaymentIntent exists before the buyer pays.
      expect(sim.paymentIntents()).toHaveLength(0);

      const other = await caught(
        stripe.checkout.sessions.create(sessionParams({ client_reference_id: 'pay_999' }), {
          idempotencyKey: 'pay_123:register',
        }),
      );
      expect(other).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
      expect(other.statusCode).toBe(400);
      expect(sim.checkoutSessions()).toHaveLength(1);
    });

    it('validates the request like Stripe (nothing created)', async () => {
      const cases: [Partial<Stripe.Checkout.SessionCreateParams>, string][] = [
        [{ mode: undefined }, 'mode'],
        [{ line_items: undefined }, 'line_items'],
        [
          { line_items: [{ quantity: 1, price_data: { currency: 'eur', product_data: { name: 'x' } } }] },
          'line_items[0][price_data][unit_amount]',
        ],
        [
          { line_items: [{ price_data: { currency: 'eur', unit_amount: 100, product_data: { name: 'x' } } }] },
          'line_items[0][quantity]',
        ],
        [{ expires_at: Math.floor(Date.now() / 1000) + 60 }, 'expires_at'],
        [{ expires_at: Math.floor(Date.now() / 1000) + 25 * 3600 }, 'expires_at'],
        [{ success_url: 'not a url' }, 'success_url'],
        [{ payment_intent_data: { metadata: { ok: 'x' }, colour: 'red' } as never }, 'payment_intent_data[colour]'],
      ];
      for (const [overrides, param] of cases) {
        const error = await caught(stripe.checkout.sessions.create({ ...sessionParams(), ...overrides }));
        expect({ param: error.param, status: error.statusCode }).toEqual({ param, status: 400 });
      }
      expect(sim.checkoutSessions()).toHaveLength(0);
      expect(sim.paymentIntents()).toHaveLength(0);
    });

    it('expires a session: its intent is canceled, events are sent, the page is gone', async () => {
      const session = await stripe.checkout.sessions.create(
        sessionParams({ expires_at: Math.floor(Date.now() / 1000) + 3600 }),
      );
      // An attempt first: before one, the session has no PaymentIntent to cancel.
      await payOnPage(sim, session, CARDS.declined);
      const intentId = await intentIdOf(stripe, session);
      const expired = await stripe.checkout.sessions.expire(session.id, {}, { idempotencyKey: 'pay_123:stop' });
      expect(expired).toMatchObject({ status: 'expired', payment_status: 'unpaid', url: null });
      const intent = await stripe.paymentIntents.retrieve(intentId);
      expect(intent).toMatchObject({ status: 'canceled', cancellation_reason: 'abandoned' });

      const again = await caught(stripe.checkout.sessions.expire(session.id));
      expect(again).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      const replay = await stripe.checkout.sessions.expire(session.id, {}, { idempotencyKey: 'pay_123:stop' });
      expect(replay.lastResponse.headers['idempotent-replayed']).toBe('true');

      const page = await browse(session.url as string);
      expect(page.status).toBe(410);
      expect(cardFormOrNull(page.html)).toBeNull();

      await waitFor(() => typesReceived().length === 3, 5000, 'three webhooks');
      expect(typesReceived()[0]).toBe('payment_intent.payment_failed');
      expect(typesReceived().slice(1).sort()).toEqual(['checkout.session.expired', 'payment_intent.canceled']);
      const event = receiver.events().find((e) => e.type === 'checkout.session.expired') as Stripe.Event;
      expect(event.request).toEqual({ id: expect.stringMatching(/^req_/), idempotency_key: 'pay_123:stop' });
    });

    it('expires a session once its expires_at has passed', async () => {
      let nowMs = Date.now();
      const clocked = await startSim({
        now: () => nowMs,
        sessionSweepMs: 20,
        webhookUrl: receiver.url,
        webhookSecret: WEBHOOK_SECRET,
      });
      const session = await clocked.stripe.checkout.sessions.create(
        sessionParams({ expires_at: Math.floor(nowMs / 1000) + 1800 }),
      );
      await sleep(60);
      expect(clocked.sim.checkoutSessions()[0]?.status).toBe('open');
      nowMs += 1801 * 1000;
      // Was: payment_intent.canceled too. No attempt was made, so there is no PaymentIntent to cancel.
      await waitFor(() => typesReceived().includes('checkout.session.expired'), 5000, 'expiry webhooks');
      await sleep(50);
      expect(typesReceived()).toEqual(['checkout.session.expired']);
      expect(clocked.sim.paymentIntents()).toEqual([]);
      expect((await clocked.stripe.checkout.sessions.retrieve(session.id)).status).toBe('expired');
      const expiredEvent = receiver.events().find((e) => e.type === 'checkout.session.expired');
      expect(expiredEvent?.request).toEqual({ id: null, idempotency_key: null });
    });

    it('allows a shorter minimum expiry when configured', async () => {
      const relaxed = await startSim({ checkoutMinExpirySeconds: 1 });
      const session = await relaxed.stripe.checkout.sessions.create(
        sessionParams({ expires_at: Math.floor(Date.now() / 1000) + 5 }),
      );
      expect(session.status).toBe('open');
    });
  });

  describe('hosted payment page', () => {
    it('takes 4242 4242 4242 4242, redirects to success_url, and sends verified webhooks', async () => {
      const session = await stripe.checkout.sessions.create(sessionParams(), { idempotencyKey: 'reg-1' });
      const page = await browse(session.url as string);
      expect(page.status).toBe(200);
      expect(page.html).toContain('€25.99');
      expect(page.html).toContain('EUR');
      const form = cardForm(page.html);
      expect(form).toEqual({ action: `/pay/${session.id}`, inputs: ['cardnumber', 'exp', 'cvc'], payButton: true });

      const paid = await browse(new URL(form.action, sim.url).toString(), {
        cardnumber: CARDS.success,
        exp: '12 / 34',
        cvc: '123',
      });
      expect(paid.status).toBe(303);
      const location = new URL(paid.location as string);
      expect(`${location.origin}${location.pathname}`).toBe('https://shop.example/return');
      expect(location.searchParams.getAll('session_id')).toEqual([session.id]);
      expect(location.searchParams.get('status')).toBe('succeeded');
      expect(location.searchParams.get('payment_id')).toBe('pay_123');

      const intent = await stripe.paymentIntents.retrieve(await intentIdOf(stripe, session), {
        expand: ['payment_method'],
      });
      expect(intent).toMatchObject({ status: 'succeeded', amount_received: 2599, last_payment_error: null });
      expect((intent.payment_method as Stripe.PaymentMethod).card).toMatchObject({ brand: 'visa', last4: '4242' });
      expect(sim.charges()).toEqual([
        expect.objectContaining({
          id: intent.latest_charge,
          payment_intent: intent.id,
          amount: 2599,
          metadata: { payment_id: 'pay_123', checkout_id: 'chk_1' },
        }),
      ]);
      expect(sim.chargeAttempts()).toHaveLength(1);
      const completed = await stripe.checkout.sessions.retrieve(session.id);
      expect(completed).toMatchObject({ status: 'complete', payment_status: 'paid', url: null });

      await waitFor(() => typesReceived().length === 2, 5000, 'two webhooks');
      const events = eventsReceived();
      expect(events.map((event) => event.type)).toEqual(['payment_intent.succeeded', 'checkout.session.completed']);
      for (const entry of receiver.received) {
        expect(entry.headers['content-type']).toMatch(/^application\/json/);
        expect(entry.headers['stripe-signature']).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
      }
      const [succeeded, sessionCompleted] = events as [Stripe.Event, Stripe.Event];
      expect(succeeded).toMatchObject({
        object: 'event',
        api_version: Stripe.API_VERSION,
        livemode: false,
        pending_webhooks: 1,
        request: { id: null, idempotency_key: null },
        data: {
          object: { id: intent.id, object: 'payment_intent', status: 'succeeded', latest_charge: intent.latest_charge },
        },
      });
      expect(succeeded.id).toMatch(/^evt_/);
      expect(sessionCompleted.data.object).toMatchObject({
        id: session.id,
        status: 'complete',
        payment_status: 'paid',
        client_reference_id: 'pay_123',
        payment_intent: intent.id,
      });

      // A paid page takes no second payment.
      const again = await browse(session.url as string, { cardnumber: CARDS.success, exp: '12/34', cvc: '123' });
      expect(again.status).toBe(200);
      expect(again.html).toContain('already complete');
      expect(sim.chargeAttempts()).toHaveLength(1);
    });

    it('shows a decline on the page, keeps the session open, and takes another card', async () => {
      const session = await stripe.checkout.sessions.create(sessionParams());
      const declined = await payOnPage(sim, session, CARDS.declined);
      expect(declined.status).toBe(402);
      expect(errorCode(declined.html)).toBe('card_declined');
      expect(declined.html).toContain('Your card was declined.');
      expect(cardForm(declined.html).payButton).toBe(true);

      const intentId = await intentIdOf(stripe, session);
      const failed = await stripe.paymentIntents.retrieve(intentId);
      expect(failed.status).toBe('requires_payment_method');
      expect(failed.last_payment_error).toMatchObject({ code: 'card_declined', decline_code: 'generic_decline' });
      expect(sim.chargeAttempts()).toEqual([
        expect.objectContaining({ payment_intent: intentId, status: 'failed', failure_code: 'card_declined' }),
      ]);
      expect((await stripe.checkout.sessions.retrieve(session.id)).status).toBe('open');

      const paid = await payOnPage(sim, session, CARDS.success);
      expect(paid.status).toBe(303);
      expect(new URL(paid.location as string).searchParams.get('status')).toBe('succeeded');
      expect(sim.chargeCount()).toBe(1);
      expect(sim.chargeAttempts()).toHaveLength(2);

      await waitFor(() => typesReceived().length === 3, 5000, 'three webhooks');
      expect(typesReceived()).toEqual([
        'payment_intent.payment_failed',
        'payment_intent.succeeded',
        'checkout.session.completed',
      ]);
    });

    it('refuses an unknown number or a bad expiry without an attempt', async () => {
      const session = await stripe.checkout.sessions.create(sessionParams());
      const url = session.url as string;
      const wrong = await browse(url, { cardnumber: '4242 4242 4242 4241', exp: '12/34', cvc: '123' });
      expect(wrong.status).toBe(402);
      expect(errorCode(wrong.html)).toBe('incorrect_number');
      const letters = await browse(url, { cardnumber: 'abcd', exp: '12/34', cvc: '123' });
      expect(errorCode(letters.html)).toBe('incorrect_number');
      const past = await browse(url, { cardnumber: CARDS.success, exp: '01/20', cvc: '123' });
      expect(errorCode(past.html)).toBe('invalid_expiry_year');
      const noCvc = await browse(url, { cardnumber: CARDS.success, exp: '12/34', cvc: '' });
      expect(errorCode(noCvc.html)).toBe('incomplete_cvc');

      expect(sim.chargeAttempts()).toEqual([]);
      // Was: the session's intent, requires_payment_method. A card refused before submission creates none.
      expect(sim.paymentIntents()).toEqual([]);
      expect((await stripe.checkout.sessions.retrieve(session.id)).payment_intent).toBeNull();
      await sleep(50);
      expect(receiver.received).toEqual([]);
      expect((await browse(`${sim.url}/pay/cs_test_unknown`)).status).toBe(404);
    });

    it('runs the 3-D Secure challenge: approve pays', async () => {
      const session = await stripe.checkout.sessions.create(sessionParams());
      const started = await payOnPage(sim, session, CARDS.threeDS);
      expect(started.status).toBe(303);
      expect(started.location).toBe(`/pay/${session.id}/3ds`);
      const intentId = await intentIdOf(stripe, session);
      const pending = await stripe.paymentIntents.retrieve(intentId);
      expect(pending.status).toBe('requires_action');
      expect(pending.next_action).toEqual({
        type: 'redirect_to_url',
        redirect_to_url: { url: `${sim.url}/pay/${session.id}/3ds`, return_url: null },
      });
      expect(sim.chargeAttempts()).toEqual([]);

      const challenge = await browse(new URL(started.location as string, sim.url).toString());
      expect(challenge.status).toBe(200);
      const form = challengeForm(challenge.html);
      expect(form.buttons).toEqual({ approve: 'approve|Complete authentication', fail: 'fail|Fail authentication' });

      const approved = await browse(new URL(form.action, sim.url).toString(), { action: 'approve' });
      expect(approved.status).toBe(303);
      expect(new URL(approved.location as string).searchParams.get('status')).toBe('succeeded');
      expect((await stripe.paymentIntents.retrieve(intentId)).status).toBe('succeeded');
      expect(sim.chargeCount()).toBe(1);
      expect((await stripe.checkout.sessions.retrieve(session.id)).status).toBe('complete');

      await waitFor(() => typesReceived().length === 3, 5000, 'three webhooks');
      expect(typesReceived()).toEqual([
        'payment_intent.requires_action',
        'payment_intent.succeeded',
        'checkout.session.completed',
      ]);
    });

    it('runs the 3-D Secure challenge: fail redirects to cancel_url with status=failed, and the buyer may retry', async () => {
      const session = await stripe.checkout.sessions.create(sessionParams());
      const started = await payOnPage(sim, session, CARDS.threeDS);
      const challenge = await browse(new URL(started.location as string, sim.url).toString());
      const form = challengeForm(challenge.html);
      const failed = await browse(new URL(form.action, sim.url).toString(), { action: 'fail' });
      expect(failed.status).toBe(303);
      const location = new URL(failed.location as string);
      expect(location.searchParams.getAll('status')).toEqual(['failed']);
      expect(location.searchParams.get('session_id')).toBe(session.id);
      expect(location.searchParams.get('payment_id')).toBe('pay_123');

      const intent = await stripe.paymentIntents.retrieve(await intentIdOf(stripe, session));
      expect(intent.status).toBe('requires_payment_method');
      expect(intent.last_payment_error).toMatchObject({
        code: 'payment_intent_authentication_failure',
        type: 'invalid_request_error',
      });
      expect(sim.chargeCount()).toBe(0);
      expect((await stripe.checkout.sessions.retrieve(session.id)).status).toBe('open');

      const paid = await payOnPage(sim, session, CARDS.success);
      expect(paid.status).toBe(303);
      expect(sim.chargeCount()).toBe(1);
      await waitFor(() => typesReceived().length === 4, 5000, 'four webhooks');
      expect(typesReceived()).toEqual([
        'payment_intent.requires_action',
        'payment_intent.payment_failed',
        'payment_intent.succeeded',
        'checkout.session.completed',
      ]);
    });

    it('shows the decline of a card that passes 3-D Secure but has insufficient funds', async () => {
      const session = await stripe.checkout.sessions.create(sessionParams());
      const started = await payOnPage(sim, session, CARDS.threeDSThenDeclined);
      const approved = await browse(`${sim.url}${started.location}`, { action: 'approve' });
      expect(approved.status).toBe(402);
      expect(errorCode(approved.html)).toBe('card_declined');
      const intent = await stripe.paymentIntents.retrieve(await intentIdOf(stripe, session));
      expect(intent.last_payment_error?.decline_code).toBe('insufficient_funds');
      expect(sim.chargeAttempts()).toEqual([expect.objectContaining({ status: 'failed' })]);
    });

    it('completes a session when the admin route answers its challenge', async () => {
      const session = await stripe.checkout.sessions.create(sessionParams());
      await payOnPage(sim, session, CARDS.threeDS);
      const intentId = await intentIdOf(stripe, session);
      const answer = await adminPost(sim, `/__admin/payment_intents/${intentId}/authenticate`, { outcome: 'approve' });
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ id: intentId, status: 'succeeded' });
      expect(sim.checkoutSessions()[0]).toMatchObject({ status: 'complete', payment_status: 'paid' });
      expect(sim.chargeCount()).toBe(1);
      // The challenge page is over.
      const challenge = await browse(`${sim.url}/pay/${session.id}/3ds`);
      expect(challenge.status).toBe(303);
    });

    it('substitutes {CHECKOUT_SESSION_ID} and shows a done page without success_url', async () => {
      const session = await stripe.checkout.sessions.create(
        sessionParams({ success_url: 'https://shop.example/done/{CHECKOUT_SESSION_ID}', cancel_url: undefined }),
      );
      const paid = await payOnPage(sim, session, CARDS.success);
      const location = new URL(paid.location as string);
      expect(location.pathname).toBe(`/done/${session.id}`);
      expect(location.searchParams.get('session_id')).toBe(session.id);

      const bare = await stripe.checkout.sessions.create(sessionParams({ success_url: undefined }));
      const done = await payOnPage(sim, bare, CARDS.success);
      expect(done.status).toBe(200);
      expect(done.html).toContain('data-status="succeeded"');
    });
  });

  describe('PaymentIntents needing action (token flow)', () => {
    it('leaves pm_card_threeDSecure2Required in requires_action with a redirect, then the challenge page pays', async () => {
      const pi = await stripe.paymentIntents.create({
        amount: 5000,
        currency: 'usd',
        payment_method: 'pm_card_threeDSecure2Required',
        confirm: true,
        return_url: 'https://shop.example/3ds-return?payment_id=pay_3ds',
        metadata: { payment_id: 'pay_3ds' },
      });
      expect(pi.status).toBe('requires_action');
      expect(pi.next_action).toEqual({
        type: 'redirect_to_url',
        redirect_to_url: {
          url: `${sim.url}/3ds/${pi.id}`,
          return_url: 'https://shop.example/3ds-return?payment_id=pay_3ds',
        },
      });
      expect(sim.chargeAttempts()).toEqual([]);

      const challenge = await browse(pi.next_action?.redirect_to_url?.url as string);
      const form = challengeForm(challenge.html);
      expect(Object.keys(form.buttons)).toEqual(['approve', 'fail']);
      const approved = await browse(new URL(form.action, sim.url).toString(), { action: 'approve' });
      expect(approved.status).toBe(303);
      const location = new URL(approved.location as string);
      expect(location.origin + location.pathname).toBe('https://shop.example/3ds-return');
      expect(Object.fromEntries(location.searchParams)).toEqual({
        payment_id: 'pay_3ds',
        payment_intent: pi.id,
        payment_intent_client_secret: pi.client_secret,
        redirect_status: 'succeeded',
      });
      const done = await stripe.paymentIntents.retrieve(pi.id);
      expect(done).toMatchObject({ status: 'succeeded', next_action: null, amount_received: 5000 });
      expect(sim.charges()).toEqual([expect.objectContaining({ payment_intent: pi.id, amount: 5000 })]);

      await waitFor(() => typesReceived().length === 2, 5000, 'two webhooks');
      const events = eventsReceived();
      expect(events.map((event) => event.type)).toEqual(['payment_intent.requires_action', 'payment_intent.succeeded']);
      expect(events[0]?.request).toEqual({ id: pi.lastResponse.requestId, idempotency_key: expect.any(String) });
    });

    it('fails authentication of pm_card_authenticationRequired through the admin route', async () => {
      const pi = await stripe.paymentIntents.create({
        amount: 1000,
        currency: 'usd',
        payment_method: 'pm_card_authenticationRequired',
        confirm: true,
        ...CARD_ONLY,
      });
      expect(pi.status).toBe('requires_action');
      // Was: redirect_to_url with return_url null. Without a return_url Stripe answers use_stripe_sdk (no URL).
      expect(pi.next_action?.type).toBe('use_stripe_sdk');
      expect(pi.next_action?.redirect_to_url).toBeUndefined();

      const failed = await adminPost(sim, `/__admin/payment_intents/${pi.id}/authenticate`, { outcome: 'fail' });
      expect(failed.status).toBe(200);
      expect(failed.body).toMatchObject({
        status: 'requires_payment_method',
        payment_method: null,
        next_action: null,
        last_payment_error: { code: 'payment_intent_authentication_failure' },
      });
      const again = await adminPost(sim, `/__admin/payment_intents/${pi.id}/authenticate`, { outcome: 'approve' });
      expect(again.status).toBe(400);
      const bad = await adminPost(sim, `/__admin/payment_intents/${pi.id}/authenticate`, { outcome: 'maybe' });
      expect(bad.status).toBe(400);
      const unknown = await adminPost(sim, '/__admin/payment_intents/pi_nope/authenticate', { outcome: 'fail' });
      expect(unknown.status).toBe(404);
      expect(sim.chargeAttempts()).toEqual([]);

      const done = await browse(`${sim.url}/3ds/${pi.id}`);
      expect(done.html).toContain('data-status="requires_payment_method"');

      const retried = await stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_visa' });
      expect(retried.status).toBe('succeeded');
      await waitFor(() => typesReceived().length === 3, 5000, 'three webhooks');
      expect(typesReceived()).toEqual([
        'payment_intent.requires_action',
        'payment_intent.payment_failed',
        'payment_intent.succeeded',
      ]);
    });

    it('approves through sim.authenticatePaymentIntent, and shows a done page without return_url', async () => {
      const pi = await stripe.paymentIntents.create({
        amount: 1000,
        currency: 'usd',
        payment_method: 'pm_card_authenticationRequired',
        confirm: true,
        ...CARD_ONLY,
      });
      const viaPage = await browse(`${sim.url}/3ds/${pi.id}`, { action: 'approve' });
      expect(viaPage.status).toBe(200);
      expect(viaPage.html).toContain('data-status="succeeded"');

      const other = await stripe.paymentIntents.create({
        amount: 1000,
        currency: 'usd',
        payment_method: 'pm_card_threeDSecure2Required',
        confirm: true,
        ...CARD_ONLY,
      });
      expect(sim.authenticatePaymentIntent(other.id, 'approve').status).toBe('succeeded');
      expect(sim.chargeCount()).toBe(2);
    });

    it('declines a card needing authentication off-session (authentication_required)', async () => {
      const error = await caught(
        stripe.paymentIntents.create({
          amount: 1000,
          currency: 'usd',
          payment_method: 'pm_card_authenticationRequired',
          confirm: true,
          off_session: true,
          ...CARD_ONLY,
        }),
      );
      expect(error).toBeInstanceOf(Stripe.errors.StripeCardError);
      expect(error.code).toBe('authentication_required');
      expect(error.payment_intent?.status).toBe('requires_payment_method');
    });

    it('keeps pm_card_processing processing until the admin settles it', async () => {
      const pi = await stripe.paymentIntents.create({
        amount: 3000,
        currency: 'usd',
        payment_method: 'pm_card_processing',
        confirm: true,
        ...CARD_ONLY,
      });
      expect(pi.status).toBe('processing');
      expect(sim.chargeAttempts()).toEqual([]);
      expect((await stripe.paymentIntents.retrieve(pi.id)).status).toBe('processing');

      const settled = await adminPost(sim, `/__admin/payment_intents/${pi.id}/settle`, { outcome: 'succeeded' });
      expect(settled.status).toBe(200);
      expect(settled.body).toMatchObject({ status: 'succeeded', processing: null, amount_received: 3000 });
      expect(sim.charges()).toEqual([expect.objectContaining({ payment_intent: pi.id, amount: 3000 })]);
      const twice = await adminPost(sim, `/__admin/payment_intents/${pi.id}/settle`, { outcome: 'succeeded' });
      expect(twice.status).toBe(400);
      expect(sim.chargeCount()).toBe(1);

      const other = await stripe.paymentIntents.create({
        amount: 3000,
        currency: 'usd',
        payment_method: 'pm_card_processing',
        confirm: true,
        ...CARD_ONLY,
      });
      const failed = sim.settlePaymentIntent(other.id, 'failed');
      expect(failed).toMatchObject({
        status: 'requires_payment_method',
        last_payment_error: { code: 'card_declined' },
      });
      expect(sim.chargeAttempts().filter((attempt) => attempt.status === 'failed')).toHaveLength(1);

      await waitFor(() => typesReceived().length === 4, 5000, 'four webhooks');
      expect(typesReceived()).toEqual([
        'payment_intent.processing',
        'payment_intent.succeeded',
        'payment_intent.processing',
        'payment_intent.payment_failed',
      ]);
    });

    it('cancels requires_action, processing and requires_payment_method intents, not succeeded ones', async () => {
      const create = (paymentMethod?: string) =>
        stripe.paymentIntents.create({
          amount: 1000,
          currency: 'usd',
          ...(paymentMethod && { payment_method: paymentMethod, confirm: true }),
          ...CARD_ONLY,
        });
      const action = await create('pm_card_authenticationRequired');
      const processing = await create('pm_card_processing');
      const open = await create();
      for (const [pi, reason] of [
        [action, 'abandoned'],
        [processing, 'requested_by_customer'],
        [open, 'duplicate'],
      ] as const) {
        const canceled = await stripe.paymentIntents.cancel(pi.id, { cancellation_reason: reason });
        expect(canceled).toMatchObject({ status: 'canceled', cancellation_reason: reason, next_action: null });
      }
      const paid = await create('pm_card_visa');
      const refused = await caught(stripe.paymentIntents.cancel(paid.id));
      expect(refused).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      expect(refused.statusCode).toBe(400);
      expect(refused.code).toBe('payment_intent_unexpected_state');
      expect(sim.chargeCount()).toBe(1);

      await waitFor(() => typesReceived().length === 6, 5000, 'six webhooks');
      expect(typesReceived().filter((type) => type === 'payment_intent.canceled')).toHaveLength(3);
    });

    it("refuses to cancel a Checkout Session's PaymentIntent through the API: the session is expired instead", async () => {
      // Was: the cancel succeeded and expired the session. Stripe answers 400 ("You can't confirm or cancel the
      // PaymentIntent for a Checkout Session. To cancel, expire the Checkout Session instead").
      const session = await stripe.checkout.sessions.create(sessionParams());
      await payOnPage(sim, session, CARDS.threeDS);
      const intentId = await intentIdOf(stripe, session);
      const refused = await caught(stripe.paymentIntents.cancel(intentId));
      expect(refused).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      expect(refused.statusCode).toBe(400);
      expect(sim.checkoutSessions()[0]?.status).toBe('open');
      expect(sim.paymentIntents()[0]?.status).toBe('requires_action');

      await stripe.checkout.sessions.expire(session.id);
      expect(sim.checkoutSessions()[0]?.status).toBe('expired');
      expect((await stripe.paymentIntents.retrieve(intentId)).status).toBe('canceled');
      expect((await payOnPage(sim, session, CARDS.success).catch(() => undefined))?.status).not.toBe(303);
      expect(sim.chargeAttempts()).toEqual([]);
    });
  });

  describe('events API', () => {
    it('lists events newest first, filters by type, and retrieves one', async () => {
      const first = await stripe.paymentIntents.create(
        { amount: 1000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true, ...CARD_ONLY },
        { idempotencyKey: 'evt-key-1' },
      );
      await caught(
        stripe.paymentIntents.create({
          amount: 1000,
          currency: 'usd',
          payment_method: 'pm_card_chargeDeclined',
          confirm: true,
          ...CARD_ONLY,
        }),
      );
      const listed = await stripe.events.list();
      const stateEvents = listed.data.filter((event) => !isLifecycleDetail(event.type));
      expect(stateEvents.map((event) => event.type)).toEqual([
        'payment_intent.payment_failed',
        'payment_intent.succeeded',
      ]);
      expect(listed.url).toBe('/v1/events');
      const succeeded = stateEvents[1] as Stripe.Event;
      expect(succeeded.request).toEqual({ id: first.lastResponse.requestId, idempotency_key: 'evt-key-1' });
      expect((succeeded.data.object as Stripe.PaymentIntent).id).toBe(first.id);

      const byType = await stripe.events.list({ type: 'payment_intent.succeeded' });
      expect(byType.data.map((event) => event.id)).toEqual([succeeded.id]);
      const wildcard = await stripe.events.list({ type: 'payment_intent.*', limit: 1 });
      expect(wildcard).toMatchObject({ has_more: true });

      const retrieved = await stripe.events.retrieve(succeeded.id);
      expect(retrieved.id).toBe(succeeded.id);
      await waitFor(() => typesReceived().length === 2, 5000, 'webhooks');
      await waitFor(() => sim.events().every((event) => event.pending_webhooks === 0), 5000, 'pending_webhooks 0');
      expect((await stripe.events.retrieve(succeeded.id)).pending_webhooks).toBe(0);

      const missing = await caught(stripe.events.retrieve('evt_nope'));
      expect(missing.statusCode).toBe(404);
      // A replayed request emits nothing new.
      const before = sim.events().length;
      await stripe.paymentIntents.create(
        { amount: 1000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true, ...CARD_ONLY },
        { idempotencyKey: 'evt-key-1' },
      );
      expect(sim.events()).toHaveLength(before);
      expect(sim.events().filter((event) => !isLifecycleDetail(event.type))).toHaveLength(2);
    });
  });

  describe('webhooks', () => {
    // One state change that emits exactly one event: a Checkout Session expired before any payment attempt
    // (checkout.session.expired). A PaymentIntent's success also emits payment_intent.created and charge.succeeded.
    async function emitOne(client = stripe): Promise<Stripe.Checkout.Session> {
      const session = await client.checkout.sessions.create(sessionParams());
      return client.checkout.sessions.expire(session.id);
    }

    it('signs exactly as Stripe: constructEvent accepts, generateTestHeaderString agrees, tampering is caught', async () => {
      await emitOne();
      await waitFor(() => receiver.received.length === 1, 5000, 'one webhook');
      const [entry] = receiver.received as [Received];
      const header = entry.headers['stripe-signature'] as string;
      const event = stripe.webhooks.constructEvent(entry.body, header, WEBHOOK_SECRET);
      expect(event.type).toBe('checkout.session.expired');

      const timestamp = Number(/t=(\d+)/.exec(header)?.[1]);
      expect(Math.abs(timestamp - Date.now() / 1000)).toBeLessThan(5);
      const expected = stripe.webhooks.generateTestHeaderString({
        payload: entry.body,
        secret: WEBHOOK_SECRET,
        timestamp,
      });
      expect(header).toBe(expected);

      expect(() => stripe.webhooks.constructEvent(entry.body, header, 'whsec_other')).toThrow(
        Stripe.errors.StripeSignatureVerificationError,
      );
      expect(() =>
        stripe.webhooks.constructEvent(
          entry.body.replace('"livemode": false', '"livemode": true'),
          header,
          WEBHOOK_SECRET,
        ),
      ).toThrow(Stripe.errors.StripeSignatureVerificationError);
      // The body is the event as stored.
      expect(JSON.parse(entry.body)).toEqual(
        expect.objectContaining({ id: event.id, object: 'event', pending_webhooks: 1 }),
      );
      expect(sim.events()[0]?.id).toBe(event.id);
    });

    it('retries a failing endpoint with exponential backoff, same event id and body', async () => {
      receiver.statusFor = (n) => (n <= 2 ? 500 : 200);
      const expired = await emitOne();
      await waitFor(() => receiver.received.length === 3, 5000, 'three attempts');
      await sleep(100);
      expect(receiver.received).toHaveLength(3);

      const events = receiver.events();
      expect(new Set(events.map((event) => event.id)).size).toBe(1);
      expect(new Set(receiver.received.map((entry) => entry.body)).size).toBe(1);
      expect((events[0] as Stripe.Event).data.object).toMatchObject({ id: expired.id });
      const [a, b, c] = receiver.received.map((entry) => entry.at) as [number, number, number];
      expect(b - a).toBeGreaterThanOrEqual(45);
      expect(c - b).toBeGreaterThanOrEqual(95);

      const deliveries = sim.webhookDeliveries();
      expect(deliveries.map((d) => [d.attempt, d.status, d.succeeded, d.trigger])).toEqual([
        [1, 500, false, 'automatic'],
        [2, 500, false, 'automatic'],
        [3, 200, true, 'automatic'],
      ]);
      expect(deliveries.every((d) => d.event_id === events[0]?.id && d.type === 'checkout.session.expired')).toBe(true);
      expect(deliveries[0]?.next_attempt_at).not.toBeNull();
      expect(deliveries[2]?.next_attempt_at).toBeNull();
      const viaAdmin = JSON.parse((await adminGet(sim, '/__admin/webhooks/deliveries')).text);
      expect(viaAdmin).toEqual(deliveries);
      expect((await stripe.events.retrieve(events[0]?.id as string)).pending_webhooks).toBe(0);
    });

    it('records connection errors, stops after max_attempts, and delivers to a new endpoint', async () => {
      const dead = await startReceiver();
      const deadUrl = dead.url;
      await dead.close();
      sim.setWebhookEndpoint(deadUrl);
      sim.setWebhookBehaviour({ max_attempts: 3, retry_base_ms: 20 });
      await emitOne();
      await waitFor(() => sim.webhookDeliveries().length === 3, 5000, 'three failed attempts');
      await sleep(150);
      const deliveries = sim.webhookDeliveries();
      expect(deliveries).toHaveLength(3);
      expect(deliveries.every((d) => d.status === null && d.error === 'ECONNREFUSED')).toBe(true);
      expect(deliveries[2]?.next_attempt_at).toBeNull();
      expect(sim.pendingWebhooks()).toBe(0);

      // Retries go to the endpoint configured when they run.
      sim.setWebhookBehaviour({ max_attempts: 5, retry_base_ms: 100 });
      await emitOne();
      await waitFor(() => sim.webhookDeliveries().length === 4, 5000, 'a fourth attempt');
      const set = await adminPost(sim, '/__admin/webhooks/endpoint', { url: receiver.url });
      expect(set).toEqual({ status: 200, body: { url: receiver.url, secret: WEBHOOK_SECRET } });
      await waitFor(() => receiver.received.length === 1, 5000, 'the retry at the new endpoint');
      expect(receiver.events()).toHaveLength(1);
    });

    it('duplicates every event when told to', async () => {
      const behaviour = await adminPost(sim, '/__admin/webhooks/behaviour', { duplicate: 3 });
      expect(behaviour.body).toMatchObject({ duplicate: 3, paused: false });
      await emitOne();
      await waitFor(() => receiver.received.length === 3, 5000, 'three copies');
      await sleep(50);
      expect(receiver.received).toHaveLength(3);
      const ids = receiver.events().map((event) => event.id);
      expect(new Set(ids).size).toBe(1);
      expect(sim.webhookDeliveries().map((d) => d.copy)).toEqual([1, 2, 3]);
    });

    it('reorders a full window newest first, and flushes a partial one after reorder_ms', async () => {
      sim.setWebhookBehaviour({ reorder: true, reorder_window: 3, reorder_ms: 10_000 });
      const created = [await emitOne(), await emitOne(), await emitOne()];
      await waitFor(() => receiver.received.length === 3, 5000, 'a reordered batch');
      const order = receiver.events().map((event) => (event.data.object as Stripe.Checkout.Session).id);
      expect(order).toEqual(created.map((session) => session.id).reverse());

      sim.setWebhookBehaviour({ reorder_window: 10, reorder_ms: 150 });
      const started = Date.now();
      const later = [await emitOne(), await emitOne()];
      await sleep(50);
      expect(receiver.received).toHaveLength(3);
      await waitFor(() => receiver.received.length === 5, 5000, 'the partial batch');
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
      const tail = receiver
        .events()
        .slice(3)
        .map((event) => (event.data.object as Stripe.Checkout.Session).id);
      expect(tail).toEqual(later.map((session) => session.id).reverse());
    });

    it('delays deliveries by delay_ms', async () => {
      sim.setWebhookBehaviour({ delay_ms: 300 });
      const started = Date.now();
      await emitOne();
      await sleep(150);
      expect(receiver.received).toHaveLength(0);
      expect(sim.pendingWebhooks()).toBe(1);
      await waitFor(() => receiver.received.length === 1, 5000, 'the delayed delivery');
      expect((receiver.received[0]?.at ?? 0) - started).toBeGreaterThanOrEqual(295);
    });

    it('holds everything while paused, retries included, and sends it when unpaused', async () => {
      await adminPost(sim, '/__admin/webhooks/behaviour', { paused: true });
      await emitOne();
      await emitOne();
      await sleep(100);
      expect(receiver.received).toHaveLength(0);
      expect(sim.pendingWebhooks()).toBe(2);
      expect((await adminPost(sim, '/__admin/webhooks/behaviour', { paused: false })).body).toMatchObject({
        paused: false,
      });
      await waitFor(() => receiver.received.length === 2, 5000, 'released deliveries');
      // The delivery is counted done once its response is read, just after the receiver saw it.
      await waitFor(() => sim.pendingWebhooks() === 0, 5000, 'no delivery left');

      // A retry falling due while paused waits too.
      receiver.statusFor = (n) => (n === 3 ? 500 : 200);
      sim.setWebhookBehaviour({ retry_base_ms: 100 });
      await emitOne();
      await waitFor(() => receiver.received.length === 3, 5000, 'the failing attempt');
      sim.setWebhookBehaviour({ paused: true });
      await sleep(250);
      expect(receiver.received).toHaveLength(3);
      sim.setWebhookBehaviour({ paused: false });
      await waitFor(() => receiver.received.length === 4, 5000, 'the held retry');
      expect(sim.webhookDeliveries().at(-1)).toMatchObject({ attempt: 2, status: 200 });
    });

    it('resends an event: same id and body, a fresh signature', async () => {
      await emitOne();
      await waitFor(() => receiver.received.length === 1, 5000, 'the delivery');
      const eventId = receiver.events()[0]?.id as string;
      await sleep(1100);
      const resent = await adminPost(sim, `/__admin/webhooks/resend/${eventId}`);
      expect(resent.status).toBe(200);
      expect(resent.body).toMatchObject({ event_id: eventId, trigger: 'resend', status: 200, succeeded: true });
      expect(receiver.received).toHaveLength(2);
      const [first, second] = receiver.received as [Received, Received];
      expect(second.body).toBe(first.body);
      expect(second.headers['stripe-signature']).not.toBe(first.headers['stripe-signature']);
      expect(receiver.events()[1]?.id).toBe(eventId);

      expect((await adminPost(sim, '/__admin/webhooks/resend/evt_nope')).status).toBe(404);
      const viaObject = await sim.resendWebhook(eventId);
      expect(viaObject.trigger).toBe('resend');
      expect(receiver.received).toHaveLength(3);
    });

    it('sends with a stale timestamp, a wrong secret or a tampered body, which verification refuses', async () => {
      await emitOne();
      await waitFor(() => receiver.received.length === 1, 5000, 'the delivery');
      const eventId = receiver.events()[0]?.id as string;

      const stale = await adminPost(sim, '/__admin/webhooks/send', { event_id: eventId, timestamp_offset_s: -600 });
      expect(stale.status).toBe(200);
      expect(stale.body).toMatchObject({ trigger: 'send', event_id: eventId });
      const staleEntry = receiver.received[1] as Received;
      const staleHeader = staleEntry.headers['stripe-signature'] as string;
      expect(Number(/t=(\d+)/.exec(staleHeader)?.[1])).toBeLessThan(Date.now() / 1000 - 590);
      expect(() => stripe.webhooks.constructEvent(staleEntry.body, staleHeader, WEBHOOK_SECRET)).toThrow(
        /Timestamp outside the tolerance zone/,
      );
      // The signature itself is valid: only its age fails.
      expect(stripe.webhooks.constructEvent(staleEntry.body, staleHeader, WEBHOOK_SECRET, 3600).id).toBe(eventId);

      await sim.sendWebhook(eventId, { secret: 'whsec_wrong' });
      await sim.sendWebhook(eventId, { tamper: true });
      for (const entry of receiver.received.slice(2)) {
        expect(() =>
          stripe.webhooks.constructEvent(entry.body, entry.headers['stripe-signature'] as string, WEBHOOK_SECRET),
        ).toThrow(Stripe.errors.StripeSignatureVerificationError);
      }
      expect(receiver.received[3]?.body).not.toBe(receiver.received[0]?.body);

      const invalid = await adminPost(sim, '/__admin/webhooks/send', { event_id: eventId, timestamp_offset_s: 'x' });
      expect(invalid.status).toBe(400);
    });

    it('validates behaviour and endpoint settings', async () => {
      for (const body of [{ duplicate: 0 }, { reorder: 'yes' }, { colour: 'red' }, { delay_ms: -1 }, []]) {
        const response = await adminPost(sim, '/__admin/webhooks/behaviour', body);
        expect(response.status).toBe(400);
      }
      expect(() => sim.setWebhookBehaviour({ max_attempts: 0 })).toThrow('max_attempts');
      expect((await adminPost(sim, '/__admin/webhooks/endpoint', { url: 'ftp://x' })).status).toBe(400);
      expect(sim.webhookBehaviour()).toMatchObject({ duplicate: 1, retry_base_ms: 50, max_attempts: 8 });
      const deleted = await fetch(`${sim.url}/__admin/webhooks/behaviour`, { method: 'DELETE' });
      expect(deleted.status).toBe(200);
      expect((await fetch(`${sim.url}/__admin/webhooks/behaviour`, { method: 'PUT' })).status).toBe(405);

      // No endpoint: events are stored, nothing is sent.
      expect((await adminPost(sim, '/__admin/webhooks/endpoint', { url: null })).body).toEqual({
        url: null,
        secret: null,
      });
      await emitOne();
      await sleep(50);
      expect(receiver.received).toHaveLength(0);
      expect(sim.events()).toEqual([expect.objectContaining({ pending_webhooks: 0 })]);
    });

    it('generates a secret when only a URL is given, and reset restores the startup endpoint', async () => {
      const { sim: other, stripe: otherStripe } = await startSim({ webhookUrl: receiver.url });
      const secret = other.webhookEndpoint()?.secret as string;
      expect(secret).toMatch(/^whsec_[A-Za-z0-9]{32}$/);
      await emitOne(otherStripe);
      await waitFor(() => receiver.received.length === 1, 5000, 'the delivery');
      expect(receiver.events(secret)).toHaveLength(1);

      other.setWebhookEndpoint(null);
      other.reset();
      expect(other.webhookEndpoint()).toEqual({ url: receiver.url, secret });
      expect(other.events()).toEqual([]);
      expect(other.webhookDeliveries()).toEqual([]);
    });

    it('close() stops pending retries and timers', async () => {
      receiver.statusFor = () => 500;
      const { sim: other, stripe: otherStripe } = await startSim({
        webhookUrl: receiver.url,
        webhookSecret: WEBHOOK_SECRET,
        webhookRetryBaseMs: 100,
        webhookBehaviour: { delay_ms: 0 },
      });
      await emitOne(otherStripe);
      other.setWebhookBehaviour({ delay_ms: 200 });
      await emitOne(otherStripe);
      await waitFor(() => receiver.received.length === 1, 5000, 'the first attempt');
      expect(other.pendingWebhooks()).toBe(2);
      await other.close();
      expect(other.pendingWebhooks()).toBe(0);
      await sleep(400);
      expect(receiver.received).toHaveLength(1);
    });
  });

  describe('card data', () => {
    it('the detector finds card numbers (so the check below can fail)', () => {
      expect(() => expectNoCardNumbers('x', { note: CARDS.success })).toThrow('card number');
      expect(() => expectNoCardNumbers('x', `a${digitsOf(CARDS.threeDS)}b`)).toThrow('card number');
      expect(() => expectNoCardNumbers('x', 'id 378282246310005 here')).toThrow('Luhn-valid');
      expect(() => expectNoCardNumbers('x', { id: 'pi_123', created: 1767225600 })).not.toThrow();
    });

    it('never keeps, logs, sends or returns a card number', async () => {
      const logged: unknown[] = [];
      const spies = (['log', 'info', 'warn', 'error', 'debug'] as const).map((level) =>
        jest.spyOn(console, level).mockImplementation((...args: unknown[]) => {
          logged.push(args);
        }),
      );
      try {
        const pages: Page[] = [];
        const session = await stripe.checkout.sessions.create(sessionParams());
        for (const number of [CARDS.declined, '4000 0000 0000 0000', CARDS.insufficientFunds, CARDS.threeDS]) {
          pages.push(await payOnPage(sim, session, number));
        }
        pages.push(await browse(`${sim.url}/pay/${session.id}/3ds`, { action: 'fail' }));
        pages.push(await payOnPage(sim, session, CARDS.threeDSThenDeclined));
        pages.push(await browse(`${sim.url}/pay/${session.id}/3ds`, { action: 'approve' }));
        pages.push(await payOnPage(sim, session, CARDS.success));
        const second = await stripe.checkout.sessions.create(sessionParams({ client_reference_id: 'pay_2' }));
        pages.push(await payOnPage(sim, second, CARDS.threeDS));
        pages.push(await browse(`${sim.url}/pay/${second.id}/3ds`, { action: 'approve' }));
        expect(pages.at(-1)?.status).toBe(303);
        expect(sim.chargeCount()).toBe(2);

        await waitFor(
          () => sim.pendingWebhooks() === 0 && receiver.received.length === sim.events().length,
          5000,
          'webhooks',
        );
        expect(receiver.received.length).toBeGreaterThanOrEqual(10);

        const apiViews = [
          await stripe.checkout.sessions.list({ expand: ['data.payment_intent'] }),
          await stripe.paymentIntents.list({ expand: ['data.payment_method'] }),
          await stripe.events.list({ limit: 100 }),
        ];
        const admin = await Promise.all(
          [
            '/__admin/charges?include=failed',
            '/__admin/payment_intents',
            '/__admin/checkout_sessions',
            '/__admin/events',
            '/__admin/webhooks/deliveries',
            '/__admin/webhooks/endpoint',
          ].map((path) => adminGet(sim, path)),
        );
        expect(admin.every((response) => response.status === 200)).toBe(true);

        expectNoCardNumbers('sim.paymentIntents()', sim.paymentIntents());
        expectNoCardNumbers('sim.checkoutSessions()', sim.checkoutSessions());
        expectNoCardNumbers('sim.events()', sim.events());
        expectNoCardNumbers('sim.chargeAttempts()', sim.chargeAttempts());
        expectNoCardNumbers('sim.webhookDeliveries()', sim.webhookDeliveries());
        // (`at` is the receiver's own clock, a 13-digit number that may pass Luhn: left out.)
        expectNoCardNumbers(
          'delivered bodies and headers',
          receiver.received.map(({ body, headers }) => ({ body, headers })),
        );
        expectNoCardNumbers('API responses', apiViews);
        expectNoCardNumbers('admin responses', admin);
        expectNoCardNumbers('pages and redirects', pages);
        expectNoCardNumbers(
          'logs',
          logged.map((args) => String(args)),
        );
        // The brands and last4 are kept: that much is expected.
        expect(JSON.stringify(sim.events())).toContain('"last4":"3184"');
      } finally {
        for (const spy of spies) spy.mockRestore();
      }
    });
  });
});

function withoutResponse<T extends object>(resource: T): Omit<T, 'lastResponse'> {
  const { lastResponse: _ignored, ...rest } = resource as T & { lastResponse?: unknown };
  return rest;
}

function cardFormOrNull(html: string): ReturnType<typeof cardForm> | null {
  try {
    return cardForm(html);
  } catch {
    return null;
  }
}
