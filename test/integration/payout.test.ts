/**
 * Pay-out end to end on the local stack, over HTTP only (our API, the PSP simulator's admin routes): sellers
 * onboarded, pay-ins pending until the PSP's clock makes them available, payouts reserved, transferred, paid out and
 * settled by the PSP's webhooks; refusals, concurrency, faults, crashes, failures at the bank (also after paid),
 * payouts disabled and payout runs. After each scenario the pay-out invariants hold against the PSP's own records.
 */

import { call, stackInfo, unique } from '../support/api-client';
import { checkPayoutInvariants, pspPayouts, pspTransfers } from '../support/payout-invariants';
import {
  advanceClock,
  balanceOf,
  DAYS,
  getSeller,
  makeAvailable,
  onboardedSeller,
  type PayoutView,
  payIn,
  pspAdmin,
  requestPayout,
  until,
  waitForPayout,
} from '../support/payouts';
import { story, timelineOf } from '../support/timeline';

jest.setTimeout(180_000);

async function expectInvariants(sellers: string[]) {
  expect(await checkPayoutInvariants(stackInfo(), sellers)).toEqual([]);
}

const transfersOf = async (payoutId: string) =>
  (await pspTransfers(stackInfo().urls.psp)).filter((t) => t.transfer_group === payoutId);

beforeAll(async () => {
  // The platform's own money at the PSP: sellers receive their whole share (no platform fee here) while the PSP
  // keeps its processing fee, so transfers need some platform funds beyond the sellers' to cover those fees.
  const platform = unique('platform_float');
  await payIn([{ seller: platform, amount: '5000.00' }]);
  await advanceClock(2 * DAYS);
});

