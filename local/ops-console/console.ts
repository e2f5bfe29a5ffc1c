/**
 * The local ops console at `/ops` on the local API's port: the executions of every state machine (as the Step
 * Functions console lists them), one execution with its graph coloured by outcome and its event history, and a
 * payment's timeline. Server-side rendered HTML, no script. Read-only: the only writes are signing in and out.
 *
 * Admin only, and local only: every page needs an API key with the `admin` scope (Bearer header or the login form's
 * session, auth.ts); without a valid key the answer is 401, with a key without `admin` 403. It lives in local/
 * only: nothing of it is deployed.
 */
import type http from 'node:http';
import { stateMachines } from '../../lambdas/catalog';
import {
  type Execution,
  type ExecutionStatus,
  type HistoryEvent,
  type LocalStepFunctions,
  SfnError,
} from '../stepfunctions/engine';
import { ConsoleAuth, type KeyVerifier } from './auth';
import { eventStateName, renderGraph } from './graph';
import { duration, esc, executionHref, isoDate, layout, paymentHref, prettyJson } from './html';
import { httpTimelineFetcher, type TimelineFetcher, timelinePage } from './timeline';

export interface OpsConsoleOptions {
  engine: Pick<LocalStepFunctions, 'query' | 'execution' | 'listStateMachines' | 'describeStateMachine'>;
  /** Verifies an API key (ApiKeys.verify of the stack's keys table). */
  verifyKey: KeyVerifier;
  /** Reads a payment's timeline; by default from the local API itself, with the operator's key. */
  fetchTimeline?: TimelineFetcher;
}

/** What the API gateway calls for a request under /ops; `apiUrl` is the gateway's own base URL. */
export type OpsConsoleHandler = (
  req: http.IncomingMessage,
  res: http.ServerResponse,
  context: { apiUrl: string },
) => Promise<void>;

const PAGE_SIZE = 50;
const MAX_HISTORY_ROWS = 5000;
const STATUSES: ExecutionStatus[] = ['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'];
const PAY_IN = stateMachines.payIn.id;

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

function send(res: http.ServerResponse, status: number, html: string, headers: Record<string, string> = {}) {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': String(Buffer.byteLength(html)),
    ...SECURITY_HEADERS,
    ...headers,
  });
  res.end(html);
}

function redirect(res: http.ServerResponse, location: string, headers: Record<string, string> = {}) {
  res.writeHead(303, { location, 'content-length': '0', ...SECURITY_HEADERS, ...headers });
  res.end();
}

/** A path of the console to go back to after signing in (anything else: the execution list). */
function safeNext(next: string | undefined): string {
  return next && /^\/ops(\/[A-Za-z0-9%._~\-/]*)?(\?[A-Za-z0-9%._~\-=&+]*)?$/.test(next) ? next : '/ops/executions';
}

function loginPage(message: string | undefined, next: string): string {
  return layout(
    'Sign in',
    `<h1>Sign in</h1><div class="panel"><p>The ops console needs an API key with the <code>admin</code> scope
(<code>npm run keys</code>; the local dev key has it).</p>${message ? `<p class="error" id="login-error">${esc(message)}</p>` : ''}
<form method="post" action="/ops/login"><input type="hidden" name="next" value="${esc(next)}">
<label>API key <input type="password" name="key" autocomplete="off" size="70" required></label>
<button type="submit" id="sign-in">Sign in</button></form></div>`,
  );
}

async function readForm(req: http.IncomingMessage, limit = 16 * 1024): Promise<URLSearchParams | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return undefined;
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

const machineName = (arn: string) => arn.split(':').at(-1) ?? arn;

