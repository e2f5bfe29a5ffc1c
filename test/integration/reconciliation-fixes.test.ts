/**
 * Reconciliation's automatic fix end to end, on a local stack of its own whose janitor never runs by itself: a
 * payment the PSP charged but we hold UNKNOWN (its charge answered a stored 500) is found in the day's settlement
 * file, and MatchShard has the pay-in janitor settle it, invoked through the stack's Lambda endpoint with the janitor's
 * own code and rights. The run counts it auto-fixed with what the recovery did; the payment ends SUCCESS, credited and
 * booked once; its timeline tells the fix.
 */

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { call, checkout, unique, waitForStatus } from '../support/api-client';
import { ARTIFACTS, type StackProcess, startStackProcess } from '../support/local-stack-process';
import { until } from '../support/payouts';
import { timelineOf } from '../support/timeline';
import { TEST_STACK_ENV } from './global-setup';

jest.setTimeout(240_000);

type RunView = {
  run_id: string;
  status: 'RUNNING' | 'COMPLETED' | 'FAILED';
  rows: number;
  matched: number;
  mismatches: { auto_fixed: number; manual: number; unclassifiable: number };
};
type MismatchView = {
  type: string;
  class: string;
  status: string;
  payment_id?: string;
  fix?: { kind: string };
  fix_result?: string;
};

const LOG = path.join(ARTIFACTS, 'reconciliation-fixes-stack.log');
let stack: StackProcess;
let dataDir: string;
const today = () => new Date().toISOString().slice(0, 10);
const api = <T>(method: string, route: string, body?: unknown) =>
  call<T>(method, route, { stack: stack.info, ...(body !== undefined && { body }) });

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'reconciliation-fixes-it-'));
  stack = await startStackProcess({
    dataDir,
    logFile: LOG,
    env: {
      ...TEST_STACK_ENV,
      // The janitor's sweep never runs here: only reconciliation's fix can settle the payment.
      JANITOR_INTERVAL_SECONDS: '86400',
      RECONCILIATION_REPORT_POLL_SECONDS: '1',
    },
  });
});

afterAll(async () => {
  await stack?.stop();
});

test('a charge we hold UNKNOWN: the run has the pay-in janitor settle it; SUCCESS, credited and booked once', async () => {
  const seller = unique('seller');
  const created = await api<{ payment_id: string }>(
    'POST',
    '/v1/payments',
    checkout({ sellers: [{ seller, amount: '41.00' }], paymentMethod: 'pm_card_visa_charged500x1' }),
  );
  expect(created.status).toBe(202);
  const paymentId = created.body.payment_id;
  // A stored 500 after the PSP charged: UNKNOWN at once, and left so (no janitor sweep on this stack).
  expect((await waitForStatus(paymentId, ['UNKNOWN'], 60_000, stack.info)).status).toBe('UNKNOWN');

  const started = await api<{ run_id: string }>('POST', '/v1/reconciliation/runs', { date: today() });
  expect(started.status).toBe(202);
  const run = await until(
    'the reconciliation run',
    async () => (await api<RunView>('GET', `/v1/reconciliation/runs/${started.body.run_id}`)).body,
    (r) => r.status !== 'RUNNING',
    120_000,
  );
  expect(run).toMatchObject({ status: 'COMPLETED', rows: 1, mismatches: { auto_fixed: 1, manual: 0 } });
  const listed = await api<{ data: MismatchView[] }>(
    'GET',
    `/v1/reconciliation/mismatches?run_id=${run.run_id}&limit=100`,
  );
  expect(listed.body.data).toEqual([
    expect.objectContaining({
      type: 'missed_outcome',
      class: 'auto_fixed',
      payment_id: paymentId,
      fix: expect.objectContaining({ kind: 'settle_payment' }),
      // What the pay-in janitor's recovery did, as it answered MatchShard.
      fix_result: expect.stringMatching(/^pay-in recovery: /),
    }),
  ]);

  // The recovery re-drove the payment: booked by its own workflow, once.
  const payment = await waitForStatus(paymentId, ['SUCCESS'], 60_000, stack.info);
  expect(payment.payment_orders.map((o) => [o.status, o.wallet_updated, o.ledger_updated])).toEqual([
    ['SUCCESS', true, true],
  ]);
  const wallet = await api<{ balances: { currency: string; amount: string }[] }>('GET', `/v1/wallets/${seller}`);
  expect(wallet.body.balances).toEqual([expect.objectContaining({ currency: 'EUR', amount: '41.00' })]);
  const timeline = await timelineOf(paymentId, stack.info);
  expect(timeline.events.filter((e) => e.type === 'reconciliation.fixed').map((e) => e.source)).toEqual([
    'reconciliation',
  ]);
  // Made by the pay-in janitor's function, invoked (its log: the fix's step, this payment), not by MatchShard.
  const fixedBy = await until(
    "the pay-in janitor's log of the fix",
    async () =>
      fs
        .readFileSync(LOG, 'utf8')
        .split('\n')
        .filter((line) => line.includes('"FixPayment done"') && line.includes(paymentId)),
    (lines) => lines.length > 0,
    10_000,
  );
  expect(fixedBy.map((line) => JSON.parse(line) as { function_name: string; result: string })).toEqual([
    expect.objectContaining({ function_name: 'Janitor', result: listed.body.data[0]?.fix_result }),
  ]);
});