describe('Pay-out: sellers, balances and POST /v1/payouts', () => {
  it('PUT /v1/sellers creates the connected account once and answers an onboarding link; bad input is refused', async () => {
    const seller = unique('seller');
    const body = { country: 'FR', default_currency: 'EUR', email: `${seller}@example.com` };
    const first = await call<{
      psp_account_id: string;
      payouts_enabled: boolean;
      onboarding_url?: string;
      requirements: string[];
    }>('PUT', `/v1/sellers/${seller}`, { body });
    expect(first.status).toBe(201);
    expect(first.body.psp_account_id).toMatch(/^acct_/);
    expect(first.body.payouts_enabled).toBe(false);
    expect(first.body.requirements.length).toBeGreaterThan(0);
    expect(first.body.onboarding_url).toMatch(/^http/);
    const again = await call<{ psp_account_id: string }>('PUT', `/v1/sellers/${seller}`, { body });
    expect(again.status).toBe(200);
    expect(again.body.psp_account_id).toBe(first.body.psp_account_id);
    const accounts = await pspAdmin<{ id: string; metadata?: Record<string, string> }[]>('GET', '/__admin/accounts');
    expect(accounts.filter((a) => a.metadata?.seller_account === seller)).toHaveLength(1);
    const bad = await call<{ error: { errors: { field: string }[] } }>('PUT', `/v1/sellers/${unique('s')}`, {
      body: { country: 'XX', default_currency: 'EURO', email: 'no' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.errors.map((e) => e.field).sort()).toEqual(['country', 'default_currency', 'email']);
    const moved = await call('PUT', `/v1/sellers/${seller}`, { body: { ...body, country: 'DE' } });
    expect(moved.status).toBe(409);
    expect((await call('GET', `/v1/sellers/${unique('nobody')}`)).status).toBe(404);
  });

  it('pays out: pay-ins pending, available once the PSP says so, then one transfer and one payout, PAID', async () => {
    const { seller } = await onboardedSeller();
    const paymentId = await payIn([{ seller, amount: '10.00' }]);
    await payIn([{ seller, amount: '15.50' }]);
    expect(await balanceOf(seller)).toMatchObject({
      amount: '25.50',
      pending: '25.50',
      available: '0.00',
      reserved: '0.00',
    });
    // Nothing is available yet: the PSP has not made the charges' money available.
    const early = await requestPayout({ seller_account: seller, currency: 'EUR' });
    expect(early.status).toBe(422);
    await makeAvailable(seller, '25.50');

    const accepted = await requestPayout({ seller_account: seller, currency: 'EUR' });
    expect(accepted.status).toBe(202);
    expect(accepted.body).toMatchObject({ amount: '25.50', currency: 'EUR', status: 'RESERVED' });
    const payoutId = accepted.body.payout_id;
    const inTransit = await waitForPayout(payoutId, ['IN_TRANSIT', 'PAID']);
    expect(inTransit.transfer_id).toMatch(/^tr_/);
    expect(await balanceOf(seller)).toMatchObject({ amount: '0.00', available: '0.00', reserved: '0.00' });

    await advanceClock(2 * DAYS);
    const paid = await waitForPayout(payoutId, ['PAID', 'FAILED']);
    expect(paid.status).toBe('PAID');
    expect(await transfersOf(payoutId)).toHaveLength(1);
    expect((await pspPayouts(stackInfo().urls.psp)).filter((p) => p.metadata?.payout_id === payoutId)).toHaveLength(1);
    const listed = await call<{ payouts: PayoutView[] }>('GET', `/v1/sellers/${seller}/payouts`);
    expect(listed.body.payouts.map((p) => p.payout_id)).toEqual([payoutId]);
    await expectInvariants([seller]);
    // The payment's timeline: its funds became available, then the payout that paid them out.
    const events = (await timelineOf(paymentId)).events;
    const available = events.findIndex((e) => e.type === 'wallet.funds_available' && e.ids.seller_account === seller);
    const paidOut = events.findIndex((e) => e.type === 'payout.paid' && e.ids.payout_id === payoutId);
    if (available < 0 || paidOut < available) throw new Error(`funds available then paid out, in:\n${story(events)}`);
    expect(paidOut).toBeGreaterThan(available);
  });

  it('refuses more than available with 422 naming amount and the available amount; nothing reserved', async () => {
    const { seller } = await onboardedSeller();
    await payIn([{ seller, amount: '20.00' }]);
    await makeAvailable(seller, '20.00');
    const refused = await requestPayout({ seller_account: seller, currency: 'EUR', amount: '20.01' });
    expect(refused.status).toBe(422);
    expect(refused.body.error).toMatchObject({ code: 'amount_above_available', available: '20.00' });
    expect(refused.body.error?.errors?.[0]?.field).toBe('amount');
    expect(await balanceOf(seller)).toMatchObject({ available: '20.00', reserved: '0.00' });
    const bad = await requestPayout({ seller_account: seller, currency: 'EUR', amount: '1.001' });
    expect(bad.status).toBe(400);
    expect((await requestPayout({ seller_account: unique('nobody'), currency: 'EUR' })).status).toBe(404);
  });

  it('20 concurrent requests with different keys never pay more than available; 20 with one key are one payout', async () => {
    const { seller } = await onboardedSeller();
    await payIn([{ seller, amount: '100.00' }]);
    await makeAvailable(seller, '100.00');
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => requestPayout({ seller_account: seller, currency: 'EUR', amount: '15.00' })),
    );
    const accepted = answers.filter((a) => a.status === 202);
    expect(accepted).toHaveLength(6);
    expect(answers.filter((a) => a.status === 422)).toHaveLength(14);
    const key = unique('key');
    const same = await Promise.all(
      Array.from({ length: 20 }, () => requestPayout({ seller_account: seller, currency: 'EUR', amount: '5.00' }, key)),
    );
    const ids = new Set(same.filter((a) => a.status === 202).map((a) => a.body.payout_id));
    expect(ids.size).toBe(1);
    // Concurrent duplicates of a key still in progress are told to retry (409), never paid twice.
    expect(same.every((a) => a.status === 202 || a.status === 409)).toBe(true);
    const all = [...accepted.map((a) => a.body.payout_id), ...ids];
    for (const id of all) await waitForPayout(id, ['IN_TRANSIT', 'PAID']);
    await advanceClock(2 * DAYS);
    for (const id of all) {
      expect((await waitForPayout(id, ['PAID', 'FAILED'])).status).toBe('PAID');
      expect(await transfersOf(id)).toHaveLength(1);
    }
    expect(await balanceOf(seller)).toMatchObject({ available: '5.00', reserved: '0.00', amount: '5.00' });
    await expectInvariants([seller]);
  });
});

