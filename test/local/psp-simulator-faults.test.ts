import { request as httpRequest } from 'node:http';
import Stripe from 'stripe';
import { type FaultConfig, type InjectedFault, parseFaultToken } from '../../local/psp-simulator/faults';
import { isTestToken } from '../../local/psp-simulator/payment-methods';
import { type PspSimulator, type PspSimulatorOptions, startPspSimulator } from '../../local/psp-simulator/server';
import { caught } from '../support/stripe-calls';

// Retries of the stripe SDK after a closed connection wait ~0.5 s each.
jest.setTimeout(30_000);

const SECRET_KEY = 'sk_test_simulator_0123456789abcdefWXYZ';
const OFF: FaultConfig = {
  latency_ms: 0,
  error500_rate: 0,
  charged500_rate: 0,
  ratelimit_rate: 0,
  edge_rate: 0,
  lost_rate: 0,
  timeout_rate: 0,
  seed: 0,
};

function clientFor(sim: PspSimulator, settings: Partial<Stripe.StripeConfig> = {}): Stripe {
  return new Stripe(SECRET_KEY, {
    host: sim.host,
    port: sim.port,
    protocol: 'http',
    maxNetworkRetries: 0,
    ...settings,
  });
}

/** Our pay-in's charge request, with its idempotency key `<payment_id>:charge`. */
function charge(stripe: Stripe, paymentId: string, paymentMethod: string, amount = 2599) {
  return stripe.paymentIntents.create(
    {
      amount,
      currency: 'eur',
      payment_method: paymentMethod,
      confirm: true,
      automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
      metadata: { payment_id: paymentId, checkout_id: `chk_${paymentId}` },
    },
    { idempotencyKey: `${paymentId}:charge` },
  );
}

/** The dashboard link in an error body: it names the request that produced the body. */
function logUrl(error: Stripe.errors.StripeError): unknown {
  return (error.raw as { request_log_url?: unknown }).request_log_url;
}

function outcome(error: unknown): string {
  return error instanceof Stripe.errors.StripeError ? error.type : 'ok';
}

