/**
 * The timeline's parts without AWS: recording (in a scope only, never failing the caller, once-only facts), an
 * execution's history as events (AWS's shape: failures carry no state name), ledger postings and wallet movements,
 * and the merge of every source in time order.
 */
import {
  assembleTimeline,
  executionEvents,
  type HistoryEvent,
  ledgerEvents,
  startEvents,
  type TimelineSources,
  visibleTo,
} from '../../src/api/timeline';
import { logger } from '../../src/core/observability';
import {
  asTimelineSource,
  recordTimeline,
  type TimelineEvent,
  type TimelineWriter,
  timelineSource,
  withTimeline,
} from '../../src/core/timeline';
import type { StoredLedgerEntry } from '../../src/ledger/ledger-table';
import type { Payment } from '../../src/payin/payment';
import type { Payout } from '../../src/payout/payout';
import type { ReconciliationRun } from '../../src/reconciliation/domain/run';
import type { Refund } from '../../src/refunds/refund';

class FakeWriter implements TimelineWriter {
  events: { event: TimelineEvent; once?: string }[] = [];
  fail = false;
  async put(event: TimelineEvent, once?: string) {
    if (this.fail) throw new Error('table unavailable');
    this.events.push({ event, once });
  }
}

describe('recordTimeline', () => {
  it('records nothing outside a scope (and logs the event in a scope with no table configured)', async () => {
    const info = jest.spyOn(logger, 'info').mockImplementation(() => undefined);
    try {
      await recordTimeline({ payment_id: 'pay_1', type: 'x', summary: 'outside', ids: {} });
      expect(timelineSource()).toBeUndefined();
      expect(info).not.toHaveBeenCalled();
      await withTimeline({ source: 'api' }, () =>
        recordTimeline({ payment_id: 'pay_1', type: 'x', summary: 'inside', ids: {} }),
      );
      expect(info).toHaveBeenCalledWith('timeline event', {
        timeline_event: expect.objectContaining({ summary: 'inside', source: 'api' }),
      });
    } finally {
      info.mockRestore();
    }
  });

  it('records in a scope with its source, the payment id among the ids, and the once key', async () => {
    const writer = new FakeWriter();
    await withTimeline({ source: 'api', writer }, async () => {
      await recordTimeline({ payment_id: 'pay_1', type: 'payment.accepted', summary: 'accepted', ids: {}, once: 'a' });
      await recordTimeline({ payment_id: 'pay_1', source: 'psp', type: 'psp.charge', summary: 'c', ids: { k: 'v' } });
      await asTimelineSource('janitor', () =>
        recordTimeline({ payment_id: 'pay_1', type: 'janitor.decision', summary: 'd', ids: {} }),
      );
    });
    expect(writer.events.map(({ event, once }) => [event.source, event.type, event.ids, once])).toEqual([
      ['api', 'payment.accepted', { payment_id: 'pay_1' }, 'a'],
      ['psp', 'psp.charge', { payment_id: 'pay_1', k: 'v' }, undefined],
      ['janitor', 'janitor.decision', { payment_id: 'pay_1' }, undefined],
    ]);
    expect(writer.events[0]?.event.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('never fails the caller when the event cannot be stored', async () => {
    const writer = new FakeWriter();
    writer.fail = true;
    await expect(
      withTimeline({ source: 'workflow', writer }, () =>
        recordTimeline({ payment_id: 'pay_1', type: 'x', summary: 's', ids: {} }).then(() => 'went on'),
      ),
    ).resolves.toBe('went on');
  });
});

const t = (second: number) => new Date(Date.UTC(2026, 10, 29, 10, 0, second)).toISOString();

describe('executionEvents', () => {
  // As GetExecutionHistory answers on AWS: a Lambda task's failure names no state; a retry schedules it again.
  const history: HistoryEvent[] = [
    { id: 1, timestamp: t(0), type: 'ExecutionStarted' },
    { id: 2, timestamp: t(1), type: 'TaskStateEntered', stateEnteredEventDetails: { name: 'Charge' } },
    { id: 3, timestamp: t(2), type: 'LambdaFunctionScheduled' },
    {
      id: 4,
      timestamp: t(3),
      type: 'LambdaFunctionFailed',
      lambdaFunctionFailedEventDetails: { error: 'PspTransientError', cause: 'down' },
    },
    { id: 5, timestamp: t(4), type: 'LambdaFunctionScheduled' },
    {
      id: 6,
      timestamp: t(5),
      type: 'LambdaFunctionFailed',
      lambdaFunctionFailedEventDetails: { error: 'PspTransientError', cause: '{"errorMessage":"still down"}' },
    },
    { id: 7, timestamp: t(6), type: 'TaskStateExited', stateExitedEventDetails: { name: 'Charge', output: '{}' } },
    { id: 8, timestamp: t(7), type: 'TaskStateEntered', stateEnteredEventDetails: { name: 'RecordChargeFailure' } },
    { id: 9, timestamp: t(8), type: 'TaskStateExited', stateExitedEventDetails: { name: 'RecordChargeFailure' } },
    {
      id: 10,
      timestamp: t(9),
      type: 'ExecutionFailed',
      executionFailedEventDetails: { error: 'ChargeOutcomeUnknown', cause: 'unknown' },
    },
  ];
  const arn = 'arn:aws:states:eu-west-1:1:execution:PayIn:pay_1';

  it('tells entered, retried (with the error), failed (with the cause), caught, succeeded and the end', () => {
    const events = executionEvents('pay_1', { workflow: 'pay-in', executionArn: arn, history });
    expect(events.map((e) => e.type)).toEqual([
      'state.entered',
      'state.retried',
      'state.failed',
      'state.caught',
      'state.entered',
      'state.succeeded',
      'execution.failed',
    ]);
    expect(events[1]?.summary).toBe('pay-in pay_1: Charge failed with PspTransientError, retried');
    expect(events[2]?.summary).toBe('pay-in pay_1: Charge failed with PspTransientError: still down');
    expect(events[6]?.summary).toContain('ChargeOutcomeUnknown (unknown)');
    for (const e of events)
      expect([e.source, e.ids]).toEqual(['workflow', { payment_id: 'pay_1', execution_arn: arn }]);
  });

  it('reads the local engine’s shape too (failures name their state; timestamps in seconds)', () => {
    const local: HistoryEvent[] = [
      { id: 1, timestamp: 1795945438, type: 'TaskStateEntered', stateEnteredEventDetails: { name: 'Charge' } },
      {
        id: 2,
        timestamp: 1795945439,
        type: 'LambdaFunctionFailed',
        stateName: 'Charge',
        lambdaFunctionFailedEventDetails: { error: 'E' },
      },
      { id: 3, timestamp: 1795945440, type: 'LambdaFunctionScheduled', stateName: 'Charge' },
      { id: 4, timestamp: 1795945441, type: 'TaskStateExited', stateExitedEventDetails: { name: 'Charge' } },
    ];
    const events = executionEvents('pay_1', { workflow: 'pay-in', executionArn: arn, history: local });
    expect(events.map((e) => e.type)).toEqual(['state.entered', 'state.retried', 'state.succeeded']);
    expect(events[0]?.at).toBe(new Date(1795945438000).toISOString());
  });
});

const entry = (
  transaction_id: string,
  account: string,
  direction: 'DEBIT' | 'CREDIT',
  amount_minor: number,
  currency = 'JPY',
): StoredLedgerEntry => ({
  transaction_id,
  reference: 'pay_1',
  posted_at: t(20),
  account,
  direction,
  amount_minor,
  currency,
});

describe('ledgerEvents', () => {
  it('one event per transaction, and the wallet movement of each seller payable, in the currency’s units', () => {
    const events = ledgerEvents('pay_1', [
      entry('payin:po_1', 'asset:psp_clearing', 'DEBIT', 1500),
      entry('payin:po_1', 'liability:seller_payable:seller_a', 'CREDIT', 1400),
      entry('payin:po_1', 'revenue:platform_fees', 'CREDIT', 100),
    ]);
    expect(events.map((e) => [e.source, e.type])).toEqual([
      ['ledger', 'ledger.posted'],
      ['wallet', 'wallet.credited'],
    ]);
    expect(events[0]?.summary).toContain('1500 JPY');
    expect(events[1]?.summary).toBe('wallet of seller_a credited 1400 JPY (payin:po_1)');
    expect(events[1]?.ids).toEqual({ payment_id: 'pay_1', seller_account: 'seller_a', transaction_id: 'payin:po_1' });
  });
});

describe('assembleTimeline', () => {
  const payment = {
    event: {
      payment_id: 'pay_1',
      checkout_id: 'chk_1',
      status: 'SUCCESS',
      currency: 'EUR',
      total_minor: 2000,
      mode: 'token',
      order_ids: ['po_1'],
      created_at: t(0),
    },
    orders: [],
  } as unknown as Payment;
  const base: TimelineSources = {
    payment,
    recorded: [],
    executions: [],
    ledger: [],
    refunds: [],
    funds: [],
    payouts: {},
    reconciliationRuns: [],
  };
  const recorded = (second: number, type: string, ids: Record<string, string> = {}): TimelineEvent => ({
    payment_id: 'pay_1',
    at: t(second),
    source: 'api',
    type,
    summary: type,
    ids: { payment_id: 'pay_1', ...ids },
  });

  it('merges every source in time order', () => {
    const refund = {
      refund_id: 'rf_1',
      payment_order_id: 'po_1',
      amount_minor: 500,
      currency: 'EUR',
      reason: 'requested_by_customer',
      status: 'SUCCEEDED',
      psp_refund_id: 're_1',
      created_at: t(30),
      updated_at: t(31),
    } as unknown as Refund;
    const payout = {
      payout_id: 'po_x',
      seller_account: 'seller_a',
      currency: 'EUR',
      amount_minor: 900,
      status: 'PAID',
      created_at: t(41),
      paid_at: t(42),
    } as unknown as Payout;
    const events = assembleTimeline({
      ...base,
      recorded: [recorded(10, 'payment.accepted'), recorded(25, 'psp.charge')],
      ledger: [
        entry('payin:po_1', 'asset:psp_clearing', 'DEBIT', 1000, 'EUR'),
        entry('payin:po_1', 'liability:seller_payable:seller_a', 'CREDIT', 1000, 'EUR'),
      ],
      refunds: [refund],
      funds: [
        {
          source_id: 'po_1',
          seller_account: 'seller_a',
          currency: 'EUR',
          amount_minor: 1000,
          status: 'AVAILABLE',
          created_at: t(20),
          available_at: t(40),
        },
      ],
      payouts: { po_1: payout },
    });
    expect(events.map((e) => e.type)).toEqual([
      'payment.accepted',
      'ledger.posted',
      'wallet.credited',
      'psp.charge',
      'refund.requested',
      'refund.succeeded',
      'wallet.funds_available',
      'payout.paid',
    ]);
    expect(events.find((e) => e.type === 'payout.paid')?.ids.payout_id).toBe('po_x');
    expect(events.find((e) => e.type === 'refund.succeeded')?.ids.psp_refund_id).toBe('re_1');
  });

  it('says a reconciliation run matched only when it completed without a mismatch of this payment', () => {
    const run = (run_id: string, status: string) =>
      ({
        run_id,
        date: '2026-11-29',
        status,
        created_at: t(50),
        updated_at: t(51),
        completed_at: t(52),
      }) as unknown as ReconciliationRun;
    const events = assembleTimeline({
      ...base,
      ledger: [entry('payin:po_1', 'asset:psp_clearing', 'DEBIT', 1000, 'EUR')],
      recorded: [recorded(51, 'reconciliation.mismatch', { run_id: 'rr_2' })],
      reconciliationRuns: [run('rr_1', 'COMPLETED'), run('rr_2', 'COMPLETED'), run('rr_3', 'FAILED')],
    });
    expect(events.filter((e) => e.type === 'reconciliation.matched').map((e) => e.ids.run_id)).toEqual(['rr_1']);
  });

  it('no run is said to have matched a payment with a mismatch of that date, whichever run found it', () => {
    const run = { run_id: 'rr_2', date: '2026-11-29', status: 'COMPLETED', created_at: t(50), updated_at: t(51) };
    const events = assembleTimeline({
      ...base,
      ledger: [entry('payin:po_1', 'asset:psp_clearing', 'DEBIT', 1000, 'EUR')],
      reconciliationRuns: [run as unknown as ReconciliationRun],
      mismatchRuns: ['rr_1'],
    });
    expect(events.filter((e) => e.type === 'reconciliation.matched')).toEqual([]);
  });

  it('says which execution history could not be read instead of failing', () => {
    const events = assembleTimeline({
      ...base,
      unreadable: [
        { executionArn: 'arn:aws:states:r:1:execution:PayIn:pay_1', error: 'AccessDeniedException', at: t(1) },
      ],
    });
    expect(events.map((e) => [e.type, e.summary])).toEqual([
      ['payment.accepted', 'accepted: 1 order(s), 20.00 EUR, card token'],
      ['execution.history_unavailable', 'the history of execution pay_1 could not be read (AccessDeniedException)'],
    ]);
  });

  it('tells the acceptance from the payment and a start from its history, unless they were recorded', () => {
    const arn = (name: string) => `arn:aws:states:us-east-1:000000000000:execution:PayIn:${name}`;
    const started = (second: number) => ({ timestamp: t(second), type: 'ExecutionStarted', id: 1 });
    const executions = [
      { workflow: 'pay-in' as const, executionArn: arn('pay_1'), history: [started(1)] },
      { workflow: 'pay-in' as const, executionArn: arn('pay_1-janitor-9'), history: [started(9)] },
      { workflow: 'pay-in' as const, executionArn: arn('pay_1-replay-12'), history: [started(12)] },
    ] as unknown as TimelineSources['executions'];
    const redrive = {
      ...recorded(9, 'execution.started', { execution_arn: arn('pay_1-janitor-9') }),
      source: 'janitor' as const,
    };

    const told = startEvents(payment, executions, [redrive]);

    expect(told.map((e) => [e.at, e.source, e.type, e.ids.execution_arn ?? e.ids.checkout_id])).toEqual([
      [t(0), 'api', 'payment.accepted', 'chk_1'],
      [t(1), 'api', 'execution.started', arn('pay_1')],
      [t(12), 'workflow', 'execution.started', arn('pay_1-replay-12')],
    ]);
    // Recorded before (by an earlier version): not told twice.
    expect(startEvents(payment, [], [recorded(0, 'payment.accepted')])).toEqual([]);
  });

  it('shows payouts and reconciliation findings only to a key with their read scopes', () => {
    const events = [
      recorded(1, 'payment.accepted'),
      { ...recorded(2, 'payout.paid'), source: 'payout' as const },
      { ...recorded(3, 'reconciliation.mismatch'), source: 'reconciliation' as const },
    ];
    expect(visibleTo(events, { payouts: false, reconciliation: false }).map((e) => e.type)).toEqual([
      'payment.accepted',
    ]);
    expect(visibleTo(events, { payouts: true, reconciliation: false }).map((e) => e.type)).toEqual([
      'payment.accepted',
      'payout.paid',
    ]);
    expect(visibleTo(events, { payouts: true, reconciliation: true })).toHaveLength(3);
  });
});
