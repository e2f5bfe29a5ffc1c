/**
 * Refunds and disputes end to end on the local stack, over HTTP only (our API, the PSP simulator's admin routes):
 * partial and full refunds, concurrency, faults and crashes, refunds that fail after pending, refunds after a payout
 * (a negative wallet netted by the next pay-in), disputes won and lost with duplicated and reordered webhooks. After
 * each scenario the refund invariants hold against the PSP's own records.
 */

import { call, stackInfo, unique } from '../support/api-client';
import {
  advanceClock,
  balanceOf,
  DAYS,
  makeAvailable,
  onboardedSeller,
  payIn,
  pspAdmin,
  requestPayout,
  until,
  waitForPayout,
} from '../support/payouts';
import { checkRefundInvariants } from '../support/refund-invariants';
import { timelineUntil } from '../support/timeline';

jest.setTimeout(180_000);

type RefundView = {
  refund_id: string;
  status: string;
  amount: string;
  currency: string;
  failure_reason: string | null;
  error?: { code: string; refundable?: string; errors?: { field: string }[] };
};
type Payment = {
  payment_id: string;
  psp_reference: string;
  payment_orders: {
    payment_order_id: string;
    seller_account: string;
    refunded_amount: string;
    refunds: RefundView[];
  }[];
};

const getPayment = async (id: string) => (await call<Payment>('GET', `/v1/payments/${id}`)).body;
const getRefund = async (id: string) => (await call<RefundView>('GET', `/v1/refunds/${id}`)).body;
const waitForRefund = (id: string, statuses: string[], timeoutMs = 60_000) =>
  until(
    `refund ${id} ${statuses.join('/')}`,
    () => getRefund(id),
    (r) => statuses.includes(r.status),
    timeoutMs,
  );

function refund(paymentId: string, orderId: string, amount: string, idempotencyKey?: string) {
  return call<RefundView>('POST', `/v1/payments/${paymentId}/refunds`, {
    body: { payment_order_id: orderId, amount, reason: 'requested_by_customer' },
    ...(idempotencyKey ? { idempotencyKey } : {}),
  });
}

async function paidOrder(amount = '30.00', seller = unique('seller')) {
  const paymentId = await payIn([{ seller, amount }]);
  const payment = await getPayment(paymentId);
  const orderId = payment.payment_orders[0]?.payment_order_id as string;
  return { paymentId, orderId, seller, pi: payment.psp_reference };
}

const pspRefundsOf = async (pi: string) =>
  pspAdmin<{ id: string; status: string; amount: number; metadata?: Record<string, string> }[]>(
    'GET',
    `/__admin/refunds?payment_intent=${pi}`,
  );

async function expectInvariants(paymentIds: string[]) {
  expect(await checkRefundInvariants(stackInfo(), paymentIds)).toEqual([]);
}

afterEach(async () => {
  // No targeted fault left over for the next test.
  await pspAdmin('DELETE', '/__admin/faults');
});

beforeAll(async () => {
  // Refunds draw on the platform's available balance at the PSP.
  await pspAdmin('POST', '/__admin/balance/topup', { currency: 'eur', amount: 10_000_000 });
});