describe('Pay-out: faults and crashes end exactly once', () => {
  async function readySeller(prefix: string, amount = '30.00') {
    const { seller, account } = await onboardedSeller(prefix);
    await payIn([{ seller, amount }]);
    await makeAvailable(seller, amount);
    return { seller, account };
  }

  it.each([
    ['lost', 'PAID'],
    ['ratelimit', 'PAID'],
    ['charged500', 'PAID'],
    ['error500', 'FAILED'],
  ])('a %s answer to the transfer: one transfer at most, the payout ends %s', async (fault, expected) => {
    const { seller, account } = await readySeller(`fault_${fault}`);
    // A lost answer twice (the SDK resends once by itself, then our workflow retries with the same key). Aimed at
    // this seller's transfers only: a retry still in flight from the case before must not take it.
    await pspAdmin('POST', '/__admin/faults/next', {
      path: '/v1/transfers',
      method: 'POST',
      fault,
      count: fault === 'lost' ? 2 : 1,
      params: { destination: account },
    });
    const accepted = await requestPayout({ seller_account: seller, currency: 'EUR' });
    expect(accepted.status).toBe(202);
    const id = accepted.body.payout_id;
    // A 500 leaves the outcome UNKNOWN: the janitor settles it from the PSP's transfers.
    await waitForPayout(id, expected === 'PAID' ? ['IN_TRANSIT', 'PAID'] : ['FAILED'], 90_000);
    await advanceClock(2 * DAYS);
    const final = await waitForPayout(id, [expected]);
    expect(await transfersOf(id)).toHaveLength(expected === 'PAID' ? 1 : 0);
    if (expected === 'FAILED') {
      expect(final.failure_code).toBe('psp_error');
      expect(await balanceOf(seller)).toMatchObject({ available: '30.00', reserved: '0.00' });
    }
    await expectInvariants([seller]);
  });

  it('a crash right after the transfer: the retried step transfers nothing more', async () => {
    const { seller } = await readySeller('fault_crash_after-transfer');
    const id = (await requestPayout({ seller_account: seller, currency: 'EUR' })).body.payout_id;
    await waitForPayout(id, ['IN_TRANSIT', 'PAID']);
    await advanceClock(2 * DAYS);
    expect((await waitForPayout(id, ['PAID', 'FAILED'])).status).toBe('PAID');
    expect(await transfersOf(id)).toHaveLength(1);
    await expectInvariants([seller]);
  });

  it('a process that dies after the reserve, every time: the janitor finishes the payout', async () => {
    const { seller } = await readySeller('fault_crash_before-transfer');
    const id = (await requestPayout({ seller_account: seller, currency: 'EUR' })).body.payout_id;
    await waitForPayout(id, ['IN_TRANSIT', 'PAID'], 90_000);
    await advanceClock(2 * DAYS);
    expect((await waitForPayout(id, ['PAID', 'FAILED'])).status).toBe('PAID');
    expect(await transfersOf(id)).toHaveLength(1);
    await expectInvariants([seller]);
  });
});

