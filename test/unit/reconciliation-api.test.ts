/**
 * The reconciliation API: the five handlers (lambdas/api/*reconciliation*.ts) through their middy chain, against an
 * in-memory store that keeps the real store's rules (one RUNNING run per date, only open or carried mismatches
 * resolved), and the mapping of reconciliation's domain errors to HTTP (src/api/middleware.ts).
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import type { ReconciliationRun, StoredMismatch } from '../../src/reconciliation/domain/run';
import type { ReconciliationDeps } from '../../src/reconciliation/ports';
import type { MismatchFilter } from '../../src/reconciliation/reconciliation-table';

// The logger reads its level when first loaded: every module that logs is required below, once this is set.
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.AWS_LAMBDA_FUNCTION_NAME = 'unit-test';
const { fromDomainError } = require('../../src/api/middleware') as typeof import('../../src/api/middleware');
const { MismatchNotOpenError, RunInProgressError } =
  require('../../src/reconciliation/reconciliation-table') as typeof import('../../src/reconciliation/reconciliation-table');
const { listReconciliationRuns } =
  require('../../src/api/reconciliation') as typeof import('../../src/api/reconciliation');
const { InvalidRunInputError, RunNotFoundError } =
  require('../../src/reconciliation/run') as typeof import('../../src/reconciliation/run');

const NOW = new Date('2026-11-22T04:00:00.000Z');
const KEY_ID = 'key_finance_1';

/** The real store's rules, in memory. */
class FakeStore {
  runs = new Map<string, ReconciliationRun>();
  locks = new Map<string, string>();
  mismatches = new Map<string, StoredMismatch>();
  listCalls: MismatchFilter[] = [];
  page: { items: StoredMismatch[]; cursor?: string } = { items: [] };

  async claimDate(run: ReconciliationRun) {
    const holder = this.locks.get(run.date);
    if (holder && this.runs.get(holder)?.status === 'RUNNING') throw new RunInProgressError(run.date, holder);
    this.locks.set(run.date, run.run_id);
    this.runs.set(run.run_id, { ...run });
  }
  async releaseDate() {}
  async updateRun(runId: string, fields: Partial<ReconciliationRun>) {
    const run = this.runs.get(runId);
    if (run) this.runs.set(runId, { ...run, ...fields });
  }
  async getRun(runId: string) {
    return this.runs.get(runId);
  }
  async mismatchesOfRun(runId: string) {
    return [...this.mismatches.values()].filter((m) => m.run_id === runId);
  }
  async runsOfDate(date: string) {
    return [...this.runs.values()].filter((r) => r.date === date).reverse();
  }
  async mismatchesOfDate(date: string) {
    return [...this.mismatches.values()].filter((m) => m.date === date);
  }
  async listMismatches(filter: MismatchFilter) {
    this.listCalls.push(filter);
    return this.page;
  }
  async getMismatch(id: string) {
    return this.mismatches.get(id);
  }
  async resolve(id: string, resolution: NonNullable<StoredMismatch['resolution']>) {
    const m = this.mismatches.get(id);
    if (!m)
      throw Object.assign(new Error('The conditional request failed'), { name: 'ConditionalCheckFailedException' });
    if (m.status !== 'open' && m.status !== 'carried') throw new MismatchNotOpenError(id, m.status);
    const resolved: StoredMismatch = { ...m, status: 'resolved', resolution, updated_at: resolution.at };
    this.mismatches.set(id, resolved);
    return resolved;
  }
}

let store: FakeStore;
let started: string[];
const fakeDeps = () =>
  ({
    store,
    workflow: {
      start: async (runId: string) => {
        started.push(runId);
      },
    },
    settings: { reportPollSeconds: 10, reportMaxPolls: 5, staleRunSeconds: 4 * 3600 },
    // The settlement bucket holds the files a test names here.
    archive: { exists: async (key: string) => key.startsWith('incoming/') },
    now: () => NOW,
  }) as unknown as ReconciliationDeps;

jest.mock('../../src/reconciliation/deps', () => ({ reconciliationDeps: () => fakeDeps() }));

// Required once the environment and the mock are in place.
const createRun =
  require('../../lambdas/api/create-reconciliation-run') as typeof import('../../lambdas/api/create-reconciliation-run');