describe('Refunds: POST /v1/payments/{id}/refunds', () => {
  it('a partial refund, then the rest; a third is refused with the refundable amount; one PSP refund and one booking each', async () => {
    const { paymentId, orderId, seller, pi } = await paidOrder('30.00');
    const first = await refund(paymentId, orderId, '10.00');
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({ amount: '10.00', currency: 'EUR' });
    expect((await waitForRefund(first.body.refund_id, ['SUCCEEDED', 'FAILED'])).status).toBe('SUCCEEDED');
    const rest = await refund(paymentId, orderId, '20.00');
    expect((await waitForRefund(rest.body.refund_id, ['SUCCEEDED', 'FAILED'])).status).toBe('SUCCEEDED');
    const third = await refund(paymentId, orderId, '0.01');
    expect(third.status).toBe(422);
    expect(third.body.error).toMatchObject({ code: 'amount_above_refundable', refundable: '0.00' });
    expect(third.body.error?.errors?.[0]?.field).toBe('amount');
    expect((await pspRefundsOf(pi)).filter((r) => r.status === 'succeeded')).toHaveLength(2);
    const payment = await getPayment(paymentId);
    expect(payment.payment_orders[0]).toMatchObject({ refunded_amount: '30.00' });
    expect(payment.payment_orders[0]?.refunds.map((r) => r.amount)).toEqual(['10.00', '20.00']);
    expect(await balanceOf(seller)).toMatchObject({ amount: '0.00' });
    await expectInvariants([paymentId]);
    // The payment's timeline tells both refunds: asked, sent to the PSP under their own key, their workflow, booked.
    const events = await timelineUntil(
      paymentId,
      (list) => list.filter((e) => e.type === 'refund.succeeded').length === 2,
    );
    for (const id of [first.body.refund_id, rest.body.refund_id]) {
      const of = (type: string) => events.filter((e) => e.type === type && e.ids.refund_id === id);
      expect([of('refund.requested').length, of('refund.succeeded').length]).toEqual([1, 1]);
      expect(of('psp.refund').map((e) => [e.source, e.ids.idempotency_key])).toEqual([['psp', id]]);
      expect(events.some((e) => e.source === 'workflow' && e.ids.execution_arn?.endsWith(`:${id}`))).toBe(true);
    }
    expect(
      events.filter((e) => e.type === 'ledger.posted' && e.ids.transaction_id?.startsWith('refund:')),
    ).toHaveLength(2);
  });

  it('refuses a bad amount, an unknown order, and an order that was not charged', async () => {
    const { paymentId, orderId } = await paidOrder('5.00');
    expect((await refund(paymentId, orderId, '1.001')).status).toBe(400);
    expect((await refund(paymentId, 'no_such_order', '1.00')).status).toBe(404);
    const declined = await call<{ payment_id: string }>('POST', '/v1/payments', {
      body: {
        checkout_id: unique('chk'),
        buyer: { id: unique('buyer'), country: 'FR' },
        currency: 'EUR',
        payment_method: 'pm_card_chargeDeclined',
        payment_orders: [{ payment_order_id: unique('po'), seller_account: unique('s'), amount: '5.00' }],
      },
    });
    const failed = await until(
      'declined',
      () => getPayment(declined.body.payment_id),
      (p) => (p as unknown as { status: string }).status === 'FAILED',
    );
    const notCharged = await refund(failed.payment_id, failed.payment_orders[0]!.payment_order_id, '1.00');
    expect(notCharged.status).toBe(409);
  });

  it('20 concurrent refunds with different keys never exceed the order; 20 with one key are one refund', async () => {
    const { paymentId, orderId, pi } = await paidOrder('50.00');
    const answers = await Promise.all(Array.from({ length: 20 }, () => refund(paymentId, orderId, '7.00')));
    const accepted = answers.filter((a) => a.status === 202);
    // 7 x 7.00 fit in 50.00; a request that kept losing the race to others is told to retry (409), never refunded.
    const conflicts = answers.filter((a) => a.status === 409).length;
    expect(accepted.length).toBeLessThanOrEqual(7);
    expect(accepted.length + conflicts).toBeGreaterThanOrEqual(7);
    for (const a of answers.filter((a) => a.status !== 202)) expect([409, 422]).toContain(a.status);
    const key = unique('key');
    const second = await paidOrder('20.00');
    const same = await Promise.all(
      Array.from({ length: 20 }, () => refund(second.paymentId, second.orderId, '4.00', key)),
    );
    const ids = new Set(same.filter((a) => a.status === 202).map((a) => a.body.refund_id));
    expect(ids.size).toBe(1);
    for (const a of accepted) await waitForRefund(a.body.refund_id, ['SUCCEEDED']);
    for (const id of ids) await waitForRefund(id, ['SUCCEEDED']);
    const ours = new Set(accepted.map((a) => a.body.refund_id));
    const atPsp = await pspRefundsOf(pi);
    expect(atPsp.map((r) => r.metadata?.refund_id).sort()).toEqual([...ours].sort());
    expect((await pspRefundsOf(second.pi)).filter((r) => r.status === 'succeeded')).toHaveLength(1);
    await expectInvariants([paymentId, second.paymentId]);
  });
});

