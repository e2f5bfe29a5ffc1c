/** HTML helpers of the local ops console: escaping (everything rendered goes through `esc`), the page layout. */

export function esc(value: unknown): string {
  return String(value ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** A JSON text pretty-printed when it parses, as it is otherwise (escaped by the caller). */
export function prettyJson(text: string | undefined): string {
  if (text === undefined) return '';
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** A Step Functions date (seconds since the epoch) as an ISO timestamp. */
export function isoDate(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '';
  return new Date(Math.round(seconds * 1000)).toISOString();
}

export function duration(start: number, stop: number | undefined): string {
  if (stop === undefined) return '';
  const ms = Math.max(0, Math.round((stop - start) * 1000));
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/** The console's path of an execution. */
export const executionHref = (executionArn: string) => `/ops/executions/${encodeURIComponent(executionArn)}`;
/** The console's path of a payment's timeline. */
export const paymentHref = (paymentId: string) => `/ops/payments/${encodeURIComponent(paymentId)}`;

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#16191f;background:#f2f3f3}
header{background:#232f3e;color:#fff;padding:8px 16px;display:flex;gap:16px;align-items:center}
header a{color:#fff;text-decoration:none}header .title{font-weight:600}header form{margin-left:auto}
main{padding:16px}h1{font-size:20px;margin:0 0 12px}h2{font-size:16px;margin:20px 0 8px}
a{color:#0972d3}table{border-collapse:collapse;width:100%;background:#fff}
th,td{border-bottom:1px solid #e9ebed;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#fafafa;font-weight:600}pre{margin:4px 0;white-space:pre-wrap;word-break:break-all;font-size:12px;
background:#f8f8f8;padding:6px;border:1px solid #e9ebed;max-height:400px;overflow:auto}
.panel{background:#fff;border:1px solid #e9ebed;padding:12px;margin-bottom:12px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0}dt{color:#5f6b7a}dd{margin:0}
.status{display:inline-block;padding:0 6px;border-radius:8px;font-size:12px;font-weight:600}
.status-SUCCEEDED{background:#e6f4ea;color:#1d7b3a}.status-FAILED,.status-TIMED_OUT{background:#fdecea;color:#b3261e}
.status-ABORTED{background:#eee;color:#444}.status-RUNNING{background:#e8f0fe;color:#0b57d0}
.filters{display:flex;gap:8px;align-items:end;flex-wrap:wrap;margin-bottom:12px}
.filters label{display:flex;flex-direction:column;font-size:12px;color:#5f6b7a}
.error{color:#b3261e}.muted{color:#5f6b7a}.notice{background:#fff8e1;border:1px solid #f0c36d;padding:8px 12px}
.graph{display:flex;flex-direction:column;align-items:center;gap:2px}
.layer{display:flex;gap:12px;justify-content:center;flex-wrap:wrap}
.arrow{color:#879596;font-size:16px;line-height:16px}
.state{border:2px solid #879596;border-radius:6px;padding:4px 8px;min-width:120px;background:#fff;font-size:12px}
.state .name{font-weight:600;font-size:13px}.state .type{color:#5f6b7a}
.state ul{margin:2px 0 0;padding-left:14px;color:#5f6b7a}
.state .inner{margin-top:6px;padding:6px;border:1px dashed #aab7b8;border-radius:4px;background:#fafafa}
.outcome-succeeded{border-color:#1d8102;background:#e9f7e6}.outcome-failed{border-color:#d13212;background:#fde7e3}
.outcome-retried,.outcome-caught{border-color:#e07b00;background:#fff2df}
.outcome-in-progress{border-color:#0972d3;background:#e5f2ff}
.outcome-not-entered{border-style:dashed;border-color:#c6c6cd;background:#fff;color:#8d99a8}
.terminal{border:2px solid #545b64;border-radius:12px;padding:2px 10px;font-size:12px;background:#fff}
td.ids{word-break:break-all;min-width:18em}
.legend{display:flex;gap:8px;flex-wrap:wrap;margin-bottom:8px}.legend .state{min-width:0}
`;

/** A whole page. `body` is HTML its caller built with `esc`. */
export function layout(title: string, body: string, options: { signedIn?: boolean } = {}): string {
  const signOut = options.signedIn
    ? '<form method="post" action="/ops/logout"><button type="submit">Sign out</button></form>'
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)} · local ops console</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>${STYLE}</style></head>
<body><header><a class="title" href="/ops">Local ops console</a><a href="/ops/executions">Executions</a>${signOut}</header>
<main>${body}</main></body></html>`;
}