const getRun =
  require('../../lambdas/api/get-reconciliation-run') as typeof import('../../lambdas/api/get-reconciliation-run');
const getReport =
  require('../../lambdas/api/get-reconciliation-report') as typeof import('../../lambdas/api/get-reconciliation-report');
const listMismatches =
  require('../../lambdas/api/list-reconciliation-mismatches') as typeof import('../../lambdas/api/list-reconciliation-mismatches');
const resolveMismatch =
  require('../../lambdas/api/resolve-reconciliation-mismatch') as typeof import('../../lambdas/api/resolve-reconciliation-mismatch');

beforeEach(() => {
  store = new FakeStore();
  started = [];
});

const context = {
  callbackWaitsForEmptyEventLoop: true,
  functionName: 'unit-test',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:unit-test',
  memoryLimitInMB: '128',
  awsRequestId: 'req-1',
  logGroupName: 'g',
  logStreamName: 's',
  getRemainingTimeInMillis: () => 10_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
} as Context;

function event({
  method = 'GET',
  body,
  path = {},
  query = null,
  scopes = 'reconciliation:read reconciliation:write',
}: {
  method?: string;
  body?: unknown;
  path?: Record<string, string>;
  query?: Record<string, string> | null;
  scopes?: string;
}): APIGatewayProxyEvent {
  return {
    httpMethod: method,
    path: '/v1/reconciliation',
    resource: '/v1/reconciliation',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    multiValueHeaders: {},
    queryStringParameters: query,
    multiValueQueryStringParameters: null,
    pathParameters: path,
    stageVariables: null,
    requestContext: { authorizer: { keyId: KEY_ID, principalId: KEY_ID, scopes } } as never,
    body: body === undefined ? null : typeof body === 'string' ? body : JSON.stringify(body),
    isBase64Encoded: false,
  };
}

type Handler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;
async function call(handler: unknown, e: APIGatewayProxyEvent) {
  const response = await (handler as Handler)(e, context);
  const isJson = String(response.headers?.['content-type']).startsWith('application/json');
  return { ...response, json: isJson ? JSON.parse(response.body) : undefined };
}

const post = (body: unknown, scopes?: string) =>
  call(createRun.handler, event({ method: 'POST', body, ...(scopes && { scopes }) }));

function storedMismatch(overrides: Partial<StoredMismatch>): StoredMismatch {
  return {
    mismatch_id: 'mm_20261121_amount_mismatch_txn_1',
    date: '2026-11-21',
    run_id: 'rec_1',
    first_run_id: 'rec_1',
    type: 'amount_mismatch',
    class: 'manual',
    status: 'open',
    detail: 'the PSP moved 1001; our ledger booked 1000',
    balance_transaction_id: 'txn_1',
    key: 'charge:pay_1',
    payment_id: 'pay_1',
    currency: 'EUR',
    psp_amount_minor: 1001,
    our_amount_minor: 1000,
    created_at: '2026-11-22T03:00:00.000Z',
    updated_at: '2026-11-22T03:00:00.000Z',
    ...overrides,
  };
}

