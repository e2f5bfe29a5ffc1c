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
import { checkPayoutInvariants } from '../support/payout-invariants';
import { until, type WalletView } from '../support/payouts';
import { TEST_STACK_ENV } from './global-setup';

jest.setTimeout(240_000);

const SECRET = 'sk_test_restart_simulator';
const WEBHOOK_SECRET = 'whsec_restart_simulator';
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
      PSP_WEBHOOK_SECRET: WEBHOOK_SECRET,
      DEV_API_KEY: `mpk_0123456789abcdef_${'A'.repeat(43)}`,
    },
  });
  stacks.push(stack);
  // The PSP's webhooks go to the running stack, as Stripe's go to the deployed API.
  sim.setWebhookEndpoint(`${stack.info.urls.api}/v1/webhooks/psp`, WEBHOOK_SECRET);
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

  it('finishes every payout of a run killed hard mid-way, none twice', async () => {
    // Prepare: onboarded sellers with available money (the PSP's clock moved), transfers slowed at the PSP.
    const stack = stacks.at(-1) ?? (await start());
    const sellers: string[] = [];
    for (let i = 0; i < 6; i++) {
      const seller = unique('run_seller');
      const put = await call<{ psp_account_id: string }>('PUT', `/v1/sellers/${seller}`, {
        body: { country: 'FR', default_currency: 'EUR', email: `${seller}@example.com` },
        stack: stack.info,
      });
      expect(put.status).toBe(201);
      sim.updateAccount(put.body.psp_account_id, { payouts_enabled: true });
      sellers.push(seller);
    }
    const body = checkout({
      sellers: [
        ...sellers.map((seller) => ({ seller, amount: '20.00' })),
        { seller: unique('float'), amount: '500.00' },
      ],
    });
    const paid = await call<{ payment_id: string }>('POST', '/v1/payments', { body, stack: stack.info });
    await waitForStatus(paid.body.payment_id, ['SUCCESS'], 120_000, stack.info);
    sim.advanceClock(2 * 86_400);
    for (const seller of sellers) {
      await until(
        `${seller} available`,
        async () => (await call<WalletView>('GET', `/v1/wallets/${seller}`, { stack: stack.info })).body,
        (w) => w.balances[0]?.available === '20.00',
      );
    }
    sim.injectFault({ path: '/v1/transfers', method: 'POST', fault: 'latency', count: 6, latency_ms: 1500 });

    // Act: start the run, kill the stack hard while transfers are in flight, start it again.
    const run = await call<{ run_id: string }>('POST', '/v1/payout-runs', { body: {}, stack: stack.info });
    expect(run.status).toBe(202);
    await until(
      'a transfer in flight',
      async () => sim.transfers().length + 1,
      () => true,
      10_000,
    );
    await new Promise((resolve) => setTimeout(resolve, 800));
    await stack.stop('SIGKILL');
    const second = await start();

    // Assess: each seller paid out once (the janitor finishes what the killed workflows left), one transfer each.
    for (const seller of sellers) {
      const payouts = await until(
        `${seller} payout in transit`,
        async () =>
          (
            await call<{ payouts: { payout_id: string; status: string }[] }>('GET', `/v1/sellers/${seller}/payouts`, {
              stack: second.info,
            })
          ).body.payouts,
        (list) => list.length === 1 && ['IN_TRANSIT', 'PAID'].includes(list[0]?.status ?? ''),
        120_000,
      );
      expect(sim.transfers().filter((t) => t.transfer_group === payouts[0]?.payout_id)).toHaveLength(1);
    }
    sim.advanceClock(2 * 86_400);
    for (const seller of sellers) {
      await until(
        `${seller} paid`,
        async () =>
          (
            await call<{ payouts: { status: string }[] }>('GET', `/v1/sellers/${seller}/payouts`, {
              stack: second.info,
            })
          ).body.payouts,
        (list) => list[0]?.status === 'PAID',
        60_000,
      );
    }
    expect(await checkPayoutInvariants(second.info, sellers)).toEqual([]);
  });
});
