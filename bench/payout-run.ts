/**
 * A payout run over many sellers on the local stack (started as `npm start` would, in memory): N sellers created
 * through the API and onboarded at the PSP simulator, one pay-in per seller (checkouts of 40 orders), the PSP's clock
 * moved past the availability delay, then `POST /v1/payout-runs` and the time until the run is COMPLETED (every
 * seller's funds checked at the PSP and its payout reserved and started) and until every payout is IN_TRANSIT (the
 * transfer and the payout made at the PSP). Target: a run over 2,000 sellers completes within 3 minutes.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { call } from '../test/support/api-client';
import { ARTIFACTS, type StackInfo, startStackProcess } from '../test/support/local-stack-process';
import { formatTable, type SuiteResult } from './harness';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `work` over `items` with at most `limit` in flight. */
async function pool<T>(items: T[], limit: number, work: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

async function admin(stack: StackInfo, method: string, pathname: string, body?: unknown) {
  const response = await fetch(`${stack.urls.psp}${pathname}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${method} ${pathname}: ${response.status} ${await response.text()}`);
  return response.json();
}

export async function payoutRunSuite({ quick }: { quick: boolean }): Promise<SuiteResult> {
  const sellers = quick ? 120 : 2000;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'payments-bench-payouts-'));
  const stack = await startStackProcess({
    dataDir,
    logFile: path.join(ARTIFACTS, 'bench-payout-run.log'),
    env: { POWERTOOLS_LOG_LEVEL: 'WARN', PAYOUT_RUN_INTERVAL_SECONDS: '86400' },
  });
  const info = stack.info;
  try {
    const t0 = Date.now();
    const ids = Array.from({ length: sellers }, (_, i) => `bench_seller_${i}`);
    await pool(ids, 16, async (seller) => {
      const put = await call<{ psp_account_id: string }>('PUT', `/v1/sellers/${seller}`, {
        body: { country: 'FR', default_currency: 'EUR', email: `${seller}@example.com` },
        stack: info,
      });
      if (put.status !== 201) throw new Error(`PUT seller ${seller}: ${put.status}`);
      await admin(info, 'POST', `/__admin/accounts/${put.body.psp_account_id}`, { payouts_enabled: true });
    });
    // The PSP tells us by webhook (account.updated) that payouts are enabled: wait until every seller knows.
    await pool(ids, 16, async (seller) => {
      for (;;) {
        const view = await call<{ payouts_enabled: boolean }>('GET', `/v1/sellers/${seller}`, { stack: info });
        if (view.body.payouts_enabled) return;
        await sleep(500);
      }
    });
    const setupSellersMs = Date.now() - t0;
    const batches: string[][] = [];
    for (let i = 0; i < ids.length; i += 39) batches.push(ids.slice(i, i + 39));
    const payments: string[] = [];
    await pool(batches, 4, async (batch) => {
      const id = `bench_${payments.length}_${batch[0]}`;
      const body = {
        checkout_id: id,
        buyer: { id: `buyer_${id}`, country: 'FR' },
        currency: 'EUR',
        payment_method: 'pm_card_visa',
        // The platform's own float covers the PSP's fees on the sellers' transfers.
        payment_orders: [
          ...batch.map((seller, i) => ({ payment_order_id: `${id}_${i}`, seller_account: seller, amount: '20.00' })),
          { payment_order_id: `${id}_float`, seller_account: 'bench_platform_float', amount: '100.00' },
        ],
      };
      const accepted = await call<{ payment_id: string }>('POST', '/v1/payments', { body, stack: info });
      if (accepted.status !== 202) throw new Error(`POST /v1/payments: ${accepted.status}`);
      payments.push(accepted.body.payment_id);
    });
    for (const id of payments) {
      for (;;) {
        const payment = await call<{ status: string }>('GET', `/v1/payments/${id}`, { stack: info });
        if (payment.body.status === 'SUCCESS') break;
        if (payment.body.status === 'FAILED') throw new Error(`pay-in ${id} failed`);
        await sleep(200);
      }
    }
    const setupPayInsMs = Date.now() - t0 - setupSellersMs;
    await admin(info, 'POST', '/__admin/clock/advance', { seconds: 2 * 86_400 });

    const started = Date.now();
    const run = await call<{ run_id: string }>('POST', '/v1/payout-runs', { body: {}, stack: info });
    if (run.status !== 202) throw new Error(`POST /v1/payout-runs: ${run.status} ${JSON.stringify(run.body)}`);
    let last: {
      status: string;
      payouts_created: number;
      sellers_skipped: number;
      progress: { sellers_done: number; sellers_listed: number };
    };
    for (;;) {
      last = (await call<typeof last>('GET', `/v1/payout-runs/${run.body.run_id}`, { stack: info })).body;
      process.stdout.write(`\r  payout run: ${last.progress.sellers_done}/${last.progress.sellers_listed} sellers`);
      if (last.status === 'COMPLETED') break;
      await sleep(500);
    }
    const completedMs = Date.now() - started;
    process.stdout.write('\n');
    const payouts = (await admin(info, 'GET', '/__admin/payouts')) as unknown[];
    let inTransitMs = Number.NaN;
    for (let i = 0; i < 600; i++) {
      const transfers = (await admin(info, 'GET', '/__admin/transfers')) as unknown[];
      const made = (await admin(info, 'GET', '/__admin/payouts')) as unknown[];
      if (transfers.length >= last.payouts_created && made.length >= last.payouts_created) {
        inTransitMs = Date.now() - started;
        break;
      }
      await sleep(500);
    }
    const rows = [
      ['sellers', sellers],
      ['setup: sellers created and onboarded (s)', (setupSellersMs / 1000).toFixed(1)],
      ['setup: pay-ins booked (s)', (setupPayInsMs / 1000).toFixed(1)],
      ['run COMPLETED (s)', (completedMs / 1000).toFixed(1)],
      ['payouts made by the run', last.payouts_created],
      ['sellers skipped', last.sellers_skipped],
      ['every transfer and payout made at the PSP (s)', (inTransitMs / 1000).toFixed(1)],
      ['PSP payouts when the run completed', payouts.length],
    ];
    process.stdout.write(`\nPayout run\n${formatTable(['measure', 'value'], rows)}\n`);
    return {
      suite: 'payout-run',
      rows: [],
      details: {
        sellers,
        setup_sellers_ms: setupSellersMs,
        setup_payins_ms: setupPayInsMs,
        run_completed_ms: completedMs,
        all_transfers_and_payouts_ms: inTransitMs,
        payouts_created: last.payouts_created,
        sellers_skipped: last.sellers_skipped,
      },
      targets: quick
        ? {}
        : {
            'a run over 2,000 sellers completes in at most 3 minutes': completedMs <= 180_000,
            'every seller paid out once': last.payouts_created === sellers,
          },
    };
  } finally {
    await stack.stop('SIGTERM');
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
