/**
 * Recovery paths of the pay-in: the risk hold and the operator's review, the refusal to charge an UNKNOWN payment,
 * RecordFailure, the PSP lookup that settles unknown outcomes, the workflow starts and re-drives, the janitor and the
 * replay of dead-lettered payments. In-memory fakes for the table and the PSP, aws-sdk-client-mock for Step Functions.
 */

import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  SFNClient,
  StartExecutionCommand,
  StateMachineDoesNotExist,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { loadPayInSettings } from '../../src/core/config';
import { InconsistentStateError, NotFoundError, PspTransientError, TransientError } from '../../src/core/errors';
import { logger } from '../../src/core/observability';
import { needingAPerson, runJanitor } from '../../src/payin/janitor';
import type { OrderStatus } from '../../src/payin/payment';
import type { Payment } from '../../src/payin/payments-table';
import { resolveWithPsp } from '../../src/payin/recovery';
import { paymentIdOfDeadLetter, replayPayment } from '../../src/payin/replay';
import { charge, decideReview, recordFailure, riskCheck } from '../../src/payin/steps';
import { executionArn, isWorkflowRunning, redrive, startPayIn } from '../../src/payin/workflow';
import type { PspChargeState } from '../../src/psp/types';
import { FakePaymentsTable, FakePsp, FakeRisk, FakeTasks, makePayment } from './fakes';

const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:PayIn';
const EXECUTIONS = 'arn:aws:states:us-east-1:123456789012:execution:PayIn';
const NOW = new Date('2026-11-21T12:00:00.000Z');
const NOW_ISO = NOW.toISOString();
const NOW_MS = NOW.getTime();
/** Long before the janitor's threshold. */
const STALE = '2026-11-21T11:00:00.000Z';
const STALE_AFTER_MS = 15 * 60 * 1000;
const THRESHOLD = '2026-11-21T11:45:00.000Z';

const sfnMock = mockClient(SFNClient);
const sfn = new SFNClient({ region: 'us-east-1' });

let payments: FakePaymentsTable;
let psp: FakePsp;
let tasks: FakeTasks;

beforeEach(() => {
  payments = new FakePaymentsTable(() => NOW_ISO);
  psp = new FakePsp();
  tasks = new FakeTasks();
});

afterEach(() => {
  sfnMock.reset();
  jest.restoreAllMocks();
  jest.useRealTimers();
});

const stored = async (paymentId = 'pay_1'): Promise<Payment> => {
  const payment = await payments.get(paymentId);
  if (!payment) throw new Error(`test setup: no payment ${paymentId}`);
  return payment;
};
const orderStatuses = async (paymentId = 'pay_1') => (await stored(paymentId)).orders.map((o) => o.status);
const pspCharge = (state: PspChargeState['state'], pspReference = 'pi_1', amountMinor = 3000, currency = 'EUR') => ({
  pspReference,
  state,
  amountMinor,
  currency,
});
const workflow = () => ({ sfn, stateMachineArn: STATE_MACHINE_ARN, payments: payments });
const settings = loadPayInSettings({});
const recoveryDeps = () => ({ payments: payments, psp, tasks, settings, workflow: workflow() });
/** The executions started, their input without the risk check's subject (asserted on its own in recovery.test.ts). */
const startInputs = () =>
  sfnMock.commandCalls(StartExecutionCommand).map((call) => {
    const { subject: _subject, ...input } = JSON.parse(call.args[0].input.input ?? '{}');
    return { ...call.args[0].input, input: JSON.stringify(input) };
  });
const describedArns = () =>
  sfnMock.commandCalls(DescribeExecutionCommand).map((call) => call.args[0].input.executionArn);
const startInput = (paymentId: string, name: string) => ({
  stateMachineArn: STATE_MACHINE_ARN,
  name,
  input: JSON.stringify({
    payment_id: paymentId,
    orders: [{ payment_order_id: `${paymentId}_ord_1` }, { payment_order_id: `${paymentId}_ord_2` }],
  }),
});
const doesNotExist = () => new ExecutionDoesNotExist({ message: 'Execution Does Not Exist', $metadata: {} });
const throttled = () => Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });

/** A payment held for risk review, as riskCheck leaves it. */
const heldForReview = () =>
  makePayment({
    status: 'PENDING',
    event: { risk_decision: 'REVIEW', status_reason: 'risk_review:amount_review:EUR' },
  });
/** Charged at the PSP (orders SUCCESS with the reference), not booked yet. */
const chargedOrders = (status: OrderStatus) =>
  makePayment({ status, orderStatus: 'SUCCESS', order: { psp_reference: 'pi_1' }, event: { psp_reference: 'pi_1' } });