describe('POST /v1/reconciliation/runs', () => {
  it('starts the run of a date (202), trigger api, created by the caller key, its workflow started', async () => {
    const res = await post({ date: '2026-11-21' });
    expect(res.statusCode).toBe(202);
    expect(res.json).toMatchObject({ date: '2026-11-21', status: 'RUNNING' });
    expect(res.json.run_id).toMatch(/^rec_20261121_/);
    expect(res.json.report_url).toBe(`/v1/reconciliation/runs/${res.json.run_id}/report.html`);
    expect(started).toEqual([res.json.run_id]);
    expect(store.runs.get(res.json.run_id)).toMatchObject({ trigger: 'api', created_by: KEY_ID });
  });

  it('takes a file at hand (file_key)', async () => {
    const res = await post({ date: '2026-11-21', file_key: 'incoming/2026-11-21.csv' });
    expect(res.statusCode).toBe(202);
    expect(store.runs.get(res.json.run_id)?.file_key).toBe('incoming/2026-11-21.csv');
  });

  it('refuses a file at hand that is not in the settlement bucket, naming file_key, starting nothing', async () => {
    const res = await post({ date: '2026-11-21', file_key: 'elsewhere/2026-11-21.csv' });
    expect(res.statusCode).toBe(400);
    expect(JSON.stringify(res.json)).toContain('file_key');
    expect(started).toEqual([]);
  });

  it('refuses a second run of a running date with 409 run_in_progress naming the running run', async () => {
    const first = await post({ date: '2026-11-21' });
    const second = await post({ date: '2026-11-21' });
    expect(second.statusCode).toBe(409);
    expect(second.json.error).toMatchObject({ code: 'run_in_progress', run_id: first.json.run_id, date: '2026-11-21' });
    expect(second.json.error.message).toContain(first.json.run_id);
    // Another date is free.
    expect((await post({ date: '2026-11-20' })).statusCode).toBe(202);
  });

  it.each([
    [{ date: '2026-13-01' }, 'date'],
    [{ date: '2026-02-30' }, 'date'],
    [{ date: '21/11/2026' }, 'date'],
    [{ date: 20261121 }, 'date'],
    [{}, 'date'],
    [{ date: '2099-01-01' }, 'date'],
    [{ date: '2026-11-21', file_key: '' }, 'file_key'],
    [{ date: '2026-11-21', file_key: 7 }, 'file_key'],
    [{ date: '2026-11-21', extra: true }, '(body)'],
  ])('%j -> 400 naming %s', async (body, field) => {
    const res = await post(body);
    expect(res.statusCode).toBe(400);
    expect(res.json.error.code).toBe('invalid_request');
    expect(res.json.error.errors).toEqual([expect.objectContaining({ field })]);
    expect(started).toEqual([]);
  });

  it('400 without a body, 403 for a key without reconciliation:write', async () => {
    expect((await call(createRun.handler, event({ method: 'POST' }))).statusCode).toBe(400);
    const res = await post({ date: '2026-11-21' }, 'reconciliation:read');
    expect(res.statusCode).toBe(403);
    expect(res.json.error).toMatchObject({ code: 'insufficient_scope', scope: 'reconciliation:write' });
  });
});

