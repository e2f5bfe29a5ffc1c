/**
 * The local stack killed hard in the middle of workflows, then restarted on the same data: the janitor completes
 * or resolves every accepted payment, and none is lost or charged twice. The PSP simulator runs in this test's
 * process so that it outlives the stack (as Stripe outlives our functions).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type PspSimulator, startPspSimulator } from '../../local/psp-simulator/server';
import { call, checkout, unique, waitForStatus } from '../support/api-client';
import { checkInvariants } from '../support/invariants';
import { ARTIFACTS, type StackProcess, startStackProcess } from '../support/local-stack-process';
import { TEST_STACK_ENV } from './global-setup';

jest.setTimeout(240_000);

const SECRET = 'sk_test_restart_simulator';
let sim: PspSimulator;
let dataDir: string;
const stacks: StackProcess[] = [];

beforeAll(async () => {
  sim = await startPspSimulator({ secretKey: SECRET });
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'payments-restart-'));
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
    logFile: path.join(ARTIFACTS, 'restart-stack.log'),
    env: {
      ...TEST_STACK_ENV,
      PSP_URL: sim.url,
      PSP_SECRET_KEY: SECRET,
      DEV_API_KEY: `mpk_0123456789abcdef_${'A'.repeat(43)}`,
    },
  });
  stacks.push(stack);
  return stack;
}

describe('Local stack: killed mid-workflow and restarted', () => {
  it('completes every accepted payment exactly once after a restart', async () => {
    // Prepare: payments whose charge takes a while at the PSP, so the kill lands mid-workflow.
    const first = await start();
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const body = checkout({
        sellers: [
          { seller: unique('seller'), amount: '10.00' },
          { seller: unique('seller'), amount: '2.50' },
        ],
        paymentMethod: i % 2 === 0 ? 'pm_card_visa_latency1500' : 'pm_card_visa',
      });
      const response = await call<{ payment_id: string }>('POST', '/v1/payments', { body, stack: first.info });
      expect(response.status).toBe(202);
      ids.push(response.body.payment_id);
    }
    const inFlight = await call<{ status: string }>('GET', `/v1/payments/${ids[0]}`, { stack: first.info });
    expect(['NOT_STARTED', 'EXECUTING']).toContain(inFlight.body.status);

    // Act: kill it hard (no cleanup of any kind), then start it again on the same data.
    await first.stop('SIGKILL');
    const second = await start();

    // Assess: every payment accepted before the crash ends SUCCESS, with one charge and one booking per order.
    for (const id of ids) {
      const payment = await waitForStatus(id, ['SUCCESS', 'FAILED'], 120_000, second.info);
      expect([id, payment.status]).toEqual([id, 'SUCCESS']);
    }
    const charges = sim.charges().filter((c) => ids.includes(String(c.metadata.payment_id)));
    expect(charges).toHaveLength(ids.length);
    expect(await checkInvariants(second.info, ids)).toEqual([]);
  });
});
