/**
 * Reconciliation at the HTTP edge: request bodies and query strings checked (every problem a 400 naming its field or
 * parameter), the run's steps called (src/reconciliation/run.ts), and what the API shows (src/reconciliation/views.ts,
 * the report page src/reconciliation/report.ts). The handlers (lambdas/api/*reconciliation*.ts) only adapt the event.
 */
import type { APIGatewayProxyResult } from 'aws-lambda';
import * as z from 'zod';
import { MISMATCH_CLASSES, type MismatchClass } from '../reconciliation/domain/mismatch';
import { isDay, MISMATCH_STATUSES, type MismatchStatus, type StoredMismatch } from '../reconciliation/domain/run';
import type { ReconciliationDeps } from '../reconciliation/ports';
import type { MismatchFilter } from '../reconciliation/reconciliation-table';
import { renderReport } from '../reconciliation/report';
import { RunNotFoundError, resolveMismatch, startRun } from '../reconciliation/run';
import { type MismatchView, mismatchView, type RunView, runView, startedRunView } from '../reconciliation/views';
import { findCardData } from './card-data';
import { badRequest, HttpError } from './http';
import { IDENTIFIER_PATTERN } from './identifiers';
import { MAX_PATH_ID_LENGTH, quote } from './request-guards';
import { zodErrors } from './zod-errors';

export const createRunSchema = z.strictObject({
  date: z.string({ error: 'date must be a UTC date as a string such as "2026-11-28"' }),
  file_key: z
    .string({ error: 'file_key must be a string: the key of a settlement file in the settlement bucket' })
    .min(1, 'file_key must not be empty')
    .max(1024, 'file_key must be at most 1024 characters')
    .optional(),
});

export const resolveSchema = z.strictObject({
  resolution: z.string({ error: 'resolution must be a string saying what was decided' }),
  note: z.string({ error: 'note must be a string' }).optional(),
});

const invalidQuery = (field: string, message: string) => badRequest('the query is not valid', [{ field, message }]);

function refuseCardData(body: unknown) {
  const cardField = findCardData(body);
  if (cardField) {
    throw badRequest('card data is never accepted', [{ field: cardField, message: 'looks like card data' }]);
  }
}

/** POST /v1/reconciliation/runs: starts the run of a date (trigger `api`, created by the caller's key). */
export async function createReconciliationRun(deps: ReconciliationDeps, body: unknown, callerKeyId: string) {
  refuseCardData(body);
  const parsed = createRunSchema.safeParse(body, { reportInput: true });
  if (!parsed.success) throw badRequest('the reconciliation run is not valid', zodErrors(parsed.error));
  const run = await startRun(deps, {
    date: parsed.data.date,
    trigger: 'api',
    ...(parsed.data.file_key !== undefined && { file_key: parsed.data.file_key }),
    ...(callerKeyId !== '' && { created_by: callerKeyId }),
  });
  return startedRunView(run);
}

/** GET /v1/reconciliation/runs/{run_id}: the run's counts and progress (404 RunNotFoundError). */
export async function getReconciliationRun(deps: ReconciliationDeps, runId: string): Promise<RunView> {
  const run = await deps.store.getRun(runId);
  if (!run) throw new RunNotFoundError(runId);
  // Progress while it runs: the shards matched so far (the run counts them when it finishes).
  if (run.status === 'RUNNING' && run.shards_total > 0) run.shards_done = (await deps.store.shardResults(runId)).length;
  return runView(run);
}

/**
 * GET /v1/reconciliation/runs?date=YYYY-MM-DD: the runs of a date, newest first (400 naming `date` without a
 * calendar day).
 */
export async function listReconciliationRuns(
  deps: ReconciliationDeps,
  query: Record<string, string | undefined> | null | undefined,
): Promise<{ data: RunView[] }> {
  const date = query?.date;
  if (date === undefined || !isDay(date)) {
    throw invalidQuery(
      'date',
      `date must be a UTC date such as "2026-11-28"${date === undefined ? '' : ` (got ${quote(date)})`}`,
    );
  }
  return { data: (await deps.store.runsOfDate(date)).map(runView) };
}

/**
 * GET /v1/reconciliation/runs/{run_id}/report.html: the report page (404 RunNotFoundError). Its mismatches are the
 * ones the run's counts are of (finishRun): every mismatch of the date, whichever run of it found them, and those
 * this run touched last (the timing differences of earlier dates it made manual).
 */
export async function getReconciliationReport(deps: ReconciliationDeps, runId: string): Promise<string> {
  const run = await deps.store.getRun(runId);
  if (!run) throw new RunNotFoundError(runId);
  const [ofDate, ofRun] = await Promise.all([deps.store.mismatchesOfDate(run.date), deps.store.mismatchesOfRun(runId)]);
  const byId = new Map<string, StoredMismatch>();
  for (const m of [...ofDate, ...ofRun]) byId.set(m.mismatch_id, m);
  return renderReport(run, [...byId.values()]);
}

/**
 * The report page's response: HTML in UTF-8, never cached, and a content security policy that allows nothing but
 * the page's own inline style (it has no script and loads nothing).
 */
export function htmlResponse(html: string, statusCode = 200): APIGatewayProxyResult {
  return {
    statusCode,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy':
        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    },
    body: html,
  };
}