function executionsPage(options: OpsConsoleOptions, query: URLSearchParams): string {
  const { engine } = options;
  const machines = engine.listStateMachines();
  const machine = machines.find((m) => m.name === query.get('machine'));
  const statusParam = query.get('status') ?? '';
  const status = (STATUSES as string[]).includes(statusParam) ? (statusParam as ExecutionStatus) : undefined;
  const name = (query.get('name') ?? '').trim();
  const offset = Math.max(0, Number.parseInt(query.get('offset') ?? '0', 10) || 0);
  const { items, more } = engine.query({
    stateMachineArn: machine?.stateMachineArn,
    status,
    namePrefix: name || undefined,
    offset,
    limit: PAGE_SIZE,
  });
  const option = (value: string, label: string, selected: boolean) =>
    `<option value="${esc(value)}"${selected ? ' selected' : ''}>${esc(label)}</option>`;
  const filters = `<form class="filters" method="get" action="/ops/executions">
<label>State machine<select name="machine">${option('', 'all', !machine)}${machines
    .map((m) => option(m.name, m.name, m.name === machine?.name))
    .join('')}</select></label>
<label>Status<select name="status">${option('', 'all', !status)}${STATUSES.map((s) => option(s, s, s === status)).join(
    '',
  )}</select></label>
<label>Name starts with (payment id, refund id, payout id...)<input name="name" value="${esc(name)}" size="40"></label>
<button type="submit" id="filter">Filter</button></form>`;
  const rows = items.map(
    (e) =>
      `<tr class="execution" data-name="${esc(e.name)}" data-status="${esc(e.status)}"><td><a href="${esc(
        executionHref(e.executionArn),
      )}">${esc(e.name)}</a></td><td>${esc(machineName(e.stateMachineArn))}</td><td><span class="status status-${esc(
        e.status,
      )}">${esc(e.status)}</span></td><td>${esc(isoDate(e.startDate))}</td><td>${esc(isoDate(e.stopDate))}</td><td>${esc(
        duration(e.startDate, e.stopDate),
      )}</td><td class="error">${esc(e.error)}</td></tr>`,
  );
  const params = (changes: Record<string, string>) => {
    const next = new URLSearchParams();
    if (machine) next.set('machine', machine.name);
    if (status) next.set('status', status);
    if (name) next.set('name', name);
    for (const [k, v] of Object.entries(changes)) next.set(k, v);
    return `/ops/executions?${next.toString()}`;
  };
  const pager = [
    offset > 0 ? `<a href="${esc(params({ offset: String(Math.max(0, offset - PAGE_SIZE)) }))}">newer</a>` : '',
    more ? `<a id="more" href="${esc(params({ offset: String(offset + PAGE_SIZE) }))}">more</a>` : '',
  ]
    .filter(Boolean)
    .join(' · ');
  const table =
    items.length === 0
      ? '<p class="muted" id="no-executions">No execution matches.</p>'
      : `<table id="executions"><thead><tr><th>Name</th><th>State machine</th><th>Status</th><th>Started</th><th>Stopped</th><th>Duration</th><th>Error</th></tr></thead><tbody>${rows.join(
          '',
        )}</tbody></table>`;
  return layout('Executions', `<h1>Executions</h1>${filters}${table}<p>${pager}</p>`, { signedIn: true });
}

/** The payment an execution works on: its input's `payment_id`, or a pay-in execution's name. */
function paymentOf(execution: Execution): string | undefined {
  try {
    const input = JSON.parse(execution.input) as { payment_id?: unknown };
    if (typeof input?.payment_id === 'string' && input.payment_id) return input.payment_id;
  } catch {
    // not JSON
  }
  return machineName(execution.stateMachineArn) === PAY_IN ? execution.name : undefined;
}

