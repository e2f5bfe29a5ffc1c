import Stripe from 'stripe';
import { type PspSimulator, type PspSimulatorOptions, startPspSimulator } from '../../local/psp-simulator/server';
import { caught, sleep } from '../support/stripe-calls';

// Retries of the stripe SDK after a closed connection wait ~0.5 s each.
jest.setTimeout(30_000);

const SECRET_KEY = 'sk_test_simulator_0123456789abcdefWXYZ';
const DAY = 86_400;
/** 2.9% + 30 of 2599, rounded half up: 75.371 -> 75, + 30. */
const FEE_2599 = 105;
const NET_2599 = 2599 - FEE_2599;

function clientFor(sim: PspSimulator, settings: Partial<Stripe.StripeConfig> = {}): Stripe {
  return new Stripe(SECRET_KEY, {
    host: sim.host,
    port: sim.port,
    protocol: 'http',
    maxNetworkRetries: 0,
    ...settings,
  });
}

// biome-ignore lint/suspicious/noExplicitAny: admin answers are checked field by field
type Json = any;

async function adminJson(sim: PspSimulator, method: string, path: string, body?: unknown) {
  const response = await fetch(`${sim.url}${path}`, {
    method,
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Json };
}

function amounts(entries: { amount: number; currency: string }[]): Record<string, number> {
  return Object.fromEntries(entries.map((entry) => [entry.currency, entry.amount]));
}

describe('PSP simulator: Stripe Connect for pay-out (driven by the stripe SDK)', () => {
  let sim: PspSimulator;
  let stripe: Stripe;
  /** Added to the simulator's clock (ms): moves the real clock, not the money clock's offset. */
  let shiftMs: number;
  const extraSims: PspSimulator[] = [];

  async function startExtra(opts: Partial<PspSimulatorOptions>): Promise<PspSimulator> {
    const extra = await startPspSimulator({ secretKey: SECRET_KEY, ...opts });
    extraSims.push(extra);
    return extra;
  }

  beforeEach(async () => {
    shiftMs = 0;
    sim = await startPspSimulator({ secretKey: SECRET_KEY, now: () => Date.now() + shiftMs });
    stripe = clientFor(sim);
  });

  afterEach(async () => {
    await sim.close();
    await Promise.all(extraSims.splice(0).map((extra) => extra.close()));
  });

  function createSeller(name: string, client = stripe) {
    return client.accounts.create(
      {
        type: 'custom',
        country: 'DE',
        email: `${name}@example.com`,
        default_currency: 'eur',
        capabilities: { transfers: { requested: true } },
        business_type: 'individual',
        metadata: { seller_account: name },
      },
      { idempotencyKey: `${name}:account` },
    );
  }

  async function onboardedSeller(name: string): Promise<string> {
    const account = await createSeller(name);
    const onboarded = await adminJson(sim, 'POST', `/__admin/accounts/${account.id}`, { payouts_enabled: true });
    expect(onboarded.status).toBe(200);
    return account.id;
  }

  function charge(amount: number, key: string, client = stripe) {
    return client.paymentIntents.create(
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

  async function advance(seconds: number, target = sim) {
    const response = await adminJson(target, 'POST', '/__admin/clock/advance', { seconds });
    expect(response.status).toBe(200);
    return response.body as { now: number; offset_seconds: number };
  }

  /** Charges 2599 eur and lets its funds become available: the platform has NET_2599 available per call. */
  async function fundPlatform(key: string): Promise<void> {
    await charge(2599, key);
    await advance(DAY);
  }

  function transfer(destination: string, amount: number, key: string, group = 'order_1') {
    return stripe.transfers.create(
      { amount, currency: 'eur', destination, transfer_group: group, metadata: { payout_id: key } },
      { idempotencyKey: key },
    );
  }

  function eventsOf(type: string): Stripe.Event[] {
    return sim.events().filter((event) => event.type === type);
  }

  describe('accounts', () => {
    it('creates a custom account that is not onboarded, replays it for the same key, and retrieves it', async () => {
      const account = await createSeller('seller_1');
      expect(account).toMatchObject({
        object: 'account',
        type: 'custom',
        country: 'DE',
        email: 'seller_1@example.com',
        default_currency: 'eur',
        business_type: 'individual',
        charges_enabled: false,
        payouts_enabled: false,
        details_submitted: false,
        capabilities: { transfers: 'inactive' },
        metadata: { seller_account: 'seller_1' },
        controller: { requirement_collection: 'application', stripe_dashboard: { type: 'none' } },
        external_accounts: { object: 'list', data: [] },
        settings: { payouts: { schedule: { interval: 'daily' } } },
      });
      expect(account.id).toMatch(/^acct_[A-Za-z0-9]{16}$/);
      const requirements = account.requirements as Stripe.Account.Requirements;
      expect(requirements.disabled_reason).toBe('requirements.past_due');
      expect(requirements.currently_due).toEqual(
        expect.arrayContaining(['external_account', 'tos_acceptance.date', 'individual.first_name']),
      );
      expect(requirements.past_due).toEqual(requirements.currently_due);
      expect(requirements.eventually_due).toEqual(requirements.currently_due);

      const replay = await createSeller('seller_1');
      expect(replay.id).toBe(account.id);
      expect(replay.lastResponse.headers['idempotent-replayed']).toBe('true');
      expect(sim.accounts().map((stored) => stored.id)).toEqual([account.id]);

      const mismatch = await caught(
        stripe.accounts.create({ type: 'express', country: 'DE' }, { idempotencyKey: 'seller_1:account' }),
      );
      expect(mismatch).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);

      const retrieved = await stripe.accounts.retrieve(account.id);
      expect(retrieved.id).toBe(account.id);
      expect(retrieved.requirements).toEqual(account.requirements);

      const unknown = await caught(stripe.accounts.retrieve('acct_0000000000000000'));
      expect(unknown).toBeInstanceOf(Stripe.errors.StripePermissionError);
      expect(unknown.statusCode).toBe(403);
      expect(unknown.code).toBe('account_invalid');
    });

    it('validates parameters like Stripe, creating nothing', async () => {
      for (const params of [
        { type: 'nope' },
        { type: 'custom', country: 'Germany' },
        { type: 'custom', default_currency: 'xyz' },
        { type: 'custom', nickname: 'x' },
        { type: 'custom', capabilities: { transfers: { requested: 'maybe' } } },
        { type: 'custom', external_account: 'btok_123' },
      ] as Stripe.AccountCreateParams[]) {
        const error = await caught(stripe.accounts.create(params));
        expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
        expect(error.statusCode).toBe(400);
      }
      expect(sim.accounts()).toEqual([]);
    });

    it('updates an account and emits account.updated with account and previous_attributes', async () => {
      const account = await createSeller('seller_upd');
      const updated = await stripe.accounts.update(
        account.id,
        { email: 'new@example.com', metadata: { tier: 'gold' } },
        { idempotencyKey: 'seller_upd:email' },
      );
      expect(updated.email).toBe('new@example.com');
      expect(updated.metadata).toEqual({ seller_account: 'seller_upd', tier: 'gold' });
      const [event] = eventsOf('account.updated');
      expect(event).toMatchObject({
        account: account.id,
        data: {
          object: { id: account.id, email: 'new@example.com' },
          previous_attributes: { email: 'seller_upd@example.com', metadata: { seller_account: 'seller_upd' } },
        },
        request: { idempotency_key: 'seller_upd:email' },
      });
      const countryChange = await caught(stripe.accounts.update(account.id, { country: 'FR' } as never));
      expect(countryChange.code).toBe('parameter_unknown');
    });

    it('onboards through the admin route: capabilities active, requirements cleared, a bank account, account.updated', async () => {
      const account = await createSeller('seller_admin');
      const response = await adminJson(sim, 'POST', `/__admin/accounts/${account.id}`, { payouts_enabled: true });
      expect(response.status).toBe(200);
      const onboarded = await stripe.accounts.retrieve(account.id);
      expect(onboarded).toMatchObject({
        details_submitted: true,
        charges_enabled: true,
        payouts_enabled: true,
        capabilities: { transfers: 'active' },
        requirements: { currently_due: [], past_due: [], eventually_due: [], disabled_reason: null },
      });
      const [bank] = (onboarded.external_accounts?.data ?? []) as Stripe.BankAccount[];
      expect(bank).toMatchObject({ object: 'bank_account', last4: '3000', country: 'DE', currency: 'eur' });
      expect(bank?.id).toMatch(/^ba_/);

      const [event] = eventsOf('account.updated');
      expect(event?.account).toBe(account.id);
      expect(event?.data.object).toMatchObject({ id: account.id, payouts_enabled: true });
      expect(event?.data.previous_attributes).toMatchObject({
        payouts_enabled: false,
        details_submitted: false,
        capabilities: { transfers: 'inactive' },
      });
      expect((await adminJson(sim, 'GET', '/__admin/accounts')).body).toEqual([
        expect.objectContaining({ id: account.id, payouts_enabled: true }),
      ]);

      // Admin validation.
      expect((await adminJson(sim, 'POST', `/__admin/accounts/${account.id}`, { payouts_enabled: 'yes' })).status).toBe(
        400,
      );
      expect((await adminJson(sim, 'POST', '/__admin/accounts/acct_unknown', { payouts_enabled: true })).status).toBe(
        404,
      );
      // No change, no event.
      await adminJson(sim, 'POST', `/__admin/accounts/${account.id}`, { payouts_enabled: true });
      expect(eventsOf('account.updated')).toHaveLength(1);
    });

    it('onboards through the hosted page of an Account Link, which then is used up', async () => {
      const account = await createSeller('seller_page');
      const link = await stripe.accountLinks.create(
        {
          account: account.id,
          refresh_url: 'https://market.example/onboarding/refresh',
          return_url: 'https://market.example/onboarding/done',
          type: 'account_onboarding',
        },
        { idempotencyKey: 'seller_page:link' },
      );
      expect(link.object).toBe('account_link');
      expect(link.url.startsWith(`${sim.url}/connect/onboarding/`)).toBe(true);
      expect(link.expires_at - link.created).toBe(300);

      const form = await fetch(link.url);
      expect(form.status).toBe(200);
      const html = await form.text();
      expect(html).toContain('id="onboarding-form"');
      expect(html).toContain('data-outcome="account_closed"');

      const post = (fields: Record<string, string>) =>
        fetch(link.url, {
          method: 'POST',
          body: new URLSearchParams(fields),
          redirect: 'manual',
        });
      const wrong = await post({ account_number: 'DE12 5001 0517 0648 4898 90' });
      expect(wrong.status).toBe(400);
      const wrongHtml = await wrong.text();
      expect(wrongHtml).toContain('id="error"');
      expect(wrongHtml).not.toContain('0648');
      expect((await stripe.accounts.retrieve(account.id)).details_submitted).toBe(false);

      const done = await post({ account_holder_name: 'Ada Seller', account_number: 'DE35 3704 0044 0532 0130 02' });
      expect(done.status).toBe(303);
      expect(done.headers.get('location')).toBe('https://market.example/onboarding/done');

      const onboarded = await stripe.accounts.retrieve(account.id);
      expect(onboarded).toMatchObject({
        details_submitted: true,
        charges_enabled: true,
        payouts_enabled: true,
        capabilities: { transfers: 'active' },
        requirements: { currently_due: [], disabled_reason: null },
        tos_acceptance: { date: expect.any(Number) },
      });
      expect(onboarded.external_accounts?.data).toEqual([
        expect.objectContaining({ object: 'bank_account', last4: '3002', account_holder_name: 'Ada Seller' }),
      ]);
      expect(eventsOf('account.updated').map((event) => event.account)).toEqual([account.id]);

      // The number never leaves the simulator: only its last 4 digits.
      const everything = JSON.stringify([
        sim.accounts(),
        sim.events(),
        (await adminJson(sim, 'GET', '/__admin/accounts')).body,
        await stripe.accounts.retrieve(account.id),
      ]);
      expect(everything).not.toContain('370400440532013002');
      expect(everything).not.toContain('0532013002');

      // Used: a second visit or submission shows the error page with the refresh link.
      for (const again of [await fetch(link.url), await post({ account_number: 'DE89370400440532013000' })]) {
        expect(again.status).toBe(410);
        const text = await again.text();
        expect(text).toContain('data-status="used"');
        expect(text).toContain('https://market.example/onboarding/refresh');
      }
      expect((await fetch(`${sim.url}/connect/onboarding/nope`)).status).toBe(404);
    });

    it('shows an expired Account Link as an error page', async () => {
      const account = await createSeller('seller_late');
      const link = await stripe.accountLinks.create({
        account: account.id,
        refresh_url: 'https://market.example/refresh',
        return_url: 'https://market.example/done',
        type: 'account_onboarding',
      });
      shiftMs = 301_000;
      const expired = await fetch(link.url);
      expect(expired.status).toBe(410);
      expect(await expired.text()).toContain('data-status="expired"');
      expect((await stripe.accounts.retrieve(account.id)).details_submitted).toBe(false);

      const missing = await caught(
        stripe.accountLinks.create({
          account: 'acct_nope',
          refresh_url: 'https://market.example/refresh',
          return_url: 'https://market.example/done',
          type: 'account_onboarding',
        }),
      );
      expect(missing.code).toBe('resource_missing');
      expect(missing.param).toBe('account');
    });
  });

  describe('charges and balances', () => {
    it('books a pending charge transaction with the fee; after clock/advance it is available, with balance.available', async () => {
      const pi = await charge(2599, 'pay_1');
      const ch = await stripe.charges.retrieve(pi.latest_charge as string);
      expect(ch.balance_transaction).toMatch(/^txn_/);
      const txn = await stripe.balanceTransactions.retrieve(ch.balance_transaction as string);
      expect(txn).toMatchObject({
        object: 'balance_transaction',
        amount: 2599,
        currency: 'eur',
        fee: FEE_2599,
        net: NET_2599,
        type: 'charge',
        reporting_category: 'charge',
        source: ch.id,
        status: 'pending',
        description: 'Order pay_1',
        fee_details: [{ amount: FEE_2599, currency: 'eur', type: 'stripe_fee', application: null }],
      });
      expect(txn.available_on).toBe(txn.created + DAY);
      expect(amounts((await stripe.balance.retrieve()).pending)).toEqual({ eur: NET_2599 });
      expect(amounts((await stripe.balance.retrieve()).available)).toEqual({ eur: 0 });

      // The charge's events name it too.
      expect(eventsOf('charge.succeeded')[0]?.data.object).toMatchObject({ balance_transaction: txn.id });
      const expanded = await stripe.paymentIntents.retrieve(pi.id, { expand: ['latest_charge.balance_transaction'] });
      expect(((expanded.latest_charge as Stripe.Charge).balance_transaction as Stripe.BalanceTransaction).fee).toBe(
        FEE_2599,
      );

      // 30 s short of a day: real time moves the simulator's clock too, and a busy machine may take seconds here.
      expect(await advance(DAY - 30)).toEqual({ now: expect.any(Number), offset_seconds: DAY - 30 });
      expect((await stripe.balanceTransactions.retrieve(txn.id)).status).toBe('pending');
      expect(eventsOf('balance.available')).toEqual([]);

      const clock = await advance(30);
      expect(clock.offset_seconds).toBe(DAY);
      expect(clock.now).toBeGreaterThanOrEqual(txn.available_on);
      expect((await stripe.balanceTransactions.retrieve(txn.id)).status).toBe('available');
      const balance = await stripe.balance.retrieve();
      expect(amounts(balance.available)).toEqual({ eur: NET_2599 });
      expect(amounts(balance.pending)).toEqual({ eur: 0 });
      expect(balance.available[0]?.source_types).toEqual({ card: NET_2599 });

      const [available] = eventsOf('balance.available');
      expect(available?.account).toBeUndefined();
      expect(available?.created).toBe(txn.available_on);
      expect(available?.data.object).toMatchObject({
        object: 'balance',
        available: [{ amount: NET_2599, currency: 'eur' }],
      });
      expect((await adminJson(sim, 'GET', '/__admin/clock')).body).toEqual(clock);
    });

    it('uses the fee schedule and availability delay options, and admin settings change them at runtime', async () => {
      const custom = await startExtra({
        feeSchedule: { eur: { percent: 1.5, fixed: 25 } },
        availabilityDelaySeconds: 3600,
      });
      const client = clientFor(custom);
      // 1.5% of 1100 = 16.5, rounded half up to 17; + 25.
      const pi = await charge(1100, 'fee_1', client);
      const [txn] = custom.balanceTransactions(null);
      expect(txn).toMatchObject({ amount: 1100, fee: 42, net: 1058, source: pi.latest_charge, status: 'pending' });
      expect((txn?.available_on ?? 0) - (txn?.created ?? 0)).toBe(3600);
      // Another currency falls back to Stripe's default rate: 2.9% of 1000 = 29, + 30.
      await client.paymentIntents.create({
        amount: 1000,
        currency: 'usd',
        payment_method: 'pm_card_visa',
        confirm: true,
        automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
      });
      expect(custom.balanceTransactions(null)[1]).toMatchObject({ currency: 'usd', fee: 59 });
      expect(amounts(custom.balance().pending)).toEqual({ eur: 1058, usd: 941 });

      expect((await adminJson(custom, 'GET', '/__admin/settings')).body).toEqual({
        store_500s: true,
        availability_delay_seconds: 3600,
        fee_schedule: { eur: { percent: 1.5, fixed: 25 } },
      });
      const set = await adminJson(custom, 'POST', '/__admin/settings', {
        availability_delay_seconds: 0,
        fee_schedule: { default: { percent: 0, fixed: 10 } },
      });
      expect(set).toEqual({
        status: 200,
        body: { store_500s: true, availability_delay_seconds: 0, fee_schedule: { default: { percent: 0, fixed: 10 } } },
      });
      await charge(500, 'fee_2', client);
      expect(custom.balanceTransactions(null)[2]).toMatchObject({ fee: 10, status: 'available' });

      for (const invalid of [
        { availability_delay_seconds: -1 },
        { payout_arrival_seconds: 1.5 },
        { fee_schedule: { EUR: { percent: 1, fixed: 1 } } },
        { fee_schedule: { eur: { percent: 101, fixed: 1 } } },
        { nope: 1 },
      ]) {
        expect((await adminJson(custom, 'POST', '/__admin/settings', invalid)).status).toBe(400);
      }
      expect((await adminJson(custom, 'GET', '/__admin/settings/connect')).body).toEqual({
        availability_delay_seconds: 0,
        payout_in_transit_seconds: 60,
        payout_arrival_seconds: DAY,
        fee_schedule: { default: { percent: 0, fixed: 10 } },
      });
      custom.reset();
      expect(custom.connectSettings()).toMatchObject({
        availabilityDelaySeconds: 3600,
        feeSchedule: { eur: { fixed: 25 } },
      });
      expect(() => custom.setConnectSettings({ payoutArrivalSeconds: -5 })).toThrow('payoutArrivalSeconds');
    });

    it('books a manual capture when it is captured, not when it is authorized', async () => {
      const pi = await stripe.paymentIntents.create({
        amount: 5000,
        currency: 'eur',
        payment_method: 'pm_card_visa',
        confirm: true,
        capture_method: 'manual',
        automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
      });
      expect((await stripe.charges.retrieve(pi.latest_charge as string)).balance_transaction).toBeNull();
      expect(sim.balanceTransactions()).toEqual([]);
      await stripe.paymentIntents.capture(pi.id, { amount_to_capture: 4000 });
      const ch = await stripe.charges.retrieve(pi.latest_charge as string, { expand: ['balance_transaction'] });
      // 2.9% of 4000 = 116, + 30.
      expect(ch.balance_transaction).toMatchObject({ amount: 4000, fee: 146, net: 3854, type: 'charge' });
    });

    it('the sweep makes funds available as they fall due, without a request', async () => {
      const quick = await startExtra({ availabilityDelaySeconds: 1, moneySweepMs: 20 });
      await charge(2599, 'sweep_1', clientFor(quick));
      const deadline = Date.now() + 5000;
      while (quick.events().every((event) => event.type !== 'balance.available') && Date.now() < deadline) {
        await sleep(50);
      }
      expect(quick.balanceTransactions(null)[0]?.status).toBe('available');
      expect(amounts(quick.balance().available)).toEqual({ eur: NET_2599 });
    });

    it('lists balance transactions newest first with filters, per account', async () => {
      const seller = await onboardedSeller('seller_list');
      await fundPlatform('list_1');
      const sent = await transfer(seller, 1000, 'list_tr');
      const platform = await stripe.balanceTransactions.list();
      expect(platform.data.map((txn) => txn.type)).toEqual(['transfer', 'charge']);
      expect((await stripe.balanceTransactions.list({ type: 'charge' })).data).toHaveLength(1);
      expect((await stripe.balanceTransactions.list({ source: sent.id })).data.map((txn) => txn.amount)).toEqual([
        -1000,
      ]);
      const own = await stripe.balanceTransactions.list({}, { stripeAccount: seller });
      expect(own.data.map((txn) => [txn.type, txn.amount])).toEqual([['payment', 1000]]);
      // Another account's transaction does not exist for this one.
      const other = await caught(
        stripe.balanceTransactions.retrieve(platform.data[0]?.id as string, {}, { stripeAccount: seller }),
      );
      expect(other.statusCode).toBe(404);
      expect((await adminJson(sim, 'GET', `/__admin/balance_transactions?account=${seller}`)).body).toEqual([
        expect.objectContaining({ account: seller, type: 'payment', amount: 1000 }),
      ]);
      expect((await adminJson(sim, 'GET', '/__admin/balance_transactions?account=platform')).body).toHaveLength(2);
      expect((await adminJson(sim, 'GET', '/__admin/balance_transactions')).body).toHaveLength(3);
    });
  });

  describe('transfers', () => {
    it('moves available platform funds to an onboarded account: balance transactions on both sides, transfer.created', async () => {
      const seller = await onboardedSeller('seller_tr');
      await fundPlatform('tr_fund');
      const sent = await transfer(seller, 1000, 'payout_1:transfer');
      expect(sent).toMatchObject({
        object: 'transfer',
        amount: 1000,
        amount_reversed: 0,
        currency: 'eur',
        destination: seller,
        reversed: false,
        transfer_group: 'order_1',
        source_transaction: null,
        metadata: { payout_id: 'payout_1:transfer' },
        reversals: { object: 'list', data: [], has_more: false },
      });
      expect(sent.id).toMatch(/^tr_/);
      expect(sent.destination_payment).toMatch(/^py_/);

      const platformTxn = await stripe.balanceTransactions.retrieve(sent.balance_transaction as string);
      expect(platformTxn).toMatchObject({
        amount: -1000,
        fee: 0,
        net: -1000,
        type: 'transfer',
        reporting_category: 'transfer',
        source: sent.id,
        status: 'available',
      });
      const [received] = (await stripe.balanceTransactions.list({}, { stripeAccount: seller })).data;
      expect(received).toMatchObject({
        amount: 1000,
        type: 'payment',
        reporting_category: 'charge',
        source: sent.destination_payment,
        status: 'available',
      });
      expect(amounts((await stripe.balance.retrieve()).available)).toEqual({ eur: NET_2599 - 1000 });
      expect(amounts((await stripe.balance.retrieve({}, { stripeAccount: seller })).available)).toEqual({ eur: 1000 });

      const [created] = eventsOf('transfer.created');
      expect(created?.account).toBeUndefined();
      expect(created?.data.object).toMatchObject({ id: sent.id, amount: 1000 });
      expect(created?.request).toEqual({ id: expect.stringMatching(/^req_/), idempotency_key: 'payout_1:transfer' });
      expect((await adminJson(sim, 'GET', '/__admin/transfers')).body).toEqual([
        expect.objectContaining({ id: sent.id }),
      ]);
    });

    it('refuses a transfer the available balance cannot cover (balance_insufficient), pending funds included; the error is stored', async () => {
      const seller = await onboardedSeller('seller_short');
      await charge(2599, 'short_1');
      const pending = await caught(transfer(seller, 1000, 'short:transfer'));
      expect(pending).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      expect(pending.statusCode).toBe(400);
      expect(pending.type).toBe('StripeInvalidRequestError');
      expect(pending.raw).toMatchObject({ type: 'invalid_request_error', code: 'balance_insufficient' });

      // Executed: the answer is stored under the key, and replayed even once funds are available.
      await advance(DAY);
      const replayed = await caught(transfer(seller, 1000, 'short:transfer'));
      expect(replayed.code).toBe('balance_insufficient');
      expect(replayed.headers?.['idempotent-replayed']).toBe('true');

      const tooMuch = await caught(transfer(seller, NET_2599 + 1, 'short:transfer:2'));
      expect(tooMuch.code).toBe('balance_insufficient');
      expect(sim.transfers()).toEqual([]);
      expect((await transfer(seller, NET_2599, 'short:transfer:3')).amount).toBe(NET_2599);
    });

    it('refuses a destination without an active transfers capability (transfers_not_allowed) or unknown (resource_missing)', async () => {
      await fundPlatform('cap_fund');
      const fresh = await createSeller('seller_fresh');
      const notOnboarded = await caught(transfer(fresh.id, 100, 'cap:1'));
      expect(notOnboarded.code).toBe('transfers_not_allowed');
      expect(notOnboarded.statusCode).toBe(400);

      const seller = await onboardedSeller('seller_blocked');
      const blocked = await adminJson(sim, 'POST', `/__admin/accounts/${seller}`, { transfers_enabled: false });
      expect(blocked.body.capabilities).toEqual({ transfers: 'inactive' });
      expect((await caught(transfer(seller, 100, 'cap:2'))).code).toBe('transfers_not_allowed');
      await adminJson(sim, 'POST', `/__admin/accounts/${seller}`, { transfers_enabled: true });
      expect((await transfer(seller, 100, 'cap:3')).amount).toBe(100);

      const unknown = await caught(transfer('acct_nobody', 100, 'cap:4'));
      expect(unknown.code).toBe('resource_missing');
      expect(unknown.param).toBe('destination');
      expect(unknown.statusCode).toBe(400);
      expect(sim.transfers()).toHaveLength(1);
    });

    it('replays a transfer for the same key (one transfer) and refuses the key with other parameters', async () => {
      const seller = await onboardedSeller('seller_idem');
      await fundPlatform('idem_fund');
      const first = await transfer(seller, 700, 'payout_7:transfer');
      const again = await transfer(seller, 700, 'payout_7:transfer');
      expect(again.id).toBe(first.id);
      expect(again.lastResponse.headers['idempotent-replayed']).toBe('true');
      const mismatch = await caught(transfer(seller, 701, 'payout_7:transfer'));
      expect(mismatch).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
      expect(sim.transfers().map((t) => t.id)).toEqual([first.id]);
      expect(sim.balanceTransactions(null).filter((txn) => txn.type === 'transfer')).toHaveLength(1);
      expect(amounts(sim.balance(seller).available)).toEqual({ eur: 700 });
    });

    it('lists transfers newest first, by transfer_group and destination', async () => {
      const one = await onboardedSeller('seller_g1');
      const two = await onboardedSeller('seller_g2');
      await fundPlatform('group_fund');
      const a1 = await transfer(one, 100, 'g:1', 'order_A');
      const b1 = await transfer(two, 200, 'g:2', 'order_B');
      const a2 = await transfer(two, 300, 'g:3', 'order_A');
      const groupA = await stripe.transfers.list({ transfer_group: 'order_A', limit: 100 });
      expect(groupA.data.map((t) => t.id)).toEqual([a2.id, a1.id]);
      expect(groupA.url).toBe('/v1/transfers');
      expect((await stripe.transfers.list({ destination: two })).data.map((t) => t.id)).toEqual([a2.id, b1.id]);
      const paged = await stripe.transfers.list({ limit: 1, starting_after: a2.id });
      expect(paged.data.map((t) => t.id)).toEqual([b1.id]);
      expect(paged.has_more).toBe(true);
      expect((await stripe.transfers.retrieve(b1.id)).amount).toBe(200);
      const missing = await caught(stripe.transfers.retrieve('tr_nope'));
      expect(missing.statusCode).toBe(404);
    });

    it('reverses a transfer partially then fully: money back, both sides booked, transfer.reversed and transfer.updated', async () => {
      const seller = await onboardedSeller('seller_rev');
      await fundPlatform('rev_fund');
      const sent = await transfer(seller, 1000, 'rev:transfer');
      const partial = await stripe.transfers.createReversal(
        sent.id,
        { amount: 400, metadata: { reason: 'refund' } },
        { idempotencyKey: 'rev:1' },
      );
      expect(partial).toMatchObject({
        object: 'transfer_reversal',
        amount: 400,
        currency: 'eur',
        transfer: sent.id,
        metadata: { reason: 'refund' },
        source_refund: null,
      });
      expect(partial.id).toMatch(/^trr_/);
      expect(partial.destination_payment_refund).toMatch(/^pyr_/);
      const afterPartial = await stripe.transfers.retrieve(sent.id);
      expect(afterPartial).toMatchObject({ amount_reversed: 400, reversed: false });
      expect(afterPartial.reversals.data.map((r) => r.id)).toEqual([partial.id]);
      expect(await stripe.balanceTransactions.retrieve(partial.balance_transaction as string)).toMatchObject({
        amount: 400,
        type: 'transfer_refund',
        reporting_category: 'transfer_reversal',
        source: partial.id,
      });
      const [refunded] = (await stripe.balanceTransactions.list({}, { stripeAccount: seller })).data;
      expect(refunded).toMatchObject({
        amount: -400,
        type: 'payment_refund',
        source: partial.destination_payment_refund,
      });
      expect(amounts(sim.balance(seller).available)).toEqual({ eur: 600 });
      expect(amounts(sim.balance().available)).toEqual({ eur: NET_2599 - 600 });

      const rest = await stripe.transfers.createReversal(sent.id, {}, { idempotencyKey: 'rev:2' });
      expect(rest.amount).toBe(600);
      expect(await stripe.transfers.retrieve(sent.id)).toMatchObject({ amount_reversed: 1000, reversed: true });
      const listed = await stripe.transfers.listReversals(sent.id);
      expect(listed.data.map((r) => r.id)).toEqual([rest.id, partial.id]);
      expect(amounts(sim.balance(seller).available)).toEqual({ eur: 0 });

      const none = await caught(stripe.transfers.createReversal(sent.id, { amount: 1 }));
      expect(none.statusCode).toBe(400);
      expect(eventsOf('transfer.reversed')).toHaveLength(2);
      const updates = eventsOf('transfer.updated');
      expect(updates.map((event) => event.data.previous_attributes)).toEqual([
        expect.objectContaining({ amount_reversed: 0 }),
        expect.objectContaining({ amount_reversed: 400, reversed: false }),
      ]);
    });

    it('refuses a reversal the connected account cannot cover (balance_insufficient)', async () => {
      const seller = await onboardedSeller('seller_spent');
      await fundPlatform('spent_fund');
      const sent = await transfer(seller, 1000, 'spent:transfer');
      await stripe.payouts.create({ amount: 800, currency: 'eur' }, { stripeAccount: seller, idempotencyKey: 'po:1' });
      const error = await caught(stripe.transfers.createReversal(sent.id, { amount: 500 }, { idempotencyKey: 'r:1' }));
      expect(error.code).toBe('balance_insufficient');
      expect((await stripe.transfers.retrieve(sent.id)).amount_reversed).toBe(0);
      expect((await stripe.transfers.createReversal(sent.id, { amount: 200 })).amount).toBe(200);
    });
  });

  describe('payouts', () => {
    async function fundedSeller(name: string, amount = 1000): Promise<string> {
      const seller = await onboardedSeller(name);
      await fundPlatform(`${name}:fund`);
      await transfer(seller, amount, `${name}:transfer`);
      return seller;
    }

    function payout(seller: string, amount: number, key: string) {
      return stripe.payouts.create(
        { amount, currency: 'eur', description: 'Payout', metadata: { payout_id: key } },
        { stripeAccount: seller, idempotencyKey: key },
      );
    }

    it('goes pending -> in_transit -> paid on the money clock, with events carrying the account', async () => {
      const seller = await fundedSeller('seller_po');
      const created = await payout(seller, 700, 'po_1');
      expect(created).toMatchObject({
        object: 'payout',
        amount: 700,
        currency: 'eur',
        status: 'pending',
        automatic: false,
        method: 'standard',
        type: 'bank_account',
        failure_code: null,
        metadata: { payout_id: 'po_1' },
      });
      expect(created.id).toMatch(/^po_/);
      expect(created.arrival_date).toBe(created.created + DAY);
      expect(created.destination).toMatch(/^ba_/);
      expect(
        await stripe.balanceTransactions.retrieve(created.balance_transaction as string, {}, { stripeAccount: seller }),
      ).toMatchObject({ amount: -700, type: 'payout', reporting_category: 'payout', source: created.id });
      expect(amounts((await stripe.balance.retrieve({}, { stripeAccount: seller })).available)).toEqual({ eur: 300 });

      const status = async () => (await stripe.payouts.retrieve(created.id, {}, { stripeAccount: seller })).status;
      await advance(59);
      expect(await status()).toBe('pending');
      await advance(1);
      expect(await status()).toBe('in_transit');
      await advance(DAY - 61);
      expect(await status()).toBe('in_transit');
      await advance(1);
      const paid = await stripe.payouts.retrieve(created.id, {}, { stripeAccount: seller });
      expect(paid).toMatchObject({ status: 'paid', trace_id: { status: 'supported' } });

      const events = sim.events().filter((event) => event.type.startsWith('payout.'));
      expect(events.map((event) => [event.type, event.account, (event.data.object as Stripe.Payout).status])).toEqual([
        ['payout.created', seller, 'pending'],
        ['payout.updated', seller, 'in_transit'],
        ['payout.paid', seller, 'paid'],
        ['payout.updated', seller, 'paid'],
      ]);
      expect(events[1]?.data.previous_attributes).toEqual({ status: 'pending' });
      expect(events[2]?.created).toBe(created.arrival_date);
      expect(amounts(sim.balance(seller).available)).toEqual({ eur: 300 });

      // The account's view: its payouts and its events; the platform sees neither.
      const listed = await stripe.payouts.list({ created: { gte: created.created } }, { stripeAccount: seller });
      expect(listed.data.map((p) => p.id)).toEqual([created.id]);
      expect((await stripe.payouts.list({ status: 'pending' }, { stripeAccount: seller })).data).toEqual([]);
      const accountEvents = await stripe.events.list({ limit: 100 }, { stripeAccount: seller });
      expect(new Set(accountEvents.data.map((event) => event.account))).toEqual(new Set([seller]));
      expect(accountEvents.data.map((event) => event.type)).toContain('payout.paid');
      const platformEvents = await stripe.events.list({ limit: 100 });
      expect(platformEvents.data.some((event) => event.type.startsWith('payout.'))).toBe(false);
      expect(platformEvents.data.some((event) => event.type === 'transfer.created')).toBe(true);
      const other = await onboardedSeller('seller_other');
      const hidden = await caught(stripe.payouts.retrieve(created.id, {}, { stripeAccount: other }));
      expect(hidden.statusCode).toBe(404);
      expect((await adminJson(sim, 'GET', `/__admin/payouts?account=${seller}`)).body).toEqual([
        expect.objectContaining({ id: created.id, account: seller, status: 'paid' }),
      ]);
    });

    it('refuses a payout of an account whose payouts are disabled (payouts_not_allowed) or short (balance_insufficient)', async () => {
      const seller = await fundedSeller('seller_off');
      const disabled = await adminJson(sim, 'POST', `/__admin/accounts/${seller}`, { payouts_enabled: false });
      expect(disabled.body).toMatchObject({
        payouts_enabled: false,
        requirements: { disabled_reason: 'requirements.past_due', currently_due: ['individual.verification.document'] },
      });
      const event = eventsOf('account.updated').at(-1);
      expect(event?.data.previous_attributes).toMatchObject({ payouts_enabled: true });

      const refused = await caught(payout(seller, 100, 'off:1'));
      expect(refused).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      expect(refused.statusCode).toBe(400);
      expect(refused.code).toBe('payouts_not_allowed');

      const fresh = await createSeller('seller_fresh_po');
      expect((await caught(payout(fresh.id, 100, 'off:2'))).code).toBe('payouts_not_allowed');

      await adminJson(sim, 'POST', `/__admin/accounts/${seller}`, { payouts_enabled: true });
      const short = await caught(payout(seller, 1001, 'off:3'));
      expect(short.code).toBe('balance_insufficient');
      expect(sim.payouts()).toEqual([]);
      const onPlatform = await caught(stripe.payouts.create({ amount: 100, currency: 'eur' }));
      expect(onPlatform.statusCode).toBe(400);
    });

    it('fails with the admin payout_failure_code: failure transaction, money back to the account, payout.failed', async () => {
      const seller = await fundedSeller('seller_fail');
      await adminJson(sim, 'POST', `/__admin/accounts/${seller}`, { payout_failure_code: 'account_closed' });
      const created = await payout(seller, 600, 'fail:1');
      expect(amounts(sim.balance(seller).available)).toEqual({ eur: 400 });
      await advance(DAY);
      const failed = await stripe.payouts.retrieve(created.id, {}, { stripeAccount: seller });
      expect(failed).toMatchObject({
        status: 'failed',
        failure_code: 'account_closed',
        failure_message: 'The bank account has been closed.',
      });
      const failureTxn = await stripe.balanceTransactions.retrieve(
        failed.failure_balance_transaction as string,
        {},
        { stripeAccount: seller },
      );
      expect(failureTxn).toMatchObject({
        amount: 600,
        type: 'payout_failure',
        reporting_category: 'payout_reversal',
        source: created.id,
        status: 'available',
      });
      expect(amounts(sim.balance(seller).available)).toEqual({ eur: 1000 });
      const [event] = eventsOf('payout.failed');
      expect(event).toMatchObject({ account: seller, data: { object: { id: created.id, status: 'failed' } } });

      // Cleared: the bank (a succeeding test number) decides again.
      await adminJson(sim, 'POST', `/__admin/accounts/${seller}`, { payout_failure_code: null });
      const next = await payout(seller, 100, 'fail:2');
      await advance(DAY);
      expect((await stripe.payouts.retrieve(next.id, {}, { stripeAccount: seller })).status).toBe('paid');
    });

    it('fails as the bank test number decides (an external_account with the no_account number)', async () => {
      const account = await createSeller('seller_bank');
      await stripe.accounts.update(account.id, {
        external_account: {
          object: 'bank_account',
          country: 'DE',
          currency: 'eur',
          account_number: 'DE62370400440532013001',
        },
      });
      await adminJson(sim, 'POST', `/__admin/accounts/${account.id}`, { payouts_enabled: true });
      const banks = (await stripe.accounts.retrieve(account.id)).external_accounts?.data as Stripe.BankAccount[];
      expect(banks.map((bank) => bank.last4)).toEqual(['3001']);
      await fundPlatform('bank:fund');
      await transfer(account.id, 500, 'bank:transfer');
      const created = await payout(account.id, 500, 'bank:1');
      await advance(DAY);
      const failed = await stripe.payouts.retrieve(created.id, {}, { stripeAccount: account.id });
      expect(failed).toMatchObject({ status: 'failed', failure_code: 'no_account' });
      expect(failed.failure_message).toContain('No bank account could be located');
      expect(JSON.stringify([sim.accounts(), sim.events()])).not.toContain('DE62370400440532013001');
    });

    it('a paid payout can turn failed later (admin), returning the money', async () => {
      const seller = await fundedSeller('seller_late');
      const created = await payout(seller, 1000, 'late:1');
      await advance(DAY);
      expect((await stripe.payouts.retrieve(created.id, {}, { stripeAccount: seller })).status).toBe('paid');
      expect(amounts(sim.balance(seller).available)).toEqual({ eur: 0 });

      const failed = await adminJson(sim, 'POST', `/__admin/payouts/${created.id}/fail`, {
        failure_code: 'account_closed',
      });
      expect(failed.status).toBe(200);
      expect(failed.body).toMatchObject({
        id: created.id,
        account: seller,
        status: 'failed',
        failure_code: 'account_closed',
      });
      expect(amounts(sim.balance(seller).available)).toEqual({ eur: 1000 });
      expect(eventsOf('payout.failed').map((event) => [event.account, event.data.previous_attributes])).toEqual([
        [seller, undefined],
      ]);
      expect(eventsOf('payout.updated').at(-1)?.data.previous_attributes).toMatchObject({ status: 'paid' });

      expect(
        (await adminJson(sim, 'POST', `/__admin/payouts/${created.id}/fail`, { failure_code: 'no_account' })).status,
      ).toBe(409);
      expect(
        (await adminJson(sim, 'POST', `/__admin/payouts/${created.id}/fail`, { failure_code: 'nope' })).status,
      ).toBe(400);
      expect(
        (await adminJson(sim, 'POST', '/__admin/payouts/po_nope/fail', { failure_code: 'no_account' })).status,
      ).toBe(404);
    });

    it('cancels a pending payout (money back, payout.canceled), not one in transit', async () => {
      const seller = await fundedSeller('seller_cancel');
      const first = await payout(seller, 300, 'cancel:1');
      const canceled = await stripe.payouts.cancel(first.id, {}, { stripeAccount: seller });
      expect(canceled.status).toBe('canceled');
      expect(
        await stripe.balanceTransactions.retrieve(
          canceled.failure_balance_transaction as string,
          {},
          { stripeAccount: seller },
        ),
      ).toMatchObject({ amount: 300, type: 'payout_cancel', reporting_category: 'payout_reversal' });
      expect(amounts(sim.balance(seller).available)).toEqual({ eur: 1000 });
      expect(eventsOf('payout.canceled').map((event) => event.account)).toEqual([seller]);

      const second = await payout(seller, 300, 'cancel:2');
      await advance(60);
      const late = await caught(stripe.payouts.cancel(second.id, {}, { stripeAccount: seller }));
      expect(late.statusCode).toBe(400);
      expect((await stripe.payouts.retrieve(second.id, {}, { stripeAccount: seller })).status).toBe('in_transit');
    });

    it('scopes idempotency keys per account, as Stripe does', async () => {
      const one = await fundedSeller('seller_k1');
      const two = await onboardedSeller('seller_k2');
      await transfer(two, 500, 'k2:transfer');
      const a = await payout(one, 100, 'same-key');
      const b = await payout(two, 100, 'same-key');
      expect(b.id).not.toBe(a.id);
      expect(b.lastResponse.headers['idempotent-replayed']).toBeUndefined();
      // The same key on the platform, on another endpoint, is no conflict either.
      await transfer(two, 10, 'same-key');
      expect((await payout(one, 100, 'same-key')).id).toBe(a.id);
      expect(sim.payouts()).toHaveLength(2);
    });
  });

  describe('Stripe-Account header', () => {
    it('refuses an unknown account (403 account_invalid) and endpoints that do not model it', async () => {
      const unknown = await caught(stripe.balance.retrieve({}, { stripeAccount: 'acct_0000000000000000' }));
      expect(unknown).toBeInstanceOf(Stripe.errors.StripePermissionError);
      expect(unknown.code).toBe('account_invalid');
      expect(unknown.message).toContain("'acct_0000000000000000'");

      const seller = await createSeller('seller_hdr');
      const direct = await caught(charge(1000, 'direct', clientFor(sim, { stripeAccount: seller.id })));
      expect(direct.statusCode).toBe(400);
      expect(sim.charges()).toEqual([]);
      const current = await stripe.accounts.retrieveCurrent({}, { stripeAccount: seller.id });
      expect(current.id).toBe(seller.id);
    });
  });

  describe('faults', () => {
    it('a targeted lost fault on POST /v1/transfers executes the transfer and drops the response; a retry replays it', async () => {
      const seller = await onboardedSeller('seller_lost');
      await fundPlatform('lost_fund');
      // Two: the SDK retries a closed connection once by itself (same key).
      const target = await adminJson(sim, 'POST', '/__admin/faults/next', {
        path: '/v1/transfers',
        method: 'POST',
        fault: 'lost',
        count: 2,
      });
      expect(target).toEqual({
        status: 200,
        body: [{ path: '/v1/transfers', method: 'POST', fault: 'lost', count: 2 }],
      });
      expect((await adminJson(sim, 'GET', '/__admin/faults')).body.next).toEqual(target.body);

      // Other endpoints are not hit.
      await stripe.accounts.update(seller, { metadata: { note: 'x' } });
      const error = await caught(transfer(seller, 500, 'lost:transfer'));
      expect(error).toBeInstanceOf(Stripe.errors.StripeConnectionError);
      expect(sim.transfers()).toHaveLength(1);
      expect(sim.targetedFaults()).toEqual([]);

      const retry = await transfer(seller, 500, 'lost:transfer');
      expect(retry.id).toBe(sim.transfers()[0]?.id);
      expect(retry.lastResponse.headers['idempotent-replayed']).toBe('true');
      expect(sim.transfers()).toHaveLength(1);
      expect(amounts(sim.balance(seller).available)).toEqual({ eur: 500 });
      expect(sim.injectedFaults()).toEqual([
        expect.objectContaining({
          fault: 'lost',
          source: 'targeted',
          path: '/v1/transfers',
          idempotency_key: 'lost:transfer',
        }),
        expect.objectContaining({
          fault: 'lost',
          source: 'targeted',
          path: '/v1/transfers',
          idempotency_key: 'lost:transfer',
        }),
      ]);
    });

    it('a targeted fault with params hits only the requests with those parameter values', async () => {
      const aimed = await onboardedSeller('seller_aimed');
      const other = await onboardedSeller('seller_other');
      await fundPlatform('aimed_fund');
      sim.injectFault({ path: '/v1/transfers', fault: 'error500', params: { destination: aimed } });
      // Another seller's transfer passes untouched and leaves the rule in place.
      await transfer(other, 100, 'aimed:other');
      expect(sim.targetedFaults()).toHaveLength(1);
      const failed = await caught(transfer(aimed, 100, 'aimed:aimed'));
      expect(failed.statusCode).toBe(500);
      expect(sim.targetedFaults()).toEqual([]);
      expect(sim.transfers().map((t) => t.destination)).toEqual([other]);
      for (const invalid of [
        { path: '/v1/transfers', fault: 'lost', params: {} },
        { path: '/v1/transfers', fault: 'lost', params: { amount: 100 } },
        { path: '/v1/transfers', fault: 'lost', params: 'destination' },
      ]) {
        const refused = await adminJson(sim, 'POST', '/__admin/faults/next', invalid);
        expect(refused.status).toBe(400);
        expect(JSON.stringify(refused.body)).toContain('params');
      }
    });

    it('targeted faults: error500 stored under the key, wildcard paths, validation, cleared by DELETE and reset', async () => {
      const seller = await fundedSellerFor('seller_t500');
      sim.injectFault({ path: '/v1/payouts', fault: 'error500' });
      const failed = await caught(
        stripe.payouts.create({ amount: 100, currency: 'eur' }, { stripeAccount: seller, idempotencyKey: 't500' }),
      );
      expect(failed).toBeInstanceOf(Stripe.errors.StripeAPIError);
      expect(failed.statusCode).toBe(500);
      expect(sim.payouts()).toEqual([]);
      const replayed = await caught(
        stripe.payouts.create({ amount: 100, currency: 'eur' }, { stripeAccount: seller, idempotencyKey: 't500' }),
      );
      expect(replayed.headers?.['idempotent-replayed']).toBe('true');

      sim.injectFault({ path: '/v1/transfers/*/reversals', fault: 'ratelimit', count: 3 });
      expect(sim.targetedFaults()).toEqual([
        { path: '/v1/transfers/*/reversals', method: 'POST', fault: 'ratelimit', count: 3 },
      ]);
      const [sent] = sim.transfers();
      const limited = await caught(stripe.transfers.createReversal(sent?.id as string, { amount: 1 }));
      expect(limited).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
      expect(sim.targetedFaults()[0]?.count).toBe(2);

      for (const invalid of [
        { fault: 'lost' },
        { path: '/v1/transfers', fault: 'meteor' },
        { path: '/v1/transfers', fault: 'lost', count: 0 },
        { path: '/v1/transfers', fault: 'latency' },
        { path: '/v1/transfers', fault: 'lost', method: 'PUT' },
      ]) {
        expect((await adminJson(sim, 'POST', '/__admin/faults/next', invalid)).status).toBe(400);
      }
      expect((await adminJson(sim, 'DELETE', '/__admin/faults')).body).not.toHaveProperty('next');
      expect(sim.targetedFaults()).toEqual([]);
      sim.injectFault({ path: '/v1/transfers', fault: 'lost' });
      sim.reset();
      expect(sim.targetedFaults()).toEqual([]);
    });

    it('rate-based faults apply to Connect endpoints too', async () => {
      sim.setFaults({ ratelimit_rate: 1 });
      const limited = await caught(createSeller('seller_rate'));
      expect(limited).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
      expect(sim.accounts()).toEqual([]);
      sim.setFaults({ edge_rate: 1, seed: 3 });
      const edge = await caught(createSeller('seller_rate'));
      expect(edge).toBeInstanceOf(Stripe.errors.StripeAPIError);
      sim.setFaults({});
      expect((await createSeller('seller_rate')).id).toMatch(/^acct_/);
    });

    async function fundedSellerFor(name: string): Promise<string> {
      const seller = await onboardedSeller(name);
      await fundPlatform(`${name}:fund`);
      await transfer(seller, 1000, `${name}:transfer`);
      return seller;
    }
  });

  it('reset forgets accounts, transfers, payouts, balances and the money clock offset', async () => {
    const seller = await onboardedSeller('seller_reset');
    await fundPlatform('reset_fund');
    await transfer(seller, 100, 'reset:transfer');
    await stripe.payouts.create({ amount: 100, currency: 'eur' }, { stripeAccount: seller });
    expect(sim.moneyClock().offset_seconds).toBe(DAY);

    expect((await adminJson(sim, 'POST', '/__admin/reset')).status).toBe(200);
    expect(sim.accounts()).toEqual([]);
    expect(sim.transfers()).toEqual([]);
    expect(sim.payouts()).toEqual([]);
    expect(sim.balanceTransactions()).toEqual([]);
    expect(sim.moneyClock().offset_seconds).toBe(0);
    expect(amounts((await stripe.balance.retrieve()).available)).toEqual({ usd: 0 });
    const gone = await caught(stripe.balance.retrieve({}, { stripeAccount: seller }));
    expect(gone.statusCode).toBe(403);
    // The key is forgotten with everything else.
    const again = await createSeller('seller_reset');
    expect(again.id).not.toBe(seller);
    expect(again.lastResponse.headers['idempotent-replayed']).toBeUndefined();
  });

  it('one large advance applies every due transition in time order, each event dated when it fell due', async () => {
    const seller = await onboardedSeller('seller_order');
    await fundPlatform('order_fund');
    await transfer(seller, 1000, 'order:transfer');
    expect((await adminJson(sim, 'POST', '/__admin/settings', { payout_arrival_seconds: 2 * DAY })).status).toBe(200);
    await charge(2599, 'order_2');
    const created = await stripe.payouts.create({ amount: 400, currency: 'eur' }, { stripeAccount: seller });
    const before = sim.events().length;

    await advance(3 * DAY);
    const applied = sim.events().slice(before);
    expect(applied.map((event) => event.type)).toEqual([
      'payout.updated',
      'balance.available',
      'payout.paid',
      'payout.updated',
    ]);
    expect(applied.map((event) => event.created - created.created)).toEqual([60, DAY, 2 * DAY, 2 * DAY]);
    expect(amounts(sim.balance().available)).toEqual({ eur: 2 * NET_2599 - 1000 });
  });

  it('advance validates its body and never moves backwards', async () => {
    for (const body of [{ seconds: -1 }, { seconds: 1.5 }, { seconds: 'soon' }, {}]) {
      expect((await adminJson(sim, 'POST', '/__admin/clock/advance', body)).status).toBe(400);
    }
    expect(sim.moneyClock().offset_seconds).toBe(0);
    expect(sim.advanceClock(10).offset_seconds).toBe(10);
    expect(() => sim.advanceClock(-10)).toThrow(RangeError);
  });
});