describe('Refunds: faults and failures end exactly once', () => {
  it.each(['lost', 'error500', 'charged500'])(
    'a %s answer from the PSP: at most one refund, one booking',
    async (fault) => {
      const { paymentId, orderId, pi } = await paidOrder('12.00');
      // A lost answer twice (the SDK resends once by itself); a 500 once (it ends the workflow: the janitor settles).
      const count = fault === 'lost' ? 2 : 1;
      // Aimed at this payment's refunds only: a retry still in flight from the case before must not take it.
      await pspAdmin('POST', '/__admin/faults/next', {
        path: '/v1/refunds',
        method: 'POST',
        fault,
        count,
        params: { payment_intent: pi },
      });
      const accepted = await refund(paymentId, orderId, '12.00');
      expect(accepted.status).toBe(202);
      const final = await waitForRefund(accepted.body.refund_id, ['SUCCEEDED', 'FAILED'], 90_000);
      const made = (await pspRefundsOf(pi)).filter((r) => r.metadata?.refund_id === accepted.body.refund_id);
      expect(made.length).toBeLessThanOrEqual(1);
      // error500 executes nothing: the janitor finds no refund at the PSP and fails ours, restoring everything.
      expect(final.status).toBe(fault === 'error500' ? 'FAILED' : 'SUCCEEDED');
      await expectInvariants([paymentId]);
    },
  );

  it('a crash right after the wallet debit: the retried step debits and books nothing more', async () => {
    const { paymentId, orderId } = await paidOrder('9.00', unique('fault_crash_after-wallet-debit'));
    const accepted = await refund(paymentId, orderId, '4.00');
    expect((await waitForRefund(accepted.body.refund_id, ['SUCCEEDED', 'FAILED'])).status).toBe('SUCCEEDED');
    await expectInvariants([paymentId]);
  });

  it('refund.failed after pending: the wallet and the ledger restored exactly once, the amount refundable again', async () => {
    const { paymentId, orderId, seller } = await paidOrder('25.00');
    await pspAdmin('POST', '/__admin/refunds/failures', {
      refund_failure_reason: 'expired_or_canceled_card',
      count: 1,
      delay_seconds: 60,
    });
    const accepted = await refund(paymentId, orderId, '25.00');
    await until(
      'pending at the PSP',
      () => getRefund(accepted.body.refund_id),
      (r) => r.status === 'PROCESSING',
    );
    expect(await balanceOf(seller)).toMatchObject({ amount: '0.00' });
    await advanceClock(120);
    const failed = await waitForRefund(accepted.body.refund_id, ['FAILED']);
    expect(failed.failure_reason).toBe('expired_or_canceled_card');
    await until(
      'wallet restored',
      () => balanceOf(seller),
      (b) => b?.amount === '25.00',
    );
    const again = await refund(paymentId, orderId, '25.00');
    expect(again.status).toBe(202);
    expect((await waitForRefund(again.body.refund_id, ['SUCCEEDED', 'FAILED'])).status).toBe('SUCCEEDED');
    await expectInvariants([paymentId]);
  });

  it('a refund after the seller was paid out: a negative wallet, no payout while negative, the next pay-in nets it', async () => {
    const { seller } = await onboardedSeller();
    const { paymentId, orderId } = await paidOrder('40.00', seller);
    await makeAvailable(seller, '40.00');
    const payout = await requestPayout({ seller_account: seller, currency: 'EUR' });
    await waitForPayout(payout.body.payout_id, ['IN_TRANSIT', 'PAID']);
    const accepted = await refund(paymentId, orderId, '15.00');
    expect((await waitForRefund(accepted.body.refund_id, ['SUCCEEDED'])).status).toBe('SUCCEEDED');
    expect(await balanceOf(seller)).toMatchObject({ amount: '-15.00', available: '-15.00' });
    const refused = await requestPayout({ seller_account: seller, currency: 'EUR', amount: '1.00' });
    expect(refused.status).toBe(422);
    const next = await payIn([{ seller, amount: '20.00' }]);
    await makeAvailable(seller, '5.00');
    expect(await balanceOf(seller)).toMatchObject({ amount: '5.00', available: '5.00' });
    await advanceClock(2 * DAYS);
    await expectInvariants([paymentId, next]);
  });
});

