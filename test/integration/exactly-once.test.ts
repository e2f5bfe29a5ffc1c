/**
 * Exactly-once pay-in under duplicates, lost responses, crashes, declines, risk decisions and unknown outcomes.
 * Faults come from the PSP simulator (magic payment-method tokens) and from crash injection in the local stack;
 * after each scenario the invariant checker compares our tables with the PSP's own record of charges.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { call, checkout, type PaymentView, reviewerKey, stackInfo, unique, waitForStatus } from '../support/api-client';
import { checkInvariants, pspCharges } from '../support/invariants';

jest.setTimeout(180_000);

type Ledger = { entries: { transaction_id: string; account: string; amount: string }[] };

async function pay(body: unknown, idempotencyKey?: string) {
  const response = await call<{ payment_id: string }>('POST', '/v1/payments', { body, idempotencyKey });
  expect(response.status).toBe(202);
  return response.body.payment_id;
}

async function expectInvariants(paymentIds: string[]) {
  expect(await checkInvariants(stackInfo(), paymentIds)).toEqual([]);
}

async function successfulCharges(paymentId: string) {
  return (await pspCharges(stackInfo().urls.psp)).filter(
    (c) => c.metadata?.payment_id === paymentId && (c.status ?? 'succeeded') === 'succeeded',
  );
}

async function chargeAttempts(paymentId: string) {
  const response = await fetch(`${stackInfo().urls.psp}/__admin/charges?include=failed`);
  const body = (await response.json()) as { metadata: Record<string, string> }[];
  return body.filter((c) => c.metadata?.payment_id === paymentId);
}

describe('Exactly-once: client retries', () => {
  it('turns 50 concurrent identical requests into one payment, one charge, one ledger transaction per order', async () => {
    const body = checkout({
      sellers: [
        { seller: unique('seller'), amount: '10.00' },
        { seller: unique('seller'), amount: '20.00' },
      ],
    });
    const key = unique('key');

    const responses = await Promise.all(
      Array.from({ length: 50 }, () =>
        call<{ payment_id?: string }>('POST', '/v1/payments', { body, idempotencyKey: key }),
      ),
    );

    const statuses = responses.map((r) => r.status);
    expect(statuses.every((s) => s === 202 || s === 409)).toBe(true);
    const accepted = responses.filter((r) => r.status === 202);
    expect(accepted.length).toBeGreaterThanOrEqual(1);
    const paymentIds = new Set(accepted.map((r) => r.body.payment_id));
    expect(paymentIds.size).toBe(1);
    for (const conflict of responses.filter((r) => r.status === 409)) {
      expect(conflict.headers.get('retry-after')).toBe('1');
    }
    const [paymentId = ''] = [...paymentIds];
    await waitForStatus(paymentId, ['SUCCESS']);
    // A late retry gets the first response replayed.
    const replay = await call<{ payment_id: string; status: string }>('POST', '/v1/payments', {
      body,
      idempotencyKey: key,
    });
    expect([replay.status, replay.body.payment_id, replay.headers.get('idempotent-replayed')]).toEqual([
      202,
      paymentId,
      'true',
    ]);
    expect(replay.body).toEqual(accepted[0]?.body);
    expect(await successfulCharges(paymentId)).toHaveLength(1);
    const ledger = await call<Ledger>('GET', `/v1/payments/${paymentId}/ledger`);
    expect(new Set(ledger.body.entries.map((e) => e.transaction_id)).size).toBe(2);
    await expectInvariants([paymentId]);
  });

  it('refuses a key reused with another body (422) and requires the key (400)', async () => {
    const key = unique('key');
    const body = checkout({ sellers: [{ seller: unique('seller'), amount: '10.00' }] });
    await pay(body, key);
    const changed = await call<{ error: { code: string } }>('POST', '/v1/payments', {
      body: { ...body, payment_orders: [{ ...body.payment_orders[0], amount: '11.00' }] },
      idempotencyKey: key,
    });
    expect([changed.status, changed.body.error.code]).toEqual([422, 'idempotency_key_reused']);
    const missing = await call<{ error: { errors: { field: string }[] } }>('POST', '/v1/payments', {
      body: checkout({ sellers: [{ seller: unique('seller'), amount: '1.00' }] }),
      idempotencyKey: null,
    });
    expect(missing.status).toBe(400);
    expect(missing.body.error.errors[0]?.field).toBe('Idempotency-Key');
  });

  it('answers 409 naming the existing payment for a second key on an accepted checkout', async () => {
    const body = checkout({ sellers: [{ seller: unique('seller'), amount: '10.00' }] });
    const first = await pay(body, unique('key'));
    const second = await call<{ error: { code: string; payment_id: string } }>('POST', '/v1/payments', {
      body,
      idempotencyKey: unique('key'),
    });
    expect([second.status, second.body.error.code, second.body.error.payment_id]).toEqual([
      409,
      'checkout_already_accepted',
      first,
    ]);
  });
});

describe('Exactly-once: PSP faults', () => {
  it('charges once after a lost response and retries: one charge, one credit, one ledger transaction', async () => {
    const seller = unique('seller');
    const paymentId = await pay(
      checkout({ sellers: [{ seller, amount: '42.00' }], paymentMethod: 'pm_card_visa_lostx2' }),
    );
    const payment = await waitForStatus(paymentId, ['SUCCESS', 'FAILED', 'UNKNOWN']);
    expect(payment.status).toBe('SUCCESS');
    expect(await successfulCharges(paymentId)).toHaveLength(1);
    expect((await call<{ balances: { amount: string }[] }>('GET', `/v1/wallets/${seller}`)).body.balances).toEqual([
      expect.objectContaining({ amount: '42.00' }),
    ]);
    const ledger = await call<Ledger>('GET', `/v1/payments/${paymentId}/ledger`);
    expect(new Set(ledger.body.entries.map((e) => e.transaction_id))).toEqual(
      new Set([`payin:${payment.payment_orders[0]?.payment_order_id}`]),
    );
    await expectInvariants([paymentId]);
  });

  it('retries 5xx from in front of the PSP (not stored under the key) and rate limits with the same key and charges once', async () => {
    // A 502/503 comes from a load balancer, before the PSP stored anything: a retry with the same key executes.
    const a = await pay(
      checkout({ sellers: [{ seller: unique('seller'), amount: '5.00' }], paymentMethod: 'pm_card_visa_edge502x2' }),
    );
    const b = await pay(
      checkout({ sellers: [{ seller: unique('seller'), amount: '6.00' }], paymentMethod: 'pm_card_visa_ratelimitx2' }),
    );
    expect((await waitForStatus(a, ['SUCCESS', 'FAILED', 'UNKNOWN'])).status).toBe('SUCCESS');
    expect((await waitForStatus(b, ['SUCCESS', 'FAILED', 'UNKNOWN'])).status).toBe('SUCCESS');
    expect((await successfulCharges(a)).length + (await successfulCharges(b)).length).toBe(2);
    await expectInvariants([a, b]);
  });

  it.each([
    ['pm_card_chargeDeclined', 'declined:card_declined:generic_decline'],
    ['pm_card_chargeDeclinedInsufficientFunds', 'declined:card_declined:insufficient_funds'],
    ['pm_card_chargeDeclinedFraudulent', 'declined:card_declined:fraudulent'],
    ['pm_card_chargeDeclinedExpiredCard', 'declined:expired_card'],
  ])('ends %s FAILED with the reason, no credit, no ledger entry, one PSP attempt', async (token, reason) => {
    const seller = unique('seller');
    const paymentId = await pay(checkout({ sellers: [{ seller, amount: '10.00' }], paymentMethod: token }));
    const payment = await waitForStatus(paymentId, ['SUCCESS', 'FAILED']);
    expect([payment.status, payment.status_reason]).toEqual(['FAILED', reason]);
    expect((await call<{ balances: unknown[] }>('GET', `/v1/wallets/${seller}`)).body.balances).toEqual([]);
    expect((await call<Ledger>('GET', `/v1/payments/${paymentId}/ledger`)).body.entries).toEqual([]);
    expect(await chargeAttempts(paymentId)).toHaveLength(1);
    await expectInvariants([paymentId]);
  });
});

describe('Exactly-once: crashes after a write', () => {
  it.each(['after-wallet-write', 'after-ledger-write'])(
    'changes nothing when the step is retried after a crash %s',
    async (point) => {
      const crashing = `fault_crash_${point}_${unique('s')}`;
      const healthy = unique('seller');
      const paymentId = await pay(
        checkout({
          sellers: [
            { seller: crashing, amount: '7.50' },
            { seller: healthy, amount: '2.50' },
          ],
        }),
      );
      const payment = await waitForStatus(paymentId, ['SUCCESS', 'FAILED', 'UNKNOWN']);
      expect(payment.status).toBe('SUCCESS');
      expect((await call<{ balances: { amount: string }[] }>('GET', `/v1/wallets/${crashing}`)).body.balances).toEqual([
        expect.objectContaining({ amount: '7.50' }),
      ]);
      const ledger = await call<Ledger>('GET', `/v1/payments/${paymentId}/ledger`);
      expect(ledger.body.entries).toHaveLength(4);
      await expectInvariants([paymentId]);
      // The crash really happened: the execution history shows the retry of the crashed step.
      const { SFNClient, GetExecutionHistoryCommand } = await import('@aws-sdk/client-sfn');
      const sfn = new SFNClient({
        endpoint: stackInfo().urls.sfn,
        region: 'us-east-1',
        credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
      });
      const history = await sfn.send(
        new GetExecutionHistoryCommand({
          executionArn: `arn:aws:states:us-east-1:000000000000:execution:PayIn:${paymentId}`,
        }),
      );
      const failed = (history.events ?? []).filter((e) => e.type === 'LambdaFunctionFailed');
      expect(failed.map((e) => e.lambdaFunctionFailedEventDetails?.error)).toEqual(['TransientError']);
    },
  );
});

describe('Exactly-once: risk', () => {
  it('rejects without any PSP call', async () => {
    const paymentId = await pay(checkout({ sellers: [{ seller: unique('seller'), amount: '10.00' }], country: 'KP' }));
    const payment = await waitForStatus(paymentId, ['FAILED', 'SUCCESS']);
    expect([payment.status, payment.status_reason]).toEqual(['FAILED', 'risk_rejected:blocked_country:KP']);
    expect(await chargeAttempts(paymentId)).toEqual([]);
  });

  it('holds a payment for review; approval completes it, rejection fails it, neither charges twice', async () => {
    const approved = await pay(checkout({ sellers: [{ seller: unique('seller'), amount: '6000.00' }] }));
    const rejected = await pay(checkout({ sellers: [{ seller: unique('seller'), amount: '7000.00' }] }));
    for (const id of [approved, rejected]) {
      const held = await waitForStatus(id, ['PENDING', 'SUCCESS', 'FAILED']);
      expect([held.status, held.status_reason]).toEqual(['PENDING', 'risk_review:amount_review:EUR']);
      expect(await chargeAttempts(id)).toEqual([]);
    }
    // Four eyes: reviewed with another key than the dev key that created the payments.
    const key = await reviewerKey();
    const approve = await call<PaymentView>('POST', `/v1/payments/${approved}/review`, {
      body: { decision: 'approve' },
      key,
    });
    expect(approve.status).toBe(200);
    const reject = await call<PaymentView>('POST', `/v1/payments/${rejected}/review`, {
      body: { decision: 'reject' },
      key,
    });
    expect([reject.status, reject.body.status]).toEqual([200, 'FAILED']);
    expect((await waitForStatus(approved, ['SUCCESS', 'FAILED'])).status).toBe('SUCCESS');
    const again = await call<{ error: { code: string } }>('POST', `/v1/payments/${approved}/review`, {
      body: { decision: 'approve' },
      key,
    });
    expect([again.status, again.body.error.code]).toEqual([409, 'payment_not_in_review']);
    expect(await successfulCharges(approved)).toHaveLength(1);
    expect(await chargeAttempts(rejected)).toEqual([]);
    await expectInvariants([approved, rejected]);
  });

  it('holds the buyer’s fourth payment within an hour for review (velocity)', async () => {
    const buyer = unique('buyer');
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const body = checkout({ sellers: [{ seller: unique('seller'), amount: '1.00' }] });
      ids.push(await pay({ ...body, buyer: { id: buyer, country: 'FR' } }));
      await waitForStatus(ids[i] as string, ['SUCCESS', 'PENDING', 'FAILED']);
    }
    const statuses = await Promise.all(ids.map(async (id) => (await waitForStatus(id, ['SUCCESS', 'PENDING'])).status));
    expect(statuses).toEqual(['SUCCESS', 'SUCCESS', 'SUCCESS', 'PENDING']);
  });
});

describe('Exactly-once: unknown outcomes and the janitor', () => {
  // Stripe stores a 500 under the idempotency key and replays it: a retry learns nothing. The charge step makes the
  // payment UNKNOWN at once (no blind retry) and the janitor settles it from the PSP's own record.
  it('a stored 500 after the PSP charged: UNKNOWN, then SUCCESS from the PSP record, charged once', async () => {
    const seller = unique('seller');
    const paymentId = await pay(
      checkout({ sellers: [{ seller, amount: '36.00' }], paymentMethod: 'pm_card_visa_charged500x1' }),
    );
    const payment = await waitForStatus(paymentId, ['SUCCESS', 'FAILED'], 90_000);
    expect(payment.status).toBe('SUCCESS');
    expect(await successfulCharges(paymentId)).toHaveLength(1);
    expect(await chargeAttempts(paymentId)).toHaveLength(1);
    expect((await call<{ balances: { amount: string }[] }>('GET', `/v1/wallets/${seller}`)).body.balances).toEqual([
      expect.objectContaining({ amount: '36.00' }),
    ]);
    await expectInvariants([paymentId]);
  });

  it('a stored 500 before the PSP charged: UNKNOWN, then FAILED from the PSP record, nothing charged or booked', async () => {
    const seller = unique('seller');
    const paymentId = await pay(
      checkout({ sellers: [{ seller, amount: '37.00' }], paymentMethod: 'pm_card_visa_error500x1' }),
    );
    const payment = await waitForStatus(paymentId, ['SUCCESS', 'FAILED'], 90_000);
    expect([payment.status, payment.status_reason]).toEqual(['FAILED', 'psp_no_charge_found']);
    expect(await successfulCharges(paymentId)).toEqual([]);
    expect(await chargeAttempts(paymentId)).toEqual([]);
    expect((await call<{ balances: unknown[] }>('GET', `/v1/wallets/${seller}`)).body.balances).toEqual([]);
    expect((await call<Ledger>('GET', `/v1/payments/${paymentId}/ledger`)).body.entries).toEqual([]);
    await expectInvariants([paymentId]);
  });

  it('marks UNKNOWN when every charge attempt loses its response; the janitor finds the charge: SUCCESS, once', async () => {
    const seller = unique('seller');
    const paymentId = await pay(
      checkout({ sellers: [{ seller, amount: '33.00' }], paymentMethod: 'pm_card_visa_lostalways' }),
    );
    const payment = await waitForStatus(paymentId, ['SUCCESS', 'FAILED'], 90_000);
    expect(payment.status).toBe('SUCCESS');
    expect(await successfulCharges(paymentId)).toHaveLength(1);
    expect((await call<{ balances: { amount: string }[] }>('GET', `/v1/wallets/${seller}`)).body.balances).toEqual([
      expect.objectContaining({ amount: '33.00' }),
    ]);
    await expectInvariants([paymentId]);
  });

  it('marks UNKNOWN when the PSP keeps failing; the janitor finds no charge: FAILED, nothing booked', async () => {
    const seller = unique('seller');
    const paymentId = await pay(
      checkout({ sellers: [{ seller, amount: '34.00' }], paymentMethod: 'pm_card_visa_error500always' }),
    );
    const payment = await waitForStatus(paymentId, ['SUCCESS', 'FAILED'], 90_000);
    expect([payment.status, payment.status_reason]).toEqual(['FAILED', 'psp_no_charge_found']);
    expect(await successfulCharges(paymentId)).toEqual([]);
    expect((await call<{ balances: unknown[] }>('GET', `/v1/wallets/${seller}`)).body.balances).toEqual([]);
    await expectInvariants([paymentId]);
  });

  it('dead-letters a workflow that gave up, with enough context to act on', async () => {
    const paymentId = await pay(
      checkout({
        sellers: [{ seller: unique('seller'), amount: '35.00' }],
        paymentMethod: 'pm_card_visa_error500always',
      }),
    );
    await waitForStatus(paymentId, ['FAILED'], 90_000);
    const { failedPaymentsQueueUrl, urls } = stackInfo();
    const sqs = new SQSClient({
      endpoint: urls.sqs,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    });
    const deadline = Date.now() + 30_000;
    let found: Record<string, unknown> | undefined;
    while (!found && Date.now() < deadline) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: failedPaymentsQueueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 1,
          VisibilityTimeout: 1,
        }),
      );
      found = Messages.map((m) => JSON.parse(m.Body ?? '{}') as { detail: Record<string, unknown> })
        .map((m) => m.detail)
        .find((d) => d.name === paymentId);
    }
    expect(found).toMatchObject({ name: paymentId, status: 'FAILED', error: 'ChargeOutcomeUnknown' });
    expect(JSON.parse(String(found?.input))).toMatchObject({ payment_id: paymentId });
  });
});

describe('Exactly-once: replaying dead-lettered payments', () => {
  async function replay(...args: string[]) {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'scripts/replay-failed-payments.ts', ...args],
      {
        cwd: path.resolve(__dirname, '..', '..'),
        env: { ...process.env, LOCAL_DATA_DIR: process.env.LOCAL_STACK_DATA_DIR },
      },
    );
    return (JSON.parse(stdout) as { replayed: { payment_id: string; action: string }[] }).replayed;
  }

  it('replays the queue and single payments without charging anything twice', async () => {
    const failed = await pay(
      checkout({
        sellers: [{ seller: unique('seller'), amount: '8.00' }],
        paymentMethod: 'pm_card_visa_error500always',
      }),
    );
    const paid = await pay(checkout({ sellers: [{ seller: unique('seller'), amount: '9.00' }] }));
    await waitForStatus(failed, ['FAILED'], 90_000);
    await waitForStatus(paid, ['SUCCESS']);

    const single = await replay(paid, failed);
    expect(single).toEqual([
      { payment_id: paid, action: 'already_final' },
      { payment_id: failed, action: 'already_final' },
    ]);
    const fromQueue = await replay();
    expect(fromQueue).toContainEqual({ payment_id: failed, action: 'already_final' });
    expect(await replay()).toEqual([]); // the queue was emptied

    expect(await successfulCharges(paid)).toHaveLength(1);
    expect(await successfulCharges(failed)).toEqual([]);
    await expectInvariants([paid, failed]);
  });
});