/** The details of an event (input, output, error, cause...), each in an expandable block. */
function eventDetails(event: HistoryEvent): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(event)) {
    if (!key.endsWith('EventDetails') || !value || typeof value !== 'object') continue;
    for (const [field, content] of Object.entries(value as Record<string, unknown>)) {
      if (field === 'name' || content === undefined || content === null || content === '') continue;
      const text = typeof content === 'string' ? prettyJson(content) : JSON.stringify(content, null, 2);
      const short = text.length <= 80 && !text.includes('\n');
      parts.push(
        short
          ? `<div class="detail-${esc(field)}"><span class="muted">${esc(field)}</span> <code>${esc(text)}</code></div>`
          : `<details class="detail-${esc(field)}"><summary>${esc(field)}</summary><pre>${esc(text)}</pre></details>`,
      );
    }
  }
  if (event.retryAttempt !== undefined) parts.push(`<div class="muted">retry attempt ${esc(event.retryAttempt)}</div>`);
  return parts.join('');
}

function historyTable(execution: Execution): string {
  const start = execution.startDate;
  const events = execution.history.slice(0, MAX_HISTORY_ROWS);
  const rows = events.map(
    (event) =>
      `<tr class="history-event" data-type="${esc(event.type)}"><td>${esc(event.id)}</td><td>${esc(
        isoDate(event.timestamp),
      )}</td><td class="muted">+${esc(duration(start, event.timestamp))}</td><td>${esc(event.type)}</td><td>${esc(
        eventStateName(event),
      )}</td><td>${eventDetails(event)}</td></tr>`,
  );
  const trimmed = execution.historyTrimmed
    ? '<p class="notice">Only the start and the close of this execution are still known (a stack in memory keeps the full history of its latest executions only).</p>'
    : '';
  const cut =
    execution.history.length > MAX_HISTORY_ROWS
      ? `<p class="notice">The first ${MAX_HISTORY_ROWS} of ${execution.history.length} events.</p>`
      : '';
  return `${trimmed}${cut}<table id="history"><thead><tr><th>Id</th><th>Timestamp</th><th>Elapsed</th><th>Type</th><th>State</th><th>Details</th></tr></thead><tbody>${rows.join(
    '',
  )}</tbody></table>`;
}

function executionPage(options: OpsConsoleOptions, execution: Execution): string {
  let definition: string | undefined;
  try {
    definition = options.engine.describeStateMachine(execution.stateMachineArn).definition;
  } catch {
    definition = undefined;
  }
  const paymentId = paymentOf(execution);
  const pre = (label: string, id: string, text: string | undefined) =>
    text === undefined ? '' : `<h2>${esc(label)}</h2><pre id="${id}">${esc(prettyJson(text))}</pre>`;
  const summary = `<div class="panel"><dl>
<dt>Execution ARN</dt><dd><code>${esc(execution.executionArn)}</code></dd>
<dt>State machine</dt><dd>${esc(machineName(execution.stateMachineArn))}</dd>
<dt>Status</dt><dd><span class="status status-${esc(execution.status)}" id="execution-status">${esc(execution.status)}</span></dd>
<dt>Started</dt><dd>${esc(isoDate(execution.startDate))}</dd>
<dt>Stopped</dt><dd>${esc(isoDate(execution.stopDate))} ${esc(duration(execution.startDate, execution.stopDate))}</dd>
${execution.error !== undefined ? `<dt>Error</dt><dd class="error" id="execution-error">${esc(execution.error)}</dd>` : ''}
${execution.cause !== undefined && execution.cause !== '' ? `<dt>Cause</dt><dd><pre id="execution-cause">${esc(prettyJson(execution.cause))}</pre></dd>` : ''}
${paymentId ? `<dt>Payment</dt><dd><a id="payment-timeline" href="${esc(paymentHref(paymentId))}">${esc(paymentId)}: timeline</a></dd>` : ''}
</dl></div>`;
  const graph =
    definition === undefined
      ? '<p class="muted">This state machine is not loaded by the local stack.</p>'
      : renderGraph(definition, execution.history, execution.status);
  return layout(
    `Execution ${execution.name}`,
    `<h1>Execution <code>${esc(execution.name)}</code></h1>${summary}
<h2>Graph</h2><div class="panel" id="graph">${graph}</div>
${pre('Input', 'execution-input', execution.input)}${pre('Output', 'execution-output', execution.output)}
<h2>Event history</h2>${historyTable(execution)}`,
    { signedIn: true },
  );
}

