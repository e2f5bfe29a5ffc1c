// Behaviours of the PSP simulator made truthful to Stripe, driven by the real stripe SDK. Each test says what the
// simulator did before (so that it would fail against that behaviour) and where Stripe documents what it does now.

import Stripe from 'stripe';
import { ChargeLedger } from '../../local/psp-simulator/charges';
import { type FormObject, parseForm } from '../../local/psp-simulator/form';
import { DEFAULT_SEARCH_LAG_MS, paymentIntentRoutes } from '../../local/psp-simulator/payment-intent-routes';
import { PaymentIntentService } from '../../local/psp-simulator/payment-intents';
import { PaymentMethodStore } from '../../local/psp-simulator/payment-methods';
import { type PspSimulator, startPspSimulator } from '../../local/psp-simulator/server';
import { caught, sleep } from '../support/stripe-calls';

jest.setTimeout(20_000);

const SECRET_KEY = 'sk_test_simulator_0123456789abcdefWXYZ';
// (allowed_payment_method_types: payment_method_types is no longer writable on a PaymentIntent since 2026-09-30.endive)
const CARD_ONLY: Pick<Stripe.PaymentIntentCreateParams, 'allowed_payment_method_types'> = {
  allowed_payment_method_types: ['card'],
};
const SUCCESS_CARD = '4242 4242 4242 4242';
const DECLINED_CARD = '4000 0000 0000 0002';

function clientFor(sim: PspSimulator): Stripe {
  return new Stripe(SECRET_KEY, { host: sim.host, port: sim.port, protocol: 'http', maxNetworkRetries: 0 });
}

function sessionParams(
  overrides: Partial<Stripe.Checkout.SessionCreateParams> = {},
): Stripe.Checkout.SessionCreateParams {
  return {
    mode: 'payment',
    client_reference_id: 'pay_truth',
    line_items: [
      { quantity: 1, price_data: { currency: 'eur', unit_amount: 2599, product_data: { name: 'Payment pay_truth' } } },
    ],
    success_url: 'https://shop.example/return?session_id={CHECKOUT_SESSION_ID}',
    cancel_url: 'https://shop.example/return?status=canceled',
    metadata: { payment_id: 'pay_truth' },
    payment_intent_data: { metadata: { payment_id: 'pay_truth', checkout_id: 'chk_truth' } },
    ...overrides,
  };
}

/** The buyer submits a card on the session's hosted page (as a browser would). */
async function payOnPage(sim: PspSimulator, session: Stripe.Checkout.Session, cardnumber: string): Promise<number> {
  const response = await fetch(`${sim.url}/pay/${session.id}`, {
    method: 'POST',
    redirect: 'manual',
    body: new URLSearchParams({ cardnumber, exp: '12/34', cvc: '123' }),
  });
  await response.text();
  return response.status;
}

