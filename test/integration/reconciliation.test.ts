/**
 * Nightly reconciliation end to end on a local stack of its own (a day's file must hold only this file's money):
 * payments through the API, the PSP simulator's settlement file through its Reports API, the reconciliation state
 * machine with its shards, the API's run, mismatch list and resolution, the report page in Chromium (its numbers
 * equal to the JSON's; a screenshot kept), settlement faults against the simulator's manifest, two runs of a date
 * at once, and the daily schedule reconciling the previous day.
 */

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { call, checkout, unique, waitForStatus } from '../support/api-client';
import { launchChromium } from '../support/browser';
import { ARTIFACTS, type StackProcess, startStackProcess } from '../support/local-stack-process';
import { pspAdmin, until } from '../support/payouts';
import { timelineOf } from '../support/timeline';
import { TEST_STACK_ENV } from './global-setup';

jest.setTimeout(240_000);

const SHOTS = path.join(ARTIFACTS, 'screenshots');

type Counts = { auto_fixed: number; manual: number; unclassifiable: number };
type RunView = {
  run_id: string;
  date: string;
  status: 'RUNNING' | 'COMPLETED' | 'FAILED';
  trigger: string;
  rows: number;
  matched: number;
  fees_booked: number;
  fees_booked_new: number;
  mismatches: Counts;
  by_type: Record<string, number>;
  totals: Record<string, { gross: string; fee: string; net: string; matched: string; unmatched: string }>;
  report_url: string;
  error?: string;
};
type MismatchView = {
  mismatch_id: string;
  type: string;
  class: string;
  status: string;
  payment_id?: string;
  balance_transaction_id?: string;
  resolution?: { resolution: string; note?: string; by: string; at: string };
};

let stack: StackProcess;
let dataDir: string;
const today = () => new Date().toISOString().slice(0, 10);
const yesterday = () => new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);

const api = <T>(method: string, route: string, body?: unknown) =>
  call<T>(method, route, { stack: stack.info, ...(body !== undefined && { body }) });
// biome-ignore lint/suspicious/noExplicitAny: the simulator's admin answers are read field by field
const admin = (method: string, route: string, body?: unknown) => pspAdmin<any>(method, route, body, stack.info);

async function pay(sellers: { seller: string; amount: string }[]) {
  const created = await api<{ payment_id: string }>('POST', '/v1/payments', checkout({ sellers }));
  expect(created.status).toBe(202);
  return waitForStatus(created.body.payment_id, ['SUCCESS'], 60_000, stack.info);
}

async function startRun(date: string) {
  const started = await api<{ run_id: string; date: string; status: string }>('POST', '/v1/reconciliation/runs', {
    date,
  });
  expect(started.status).toBe(202);
  expect(started.body).toMatchObject({ date, status: 'RUNNING' });
  return started.body.run_id;
}

const waitForRun = (runId: string) =>
  until(
    `reconciliation run ${runId}`,
    async () => (await api<RunView>('GET', `/v1/reconciliation/runs/${runId}`)).body,
    (run) => run.status !== 'RUNNING',
    120_000,
  );

async function mismatchesOf(runId: string): Promise<MismatchView[]> {
  const listed = await api<{ data: MismatchView[] }>('GET', `/v1/reconciliation/mismatches?run_id=${runId}&limit=100`);
  expect(listed.status).toBe(200);
  return listed.body.data;
}

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'reconciliation-it-'));
  stack = await startStackProcess({
    dataDir,
    logFile: path.join(ARTIFACTS, 'reconciliation-stack.log'),
    env: {
      ...TEST_STACK_ENV,
      // The daily schedule fires every few seconds here (it reconciles the previous day once).
      RECONCILIATION_INTERVAL_SECONDS: '3',
      RECONCILIATION_REPORT_POLL_SECONDS: '1',
    },
  });
});

afterAll(async () => {
  await stack?.stop();
});

