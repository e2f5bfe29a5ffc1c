/**
 * Pending payments (3-D Secure, the hosted payment page): the waiting task, settlement by the PSP's answer, the
 * deadline's cancellation, the webhook events that settle them, and the hosted page's registration by the charge
 * step. In-memory fakes for the payments table, the PSP and the task responder (test/unit/fakes.ts).
 */
import { loadPayInSettings } from '../../src/core/config';
import { InconsistentStateError, NotFoundError, PspTransientError } from '../../src/core/errors';
import { logger } from '../../src/core/observability';
import { withTimeline } from '../../src/core/timeline';
import type { PaymentEvent } from '../../src/payin/payment';
import type { Payment } from '../../src/payin/payments-table';
import { awaitPsp, cancelPending, type PendingDeps, settle, settledOutcome } from '../../src/payin/pending';
import { charge } from '../../src/payin/steps';
import { applyPspEvent } from '../../src/payin/webhooks';
import type { PspEvent } from '../../src/psp/events';
import type { PspChargeState } from '../../src/psp/types';
import { FakePaymentsTable, FakePsp, FakeTasks, makePayment } from './fakes';

const NOW = new Date('2026-11-21T12:00:00.000Z');
const NOW_ISO = NOW.toISOString();
const NOW_MS = NOW.getTime();
const NOW_S = NOW_MS / 1000;

let payments: FakePaymentsTable;
let psp: FakePsp;
let tasks: FakeTasks;

beforeEach(() => {
  payments = new FakePaymentsTable(() => NOW_ISO);
  psp = new FakePsp();
  tasks = new FakeTasks();
  jest.spyOn(logger, 'info').mockImplementation(() => undefined);
});

afterEach(() => {
  jest.restoreAllMocks();
});

// Settings as a function's cold start reads them (the charge tests change PENDING_DEADLINE_SECONDS).
const deps = (): PendingDeps => ({
  payments: payments,
  psp,
  tasks,
  settings: loadPayInSettings(process.env),
});
const stored = async (paymentId = 'pay_1'): Promise<Payment> => {
  const payment = await payments.get(paymentId);
  if (!payment) throw new Error(`test setup: no payment ${paymentId}`);
  return payment;
};
const pspState = (state: PspChargeState['state'], extra: Partial<PspChargeState> = {}): PspChargeState => ({
  pspReference: 'pi_1',
  state,
  amountMinor: 3000,
  currency: 'EUR',
  ...extra,
});

/** A payment waiting at the PSP with its workflow's task token, as the charge step and awaitPsp leave it. */
const pendingPayment = (mode: 'token' | 'hosted' = 'token', event: Partial<PaymentEvent> = {}) =>
  makePayment({
    status: 'PENDING',
    order: { psp_reference: 'pi_1' },
    event: {
      mode,
      psp_reference: 'pi_1',
      task_token: 'token_1',
      pending_deadline: '2026-11-21T13:00:00.000Z',
      ...(mode === 'hosted' ? { checkout_session_id: 'cs_1', psp_expires_at: NOW_S + 3600 } : {}),
      ...event,
    },
  });
/** Charged at the PSP: orders SUCCESS with the reference, the event still open until booked. */
const chargedPayment = () =>
  makePayment({
    status: 'PENDING',
    orderStatus: 'SUCCESS',
    order: { psp_reference: 'pi_1' },
    event: { psp_reference: 'pi_1', task_token: 'token_1' },
  });
const failedPayment = () =>
  makePayment({
    status: 'FAILED',
    event: { status_reason: 'declined:card_declined', psp_reference: 'pi_1', task_token: 'token_1' },
  });

const partlyCharged = () => {
  const payment = pendingPayment();
  payment.orders[0]!.status = 'SUCCESS';
  return payment;
};

/** The payment after a charge: orders SUCCESS with the reference, the event's reference set, its status kept. */
const asCharged = (payment: Payment, pspReference: string): Payment => ({
  event: { ...payment.event, psp_reference: pspReference, outcome_from: 'psp_record', updated_at: NOW_ISO },
  orders: payment.orders.map((o) => ({ ...o, status: 'SUCCESS', psp_reference: pspReference, updated_at: NOW_ISO })),
});
/** The payment after a failure: event and orders FAILED with the reason. */
const asFailed = (payment: Payment, reason: string): Payment => ({
  event: { ...payment.event, status: 'FAILED', status_reason: reason, updated_at: NOW_ISO },
  orders: payment.orders.map((o) => ({ ...o, status: 'FAILED', status_reason: reason, updated_at: NOW_ISO })),
});

