/**
 * The pay-in happy path and its refusals, end to end through the local stack, driven only over HTTP
 * (our API, the PSP simulator's Stripe API, the local Step Functions endpoint).
 */
import { GetExecutionHistoryCommand, SFNClient } from '@aws-sdk/client-sfn';
import Stripe from 'stripe';
import { call, checkout, stackInfo, unique, waitForStatus } from '../support/api-client';

jest.setTimeout(120_000);

function psp(): Stripe {
  const { urls, pspSecretKey } = stackInfo();
  const url = new URL(urls.psp);
  return new Stripe(pspSecretKey, {
    host: url.hostname,
    port: Number(url.port),
    protocol: 'http',
    maxNetworkRetries: 0,
  });
}

/**
 * Every PaymentIntent the PSP holds for a payment (so duplicates show). Listed, not searched: the PSP's search lags
 * behind its writes (as Stripe's does), and this is read right after the payment settled.
 */
async function intentsFor(paymentId: string) {
  const found: Stripe.PaymentIntent[] = [];
  for await (const intent of psp().paymentIntents.list({ limit: 100 })) {
    if (intent.metadata.payment_id === paymentId) found.push(intent);
  }
  return found;
}

type Ledger = {
  entries: {
    account: string;
    direction: 'DEBIT' | 'CREDIT';
    amount: string;
    currency: string;
    transaction_id: string;
  }[];
};
type Wallet = { seller_account: string; balances: { currency: string; amount: string }[] };

/** Signed sum per currency in minor units, from decimal strings (debits positive). */
function sumsByCurrency(entries: Ledger['entries']): Record<string, number> {
  const sums: Record<string, number> = {};
  for (const entry of entries) {
    const minor = Number(entry.amount.replace('.', ''));
    sums[entry.currency] = (sums[entry.currency] ?? 0) + (entry.direction === 'DEBIT' ? minor : -minor);
  }
  return sums;
}