/** Waits until each event was delivered (and acknowledged) at least twice, then for its processing. */
async function deliveredAgain(eventIds: string[]) {
  for (const id of eventIds) {
    await until(
      `event ${id} delivered again`,
      () => pspAdmin<{ succeeded: boolean }[]>('GET', `/__admin/webhooks/deliveries?event_id=${id}`),
      (deliveries) => deliveries.filter((d) => d.succeeded).length >= 2,
    );
  }
  // Acknowledged means queued: give the processor its poll (the queue is polled continuously, batches of ten).
  await new Promise((resolve) => setTimeout(resolve, 2000));
}

describe('Disputes', () => {
  async function openDispute(pi: string) {
    const dispute = await pspAdmin<{ id: string }>('POST', '/__admin/disputes', {
      payment_intent: pi,
      reason: 'fraudulent',
    });
    return dispute.id;
  }
  const getDispute = async (id: string) =>
    (
      await call<{
        status: string;
        psp_status: string;
        amount: string;
        fee: string;
        orders: { seller_account: string }[];
      }>('GET', `/v1/disputes/${id}`)
    ).body;

  it('opened: the seller share set aside and the withdrawal booked; won: reinstated; duplicated webhooks change nothing', async () => {
    const { paymentId, seller, pi } = await paidOrder('60.00');
    const disputeId = await openDispute(pi);
    await until(
      'dispute recorded',
      () => getDispute(disputeId),
      (d) => d.status === 'OPEN' && d.fee === '15.00',
    );
    await until(
      'share set aside',
      () => balanceOf(seller),
      (b) => (b as { disputed?: string })?.disputed === '60.00',
    );
    const listed = await call<{ disputes: { dispute_id: string }[] }>('GET', '/v1/disputes?status=OPEN');
    expect(listed.body.disputes.map((d) => d.dispute_id)).toContain(disputeId);
    // Every event delivered again: nothing moves twice.
    const events = await pspAdmin<{ id: string; type: string; data: { object: { id: string } } }[]>(
      'GET',
      '/__admin/events',
    );
    const resent = events.filter((e) => e.type.startsWith('charge.dispute.') && e.data.object.id === disputeId);
    for (const e of resent) await pspAdmin('POST', `/__admin/webhooks/resend/${e.id}`);
    await deliveredAgain(resent.map((e) => e.id));
    expect(await balanceOf(seller)).toMatchObject({ amount: '60.00', disputed: '60.00' } as object);
    await pspAdmin('POST', `/__admin/disputes/${disputeId}/close`, { status: 'won' });
    await until(
      'won',
      () => getDispute(disputeId),
      (d) => d.status === 'WON',
    );
    await until(
      'share given back',
      () => balanceOf(seller),
      (b) => (b as { disputed?: string })?.disputed === '0.00',
    );
    expect(await balanceOf(seller)).toMatchObject({ amount: '60.00' });
    await expectInvariants([paymentId]);
    // Opened and won, each once on the payment's timeline although every event came twice.
    const timeline = await timelineUntil(paymentId, (list) => list.some((e) => e.type === 'dispute.won'));
    expect(timeline.filter((e) => e.source === 'dispute' && e.ids.dispute_id === disputeId).map((e) => e.type)).toEqual(
      ['dispute.open', 'dispute.won'],
    );
  });

  it('lost: the withdrawal is final, the seller bears it; reordered and repeated events change nothing more', async () => {
    const { paymentId, seller, pi } = await paidOrder('33.00');
    await pspAdmin('POST', '/__admin/webhooks/behaviour', { reorder: true });
    try {
      const disputeId = await openDispute(pi);
      await pspAdmin('POST', `/__admin/disputes/${disputeId}/close`, { status: 'lost' });
      await until(
        'lost',
        () => getDispute(disputeId),
        (d) => d.status === 'LOST',
      );
      await until(
        'share taken',
        () => balanceOf(seller),
        (b) => b?.amount === '0.00',
      );
      const events = await pspAdmin<{ id: string; type: string; data: { object: { id: string } } }[]>(
        'GET',
        '/__admin/events',
      );
      for (const e of events
        .filter((e) => e.type.startsWith('charge.dispute.') && e.data.object.id === disputeId)
        .reverse()) {
        await pspAdmin('POST', `/__admin/webhooks/resend/${e.id}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(await balanceOf(seller)).toMatchObject({ amount: '0.00', disputed: '0.00' } as object);
    } finally {
      await pspAdmin('DELETE', '/__admin/webhooks/behaviour');
    }
    await expectInvariants([paymentId]);
  });
});