async function adminJson(sim: PspSimulator, method: string, path: string, body?: unknown) {
  const response = await fetch(`${sim.url}${path}`, {
    method,
    ...(body !== undefined && { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as unknown };
}

/** A raw form POST, without the SDK (which retries a closed connection once by itself). */
function rawPost(
  sim: PspSimulator,
  path: string,
  form: Record<string, string>,
  idempotencyKey?: string,
): Promise<{ status: number; headers: Record<string, unknown>; body: Record<string, unknown>; text: string }> {
  const payload = new URLSearchParams(form).toString();
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: sim.host,
        port: sim.port,
        path,
        method: 'POST',
        agent: false,
        headers: {
          Authorization: `Bearer ${SECRET_KEY}`,
          'Content-Type': 'application/x-www-form-urlencoded',
          ...(idempotencyKey !== undefined && { 'Idempotency-Key': idempotencyKey }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const json = (res.headers['content-type'] ?? '').startsWith('application/json');
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: json ? (JSON.parse(text) as Record<string, unknown>) : {},
            text,
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

// Card payments confirmed server-side without a return_url: no redirect-based methods allowed.
// (allowed_payment_method_types: payment_method_types is no longer writable on a PaymentIntent since 2026-09-30.endive)
const CARD_ONLY: Pick<Stripe.PaymentIntentCreateParams, 'allowed_payment_method_types'> = {
  allowed_payment_method_types: ['card'],
};

const RAW_CHARGE = {
  amount: '1000',
  currency: 'eur',
  confirm: 'true',
  'allowed_payment_method_types[0]': 'card',
};

function faultsOf(sim: PspSimulator, fault?: InjectedFault['fault']): InjectedFault[] {
  return sim.injectedFaults().filter((entry) => fault === undefined || entry.fault === fault);
}

describe('PSP simulator fault injection', () => {
  let sim: PspSimulator;
  let stripe: Stripe;
  const extraSims: PspSimulator[] = [];

  async function startExtra(opts: Partial<PspSimulatorOptions>): Promise<PspSimulator> {
    const extra = await startPspSimulator({ secretKey: SECRET_KEY, ...opts });
    extraSims.push(extra);
    return extra;
  }

  beforeEach(async () => {
    sim = await startPspSimulator({ secretKey: SECRET_KEY });
    stripe = clientFor(sim);
  });

  afterEach(async () => {
    await sim.close();
    await Promise.all(extraSims.splice(0).map((extra) => extra.close()));
  });

  describe('token grammar', () => {
    it.each([
      ['pm_card_visa_latency1500', 'pm_card_visa', { kind: 'latency', ms: 1500 }],
      ['pm_card_visa_latency0', 'pm_card_visa', { kind: 'latency', ms: 0 }],
      ['pm_card_visa_error500x2', 'pm_card_visa', { kind: 'error500', times: 2 }],
      ['pm_card_visa_error500always', 'pm_card_visa', { kind: 'error500', times: 'always' }],
      ['pm_card_visa_lostx1', 'pm_card_visa', { kind: 'lost', times: 1 }],
      ['pm_card_visa_lostalways', 'pm_card_visa', { kind: 'lost', times: 'always' }],
      ['pm_card_visa_timeoutx3', 'pm_card_visa', { kind: 'timeout', times: 3 }],
      ['pm_card_visa_ratelimitalways', 'pm_card_visa', { kind: 'ratelimit', times: 'always' }],
      ['pm_card_visa_charged500x1', 'pm_card_visa', { kind: 'charged500', times: 1 }],
      ['pm_card_visa_charged500always', 'pm_card_visa', { kind: 'charged500', times: 'always' }],
      ['pm_card_visa_edge502x2', 'pm_card_visa', { kind: 'edge502', times: 2 }],
      ['pm_card_visa_edge503always', 'pm_card_visa', { kind: 'edge503', times: 'always' }],
      ['pm_card_visa_debit_lostx10', 'pm_card_visa_debit', { kind: 'lost', times: 10 }],
      ['pm_card_chargeDeclined_lostx1', 'pm_card_chargeDeclined', { kind: 'lost', times: 1 }],
    ])('parses %s', (token, base, fault) => {
      expect(parseFaultToken(token, isTestToken)).toEqual({ token, base, fault });
    });

    it.each([
      'pm_card_visa',
      'pm_card_visa_debit',
      'pm_card_visa_lostx0',
      'pm_card_visa_lostx01',
      'pm_card_visa_lost',
      'pm_card_visa_latency',
      'pm_card_visa_latency600001',
      'pm_card_visa_error503x1',
      'pm_card_visa_edge500x1',
      'pm_card_visa_edge504x1',
      'pm_card_visa_charged500x0',
      'pm_card_visa_lostx1_error500x1',
      'pm_nope_lostx1',
      'pm_card_visa_LOSTX1',
    ])('does not take %s as a fault token', (token) => {
      expect(parseFaultToken(token, isTestToken)).toBeUndefined();
    });

    it('refuses a malformed fault suffix as an unknown payment method, charging and logging nothing', async () => {
      const error = await caught(charge(stripe, 'pay_typo', 'pm_card_visa_lostx0'));
      expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      expect(error.code).toBe('resource_missing');
      expect(error.message).toBe("No such PaymentMethod: 'pm_card_visa_lostx0'");
      expect(sim.chargeAttempts()).toEqual([]);
      expect(sim.paymentIntents()).toEqual([]);
      expect(sim.injectedFaults()).toEqual([]);
    });
  });

  describe('faults off by default', () => {
    it('charges normally with no fault config, token or log', async () => {
      expect(sim.faults()).toEqual(OFF);
      expect(await adminJson(sim, 'GET', '/__admin/faults')).toEqual({ status: 200, body: OFF });

      const pi = await charge(stripe, 'pay_plain', 'pm_card_visa');
      expect(pi.status).toBe('succeeded');
      expect(sim.chargeCount()).toBe(1);
      expect(sim.injectedFaults()).toEqual([]);
      expect(await adminJson(sim, 'GET', '/__admin/faults/log')).toEqual({ status: 200, body: [] });
    });
  });

  describe('per-request faults (payment-method token)', () => {
    it('latency<ms> delays the charge, then succeeds with the base card and no trace of the suffix', async () => {
      const started = Date.now();
      const pi = await charge(stripe, 'pay_slow', 'pm_card_visa_latency400');
      expect(Date.now() - started).toBeGreaterThanOrEqual(390);
      expect(pi.status).toBe('succeeded');

      // The suffix leaks nowhere: a minted pm_ id, the base card's details, a charge on that id.
      expect(pi.payment_method).toMatch(/^pm_[A-Za-z0-9]{24}$/);
      expect(JSON.stringify(pi)).not.toContain('latency');
      const expanded = await stripe.paymentIntents.retrieve(pi.id, { expand: ['payment_method'] });
      expect(expanded.payment_method).toMatchObject({ id: pi.payment_method, card: { last4: '4242', brand: 'visa' } });
      expect(sim.charges()).toEqual([
        expect.objectContaining({ payment_intent: pi.id, payment_method: pi.payment_method, amount: 2599 }),
      ]);
      expect(faultsOf(sim)).toEqual([
        {
          at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
          fault: 'latency',
          source: 'token',
          idempotency_key: 'pay_slow:charge',
          method: 'POST',
          path: '/v1/payment_intents',
          attempt: 1,
          latency_ms: 400,
        },
      ]);
    });

    it('latency holds the key: a client that times out and retries at once gets a 409, a later retry the same intent', async () => {
      const impatient = clientFor(sim, { timeout: 150 });
      const timedOut = await caught(charge(impatient, 'pay_wait', 'pm_card_visa_latency600'));
      expect(timedOut).toBeInstanceOf(Stripe.errors.StripeConnectionError);

      const inProgress = await caught(charge(stripe, 'pay_wait', 'pm_card_visa_latency600'));
      expect(inProgress.statusCode).toBe(409);
      expect(inProgress.code).toBe('idempotency_key_in_use');

      await new Promise((resolve) => setTimeout(resolve, 700));
      const replayed = await charge(stripe, 'pay_wait', 'pm_card_visa_latency600');
      expect(replayed.lastResponse.headers['idempotent-replayed']).toBe('true');
      expect(sim.paymentIntents().map((pi) => pi.id)).toEqual([replayed.id]);
      expect(sim.chargeCount()).toBe(1);
    });

    // Old behaviour (before stored 500s): the two 500s stored nothing and the third attempt under the same key
    // executed and charged. Stripe stores the first result of a key, 500s included, and replays it.
    it('error500x2: a 500 that charges nothing but is stored under the key; retries get it replayed', async () => {
      const error = await caught(charge(stripe, 'pay_500', 'pm_card_visa_error500x2'));
      expect(error).toBeInstanceOf(Stripe.errors.StripeAPIError);
      expect(error.statusCode).toBe(500);
      expect(error.rawType).toBe('api_error');
      expect(error.message).toBe('An unknown error occurred');
      expect(error.headers?.['idempotent-replayed']).toBeUndefined();
      // A retry could only replay it: Stripe tells clients not to.
      expect(error.headers?.['stripe-should-retry']).toBe('false');
      expect(sim.chargeAttempts()).toEqual([]);
      expect(sim.paymentIntents()).toEqual([]);

      for (const _ of [2, 3]) {
        const replayed = await caught(charge(stripe, 'pay_500', 'pm_card_visa_error500x2'));
        expect(replayed).toBeInstanceOf(Stripe.errors.StripeAPIError);
        expect(replayed.statusCode).toBe(500);
        expect(replayed.message).toBe(error.message);
        // The very body first sent: its log link names the first request.
        expect(logUrl(replayed)).toBe(logUrl(error));
        expect(logUrl(replayed)).toContain(error.requestId);
        expect(replayed.headers?.['idempotent-replayed']).toBe('true');
        expect(replayed.headers?.['original-request']).toBe(error.requestId);
        expect(replayed.headers?.['stripe-should-retry']).toBe('false');
      }
      expect(sim.chargeAttempts()).toEqual([]);
      expect(sim.paymentIntents()).toEqual([]);
      // Applied once; the retries were replays, not faults.
      expect(faultsOf(sim).map((entry) => [entry.fault, entry.attempt, entry.idempotency_key])).toEqual([
        ['error500', 1, 'pay_500:charge'],
      ]);

      // Only a new key executes again (here the token's x2 is spent on the first key, so it succeeds).
      const fresh = await charge(stripe, 'pay_500_retry', 'pm_card_visa');
      expect(fresh.status).toBe('succeeded');
      expect(sim.chargeCount()).toBe(1);
    });

    it('store500s off (option or admin toggle): error500x2 stores nothing, the third attempt executes', async () => {
      const lenient = await startExtra({ store500s: false });
      const client = clientFor(lenient);
      expect(lenient.store500s()).toBe(false);
      for (const attempt of [1, 2]) {
        const error = await caught(charge(client, 'pay_500', 'pm_card_visa_error500x2'));
        expect(error).toBeInstanceOf(Stripe.errors.StripeAPIError);
        expect(error.statusCode).toBe(500);
        expect(error.headers?.['idempotent-replayed']).toBeUndefined();
        // Not stored: the API cannot tell whether a retry helps, so it gives no advice.
        expect(error.headers?.['stripe-should-retry']).toBeUndefined();
        expect(lenient.chargeAttempts()).toEqual([]);
        expect(lenient.injectedFaults().filter((entry) => entry.fault === 'error500')).toHaveLength(attempt);
      }
      const third = await charge(client, 'pay_500', 'pm_card_visa_error500x2');
      expect(third.status).toBe('succeeded');
      expect(third.lastResponse.headers['idempotent-replayed']).toBeUndefined();
      expect(lenient.chargeCount()).toBe(1);

      // The admin toggle switches the default simulator the same way; reset restores the startup option.
      expect(await adminJson(sim, 'GET', '/__admin/settings')).toEqual({ status: 200, body: { store_500s: true } });
      expect(await adminJson(sim, 'POST', '/__admin/settings', { store_500s: false })).toEqual({
        status: 200,
        body: { store_500s: false },
      });
      expect(sim.store500s()).toBe(false);
      await caught(charge(stripe, 'pay_toggle', 'pm_card_visa_error500x1'));
      expect((await charge(stripe, 'pay_toggle', 'pm_card_visa_error500x1')).status).toBe('succeeded');
      for (const invalid of [{ store_500s: 'no' }, { nope: true }, '[]']) {
        expect((await adminJson(sim, 'POST', '/__admin/settings', invalid)).status).toBe(400);
      }
      sim.reset();
      expect(sim.store500s()).toBe(true);
      sim.setStore500s(false);
      expect((await adminJson(sim, 'GET', '/__admin/settings')).body).toEqual({ store_500s: false });
      lenient.reset();
      expect(lenient.store500s()).toBe(false);
    });

    it('charged500x1: the PSP charges, answers a stored 500, and replays it; the charge is there to find', async () => {
      const error = await caught(charge(stripe, 'pay_c500', 'pm_card_visa_charged500x1'));
      expect(error).toBeInstanceOf(Stripe.errors.StripeAPIError);
      expect(error.statusCode).toBe(500);
      expect(error.rawType).toBe('api_error');
      expect(error.headers?.['stripe-should-retry']).toBe('false');
      // Executed: the intent exists and is charged, though the client only saw a 500.
      const [stored] = sim.paymentIntents();
      expect(stored).toMatchObject({ status: 'succeeded', metadata: { payment_id: 'pay_c500' } });
      expect(sim.charges()).toEqual([expect.objectContaining({ payment_intent: stored?.id, amount: 2599 })]);

      const retry = await caught(charge(stripe, 'pay_c500', 'pm_card_visa_charged500x1'));
      expect(retry.statusCode).toBe(500);
      expect(retry.headers?.['idempotent-replayed']).toBe('true');
      expect(logUrl(retry)).toBe(logUrl(error));
      expect(sim.chargeCount()).toBe(1);
      expect(sim.paymentIntents()).toHaveLength(1);
      expect(faultsOf(sim).map((entry) => [entry.fault, entry.attempt])).toEqual([['charged500', 1]]);

      // What a client does about an unknown outcome: find the intent by its metadata, and its charge.
      const charges = await stripe.charges.list({ payment_intent: stored?.id as string });
      expect(charges.data.map((c) => [c.id, c.status, c.paid])).toEqual([[stored?.latest_charge, 'succeeded', true]]);
    });

    it('charged500 with store500s off: executed, the key released, so a retry executes AGAIN (two charges)', async () => {
      sim.setStore500s(false);
      const error = await caught(charge(stripe, 'pay_c500_lenient', 'pm_card_visa_charged500x1'));
      expect(error.statusCode).toBe(500);
      expect(sim.chargeCount()).toBe(1);
      const retry = await charge(stripe, 'pay_c500_lenient', 'pm_card_visa_charged500x1');
      expect(retry.lastResponse.headers['idempotent-replayed']).toBeUndefined();
      // What a PSP without stored 500s would do: the reason Stripe stores them.
      expect(sim.chargeCount()).toBe(2);
      expect(sim.paymentIntents()).toHaveLength(2);
    });

    it.each([
      ['edge502x2', 502, 'Bad Gateway'],
      ['edge503x2', 503, 'Service Temporarily Unavailable'],
    ])(
      '%s: a load balancer answer (HTML, no Stripe headers) that executes and stores nothing; the retry executes',
      async (fault, status, reason) => {
        const form = { ...RAW_CHARGE, payment_method: `pm_card_visa_${fault}` };
        for (const attempt of [1, 2]) {
          const edge = await rawPost(sim, '/v1/payment_intents', form, 'edge-key');
          expect(edge.status).toBe(status);
          expect(edge.headers['content-type']).toBe('text/html');
          expect(edge.text).toContain(`<title>${status} ${reason}</title>`);
          for (const header of ['request-id', 'stripe-version', 'idempotency-key', 'idempotent-replayed']) {
            expect(edge.headers[header]).toBeUndefined();
          }
          expect(sim.paymentIntents()).toEqual([]);
          expect(sim.chargeAttempts()).toEqual([]);
          expect(faultsOf(sim).map((entry) => [entry.fault, entry.attempt])).toHaveLength(attempt);
        }
        const executed = await rawPost(sim, '/v1/payment_intents', form, 'edge-key');
        expect(executed.status).toBe(200);
        expect(executed.headers['idempotent-replayed']).toBeUndefined();
        expect(executed.body).toMatchObject({ object: 'payment_intent', status: 'succeeded' });
        expect(sim.chargeCount()).toBe(1);
        expect(faultsOf(sim).map((entry) => entry.fault)).toEqual([`edge${status}`, `edge${status}`]);
      },
    );

    it('edge502x1 through the SDK: an unparseable body, a StripeAPIError without status; the same key then charges once', async () => {
      const error = await caught(charge(stripe, 'pay_edge', 'pm_card_visa_edge502x1'));
      expect(error).toBeInstanceOf(Stripe.errors.StripeAPIError);
      expect(error.message).toBe('Invalid JSON received from the Stripe API');
      expect(error.statusCode).toBeUndefined();
      expect(sim.chargeAttempts()).toEqual([]);
      const retry = await charge(stripe, 'pay_edge', 'pm_card_visa_edge502x1');
      expect(retry.status).toBe('succeeded');
      expect(retry.lastResponse.headers['idempotent-replayed']).toBeUndefined();
      expect(sim.chargeCount()).toBe(1);
    });

    it('an SDK with retries retries an edge 502 itself, with the same key, and charges once', async () => {
      const retrying = clientFor(sim, { maxNetworkRetries: 2 });
      const pi = await charge(retrying, 'pay_edge_sdk', 'pm_card_visa_edge502x2');
      expect(pi.status).toBe('succeeded');
      expect(sim.chargeCount()).toBe(1);
      expect(faultsOf(sim).map((entry) => [entry.fault, entry.attempt])).toEqual([
        ['edge502', 1],
        ['edge502', 2],
      ]);
    });

    it('an SDK with retries does not retry a stored 500 (Stripe-Should-Retry: false)', async () => {
      const retrying = clientFor(sim, { maxNetworkRetries: 2 });
      const error = await caught(charge(retrying, 'pay_500_sdk', 'pm_card_visa_error500always'));
      expect(error.statusCode).toBe(500);
      expect(error.headers?.['idempotent-replayed']).toBeUndefined();
      expect(faultsOf(sim)).toHaveLength(1);
    });

    it('ratelimitx1: a 429 StripeRateLimitError that stores nothing, then the retry executes', async () => {
      const error = await caught(charge(stripe, 'pay_429', 'pm_card_visa_ratelimitx1'));
      expect(error).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
      expect(error.statusCode).toBe(429);
      expect(error.code).toBe('rate_limit');
      expect(sim.chargeAttempts()).toEqual([]);

      const retry = await charge(stripe, 'pay_429', 'pm_card_visa_ratelimitx1');
      expect(retry.status).toBe('succeeded');
      expect(retry.lastResponse.headers['idempotent-replayed']).toBeUndefined();
      expect(sim.chargeCount()).toBe(1);
      expect(faultsOf(sim).map((entry) => entry.fault)).toEqual(['ratelimit']);
    });

    // Old behaviour: error500always was applied on every attempt ([1, 2, 3]); now attempts 2 and 3 are replays
    // of the stored 500. A 429 is never stored, so ratelimitalways still applies each time.
    it.each([
      ['error500always', Stripe.errors.StripeAPIError, 500, [1]],
      ['ratelimitalways', Stripe.errors.StripeRateLimitError, 429, [1, 2, 3]],
    ])('%s fails every attempt and never charges', async (fault, errorClass, status, applied) => {
      for (let i = 0; i < 3; i++) {
        const error = await caught(charge(stripe, 'pay_always', `pm_card_visa_${fault}`));
        expect(error).toBeInstanceOf(errorClass);
        expect(error.statusCode).toBe(status);
      }
      expect(sim.chargeAttempts()).toEqual([]);
      expect(sim.paymentIntents()).toEqual([]);
      expect(faultsOf(sim).map((entry) => entry.attempt)).toEqual(applied);
    });

    it('lostx1 over raw HTTP: the connection drops after the charge, and the retry replays the same intent', async () => {
      const lost = rawPost(sim, '/v1/payment_intents', { ...RAW_CHARGE, payment_method: 'pm_card_visa_lostx1' }, 'k1');
      await expect(lost).rejects.toMatchObject({ code: 'ECONNRESET' });
      expect(sim.chargeCount()).toBe(1);
      const [stored] = sim.paymentIntents();

      const retry = await rawPost(
        sim,
        '/v1/payment_intents',
        { ...RAW_CHARGE, payment_method: 'pm_card_visa_lostx1' },
        'k1',
      );
      expect(retry.status).toBe(200);
      expect(retry.headers['idempotent-replayed']).toBe('true');
      expect(retry.body.id).toBe(stored?.id);
      expect(sim.chargeCount()).toBe(1);
      expect(faultsOf(sim).map((entry) => [entry.fault, entry.attempt])).toEqual([['lost', 1]]);
    });

    it('lostx1 through the SDK: its own closed-connection retry (same key) gets the stored response', async () => {
      // stripe-node retries ECONNRESET once even with maxNetworkRetries: 0, with the same Idempotency-Key.
      const pi = await charge(stripe, 'pay_lost1', 'pm_card_visa_lostx1');
      expect(pi.status).toBe('succeeded');
      expect(pi.lastResponse.headers['idempotent-replayed']).toBe('true');
      expect(sim.paymentIntents().map((stored) => stored.id)).toEqual([pi.id]);
      expect(sim.chargeCount()).toBe(1);
      expect(faultsOf(sim, 'lost')).toHaveLength(1);
    });

    it('lostx2: the SDK call fails with StripeConnectionError after the charge; our retry gets the SAME intent', async () => {
      const error = await caught(charge(stripe, 'pay_lost2', 'pm_card_visa_lostx2'));
      expect(error).toBeInstanceOf(Stripe.errors.StripeConnectionError);
      expect(sim.chargeCount()).toBe(1);
      const [stored] = sim.paymentIntents();

      const retry = await charge(stripe, 'pay_lost2', 'pm_card_visa_lostx2');
      expect(retry.id).toBe(stored?.id);
      expect(retry.status).toBe('succeeded');
      expect(retry.lastResponse.headers['idempotent-replayed']).toBe('true');
      expect(sim.chargeCount()).toBe(1);
      expect(sim.chargeAttempts()).toHaveLength(1);
      expect(faultsOf(sim).map((entry) => [entry.fault, entry.attempt])).toEqual([
        ['lost', 1],
        ['lost', 2],
      ]);
    });

    it('lostalways: every attempt fails, and there is still exactly one charge', async () => {
      for (let i = 0; i < 3; i++) {
        const error = await caught(charge(stripe, 'pay_lost_always', 'pm_card_visa_lostalways'));
        expect(error).toBeInstanceOf(Stripe.errors.StripeConnectionError);
      }
      expect(sim.chargeCount()).toBe(1);
      expect(sim.chargeAttempts()).toHaveLength(1);
      expect(sim.paymentIntents()).toHaveLength(1);
      // Three calls of two SDK attempts each, all dropped.
      expect(faultsOf(sim).map((entry) => entry.attempt)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(new Set(faultsOf(sim).map((entry) => entry.fault))).toEqual(new Set(['lost']));
    });

    it('timeoutx1: the client times out after the charge; the retry gets the same intent', async () => {
      const hanging = await startExtra({ hangMs: 1000 });
      const impatient = clientFor(hanging, { timeout: 300 });

      const started = Date.now();
      const error = await caught(charge(impatient, 'pay_timeout', 'pm_card_visa_timeoutx1'));
      expect(error).toBeInstanceOf(Stripe.errors.StripeConnectionError);
      expect(error.message).toBe('Request aborted due to timeout being reached (300ms)');
      expect(Date.now() - started).toBeLessThan(1000);
      expect(hanging.chargeCount()).toBe(1);
      const [stored] = hanging.paymentIntents();

      const retry = await charge(impatient, 'pay_timeout', 'pm_card_visa_timeoutx1');
      expect(retry.id).toBe(stored?.id);
      expect(retry.lastResponse.headers['idempotent-replayed']).toBe('true');
      expect(hanging.chargeCount()).toBe(1);
      expect(hanging.injectedFaults().map((entry) => [entry.fault, entry.attempt])).toEqual([['timeout', 1]]);
    });

    it('timeout hangs for hangMs and then drops the connection', async () => {
      const hanging = await startExtra({ hangMs: 300 });
      const started = Date.now();
      const dropped = rawPost(hanging, '/v1/payment_intents', {
        ...RAW_CHARGE,
        payment_method: 'pm_card_visa_timeoutalways',
      });
      await expect(dropped).rejects.toMatchObject({ code: 'ECONNRESET' });
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
      expect(hanging.chargeCount()).toBe(1);
    });

    it('a fault on a declining base: lost, then the stored 402 decline is replayed, one failed attempt', async () => {
      const lost = await caught(charge(stripe, 'pay_decl', 'pm_card_chargeDeclined_lostx2'));
      expect(lost).toBeInstanceOf(Stripe.errors.StripeConnectionError);

      const declined = await caught(charge(stripe, 'pay_decl', 'pm_card_chargeDeclined_lostx2'));
      expect(declined).toBeInstanceOf(Stripe.errors.StripeCardError);
      expect(declined.statusCode).toBe(402);
      expect(declined.decline_code).toBe('generic_decline');
      expect(declined.payment_method?.card?.last4).toBe('0002');
      expect(declined.payment_method?.id).toMatch(/^pm_[A-Za-z0-9]{24}$/);
      expect(declined.headers?.['idempotent-replayed']).toBe('true');
      expect(sim.chargeCount()).toBe(0);
      expect(sim.chargeAttempts()).toEqual([
        expect.objectContaining({
          status: 'failed',
          failure_code: 'card_declined',
          payment_intent: declined.payment_intent?.id,
        }),
      ]);
    });

    it.each([
      ['pm_card_chargeDeclinedInsufficientFunds', 'card_declined', 'insufficient_funds'],
      ['pm_card_chargeDeclinedFraudulent', 'card_declined', 'fraudulent'],
      ['pm_card_chargeDeclinedExpiredCard', 'expired_card', 'expired_card'],
    ])(
      '%s_error500x1: a stored 500 (replayed), then under a new key the base decline (%s / %s)',
      async (base, code, declineCode) => {
        const error500 = await caught(charge(stripe, 'pay_d500', `${base}_error500x1`));
        expect(error500).toBeInstanceOf(Stripe.errors.StripeAPIError);
        expect(sim.chargeAttempts()).toEqual([]);
        // Old behaviour: this retry under the same key executed and declined.
        const replayed = await caught(charge(stripe, 'pay_d500', `${base}_error500x1`));
        expect(replayed).toBeInstanceOf(Stripe.errors.StripeAPIError);
        expect(replayed.headers?.['idempotent-replayed']).toBe('true');
        expect(sim.chargeAttempts()).toEqual([]);

        const declined = await caught(charge(stripe, 'pay_d500_new_key', base));
        expect(declined).toBeInstanceOf(Stripe.errors.StripeCardError);
        expect(declined.code).toBe(code);
        expect(declined.decline_code).toBe(declineCode);
        expect(sim.chargeAttempts()).toEqual([expect.objectContaining({ status: 'failed', failure_code: code })]);
      },
    );

    it('applies to /confirm too', async () => {
      const created = await stripe.paymentIntents.create({
        amount: 1500,
        currency: 'usd',
        ...CARD_ONLY,
      });
      const confirmWith = () =>
        stripe.paymentIntents.confirm(
          created.id,
          { payment_method: 'pm_card_mastercard_error500x1' },
          { idempotencyKey: 'confirm-1' },
        );
      const error = await caught(confirmWith());
      expect(error).toBeInstanceOf(Stripe.errors.StripeAPIError);
      expect((await stripe.paymentIntents.retrieve(created.id)).status).toBe('requires_payment_method');
      // Old behaviour: the retry under the same key confirmed. Now it gets the stored 500.
      const replayed = await caught(confirmWith());
      expect(replayed.statusCode).toBe(500);
      expect(replayed.headers?.['idempotent-replayed']).toBe('true');
      expect((await stripe.paymentIntents.retrieve(created.id)).status).toBe('requires_payment_method');

      const confirmed = await stripe.paymentIntents.confirm(
        created.id,
        { payment_method: 'pm_card_mastercard' },
        { idempotencyKey: 'confirm-2' },
      );
      expect(confirmed.status).toBe('succeeded');
      expect(confirmed.payment_method).toMatch(/^pm_[A-Za-z0-9]{24}$/);
      expect(sim.charges()).toEqual([expect.objectContaining({ payment_method: confirmed.payment_method })]);
      expect(faultsOf(sim)).toEqual([
        expect.objectContaining({ fault: 'error500', path: `/v1/payment_intents/${created.id}/confirm` }),
      ]);
    });

    it('the suffix is part of the request: the same key with the bare token is an idempotency error', async () => {
      const first = await charge(stripe, 'pay_fp', 'pm_card_visa_latency0');
      expect(first.status).toBe('succeeded');
      const bare = await caught(charge(stripe, 'pay_fp', 'pm_card_visa'));
      expect(bare).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
      expect(sim.chargeCount()).toBe(1);
    });

    it('without an idempotency key every request is attempt 1', async () => {
      const form = { ...RAW_CHARGE, payment_method: 'pm_card_visa_error500x1' };
      expect((await rawPost(sim, '/v1/payment_intents', form)).status).toBe(500);
      expect((await rawPost(sim, '/v1/payment_intents', form)).status).toBe(500);
      expect(sim.chargeAttempts()).toEqual([]);
      expect(faultsOf(sim).map((entry) => [entry.attempt, entry.idempotency_key])).toEqual([
        [1, null],
        [1, null],
      ]);
    });

    // Old version used error500x1, whose retry now replays the stored 500; a rate limit is never stored.
    it('counts attempts per key: another payment with the same token gets its own faults', async () => {
      expect(await caught(charge(stripe, 'pay_a', 'pm_card_visa_ratelimitx1'))).toBeInstanceOf(
        Stripe.errors.StripeRateLimitError,
      );
      expect(await caught(charge(stripe, 'pay_b', 'pm_card_visa_ratelimitx1'))).toBeInstanceOf(
        Stripe.errors.StripeRateLimitError,
      );
      expect((await charge(stripe, 'pay_a', 'pm_card_visa_ratelimitx1')).status).toBe('succeeded');
      expect(sim.chargeCount()).toBe(1);
    });
  });

  describe('rate-based faults', () => {
    it('POST/GET/DELETE /__admin/faults set, show and clear the config, validating it', async () => {
      const config = { latency_ms: 5, error500_rate: 0.25, lost_rate: 0.1, ratelimit_rate: 0.5, seed: 123 };
      const expected = { ...OFF, ...config };
      expect(await adminJson(sim, 'POST', '/__admin/faults', config)).toEqual({ status: 200, body: expected });
      expect(await adminJson(sim, 'GET', '/__admin/faults')).toEqual({ status: 200, body: expected });
      expect(sim.faults()).toEqual(expected);

      for (const invalid of [
        { lost_rate: 1.5 },
        { error500_rate: '0.5' },
        { latency_ms: -1 },
        { seed: 1.5 },
        { nope: 1 },
        '[]',
        '{',
      ]) {
        const response = await adminJson(sim, 'POST', '/__admin/faults', invalid);
        expect(response.status).toBe(400);
        expect(response.body).toEqual({ error: { message: expect.any(String) } });
      }
      expect(sim.faults()).toEqual(expected);

      expect(await adminJson(sim, 'DELETE', '/__admin/faults')).toEqual({ status: 200, body: OFF });
      expect(sim.faults()).toEqual(OFF);
      expect((await adminJson(sim, 'PUT', '/__admin/faults')).status).toBe(405);
    });

    it('setFaults/faults are the programmatic equivalent', async () => {
      expect(sim.setFaults({ ratelimit_rate: 1, seed: 7 })).toEqual({ ...OFF, ratelimit_rate: 1, seed: 7 });
      expect(await adminJson(sim, 'GET', '/__admin/faults')).toEqual({ status: 200, body: sim.faults() });
      expect(() => sim.setFaults({ lost_rate: 2 })).toThrow('lost_rate');
      expect(sim.faults().ratelimit_rate).toBe(1);

      const error = await caught(charge(stripe, 'pay_rl', 'pm_card_visa'));
      expect(error).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
      sim.setFaults({});
      expect((await charge(stripe, 'pay_rl', 'pm_card_visa')).status).toBe('succeeded');
    });

    // Old behaviour: the rate-based 500 stored nothing and the same key executed once faults were cleared.
    it('an injected 500 is stored: after the faults are cleared the same key still gets the 500 replayed', async () => {
      await adminJson(sim, 'POST', '/__admin/faults', { error500_rate: 1, seed: 1 });
      const error = await caught(charge(stripe, 'pay_r500', 'pm_card_visa'));
      expect(error).toBeInstanceOf(Stripe.errors.StripeAPIError);
      expect(sim.chargeAttempts()).toEqual([]);

      await adminJson(sim, 'DELETE', '/__admin/faults');
      const retry = await caught(charge(stripe, 'pay_r500', 'pm_card_visa'));
      expect(retry.statusCode).toBe(500);
      expect(retry.headers?.['idempotent-replayed']).toBe('true');
      expect(sim.chargeAttempts()).toEqual([]);
      expect(faultsOf(sim)).toEqual([
        expect.objectContaining({ fault: 'error500', source: 'rate', idempotency_key: 'pay_r500:charge' }),
      ]);

      // With store500s off it is the old behaviour: nothing stored, the same key executes.
      sim.setStore500s(false);
      sim.setFaults({ error500_rate: 1 });
      await caught(charge(stripe, 'pay_r500_lenient', 'pm_card_visa'));
      sim.setFaults({});
      const executed = await charge(stripe, 'pay_r500_lenient', 'pm_card_visa');
      expect(executed.lastResponse.headers['idempotent-replayed']).toBeUndefined();
      expect(sim.chargeCount()).toBe(1);
    });

    it('charged500_rate and edge_rate: executed-then-500 (stored) and load-balancer errors (not stored)', async () => {
      sim.setFaults({ charged500_rate: 1 });
      const error = await caught(charge(stripe, 'pay_rc500', 'pm_card_visa'));
      expect(error.statusCode).toBe(500);
      expect(sim.chargeCount()).toBe(1);
      sim.setFaults({});
      expect((await caught(charge(stripe, 'pay_rc500', 'pm_card_visa'))).headers?.['idempotent-replayed']).toBe('true');
      expect(sim.chargeCount()).toBe(1);

      sim.setFaults({ edge_rate: 1, seed: 3 });
      const statuses: number[] = [];
      for (let i = 0; i < 8; i++) {
        statuses.push(
          (await rawPost(sim, '/v1/payment_intents', { ...RAW_CHARGE, payment_method: 'pm_card_visa' }, `e${i}`))
            .status,
        );
      }
      expect(new Set(statuses)).toEqual(new Set([502, 503]));
      expect(sim.chargeCount()).toBe(1);
      sim.setFaults({});
      expect(
        (await rawPost(sim, '/v1/payment_intents', { ...RAW_CHARGE, payment_method: 'pm_card_visa' }, 'e0')).status,
      ).toBe(200);
      expect(sim.chargeCount()).toBe(2);
      expect(faultsOf(sim).map((entry) => entry.source)).toEqual(['rate', ...statuses.map(() => 'rate')]);
    });

    it('an injected lost response happens after the charge and storage: the retry replays it', async () => {
      sim.setFaults({ lost_rate: 1 });
      const error = await caught(charge(stripe, 'pay_rlost', 'pm_card_visa'));
      expect(error).toBeInstanceOf(Stripe.errors.StripeConnectionError);
      expect(sim.chargeCount()).toBe(1);

      sim.setFaults({});
      const retry = await charge(stripe, 'pay_rlost', 'pm_card_visa');
      expect(retry.id).toBe(sim.paymentIntents()[0]?.id);
      expect(retry.lastResponse.headers['idempotent-replayed']).toBe('true');
      expect(sim.chargeCount()).toBe(1);
    });

    it('applies to mutating requests only, latency included', async () => {
      const pi = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', ...CARD_ONLY });
      sim.setFaults({ latency_ms: 200, error500_rate: 1 });
      const retrieved = await stripe.paymentIntents.retrieve(pi.id);
      expect(retrieved.id).toBe(pi.id);
      expect((await stripe.paymentIntents.list()).data).toHaveLength(1);
      expect(sim.injectedFaults()).toEqual([]);

      sim.setFaults({ latency_ms: 200 });
      const started = Date.now();
      await stripe.paymentIntents.cancel(pi.id);
      expect(Date.now() - started).toBeGreaterThanOrEqual(190);
      expect(faultsOf(sim)).toEqual([
        expect.objectContaining({
          fault: 'latency',
          source: 'rate',
          latency_ms: 200,
          path: `/v1/payment_intents/${pi.id}/cancel`,
        }),
      ]);
    });

    it('is deterministic for a seed, and never charges a payment twice', async () => {
      // Seed 42 of the old four-draw PRNG no longer shows every kind: each mutating request now takes six draws.
      const config = {
        error500_rate: 0.2,
        charged500_rate: 0.1,
        edge_rate: 0.1,
        ratelimit_rate: 0.2,
        lost_rate: 0.15,
        seed: 8,
      };
      async function run(seed: number): Promise<{ outcomes: string[]; log: string[] }> {
        await adminJson(sim, 'POST', '/__admin/reset');
        await adminJson(sim, 'POST', '/__admin/faults', { ...config, seed });
        const outcomes: string[] = [];
        for (let i = 0; i < 12; i++) {
          outcomes.push(await charge(stripe, `pay_${i}`, 'pm_card_visa').then(outcome, outcome));
        }
        const perPayment = new Map<string, number>();
        for (const record of sim.charges()) {
          const id = record.metadata.payment_id ?? '';
          perPayment.set(id, (perPayment.get(id) ?? 0) + 1);
        }
        expect([...perPayment.values()].every((count) => count === 1)).toBe(true);
        return { outcomes, log: sim.injectedFaults().map((entry) => `${entry.idempotency_key} ${entry.fault}`) };
      }

      const first = await run(8);
      const again = await run(8);
      expect(again).toEqual(first);
      expect(first.outcomes).toContain('ok');
      expect(first.outcomes.some((result) => result !== 'ok')).toBe(true);
      expect(new Set(first.log.map((line) => line.split(' ')[1]))).toEqual(
        new Set(['error500', 'charged500', 'edge502', 'edge503', 'ratelimit', 'lost']),
      );

      const otherSeed = await run(9);
      expect(otherSeed.log).not.toEqual(first.log);
    });
  });

  describe('admin routes', () => {
    it('GET /__admin/faults/log returns the injected faults', async () => {
      await caught(charge(stripe, 'pay_log', 'pm_card_visa_ratelimitx1'));
      const { status, body } = await adminJson(sim, 'GET', '/__admin/faults/log');
      expect(status).toBe(200);
      expect(body).toEqual(sim.injectedFaults());
      expect(body).toEqual([
        expect.objectContaining({
          at: expect.any(String),
          fault: 'ratelimit',
          idempotency_key: 'pay_log:charge',
          path: '/v1/payment_intents',
        }),
      ]);
    });

    it('GET /__admin/charges?payment_id= filters by metadata.payment_id', async () => {
      const one = await charge(stripe, 'pay_one', 'pm_card_visa');
      await charge(stripe, 'pay_two', 'pm_card_visa');
      await caught(charge(stripe, 'pay_one_declined', 'pm_card_chargeDeclined'));

      const filtered = await adminJson(sim, 'GET', '/__admin/charges?payment_id=pay_one');
      expect(filtered).toEqual({ status: 200, body: [expect.objectContaining({ id: one.latest_charge })] });
      expect((await adminJson(sim, 'GET', '/__admin/charges?payment_id=pay_none')).body).toEqual([]);
      expect((await adminJson(sim, 'GET', '/__admin/charges?payment_id=pay_one_declined')).body).toEqual([]);
      expect((await adminJson(sim, 'GET', '/__admin/charges?payment_id=pay_one_declined&include=failed')).body).toEqual(
        [
          expect.objectContaining({
            status: 'failed',
            metadata: expect.objectContaining({ payment_id: 'pay_one_declined' }),
          }),
        ],
      );
      expect((await adminJson(sim, 'GET', '/__admin/charges')).body).toHaveLength(2);
    });

    it('POST /__admin/reset clears intents, charges, idempotency keys, faults and their log', async () => {
      const before = await charge(stripe, 'pay_reset', 'pm_card_visa');
      await caught(charge(stripe, 'pay_reset_500', 'pm_card_visa_error500x1'));
      sim.setFaults({ latency_ms: 1, seed: 9 });
      expect(sim.injectedFaults()).toHaveLength(1);

      expect(await adminJson(sim, 'POST', '/__admin/reset')).toEqual({ status: 200, body: { reset: true } });
      expect(sim.paymentIntents()).toEqual([]);
      expect(sim.chargeAttempts()).toEqual([]);
      expect(sim.faults()).toEqual(OFF);
      expect(sim.injectedFaults()).toEqual([]);
      expect((await adminJson(sim, 'GET', '/__admin/charges?include=failed')).body).toEqual([]);
      expect((await adminJson(sim, 'GET', '/__admin/payment_intents')).body).toEqual([]);
      expect((await stripe.paymentIntents.list()).data).toEqual([]);

      // The key is forgotten: the same request executes again, as a new intent.
      const after = await charge(stripe, 'pay_reset', 'pm_card_visa');
      expect(after.id).not.toBe(before.id);
      expect(after.lastResponse.headers['idempotent-replayed']).toBeUndefined();
      // Attempt counters too: the token fault applies again from attempt 1.
      const again = await caught(charge(stripe, 'pay_reset_500', 'pm_card_visa_error500x1'));
      expect(again).toBeInstanceOf(Stripe.errors.StripeAPIError);

      sim.reset();
      expect(sim.paymentIntents()).toEqual([]);
      expect(sim.injectedFaults()).toEqual([]);
      expect((await adminJson(sim, 'GET', '/__admin/reset')).status).toBe(405);
    });
  });
});
