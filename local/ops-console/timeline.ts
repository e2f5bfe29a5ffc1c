/**
 * A payment's timeline page: what `GET /v1/payments/{payment_id}/timeline` of the local API answers (read with the
 * operator's own key), each event in the API's order, with links to the executions it names.
 */
import type { ExecutionSummary } from '../stepfunctions/engine';
import { esc, executionHref, isoDate, layout, paymentHref } from './html';

/** Reads a payment's timeline from the API: its HTTP status and parsed JSON body (undefined when not JSON). */
export type TimelineFetcher = (paymentId: string, key: string) => Promise<{ status: number; body: unknown }>;

export interface TimelineEvent {
  at: string;
  source: string;
  type: string;
  summary: string;
  ids?: Record<string, unknown>;
  detail?: unknown;
}

/** The timeline read over HTTP from the local API at `apiUrl`. */
export function httpTimelineFetcher(apiUrl: () => string): TimelineFetcher {
  return async (paymentId, key) => {
    const response = await fetch(`${apiUrl()}/v1/payments/${encodeURIComponent(paymentId)}/timeline`, {
      headers: { authorization: `Bearer ${key}`, accept: 'application/json' },
    });
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: response.status, body };
  };
}

function idCell(name: string, value: unknown, paymentId: string): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  let shown = `<code>${esc(text)}</code>`;
  if (typeof value === 'string' && (name === 'execution_arn' || name.endsWith('_execution_arn'))) {
    shown = `<a href="${esc(executionHref(value))}">${esc(value)}</a>`;
  } else if (typeof value === 'string' && name === 'payment_id' && value !== paymentId) {
    shown = `<a href="${esc(paymentHref(value))}">${esc(value)}</a>`;
  }
  return `<div><span class="muted">${esc(name)}</span> ${shown}</div>`;
}

function eventsTable(events: TimelineEvent[], paymentId: string): string {
  if (events.length === 0) return '<p class="muted">The timeline has no events.</p>';
  const rows = events.map((event, i) => {
    const ids = Object.entries(event.ids ?? {})
      .map(([name, value]) => idCell(name, value, paymentId))
      .join('');
    const detail =
      event.detail === undefined
        ? ''
        : `<details><summary>detail</summary><pre>${esc(JSON.stringify(event.detail, null, 2))}</pre></details>`;
    return `<tr class="timeline-event" data-source="${esc(event.source)}" data-type="${esc(event.type)}"><td>${
      i + 1
    }</td><td>${esc(event.at)}</td><td>${esc(event.source)}</td><td><code>${esc(event.type)}</code></td><td>${esc(
      event.summary,
    )}${detail}</td><td class="ids">${ids}</td></tr>`;
  });
  return `<table id="timeline"><thead><tr><th>#</th><th>At</th><th>Source</th><th>Type</th><th>Summary</th><th>Ids</th></tr></thead><tbody>${rows.join(
    '',
  )}</tbody></table>`;
}

function executionsTable(executions: ExecutionSummary[]): string {
  if (executions.length === 0) return '<p class="muted">No execution is named after this payment.</p>';
  const rows = executions.map(
    (e) =>
      `<tr><td><a href="${esc(executionHref(e.executionArn))}">${esc(e.name)}</a></td><td>${esc(
        e.stateMachineArn.split(':').at(-1),
      )}</td><td><span class="status status-${esc(e.status)}">${esc(e.status)}</span></td><td>${esc(
        isoDate(e.startDate),
      )}</td></tr>`,
  );
  return `<table><thead><tr><th>Name</th><th>State machine</th><th>Status</th><th>Started</th></tr></thead><tbody>${rows.join(
    '',
  )}</tbody></table>`;
}

/** The timeline page: its HTTP status and HTML. */
export async function timelinePage(
  paymentId: string,
  key: string,
  fetchTimeline: TimelineFetcher,
  executions: ExecutionSummary[],
): Promise<{ status: number; html: string }> {
  const title = `Payment ${paymentId}`;
  const heading = `<h1>Payment <code>${esc(paymentId)}</code></h1>`;
  const executionsPanel = `<h2>Executions</h2>${executionsTable(executions)}`;
  let answer: { status: number; body: unknown };
  try {
    answer = await fetchTimeline(paymentId, key);
  } catch (error) {
    return {
      status: 502,
      html: layout(
        title,
        `${heading}<p class="error" id="timeline-error">The timeline could not be read from the API: ${esc(
          (error as Error).message,
        )}</p>${executionsPanel}`,
        { signedIn: true },
      ),
    };
  }
  const { status, body } = answer;
  const apiError = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
  if (status === 404) {
    return {
      status: 404,
      html: layout(
        title,
        `${heading}<p class="error" id="no-such-payment">No such payment: the API knows no payment <code>${esc(
          paymentId,
        )}</code>.</p>${executionsPanel}`,
        { signedIn: true },
      ),
    };
  }
  if (status === 403 && apiError?.code === 'missing_authentication_token') {
    return {
      status: 501,
      html: layout(
        title,
        `${heading}<p class="notice" id="timeline-unavailable">This API has no timeline route (GET /v1/payments/{payment_id}/timeline) yet.</p>${executionsPanel}`,
        { signedIn: true },
      ),
    };
  }
  const events = (body as { events?: unknown } | undefined)?.events;
  if (status !== 200 || !Array.isArray(events)) {
    return {
      status: 502,
      html: layout(
        title,
        `${heading}<p class="error" id="timeline-error">The API answered HTTP ${esc(status)}${
          apiError ? `: ${esc(apiError.code)} ${esc(apiError.message)}` : ''
        }.</p>${executionsPanel}`,
        { signedIn: true },
      ),
    };
  }
  return {
    status: 200,
    html: layout(
      title,
      `${heading}<h2>Timeline</h2>${eventsTable(events as TimelineEvent[], paymentId)}${executionsPanel}`,
      { signedIn: true },
    ),
  };
}