export const DEFAULT_MISMATCH_LIMIT = 50;
export const MAX_MISMATCH_LIMIT = 100;
const MAX_CURSOR_LENGTH = 2048;

/** A cursor as `listMismatches` gave it: base64url of a JSON object (DynamoDB's last evaluated key). */
function cursorIsValid(cursor: string): boolean {
  if (cursor.length === 0 || cursor.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor)) return false;
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    return (
      value !== null &&
      typeof value === 'object' &&
      !Array.isArray(value) &&
      Object.values(value).every((v) => typeof v === 'string' || typeof v === 'number')
    );
  } catch {
    return false;
  }
}

/**
 * The query of GET /v1/reconciliation/mismatches, checked: `run_id` (an identifier), `class` (auto_fixed, manual,
 * unclassifiable), `status` (open, carried, fixed, resolved), `limit` (1 to 100, 50 by default), `cursor` (the
 * `next_cursor` of the page before). Without `run_id` the list is a work list (the open mismatches of `class`,
 * manual by default, or the carried timing differences): fixed and resolved mismatches are listed by run, so a
 * status of fixed or resolved needs `run_id`. `empty`: the answer is known to be empty (carried mismatches are all
 * timing differences, class auto_fixed).
 */
export function parseMismatchQuery(query: Record<string, string | undefined> | null | undefined): {
  filter: MismatchFilter;
  empty: boolean;
} {
  const q = query ?? {};
  const runId = q.run_id;
  if (
    runId !== undefined &&
    (runId.length === 0 || runId.length > MAX_PATH_ID_LENGTH || !IDENTIFIER_PATTERN.test(runId))
  ) {
    throw invalidQuery('run_id', `run_id must be the id of a reconciliation run (got ${quote(runId)})`);
  }
  const klass = q.class;
  if (klass !== undefined && !MISMATCH_CLASSES.includes(klass as MismatchClass)) {
    throw invalidQuery('class', `class must be one of ${MISMATCH_CLASSES.join(', ')} (got ${quote(klass)})`);
  }
  const status = q.status;
  if (status !== undefined && !MISMATCH_STATUSES.includes(status as MismatchStatus)) {
    throw invalidQuery('status', `status must be one of ${MISMATCH_STATUSES.join(', ')} (got ${quote(status)})`);
  }
  if (runId === undefined && (status === 'fixed' || status === 'resolved')) {
    throw invalidQuery(
      'status',
      `status ${status} needs run_id: without it the list is an open work list (status open or carried)`,
    );
  }
  let limit = DEFAULT_MISMATCH_LIMIT;
  if (q.limit !== undefined) {
    limit = /^[0-9]{1,4}$/.test(q.limit) ? Number(q.limit) : Number.NaN;
    if (!(limit >= 1 && limit <= MAX_MISMATCH_LIMIT)) {
      throw invalidQuery('limit', `limit must be an integer from 1 to ${MAX_MISMATCH_LIMIT}`);
    }
  }
  const cursor = q.cursor;
  if (cursor !== undefined && !cursorIsValid(cursor)) {
    throw invalidQuery('cursor', 'cursor must be the next_cursor of a previous page, unchanged');
  }
  const filter: MismatchFilter = {
    limit,
    ...(runId !== undefined && { run_id: runId }),
    ...(klass !== undefined && { class: klass }),
    ...(status !== undefined && { status: status as MismatchStatus }),
    ...(cursor !== undefined && { cursor }),
  };
  const empty = runId === undefined && status === 'carried' && klass !== undefined && klass !== 'auto_fixed';
  return { filter, empty };
}

/** GET /v1/reconciliation/mismatches: a page of mismatch views and the cursor of the next page, if any. */
export async function listReconciliationMismatches(
  deps: ReconciliationDeps,
  query: Record<string, string | undefined> | null | undefined,
): Promise<{ data: MismatchView[]; next_cursor?: string }> {
  const { filter, empty } = parseMismatchQuery(query);
  if (empty) return { data: [] };
  const page = await deps.store.listMismatches(filter);
  return { data: page.items.map(mismatchView), ...(page.cursor !== undefined && { next_cursor: page.cursor }) };
}

/**
 * POST /v1/reconciliation/mismatches/{mismatch_id}/resolve: a person's resolution of an open (or carried) mismatch,
 * recorded with who (the caller's key) and when. 404 unknown; 409 MismatchNotOpenError; 400 naming the field.
 */
export async function resolveReconciliationMismatch(
  deps: ReconciliationDeps,
  mismatchId: string,
  body: unknown,
  callerKeyId: string,
): Promise<MismatchView> {
  refuseCardData(body);
  const parsed = resolveSchema.safeParse(body, { reportInput: true });
  if (!parsed.success) throw badRequest('the resolution is not valid', zodErrors(parsed.error));
  if (!(await deps.store.getMismatch(mismatchId))) {
    throw new HttpError(404, 'not_found', `no reconciliation mismatch ${quote(mismatchId, 80)}`);
  }
  const resolved = await resolveMismatch(deps, mismatchId, parsed.data, callerKeyId || 'unknown');
  return mismatchView(resolved);
}