describe('reconciliation on the local stack', () => {
  let cleanRun: RunView;

  it('a clean day: every row matched, fees booked, zero mismatches; the report page shows the JSON numbers', async () => {
    await pay([{ seller: unique('seller'), amount: '25.99' }]);
    await pay([
      { seller: unique('seller'), amount: '10.00' },
      { seller: unique('seller'), amount: '15.00' },
    ]);
    await pay([{ seller: unique('seller'), amount: '7.50' }]);
    await admin('POST', '/__admin/stripe_fees', { currency: 'eur', amount: 2500 });

    const runId = await startRun(today());
    cleanRun = await waitForRun(runId);
    expect(cleanRun).toMatchObject({
      status: 'COMPLETED',
      rows: 4,
      matched: 4,
      fees_booked: 4,
      fees_booked_new: 4,
      mismatches: { auto_fixed: 0, manual: 0, unclassifiable: 0 },
    });
    expect(cleanRun.totals.EUR?.gross).toBe('33.49');
    expect(await mismatchesOf(runId)).toEqual([]);

    // The report, as a finance person opens it.
    const browser: Browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.setExtraHTTPHeaders({ authorization: `Bearer ${stack.info.devApiKey}` });
      const response = await page.goto(`${stack.info.urls.api}${cleanRun.report_url}`);
      expect(response?.status()).toBe(200);
      expect(response?.headers()['content-type']).toContain('text/html');
      const text = async (id: string) => (await page.locator(`[data-testid="${id}"]`).first().innerText()).trim();
      expect(await text('rows')).toContain(String(cleanRun.rows));
      expect(await text('matched')).toContain(String(cleanRun.matched));
      expect(await text('fees-booked')).toContain(String(cleanRun.fees_booked));
      expect(await text('count-manual')).toContain('0');
      expect(await text('count-unclassifiable')).toContain('0');
      expect(await text('total-gross-EUR')).toContain(cleanRun.totals.EUR?.gross ?? 'missing');
      expect(await text('total-net-EUR')).toContain(cleanRun.totals.EUR?.net ?? 'missing');
      fs.mkdirSync(SHOTS, { recursive: true });
      await page.screenshot({ path: path.join(SHOTS, 'reconciliation-report-clean.png'), fullPage: true });
    } finally {
      await browser.close();
    }
  });

  it('two runs of one date at once: one is accepted, the other refused with 409 naming it', async () => {
    const answers = await Promise.all([
      api<{ run_id?: string; error?: { code: string; run_id?: string } }>('POST', '/v1/reconciliation/runs', {
        date: today(),
      }),
      api<{ run_id?: string; error?: { code: string; run_id?: string } }>('POST', '/v1/reconciliation/runs', {
        date: today(),
      }),
    ]);
    const accepted = answers.filter((a) => a.status === 202);
    const refused = answers.filter((a) => a.status === 409);
    expect(accepted).toHaveLength(1);
    expect(refused).toHaveLength(1);
    expect(JSON.stringify(refused[0]?.body)).toContain(accepted[0]?.body.run_id ?? 'missing');
    const again = await waitForRun(accepted[0]?.body.run_id ?? '');
    // A second run of a reconciled day: the same result, no fee booked twice.
    expect(again).toMatchObject({ status: 'COMPLETED', matched: 4, fees_booked: 4, fees_booked_new: 0 });
    expect(again.mismatches).toEqual(cleanRun.mismatches);
  });

  it('a day with settlement faults: every injected mismatch found with its type and class, nothing else', async () => {
    for (let i = 0; i < 6; i++) await pay([{ seller: unique('seller'), amount: `${20 + i}.00` }]);
    const date = today();
    await admin('POST', '/__admin/settlement/faults', {
      seed: 11,
      date,
      duplicate_rows: 1,
      late_rows: 1,
      amount_deltas: 1,
      currency_flips: 1,
      drop_rows: 1,
      unknown_rows: 1,
    });
    const manifest = (
      (await admin('GET', `/__admin/settlement/manifest?date=${date}`)) as {
        injected: Array<{
          balance_transaction_id: string;
          payment_id: string | null;
          type: string;
          expected_class: string;
        }>;
      }
    ).injected;
    expect(manifest).toHaveLength(6);

    const run = await waitForRun(await startRun(date));
    expect(run.status).toBe('COMPLETED');
    const found = await mismatchesOf(run.run_id);
    const summary = (list: { type: string; class: string }[]) => list.map((m) => `${m.type}/${m.class}`).sort();
    expect(summary(found)).toEqual(summary(manifest.map((m) => ({ type: m.type, class: m.expected_class }))));
    for (const injected of manifest) {
      expect(
        found.some(
          (m) =>
            m.type === injected.type &&
            (m.balance_transaction_id === injected.balance_transaction_id ||
              (injected.payment_id !== null && m.payment_id === injected.payment_id)),
        ),
      ).toBe(true);
    }
    expect(run.mismatches).toEqual({ auto_fixed: 2, manual: 3, unclassifiable: 1 });

    // Finance works through the list: a resolution records who and when; a resolved item cannot be resolved again.
    const open = await api<{ data: MismatchView[] }>('GET', '/v1/reconciliation/mismatches?class=manual&status=open');
    expect(open.status).toBe(200);
    const item = open.body.data.find((m) => m.type === 'amount_mismatch');
    expect(item).toBeDefined();
    // The mismatch is on its payment's timeline, with the run and the mismatch's id.
    const paymentEvents = (await timelineOf(item?.payment_id ?? '', stack.info)).events;
    expect(
      paymentEvents
        .filter((e) => e.type === 'reconciliation.mismatch')
        .map((e) => [e.source, e.ids.run_id, e.ids.mismatch_id]),
    ).toContainEqual(['reconciliation', run.run_id, item?.mismatch_id]);
    const resolved = await api<MismatchView>('POST', `/v1/reconciliation/mismatches/${item?.mismatch_id}/resolve`, {
      resolution: 'psp_corrected',
      note: 'the PSP confirmed the amount; their file is corrected tomorrow',
    });
    expect(resolved.status).toBe(200);
    expect(resolved.body.status).toBe('resolved');
    expect(resolved.body.resolution).toMatchObject({ resolution: 'psp_corrected' });
    expect(resolved.body.resolution?.by).toBeTruthy();
    const twice = await api('POST', `/v1/reconciliation/mismatches/${item?.mismatch_id}/resolve`, {
      resolution: 'again',
    });
    expect(twice.status).toBe(409);
    const bad = await api('POST', `/v1/reconciliation/mismatches/${item?.mismatch_id}/resolve`, { resolution: '' });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('resolution');
  });

  it('bad input names the field and starts nothing', async () => {
    for (const date of ['2026-13-01', 'yesterday', undefined]) {
      const refused = await api('POST', '/v1/reconciliation/runs', date === undefined ? {} : { date });
      expect(refused.status).toBe(400);
      expect(JSON.stringify(refused.body)).toContain('date');
    }
    expect((await api('GET', '/v1/reconciliation/runs/rec_nope')).status).toBe(404);
    const badClass = await api('GET', '/v1/reconciliation/mismatches?class=urgent');
    expect(badClass.status).toBe(400);
    expect(JSON.stringify(badClass.body)).toContain('class');
  });

  it('npm run reconcile with a file at hand: uploaded, reconciled with a progress bar, the summary printed', async () => {
    const csv = await (await fetch(`${stack.info.urls.psp}/__admin/settlement/file?date=${today()}`)).text();
    expect(csv.split('\n')[0]).toContain('balance_transaction_id');
    const file = path.join(dataDir, 'day.csv');
    fs.writeFileSync(file, csv);
    const { status, stdout, stderr } = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'scripts/reconcile.ts',
        '--date',
        today(),
        '--file',
        file,
        '--api',
        stack.info.urls.api,
        '--key',
        stack.info.devApiKey,
        '--s3',
        stack.info.urls.sqs,
      ],
      { cwd: path.resolve(__dirname, '..', '..'), encoding: 'utf8', timeout: 120_000 },
    );
    expect(stderr).toBe('');
    expect(status).toBe(0);
    expect(stdout).toMatch(/file .* uploaded as uploads\//);
    expect(stdout).toMatch(/\[#+\] 100% /);
    expect(stdout).toMatch(/completed: \d+ rows, \d+ matched, \d+ fees booked/);
    expect(stdout).toMatch(/report: http.*\/report\.html/);
  });

  it('the daily schedule reconciles the previous UTC day', async () => {
    const runs = await until(
      'a scheduled run of the previous day',
      async () =>
        (await api<{ data: RunView[] }>('GET', `/v1/reconciliation/runs?date=${yesterday()}`)).body.data ?? [],
      (list) => list.some((r) => r.trigger === 'schedule' && r.status === 'COMPLETED'),
      60_000,
    );
    const scheduled = runs.find((r) => r.trigger === 'schedule');
    expect(scheduled).toMatchObject({ date: yesterday(), status: 'COMPLETED', rows: 0 });
  });
});