describe('Pay-in: POST /v1/payments', () => {
  it('pays a checkout with three sellers end to end: SUCCESS, wallets credited, ledger balanced, one PaymentIntent', async () => {
    // Prepare
    const sellers = [
      { seller: unique('seller'), amount: '12.34' },
      { seller: unique('seller'), amount: '0.99' },
      { seller: unique('seller'), amount: '250.00' },
    ];
    const body = checkout({ sellers, currency: 'EUR' });

    // Act
    const accepted = await call<{ payment_id: string; status: string; status_url: string; amount: string }>(
      'POST',
      '/v1/payments',
      { body },
    );

    // Assess
    expect(accepted.status).toBe(202);
    expect(accepted.body.status).toBe('NOT_STARTED');
    expect(accepted.body.amount).toBe('263.33');
    expect(accepted.body.status_url).toBe(`/v1/payments/${accepted.body.payment_id}`);
    const paymentId = accepted.body.payment_id;
    const payment = await waitForStatus(paymentId, ['SUCCESS', 'FAILED']);
    expect(payment.status).toBe('SUCCESS');
    expect(payment.psp_reference).toMatch(/^pi_/);
    expect(
      payment.payment_orders.map((o) => [o.seller_account, o.status, o.amount, o.wallet_updated, o.ledger_updated]),
    ).toEqual(sellers.map((s) => [s.seller, 'SUCCESS', s.amount, true, true]));

    for (const { seller, amount } of sellers) {
      const wallet = await call<Wallet>('GET', `/v1/wallets/${seller}`);
      expect(wallet.status).toBe(200);
      expect(wallet.body.balances).toEqual([expect.objectContaining({ currency: 'EUR', amount })]);
    }

    const ledger = await call<Ledger>('GET', `/v1/payments/${paymentId}/ledger`);
    expect(ledger.status).toBe(200);
    expect(ledger.body.entries).toHaveLength(6);
    expect(sumsByCurrency(ledger.body.entries)).toEqual({ EUR: 0 });
    expect(new Set(ledger.body.entries.map((e) => e.transaction_id)).size).toBe(3);
    for (const { seller, amount } of sellers) {
      expect(ledger.body.entries).toContainEqual(
        expect.objectContaining({
          account: `liability:seller_payable:${seller}`,
          direction: 'CREDIT',
          amount,
          currency: 'EUR',
        }),
      );
    }

    const intents = await intentsFor(paymentId);
    expect(intents).toHaveLength(1);
    expect(intents[0]).toMatchObject({
      id: payment.psp_reference,
      amount: 26333,
      currency: 'eur',
      status: 'succeeded',
    });
  });

  it('ends a declined payment FAILED with the reason, no wallet credit and no ledger entry', async () => {
    const seller = unique('seller');
    const body = checkout({ sellers: [{ seller, amount: '10.00' }], paymentMethod: 'pm_card_chargeDeclined' });

    const accepted = await call<{ payment_id: string }>('POST', '/v1/payments', { body });
    expect(accepted.status).toBe(202);
    const payment = await waitForStatus(accepted.body.payment_id, ['SUCCESS', 'FAILED']);

    expect(payment.status).toBe('FAILED');
    expect(payment.status_reason).toBe('declined:card_declined:generic_decline');
    expect(payment.payment_orders[0]).toMatchObject({ status: 'FAILED', wallet_updated: false, ledger_updated: false });
    expect((await call<Wallet>('GET', `/v1/wallets/${seller}`)).body.balances).toEqual([]);
    expect((await call<Ledger>('GET', `/v1/payments/${accepted.body.payment_id}/ledger`)).body.entries).toEqual([]);
    const intents = await intentsFor(accepted.body.payment_id);
    expect(intents.map((i) => i.status)).toEqual(['requires_payment_method']);
  });

  it('keeps amounts exact in zero- and three-decimal currencies', async () => {
    const jpy = await call<{ payment_id: string; amount: string }>('POST', '/v1/payments', {
      body: checkout({ sellers: [{ seller: unique('seller'), amount: '1500' }], currency: 'JPY' }),
    });
    const kwd = await call<{ payment_id: string; amount: string }>('POST', '/v1/payments', {
      body: checkout({ sellers: [{ seller: unique('seller'), amount: '1.25' }], currency: 'KWD' }),
    });
    expect([jpy.status, jpy.body.amount, kwd.status, kwd.body.amount]).toEqual([202, '1500', 202, '1.250']);
    expect((await waitForStatus(jpy.body.payment_id, ['SUCCESS', 'FAILED'])).status).toBe('SUCCESS');
    expect((await waitForStatus(kwd.body.payment_id, ['SUCCESS', 'FAILED'])).status).toBe('SUCCESS');
    const [jpyIntent] = await intentsFor(jpy.body.payment_id);
    const [kwdIntent] = await intentsFor(kwd.body.payment_id);
    expect([jpyIntent?.amount, kwdIntent?.amount]).toEqual([1500, 1250]);
  });

  it('ends FAILED, charging nothing, when the PSP refuses the request (KWD amounts must end in 0 at the PSP)', async () => {
    const seller = unique('seller');
    const accepted = await call<{ payment_id: string }>('POST', '/v1/payments', {
      body: checkout({ sellers: [{ seller, amount: '1.005' }], currency: 'KWD' }),
    });
    const payment = await waitForStatus(accepted.body.payment_id, ['SUCCESS', 'FAILED']);
    expect(payment.status).toBe('FAILED');
    expect(payment.status_reason).toBe('declined:psp_refused:invalid_amount:amount');
    expect((await call<Wallet>('GET', `/v1/wallets/${seller}`)).body.balances).toEqual([]);
    expect(await intentsFor(accepted.body.payment_id)).toEqual([]);
  });

  it('records the workflow history an operator reads (states entered and exited, with inputs and outputs)', async () => {
    const accepted = await call<{ payment_id: string }>('POST', '/v1/payments', {
      body: checkout({ sellers: [{ seller: unique('seller'), amount: '3.00' }] }),
    });
    await waitForStatus(accepted.body.payment_id, ['SUCCESS']);
    const { urls } = stackInfo();
    const sfn = new SFNClient({
      endpoint: urls.sfn,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    });
    const executionArn = `arn:aws:states:us-east-1:000000000000:execution:PayIn:${accepted.body.payment_id}`;
    const deadline = Date.now() + 30_000;
    let types: string[] = [];
    while (Date.now() < deadline && !types.includes('ExecutionSucceeded')) {
      const history = await sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000 }));
      types = (history.events ?? []).map((e) => e.type ?? '');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const history = await sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000 }));
    const entered = (history.events ?? [])
      .filter((e) => e.type?.endsWith('StateEntered'))
      .map((e) => e.stateEnteredEventDetails?.name);
    expect(entered).toEqual([
      'RiskCheck',
      'RiskApproved?',
      'Charge',
      'Charged?',
      'CreditOrders',
      'CreditWallet',
      'AppendLedger',
      'Finalize',
    ]);
    expect(types[0]).toBe('ExecutionStarted');
    expect(types.at(-1)).toBe('ExecutionSucceeded');
    const chargeExit = history.events?.find(
      (e) => e.type === 'TaskStateExited' && e.stateExitedEventDetails?.name === 'Charge',
    );
    expect(JSON.parse(chargeExit?.stateExitedEventDetails?.output ?? '{}').charge).toMatchObject({
      outcome: 'SUCCEEDED',
    });
  });

  it('refuses a second payment for an accepted checkout with 409 naming the existing payment', async () => {
    const body = checkout({ sellers: [{ seller: unique('seller'), amount: '1.00' }] });
    const first = await call<{ payment_id: string }>('POST', '/v1/payments', { body });
    const second = await call<{ error: { code: string; payment_id: string } }>('POST', '/v1/payments', { body });
    expect(first.status).toBe(202);
    expect(second.status).toBe(409);
    expect(second.body.error).toMatchObject({ code: 'checkout_already_accepted', payment_id: first.body.payment_id });
  });
});