describe('Module: steps', () => {
  describe('Function: riskCheck', () => {
    const subject = (status: OrderStatus = 'NOT_STARTED') => ({
      buyer: { id: 'buyer_1', country: 'FR' },
      currency: 'EUR',
      total_minor: 3000,
      status,
    });

    it('approves a payment the start describes as new without reading or writing it', async () => {
      // Prepare
      const payment = makePayment();
      payments.put(payment);
      const risk = new FakeRisk();
      const reads = [jest.spyOn(payments, 'get'), jest.spyOn(payments, 'getEvent')];
      const writes = [jest.spyOn(payments, 'transition'), jest.spyOn(payments, 'setEventFields')];

      // Act
      const result = await riskCheck({ payments: payments, risk }, 'pay_1', subject());

      // Assess
      expect(result).toEqual({ decision: 'APPROVE', reasons: [] });
      expect(risk.subjects).toEqual([
        { payment_id: 'pay_1', buyer: { id: 'buyer_1', country: 'FR' }, currency: 'EUR', total_minor: 3000 },
      ]);
      for (const spy of [...reads, ...writes]) expect(spy).not.toHaveBeenCalled();
      expect(await stored()).toEqual(payment);
    });

    it('reads the payment before writing a rejection the start’s description led to', async () => {
      // Prepare
      payments.put(makePayment());
      const risk = new FakeRisk({ decision: 'REJECT', reasons: ['blocked_country:KP'] });

      // Act
      const result = await riskCheck({ payments: payments, risk }, 'pay_1', subject());

      // Assess
      expect(result).toEqual({ decision: 'REJECT', reasons: ['blocked_country:KP'] });
      expect((await stored()).event).toMatchObject({ status: 'FAILED', risk_decision: 'REJECT' });
    });

    it('a description out of date (the payment moved on): the stored state decides, nothing is written', async () => {
      // Prepare: the start said NOT_STARTED; the payment is EXECUTING (a re-drive raced it)
      const payment = makePayment({ status: 'EXECUTING' });
      payments.put(payment);
      const risk = new FakeRisk({ decision: 'REJECT', reasons: ['blocked_country:KP'] });

      // Act
      const result = await riskCheck({ payments: payments, risk }, 'pay_1', subject());

      // Assess
      expect(result).toEqual({ decision: 'APPROVE', reasons: [] });
      expect(await stored()).toEqual(payment);
    });

    it('reads the payment when the start describes it as past the risk check', async () => {
      // Prepare
      const payment = makePayment({ status: 'EXECUTING' });
      payments.put(payment);
      const risk = new FakeRisk({ decision: 'REJECT', reasons: ['blocked_country:KP'] });

      // Act
      const result = await riskCheck({ payments: payments, risk }, 'pay_1', subject('EXECUTING'));

      // Assess
      expect(result).toEqual({ decision: 'APPROVE', reasons: [] });
      expect(risk.subjects).toEqual([]);
      expect(await stored()).toEqual(payment);
    });

    it('approves a new payment without writing anything', async () => {
      // Prepare
      const payment = makePayment();
      payments.put(payment);
      const risk = new FakeRisk();

      // Act
      const result = await riskCheck({ payments: payments, risk }, 'pay_1');

      // Assess
      expect(result).toEqual({ decision: 'APPROVE', reasons: [] });
      expect(risk.subjects).toEqual([payment.event]);
      expect(await stored()).toEqual(payment);
    });

    it('fails a rejected payment with the reasons, orders included', async () => {
      // Prepare
      const payment = makePayment();
      payments.put(payment);
      const risk = new FakeRisk({ decision: 'REJECT', reasons: ['blocked_country:KP', 'amount_over_limit:EUR'] });

      // Act
      const result = await riskCheck({ payments: payments, risk }, 'pay_1');

      // Assess
      expect(result).toEqual({ decision: 'REJECT', reasons: ['blocked_country:KP', 'amount_over_limit:EUR'] });
      const after = await stored();
      expect(after.event).toEqual({
        ...payment.event,
        status: 'FAILED',
        status_reason: 'risk_rejected:blocked_country:KP,amount_over_limit:EUR',
        risk_decision: 'REJECT',
        updated_at: NOW_ISO,
      });
      expect(after.orders.map((o) => o.status)).toEqual(['FAILED', 'FAILED']);
    });

    it('holds a payment for review: PENDING with risk_decision REVIEW', async () => {
      // Prepare
      const payment = makePayment();
      payments.put(payment);
      const risk = new FakeRisk({ decision: 'REVIEW', reasons: ['amount_review:EUR', 'velocity:6_per_hour'] });

      // Act
      const result = await riskCheck({ payments: payments, risk }, 'pay_1');

      // Assess
      expect(result).toEqual({ decision: 'REVIEW', reasons: ['amount_review:EUR', 'velocity:6_per_hour'] });
      const after = await stored();
      expect(after.event).toEqual({
        ...payment.event,
        status: 'PENDING',
        status_reason: 'risk_review:amount_review:EUR,velocity:6_per_hour',
        risk_decision: 'REVIEW',
        updated_at: NOW_ISO,
      });
      expect(after.orders.map((o) => o.status)).toEqual(['PENDING', 'PENDING']);
    });

    it('keeps a payment held for review in REVIEW without asking the provider again', async () => {
      // Prepare
      const payment = heldForReview();
      payments.put(payment);
      const risk = new FakeRisk({ decision: 'APPROVE', reasons: [] });

      // Act
      const result = await riskCheck({ payments: payments, risk }, 'pay_1');

      // Assess
      expect(result).toEqual({ decision: 'REVIEW', reasons: [] });
      expect(risk.subjects).toEqual([]);
      expect(await stored()).toEqual(payment);
    });

    it.each([
      ['with its reason', 'risk_rejected:operator', ['risk_rejected:operator']],
      ['without a reason', undefined, ['failed']],
    ])('answers REJECT for a FAILED payment %s', async (_, reason, reasons) => {
      // Prepare
      const payment = makePayment({ status: 'FAILED', event: { status_reason: reason } });
      payments.put(payment);
      const risk = new FakeRisk();

      // Act
      const result = await riskCheck({ payments: payments, risk }, 'pay_1');

      // Assess
      expect(result).toEqual({ decision: 'REJECT', reasons });
      expect(risk.subjects).toEqual([]);
      expect(await stored()).toEqual(payment);
    });

    it.each([
      ['EXECUTING', undefined],
      ['UNKNOWN', undefined],
      ['SUCCESS', undefined],
      ['PENDING', undefined],
      ['EXECUTING', 'APPROVED_BY_OPERATOR'],
    ] as const)(
      'approves a %s payment (risk decision %s), already past the check, without asking',
      async (status, decision) => {
        // Prepare
        const payment = makePayment({ status, event: { risk_decision: decision } });
        payments.put(payment);
        const risk = new FakeRisk({ decision: 'REJECT', reasons: ['would_reject'] });

        // Act
        const result = await riskCheck({ payments: payments, risk }, 'pay_1');

        // Assess
        expect(result).toEqual({ decision: 'APPROVE', reasons: [] });
        expect(risk.subjects).toEqual([]);
        expect(await stored()).toEqual(payment);
      },
    );

    it('throws NotFoundError for an unknown payment id', async () => {
      await expect(riskCheck({ payments: payments, risk: new FakeRisk() }, 'pay_x')).rejects.toThrow(
        new NotFoundError('payment pay_x not found'),
      );
    });
  });

  describe('Function: decideReview', () => {
    it('approves: PENDING -> EXECUTING, APPROVED_BY_OPERATOR, the review reason removed', async () => {
      // Prepare
      const payment = heldForReview();
      payments.put(payment);

      // Act
      const result = await decideReview({ payments: payments }, 'pay_1', 'approve');

      // Assess
      expect(result.changed).toBe(true);
      const { status_reason: _reason, ...rest } = payment.event;
      expect(result.payment.event).toEqual({
        ...rest,
        status: 'EXECUTING',
        risk_decision: 'APPROVED_BY_OPERATOR',
        updated_at: NOW_ISO,
      });
      expect(result.payment.event).not.toHaveProperty('status_reason');
      expect(result.payment.orders.map((o) => o.status)).toEqual(['EXECUTING', 'EXECUTING']);
      expect(result.payment).toEqual(await stored());
    });

    it('rejects: FAILED with risk_rejected:operator', async () => {
      // Prepare
      const payment = heldForReview();
      payments.put(payment);

      // Act
      const result = await decideReview({ payments: payments }, 'pay_1', 'reject');

      // Assess
      expect(result.changed).toBe(true);
      expect(result.payment.event).toEqual({
        ...payment.event,
        status: 'FAILED',
        status_reason: 'risk_rejected:operator',
        risk_decision: 'REJECT',
        updated_at: NOW_ISO,
      });
      expect(result.payment.orders.map((o) => o.status)).toEqual(['FAILED', 'FAILED']);
      expect(result.payment).toEqual(await stored());
    });

    it.each([
      ['NOT_STARTED', undefined],
      ['EXECUTING', 'APPROVED_BY_OPERATOR'],
      ['PENDING', undefined],
      ['PENDING', 'APPROVE'],
      ['FAILED', 'REJECT'],
    ] as const)('changes nothing for a %s payment with risk decision %s', async (status, decision) => {
      // Prepare
      const payment = makePayment({ status, event: { risk_decision: decision } });
      payments.put(payment);

      // Act
      const approved = await decideReview({ payments: payments }, 'pay_1', 'approve');
      const rejected = await decideReview({ payments: payments }, 'pay_1', 'reject');

      // Assess
      expect(approved).toEqual({ changed: false, payment });
      expect(rejected).toEqual({ changed: false, payment });
      expect(await stored()).toEqual(payment);
    });

    it('does not let a second decision override the first', async () => {
      // Prepare
      payments.put(heldForReview());
      await decideReview({ payments: payments }, 'pay_1', 'approve');

      // Act
      const second = await decideReview({ payments: payments }, 'pay_1', 'reject');

      // Assess
      expect(second.changed).toBe(false);
      expect(second.payment.event.status).toBe('EXECUTING');
      expect(second.payment.event.risk_decision).toBe('APPROVED_BY_OPERATOR');
    });
  });

  describe('Function: charge', () => {
    it('does not charge a payment held for review right after it was read (regression)', async () => {
      // Prepare
      payments.put(makePayment({ status: 'NOT_STARTED' }));
      const read = payments.get.bind(payments);
      jest.spyOn(payments, 'get').mockImplementationOnce(async (id) => {
        const snapshot = await read(id);
        // Another execution's risk check holds the payment for review just after this read.
        await payments.transition(snapshot!, 'PENDING', {
          reason: 'risk_review:amount_review:EUR',
          set: { risk_decision: 'REVIEW' },
          from: ['NOT_STARTED'],
        });
        return snapshot;
      });

      // Act
      const act = charge({ payments, psp, settings }, 'pay_1');

      // Assess
      await expect(act).rejects.toThrow(InconsistentStateError);
      expect(psp.calls).toEqual([]);
      expect((await stored()).event).toMatchObject({ status: 'PENDING', risk_decision: 'REVIEW' });
    });

    it('refuses to charge an UNKNOWN payment and makes no PSP call', async () => {
      // Prepare
      const payment = makePayment({
        status: 'UNKNOWN',
        event: { status_reason: 'psp_outcome_unknown:States.Timeout' },
      });
      payments.put(payment);

      // Act
      const act = charge({ payments: payments, psp, settings }, 'pay_1');

      // Assess
      await expect(act).rejects.toThrow(
        new InconsistentStateError('payment pay_1 has an unknown PSP outcome; the janitor resolves it'),
      );
      await expect(act).rejects.toBeInstanceOf(InconsistentStateError);
      expect(psp.calls).toEqual([]);
      expect(await stored()).toEqual(payment);
    });

    it('answers HELD for a payment held for review (whatever the risk check said) and makes no PSP call', async () => {
      // Prepare: a retried RiskCheck approved from the start's out-of-date input after the first held the payment
      const payment = heldForReview();
      payments.put(payment);

      // Act
      const result = await charge({ payments: payments, psp, settings }, 'pay_1');

      // Assess: the workflow ends held, the operator's review still to come
      expect(result).toEqual({ outcome: 'HELD', reason: 'risk_review:amount_review:EUR' });
      expect(psp.calls).toEqual([]);
      expect(await stored()).toEqual(payment);
    });

    it('refuses to charge a PENDING payment that is neither held nor waiting at the PSP', async () => {
      const payment = makePayment({ status: 'PENDING' });
      payments.put(payment);
      await expect(charge({ payments: payments, psp, settings }, 'pay_1')).rejects.toThrow(
        new InconsistentStateError('payment pay_1 is PENDING, cannot charge'),
      );
      expect(psp.calls).toEqual([]);
    });

    it.each(['UNKNOWN', 'EXECUTING'] as const)(
      're-driven after a resolution (event %s, orders charged), answers SUCCEEDED without charging again',
      async (status) => {
        // Prepare
        const payment = chargedOrders(status);
        payments.put(payment);

        // Act
        const result = await charge({ payments: payments, psp, settings }, 'pay_1');

        // Assess
        expect(result).toEqual({ outcome: 'SUCCEEDED', psp_reference: 'pi_1' });
        expect(psp.calls).toEqual([]);
        expect(await stored()).toEqual(payment);
      },
    );

    it('re-driven on a stalled EXECUTING payment, charges with the same idempotency key as the first attempt', async () => {
      // Prepare
      payments.put(makePayment({ status: 'EXECUTING' }));
      psp.chargeResult = { outcome: 'SUCCEEDED', pspReference: 'pi_redrive' };

      // Act
      const result = await charge({ payments: payments, psp, settings }, 'pay_1');

      // Assess
      expect(result).toEqual({ outcome: 'SUCCEEDED', psp_reference: 'pi_redrive' });
      expect(psp.chargeRequests).toEqual([
        {
          amountMinor: 3000,
          currency: 'EUR',
          paymentMethod: 'pm_card_visa',
          metadata: { payment_id: 'pay_1', checkout_id: 'chk_pay_1' },
          idempotencyKey: 'pay_1:charge',
          description: 'checkout chk_pay_1',
        },
      ]);
      const after = await stored();
      expect(after.event.status).toBe('EXECUTING');
      expect(after.event.psp_reference).toBe('pi_redrive');
      expect(after.orders.map((o) => [o.status, o.psp_reference])).toEqual([
        ['SUCCESS', 'pi_redrive'],
        ['SUCCESS', 'pi_redrive'],
      ]);
    });
  });

  describe('Function: recordFailure', () => {
    it('after a charge that gave up, makes an EXECUTING payment UNKNOWN (never FAILED), orders included', async () => {
      // Prepare
      const payment = makePayment({ status: 'EXECUTING' });
      payments.put(payment);

      // Act
      const result = await recordFailure({ payments: payments }, 'pay_1', 'charge', {
        Error: 'PspTransientError',
        Cause: '{"errorMessage":"socket hang up"}',
      });

      // Assess
      expect(result).toEqual({ status: 'UNKNOWN' });
      const after = await stored();
      expect(after.event).toEqual({
        ...payment.event,
        status: 'UNKNOWN',
        status_reason: 'psp_outcome_unknown:PspTransientError',
        updated_at: NOW_ISO,
      });
      expect(after.orders.map((o) => [o.status, o.status_reason])).toEqual([
        ['UNKNOWN', 'psp_outcome_unknown:PspTransientError'],
        ['UNKNOWN', 'psp_outcome_unknown:PspTransientError'],
      ]);
    });

    it('names the error "error" when the workflow passes none', async () => {
      // Prepare
      payments.put(makePayment({ status: 'EXECUTING' }));

      // Act
      const result = await recordFailure({ payments: payments }, 'pay_1', 'charge');

      // Assess
      expect(result).toEqual({ status: 'UNKNOWN' });
      expect((await stored()).event.status_reason).toBe('psp_outcome_unknown:error');
    });

    it.each([
      ['the orders are already charged', chargedOrders('EXECUTING'), 'EXECUTING'],
      ['the charge never started (NOT_STARTED)', makePayment({ status: 'NOT_STARTED' }), 'NOT_STARTED'],
      [
        'the payment is already FAILED',
        makePayment({ status: 'FAILED', event: { status_reason: 'declined:x' } }),
        'FAILED',
      ],
      ['the payment is already UNKNOWN', makePayment({ status: 'UNKNOWN' }), 'UNKNOWN'],
      // Never sent to the PSP: a charge step that gave up (before it could answer HELD) leaves it to its operator.
      ['the payment is held for risk review', heldForReview(), 'PENDING'],
    ])('after a charge, changes nothing when %s', async (_, payment, status) => {
      // Prepare
      payments.put(payment);

      // Act
      const result = await recordFailure({ payments: payments }, 'pay_1', 'charge', {
        Error: 'States.Timeout',
      });

      // Assess
      expect(result).toEqual({ status });
      expect(await stored()).toEqual(payment);
    });

    it('after the bookings gave up, records the reason without changing the status', async () => {
      // Prepare
      const payment = chargedOrders('EXECUTING');
      payments.put(payment);

      // Act
      const result = await recordFailure({ payments: payments }, 'pay_1', 'booking', {
        Error: 'TransientError',
      });

      // Assess
      expect(result).toEqual({ status: 'EXECUTING' });
      const after = await stored();
      expect(after.event).toEqual({
        ...payment.event,
        status_reason: 'booking_incomplete:TransientError',
        updated_at: NOW_ISO,
      });
      expect(after.orders).toEqual(payment.orders);
    });

    it('after the bookings, leaves a SUCCESS payment alone', async () => {
      // Prepare
      const payment = makePayment({ status: 'SUCCESS', order: { wallet_updated: true, ledger_updated: true } });
      payments.put(payment);

      // Act
      const result = await recordFailure({ payments: payments }, 'pay_1', 'booking', { Error: 'X' });

      // Assess
      expect(result).toEqual({ status: 'SUCCESS' });
      expect(await stored()).toEqual(payment);
    });
  });

  describe('Function: resolveWithPsp', () => {
    it.each(['UNKNOWN', 'EXECUTING'] as const)(
      'records the one succeeded charge of a %s payment on its orders and answers charged',
      async (status) => {
        // Prepare
        const payment = makePayment({ status });
        payments.put(payment);
        psp.charges.set('pay_1', [pspCharge('failed', 'pi_declined'), pspCharge('succeeded', 'pi_ok')]);

        // Act
        const outcome = await resolveWithPsp({ payments: payments, psp, settings }, 'pay_1');

        // Assess
        expect(outcome).toBe('charged');
        expect(psp.findRequests).toEqual(['pay_1']);
        expect(psp.calls).toEqual(['findCharges']);
        const after = await stored();
        // The event stays open (its status unchanged) until a re-drive books the orders.
        expect(after.event).toEqual({
          ...payment.event,
          psp_reference: 'pi_ok',
          outcome_from: 'psp_record',
          updated_at: NOW_ISO,
        });
        expect(after.orders).toEqual(
          payment.orders.map((o) => ({ ...o, status: 'SUCCESS', psp_reference: 'pi_ok', updated_at: NOW_ISO })),
        );
      },
    );

    it('throws InconsistentStateError on two succeeded charges, changing nothing', async () => {
      // Prepare
      const payment = makePayment({ status: 'UNKNOWN' });
      payments.put(payment);
      psp.charges.set('pay_1', [pspCharge('succeeded', 'pi_a'), pspCharge('succeeded', 'pi_b')]);

      // Act
      const act = resolveWithPsp({ payments: payments, psp, settings }, 'pay_1');

      // Assess
      await expect(act).rejects.toThrow(
        new InconsistentStateError('payment pay_1 has 2 successful PSP charges; refund needed'),
      );
      await expect(act).rejects.toBeInstanceOf(InconsistentStateError);
      expect(await stored()).toEqual(payment);
    });

    it.each([
      ['amount', pspCharge('succeeded', 'pi_ok', 2999, 'EUR'), 'payment pay_1: the PSP charged 2999 EUR'],
      ['currency', pspCharge('succeeded', 'pi_ok', 3000, 'USD'), 'payment pay_1: the PSP charged 3000 USD'],
    ])('throws InconsistentStateError on a charge of the wrong %s, changing nothing', async (_, found, message) => {
      // Prepare
      const payment = makePayment({ status: 'UNKNOWN' });
      payments.put(payment);
      psp.charges.set('pay_1', [found]);

      // Act
      const act = resolveWithPsp({ payments: payments, psp, settings }, 'pay_1');

      // Assess
      await expect(act).rejects.toThrow(new InconsistentStateError(message));
      await expect(act).rejects.toBeInstanceOf(InconsistentStateError);
      expect(await stored()).toEqual(payment);
    });

    it.each(['UNKNOWN', 'EXECUTING'] as const)(
      'answers pending for a %s payment with a pending charge, changing nothing',
      async (status) => {
        // Prepare
        const payment = makePayment({ status });
        payments.put(payment);
        psp.charges.set('pay_1', [pspCharge('failed', 'pi_declined'), pspCharge('pending', 'pi_3ds')]);

        // Act
        const outcome = await resolveWithPsp({ payments: payments, psp, settings }, 'pay_1');

        // Assess
        expect(outcome).toBe('pending');
        expect(await stored()).toEqual(payment);
      },
    );

    it.each([
      ['no charge at all', []],
      [
        'only failed charges (stopped first: a failed attempt may be confirmed again)',
        [pspCharge('failed', 'pi_declined')],
      ],
      ['only cancelled charges', [{ ...pspCharge('failed', 'pi_canceled'), reason: 'canceled:abandoned' }]],
    ])('fails an UNKNOWN payment when the PSP holds %s', async (_, found) => {
      // Prepare
      const payment = makePayment({ status: 'UNKNOWN', event: { status_reason: 'psp_outcome_unknown:X' } });
      payments.put(payment);
      psp.charges.set('pay_1', found);
      psp.stopResult = { ...pspCharge('failed', 'pi_declined'), reason: 'canceled:requested_by_customer' };

      // Act
      const outcome = await resolveWithPsp({ payments: payments, psp, settings }, 'pay_1');

      // Assess
      expect(outcome).toBe('failed');
      const after = await stored();
      expect(after.event).toEqual({
        ...payment.event,
        status: 'FAILED',
        status_reason: 'psp_no_charge_found',
        updated_at: NOW_ISO,
      });
      expect(after.orders.map((o) => o.status)).toEqual(['FAILED', 'FAILED']);
      const confirmable = found.filter((c) => !('reason' in c) || !String(c.reason).startsWith('canceled'));
      expect(psp.stopRequests.map((r) => r.pspReference)).toEqual(confirmable.map((c) => c.pspReference));
    });

    it('an UNKNOWN payment whose failed attempt was paid when stopped: charged, not FAILED (regression)', async () => {
      // Prepare
      payments.put(makePayment({ status: 'UNKNOWN', event: { status_reason: 'psp_outcome_unknown:X' } }));
      psp.charges.set('pay_1', [pspCharge('failed', 'pi_3ds')]);
      psp.stopResult = pspCharge('succeeded', 'pi_3ds');

      // Act
      const outcome = await resolveWithPsp({ payments: payments, psp, settings }, 'pay_1');

      // Assess
      expect(outcome).toBe('charged');
      expect(await orderStatuses()).toEqual(['SUCCESS', 'SUCCESS']);
    });

    it('leaves an EXECUTING payment with no charge at the PSP unchanged (a re-drive charges it)', async () => {
      // Prepare
      const payment = makePayment({ status: 'EXECUTING' });
      payments.put(payment);

      // Act
      const outcome = await resolveWithPsp({ payments: payments, psp, settings }, 'pay_1');

      // Assess
      expect(outcome).toBe('unchanged');
      expect(psp.findRequests).toEqual(['pay_1']);
      expect(await stored()).toEqual(payment);
    });

    it.each(['UNKNOWN', 'EXECUTING'] as const)(
      'answers unchanged for a %s payment whose orders are already charged, without asking the PSP',
      async (status) => {
        // Prepare
        const payment = chargedOrders(status);
        payments.put(payment);
        psp.charges.set('pay_1', [pspCharge('succeeded', 'pi_1')]);

        // Act
        const outcome = await resolveWithPsp({ payments: payments, psp, settings }, 'pay_1');

        // Assess
        expect(outcome).toBe('unchanged');
        expect(psp.calls).toEqual([]);
        expect(await stored()).toEqual(payment);
      },
    );

    it.each(['NOT_STARTED', 'PENDING', 'SUCCESS', 'FAILED'] as const)(
      'answers unchanged for a %s payment without asking the PSP',
      async (status) => {
        // Prepare
        const payment = makePayment({ status });
        payments.put(payment);
        psp.charges.set('pay_1', [pspCharge('succeeded', 'pi_1')]);

        // Act
        const outcome = await resolveWithPsp({ payments: payments, psp, settings }, 'pay_1');

        // Assess
        expect(outcome).toBe('unchanged');
        expect(psp.calls).toEqual([]);
        expect(await stored()).toEqual(payment);
      },
    );
  });
});