describe('Module: pending', () => {
  describe('Function: settledOutcome', () => {
    it.each([
      ['every order charged, event PENDING', chargedPayment(), { outcome: 'SUCCEEDED' }],
      ['every order charged, event SUCCESS', makePayment({ status: 'SUCCESS' }), { outcome: 'SUCCEEDED' }],
      ['a FAILED event', failedPayment(), { outcome: 'FAILED', reason: 'declined:card_declined' }],
      ['a FAILED event without a reason', makePayment({ status: 'FAILED' }), { outcome: 'FAILED', reason: undefined }],
      ['a PENDING payment', pendingPayment(), undefined],
      ['an UNKNOWN payment', makePayment({ status: 'UNKNOWN' }), undefined],
      ['an EXECUTING payment', makePayment({ status: 'EXECUTING' }), undefined],
      ['one order of two charged', partlyCharged(), undefined],
      ['a payment without orders', { event: makePayment({ status: 'SUCCESS' }).event, orders: [] }, undefined],
    ] as const)('%s', (_name, payment, expected) => {
      // Act
      const outcome = settledOutcome(payment as Payment);

      // Assess
      expect(outcome).toStrictEqual(expected);
    });
  });

  describe('Function: awaitPsp', () => {
    it('stores the task token of a pending payment and waits, resuming nothing', async () => {
      // Prepare
      const payment = pendingPayment('token', { task_token: undefined });
      payments.put(payment);

      // Act
      const result = await awaitPsp(deps(), 'pay_1', 'token_2');

      // Assess
      expect(result).toEqual({ waiting: true });
      expect(await stored()).toEqual({
        ...payment,
        event: { ...payment.event, task_token: 'token_2', updated_at: NOW_ISO },
      });
      expect(tasks.succeeded).toEqual([]);
      expect(psp.calls).toEqual([]);
    });

    it.each([
      ['charged', chargedPayment(), { outcome: 'SUCCEEDED' }],
      ['failed', failedPayment(), { outcome: 'FAILED', reason: 'declined:card_declined' }],
    ] as const)(
      'resumes at once with the outcome of a payment already %s (a fast webhook)',
      async (_name, payment, outcome) => {
        // Prepare
        payments.put(payment);

        // Act
        const result = await awaitPsp(deps(), 'pay_1', 'token_2');

        // Assess
        expect(result).toEqual({ waiting: false });
        expect(tasks.succeeded).toEqual([{ token: 'token_2', output: outcome }]);
        expect((await stored()).event.task_token).toBe('token_2');
        expect(psp.calls).toEqual([]);
      },
    );

    it('throws NotFoundError for an unknown payment id', async () => {
      await expect(awaitPsp(deps(), 'pay_x', 'token_2')).rejects.toThrow(new NotFoundError('payment pay_x not found'));
      expect(tasks.succeeded).toEqual([]);
    });
  });

  describe('Function: settle', () => {
    it.each([
      ['charged', chargedPayment(), { outcome: 'SUCCEEDED' }],
      ['SUCCESS', makePayment({ status: 'SUCCESS', event: { task_token: 'token_1' } }), { outcome: 'SUCCEEDED' }],
      ['FAILED', failedPayment(), { outcome: 'FAILED', reason: 'declined:card_declined' }],
    ] as const)(
      'an already %s payment: resumes the workflow, changes nothing, asks nothing',
      async (_n, payment, outcome) => {
        // Prepare
        payments.put(payment);

        // Act
        const result = await settle(deps(), 'pay_1', pspState('failed', { reason: 'card_declined:generic_decline' }));

        // Assess
        expect(result).toBe('already_settled');
        expect(await stored()).toEqual(payment);
        expect(tasks.succeeded).toEqual([{ token: 'token_1', output: outcome }]);
        expect(psp.calls).toEqual([]);
      },
    );

    it('an already settled payment without a task token resumes nothing', async () => {
      // Prepare
      payments.put(makePayment({ status: 'FAILED', event: { status_reason: 'declined:x' } }));

      // Act
      const result = await settle(deps(), 'pay_1', pspState('failed', { reason: 'canceled:requested_by_customer' }));

      // Assess
      expect(result).toBe('already_settled');
      expect(tasks.succeeded).toEqual([]);
    });

    it('a FAILED payment the PSP says it charged: InconsistentStateError (refund needed), never dropped silently', async () => {
      // Prepare
      const payment = makePayment({ status: 'FAILED', event: { status_reason: 'declined:x' } });
      payments.put(payment);

      // Act
      const act = settle(deps(), 'pay_1', pspState('succeeded'));

      // Assess
      await expect(act).rejects.toBeInstanceOf(InconsistentStateError);
      expect(await stored()).toEqual(payment);
      expect(tasks.succeeded).toEqual([]);
    });

    it.each(['token', 'hosted'] as const)(
      'a %s payment still pending at the PSP: pending, nothing changes',
      async (mode) => {
        // Prepare
        const payment = pendingPayment(mode);
        payments.put(payment);

        // Act
        const result = await settle(deps(), 'pay_1', pspState('pending'));

        // Assess
        expect(result).toBe('pending');
        expect(await stored()).toEqual(payment);
        expect(tasks.succeeded).toEqual([]);
        expect(psp.calls).toEqual([]);
      },
    );

    it.each([
      ['token', 'succeeded', 2999, 'EUR', 'payment pay_1: the PSP has 2999 EUR'],
      ['token', 'succeeded', 3000, 'USD', 'payment pay_1: the PSP has 3000 USD'],
      ['token', 'failed', 3001, 'EUR', 'payment pay_1: the PSP has 3001 EUR'],
      ['hosted', 'failed', 3000, 'GBP', 'payment pay_1: the PSP has 3000 GBP'],
      ['hosted', 'succeeded', 30, 'EUR', 'payment pay_1: the PSP has 30 EUR'],
    ] as const)(
      'a %s payment %s for another amount or currency (%d %s): InconsistentStateError, nothing changes',
      async (mode, state, amountMinor, currency, message) => {
        // Prepare
        const payment = pendingPayment(mode);
        payments.put(payment);

        // Act
        const act = settle(deps(), 'pay_1', pspState(state, { amountMinor, currency }));

        // Assess
        await expect(act).rejects.toThrow(new InconsistentStateError(message));
        await expect(act).rejects.toBeInstanceOf(InconsistentStateError);
        expect(await stored()).toEqual(payment);
        expect(tasks.succeeded).toEqual([]);
        expect(psp.calls).toEqual([]);
      },
    );

    it.each(['token', 'hosted'] as const)(
      'a %s payment that succeeded: orders SUCCESS with the reference, workflow resumed',
      async (mode) => {
        // Prepare
        const payment = pendingPayment(mode);
        payments.put(payment);

        // Act
        const result = await settle(deps(), 'pay_1', pspState('succeeded', { pspReference: 'pi_2' }));

        // Assess
        expect(result).toBe('succeeded');
        expect(await stored()).toEqual(asCharged(payment, 'pi_2'));
        expect((await stored()).event.status).toBe('PENDING');
        expect(tasks.succeeded).toEqual([{ token: 'token_1', output: { outcome: 'SUCCEEDED' } }]);
        expect(psp.calls).toEqual([]);
      },
    );

    it.each([
      ['card_declined:generic_decline', 'declined:card_declined:generic_decline'],
      [undefined, 'declined:failed'],
    ])(
      'a token payment that failed (reason %s): its intent stopped first (the buyer holds its client secret), then FAILED with %s, workflow resumed',
      async (reason, expected) => {
        // Prepare
        const payment = pendingPayment('token');
        payments.put(payment);
        psp.stopResult = pspState('failed', { reason: 'canceled:requested_by_customer' });

        // Act
        const result = await settle(deps(), 'pay_1', pspState('failed', { reason }));

        // Assess
        expect(result).toBe('failed');
        expect(await stored()).toEqual(asFailed(payment, expected));
        expect(tasks.succeeded).toEqual([{ token: 'token_1', output: { outcome: 'FAILED', reason: expected } }]);
        expect(psp.calls).toEqual(['stopPending']);
        expect(psp.stopRequests).toEqual([
          { pspReference: 'pi_1', sessionId: undefined, idempotencyKey: expect.stringMatching(/^pay_1:stop:\d+$/) },
        ]);
      },
    );

    it('a token payment whose intent the PSP already cancelled: FAILED without another PSP call', async () => {
      // Prepare
      const payment = pendingPayment('token');
      payments.put(payment);

      // Act
      const result = await settle(deps(), 'pay_1', pspState('failed', { reason: 'canceled:automatic' }));

      // Assess
      expect(result).toBe('failed');
      expect(await stored()).toEqual(asFailed(payment, 'declined:canceled:automatic'));
      expect(psp.calls).toEqual([]);
    });

    it('a token payment that failed 3-D Secure but was paid meanwhile: SUCCESS, not FAILED (regression)', async () => {
      // Prepare
      const payment = pendingPayment('token');
      payments.put(payment);
      psp.stopResult = pspState('succeeded');

      // Act
      const result = await settle(
        deps(),
        'pay_1',
        pspState('failed', { reason: 'payment_intent_authentication_failure' }),
      );

      // Assess
      expect(result).toBe('succeeded');
      expect((await stored()).orders.map((o) => o.status)).toEqual(payment.orders.map(() => 'SUCCESS'));
    });

    describe('a hosted payment that failed', () => {
      it('stops the page first, then FAILED with the decline reason, workflow resumed', async () => {
        // Prepare
        const payment = pendingPayment('hosted');
        payments.put(payment);
        const statusWhenStopped: string[] = [];
        psp.stopResult = async () => {
          const now = await stored();
          statusWhenStopped.push(now.event.status, ...now.orders.map((o) => o.status));
          return pspState('failed', { reason: 'canceled:abandoned' });
        };

        // Act
        const result = await settle(
          deps(),
          'pay_1',
          pspState('failed', { reason: 'card_declined:insufficient_funds' }),
        );

        // Assess
        expect(result).toBe('failed');
        expect(psp.stopRequests).toEqual([
          { pspReference: 'pi_1', sessionId: 'cs_1', idempotencyKey: expect.stringMatching(/^pay_1:stop:\d+$/) },
        ]);
        expect(statusWhenStopped).toEqual(['PENDING', 'PENDING', 'PENDING']);
        const reason = 'declined:card_declined:insufficient_funds';
        expect(await stored()).toEqual(asFailed(payment, reason));
        expect(tasks.succeeded).toEqual([{ token: 'token_1', output: { outcome: 'FAILED', reason } }]);
        expect(psp.calls).toEqual(['stopPending']);
      });

      it("takes the stop's reason when the decline gave none", async () => {
        // Prepare
        const payment = pendingPayment('hosted');
        payments.put(payment);
        psp.stopResult = pspState('failed', { reason: 'canceled:abandoned' });

        // Act
        const result = await settle(deps(), 'pay_1', pspState('failed'));

        // Assess
        expect(result).toBe('failed');
        expect(await stored()).toEqual(asFailed(payment, 'declined:canceled:abandoned'));
      });

      it('SUCCESS when stopping found it paid meanwhile, with the reference the stop returned', async () => {
        // Prepare
        const payment = pendingPayment('hosted');
        payments.put(payment);
        psp.stopResult = pspState('succeeded', { pspReference: 'pi_3' });

        // Act
        const result = await settle(deps(), 'pay_1', pspState('failed', { reason: 'card_declined:generic_decline' }));

        // Assess
        expect(result).toBe('succeeded');
        expect(psp.stopRequests).toEqual([
          { pspReference: 'pi_1', sessionId: 'cs_1', idempotencyKey: expect.stringMatching(/^pay_1:stop:\d+$/) },
        ]);
        expect(await stored()).toEqual(asCharged(payment, 'pi_3'));
        expect(tasks.succeeded).toEqual([{ token: 'token_1', output: { outcome: 'SUCCEEDED' } }]);
      });

      it('PspTransientError when the page is still open after the stop, nothing changes', async () => {
        // Prepare
        const payment = pendingPayment('hosted');
        payments.put(payment);
        psp.stopResult = pspState('pending');

        // Act
        const act = settle(deps(), 'pay_1', pspState('failed', { reason: 'card_declined:generic_decline' }));

        // Assess
        await expect(act).rejects.toThrow(new PspTransientError('payment pay_1: the hosted page is still open'));
        await expect(act).rejects.toBeInstanceOf(PspTransientError);
        expect(await stored()).toEqual(payment);
        expect(tasks.succeeded).toEqual([]);
        expect(psp.calls).toEqual(['stopPending']);
      });
    });

    it('throws NotFoundError for an unknown payment id', async () => {
      await expect(settle(deps(), 'pay_x', pspState('succeeded'))).rejects.toThrow(
        new NotFoundError('payment pay_x not found'),
      );
    });
  });

  describe('Function: cancelPending', () => {
    it.each([
      ['charged', chargedPayment(), { outcome: 'SUCCEEDED' }],
      ['FAILED', failedPayment(), { outcome: 'FAILED', reason: 'declined:card_declined' }],
    ] as const)('an already %s payment: its outcome, no PSP call, nothing changes', async (_n, payment, outcome) => {
      // Prepare
      payments.put(payment);

      // Act
      const result = await cancelPending(deps(), 'pay_1');

      // Assess
      expect(result).toEqual(outcome);
      expect(await stored()).toEqual(payment);
      expect(psp.calls).toEqual([]);
    });

    it.each([
      ['token', undefined],
      ['hosted', 'cs_1'],
    ] as const)('stops a %s payment at the PSP: FAILED pending_deadline_passed', async (mode, sessionId) => {
      // Prepare
      const payment = pendingPayment(mode);
      payments.put(payment);
      psp.stopResult = pspState('failed', { reason: 'canceled:abandoned' });

      // Act
      const result = await cancelPending(deps(), 'pay_1');

      // Assess
      expect(result).toEqual({ outcome: 'FAILED', reason: 'pending_deadline_passed' });
      expect(psp.stopRequests).toEqual([
        { pspReference: 'pi_1', sessionId, idempotencyKey: expect.stringMatching(/^pay_1:stop:\d+$/) },
      ]);
      expect(await stored()).toEqual(asFailed(payment, 'pending_deadline_passed'));
      expect(psp.calls).toEqual(['stopPending']);
    });

    it('SUCCEEDED when the payment was paid meanwhile: orders SUCCESS with the reference', async () => {
      // Prepare
      const payment = pendingPayment('hosted');
      payments.put(payment);
      psp.stopResult = pspState('succeeded', { pspReference: 'pi_3' });

      // Act
      const result = await cancelPending(deps(), 'pay_1');

      // Assess
      expect(result).toEqual({ outcome: 'SUCCEEDED' });
      expect(await stored()).toEqual(asCharged(payment, 'pi_3'));
    });

    it('PspTransientError when the PSP still has it pending, nothing changes', async () => {
      // Prepare
      const payment = pendingPayment('token');
      payments.put(payment);
      psp.stopResult = pspState('pending');

      // Act
      const act = cancelPending(deps(), 'pay_1');

      // Assess
      await expect(act).rejects.toThrow(new PspTransientError('payment pay_1 could not be stopped at the PSP yet'));
      await expect(act).rejects.toBeInstanceOf(PspTransientError);
      expect(await stored()).toEqual(payment);
    });

    it('InconsistentStateError for a pending payment without a PSP reference, no PSP call', async () => {
      // Prepare
      const payment = pendingPayment('token', { psp_reference: undefined });
      payments.put(payment);

      // Act
      const act = cancelPending(deps(), 'pay_1');

      // Assess
      await expect(act).rejects.toThrow(new InconsistentStateError('payment pay_1 is pending without a PSP reference'));
      expect(psp.calls).toEqual([]);
      expect(await stored()).toEqual(payment);
    });
  });
});