describe('Pay-out: failures at the bank and disabled payouts', () => {
  it('payout.failed (account_closed): the transfer reversed once, the money back, payouts paused with the reason', async () => {
    const { seller, account } = await onboardedSeller();
    await payIn([{ seller, amount: '40.00' }]);
    await makeAvailable(seller, '40.00');
    await pspAdmin('POST', `/__admin/accounts/${account}`, { payout_failure_code: 'account_closed' });
    const id = (await requestPayout({ seller_account: seller, currency: 'EUR' })).body.payout_id;
    await waitForPayout(id, ['IN_TRANSIT', 'FAILED']);
    await advanceClock(2 * DAYS);
    const failed = await until(
      'reversal complete',
      () => waitForPayout(id, ['FAILED']),
      (p) => p.reversal_complete === true,
    );
    expect(failed).toMatchObject({
      failure_code: 'account_closed',
      failure_message: 'The bank account has been closed.',
    });
    expect((await transfersOf(id))[0]).toMatchObject({ amount: 4000, amount_reversed: 4000 });
    expect(await balanceOf(seller)).toMatchObject({ available: '40.00', reserved: '0.00', amount: '40.00' });
    const paused = await getSeller(seller);
    expect(paused.payouts_paused?.reason).toContain('The bank account has been closed.');
    const refused = await requestPayout({ seller_account: seller, currency: 'EUR' });
    expect(refused.status).toBe(409);
    expect(refused.body.error?.reason).toContain('paused');
    await expectInvariants([seller]);
  });

  it('a payout paid, then failed days later: reversed once, money back, seller paused', async () => {
    const { seller } = await onboardedSeller();
    await payIn([{ seller, amount: '12.00' }]);
    await makeAvailable(seller, '12.00');
    const id = (await requestPayout({ seller_account: seller, currency: 'EUR' })).body.payout_id;
    await waitForPayout(id, ['IN_TRANSIT', 'PAID']);
    await advanceClock(2 * DAYS);
    const paid = await waitForPayout(id, ['PAID']);
    await pspAdmin('POST', `/__admin/payouts/${paid.psp_payout_id}/fail`, { failure_code: 'account_closed' });
    const failed = await until(
      'late failure applied',
      () => waitForPayout(id, ['FAILED']),
      (p) => p.reversal_complete === true,
    );
    expect(failed.failure_code).toBe('account_closed');
    expect((await transfersOf(id))[0]).toMatchObject({ amount_reversed: 1200 });
    expect(await balanceOf(seller)).toMatchObject({ available: '12.00', amount: '12.00' });
    expect((await getSeller(seller)).payouts_paused).not.toBeNull();
    await expectInvariants([seller]);
  });

  it('payouts disabled at the PSP: a request gets 409 with the reason; the run skips the seller', async () => {
    const { seller, account } = await onboardedSeller();
    await payIn([{ seller, amount: '50.00' }]);
    await makeAvailable(seller, '50.00');
    await pspAdmin('POST', `/__admin/accounts/${account}`, { payouts_enabled: false });
    await until(
      'payouts disabled',
      () => getSeller(seller),
      (s) => !s.payouts_enabled,
    );
    const refused = await requestPayout({ seller_account: seller, currency: 'EUR' });
    expect(refused.status).toBe(409);
    expect(refused.body.error?.code).toBe('payouts_disabled');
    expect(refused.body.error?.reason).toMatch(/not enabled payouts/);
    const date = new Date().toISOString().slice(0, 10);
    const run = await startRunAndWait(date);
    expect(run.sellers_skipped).toBeGreaterThanOrEqual(1);
    expect(await balanceOf(seller)).toMatchObject({ available: '50.00', reserved: '0.00' });
  });
});

type RunView = {
  run_id: string;
  status: string;
  payouts_created: number;
  payouts_existing: number;
  sellers_skipped: number;
  progress: { sellers_listed: number; sellers_done: number };
};

async function startRunAndWait(date: string): Promise<RunView> {
  const started = await until(
    'run started',
    () => call<RunView>('POST', '/v1/payout-runs', { body: { date } }),
    (r) => r.status === 202,
  );
  return until(
    'run completed',
    async () => (await call<RunView>('GET', `/v1/payout-runs/${started.body.run_id}`)).body,
    (r) => r.status === 'COMPLETED',
    120_000,
  );
}

describe('Pay-out: runs', () => {
  it('a run pays every enabled seller at or above the minimum once; started again for the date, it pays no one twice', async () => {
    const a = await onboardedSeller();
    const b = await onboardedSeller();
    const small = await onboardedSeller();
    await payIn([
      { seller: a.seller, amount: '31.00' },
      { seller: b.seller, amount: '12.00' },
      { seller: small.seller, amount: '9.99' },
    ]);
    await makeAvailable(a.seller, '31.00');
    const date = '2026-01-15';
    const first = await startRunAndWait(date);
    expect(first.payouts_created).toBeGreaterThanOrEqual(2);
    const second = await startRunAndWait(date);
    expect(second.payouts_created).toBe(0);
    expect(second.payouts_existing).toBeGreaterThanOrEqual(2);
    for (const { seller } of [a, b]) {
      const { body } = await call<{ payouts: PayoutView[] }>('GET', `/v1/sellers/${seller}/payouts`);
      expect(body.payouts).toHaveLength(1);
      await waitForPayout(body.payouts[0]!.payout_id, ['IN_TRANSIT', 'PAID']);
    }
    // Below the EUR minimum (10.00): nothing paid, the money waits.
    expect(await balanceOf(small.seller)).toMatchObject({ available: '9.99', reserved: '0.00' });
    await advanceClock(2 * DAYS);
    for (const { seller } of [a, b]) {
      const { body } = await call<{ payouts: PayoutView[] }>('GET', `/v1/sellers/${seller}/payouts`);
      await waitForPayout(body.payouts[0]!.payout_id, ['PAID']);
      expect(await transfersOf(body.payouts[0]!.payout_id)).toHaveLength(1);
    }
    await expectInvariants([a.seller, b.seller, small.seller]);
    const bad = await call('POST', '/v1/payout-runs', { body: { date: '2026-02-30' } });
    expect(bad.status).toBe(400);
  });
});
