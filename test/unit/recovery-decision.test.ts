/**
 * The one recovery decision (src/payin/recovery.ts), branch by branch, as a table: every case runs for both
 * triggers, the janitor and the replay, which differ in one rule only (an UNKNOWN payment whose execution claims to
 * run: the janitor settles it with the PSP anyway, the replay answers `running`). Each case asserts the whole
 * RecoveryResult, the execution started (or none), the PSP calls, the workflow resumed (or none) and the stored
 * payment's statuses; the simple cases also assert how many times the payment is read.
 * In-memory fakes for the table, the PSP and the task responder, aws-sdk-client-mock for Step Functions.
 */

import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  ExecutionDoesNotExist,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { loadPayInSettings } from '../../src/core/config';
import { InconsistentStateError, NotFoundError, PspTransientError } from '../../src/core/errors';
import { logger } from '../../src/core/observability';
import type { OrderStatus, PaymentEvent } from '../../src/payin/payment';
import type { Payment } from '../../src/payin/payments-table';
import type { WaitOutcome } from '../../src/payin/pending';
import { type RecoveryAction, type RecoveryDeps, type RecoveryResult, recover } from '../../src/payin/recovery';
import type { PspChargeState } from '../../src/psp/types';
import { FakePaymentsTable, FakePsp, FakeTasks, makePayment } from './fakes';

const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:PayIn';
const NOW = new Date('2026-11-21T12:00:00.000Z');
const NOW_ISO = NOW.toISOString();
const NOW_MS = NOW.getTime();
/** Unchanged for an hour: old enough for the PSP's search (lag 120 s by default). */
const STALE = '2026-11-21T11:00:00.000Z';
/** Unchanged for a minute only: younger than the PSP's search lag. */
const YOUNG = '2026-11-21T11:59:00.000Z';
const DEADLINE_PASSED = '2026-11-21T11:30:00.000Z';
const DEADLINE_AHEAD = '2026-11-21T13:00:00.000Z';
const TRIGGERS = ['janitor', 'replay'] as const;
type Trigger = (typeof TRIGGERS)[number];

const sfnMock = mockClient(SFNClient);
const sfn = new SFNClient({ region: 'us-east-1' });
const settings = loadPayInSettings({});

let payments: FakePaymentsTable;
let psp: FakePsp;
let tasks: FakeTasks;