describe('Module: webhooks', () => {
  describe('Function: applyPspEvent', () => {
    const intentEvent = (
      type = 'payment_intent.succeeded',
      object: Partial<PspEvent['data']['object']> = {},
      id = 'evt_1',
    ): PspEvent => ({
      id,
      type,
      data: { object: { id: 'pi_1', object: 'payment_intent', metadata: { payment_id: 'pay_1' }, ...object } },
    });
    const sessionEvent = (type = 'checkout.session.completed'): PspEvent => ({
      id: 'evt_2',
      type,
      data: {
        object: {
          id: 'cs_1',
          object: 'checkout.session',
          metadata: null,
          client_reference_id: 'pay_1',
          payment_intent: null,
        },
      },
    });

    it('re-reads the PaymentIntent and settles the payment with its current state, then records the event', async () => {
      // Prepare
      const payment = pendingPayment('token');
      payments.put(payment);
      psp.states.set('pi_1', pspState('succeeded'));

      // Act
      const result = await applyPspEvent(deps(), intentEvent());

      // Assess
      expect(result).toBe('succeeded');
      expect(psp.retrieveRequests).toEqual(['pi_1']);
      expect(await stored()).toEqual(asCharged(payment, 'pi_1'));
      expect(tasks.succeeded).toEqual([{ token: 'token_1', output: { outcome: 'SUCCEEDED' } }]);
      expect([...payments.webhooks]).toEqual([
        ['evt_1', { type: 'payment_intent.succeeded', payment_id: 'pay_1', result: 'succeeded' }],
      ]);
    });

    it.each([
      ['payment_intent.succeeded', 'EXECUTING' as const],
      ['payment_intent.processing', 'SUCCESS' as const],
      ['payment_intent.payment_failed', 'SUCCESS' as const],
    ])(
      '%s for a payment the charge call answered as charged (%s): one read, no write, no PSP call',
      async (type, status) => {
        // Prepare: charged by the answer to our own charge call (the ordinary payment)
        const charged = makePayment({
          status,
          order: { status: 'SUCCESS', psp_reference: 'pi_1' },
          event: { psp_reference: 'pi_1', outcome_from: 'charge_response' },
        });
        payments.put(charged);
        psp.states.set('pi_1', pspState('succeeded'));
        const reads = { get: jest.spyOn(payments, 'get'), getEvent: jest.spyOn(payments, 'getEvent') };
        const writes = [
          jest.spyOn(payments, 'transition'),
          jest.spyOn(payments, 'setEventFields'),
          jest.spyOn(payments, 'recordWebhook'),
          jest.spyOn(payments, 'webhookSeen'),
        ];
        const recorded: unknown[] = [];

        // Act
        const result = await withTimeline(
          { source: 'webhook', writer: { put: async (e) => void recorded.push(e) } },
          () => applyPspEvent(deps(), intentEvent(type)),
        );

        // Assess
        expect(result).toBe('already_settled');
        expect(reads.getEvent).toHaveBeenCalledTimes(1);
        expect(reads.get).not.toHaveBeenCalled();
        for (const spy of writes) expect(spy).not.toHaveBeenCalled();
        expect(psp.calls).toEqual([]);
        expect(psp.retrieveRequests).toEqual([]);
        expect(recorded).toEqual([]);
        expect(await stored()).toEqual(charged);
      },
    );

    it("a payment charged from the PSP's record (not our charge call's answer): the event is applied and recorded as before", async () => {
      // Prepare
      const charged = makePayment({
        status: 'EXECUTING',
        order: { status: 'SUCCESS', psp_reference: 'pi_1' },
        event: { psp_reference: 'pi_1', outcome_from: 'psp_record' },
      });
      payments.put(charged);
      psp.states.set('pi_1', pspState('succeeded'));

      // Act
      const result = await applyPspEvent(deps(), intentEvent());

      // Assess
      expect(result).toBe('already_settled');
      expect(psp.retrieveRequests).toEqual(['pi_1']);
      expect([...payments.webhooks]).toEqual([
        ['evt_1', { type: 'payment_intent.succeeded', payment_id: 'pay_1', result: 'already_settled' }],
      ]);
    });

    it("applies the PSP's current state, not the stale event's", async () => {
      // Prepare
      const payment = pendingPayment('token');
      payments.put(payment);
      psp.states.set('pi_1', pspState('succeeded'));

      // Act
      const result = await applyPspEvent(deps(), intentEvent('payment_intent.payment_failed'));

      // Assess
      expect(result).toBe('succeeded');
      expect(await stored()).toEqual(asCharged(payment, 'pi_1'));
    });

    it('re-reads a checkout session by the session id (its payment found by client_reference_id)', async () => {
      // Prepare
      const payment = pendingPayment('hosted');
      payments.put(payment);
      psp.states.set('cs_1', pspState('succeeded', { pspReference: 'pi_9' }));

      // Act
      const result = await applyPspEvent(deps(), sessionEvent());

      // Assess
      expect(result).toBe('succeeded');
      expect(psp.retrieveRequests).toEqual(['cs_1']);
      expect(await stored()).toEqual(asCharged(payment, 'pi_9'));
      expect(payments.webhooks.get('evt_2')).toEqual({
        type: 'checkout.session.completed',
        payment_id: 'pay_1',
        result: 'succeeded',
      });
    });

    it('records a still pending answer as applied, changing nothing', async () => {
      // Prepare
      const payment = pendingPayment('token');
      payments.put(payment);
      psp.states.set('pi_1', pspState('pending'));

      // Act
      const result = await applyPspEvent(deps(), intentEvent('payment_intent.processing'));

      // Assess
      expect(result).toBe('pending');
      expect(await stored()).toEqual(payment);
      expect(payments.webhooks.get('evt_1')).toEqual({
        type: 'payment_intent.processing',
        payment_id: 'pay_1',
        result: 'pending',
      });
    });

    it('a duplicate event id: duplicate, no PSP call, nothing changes', async () => {
      // Prepare
      const payment = pendingPayment('token');
      payments.put(payment);
      psp.states.set('pi_1', pspState('succeeded'));
      await payments.recordWebhook('evt_1', {
        type: 'payment_intent.processing',
        payment_id: 'pay_1',
        result: 'pending',
      });

      // Act
      const result = await applyPspEvent(deps(), intentEvent());

      // Assess
      expect(result).toBe('duplicate');
      expect(psp.calls).toEqual([]);
      expect(await stored()).toEqual(payment);
      expect(tasks.succeeded).toEqual([]);
      expect([...payments.webhooks]).toEqual([
        ['evt_1', { type: 'payment_intent.processing', payment_id: 'pay_1', result: 'pending' }],
      ]);
    });

    it.each([
      ['an unknown payment', intentEvent('payment_intent.succeeded', { metadata: { payment_id: 'pay_x' } }), 'pay_x'],
      ['an irrelevant type', intentEvent('charge.refunded'), 'pay_1'],
      ['an intent announced (created), which settles nothing', intentEvent('payment_intent.created'), 'pay_1'],
      ['no payment id', intentEvent('payment_intent.succeeded', { metadata: null }), undefined],
      ['an object neither intent nor session', intentEvent('payment_intent.succeeded', { object: 'charge' }), 'pay_1'],
    ])('%s: ignored, no PSP call, nothing recorded', async (_name, event, _paymentId) => {
      // Prepare
      const payment = pendingPayment('token');
      payments.put(payment);
      psp.states.set('pi_1', pspState('succeeded'));

      // Act
      const result = await applyPspEvent(deps(), event);

      // Assess
      expect(result).toBe('ignored');
      expect(psp.calls).toEqual([]);
      expect(await stored()).toEqual(payment);
      expect([...payments.webhooks]).toEqual([]);
    });

    it('a second concurrent application: duplicate when the event was recorded meanwhile', async () => {
      // Prepare: the other application records the event while this one re-reads the PSP
      const payment = pendingPayment('token');
      payments.put(payment);
      psp.states.set('pi_1', async () => {
        await payments.recordWebhook('evt_1', { type: 'payment_intent.succeeded', payment_id: 'pay_1', result: 'x' });
        return pspState('succeeded');
      });

      // Act
      const result = await applyPspEvent(deps(), intentEvent());

      // Assess
      expect(result).toBe('duplicate');
      expect(await stored()).toEqual(asCharged(payment, 'pi_1'));
      expect(payments.webhooks.get('evt_1')).toEqual({
        type: 'payment_intent.succeeded',
        payment_id: 'pay_1',
        result: 'x',
      });
    });

    it('does not record an event whose application failed, so a redelivery applies it', async () => {
      // Prepare
      const payment = pendingPayment('hosted');
      payments.put(payment);
      psp.states.set('cs_1', pspState('failed', { reason: 'card_declined:generic_decline' }));
      psp.stopResult = pspState('pending');

      // Act
      const act = applyPspEvent(deps(), sessionEvent('checkout.session.async_payment_failed'));

      // Assess
      await expect(act).rejects.toBeInstanceOf(PspTransientError);
      expect(payments.webhooks.size).toBe(0);
      expect(await stored()).toEqual(payment);
    });
  });
});