describe('Pay-in: refusals', () => {
  it('refuses raw card numbers with 400 naming the field, storing nothing', async () => {
    const body = {
      ...checkout({ sellers: [{ seller: unique('seller'), amount: '5.00' }] }),
      card_number: '4242 4242 4242 4242',
    };
    const response = await call<{ error: { message: string; errors: { field: string }[] } }>('POST', '/v1/payments', {
      body,
    });
    expect(response.status).toBe(400);
    expect(response.body.error.errors).toEqual([{ field: 'card_number', message: 'looks like card data' }]);
    expect(JSON.stringify(response.body)).not.toContain('4242');
    // Nothing was stored: the same checkout id is still free.
    const { card_number: _ignored, ...clean } = body;
    expect((await call('POST', '/v1/payments', { body: clean })).status).toBe(202);
  });

  it('answers 400 naming each bad field', async () => {
    const body = checkout({ sellers: [{ seller: unique('seller'), amount: '5.001' }], currency: 'USD' });
    const response = await call<{ error: { errors: { field: string; message: string }[] } }>('POST', '/v1/payments', {
      body: { ...body, buyer: { id: 'b', country: 'fr' } },
    });
    expect(response.status).toBe(400);
    expect(response.body.error.errors.map((e) => e.field).sort()).toEqual(['buyer.country']);
    const amount = await call<{ error: { errors: { field: string; message: string }[] } }>('POST', '/v1/payments', {
      body,
    });
    expect(amount.status).toBe(400);
    expect(amount.body.error.errors).toEqual([
      { field: 'payment_orders[0].amount', message: 'amount USD allows at most 2 decimal places' },
    ]);
  });

  it.each([
    ['no Authorization header', null],
    ['an unknown key', 'mpk_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'],
    ['a malformed key', 'not-a-key'],
  ])('answers 401 to a request with %s', async (_, key) => {
    for (const [method, path] of [
      ['POST', '/v1/payments'],
      ['GET', '/v1/payments/pay_x'],
      ['GET', '/v1/payments/pay_x/ledger'],
      ['GET', '/v1/wallets/seller_x'],
    ] as const) {
      const response = await call(method, path, { key, body: method === 'POST' ? {} : undefined });
      expect([path, response.status]).toEqual([path, 401]);
    }
  });

  it('answers 404 for an unknown payment', async () => {
    const response = await call<{ error: { code: string } }>('GET', '/v1/payments/pay_doesnotexist');
    expect(response.status).toBe(404);
    expect(response.body.error.code).toBe('payment_not_found');
  });
});