describe('PSP simulator: behaviours truthful to Stripe', () => {
  let sim: PspSimulator;
  let stripe: Stripe;

  beforeEach(async () => {
    sim = await startPspSimulator({ secretKey: SECRET_KEY });
    stripe = clientFor(sim);
  });

  afterEach(async () => {
    await sim.close();
  });

  // https://docs.stripe.com/changelog/2022-08-01/deferred-paymentintent-checkout-session: "A PaymentIntent is no
  // longer created during Checkout Session creation in payment mode. Instead, a PaymentIntent is created when the
  // Session is confirmed."
  describe('Checkout Sessions create their PaymentIntent when the buyer pays', () => {
    it('has payment_intent null (expanded too) until the payment, which creates the intent with payment_intent_data', async () => {
      // Old behaviour: the intent was created with the session, so payment_intent was a pi_ id from the start.
      const session = await stripe.checkout.sessions.create(sessionParams());
      expect(session.payment_intent).toBeNull();
      const expanded = await stripe.checkout.sessions.retrieve(session.id, { expand: ['payment_intent'] });
      expect(expanded.payment_intent).toBeNull();
      expect((await stripe.paymentIntents.list()).data).toEqual([]);
      expect(sim.paymentIntents()).toEqual([]);

      expect(await payOnPage(sim, session, SUCCESS_CARD)).toBe(303);

      const paid = await stripe.checkout.sessions.retrieve(session.id, { expand: ['payment_intent'] });
      expect(paid).toMatchObject({ status: 'complete', payment_status: 'paid' });
      const intent = paid.payment_intent as Stripe.PaymentIntent;
      expect(intent).toMatchObject({
        object: 'payment_intent',
        status: 'succeeded',
        amount: 2599,
        amount_received: 2599,
        currency: 'eur',
        metadata: { payment_id: 'pay_truth', checkout_id: 'chk_truth' },
      });
      expect((await stripe.checkout.sessions.retrieve(session.id)).payment_intent).toBe(intent.id);
      expect(sim.charges()).toEqual([expect.objectContaining({ payment_intent: intent.id, amount: 2599 })]);
      const listed = await stripe.checkout.sessions.list({ payment_intent: intent.id });
      expect(listed.data.map((each) => each.id)).toEqual([session.id]);
    });

    it('leaves payment_intent null when an unpaid session expires', async () => {
      // Old behaviour: expiring canceled the intent created with the session (payment_intent a pi_ id, canceled).
      const session = await stripe.checkout.sessions.create(sessionParams());
      const expired = await stripe.checkout.sessions.expire(session.id, { expand: ['payment_intent'] });
      expect(expired).toMatchObject({ status: 'expired', payment_intent: null, url: null });
      expect(sim.paymentIntents()).toEqual([]);
      expect(sim.events().map((event) => event.type)).toEqual(['checkout.session.expired']);
    });

    it('keeps the session open after a declined card, with the intent the attempt created; a retry pays that intent', async () => {
      // Old behaviour: the intent pre-existed the attempt (payment_intent set at creation). Choice (docs silent): the
      // declined attempt creates the intent, which stays requires_payment_method and is reused by the next attempt.
      const session = await stripe.checkout.sessions.create(sessionParams());
      expect(await payOnPage(sim, session, DECLINED_CARD)).toBe(402);

      const open = await stripe.checkout.sessions.retrieve(session.id, { expand: ['payment_intent'] });
      expect(open).toMatchObject({ status: 'open', payment_status: 'unpaid' });
      const failed = open.payment_intent as Stripe.PaymentIntent;
      expect(failed).toMatchObject({
        status: 'requires_payment_method',
        last_payment_error: { code: 'card_declined', decline_code: 'generic_decline' },
        metadata: { payment_id: 'pay_truth', checkout_id: 'chk_truth' },
      });

      expect(await payOnPage(sim, session, SUCCESS_CARD)).toBe(303);
      const paid = await stripe.checkout.sessions.retrieve(session.id);
      expect(paid).toMatchObject({ status: 'complete', payment_status: 'paid', payment_intent: failed.id });
      expect((await stripe.paymentIntents.retrieve(failed.id)).status).toBe('succeeded');
      expect(sim.paymentIntents()).toHaveLength(1);
      expect(sim.chargeCount()).toBe(1);
    });
  });

  // Stripe answers a 3-D Secure card confirmed without return_url with next_action use_stripe_sdk (Stripe.js runs
  // the challenge); redirect_to_url only when the confirmation gives a return_url. Cards are not a redirect-based
  // payment method, so automatic_payment_methods[allow_redirects]=never changes nothing for them.
  describe('3-D Secure next actions', () => {
    it.each([
      'pm_card_threeDSecure2Required',
      'pm_card_authenticationRequired',
      'pm_card_authenticationRequiredChargeDeclinedInsufficientFunds',
    ])('answers %s confirmed without return_url with use_stripe_sdk and no URL', async (token) => {
      // Old behaviour: next_action redirect_to_url (the simulator's /3ds page) with return_url null.
      const pi = await stripe.paymentIntents.create({
        amount: 1500,
        currency: 'usd',
        payment_method: token,
        confirm: true,
        ...CARD_ONLY,
      });
      expect(pi.status).toBe('requires_action');
      expect(pi.next_action?.type).toBe('use_stripe_sdk');
      expect(pi.next_action?.use_stripe_sdk).toEqual(expect.objectContaining({ type: 'stripe_3ds2_fingerprint' }));
      expect(pi.next_action?.redirect_to_url).toBeUndefined();
      expect(JSON.stringify(pi.next_action)).not.toMatch(/https?:\/\//);
      // The same answer on every retrieve.
      expect((await stripe.paymentIntents.retrieve(pi.id)).next_action).toEqual(pi.next_action);

      // The buyer authenticates in the PSP's SDK; here the admin hook stands in for it.
      const done = sim.authenticatePaymentIntent(pi.id, 'approve');
      expect(done.next_action).toBeNull();
      expect(done.status).toBe(
        token === 'pm_card_authenticationRequiredChargeDeclinedInsufficientFunds'
          ? 'requires_payment_method'
          : 'succeeded',
      );
    });

    it('answers use_stripe_sdk with automatic_payment_methods[allow_redirects]=never (3-D Secure is no redirect method)', async () => {
      // Old behaviour: redirect_to_url.
      const pi = await stripe.paymentIntents.create({
        amount: 1500,
        currency: 'usd',
        payment_method: 'pm_card_threeDSecure2Required',
        confirm: true,
        automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
      });
      expect(pi).toMatchObject({ status: 'requires_action', next_action: { type: 'use_stripe_sdk' } });
      expect(pi.next_action?.redirect_to_url).toBeUndefined();
    });

    it('answers redirect_to_url with a usable URL when the confirmation gives a return_url (unless use_stripe_sdk)', async () => {
      const created = await stripe.paymentIntents.create({ amount: 1500, currency: 'usd', ...CARD_ONLY });
      const pi = await stripe.paymentIntents.confirm(created.id, {
        payment_method: 'pm_card_threeDSecure2Required',
        return_url: 'https://shop.example/3ds-return',
      });
      expect(pi.next_action).toEqual({
        type: 'redirect_to_url',
        redirect_to_url: { url: `${sim.url}/3ds/${pi.id}`, return_url: 'https://shop.example/3ds-return' },
      });
      const page = await fetch(pi.next_action?.redirect_to_url?.url as string);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('id="challenge"');

      // use_stripe_sdk=true: the client SDK handles the action, even with a return_url.
      const sdk = await stripe.paymentIntents.create({
        amount: 1500,
        currency: 'usd',
        payment_method: 'pm_card_threeDSecure2Required',
        confirm: true,
        return_url: 'https://shop.example/3ds-return',
        use_stripe_sdk: true,
      });
      expect(sdk.next_action?.type).toBe('use_stripe_sdk');
    });

    it('challenges any card with payment_method_options[card][request_three_d_secure]=any', async () => {
      // Old behaviour: 400 parameter_unknown (payment_method_options).
      const pi = await stripe.paymentIntents.create({
        amount: 1500,
        currency: 'usd',
        payment_method: 'pm_card_visa',
        confirm: true,
        payment_method_options: { card: { request_three_d_secure: 'any' } },
        ...CARD_ONLY,
      });
      expect(pi).toMatchObject({
        status: 'requires_action',
        payment_method_options: { card: { request_three_d_secure: 'any' } },
      });
      expect(sim.authenticatePaymentIntent(pi.id, 'approve').status).toBe('succeeded');
      expect(sim.chargeCount()).toBe(1);
    });
  });

  // https://docs.stripe.com/search: "Don't use search for read-after-write flows ... Under normal operating
  // conditions, data is searchable in under 1 minute."
  describe('search lags behind writes', () => {
    it(`does not find an intent written less than the lag (${DEFAULT_SEARCH_LAG_MS} ms by default) ago`, async () => {
      // Old behaviour: every write was searchable at once.
      const query = "metadata['payment_id']:'pay_lag'";
      const pi = await stripe.paymentIntents.create({
        amount: 1500,
        currency: 'usd',
        metadata: { payment_id: 'pay_lag' },
        ...CARD_ONLY,
      });
      expect((await stripe.paymentIntents.search({ query })).data).toEqual([]);
      await sleep(DEFAULT_SEARCH_LAG_MS + 50);
      expect((await stripe.paymentIntents.search({ query })).data.map((each) => each.id)).toEqual([pi.id]);

      // An update is matched against the indexed (older) state until it propagates; results are the objects now.
      await stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_visa' });
      const succeededQuery = `${query} AND status:'succeeded'`;
      expect((await stripe.paymentIntents.search({ query: succeededQuery })).data).toEqual([]);
      const stale = await stripe.paymentIntents.search({ query: `${query} AND status:'requires_payment_method'` });
      expect(stale.data.map((each) => [each.id, each.status])).toEqual([[pi.id, 'succeeded']]);
      await sleep(DEFAULT_SEARCH_LAG_MS + 50);
      expect((await stripe.paymentIntents.search({ query: succeededQuery })).data.map((each) => each.id)).toEqual([
        pi.id,
      ]);
      // List is not subject to the lag.
      expect((await stripe.paymentIntents.list()).data.map((each) => each.id)).toEqual([pi.id]);
    });

    it('takes the lag as a route option: 0 finds at once, a larger value waits longer', () => {
      let nowMs = 1_000_000;
      const methods = new PaymentMethodStore(() => Math.floor(nowMs / 1000));
      const intents = new PaymentIntentService(
        methods,
        new ChargeLedger(),
        () => Math.floor(nowMs / 1000),
        undefined,
        () => nowMs,
      );
      const search = (lagMs: number, query: string) => {
        const route = paymentIntentRoutes(intents, methods, { searchLagMs: lagMs }).find(
          (candidate) => candidate.method === 'GET' && candidate.path === '/v1/payment_intents/search',
        );
        const params: FormObject = parseForm(new URLSearchParams({ query }).toString());
        const response = route?.prepare({ method: 'GET', path: '', pathParams: {}, params, requestId: 'req_x' })();
        return ((response as { body: { data: Stripe.PaymentIntent[] } }).body.data ?? []).map((each) => each.id);
      };
      const pi = intents.create({
        amount: 1000,
        currency: 'usd',
        confirm: false,
        metadata: { payment_id: 'pay_route' },
        description: null,
        captureMethod: 'automatic',
        paymentMethodTypes: ['card'],
        receiptEmail: null,
        statementDescriptorSuffix: null,
        transferGroup: null,
      });
      const query = "metadata['payment_id']:'pay_route'";
      expect(search(0, query)).toEqual([pi.id]);
      expect(search(60_000, query)).toEqual([]);
      nowMs += 59_999;
      expect(search(60_000, query)).toEqual([]);
      nowMs += 1;
      expect(search(60_000, query)).toEqual([pi.id]);
      expect(() => paymentIntentRoutes(intents, methods, { searchLagMs: -1 })).toThrow('searchLagMs');
    });
  });

  describe('valid Stripe parameters of PaymentIntent create and confirm', () => {
    it('accepts and echoes customer, setup_future_usage, shipping, Connect and other parameters', async () => {
      // Old behaviour: 400 parameter_unknown for customer, setup_future_usage, shipping, on_behalf_of, transfer_data,
      // application_fee_amount, confirmation_method, payment_method_options and mandate_data.
      const pi = await stripe.paymentIntents.create({
        amount: 5000,
        currency: 'usd',
        customer: 'cus_truth123',
        setup_future_usage: 'off_session',
        receipt_email: 'buyer@example.com',
        statement_descriptor_suffix: 'ORDER 42',
        capture_method: 'manual',
        payment_method_options: { card: { request_three_d_secure: 'automatic' } },
        shipping: { name: 'Ada Lovelace', address: { line1: '1 Main St', city: 'Paris', country: 'FR' } },
        on_behalf_of: 'acct_seller1',
        transfer_group: 'order_42',
        transfer_data: { destination: 'acct_seller1', amount: 4500 },
        application_fee_amount: 500,
        // payment_method_types is removed as a writable parameter since API 2026-09-30.endive (the SDK's types lack
        // it); allowed_payment_method_types keeps the compatible types silently.
        allowed_payment_method_types: ['card', 'sepa_debit'],
        confirmation_method: 'automatic',
        payment_method: 'pm_card_visa',
        confirm: true,
        off_session: true,
        error_on_requires_action: true,
        mandate_data: {
          customer_acceptance: { type: 'online', online: { ip_address: '203.0.113.7', user_agent: 'Mozilla/5.0' } },
        },
      });
      expect(pi).toMatchObject({
        status: 'requires_capture',
        amount_capturable: 5000,
        customer: 'cus_truth123',
        setup_future_usage: 'off_session',
        receipt_email: 'buyer@example.com',
        statement_descriptor: null,
        statement_descriptor_suffix: 'ORDER 42',
        capture_method: 'manual',
        confirmation_method: 'automatic',
        payment_method_options: { card: { request_three_d_secure: 'automatic' } },
        shipping: {
          name: 'Ada Lovelace',
          address: { line1: '1 Main St', line2: null, city: 'Paris', state: null, postal_code: null, country: 'FR' },
          carrier: null,
          phone: null,
          tracking_number: null,
        },
        on_behalf_of: 'acct_seller1',
        transfer_group: 'order_42',
        transfer_data: { destination: 'acct_seller1', amount: 4500 },
        application_fee_amount: 500,
        allowed_payment_method_types: ['card', 'sepa_debit'],
        payment_method_types: ['card'],
        automatic_payment_methods: null,
      });
      expect((await stripe.paymentIntents.list({ customer: 'cus_truth123' })).data.map((each) => each.id)).toEqual([
        pi.id,
      ]);

      // Confirm takes its own subset (receipt_email, setup_future_usage, shipping, capture_method...).
      const open = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', ...CARD_ONLY });
      const confirmed = await stripe.paymentIntents.confirm(open.id, {
        payment_method: 'pm_card_visa',
        receipt_email: 'other@example.com',
        setup_future_usage: 'on_session',
        shipping: { name: 'Grace Hopper', address: { country: 'US' } },
        capture_method: 'manual',
        off_session: 'one_off',
        mandate_data: { customer_acceptance: { type: 'offline', offline: {} } },
      });
      expect(confirmed).toMatchObject({
        status: 'requires_capture',
        receipt_email: 'other@example.com',
        setup_future_usage: 'on_session',
        shipping: { name: 'Grace Hopper', address: { country: 'US' } },
      });
    });

    it('runs confirmation_method=manual: after 3-D Secure the server confirms again', async () => {
      // Old behaviour: 400 parameter_unknown (confirmation_method).
      const pi = await stripe.paymentIntents.create({
        amount: 1000,
        currency: 'usd',
        payment_method: 'pm_card_threeDSecure2Required',
        confirm: true,
        confirmation_method: 'manual',
        ...CARD_ONLY,
      });
      expect(pi).toMatchObject({ status: 'requires_action', confirmation_method: 'manual' });
      expect(sim.authenticatePaymentIntent(pi.id, 'approve')).toMatchObject({
        status: 'requires_confirmation',
        next_action: null,
      });
      expect(sim.chargeCount()).toBe(0);
      const confirmed = await stripe.paymentIntents.confirm(pi.id);
      expect(confirmed.status).toBe('succeeded');
      expect(sim.chargeCount()).toBe(1);
    });

    it.each<[string, Record<string, unknown>, string, string | undefined]>([
      ['an invalid setup_future_usage', { setup_future_usage: 'sometimes' }, 'setup_future_usage', undefined],
      ['an invalid confirmation_method', { confirmation_method: 'later' }, 'confirmation_method', undefined],
      [
        'an invalid request_three_d_secure',
        { payment_method_options: { card: { request_three_d_secure: 'always' } } },
        'payment_method_options[card][request_three_d_secure]',
        undefined,
      ],
      ['shipping without a name', { shipping: { address: { country: 'FR' } } }, 'shipping[name]', 'parameter_missing'],
      [
        'transfer_data without destination',
        { transfer_data: { amount: 100 } },
        'transfer_data[destination]',
        'parameter_missing',
      ],
      [
        'application_fee_amount without a destination',
        { application_fee_amount: 100 },
        'application_fee_amount',
        undefined,
      ],
      [
        'statement_descriptor on a card PaymentIntent',
        { statement_descriptor: 'SHOP' },
        'statement_descriptor',
        undefined,
      ],
      ['off_session without confirm', { off_session: true }, 'off_session', undefined],
      ['a customer that is not a cus_ id', { customer: 'nobody' }, 'customer', 'resource_missing'],
      ['an unknown parameter', { colour: 'red' }, 'colour', 'parameter_unknown'],
      [
        'an unknown card option',
        { payment_method_options: { card: { colour: 'red' } } },
        'payment_method_options[card][colour]',
        'parameter_unknown',
      ],
    ])('refuses %s like Stripe (400, nothing created)', async (_label, extra, param, code) => {
      const error = await caught(
        stripe.paymentIntents.create({
          amount: 1000,
          currency: 'usd',
          ...CARD_ONLY,
          ...extra,
        } as Stripe.PaymentIntentCreateParams),
      );
      expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      expect({ status: error.statusCode, param: error.param, code: error.code }).toEqual({ status: 400, param, code });
      expect(sim.paymentIntents()).toEqual([]);
    });

    it('refuses create-only parameters on confirm (parameter_unknown), as Stripe', async () => {
      const open = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', ...CARD_ONLY });
      const error = await caught(
        stripe.paymentIntents.confirm(open.id, { customer: 'cus_x' } as Stripe.PaymentIntentConfirmParams),
      );
      expect({ status: error.statusCode, param: error.param, code: error.code }).toEqual({
        status: 400,
        param: 'customer',
        code: 'parameter_unknown',
      });
    });

    it('gives the statement_descriptor refusal Stripe gives for card PaymentIntents', async () => {
      // Old behaviour: statement_descriptor accepted and echoed.
      const error = await caught(
        stripe.paymentIntents.create({ amount: 1000, currency: 'usd', statement_descriptor: 'SHOP', ...CARD_ONLY }),
      );
      expect(error.message).toContain(
        'The statement_descriptor parameter is not supported for the payment_method_type `card`.',
      );
      const session = await caught(
        stripe.checkout.sessions.create(sessionParams({ payment_intent_data: { statement_descriptor: 'SHOP' } })),
      );
      expect(session.param).toBe('payment_intent_data[statement_descriptor]');
    });
  });

  // docs.stripe.com/changelog/endive/2026-09-30/removes-the-payment-method-types-parameter-from-payment-intents-and-
  // setup-intents: "Removes `payment_method_types` as a writable parameter from the create, update, and confirm methods
  // on Payment Intents ... Passing `payment_method_types` on this API version returns a 400 error with the code
  // `payment_method_types_no_longer_supported`." docs.stripe.com/changelog/endive/2026-09-30/remove-payment-method-
  // types-checkout-sessions removes it from a Checkout Session's create too (no code named: an unknown parameter) and
  // adds allowed_payment_method_types there. The installed SDK's version (2026-10-28.endive) comes after both.
  describe('payment_method_types, no longer writable since 2026-09-30.endive', () => {
    const removed: Record<string, unknown> = { payment_method_types: ['card'] };
    const refusal = (error: Stripe.errors.StripeError) => ({
      status: error.statusCode,
      type: error.rawType,
      code: error.code,
      param: error.param,
    });

    it('is refused on PaymentIntent create and confirm: 400 payment_method_types_no_longer_supported', async () => {
      // Old behaviour: taken on create; refused on confirm as parameter_unknown.
      const create = await caught(
        stripe.paymentIntents.create({ amount: 1000, currency: 'usd', ...removed } as Stripe.PaymentIntentCreateParams),
      );
      const expected = {
        status: 400,
        type: 'invalid_request_error',
        code: 'payment_method_types_no_longer_supported',
        param: 'payment_method_types',
      };
      expect(refusal(create)).toEqual(expected);
      expect(create.message).toContain('allowed_payment_method_types');
      expect(sim.paymentIntents()).toEqual([]);

      const open = await stripe.paymentIntents.create({
        amount: 1000,
        currency: 'usd',
        allowed_payment_method_types: ['card'],
      });
      expect(open).toMatchObject({ allowed_payment_method_types: ['card'], payment_method_types: ['card'] });
      const confirm = await caught(
        stripe.paymentIntents.confirm(open.id, {
          payment_method: 'pm_card_visa',
          ...removed,
        } as Stripe.PaymentIntentConfirmParams),
      );
      expect(refusal(confirm)).toEqual(expected);
      expect((await stripe.paymentIntents.retrieve(open.id)).status).toBe('requires_payment_method');
    });

    it('is refused on Checkout Session create (parameter_unknown), which takes allowed_payment_method_types', async () => {
      // Old behaviour: payment_method_types taken, allowed_payment_method_types refused as unknown.
      const create = await caught(
        stripe.checkout.sessions.create({ ...sessionParams(), ...removed } as Stripe.Checkout.SessionCreateParams),
      );
      expect(refusal(create)).toEqual({
        status: 400,
        type: 'invalid_request_error',
        code: 'parameter_unknown',
        param: 'payment_method_types',
      });
      expect(sim.checkoutSessions()).toEqual([]);

      const session = await stripe.checkout.sessions.create(
        sessionParams({ allowed_payment_method_types: ['card', 'sepa_debit'] }),
      );
      expect(session).toMatchObject({
        allowed_payment_method_types: ['card', 'sepa_debit'],
        payment_method_types: ['card'],
      });
      const none = await caught(
        stripe.checkout.sessions.create(sessionParams({ allowed_payment_method_types: ['sepa_debit'] })),
      );
      expect(refusal(none)).toMatchObject({ status: 400, param: 'allowed_payment_method_types' });
    });
  });

  // PaymentIntent cancel: "You can directly cancel the PaymentIntent for a Checkout Session only when the
  // PaymentIntent has a status of requires_capture. Otherwise, you must expire the Checkout Session." The session's
  // payment_intent: "You can't confirm or cancel the PaymentIntent for a Checkout Session."
  describe('the PaymentIntent of a Checkout Session', () => {
    it('cannot be canceled or confirmed through the API; expiring the session cancels it', async () => {
      // Old behaviour: the cancel succeeded (and expired the session as a side effect).
      const session = await stripe.checkout.sessions.create(sessionParams());
      expect(await payOnPage(sim, session, DECLINED_CARD)).toBe(402);
      const intentId = (await stripe.checkout.sessions.retrieve(session.id)).payment_intent as string;

      const cancel = await caught(stripe.paymentIntents.cancel(intentId, {}, { idempotencyKey: 'cancel-1' }));
      expect(cancel).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      expect(cancel.statusCode).toBe(400);
      expect(cancel.type).toBe('StripeInvalidRequestError');
      expect(cancel.message).toContain('You cannot perform this action on PaymentIntents created by Checkout.');
      const confirm = await caught(stripe.paymentIntents.confirm(intentId, { payment_method: 'pm_card_visa' }));
      expect(confirm.statusCode).toBe(400);
      expect(confirm.message).toContain('created by Checkout');
      expect(sim.chargeAttempts()).toHaveLength(1);
      expect((await stripe.checkout.sessions.retrieve(session.id)).status).toBe('open');
      expect((await stripe.paymentIntents.retrieve(intentId)).status).toBe('requires_payment_method');

      const expired = await stripe.checkout.sessions.expire(session.id);
      expect(expired.status).toBe('expired');
      expect(await stripe.paymentIntents.retrieve(intentId)).toMatchObject({
        status: 'canceled',
        cancellation_reason: 'abandoned',
      });
    });

    it('can be canceled once it holds an authorization (requires_capture), releasing it', async () => {
      const session = await stripe.checkout.sessions.create(
        sessionParams({ payment_intent_data: { capture_method: 'manual', metadata: { payment_id: 'pay_truth' } } }),
      );
      expect(await payOnPage(sim, session, SUCCESS_CARD)).toBe(303);
      const intentId = (await stripe.checkout.sessions.retrieve(session.id)).payment_intent as string;
      expect((await stripe.paymentIntents.retrieve(intentId)).status).toBe('requires_capture');
      const canceled = await stripe.paymentIntents.cancel(intentId);
      expect(canceled).toMatchObject({ status: 'canceled', amount_capturable: 0 });
      expect(sim.charges()[0]).toMatchObject({ payment_intent: intentId, captured: false, refunded: true });
    });
  });

  describe('expand[]=latest_charge', () => {
    it('returns the Charge object on create, confirm, retrieve, capture and list; the id without expand', async () => {
      // Old behaviour: 400 "The PSP simulator cannot expand latest_charge yet."
      const open = await stripe.paymentIntents.create({
        amount: 2500,
        currency: 'eur',
        ...CARD_ONLY,
        expand: ['latest_charge'],
      });
      expect(open.latest_charge).toBeNull();

      const held = await stripe.paymentIntents.confirm(open.id, {
        payment_method: 'pm_card_visa',
        capture_method: 'manual',
        expand: ['latest_charge'],
      });
      const authorization = held.latest_charge as Stripe.Charge;
      expect(authorization).toMatchObject({
        object: 'charge',
        amount: 2500,
        amount_captured: 0,
        currency: 'eur',
        status: 'succeeded',
        paid: true,
        captured: false,
        payment_intent: open.id,
        payment_method: held.payment_method,
        livemode: false,
        outcome: { type: 'authorized', network_status: 'approved_by_network' },
        payment_method_details: { type: 'card', card: { brand: 'visa', last4: '4242' } },
      });
      expect(authorization.id).toMatch(/^ch_/);
      expect(authorization.balance_transaction === null || typeof authorization.balance_transaction === 'string').toBe(
        true,
      );

      const captured = await stripe.paymentIntents.capture(open.id, { expand: ['latest_charge'] });
      expect(captured.latest_charge).toMatchObject({ id: authorization.id, captured: true, amount_captured: 2500 });
      const plain = await stripe.paymentIntents.retrieve(open.id);
      expect(plain.latest_charge).toBe(authorization.id);
      const retrieved = await stripe.paymentIntents.retrieve(open.id, { expand: ['latest_charge'] });
      expect((retrieved.latest_charge as Stripe.Charge).id).toBe(authorization.id);
      const listed = await stripe.paymentIntents.list({ expand: ['data.latest_charge'] });
      expect(listed.data[0]?.latest_charge).toMatchObject({ object: 'charge' });

      const created = await stripe.paymentIntents.create({
        amount: 1000,
        currency: 'usd',
        payment_method: 'pm_card_visa',
        confirm: true,
        ...CARD_ONLY,
        expand: ['latest_charge'],
      });
      expect(created.latest_charge).toMatchObject({ object: 'charge', captured: true, amount_captured: 1000 });
    });

    it('expands the failed charge of a decline', async () => {
      const error = await caught(
        stripe.paymentIntents.create({
          amount: 1000,
          currency: 'usd',
          payment_method: 'pm_card_chargeDeclinedInsufficientFunds',
          confirm: true,
          ...CARD_ONLY,
        }),
      );
      const intentId = error.payment_intent?.id as string;
      expect(typeof error.payment_intent?.latest_charge).toBe('string');
      const retrieved = await stripe.paymentIntents.retrieve(intentId, { expand: ['latest_charge'] });
      expect(retrieved.latest_charge).toMatchObject({
        id: error.charge,
        object: 'charge',
        status: 'failed',
        paid: false,
        captured: false,
        failure_code: 'card_declined',
        outcome: { type: 'issuer_declined', reason: 'insufficient_funds' },
      });
    });
  });
});
