/**
 * Pending payments and PSP webhooks: 3-D Secure and the hosted payment page leave the payment PENDING until the
 * PSP's signed webhook (or the janitor's polling) settles it; past its deadline it is stopped and FAILED.
 * Webhooks are verified, applied once per event, and cannot move a payment backwards.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import Stripe from 'stripe';
import { tableSchemas } from '../../src/core/table-schemas';
import { call, checkout, type PaymentView, stackInfo, unique, waitForStatus } from '../support/api-client';
import { checkInvariants, pspCharges } from '../support/invariants';

jest.setTimeout(180_000);

type PendingView = PaymentView & { next_action: { type: string; redirect_url: string } | null };

const RETURN_URL = 'https://shop.example/checkout/return';

async function admin(path: string, body?: unknown) {
  const response = await fetch(`${stackInfo().urls.psp}/__admin/${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  expect(response.status).toBeLessThan(300);
  return response.json() as Promise<unknown>;
}

async function pay(body: unknown): Promise<string> {
  const response = await call<{ payment_id: string }>('POST', '/v1/payments', { body });
  expect(response.status).toBe(202);
  return response.body.payment_id;
}

async function pendingPayment(paymentMethod = 'pm_card_threeDSecure2Required') {
  const seller = unique('seller');
  const paymentId = await pay({
    ...checkout({ sellers: [{ seller, amount: '20.00' }], paymentMethod }),
    return_url: RETURN_URL,
  });
  const pending = (await waitForStatus(paymentId, ['PENDING', 'SUCCESS', 'FAILED'])) as PendingView;
  return { paymentId, seller, pending };
}

async function events(paymentIntent: string): Promise<{ id: string; type: string }[]> {
  const { urls, pspSecretKey } = stackInfo();
  const url = new URL(urls.psp);
  const stripe = new Stripe(pspSecretKey, { host: url.hostname, port: Number(url.port), protocol: 'http' });
  const all = await stripe.events.list({ limit: 100 });
  return all.data.filter((e) => (e.data.object as { id?: string }).id === paymentIntent);
}

function table() {
  return DynamoDBDocumentClient.from(
    new DynamoDBClient({
      endpoint: stackInfo().urls.dynamodb,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    }),
  );
}

async function webhookRecorded(eventId: string): Promise<boolean> {
  const { Item } = await table().send(
    new GetCommand({ TableName: tableSchemas.payments.id, Key: { pk: `WEBHOOK#${eventId}`, sk: 'EVENT' } }),
  );
  return Item !== undefined;
}

describe('Pending: 3-D Secure through the API', () => {
  it('shows PENDING with the next action, then SUCCESS once the PSP webhook says so', async () => {
    const { paymentId, seller, pending } = await pendingPayment();
    expect(pending.status).toBe('PENDING');
    expect(pending.next_action).toEqual({ type: 'redirect_to_url', redirect_url: expect.stringContaining('/3ds/') });
    expect(pending.payment_orders.map((o) => o.status)).toEqual(['PENDING']);

    await admin(`payment_intents/${pending.psp_reference}/authenticate`, { outcome: 'approve' });

    const done = (await waitForStatus(paymentId, ['SUCCESS', 'FAILED'])) as PendingView;
    expect([done.status, done.next_action]).toEqual(['SUCCESS', null]);
    expect((await call<{ balances: { amount: string }[] }>('GET', `/v1/wallets/${seller}`)).body.balances).toEqual([
      expect.objectContaining({ amount: '20.00' }),
    ]);
    expect(await checkInvariants(stackInfo(), [paymentId])).toEqual([]);
  });

  it('without a return_url, gives the client the PSP SDK action (no URL exists), then SUCCESS once authenticated', async () => {
    // Stripe answers a 3-D Secure card confirmed without return_url with use_stripe_sdk: the buyer authenticates
    // through the PSP's client SDK with the intent's client secret, never stuck without a way to pay.
    const seller = unique('seller');
    const paymentId = await pay(
      checkout({ sellers: [{ seller, amount: '21.00' }], paymentMethod: 'pm_card_threeDSecure2Required' }),
    );
    const pending = (await waitForStatus(paymentId, ['PENDING', 'SUCCESS', 'FAILED'])) as PendingView;
    expect(pending.status).toBe('PENDING');
    expect(pending.next_action).toEqual({
      type: 'use_stripe_sdk',
      client_secret: expect.stringMatching(new RegExp(`^${pending.psp_reference}_secret_`)),
    });

    await admin(`payment_intents/${pending.psp_reference}/authenticate`, { outcome: 'approve' });

    expect((await waitForStatus(paymentId, ['SUCCESS', 'FAILED'])).status).toBe('SUCCESS');
    expect(await checkInvariants(stackInfo(), [paymentId])).toEqual([]);
  });

  it('ends FAILED when 3-D Secure fails, with nothing booked', async () => {
    const { paymentId, seller, pending } = await pendingPayment();
    await admin(`payment_intents/${pending.psp_reference}/authenticate`, { outcome: 'fail' });
    const done = await waitForStatus(paymentId, ['SUCCESS', 'FAILED']);
    expect([done.status, done.status_reason]).toEqual(['FAILED', 'declined:payment_intent_authentication_failure']);
    expect((await call<{ balances: unknown[] }>('GET', `/v1/wallets/${seller}`)).body.balances).toEqual([]);
    expect(await checkInvariants(stackInfo(), [paymentId])).toEqual([]);
  });

  it('settles by the janitor’s polling when no webhook comes', async () => {
    await admin('webhooks/behaviour', { paused: true });
    try {
      const { paymentId, pending } = await pendingPayment();
      await admin(`payment_intents/${pending.psp_reference}/authenticate`, { outcome: 'approve' });
      const done = await waitForStatus(paymentId, ['SUCCESS', 'FAILED']);
      expect(done.status).toBe('SUCCESS');
      expect(await checkInvariants(stackInfo(), [paymentId])).toEqual([]);
    } finally {
      await admin('webhooks/behaviour', { paused: false });
    }
  });

  it('stops a payment still pending at its deadline at the PSP and ends it FAILED', async () => {
    const { paymentId, pending } = await pendingPayment();
    const done = await waitForStatus(paymentId, ['SUCCESS', 'FAILED'], 120_000);
    expect([done.status, done.status_reason]).toEqual(['FAILED', 'pending_deadline_passed']);
    const { urls, pspSecretKey } = stackInfo();
    const url = new URL(urls.psp);
    const stripe = new Stripe(pspSecretKey, { host: url.hostname, port: Number(url.port), protocol: 'http' });
    expect((await stripe.paymentIntents.retrieve(pending.psp_reference ?? '')).status).toBe('canceled');
    expect(await pspCharges(urls.psp, paymentId)).toEqual([]);
  });
});

describe('Pending: the hosted payment page (without a browser)', () => {
  it('registers the payment with the PSP, redirects the buyer, and settles on the webhook', async () => {
    const seller = unique('seller');
    const paymentId = await pay({
      ...checkout({ sellers: [{ seller, amount: '15.00' }] }),
      payment_method: undefined,
      return_url: RETURN_URL,
    });
    const pending = (await waitForStatus(paymentId, ['PENDING'])) as PendingView;
    const page = await fetch(pending.next_action?.redirect_url ?? '');
    expect(page.status).toBe(200);
    const form = new URLSearchParams({ cardnumber: '4242 4242 4242 4242', exp: '12/34', cvc: '123' });
    const submitted = await fetch(pending.next_action?.redirect_url ?? '', {
      method: 'POST',
      body: form,
      redirect: 'manual',
    });
    expect(submitted.status).toBe(303);
    expect(submitted.headers.get('location')).toContain(`${RETURN_URL}?payment_id=${paymentId}`);
    const done = await waitForStatus(paymentId, ['SUCCESS', 'FAILED']);
    expect(done.status).toBe('SUCCESS');
    expect(await checkInvariants(stackInfo(), [paymentId])).toEqual([]);
  });
});

describe('Webhooks', () => {
  it('applies the same event delivered three times once', async () => {
    const { paymentId, pending } = await pendingPayment();
    await admin(`payment_intents/${pending.psp_reference}/authenticate`, { outcome: 'approve' });
    await waitForStatus(paymentId, ['SUCCESS']);
    const succeeded = (await events(pending.psp_reference ?? '')).find((e) => e.type === 'payment_intent.succeeded');
    expect(succeeded).toBeDefined();
    await admin(`webhooks/resend/${succeeded?.id}`, {});
    await admin(`webhooks/resend/${succeeded?.id}`, {});
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const deliveries = (await admin('webhooks/deliveries')) as { event_id: string; status?: number }[];
    expect(deliveries.filter((d) => d.event_id === succeeded?.id && d.status === 200).length).toBeGreaterThanOrEqual(3);
    expect(await webhookRecorded(succeeded?.id ?? '')).toBe(true);
    expect((await pspCharges(stackInfo().urls.psp, paymentId)).length).toBe(1);
    expect(await checkInvariants(stackInfo(), [paymentId])).toEqual([]);
  });

  it('cannot move a payment backwards when events arrive in reverse order', async () => {
    await admin('webhooks/behaviour', { reorder: true, reorder_window: 2 });
    try {
      const { paymentId, pending } = await pendingPayment();
      await admin(`payment_intents/${pending.psp_reference}/authenticate`, { outcome: 'approve' });
      const done = await waitForStatus(paymentId, ['SUCCESS', 'FAILED']);
      expect(done.status).toBe('SUCCESS');
      await new Promise((resolve) => setTimeout(resolve, 2000));
      expect((await waitForStatus(paymentId, ['SUCCESS', 'FAILED'])).status).toBe('SUCCESS');
      expect(await checkInvariants(stackInfo(), [paymentId])).toEqual([]);
    } finally {
      await admin('webhooks/behaviour', { reorder: false });
    }
  });

  describe('refuses unverifiable calls with 400, storing nothing', () => {
    const secret = 'whsec_local_simulator_secret';
    // About a payment waiting for 3-D Secure: an event the consumer applies and records (the control case shows it).
    let target = { paymentId: 'pay_unset', pspReference: 'pi_unset' };
    beforeAll(async () => {
      const { paymentId, pending } = await pendingPayment();
      target = { paymentId, pspReference: pending.psp_reference ?? 'pi_missing' };
    });
    const payload = (id: string) =>
      JSON.stringify({
        id,
        object: 'event',
        type: 'payment_intent.succeeded',
        data: {
          object: { id: target.pspReference, object: 'payment_intent', metadata: { payment_id: target.paymentId } },
        },
      });

    async function post(body: string, signature: string | undefined) {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (signature !== undefined) headers['stripe-signature'] = signature;
      return call<{ error: { code: string } }>('POST', '/v1/webhooks/psp', {
        body,
        key: null,
        headers,
        idempotencyKey: null,
      });
    }

    it.each([
      ['no signature', (id: string) => ({ body: payload(id), signature: undefined })],
      [
        'a bad signature',
        (id: string) => ({ body: payload(id), signature: `t=${Math.floor(Date.now() / 1000)},v1=${'0'.repeat(64)}` }),
      ],
      [
        'a stale timestamp',
        (id: string) => ({
          body: payload(id),
          signature: Stripe.webhooks.generateTestHeaderString({
            payload: payload(id),
            secret,
            timestamp: Math.floor(Date.now() / 1000) - 600,
          }),
        }),
      ],
      [
        'a tampered body',
        (id: string) => ({
          body: payload(id).replace(target.paymentId, 'pay_other'),
          signature: Stripe.webhooks.generateTestHeaderString({ payload: payload(id), secret }),
        }),
      ],
    ])('with %s', async (_, make) => {
      const id = unique('evt');
      const { body, signature } = make(id);
      const response = await post(body, signature);
      expect([response.status, response.body.error?.code]).toEqual([400, 'invalid_signature']);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await webhookRecorded(id)).toBe(false);
    });

    it('accepts a correctly signed call (the control case)', async () => {
      const id = unique('evt');
      const response = await post(
        payload(id),
        Stripe.webhooks.generateTestHeaderString({ payload: payload(id), secret }),
      );
      expect(response.status).toBe(200);
      const deadline = Date.now() + 15_000;
      while (!(await webhookRecorded(id)) && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 200));
      expect(await webhookRecorded(id)).toBe(true);
    });
  });
});