describe('Module: steps (hosted payment page)', () => {
  describe('Function: charge', () => {
    const savedWindow = process.env.PENDING_DEADLINE_SECONDS;
    const hostedPayment = (status: 'NOT_STARTED' | 'EXECUTING' = 'EXECUTING') =>
      makePayment({
        status,
        event: { mode: 'hosted', payment_method: undefined, return_url: 'https://shop.example/return' },
      });
    const registration = (expiresAt: number) => ({
      amountMinor: 3000,
      currency: 'EUR',
      paymentId: 'pay_1',
      metadata: { payment_id: 'pay_1', checkout_id: 'chk_pay_1' },
      returnUrl: 'https://shop.example/return',
      idempotencyKey: 'pay_1:register',
      expiresAt,
    });

    beforeEach(() => {
      delete process.env.PENDING_DEADLINE_SECONDS;
      jest.spyOn(Date, 'now').mockReturnValue(NOW_MS);
      psp.hostedPayment = { sessionId: 'cs_1', pspReference: 'pi_1', redirectUrl: 'https://checkout.example/cs_1' };
    });

    afterEach(() => {
      if (savedWindow === undefined) delete process.env.PENDING_DEADLINE_SECONDS;
      else process.env.PENDING_DEADLINE_SECONDS = savedWindow;
    });

    it.each(['NOT_STARTED', 'EXECUTING'] as const)(
      'registers a %s payment and marks it PENDING with the page',
      async (status) => {
        // Prepare
        const payment = hostedPayment(status);
        payments.put(payment);

        // Act
        const result = await charge(deps(), 'pay_1');

        // Assess
        expect(result).toEqual({ outcome: 'PENDING', psp_reference: 'pi_1', wait_seconds: 3600 });
        expect(psp.calls).toEqual(['registerHostedPayment']);
        expect(psp.hostedRequests).toEqual([registration(NOW_S + 3600)]);
        expect(await stored()).toEqual({
          event: {
            ...payment.event,
            status: 'PENDING',
            psp_reference: 'pi_1',
            checkout_session_id: 'cs_1',
            next_action: { type: 'redirect_to_url', redirect_url: 'https://checkout.example/cs_1' },
            pending_deadline: '2026-11-21T13:00:00.000Z',
            psp_expires_at: NOW_S + 3600,
            updated_at: NOW_ISO,
          },
          orders: payment.orders.map((o) => ({ ...o, status: 'PENDING', psp_reference: 'pi_1', updated_at: NOW_ISO })),
        });
      },
    );

    it('keeps the page on the payment even when it moved meanwhile (so the page can still be closed)', async () => {
      // Prepare: the move to PENDING finds the payment moved by another execution
      payments.put(hostedPayment());
      const transition = payments.transition.bind(payments);
      jest
        .spyOn(payments, 'transition')
        .mockImplementation(async (payment, to, changes, scope) =>
          to === 'PENDING' ? false : transition(payment, to, changes, scope),
        );

      // Act
      await charge(deps(), 'pay_1');

      // Assess
      const { event } = await stored();
      expect(event.status).toBe('EXECUTING');
      expect(event).toMatchObject({
        checkout_session_id: 'cs_1',
        next_action: { type: 'redirect_to_url', redirect_url: 'https://checkout.example/cs_1' },
      });
    });

    it.each([
      ['600', '2026-11-21T12:10:00.000Z', NOW_S + 31 * 60, 600],
      ['86400', '2026-11-22T12:00:00.000Z', NOW_S + 23 * 3600, 86_400],
    ])(
      'with a window of %s s: deadline %s, the page expiring within the PSP limits',
      async (window, deadline, expiresAt, wait) => {
        // Prepare
        process.env.PENDING_DEADLINE_SECONDS = window;
        payments.put(hostedPayment());

        // Act
        const result = await charge(deps(), 'pay_1');

        // Assess
        expect(result).toEqual({ outcome: 'PENDING', psp_reference: 'pi_1', wait_seconds: wait });
        expect(psp.hostedRequests).toEqual([registration(expiresAt)]);
        const { event } = await stored();
        expect(event.pending_deadline).toBe(deadline);
        expect(event.psp_expires_at).toBe(expiresAt);
      },
    );

    it('a retry after a PSP failure sends the same registration: deadline and expiry fixed once', async () => {
      // Prepare
      payments.put(hostedPayment());
      const page = psp.hostedPayment;
      psp.hostedPayment = async () => {
        throw new PspTransientError('PSP unavailable');
      };
      await expect(charge(deps(), 'pay_1')).rejects.toBeInstanceOf(PspTransientError);
      expect((await stored()).event.status).toBe('EXECUTING');
      psp.hostedPayment = page;
      jest.mocked(Date.now).mockReturnValue(NOW_MS + 120_000);

      // Act
      const result = await charge(deps(), 'pay_1');

      // Assess
      expect(result).toEqual({ outcome: 'PENDING', psp_reference: 'pi_1', wait_seconds: 3480 });
      expect(psp.hostedRequests).toEqual([registration(NOW_S + 3600), registration(NOW_S + 3600)]);
      const { event } = await stored();
      expect(event.status).toBe('PENDING');
      expect(event.pending_deadline).toBe('2026-11-21T13:00:00.000Z');
      expect(event.psp_expires_at).toBe(NOW_S + 3600);
    });

    it('keeps a deadline fixed before: the stored expiry is sent, nothing overwritten', async () => {
      // Prepare
      const payment = hostedPayment();
      payment.event.pending_deadline = '2026-11-21T12:30:00.000Z';
      payment.event.psp_expires_at = NOW_S + 31 * 60;
      payments.put(payment);

      // Act
      const result = await charge(deps(), 'pay_1');

      // Assess
      expect(result).toEqual({ outcome: 'PENDING', psp_reference: 'pi_1', wait_seconds: 1800 });
      expect(psp.hostedRequests).toEqual([registration(NOW_S + 31 * 60)]);
      const { event } = await stored();
      expect(event.pending_deadline).toBe('2026-11-21T12:30:00.000Z');
      expect(event.psp_expires_at).toBe(NOW_S + 31 * 60);
    });

    it('does not overwrite a deadline another attempt fixed after this one read the payment', async () => {
      // Prepare: the first read is stale (no deadline); a concurrent attempt has fixed it since
      const stale = hostedPayment();
      const fixed = hostedPayment();
      fixed.event.pending_deadline = '2026-11-21T12:30:00.000Z';
      fixed.event.psp_expires_at = NOW_S + 31 * 60;
      payments.put(fixed);
      jest.spyOn(payments, 'get').mockResolvedValueOnce(stale);

      // Act
      const result = await charge(deps(), 'pay_1');

      // Assess
      expect(result).toEqual({ outcome: 'PENDING', psp_reference: 'pi_1', wait_seconds: 1800 });
      expect(psp.hostedRequests).toEqual([registration(NOW_S + 31 * 60)]);
      const { event } = await stored();
      expect(event.pending_deadline).toBe('2026-11-21T12:30:00.000Z');
      expect(event.psp_expires_at).toBe(NOW_S + 31 * 60);
    });

    it.each([
      ['2026-11-21T12:30:00.000Z', 1800],
      ['2026-11-21T11:00:00.000Z', 1],
    ])(
      'a re-drive of a PENDING payment (deadline %s): PENDING for %d s, no PSP call, nothing changes',
      async (deadline, wait) => {
        // Prepare
        const payment = pendingPayment('hosted', { pending_deadline: deadline });
        payments.put(payment);

        // Act
        const result = await charge(deps(), 'pay_1');

        // Assess
        expect(result).toEqual({ outcome: 'PENDING', psp_reference: 'pi_1', wait_seconds: wait });
        expect(psp.calls).toEqual([]);
        expect(await stored()).toEqual(payment);
      },
    );
  });
});