describe('Module: workflow', () => {
  describe('Function: startPayIn', () => {
    it('names the execution after the payment id and records it on the payment', async () => {
      // Prepare
      payments.put(makePayment());
      sfnMock.on(StartExecutionCommand).resolves({ executionArn: `${EXECUTIONS}:pay_1`, startDate: NOW });

      // Act
      await startPayIn(workflow(), makePayment().event);

      // Assess
      expect(startInputs()).toEqual([startInput('pay_1', 'pay_1')]);
      expect((await stored()).event.execution_name).toBe('pay_1');
      // What the risk check assesses, as the payment is: it need not read it.
      const [start] = sfnMock.commandCalls(StartExecutionCommand);
      expect(JSON.parse(start?.args[0].input.input ?? '{}').subject).toEqual({
        buyer: { id: 'buyer_1', country: 'FR' },
        currency: 'EUR',
        total_minor: 3000,
        status: 'NOT_STARTED',
      });
    });

    it('accepts ExecutionAlreadyExists (a repeated start) and still records the name', async () => {
      // Prepare
      payments.put(makePayment());
      sfnMock
        .on(StartExecutionCommand)
        .rejects(new ExecutionAlreadyExists({ message: 'Execution Already Exists', $metadata: {} }));

      // Act
      await startPayIn(workflow(), makePayment().event);

      // Assess
      expect(startInputs()).toEqual([startInput('pay_1', 'pay_1')]);
      expect((await stored()).event.execution_name).toBe('pay_1');
    });

    it('throws a throttled start as TransientError and records no name', async () => {
      // Prepare
      const payment = makePayment();
      payments.put(payment);
      sfnMock.on(StartExecutionCommand).rejects(throttled());

      // Act
      const act = startPayIn(workflow(), payment.event);

      // Assess
      await expect(act).rejects.toBeInstanceOf(TransientError);
      await expect(act).rejects.toHaveProperty('message', 'transient AWS error: ThrottlingException: Rate exceeded');
      expect(await stored()).toEqual(payment);
    });

    it('rethrows any other error unchanged and records no name', async () => {
      // Prepare
      const payment = makePayment();
      payments.put(payment);
      const error = new StateMachineDoesNotExist({ message: 'State Machine Does Not Exist', $metadata: {} });
      sfnMock.on(StartExecutionCommand).rejects(error);

      // Act
      const act = startPayIn(workflow(), payment.event);

      // Assess
      await expect(act).rejects.toBe(error);
      expect(await stored()).toEqual(payment);
    });
  });

  describe('Function: redrive', () => {
    it.each(['janitor', 'replay', 'review'] as const)(
      'starts <payment_id>-%s-<ms> and records it as the current execution',
      async (why) => {
        // Prepare
        payments.put(makePayment({ status: 'EXECUTING', event: { execution_name: 'pay_1' } }));
        sfnMock.on(StartExecutionCommand).resolves({});

        // Act
        const name = await redrive(workflow(), makePayment({ status: 'EXECUTING' }).event, why, NOW);

        // Assess
        expect(name).toBe(`pay_1-${why}-${NOW_MS}`);
        expect(startInputs()).toEqual([startInput('pay_1', `pay_1-${why}-${NOW_MS}`)]);
        expect((await stored()).event.execution_name).toBe(`pay_1-${why}-${NOW_MS}`);
        // The re-drive's input describes the payment as it is now: the risk check reads it, past NOT_STARTED.
        const [start] = sfnMock.commandCalls(StartExecutionCommand);
        expect(JSON.parse(start?.args[0].input.input ?? '{}').subject.status).toBe('EXECUTING');
      },
    );

    it('takes the current time when given none', async () => {
      // Prepare
      jest.useFakeTimers({ now: NOW, doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'] });
      payments.put(makePayment());
      sfnMock.on(StartExecutionCommand).resolves({});

      // Act
      const name = await redrive(workflow(), makePayment().event, 'replay');

      // Assess
      expect(name).toBe(`pay_1-replay-${NOW_MS}`);
    });
  });

  describe('Function: isWorkflowRunning', () => {
    it('describes the execution by its ARN, built from the state machine ARN', async () => {
      // Prepare
      sfnMock.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' });

      // Act
      const running = await isWorkflowRunning({ sfn, stateMachineArn: STATE_MACHINE_ARN }, 'pay_1-janitor-5');

      // Assess
      expect(running).toBe(true);
      expect(describedArns()).toEqual([`${EXECUTIONS}:pay_1-janitor-5`]);
      expect(executionArn(STATE_MACHINE_ARN, 'pay_1')).toBe(`${EXECUTIONS}:pay_1`);
    });

    it.each(['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE'] as const)(
      'answers false for an execution that is %s',
      async (status) => {
        // Prepare
        sfnMock.on(DescribeExecutionCommand).resolves({ status });

        // Act
        const running = await isWorkflowRunning({ sfn, stateMachineArn: STATE_MACHINE_ARN }, 'pay_1');

        // Assess
        expect(running).toBe(false);
      },
    );

    it.each([
      ['the SDK exception', doesNotExist()],
      ['an error of that name', Object.assign(new Error('gone'), { name: 'ExecutionDoesNotExist' })],
    ])('answers false for an execution that does not exist (%s)', async (_, error) => {
      // Prepare
      sfnMock.on(DescribeExecutionCommand).rejects(error);

      // Act
      const running = await isWorkflowRunning({ sfn, stateMachineArn: STATE_MACHINE_ARN }, 'pay_1');

      // Assess
      expect(running).toBe(false);
    });

    it.each([undefined, ''])(
      'answers false without asking when the payment has no execution name (%p)',
      async (name) => {
        // Act
        const running = await isWorkflowRunning({ sfn, stateMachineArn: STATE_MACHINE_ARN }, name);

        // Assess
        expect(running).toBe(false);
        expect(sfnMock.calls()).toHaveLength(0);
      },
    );

    it('throws a throttled description as TransientError', async () => {
      // Prepare
      sfnMock.on(DescribeExecutionCommand).rejects(throttled());

      // Act
      const act = isWorkflowRunning({ sfn, stateMachineArn: STATE_MACHINE_ARN }, 'pay_1');

      // Assess
      await expect(act).rejects.toBeInstanceOf(TransientError);
    });
  });
});

describe('Module: janitor', () => {
  describe('Function: runJanitor', () => {
    const run = () => runJanitor(recoveryDeps(), { now: NOW, staleAfterMs: STALE_AFTER_MS });
    const janitorName = (paymentId: string) => `${paymentId}-janitor-${NOW_MS}`;

    beforeEach(() => {
      jest.spyOn(logger, 'info').mockImplementation(() => undefined);
      jest.spyOn(logger, 'error').mockImplementation(() => undefined);
      sfnMock.on(StartExecutionCommand).resolves({});
      sfnMock.on(DescribeExecutionCommand).rejects(doesNotExist());
    });

    it('asks for the open payments created before now - staleAfterMs, once', async () => {
      // Act
      const report = await run();

      // Assess
      expect(payments.openQueries).toEqual([THRESHOLD]);
      expect(report).toEqual({ examined: 0, redriven: [], resolved: [], errors: [] });
      expect(sfnMock.calls()).toHaveLength(0);
    });

    it('leaves alone what changed within the threshold, and payments in other statuses', async () => {
      // Prepare
      payments.put(makePayment({ id: 'pay_old', updatedAt: '2026-11-21T11:44:59.999Z' }));
      payments.put(makePayment({ id: 'pay_recent', updatedAt: THRESHOLD }));
      payments.put(makePayment({ id: 'pay_done', status: 'SUCCESS', updatedAt: STALE }));
      payments.put(makePayment({ id: 'pay_failed', status: 'FAILED', updatedAt: STALE }));

      // Act
      const report = await run();

      // Assess
      expect(report).toEqual({ examined: 1, redriven: [janitorName('pay_old')], resolved: [], errors: [] });
      expect(startInputs()).toEqual([startInput('pay_old', janitorName('pay_old'))]);
      // Only the payment examined goes to the back of the list; one written to lately keeps its place.
      expect(payments.requeued).toEqual([{ paymentId: 'pay_old', after: THRESHOLD }]);
    });

    it('takes the open payments in turn: one examined goes to the back, so those that wait long never stand for good in front of a stuck one', async () => {
      // Prepare: three payments held for review, older than (listed before) a stuck NOT_STARTED one; two a run.
      for (const id of ['pay_r1', 'pay_r2', 'pay_r3']) {
        payments.put(
          makePayment({
            id,
            status: 'PENDING',
            updatedAt: STALE,
            event: { risk_decision: 'REVIEW', created_at: '2026-11-20T00:00:00.000Z' },
          }),
        );
      }
      payments.put(makePayment({ id: 'pay_stuck', updatedAt: STALE }));
      const later = new Date(NOW.getTime() + 5 * 60_000);

      // Act: two runs, five minutes apart.
      const first = await runJanitor(recoveryDeps(), { now: NOW, staleAfterMs: STALE_AFTER_MS, limit: 2 });
      const second = await runJanitor(recoveryDeps(), { now: later, staleAfterMs: STALE_AFTER_MS, limit: 2 });

      // Assess: the first run leaves the two oldest to the operator and puts them at the back (just after its bound);
      // the second takes the third and the stuck one, which is re-driven.
      expect(first).toEqual({ examined: 2, redriven: [], resolved: [], errors: [] });
      expect(second).toEqual({
        examined: 2,
        redriven: [`pay_stuck-janitor-${later.getTime()}`],
        resolved: [],
        errors: [],
      });
      expect(payments.requeued).toEqual([
        { paymentId: 'pay_r1', after: THRESHOLD },
        { paymentId: 'pay_r2', after: THRESHOLD },
        { paymentId: 'pay_r3', after: new Date(later.getTime() - STALE_AFTER_MS).toISOString() },
        { paymentId: 'pay_stuck', after: new Date(later.getTime() - STALE_AFTER_MS).toISOString() },
      ]);
    });

    it('reports what it did when the list of open payments fails part way, and the failure', async () => {
      // Prepare: the index answers one payment, then fails.
      payments.put(makePayment({ id: 'pay_old', updatedAt: STALE }));
      jest.spyOn(payments, 'openIdsCreatedBefore').mockImplementation(async function* () {
        yield 'pay_old';
        throw throttled();
      });

      // Act
      const report = await run();

      // Assess
      expect(report).toEqual({
        examined: 1,
        redriven: [janitorName('pay_old')],
        resolved: [],
        errors: [{ payment_id: '', error: 'Rate exceeded', kind: 'ThrottlingException' }],
      });
    });

    it('examines a payment held for risk review but leaves it to the operator', async () => {
      // Prepare
      const payment = heldForReview();
      payments.put(payment);
      psp.charges.set('pay_1', [pspCharge('succeeded')]);

      // Act
      const report = await run();

      // Assess
      expect(report).toEqual({ examined: 1, redriven: [], resolved: [], errors: [] });
      expect(sfnMock.calls()).toHaveLength(0);
      expect(psp.calls).toEqual([]);
      expect(tasks.succeeded).toEqual([]);
      expect(await stored()).toEqual(payment);
    });

    it.each(['NOT_STARTED', 'EXECUTING'] as const)(
      'does nothing to a %s payment whose workflow is running',
      async (status) => {
        // Prepare
        const payment = makePayment({ status, updatedAt: STALE, event: { execution_name: 'pay_1' } });
        payments.put(payment);
        psp.charges.set('pay_1', [pspCharge('succeeded')]);
        sfnMock.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' });

        // Act
        const report = await run();

        // Assess
        expect(report).toEqual({ examined: 1, redriven: [], resolved: [], errors: [] });
        expect(describedArns()).toEqual([`${EXECUTIONS}:pay_1`]);
        expect(startInputs()).toEqual([]);
        expect(psp.calls).toEqual([]);
        expect(await stored()).toEqual(payment);
      },
    );

    it.each([
      ['ended', { status: 'SUCCEEDED' }],
      ['failed', { status: 'FAILED' }],
      ['lost', doesNotExist()],
    ] as const)('re-drives a NOT_STARTED payment whose workflow %s, without asking the PSP', async (_, described) => {
      // Prepare
      payments.put(makePayment({ updatedAt: STALE, event: { execution_name: 'pay_1' } }));
      if (described instanceof Error) sfnMock.on(DescribeExecutionCommand).rejects(described);
      else sfnMock.on(DescribeExecutionCommand).resolves(described);

      // Act
      const report = await run();

      // Assess
      expect(report).toEqual({ examined: 1, redriven: [janitorName('pay_1')], resolved: [], errors: [] });
      expect(startInputs()).toEqual([startInput('pay_1', janitorName('pay_1'))]);
      expect(psp.calls).toEqual([]);
      const after = await stored();
      expect(after.event.status).toBe('NOT_STARTED');
      expect(after.event.execution_name).toBe(janitorName('pay_1'));
    });

    it('re-drives a NOT_STARTED payment that never got an execution, without describing one', async () => {
      // Prepare
      payments.put(makePayment({ updatedAt: STALE }));

      // Act
      const report = await run();

      // Assess
      expect(report.redriven).toEqual([janitorName('pay_1')]);
      expect(describedArns()).toEqual([]);
    });

    it('records the charge of a stalled EXECUTING payment found at the PSP and re-drives it', async () => {
      // Prepare
      payments.put(makePayment({ status: 'EXECUTING', updatedAt: STALE, event: { execution_name: 'pay_1' } }));
      psp.charges.set('pay_1', [pspCharge('succeeded', 'pi_found')]);

      // Act
      const report = await run();

      // Assess
      expect(report).toEqual({
        examined: 1,
        redriven: [janitorName('pay_1')],
        resolved: [{ payment_id: 'pay_1', outcome: 'charged' }],
        errors: [],
      });
      expect(describedArns()).toEqual([`${EXECUTIONS}:pay_1`]);
      expect(startInputs()).toEqual([startInput('pay_1', janitorName('pay_1'))]);
      const after = await stored();
      expect(after.orders.map((o) => [o.status, o.psp_reference])).toEqual([
        ['SUCCESS', 'pi_found'],
        ['SUCCESS', 'pi_found'],
      ]);
      expect(psp.calls).toEqual(['findCharges']);
    });

    it('re-drives a stalled EXECUTING payment with no charge at the PSP, leaving it EXECUTING', async () => {
      // Prepare
      const payment = makePayment({ status: 'EXECUTING', updatedAt: STALE, event: { execution_name: 'pay_1' } });
      payments.put(payment);

      // Act
      const report = await run();

      // Assess
      expect(report).toEqual({ examined: 1, redriven: [janitorName('pay_1')], resolved: [], errors: [] });
      expect(psp.findRequests).toEqual(['pay_1']);
      expect(await stored()).toEqual({
        ...payment,
        event: { ...payment.event, execution_name: janitorName('pay_1'), updated_at: NOW_ISO },
      });
    });

    it('fails an UNKNOWN payment with no charge at the PSP and does not re-drive it', async () => {
      // Prepare
      payments.put(makePayment({ status: 'UNKNOWN', updatedAt: STALE, event: { execution_name: 'pay_1' } }));
      // Even a (wrongly) running execution does not hold an UNKNOWN payment: its state is never asked for.
      sfnMock.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' });

      // Act
      const report = await run();

      // Assess
      expect(report).toEqual({
        examined: 1,
        redriven: [],
        resolved: [{ payment_id: 'pay_1', outcome: 'failed' }],
        errors: [],
      });
      expect(sfnMock.calls()).toHaveLength(0);
      const after = await stored();
      expect(after.event.status).toBe('FAILED');
      expect(after.event.status_reason).toBe('psp_no_charge_found');
    });

    it('records the charge of an UNKNOWN payment found at the PSP and re-drives it', async () => {
      // Prepare
      payments.put(makePayment({ status: 'UNKNOWN', updatedAt: STALE }));
      psp.charges.set('pay_1', [pspCharge('succeeded', 'pi_found')]);

      // Act
      const report = await run();

      // Assess
      expect(report).toEqual({
        examined: 1,
        redriven: [janitorName('pay_1')],
        resolved: [{ payment_id: 'pay_1', outcome: 'charged' }],
        errors: [],
      });
      expect(describedArns()).toEqual([]);
      expect(startInputs()).toEqual([startInput('pay_1', janitorName('pay_1'))]);
      expect(await orderStatuses()).toEqual(['SUCCESS', 'SUCCESS']);
    });

    it('re-drives an EXECUTING payment pending at the PSP whose workflow is gone (the charge key replays the answer)', async () => {
      // Prepare
      payments.put(makePayment({ status: 'EXECUTING', updatedAt: STALE }));
      psp.charges.set('pay_1', [pspCharge('pending', 'pi_3ds')]);

      // Act
      const report = await run();

      // Assess
      expect(report).toEqual({
        examined: 1,
        redriven: [janitorName('pay_1')],
        resolved: [{ payment_id: 'pay_1', outcome: 'pending' }],
        errors: [],
      });
      expect(startInputs()).toEqual([startInput('pay_1', janitorName('pay_1'))]);
    });

    it.each(['UNKNOWN'] as const)(
      'reports a %s payment pending at the PSP and does not re-drive it',
      async (status) => {
        // Prepare
        const payment = makePayment({ status, updatedAt: STALE });
        payments.put(payment);
        psp.charges.set('pay_1', [pspCharge('pending', 'pi_3ds')]);

        // Act
        const report = await run();

        // Assess
        expect(report).toEqual({
          examined: 1,
          redriven: [],
          resolved: [{ payment_id: 'pay_1', outcome: 'pending' }],
          errors: [],
        });
        expect(startInputs()).toEqual([]);
        expect(await stored()).toEqual(payment);
      },
    );

    it.each(['FAILED', 'SUCCESS'] as const)(
      'does not re-drive a payment that became %s while the PSP was asked',
      async (finalStatus) => {
        // Prepare
        payments.put(makePayment({ status: 'EXECUTING', updatedAt: STALE }));
        psp.charges.set('pay_1', async () => {
          // The workflow's own step lands meanwhile.
          await payments.transition(await stored(), finalStatus, {}, 'event');
          return [];
        });

        // Act
        const report = await run();

        // Assess
        expect(report).toEqual({ examined: 1, redriven: [], resolved: [], errors: [] });
        expect(startInputs()).toEqual([]);
        expect((await stored()).event.status).toBe(finalStatus);
      },
    );

    it('collects each payment error and goes on with the others', async () => {
      // Prepare
      payments.put(makePayment({ id: 'pay_a', updatedAt: '2026-11-21T10:00:00.000Z' }));
      payments.put(makePayment({ id: 'pay_d', updatedAt: '2026-11-21T10:30:00.000Z' }));
      payments.put(makePayment({ id: 'pay_b', status: 'EXECUTING', updatedAt: STALE }));
      payments.put(makePayment({ id: 'pay_c', status: 'UNKNOWN', updatedAt: STALE }));
      sfnMock.on(StartExecutionCommand).callsFake(async (input: { name: string }) => {
        if (input.name.startsWith('pay_a-')) throw throttled();
        return {};
      });
      const pspDown = new PspTransientError('the PSP could not be asked');
      psp.charges.set('pay_b', async () => {
        throw pspDown;
      });

      // Act
      const report = await run();

      // Assess
      expect(report).toEqual({
        examined: 4,
        redriven: [janitorName('pay_d')],
        resolved: [{ payment_id: 'pay_c', outcome: 'failed' }],
        errors: [
          {
            payment_id: 'pay_a',
            error: 'transient AWS error: ThrottlingException: Rate exceeded',
            kind: 'TransientError',
          },
          { payment_id: 'pay_b', error: 'the PSP could not be asked', kind: 'PspTransientError' },
        ],
      });
      // Transient trouble is left for the next run; nobody is paged for it.
      expect(needingAPerson(report)).toEqual([]);
      expect(jest.mocked(logger.error).mock.calls).toEqual([
        ['janitor could not tidy a payment', { payment_id: 'pay_a', error: expect.any(TransientError) }],
        ['janitor could not tidy a payment', { payment_id: 'pay_b', error: pspDown }],
      ]);
      // Each examined payment goes to the back of the list, those whose recovery failed too.
      expect(payments.requeued.map((r) => r.paymentId)).toEqual(['pay_a', 'pay_b', 'pay_c', 'pay_d']);
      expect((await stored('pay_a')).event.execution_name).toBeUndefined();
      expect((await stored('pay_b')).event.status).toBe('EXECUTING');
      expect((await stored('pay_c')).event.status).toBe('FAILED');
    });
  });
});

describe('Module: janitor (payments that need a person)', () => {
  it('lists a payment with two successful PSP charges as needing a person, after tidying the others', async () => {
    // Prepare
    jest.spyOn(logger, 'error').mockImplementation(() => undefined);
    sfnMock.on(StartExecutionCommand).resolves({});
    sfnMock.on(DescribeExecutionCommand).rejects(doesNotExist());
    payments.put(makePayment({ id: 'pay_x', status: 'UNKNOWN', updatedAt: STALE }));
    psp.charges.set('pay_x', [pspCharge('succeeded', 'pi_1'), pspCharge('succeeded', 'pi_2')]);

    // Act
    const report = await runJanitor(recoveryDeps(), { now: NOW, staleAfterMs: STALE_AFTER_MS });

    // Assess
    expect(needingAPerson(report)).toEqual([
      { payment_id: 'pay_x', error: expect.stringContaining('refund needed'), kind: 'InconsistentStateError' },
    ]);
  });
});

describe('Module: replay', () => {
  describe('Function: replayPayment', () => {
    beforeEach(() => {
      jest.useFakeTimers({ now: NOW, doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'] });
      sfnMock.on(StartExecutionCommand).resolves({});
      sfnMock.on(DescribeExecutionCommand).rejects(doesNotExist());
    });

    it.each(['SUCCESS', 'FAILED'] as const)('leaves a %s payment alone: already_final', async (status) => {
      // Prepare
      const payment = makePayment({ status, event: { execution_name: 'pay_1' } });
      payments.put(payment);

      // Act
      const result = await replayPayment(recoveryDeps(), 'pay_1');

      // Assess
      expect(result).toEqual({ payment_id: 'pay_1', action: 'already_final' });
      expect(sfnMock.calls()).toHaveLength(0);
      expect(psp.calls).toEqual([]);
      expect(await stored()).toEqual(payment);
    });

    it('leaves a payment held for review alone: awaiting_review', async () => {
      // Prepare
      const payment = heldForReview();
      payments.put(payment);

      // Act
      const result = await replayPayment(recoveryDeps(), 'pay_1');

      // Assess
      expect(result).toEqual({ payment_id: 'pay_1', action: 'awaiting_review' });
      expect(sfnMock.calls()).toHaveLength(0);
      expect(await stored()).toEqual(payment);
    });

    it.each(['NOT_STARTED', 'EXECUTING', 'UNKNOWN'] as const)(
      'leaves a %s payment whose workflow runs alone: running',
      async (status) => {
        // Prepare
        const payment = makePayment({ status, event: { execution_name: 'pay_1-janitor-1' } });
        payments.put(payment);
        sfnMock.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' });

        // Act
        const result = await replayPayment(recoveryDeps(), 'pay_1');

        // Assess
        expect(result).toEqual({ payment_id: 'pay_1', action: 'running' });
        expect(describedArns()).toEqual([`${EXECUTIONS}:pay_1-janitor-1`]);
        expect(startInputs()).toEqual([]);
        expect(psp.calls).toEqual([]);
        expect(await stored()).toEqual(payment);
      },
    );

    it('fails an UNKNOWN payment the PSP never charged: resolved_failed, not re-driven', async () => {
      // Prepare
      payments.put(makePayment({ status: 'UNKNOWN', event: { execution_name: 'pay_1' } }));

      // Act
      const result = await replayPayment(recoveryDeps(), 'pay_1');

      // Assess
      expect(result).toEqual({ payment_id: 'pay_1', action: 'resolved_failed' });
      expect(startInputs()).toEqual([]);
      expect((await stored()).event.status).toBe('FAILED');
    });

    it('re-drives an UNKNOWN payment that is charged but not booked (regression)', async () => {
      // Prepare: the janitor recorded the charge, but the re-drive that should have booked it was lost.
      payments.put(
        makePayment({
          status: 'UNKNOWN',
          orderStatus: 'SUCCESS',
          event: { psp_reference: 'pi_1' },
          order: { psp_reference: 'pi_1' },
        }),
      );

      // Act
      const result = await replayPayment(recoveryDeps(), 'pay_1');

      // Assess
      expect(result.action).toBe('redriven');
      expect(startInputs()).toHaveLength(1);
    });

    it('re-drives an EXECUTING payment pending at the PSP: its workflow waits for the PSP again', async () => {
      payments.put(makePayment({ status: 'EXECUTING' }));
      psp.charges.set('pay_1', [pspCharge('pending', 'pi_3ds')]);
      const result = await replayPayment(recoveryDeps(), 'pay_1');
      expect(result.action).toBe('redriven');
      expect(startInputs()).toHaveLength(1);
    });

    it.each(['UNKNOWN'] as const)(
      'does not re-drive a %s payment pending at the PSP: pending_at_psp',
      async (status) => {
        // Prepare
        const payment = makePayment({ status });
        payments.put(payment);
        psp.charges.set('pay_1', [pspCharge('pending', 'pi_3ds')]);

        // Act
        const result = await replayPayment(recoveryDeps(), 'pay_1');

        // Assess
        expect(result).toEqual({ payment_id: 'pay_1', action: 'pending_at_psp' });
        expect(startInputs()).toEqual([]);
        expect(await stored()).toEqual(payment);
      },
    );

    it('re-drives a NOT_STARTED payment under <payment_id>-replay-<ms>, without asking the PSP', async () => {
      // Prepare
      payments.put(makePayment({ event: { execution_name: 'pay_1' } }));

      // Act
      const result = await replayPayment(recoveryDeps(), 'pay_1');

      // Assess
      expect(result).toEqual({ payment_id: 'pay_1', action: 'redriven', execution: `pay_1-replay-${NOW_MS}` });
      expect(startInputs()).toEqual([startInput('pay_1', `pay_1-replay-${NOW_MS}`)]);
      expect(psp.calls).toEqual([]);
      expect((await stored()).event.execution_name).toBe(`pay_1-replay-${NOW_MS}`);
    });

    it('re-drives a stalled EXECUTING payment with no charge at the PSP', async () => {
      // Prepare
      payments.put(makePayment({ status: 'EXECUTING', event: { execution_name: 'pay_1' } }));

      // Act
      const result = await replayPayment(recoveryDeps(), 'pay_1');

      // Assess
      expect(result).toEqual({ payment_id: 'pay_1', action: 'redriven', execution: `pay_1-replay-${NOW_MS}` });
      expect(psp.findRequests).toEqual(['pay_1']);
      expect((await stored()).event.status).toBe('EXECUTING');
    });

    it('records the charge of an UNKNOWN payment found at the PSP, then re-drives it', async () => {
      // Prepare
      payments.put(makePayment({ status: 'UNKNOWN', event: { execution_name: 'pay_1' } }));
      psp.charges.set('pay_1', [pspCharge('succeeded', 'pi_found')]);

      // Act
      const result = await replayPayment(recoveryDeps(), 'pay_1');

      // Assess
      expect(result).toEqual({ payment_id: 'pay_1', action: 'redriven', execution: `pay_1-replay-${NOW_MS}` });
      expect(startInputs()).toEqual([startInput('pay_1', `pay_1-replay-${NOW_MS}`)]);
      expect((await stored()).orders.map((o) => [o.status, o.psp_reference])).toEqual([
        ['SUCCESS', 'pi_found'],
        ['SUCCESS', 'pi_found'],
      ]);
      expect(psp.calls).toEqual(['findCharges']);
    });

    it('throws NotFoundError for an unknown payment id, starting nothing', async () => {
      await expect(replayPayment(recoveryDeps(), 'pay_x')).rejects.toThrow(
        new NotFoundError('payment pay_x not found'),
      );
      expect(sfnMock.calls()).toHaveLength(0);
    });
  });

  describe('Function: paymentIdOfDeadLetter', () => {
    const deadLetter = (detail: unknown) =>
      JSON.stringify({ 'detail-type': 'Step Functions Execution Status Change', detail });

    it('reads the payment id from the execution input of the event', () => {
      const body = deadLetter({ status: 'FAILED', input: JSON.stringify({ payment_id: 'pay_1', orders: [] }) });

      expect(paymentIdOfDeadLetter(body)).toBe('pay_1');
    });

    it.each([
      ['a body that is not JSON', 'not json'],
      ['an event without detail', JSON.stringify({ source: 'aws.states' })],
      ['a detail without input', deadLetter({ status: 'FAILED' })],
      ['an input that is not JSON', deadLetter({ input: '{payment_id' })],
      ['an input that is null', deadLetter({ input: 'null' })],
      ['an input without payment_id', deadLetter({ input: JSON.stringify({ orders: [] }) })],
      ['a payment_id that is not a string', deadLetter({ input: JSON.stringify({ payment_id: 42 }) })],
    ])('answers undefined for %s', (_, body) => {
      expect(paymentIdOfDeadLetter(body)).toBeUndefined();
    });
  });
});