beforeEach(() => {
  jest.useFakeTimers({ now: NOW, doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'] });
  jest.spyOn(logger, 'info').mockImplementation(() => undefined);
  payments = new FakePaymentsTable(() => NOW_ISO);
  psp = new FakePsp();
  tasks = new FakeTasks();
  sfnMock.on(StartExecutionCommand).resolves({});
});

afterEach(() => {
  sfnMock.reset();
  jest.restoreAllMocks();
  jest.useRealTimers();
});

const deps = (): RecoveryDeps => ({
  payments: payments,
  psp,
  tasks,
  settings,
  workflow: { sfn, stateMachineArn: STATE_MACHINE_ARN, payments: payments },
});
const stored = async (paymentId = 'pay_1'): Promise<Payment> => {
  const payment = await payments.get(paymentId);
  if (!payment) throw new Error(`test setup: no payment ${paymentId}`);
  return payment;
};
/** The executions started, their input without the risk check's subject (asserted on its own in recovery.test.ts). */
const startInputs = () =>
  sfnMock.commandCalls(StartExecutionCommand).map((call) => {
    const { subject: _subject, ...input } = JSON.parse(call.args[0].input.input ?? '{}');
    return { ...call.args[0].input, input: JSON.stringify(input) };
  });
const startInput = (name: string) => ({
  stateMachineArn: STATE_MACHINE_ARN,
  name,
  input: JSON.stringify({
    payment_id: 'pay_1',
    orders: [{ payment_order_id: 'pay_1_ord_1' }, { payment_order_id: 'pay_1_ord_2' }],
  }),
});
const executionName = (trigger: Trigger) => `pay_1-${trigger}-${NOW_MS}`;
const doesNotExist = () => new ExecutionDoesNotExist({ message: 'Execution Does Not Exist', $metadata: {} });
const pspState = (
  state: PspChargeState['state'],
  pspReference = 'pi_1',
  extra: Partial<PspChargeState> = {},
): PspChargeState => ({ pspReference, state, amountMinor: 3000, currency: 'EUR', ...extra });

/** A payment in `status`, unchanged since STALE, whose current execution is `pay_1`. */
const inStatus = (status: OrderStatus, event: Partial<PaymentEvent> = {}, updatedAt = STALE) =>
  makePayment({ status, updatedAt, event: { execution_name: 'pay_1', ...event } });
/** Charged at the PSP (orders SUCCESS with the reference), the event still `status` until booked. */
const chargedOrders = (status: OrderStatus, event: Partial<PaymentEvent> = {}) =>
  makePayment({
    status,
    orderStatus: 'SUCCESS',
    updatedAt: STALE,
    order: { psp_reference: 'pi_1' },
    event: { psp_reference: 'pi_1', execution_name: 'pay_1', ...event },
  });
/** Waiting at the PSP (3-D Secure) with its workflow's task token, as the charge step and awaitPsp leave it. */
const pendingAtPsp = (event: Partial<PaymentEvent> = {}, orderStatus: OrderStatus = 'PENDING') =>
  makePayment({
    status: 'PENDING',
    orderStatus,
    updatedAt: STALE,
    order: { psp_reference: 'pi_1' },
    event: {
      psp_reference: 'pi_1',
      task_token: 'token_1',
      pending_deadline: DEADLINE_AHEAD,
      execution_name: 'pay_1',
      ...event,
    },
  });
/** An UNKNOWN payment of the hosted page (session cs_1), unchanged since STALE. */
const hostedUnknown = (event: Partial<PaymentEvent> = {}) =>
  inStatus('UNKNOWN', { mode: 'hosted', checkout_session_id: 'cs_1', psp_reference: 'cs_1', ...event });

/** What the payment's current execution answers when described. */
type WorkflowState =
  | 'running'
  | 'ended'
  | 'lost'
  | ((payment: Payment) => Promise<Pick<DescribeExecutionCommandOutput, 'status'>>);

interface Expected {
  action: RecoveryAction;
  resolved: string[];
  /** Whether a new execution `<payment_id>-<trigger>-<now ms>` is started. */
  redriven: boolean;
  /** FakePsp.calls, in order. */
  pspCalls: string[];
  /** The references stopPending was called with, when said. */
  stopped?: string[];
  /** The stored event's status after, and every order's. */
  status: OrderStatus;
  orders: OrderStatus;
  /** The waiting workflow resumed (FakeTasks.succeeded); none unless said. */
  resumed?: { token: string; output: WaitOutcome }[];
}

interface Case {
  name: string;
  payment: () => Payment;
  /** No execution name on the payment: never described. */
  workflow: WorkflowState;
  /** Sets up the PSP (given the payment as stored, to change it meanwhile). */
  setup?: (payment: Payment) => void;
  expected: Expected | Record<Trigger, Expected>;
  /** How many times the payment is read (FakePaymentsTable.get), for the simple cases. */
  reads?: { exactly: number } | { atMost: number };
}

const both = (expected: Expected): Expected => expected;
const resumedWith = (output: WaitOutcome) => [{ token: 'token_1', output }];

const CASES: Case[] = [
  // Already final: read once, nothing asked, nothing started.
  {
    name: 'SUCCESS payment: already_final',
    payment: () => inStatus('SUCCESS', { psp_reference: 'pi_1' }),
    workflow: 'running',
    setup: () => psp.charges.set('pay_1', [pspState('succeeded')]),
    expected: both({
      action: 'already_final',
      resolved: [],
      redriven: false,
      pspCalls: [],
      status: 'SUCCESS',
      orders: 'SUCCESS',
    }),
    reads: { exactly: 1 },
  },
  {
    name: 'FAILED payment: already_final',
    payment: () => inStatus('FAILED', { status_reason: 'declined:card_declined' }),
    workflow: 'lost',
    setup: () => psp.charges.set('pay_1', [pspState('succeeded')]),
    expected: both({
      action: 'already_final',
      resolved: [],
      redriven: false,
      pspCalls: [],
      status: 'FAILED',
      orders: 'FAILED',
    }),
    reads: { exactly: 1 },
  },

  // Held for an operator's review.
  {
    name: 'PENDING held for risk review (risk_decision REVIEW): awaiting_review',
    payment: () => inStatus('PENDING', { risk_decision: 'REVIEW', status_reason: 'risk_review:amount_review:EUR' }),
    workflow: 'lost',
    setup: () => psp.charges.set('pay_1', [pspState('succeeded')]),
    expected: both({
      action: 'awaiting_review',
      resolved: [],
      redriven: false,
      pspCalls: [],
      status: 'PENDING',
      orders: 'PENDING',
    }),
    reads: { exactly: 1 },
  },
  {
    name: 'PENDING without a PSP reference: awaiting_review',
    payment: () => inStatus('PENDING'),
    workflow: 'lost',
    expected: both({
      action: 'awaiting_review',
      resolved: [],
      redriven: false,
      pspCalls: [],
      status: 'PENDING',
      orders: 'PENDING',
    }),
    reads: { exactly: 1 },
  },

  // PENDING at the PSP: the PSP's current state is retrieved and settled.
  {
    name: 'PENDING settled succeeded, no workflow: charge recorded, workflow resumed, re-driven to book',
    payment: () => pendingAtPsp(),
    workflow: 'lost',
    setup: () => psp.states.set('pi_1', pspState('succeeded')),
    expected: both({
      action: 'redriven',
      resolved: ['succeeded'],
      redriven: true,
      pspCalls: ['retrieve'],
      status: 'PENDING',
      orders: 'SUCCESS',
      resumed: resumedWith({ outcome: 'SUCCEEDED' }),
    }),
  },
  {
    name: 'PENDING settled succeeded, its workflow still waiting: resumed, running',
    payment: () => pendingAtPsp(),
    workflow: 'running',
    setup: () => psp.states.set('pi_1', pspState('succeeded')),
    expected: both({
      action: 'running',
      resolved: ['succeeded'],
      redriven: false,
      pspCalls: ['retrieve'],
      status: 'PENDING',
      orders: 'SUCCESS',
      resumed: resumedWith({ outcome: 'SUCCEEDED' }),
    }),
  },
  {
    name: 'PENDING settled failed (declined), no workflow: resolved_failed',
    payment: () => pendingAtPsp(),
    workflow: 'ended',
    setup: () => {
      psp.states.set('pi_1', pspState('failed', 'pi_1', { reason: 'card_declined' }));
      // Stopped before FAILED: a declined attempt could otherwise be confirmed again.
      psp.stopResult = pspState('failed', 'pi_1', { reason: 'canceled:requested_by_customer' });
    },
    expected: both({
      action: 'resolved_failed',
      resolved: ['failed'],
      redriven: false,
      pspCalls: ['retrieve', 'stopPending'],
      status: 'FAILED',
      orders: 'FAILED',
      resumed: resumedWith({ outcome: 'FAILED', reason: 'declined:card_declined' }),
    }),
  },
  {
    name: 'PENDING still pending, its workflow still waiting: running',
    payment: () => pendingAtPsp(),
    workflow: 'running',
    setup: () => psp.states.set('pi_1', pspState('pending')),
    expected: both({
      action: 'running',
      resolved: [],
      redriven: false,
      pspCalls: ['retrieve'],
      status: 'PENDING',
      orders: 'PENDING',
    }),
  },
  {
    name: 'PENDING still pending past the deadline, no workflow: stopped at the PSP, resolved_failed',
    payment: () => pendingAtPsp({ pending_deadline: DEADLINE_PASSED }),
    workflow: 'lost',
    setup: () => {
      psp.states.set('pi_1', pspState('pending'));
      psp.stopResult = pspState('failed');
    },
    expected: both({
      action: 'resolved_failed',
      resolved: ['deadline:FAILED'],
      redriven: false,
      pspCalls: ['retrieve', 'stopPending'],
      stopped: ['pi_1'],
      status: 'FAILED',
      orders: 'FAILED',
    }),
  },
  {
    name: 'PENDING still pending past the deadline, no workflow, paid meanwhile (stop answers succeeded): re-driven',
    payment: () => pendingAtPsp({ pending_deadline: DEADLINE_PASSED }),
    workflow: 'lost',
    setup: () => {
      psp.states.set('pi_1', pspState('pending'));
      psp.stopResult = pspState('succeeded');
    },
    expected: both({
      action: 'redriven',
      resolved: ['deadline:SUCCEEDED'],
      redriven: true,
      pspCalls: ['retrieve', 'stopPending'],
      status: 'PENDING',
      orders: 'SUCCESS',
    }),
  },
  {
    name: 'PENDING with no deadline recorded, no workflow: treated as past it, stopped, resolved_failed',
    payment: () => pendingAtPsp({ pending_deadline: undefined }),
    workflow: 'lost',
    setup: () => {
      psp.states.set('pi_1', pspState('pending'));
      psp.stopResult = pspState('failed');
    },
    expected: both({
      action: 'resolved_failed',
      resolved: ['deadline:FAILED'],
      redriven: false,
      pspCalls: ['retrieve', 'stopPending'],
      status: 'FAILED',
      orders: 'FAILED',
    }),
  },
  {
    name: 'PENDING still pending before the deadline, no workflow: re-driven (waits again)',
    payment: () => pendingAtPsp(),
    workflow: 'lost',
    setup: () => psp.states.set('pi_1', pspState('pending')),
    expected: both({
      action: 'redriven',
      resolved: [],
      redriven: true,
      pspCalls: ['retrieve'],
      status: 'PENDING',
      orders: 'PENDING',
    }),
  },
  {
    name: 'PENDING already charged (orders SUCCESS), no workflow: re-driven to book',
    payment: () => pendingAtPsp({}, 'SUCCESS'),
    workflow: 'lost',
    setup: () => psp.states.set('pi_1', pspState('succeeded')),
    expected: both({
      action: 'redriven',
      resolved: ['already_settled'],
      redriven: true,
      pspCalls: ['retrieve'],
      status: 'PENDING',
      orders: 'SUCCESS',
      resumed: resumedWith({ outcome: 'SUCCEEDED' }),
    }),
  },
  {
    name: 'PENDING charged and booked (SUCCESS) by its workflow while the PSP was asked: already_final',
    payment: () => pendingAtPsp(),
    workflow: 'ended',
    setup: (payment) =>
      psp.states.set('pi_1', async () => {
        await payments.transition(payment, 'SUCCESS', { pspReference: 'pi_1' }, 'orders');
        await payments.transition(payment, 'SUCCESS', {}, 'event');
        return pspState('succeeded');
      }),
    expected: both({
      action: 'already_final',
      resolved: ['succeeded'],
      redriven: false,
      pspCalls: ['retrieve'],
      status: 'SUCCESS',
      orders: 'SUCCESS',
      resumed: resumedWith({ outcome: 'SUCCEEDED' }),
    }),
  },
  {
    name: 'PENDING failed by a webhook while the PSP was asked (its answer still pending): not re-driven',
    payment: () => pendingAtPsp(),
    workflow: 'ended',
    setup: (payment) =>
      psp.states.set('pi_1', async () => {
        const answer = pspState('pending');
        await payments.transition(payment, 'FAILED', { reason: 'declined:card_declined' });
        return answer;
      }),
    expected: both({
      action: 'resolved_failed',
      resolved: [],
      redriven: false,
      pspCalls: ['retrieve'],
      status: 'FAILED',
      orders: 'FAILED',
    }),
  },

  // NOT_STARTED: never asks the PSP.
  {
    name: 'NOT_STARTED with its workflow running: running',
    payment: () => inStatus('NOT_STARTED'),
    workflow: 'running',
    expected: both({
      action: 'running',
      resolved: [],
      redriven: false,
      pspCalls: [],
      status: 'NOT_STARTED',
      orders: 'NOT_STARTED',
    }),
    reads: { exactly: 1 },
  },
  {
    name: 'NOT_STARTED with its workflow lost: re-driven without asking the PSP',
    payment: () => inStatus('NOT_STARTED'),
    workflow: 'lost',
    setup: () => psp.charges.set('pay_1', [pspState('succeeded')]),
    expected: both({
      action: 'redriven',
      resolved: [],
      redriven: true,
      pspCalls: [],
      status: 'NOT_STARTED',
      orders: 'NOT_STARTED',
    }),
    reads: { atMost: 2 },
  },
  {
    name: 'NOT_STARTED that never got an execution: re-driven without asking the PSP',
    payment: () => inStatus('NOT_STARTED', { execution_name: undefined }),
    workflow: 'running', // never described: no execution name
    expected: both({
      action: 'redriven',
      resolved: [],
      redriven: true,
      pspCalls: [],
      status: 'NOT_STARTED',
      orders: 'NOT_STARTED',
    }),
    reads: { atMost: 2 },
  },
  {
    name: 'NOT_STARTED failed by its own workflow (risk rejected) as it ended: resolved_failed, not re-driven',
    payment: () => inStatus('NOT_STARTED'),
    workflow: async (payment) => {
      await payments.transition(payment, 'FAILED', { reason: 'risk_rejected:blocked_country:KP' });
      return { status: 'SUCCEEDED' };
    },
    expected: both({
      action: 'resolved_failed',
      resolved: [],
      redriven: false,
      pspCalls: [],
      status: 'FAILED',
      orders: 'FAILED',
    }),
  },

  // EXECUTING: its workflow holds it; otherwise the PSP is asked, then it is re-driven.
  {
    name: 'EXECUTING with its workflow running: running, the PSP not asked',
    payment: () => inStatus('EXECUTING'),
    workflow: 'running',
    setup: () => psp.charges.set('pay_1', [pspState('succeeded')]),
    expected: both({
      action: 'running',
      resolved: [],
      redriven: false,
      pspCalls: [],
      status: 'EXECUTING',
      orders: 'EXECUTING',
    }),
  },
  {
    name: 'EXECUTING charged at the PSP: charge recorded, re-driven',
    payment: () => inStatus('EXECUTING'),
    workflow: 'ended',
    setup: () => psp.charges.set('pay_1', [pspState('failed', 'pi_declined'), pspState('succeeded', 'pi_found')]),
    expected: both({
      action: 'redriven',
      resolved: ['charged'],
      redriven: true,
      pspCalls: ['findCharges'],
      status: 'EXECUTING',
      orders: 'SUCCESS',
    }),
  },
  {
    name: 'EXECUTING with no charge at the PSP: re-driven, unchanged',
    payment: () => inStatus('EXECUTING'),
    workflow: 'lost',
    setup: () => psp.charges.set('pay_1', [pspState('failed', 'pi_declined')]),
    expected: both({
      action: 'redriven',
      resolved: [],
      redriven: true,
      pspCalls: ['findCharges'],
      status: 'EXECUTING',
      orders: 'EXECUTING',
    }),
  },
  {
    name: 'EXECUTING pending at the PSP: re-driven (the charge key replays the answer)',
    payment: () => inStatus('EXECUTING'),
    workflow: 'lost',
    setup: () => psp.charges.set('pay_1', [pspState('pending', 'pi_3ds')]),
    expected: both({
      action: 'redriven',
      resolved: ['pending'],
      redriven: true,
      pspCalls: ['findCharges'],
      status: 'EXECUTING',
      orders: 'EXECUTING',
    }),
  },
  {
    name: 'EXECUTING already charged (orders SUCCESS): re-driven to book, the PSP not asked',
    payment: () => chargedOrders('EXECUTING'),
    workflow: 'lost',
    expected: both({
      action: 'redriven',
      resolved: [],
      redriven: true,
      pspCalls: [],
      status: 'EXECUTING',
      orders: 'SUCCESS',
    }),
  },
  {
    name: 'EXECUTING that became FAILED while the PSP was asked: resolved_failed, not re-driven',
    payment: () => inStatus('EXECUTING'),
    workflow: 'lost',
    setup: (payment) =>
      psp.charges.set('pay_1', async () => {
        await payments.transition(payment, 'FAILED', { reason: 'declined:card_declined' });
        return [pspState('failed', 'pi_declined')];
      }),
    expected: both({
      action: 'resolved_failed',
      resolved: [],
      redriven: false,
      pspCalls: ['findCharges'],
      status: 'FAILED',
      orders: 'FAILED',
    }),
  },
  {
    name: 'EXECUTING that became SUCCESS while the PSP was asked (its search lagging): already_final, not re-driven',
    payment: () => inStatus('EXECUTING'),
    workflow: 'lost',
    setup: (payment) =>
      psp.charges.set('pay_1', async () => {
        await payments.transition(payment, 'SUCCESS', { pspReference: 'pi_1' }, 'orders');
        await payments.transition(payment, 'SUCCESS', {}, 'event');
        return [];
      }),
    expected: both({
      action: 'already_final',
      resolved: [],
      redriven: false,
      pspCalls: ['findCharges'],
      status: 'SUCCESS',
      orders: 'SUCCESS',
    }),
  },

  // UNKNOWN: only the PSP's answer resolves it; the janitor ignores a running execution, the replay does not.
  {
    name: 'UNKNOWN with no charge, old enough, no workflow: resolved_failed',
    payment: () => inStatus('UNKNOWN', { status_reason: 'psp_outcome_unknown:States.Timeout' }),
    workflow: 'lost',
    setup: () => {
      psp.charges.set('pay_1', [pspState('failed', 'pi_declined')]);
      // Stopped before FAILED: a declined attempt could otherwise be confirmed again.
      psp.stopResult = pspState('failed', 'pi_declined', { reason: 'canceled:requested_by_customer' });
    },
    expected: both({
      action: 'resolved_failed',
      resolved: ['failed'],
      redriven: false,
      pspCalls: ['findCharges', 'stopPending'],
      status: 'FAILED',
      orders: 'FAILED',
    }),
  },
  {
    name: 'UNKNOWN with no charge, old enough, an execution claiming to run',
    payment: () => inStatus('UNKNOWN'),
    workflow: 'running',
    expected: {
      janitor: {
        action: 'resolved_failed',
        resolved: ['failed'],
        redriven: false,
        pspCalls: ['findCharges'],
        status: 'FAILED',
        orders: 'FAILED',
      },
      replay: { action: 'running', resolved: [], redriven: false, pspCalls: [], status: 'UNKNOWN', orders: 'UNKNOWN' },
    },
  },
  {
    name: 'UNKNOWN pending at the PSP, no workflow: pending_at_psp',
    payment: () => inStatus('UNKNOWN'),
    workflow: 'lost',
    setup: () => psp.charges.set('pay_1', [pspState('pending', 'pi_3ds')]),
    expected: both({
      action: 'pending_at_psp',
      resolved: ['pending'],
      redriven: false,
      pspCalls: ['findCharges'],
      status: 'UNKNOWN',
      orders: 'UNKNOWN',
    }),
  },
  {
    name: 'UNKNOWN pending at the PSP, an execution claiming to run',
    payment: () => inStatus('UNKNOWN'),
    workflow: 'running',
    setup: () => psp.charges.set('pay_1', [pspState('pending', 'pi_3ds')]),
    expected: {
      janitor: {
        action: 'pending_at_psp',
        resolved: ['pending'],
        redriven: false,
        pspCalls: ['findCharges'],
        status: 'UNKNOWN',
        orders: 'UNKNOWN',
      },
      replay: { action: 'running', resolved: [], redriven: false, pspCalls: [], status: 'UNKNOWN', orders: 'UNKNOWN' },
    },
  },
  {
    name: "UNKNOWN with no charge but younger than the PSP's search lag, no workflow: pending_at_psp",
    payment: () => inStatus('UNKNOWN', {}, YOUNG),
    workflow: 'lost',
    expected: both({
      action: 'pending_at_psp',
      resolved: ['pending'],
      redriven: false,
      pspCalls: ['findCharges'],
      status: 'UNKNOWN',
      orders: 'UNKNOWN',
    }),
  },
  {
    name: "UNKNOWN with no charge but younger than the PSP's search lag, an execution claiming to run",
    payment: () => inStatus('UNKNOWN', {}, YOUNG),
    workflow: 'running',
    expected: {
      janitor: {
        action: 'pending_at_psp',
        resolved: ['pending'],
        redriven: false,
        pspCalls: ['findCharges'],
        status: 'UNKNOWN',
        orders: 'UNKNOWN',
      },
      replay: { action: 'running', resolved: [], redriven: false, pspCalls: [], status: 'UNKNOWN', orders: 'UNKNOWN' },
    },
  },
  {
    name: 'UNKNOWN charged at the PSP, no workflow: charge recorded, re-driven',
    payment: () => inStatus('UNKNOWN'),
    workflow: 'lost',
    setup: () => psp.charges.set('pay_1', [pspState('succeeded', 'pi_found')]),
    expected: both({
      action: 'redriven',
      resolved: ['charged'],
      redriven: true,
      pspCalls: ['findCharges'],
      status: 'UNKNOWN',
      orders: 'SUCCESS',
    }),
  },
  {
    name: 'UNKNOWN charged at the PSP, an execution running',
    payment: () => inStatus('UNKNOWN'),
    workflow: 'running',
    setup: () => psp.charges.set('pay_1', [pspState('succeeded', 'pi_found')]),
    expected: {
      // The janitor records the charge, then leaves the booking to the running execution.
      janitor: {
        action: 'running',
        resolved: ['charged'],
        redriven: false,
        pspCalls: ['findCharges'],
        status: 'UNKNOWN',
        orders: 'SUCCESS',
      },
      replay: { action: 'running', resolved: [], redriven: false, pspCalls: [], status: 'UNKNOWN', orders: 'UNKNOWN' },
    },
  },
  {
    name: 'UNKNOWN already charged (orders SUCCESS), no workflow: re-driven to book, the PSP not asked',
    payment: () => chargedOrders('UNKNOWN'),
    workflow: 'lost',
    expected: both({
      action: 'redriven',
      resolved: [],
      redriven: true,
      pspCalls: [],
      status: 'UNKNOWN',
      orders: 'SUCCESS',
    }),
  },
  {
    name: 'UNKNOWN already charged (orders SUCCESS), an execution running (booking it): running',
    payment: () => chargedOrders('UNKNOWN'),
    workflow: 'running',
    expected: both({
      action: 'running',
      resolved: [],
      redriven: false,
      pspCalls: [],
      status: 'UNKNOWN',
      orders: 'SUCCESS',
    }),
  },
  {
    name: 'UNKNOWN pending at the PSP past the deadline: stopped, no charge, resolved_failed',
    payment: () => inStatus('UNKNOWN', { pending_deadline: DEADLINE_PASSED }),
    workflow: 'lost',
    setup: () => {
      psp.charges.set('pay_1', [pspState('pending', 'pi_3ds')]);
      psp.stopResult = pspState('failed', 'pi_3ds');
    },
    expected: both({
      action: 'resolved_failed',
      resolved: ['failed'],
      redriven: false,
      pspCalls: ['findCharges', 'stopPending'],
      stopped: ['pi_3ds'],
      status: 'FAILED',
      orders: 'FAILED',
    }),
  },
  {
    name: 'UNKNOWN pending at the PSP past the deadline, paid meanwhile (stop answers succeeded): re-driven',
    payment: () => inStatus('UNKNOWN', { pending_deadline: DEADLINE_PASSED }),
    workflow: 'lost',
    setup: () => {
      psp.charges.set('pay_1', [pspState('pending', 'pi_3ds')]);
      psp.stopResult = pspState('succeeded', 'pi_3ds');
    },
    expected: both({
      action: 'redriven',
      resolved: ['charged'],
      redriven: true,
      pspCalls: ['findCharges', 'stopPending'],
      status: 'UNKNOWN',
      orders: 'SUCCESS',
    }),
  },
  {
    name: 'UNKNOWN pending at the PSP past the deadline, not stoppable yet: pending_at_psp',
    payment: () => inStatus('UNKNOWN', { pending_deadline: DEADLINE_PASSED }),
    workflow: 'lost',
    setup: () => {
      psp.charges.set('pay_1', [pspState('pending', 'pi_3ds')]);
      psp.stopResult = pspState('pending', 'pi_3ds');
    },
    expected: both({
      action: 'pending_at_psp',
      resolved: ['pending'],
      redriven: false,
      pspCalls: ['findCharges', 'stopPending'],
      status: 'UNKNOWN',
      orders: 'UNKNOWN',
    }),
  },
  {
    name: 'UNKNOWN hosted, no charge, before the deadline: the page closed first, then resolved_failed',
    payment: () => hostedUnknown({ pending_deadline: DEADLINE_AHEAD }),
    workflow: 'lost',
    setup: () => {
      psp.stopResult = pspState('failed', 'cs_1');
    },
    expected: both({
      action: 'resolved_failed',
      resolved: ['failed'],
      redriven: false,
      pspCalls: ['findCharges', 'stopPending'],
      stopped: ['cs_1'],
      status: 'FAILED',
      orders: 'FAILED',
    }),
  },
  {
    name: 'UNKNOWN hosted, no charge found, paid on the page meanwhile (stop answers succeeded): re-driven',
    payment: () => hostedUnknown({ pending_deadline: DEADLINE_AHEAD }),
    workflow: 'lost',
    setup: () => {
      psp.stopResult = pspState('succeeded', 'pi_paid');
    },
    expected: both({
      action: 'redriven',
      resolved: ['charged'],
      redriven: true,
      pspCalls: ['findCharges', 'stopPending'],
      status: 'UNKNOWN',
      orders: 'SUCCESS',
    }),
  },
  {
    name: 'UNKNOWN hosted, no charge found, the page not closable yet: pending_at_psp',
    payment: () => hostedUnknown({ pending_deadline: DEADLINE_AHEAD }),
    workflow: 'lost',
    setup: () => {
      psp.stopResult = pspState('pending', 'cs_1');
    },
    expected: both({
      action: 'pending_at_psp',
      resolved: ['pending'],
      redriven: false,
      pspCalls: ['findCharges', 'stopPending'],
      status: 'UNKNOWN',
      orders: 'UNKNOWN',
    }),
  },
  {
    name: 'UNKNOWN hosted, no charge, past the deadline: the page closed once, resolved_failed',
    payment: () => hostedUnknown({ pending_deadline: DEADLINE_PASSED }),
    workflow: 'lost',
    setup: () => {
      psp.stopResult = pspState('failed', 'cs_1');
    },
    expected: both({
      action: 'resolved_failed',
      resolved: ['failed'],
      redriven: false,
      pspCalls: ['findCharges', 'stopPending'],
      stopped: ['cs_1'],
      status: 'FAILED',
      orders: 'FAILED',
    }),
  },
  {
    name: 'UNKNOWN (token) with no charge, past the deadline: nothing open to stop, resolved_failed',
    payment: () => inStatus('UNKNOWN', { pending_deadline: DEADLINE_PASSED }),
    workflow: 'lost',
    expected: both({
      action: 'resolved_failed',
      resolved: ['failed'],
      redriven: false,
      pspCalls: ['findCharges'],
      status: 'FAILED',
      orders: 'FAILED',
    }),
  },
  {
    name: 'UNKNOWN hosted before any PaymentIntent (the session is the reference), no charge: page closed, resolved_failed',
    payment: () => hostedUnknown({ psp_reference: undefined, pending_deadline: DEADLINE_AHEAD }),
    workflow: 'lost',
    setup: () => {
      psp.stopResult = pspState('failed', 'cs_1');
    },
    expected: both({
      action: 'resolved_failed',
      resolved: ['failed'],
      redriven: false,
      pspCalls: ['findCharges', 'stopPending'],
      stopped: ['cs_1'],
      status: 'FAILED',
      orders: 'FAILED',
    }),
  },
  {
    name: 'UNKNOWN with no charge found, its charge recorded by another run meanwhile: not failed, re-driven to book',
    payment: () => inStatus('UNKNOWN'),
    workflow: 'lost',
    setup: (payment) =>
      psp.charges.set('pay_1', async () => {
        await payments.transition(payment, 'SUCCESS', { pspReference: 'pi_1' }, 'orders');
        return [];
      }),
    expected: both({
      action: 'redriven',
      resolved: [],
      redriven: true,
      pspCalls: ['findCharges'],
      status: 'UNKNOWN',
      orders: 'SUCCESS',
    }),
  },
];

interface ErrorCase {
  name: string;
  payment: () => Payment;
  setup: () => void;
  error: Error;
  type: new (...args: never[]) => Error;
  pspCalls: string[];
}

const ERROR_CASES: ErrorCase[] = [
  {
    name: 'UNKNOWN with two succeeded charges at the PSP: InconsistentStateError (a refund is needed)',
    payment: () => inStatus('UNKNOWN'),
    setup: () => psp.charges.set('pay_1', [pspState('succeeded', 'pi_a'), pspState('succeeded', 'pi_b')]),
    error: new InconsistentStateError('payment pay_1 has 2 successful PSP charges; refund needed'),
    type: InconsistentStateError,
    pspCalls: ['findCharges'],
  },
  {
    name: 'EXECUTING charged a wrong amount at the PSP: InconsistentStateError',
    payment: () => inStatus('EXECUTING'),
    setup: () => psp.charges.set('pay_1', [pspState('succeeded', 'pi_ok', { amountMinor: 2999 })]),
    error: new InconsistentStateError('payment pay_1: the PSP charged 2999 EUR'),
    type: InconsistentStateError,
    pspCalls: ['findCharges'],
  },
  {
    name: 'PENDING past the deadline that the PSP cannot stop yet: PspTransientError',
    payment: () => pendingAtPsp({ pending_deadline: DEADLINE_PASSED }),
    setup: () => {
      psp.states.set('pi_1', pspState('pending'));
      psp.stopResult = pspState('pending');
    },
    error: new PspTransientError('payment pay_1 could not be stopped at the PSP yet'),
    type: PspTransientError,
    pspCalls: ['retrieve', 'stopPending'],
  },
];

const expectationFor = (expected: Case['expected'], trigger: Trigger): Expected =>
  'action' in expected ? expected : expected[trigger];

describe('Module: recovery', () => {
  describe('Function: recover', () => {
    it.each(CASES.flatMap((c) => TRIGGERS.map((trigger) => [c.name, trigger, c] as const)))(
      '%s (%s)',
      async (_name, trigger, { payment: build, workflow, setup, expected: table, reads }) => {
        // Prepare
        const payment = build();
        payments.put(payment);
        setup?.(payment);
        if (workflow === 'running') sfnMock.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' });
        else if (workflow === 'ended') sfnMock.on(DescribeExecutionCommand).resolves({ status: 'SUCCEEDED' });
        else if (workflow === 'lost') sfnMock.on(DescribeExecutionCommand).rejects(doesNotExist());
        else sfnMock.on(DescribeExecutionCommand).callsFake(() => workflow(payment));
        const get = jest.spyOn(payments, 'get');
        const expected = expectationFor(table, trigger);
        const name = executionName(trigger);

        // Act
        const result = await recover(deps(), 'pay_1', { trigger, now: NOW });
        const readCount = get.mock.calls.length;

        // Assess
        const wanted: RecoveryResult = expected.redriven
          ? { action: expected.action, resolved: expected.resolved, execution: name }
          : { action: expected.action, resolved: expected.resolved };
        expect(result).toStrictEqual(wanted);
        expect(startInputs()).toEqual(expected.redriven ? [startInput(name)] : []);
        expect(psp.calls).toEqual(expected.pspCalls);
        if (expected.stopped) expect(psp.stopRequests.map((r) => r.pspReference)).toEqual(expected.stopped);
        expect(tasks.succeeded).toEqual(expected.resumed ?? []);
        const after = await stored();
        expect(after.event.status).toBe(expected.status);
        expect(after.orders.map((o) => o.status)).toEqual([expected.orders, expected.orders]);
        expect(after.event.execution_name).toBe(expected.redriven ? name : payment.event.execution_name);
        if (reads && 'exactly' in reads) expect(readCount).toBe(reads.exactly);
        if (reads && 'atMost' in reads) expect(readCount).toBeLessThanOrEqual(reads.atMost);
      },
    );

    it.each(ERROR_CASES.flatMap((c) => TRIGGERS.map((trigger) => [c.name, trigger, c] as const)))(
      '%s (%s): nothing started, the payment unchanged',
      async (_name, trigger, { payment: build, setup, error, type, pspCalls }) => {
        // Prepare
        const payment = build();
        payments.put(payment);
        setup();
        sfnMock.on(DescribeExecutionCommand).rejects(doesNotExist());

        // Act
        const act = recover(deps(), 'pay_1', { trigger, now: NOW });

        // Assess
        await expect(act).rejects.toThrow(error);
        await expect(act).rejects.toBeInstanceOf(type);
        expect(startInputs()).toEqual([]);
        expect(psp.calls).toEqual(pspCalls);
        expect(await stored()).toEqual(payment);
      },
    );

    it.each(TRIGGERS)('throws NotFoundError for an unknown payment id, asking nothing (%s)', async (trigger) => {
      // Act
      const act = recover(deps(), 'pay_x', { trigger, now: NOW });

      // Assess
      await expect(act).rejects.toThrow(new NotFoundError('payment pay_x not found'));
      expect(sfnMock.calls()).toHaveLength(0);
      expect(psp.calls).toEqual([]);
    });
  });
});