function notFound(what: string): string {
  return layout('Not found', `<h1>Not found</h1><p class="error" id="not-found">${esc(what)}</p>`, { signedIn: true });
}

/** The console's request handler. */
export function createOpsConsole(options: OpsConsoleOptions): OpsConsoleHandler {
  const auth = new ConsoleAuth(options.verifyKey);
  let apiUrl = '';
  const fetchTimeline = options.fetchTimeline ?? httpTimelineFetcher(() => apiUrl);

  return async (req, res, context) => {
    apiUrl = context.apiUrl;
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/ops', 'http://ops.local');
    const pathname = url.pathname.replace(/\/+$/, '') || '/';

    if (pathname === '/ops/login') {
      if (method === 'GET' || method === 'HEAD') {
        send(res, 200, loginPage(undefined, safeNext(url.searchParams.get('next') ?? undefined)));
        return;
      }
      if (method !== 'POST') {
        send(res, 405, layout('Method not allowed', '<h1>Method not allowed</h1>'), { allow: 'GET, POST' });
        return;
      }
      const form = await readForm(req);
      const next = safeNext(form?.get('next') ?? undefined);
      const result = await auth.check(form?.get('key')?.trim() || undefined);
      if (!result.ok) {
        send(res, result.status, loginPage(`Not signed in: ${result.reason}.`, next));
        return;
      }
      redirect(res, next, { 'set-cookie': auth.startSession(result.key) });
      return;
    }

    const result = await auth.authenticate(req);
    if (!result.ok) {
      const next = safeNext(`${url.pathname}${url.search}`);
      send(
        res,
        result.status,
        loginPage(`${result.status === 401 ? 'Unauthorized' : 'Forbidden'}: ${result.reason}.`, next),
        {
          ...(result.status === 401 ? { 'www-authenticate': 'Bearer' } : {}),
        },
      );
      return;
    }

    if (pathname === '/ops/logout') {
      if (method !== 'POST') {
        send(res, 405, layout('Method not allowed', '<h1>Method not allowed</h1>'), { allow: 'POST' });
        return;
      }
      redirect(res, '/ops/login', { 'set-cookie': auth.endSession(req) });
      return;
    }
    if (method !== 'GET' && method !== 'HEAD') {
      send(res, 405, layout('Method not allowed', '<h1>Method not allowed: the console is read-only</h1>'), {
        allow: 'GET',
      });
      return;
    }

    if (pathname === '/ops' || pathname === '/ops/executions') {
      send(res, 200, executionsPage(options, url.searchParams));
      return;
    }
    const executionMatch = /^\/ops\/executions\/([^/]+)$/.exec(pathname);
    if (executionMatch) {
      let arn: string;
      try {
        arn = decodeURIComponent(executionMatch[1] ?? '');
      } catch {
        send(res, 400, notFound('That execution ARN is not valid percent-encoding.'));
        return;
      }
      let execution: Execution;
      try {
        execution = options.engine.execution(arn);
      } catch (error) {
        if (error instanceof SfnError) {
          send(res, 404, notFound(`No such execution: ${arn}`));
          return;
        }
        throw error;
      }
      send(res, 200, executionPage(options, execution));
      return;
    }
    const paymentMatch = /^\/ops\/payments\/([^/]+)$/.exec(pathname);
    if (paymentMatch) {
      let paymentId: string;
      try {
        paymentId = decodeURIComponent(paymentMatch[1] ?? '');
      } catch {
        send(res, 400, notFound('That payment id is not valid percent-encoding.'));
        return;
      }
      const executions = options.engine.query({ namePrefix: paymentId, limit: 50 }).items;
      const page = await timelinePage(paymentId, result.key, fetchTimeline, executions);
      send(res, page.status, page.html);
      return;
    }
    send(res, 404, notFound(`No console page at ${url.pathname}`));
  };
}
