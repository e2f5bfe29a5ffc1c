/**
 * Execution history outlives a restart of the local stack (on a data folder, not in memory): a payment's execution
 * and its full history are still answered by the restarted Step Functions endpoint (the real @aws-sdk/client-sfn)
 * and shown by the ops console; an execution that was running when the stack was killed comes back ABORTED, saying
 * why. The PSP simulator runs in this test's process so that it outlives the stack (as Stripe outlives our functions).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DescribeExecutionCommand, ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { type PspSimulator, startPspSimulator } from '../../local/psp-simulator/server';
import { call, checkout, unique, waitForStatus } from '../support/api-client';
import { closedExecution, fullHistory, payInExecutionArn, sfnClient } from '../support/executions';
import { ARTIFACTS, type StackProcess, startStackProcess } from '../support/local-stack-process';
import { until } from '../support/payouts';
import { TEST_STACK_ENV } from './global-setup';

jest.setTimeout(240_000);

const SECRET = 'sk_test_ops_restart_simulator';
const WEBHOOK_SECRET = 'whsec_ops_restart_simulator';
const DEV_KEY = `mpk_0123456789abcdef_${'B'.repeat(43)}`;
let sim: PspSimulator;
let dataDir: string;
const stacks: StackProcess[] = [];

beforeAll(async () => {
  sim = await startPspSimulator({ secretKey: SECRET });
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'payments-ops-restart-'));
});

afterAll(async () => {
  for (const stack of stacks) await stack.stop('SIGTERM');
  await sim?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function start(): Promise<StackProcess> {
  const stack = await startStackProcess({
    dataDir,
    inMemory: false,
    logFile: path.join(ARTIFACTS, 'ops-restart-stack.log'),
    env: {
      ...TEST_STACK_ENV,
      PSP_URL: sim.url,
      PSP_SECRET_KEY: SECRET,
      PSP_WEBHOOK_SECRET: WEBHOOK_SECRET,
      DEV_API_KEY: DEV_KEY,
    },
  });
  stacks.push(stack);
  sim.setWebhookEndpoint(`${stack.info.urls.api}/v1/webhooks/psp`, WEBHOOK_SECRET);
  return stack;
}

describe('Local stack restarted on the same data folder: execution history', () => {
  it('still describes a payment execution with its full history, and a running one as ABORTED', async () => {
    // Prepare: one payment settled, one whose charge is still in flight at the PSP.
    const first = await start();
    const settled = await call<{ payment_id: string }>('POST', '/v1/payments', {
      body: checkout({ sellers: [{ seller: unique('seller'), amount: '8.00' }] }),
      stack: first.info,
    });
    expect(settled.status).toBe(202);
    const settledId = settled.body.payment_id;
    expect((await waitForStatus(settledId, ['SUCCESS', 'FAILED'], 60_000, first.info)).status).toBe('SUCCESS');
    // The next charge hangs at the PSP: its execution is running when the stack is killed.
    sim.injectFault({ path: '/v1/payment_intents', method: 'POST', fault: 'latency', count: 1, latency_ms: 20_000 });
    const waiting = await call<{ payment_id: string }>('POST', '/v1/payments', {
      body: checkout({ sellers: [{ seller: unique('seller'), amount: '9.00' }] }),
      stack: first.info,
    });
    expect(waiting.status).toBe(202);
    const waitingId = waiting.body.payment_id;
    const before = sfnClient(first.info);
    const settledArn = payInExecutionArn(settledId);
    const waitingArn = payInExecutionArn(waitingId);
    const { described, history } = await closedExecution(before, settledArn);
    expect(described.status).toBe('SUCCEEDED');
    const runningBefore = await until(
      'the second payment charging',
      async () => ({
        described: await before.send(new DescribeExecutionCommand({ executionArn: waitingArn })),
        history: await fullHistory(before, waitingArn),
      }),
      ({ history: events }) =>
        events.some((e) => e.type === 'TaskStateEntered' && e.stateEnteredEventDetails?.name === 'Charge'),
    );
    expect([runningBefore.described.status, runningBefore.described.error, runningBefore.described.cause]).toEqual([
      'RUNNING',
      undefined,
      undefined,
    ]);
    before.destroy();

    // Act: kill the stack hard, start it again on the same data folder.
    await first.stop('SIGKILL');
    const second = await start();
    const after = sfnClient(second.info);
    try {
      // Assess: the settled payment's execution, as it was, with its whole history.
      const again = await after.send(new DescribeExecutionCommand({ executionArn: settledArn }));
      expect({
        status: again.status,
        input: again.input,
        output: again.output,
        startDate: again.startDate,
        stopDate: again.stopDate,
      }).toEqual({
        status: described.status,
        input: described.input,
        output: described.output,
        startDate: described.startDate,
        stopDate: described.stopDate,
      });
      expect(await fullHistory(after, settledArn)).toEqual(history);

      // The one that was running: ABORTED, saying the stack stopped; its history up to then, then the abort.
      const aborted = await after.send(new DescribeExecutionCommand({ executionArn: waitingArn }));
      expect(aborted.status).toBe('ABORTED');
      expect(aborted.error).toBe('States.Runtime');
      expect(aborted.cause).toMatch(/local stack stopped while this execution was running/);
      const abortedHistory = await fullHistory(after, waitingArn);
      expect(abortedHistory.slice(0, runningBefore.history.length)).toEqual(runningBefore.history);
      expect(abortedHistory.at(-1)?.type).toBe('ExecutionAborted');

      const listed = await after.send(
        new ListExecutionsCommand({ stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:PayIn' }),
      );
      const names = (listed.executions ?? []).map((e) => e.name);
      expect(names).toEqual(expect.arrayContaining([settledId, waitingId]));

      // The console shows it too.
      const page = await fetch(`${second.info.urls.api}/ops/executions/${encodeURIComponent(settledArn)}`, {
        headers: { authorization: `Bearer ${DEV_KEY}` },
      });
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).toContain('data-state="Charge" data-outcome="succeeded"');
      expect(html.match(/class="history-event"/g)).toHaveLength(history.length);
    } finally {
      after.destroy();
    }
  });
});