describe('GET /v1/reconciliation/runs/{run_id} and its report.html', () => {
  async function completedRun(): Promise<string> {
    const { json } = await post({ date: '2026-11-21' });
    await store.updateRun(json.run_id, {
      status: 'COMPLETED',
      rows: 3,
      matched: 2,
      fees_booked: 2,
      fees_booked_new: 2,
      shards_total: 16,
      shards_done: 16,
      mismatches: { auto_fixed: 0, manual: 1, unclassifiable: 0 },
      by_type: { amount_mismatch: 1 },
      totals: {
        EUR: {
          rows: 3,
          gross_minor: 3001,
          fee_minor: 90,
          net_minor: 2911,
          matched_net_minor: 1940,
          unmatched_net_minor: 971,
        },
      },
      internal: {
        wallets_checked: 2,
        transactions_checked: 3,
        orders_checked: 2,
        clearing: { EUR: { file_net_minor: 2911, ledger_minor: 2910, drift_minor: 1, explained_minor: 1 } },
      },
      completed_at: NOW.toISOString(),
    });
    store.mismatches.set('mm_1', storedMismatch({ mismatch_id: 'mm_1', run_id: json.run_id }));
    return json.run_id;
  }

  it('gives the run: counts, by class and type, totals as decimal strings, internal checks, report_url', async () => {
    const runId = await completedRun();
    const res = await call(getRun.handler, event({ path: { run_id: runId } }));
    expect(res.statusCode).toBe(200);
    expect(res.json).toMatchObject({
      run_id: runId,
      date: '2026-11-21',
      status: 'COMPLETED',
      rows: 3,
      matched: 2,
      fees_booked: 2,
      fees_booked_new: 2,
      mismatches: { auto_fixed: 0, manual: 1, unclassifiable: 0 },
      by_type: { amount_mismatch: 1 },
      totals: { EUR: { rows: 3, gross: '30.01', fee: '0.90', net: '29.11', matched: '19.40', unmatched: '9.71' } },
      internal: {
        wallets_checked: 2,
        transactions_checked: 3,
        clearing: {
          EUR: { file_net: '29.11', ledger: '29.10', drift: '0.01', explained: '0.01', unexplained: '0.00' },
        },
      },
      shards_total: 16,
      shards_done: 16,
      trigger: 'api',
      created_by: KEY_ID,
      error: null,
      completed_at: NOW.toISOString(),
      report_url: `/v1/reconciliation/runs/${runId}/report.html`,
    });
  });

  it('serves the report page as HTML, with the numbers of the JSON', async () => {
    const runId = await completedRun();
    const res = await call(getReport.handler, event({ path: { run_id: runId } }));
    expect(res.statusCode).toBe(200);
    expect(res.headers).toMatchObject({
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
    expect(String(res.headers?.['content-security-policy'])).toContain("default-src 'none'");
    expect(res.body).toContain('<title>Reconciliation of 2026-11-21 — COMPLETED</title>');
    expect(res.body).toContain('<span data-testid="total-gross-EUR">30.01</span>');
    expect(res.body).toContain('<span data-testid="count-manual">1</span>');
    expect(res.body).toContain('<a href="/v1/payments/pay_1">pay_1</a>');
  });

  it("lists the mismatches the run's counts are of: the date's, whichever run found them, and the earlier dates' it escalated, once each", async () => {
    const runId = await completedRun();
    // Seen last by another run of the date; an earlier date's timing difference this run made manual.
    store.mismatches.set('mm_other_run', storedMismatch({ mismatch_id: 'mm_other_run', run_id: 'rec_later' }));
    store.mismatches.set(
      'mm_escalated',
      storedMismatch({ mismatch_id: 'mm_escalated', date: '2026-11-18', type: 'timing', run_id: runId }),
    );
    store.mismatches.set(
      'mm_elsewhere',
      storedMismatch({ mismatch_id: 'mm_elsewhere', date: '2026-11-19', run_id: 'rec_x' }),
    );
    const { body } = await call(getReport.handler, event({ path: { run_id: runId } }));
    for (const id of ['mm_1', 'mm_other_run', 'mm_escalated']) {
      expect(body.split(`data-testid="mismatch-${id}"`)).toHaveLength(2);
    }
    expect(body).not.toContain('mm_elsewhere');
  });

  it('404 for an unknown run (JSON, on both routes); 400 for a run id that is not an identifier', async () => {
    for (const handler of [getRun.handler, getReport.handler]) {
      const res = await call(handler, event({ path: { run_id: 'rec_nope' } }));
      expect(res.statusCode).toBe(404);
      expect(res.json.error.code).toBe('not_found');
      expect(res.json.error.message).toContain('rec_nope');
    }
    const bad = await call(getRun.handler, event({ path: { run_id: '../x' } }));
    expect(bad.statusCode).toBe(400);
    expect(bad.json.error.errors[0].field).toBe('run_id');
  });

  it('403 for a key without reconciliation:read', async () => {
    const res = await call(getRun.handler, event({ path: { run_id: 'rec_1' }, scopes: 'payments:read' }));
    expect(res.statusCode).toBe(403);
  });
});

describe('listReconciliationRuns (GET /v1/reconciliation/runs?date=, no route yet)', () => {
  it('gives the runs of a date as run views, newest first; 400 naming date without a calendar day', async () => {
    const first = (await post({ date: '2026-11-21' })).json.run_id;
    await store.updateRun(first, { status: 'FAILED', error: 'boom' });
    const second = (await post({ date: '2026-11-21' })).json.run_id;
    await post({ date: '2026-11-20' });
    const { data } = await listReconciliationRuns(fakeDeps(), { date: '2026-11-21' });
    expect(data.map((r) => [r.run_id, r.status, r.trigger])).toEqual([
      [second, 'RUNNING', 'api'],
      [first, 'FAILED', 'api'],
    ]);
    for (const query of [null, {}, { date: 'yesterday' }, { date: '2026-02-30' }]) {
      await expect(listReconciliationRuns(fakeDeps(), query)).rejects.toMatchObject({
        statusCode: 400,
        details: { errors: [expect.objectContaining({ field: 'date' })] },
      });
    }
  });
});

describe('GET /v1/reconciliation/mismatches', () => {
  const list = (query: Record<string, string> | null) => call(listMismatches.handler, event({ query }));

  it('gives a page of mismatch views and the next cursor; limit 50 by default', async () => {
    const cursor = Buffer.from(JSON.stringify({ pk: 'MISMATCH#x', sk: 'MISMATCH', run_id: 'rec_1' })).toString(
      'base64url',
    );
    store.page = { items: [storedMismatch({})], cursor };
    const res = await list({ run_id: 'rec_1', class: 'manual', status: 'open' });
    expect(res.statusCode).toBe(200);
    expect(store.listCalls).toEqual([{ run_id: 'rec_1', class: 'manual', status: 'open', limit: 50 }]);
    expect(res.json).toEqual({
      data: [
        {
          mismatch_id: 'mm_20261121_amount_mismatch_txn_1',
          date: '2026-11-21',
          run_id: 'rec_1',
          first_run_id: 'rec_1',
          type: 'amount_mismatch',
          class: 'manual',
          status: 'open',
          detail: 'the PSP moved 1001; our ledger booked 1000',
          key: 'charge:pay_1',
          balance_transaction_id: 'txn_1',
          currency: 'EUR',
          psp_amount: '10.01',
          our_amount: '10.00',
          payment_id: 'pay_1',
          created_at: '2026-11-22T03:00:00.000Z',
          updated_at: '2026-11-22T03:00:00.000Z',
          links: { payment: '/v1/payments/pay_1', run: '/v1/reconciliation/runs/rec_1' },
        },
      ],
      next_cursor: cursor,
    });
    // The next page: the cursor handed back as it was.
    store.page = { items: [] };
    const next = await list({ run_id: 'rec_1', limit: '10', cursor });
    expect(next.json).toEqual({ data: [] });
    expect(store.listCalls[1]).toEqual({ run_id: 'rec_1', limit: 10, cursor });
  });

  it('lists a work list without run_id (the open manual ones by default)', async () => {
    expect((await list(null)).statusCode).toBe(200);
    expect((await list({ class: 'unclassifiable', status: 'open' })).statusCode).toBe(200);
    expect((await list({ status: 'carried' })).statusCode).toBe(200);
    expect(store.listCalls).toEqual([
      { limit: 50 },
      { class: 'unclassifiable', status: 'open', limit: 50 },
      { status: 'carried', limit: 50 },
    ]);
  });

  it('answers carried manual mismatches (there are none: carried ones are timing, auto_fixed) without a query', async () => {
    const res = await list({ class: 'manual', status: 'carried' });
    expect(res.json).toEqual({ data: [] });
    expect(store.listCalls).toEqual([]);
  });

  it.each([
    [{ class: 'open' }, 'class'],
    [{ status: 'OPEN' }, 'status'],
    [{ status: 'closed' }, 'status'],
    [{ status: 'resolved' }, 'status'], // resolved ones are listed by run
    [{ limit: '0' }, 'limit'],
    [{ limit: '101' }, 'limit'],
    [{ limit: '1.5' }, 'limit'],
    [{ limit: 'ten' }, 'limit'],
    [{ cursor: 'not a cursor' }, 'cursor'],
    [{ cursor: Buffer.from('[1,2]').toString('base64url') }, 'cursor'],
    [{ run_id: 'rec 1' }, 'run_id'],
  ])('%j -> 400 naming %s', async (query, field) => {
    const res = await list(query);
    expect(res.statusCode).toBe(400);
    expect(res.json.error.errors).toEqual([expect.objectContaining({ field })]);
    expect(store.listCalls).toEqual([]);
  });

  it('takes status resolved or fixed with a run_id', async () => {
    expect((await list({ run_id: 'rec_1', status: 'resolved', limit: '100' })).statusCode).toBe(200);
    expect((await list({ run_id: 'rec_1', status: 'fixed', class: 'auto_fixed', limit: '1' })).statusCode).toBe(200);
  });
});

describe('POST /v1/reconciliation/mismatches/{mismatch_id}/resolve', () => {
  const resolve = (id: string, body: unknown, scopes?: string) =>
    call(
      resolveMismatch.handler,
      event({ method: 'POST', path: { mismatch_id: id }, body, ...(scopes && { scopes }) }),
    );

  it('resolves an open mismatch: the view with the resolution, who (the caller key) and when (now)', async () => {
    store.mismatches.set('mm_1', storedMismatch({ mismatch_id: 'mm_1' }));
    const res = await resolve('mm_1', { resolution: 'refunded_buyer', note: 'refund re_9 issued' });
    expect(res.statusCode).toBe(200);
    expect(res.json).toMatchObject({
      mismatch_id: 'mm_1',
      status: 'resolved',
      resolution: { resolution: 'refunded_buyer', note: 'refund re_9 issued', by: KEY_ID, at: NOW.toISOString() },
      links: { payment: '/v1/payments/pay_1' },
    });
    expect(store.mismatches.get('mm_1')?.resolution?.by).toBe(KEY_ID);
  });

  it('resolves a carried timing difference', async () => {
    store.mismatches.set(
      'mm_t',
      storedMismatch({ mismatch_id: 'mm_t', type: 'timing', class: 'auto_fixed', status: 'carried' }),
    );
    expect((await resolve('mm_t', { resolution: 'confirmed_with_psp' })).statusCode).toBe(200);
  });

  it('409 mismatch_not_open for a mismatch fixed or resolved already', async () => {
    store.mismatches.set('mm_f', storedMismatch({ mismatch_id: 'mm_f', status: 'fixed' }));
    const res = await resolve('mm_f', { resolution: 'x' });
    expect(res.statusCode).toBe(409);
    expect(res.json.error).toMatchObject({ code: 'mismatch_not_open', mismatch_id: 'mm_f', status: 'fixed' });
    store.mismatches.set('mm_1', storedMismatch({ mismatch_id: 'mm_1' }));
    expect((await resolve('mm_1', { resolution: 'x' })).statusCode).toBe(200);
    expect((await resolve('mm_1', { resolution: 'again' })).statusCode).toBe(409);
  });

  it('404 for an unknown mismatch', async () => {
    const res = await resolve('mm_nope', { resolution: 'x' });
    expect(res.statusCode).toBe(404);
    expect(res.json.error.code).toBe('not_found');
  });

  it.each([
    [{}, 'resolution'],
    [{ resolution: '' }, 'resolution'],
    [{ resolution: '   ' }, 'resolution'],
    [{ resolution: 'x'.repeat(201) }, 'resolution'], // over 200 characters
    [{ resolution: 12 }, 'resolution'],
    [{ resolution: 'ok', note: 5 }, 'note'],
    [{ resolution: 'ok', note: 'n'.repeat(2001) }, 'note'],
    [{ resolution: 'ok', by: 'someone else' }, '(body)'],
    [{ resolution: 'ok', note: 'card 4242 4242 4242 4242' }, 'note'],
  ])('case %#: 400 naming the field, nothing resolved', async (body, field) => {
    store.mismatches.set('mm_1', storedMismatch({ mismatch_id: 'mm_1' }));
    const res = await resolve('mm_1', body);
    expect(res.statusCode).toBe(400);
    expect(res.json.error.errors).toEqual([expect.objectContaining({ field })]);
    expect(store.mismatches.get('mm_1')?.status).toBe('open');
  });

  it('403 for a key without reconciliation:write', async () => {
    store.mismatches.set('mm_1', storedMismatch({ mismatch_id: 'mm_1' }));
    expect((await resolve('mm_1', { resolution: 'x' }, 'reconciliation:read')).statusCode).toBe(403);
  });
});

describe('fromDomainError: reconciliation', () => {
  it('InvalidRunInputError -> 400 naming the field', () => {
    const mapped = fromDomainError(new InvalidRunInputError('date', 'must be a calendar day as YYYY-MM-DD'));
    expect(mapped).toMatchObject({ statusCode: 400, code: 'invalid_request' });
    expect(mapped?.details.errors).toEqual([{ field: 'date', message: 'date must be a calendar day as YYYY-MM-DD' }]);
  });

  it('RunInProgressError -> 409 run_in_progress naming the running run', () => {
    const mapped = fromDomainError(new RunInProgressError('2026-11-21', 'rec_running'));
    expect(mapped).toMatchObject({ statusCode: 409, code: 'run_in_progress' });
    expect(mapped?.details).toEqual({ run_id: 'rec_running', date: '2026-11-21' });
  });

  it('RunNotFoundError -> 404, MismatchNotOpenError -> 409', () => {
    expect(fromDomainError(new RunNotFoundError('rec_x'))).toMatchObject({ statusCode: 404, code: 'not_found' });
    expect(fromDomainError(new MismatchNotOpenError('mm_x', 'fixed'))).toMatchObject({
      statusCode: 409,
      code: 'mismatch_not_open',
      details: { mismatch_id: 'mm_x', status: 'fixed' },
    });
  });
});
