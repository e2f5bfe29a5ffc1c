/**
 * The report of a reconciliation run, as a page a finance person reads (GET /v1/reconciliation/runs/{id}/report.html):
 * one self-contained HTML document (inline CSS, no script, nothing loaded from elsewhere), every value from the
 * run's JSON view (views.ts) and HTML-escaped. The key numbers carry stable `data-testid` attributes whose text is
 * exactly the JSON view's value (`rows`, `matched`, `fees-booked`, `count-<class>`, `type-<type>`,
 * `total-<gross|fee|net|matched|unmatched|rows>-<CUR>`, `clearing-<file_net|ledger|drift|explained|unexplained>-<CUR>`,
 * `wallets-checked`...), so that a browser test can compare the page with the JSON.
 *
 * A pure function: no I/O, no clock.
 */
import { MISMATCH_CLASSES, type MismatchClass, type MismatchType } from './domain/mismatch';
import type { ReconciliationRun, StoredMismatch } from './domain/run';
import { type MismatchView, mismatchView, type RunView, runUrlOf, runView } from './views';

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text or an attribute value, safe in HTML (element content and double- or single-quoted attributes). */
export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}

/** What a finance person reads for each class. */
const CLASS_LABELS: Record<MismatchClass, { title: string; meaning: string }> = {
  auto_fixed: { title: 'Fixed automatically', meaning: 'explained and corrected by the run; nothing to do' },
  manual: { title: 'Manual (finance queue)', meaning: 'understood, but a person must decide' },
  unclassifiable: {
    title: 'Unclassifiable (investigation queue)',
    meaning: 'a PSP row linked to nothing of ours: investigate',
  },
};

/** What each type means, in plain words. */
const TYPE_LABELS: Record<MismatchType, string> = {
  duplicate_row: 'The same PSP balance transaction appears twice in the file (counted once)',
  timing: 'Ours is dated this day, the PSP dates it later (cut-off): carried to the next files',
  missed_outcome: 'The PSP charged a payment we held unsettled (missed response or webhook): settled',
  unbooked_reversal: 'A refund failure or dispute movement we had not booked: booked',
  amount_mismatch: 'The PSP moved a different amount than our ledger booked',
  currency_mismatch: 'The PSP row is in another currency than our booking',
  missing_in_settlement: 'We booked a movement the PSP dates this day, but the file has no row for it',
  charged_but_failed: 'The PSP charged a payment we recorded as failed: decide on a refund',
  unknown_row: 'A PSP row linked to nothing of ours',
  duplicate_movement:
    'The PSP moved money a second time for something we booked once (a second charge, refund or transfer)',
  wallet_drift: "A seller's wallet differs from its payable account in the ledger",
  unbooked_order: 'A successful payment whose order lacks its wallet credit or ledger booking',
  unbalanced_transaction: 'A ledger transaction that does not balance',
  clearing_drift: 'The PSP clearing account moved differently from the file, beyond what the mismatches explain',
};

const TOTAL_COLUMNS = [
  ['gross', 'Gross'],
  ['fee', 'Fees'],
  ['net', 'Net'],
  ['matched', 'Matched (net)'],
  ['unmatched', 'Unmatched (net)'],
] as const;

const CLEARING_COLUMNS = [
  ['file_net', 'File net'],
  ['ledger', 'Our ledger'],
  ['drift', 'Drift'],
  ['explained', 'Explained by mismatches'],
  ['unexplained', 'Unexplained'],
] as const;

const STYLE = `
:root { color-scheme: light; --ink: #1d2330; --muted: #5b6475; --line: #d9dee7; --bg: #f6f7f9; --ok: #1d7a46;
  --warn: #a15c00; --bad: #b42318; --info: #2454a6; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px; font: 14px/1.45 -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
  color: var(--ink); background: var(--bg); }
main { max-width: 1200px; margin: 0 auto; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 0 0 10px; }
h3 { font-size: 15px; margin: 16px 0 8px; }
section, header { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 16px 20px;
  margin-bottom: 16px; }
.meta { color: var(--muted); margin: 4px 0 0; }
.status { display: inline-block; padding: 2px 8px; border-radius: 4px; font-size: 13px; font-weight: 600;
  vertical-align: middle; color: #fff; }
.status-COMPLETED { background: var(--ok); } .status-RUNNING { background: var(--info); }
.status-FAILED { background: var(--bad); }
.banner { padding: 10px 14px; border-radius: 4px; margin-top: 12px; }
.banner-bad { background: #fdecea; color: var(--bad); } .banner-info { background: #eaf1fb; color: var(--info); }
.banner-ok { background: #e8f5ee; color: var(--ok); } .banner-warn { background: #fff4e0; color: var(--warn); }
.kpis { display: flex; flex-wrap: wrap; gap: 12px; margin: 0; }
.kpi { flex: 1 1 140px; border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; }
.kpi dt { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .03em; }
.kpi dd { margin: 2px 0 0; font-size: 22px; font-weight: 600; font-variant-numeric: tabular-nums; }
.kpi small { display: block; color: var(--muted); font-size: 12px; font-weight: normal; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; font-size: 12px; text-transform: uppercase; letter-spacing: .03em; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.ccy { color: var(--muted); font-size: 12px; }
.nonzero { color: var(--bad); font-weight: 600; }
code { font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; word-break: break-all; }
code.type { white-space: nowrap; word-break: normal; }
.empty { color: var(--muted); font-style: italic; margin: 0; }
.detail { max-width: 480px; }
footer { color: var(--muted); font-size: 12px; text-align: center; margin-top: 8px; }
@media print { body { background: #fff; padding: 0; } section, header { border: 0; padding: 8px 0; } }
`;

const testId = (id: string) => ` data-testid="${escapeHtml(id)}"`;

/** A decimal amount (already a string of the JSON view) with its currency code. */
function money(amount: string | undefined, currency: string | undefined, id?: string): string {
  if (amount === undefined) return '<span class="empty">—</span>';
  const value = `<span${id ? testId(id) : ''}>${escapeHtml(amount)}</span>`;
  return currency ? `${value} <span class="ccy">${escapeHtml(currency)}</span>` : value;
}

function kpi(label: string, value: number, id: string, note?: string): string {
  return `<div class="kpi"><dt>${escapeHtml(label)}</dt><dd><span${testId(id)}>${escapeHtml(value)}</span>${
    note ? `<small>${note}</small>` : ''
  }</dd></div>`;
}

function table(headers: Array<string | [string, 'num']>, rows: string[]): string {
  const head = headers
    .map((h) => (Array.isArray(h) ? `<th class="num">${escapeHtml(h[0])}</th>` : `<th>${escapeHtml(h)}</th>`))
    .join('');
  return `<table><thead><tr>${head}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

const isZero = (amount: string) => /^-?0(?:\.0+)?$/.test(amount);

/** Links to our records a mismatch names (the API's own paths). */
function recordLinks(m: MismatchView): string {
  const parts: string[] = [];
  const link = (label: string, href: string | undefined, id: string | undefined) => {
    if (href && id) parts.push(`${escapeHtml(label)} <a href="${escapeHtml(href)}">${escapeHtml(id)}</a>`);
  };
  link('payment', m.links.payment, m.payment_id);
  link('refund', m.links.refund, m.refund_id);
  link('payout', m.links.payout, m.payout_id);
  link('dispute', m.links.dispute, m.dispute_id);
  if (m.seller_account) parts.push(`seller <code>${escapeHtml(m.seller_account)}</code>`);
  return parts.length > 0 ? parts.join('<br>') : '<span class="empty">—</span>';
}

/** The PSP's balance transaction (and file line), or the key, a mismatch is about. */
function subject(m: MismatchView): string {
  if (m.balance_transaction_id) {
    return `<code>${escapeHtml(m.balance_transaction_id)}</code>${
      m.line !== undefined ? `<br><span class="ccy">line ${escapeHtml(m.line)}</span>` : ''
    }`;
  }
  return m.key ? `<code>${escapeHtml(m.key)}</code>` : '<span class="empty">—</span>';
}

const mismatchRow = (m: MismatchView, cells: string[]) =>
  `<tr${testId(`mismatch-${m.mismatch_id}`)}>${cells.map((c) => `<td>${c}</td>`).join('')}</tr>`;

function amountsCells(m: MismatchView): [string, string] {
  return [
    money(m.psp_amount, m.currency, `psp-amount-${m.mismatch_id}`),
    money(m.our_amount, m.our_currency ?? m.currency, `our-amount-${m.mismatch_id}`),
  ];
}

const typeCell = (m: MismatchView) =>
  `<code class="type">${escapeHtml(m.type)}</code><br><span class="ccy">${escapeHtml(m.class)}</span>`;

const byId = (a: MismatchView, b: MismatchView) =>
  a.class.localeCompare(b.class) || a.type.localeCompare(b.type) || a.mismatch_id.localeCompare(b.mismatch_id);

function header(view: RunView): string {
  const by = view.created_by ? ` by <code>${escapeHtml(view.created_by)}</code>` : '';
  const lines = [
    `Run <code${testId('run-id')}>${escapeHtml(view.run_id)}</code>, started (${escapeHtml(view.trigger)})${by} at ${escapeHtml(view.created_at)}${
      view.completed_at ? `, completed at ${escapeHtml(view.completed_at)}` : ''
    }.`,
  ];
  if (view.archive_key) lines.push(`Settlement file archived as <code>${escapeHtml(view.archive_key)}</code>.`);
  else if (view.file_key) lines.push(`Settlement file <code>${escapeHtml(view.file_key)}</code>.`);
  let banner = '';
  if (view.status === 'FAILED') {
    banner = `<div class="banner banner-bad" role="alert"><strong>The run failed.</strong> ${escapeHtml(
      view.error ?? 'no reason was recorded',
    )} The numbers below are what it had reached; start a new run of the date once the cause is fixed.</div>`;
  } else if (view.status === 'RUNNING') {
    const waiting = view.shards_total === 0 ? "the PSP's settlement file is being fetched; " : '';
    banner = `<div class="banner banner-info">Still running: ${waiting}<span${testId('shards-done')}>${escapeHtml(
      view.shards_done,
    )}</span> of <span${testId('shards-total')}>${escapeHtml(
      view.shards_total,
    )}</span> parts of the file matched. The numbers below are not final.</div>`;
  }
  return `<header><h1>Reconciliation of <span${testId('date')}>${escapeHtml(view.date)}</span> <span class="status status-${escapeHtml(
    view.status,
  )}"${testId('status')}>${escapeHtml(view.status)}</span></h1><p class="meta">${lines.join(' ')}</p>${banner}</header>`;
}

function summary(view: RunView, openCount: number): string {
  const m = view.mismatches;
  const kpis = [
    kpi('Rows in the file', view.rows, 'rows'),
    kpi('Matched', view.matched, 'matched'),
    kpi(
      'PSP fees booked',
      view.fees_booked,
      'fees-booked',
      `<span${testId('fees-booked-new')}>${escapeHtml(view.fees_booked_new)}</span> new in this run`,
    ),
    ...MISMATCH_CLASSES.map((c) => kpi(CLASS_LABELS[c].title, m[c], `count-${c}`)),
  ].join('');
  const needs =
    openCount > 0
      ? `<div class="banner banner-warn"><strong>${escapeHtml(openCount)}</strong> item${
          openCount === 1 ? '' : 's'
        } of this run ${openCount === 1 ? 'is' : 'are'} open: see <a href="#open">Open items</a>.</div>`
      : view.status === 'COMPLETED'
        ? '<div class="banner banner-ok">Nothing of this run is waiting for a person.</div>'
        : '';
  return `<section id="summary"><h2>Summary</h2><dl class="kpis">${kpis}</dl>${needs}</section>`;
}

function counts(view: RunView): string {
  const classRows = MISMATCH_CLASSES.map(
    (c) =>
      `<tr><td>${escapeHtml(CLASS_LABELS[c].title)}</td><td>${escapeHtml(
        CLASS_LABELS[c].meaning,
      )}</td><td class="num">${escapeHtml(view.mismatches[c])}</td></tr>`,
  );
  const types = Object.entries(view.by_type) as Array<[MismatchType, number]>;
  const typeTable =
    types.length > 0
      ? table(
          ['Type', 'What it means', ['Count', 'num']],
          types.map(
            ([type, n]) =>
              `<tr><td><code class="type">${escapeHtml(type)}</code></td><td>${escapeHtml(
                TYPE_LABELS[type] ?? '',
              )}</td><td class="num"><span${testId(`type-${type}`)}>${escapeHtml(n)}</span></td></tr>`,
          ),
        )
      : '<p class="empty">No mismatches.</p>';
  return `<section id="counts"><h2>Mismatches by class</h2>${table(
    ['Class', 'Meaning', ['Count', 'num']],
    classRows,
  )}<h3>By type</h3>${typeTable}</section>`;
}

function totals(view: RunView): string {
  const currencies = Object.keys(view.totals);
  const body =
    currencies.length > 0
      ? table(
          ['Currency', ['Rows', 'num'], ...TOTAL_COLUMNS.map(([, label]) => [label, 'num'] as [string, 'num'])],
          currencies.map((cur) => {
            const t = view.totals[cur];
            if (!t) return '';
            const cells = TOTAL_COLUMNS.map(
              ([field]) => `<td class="num">${money(t[field], cur, `total-${field}-${cur}`)}</td>`,
            ).join('');
            return `<tr><td><strong>${escapeHtml(cur)}</strong></td><td class="num"><span${testId(
              `total-rows-${cur}`,
            )}>${escapeHtml(t.rows)}</span></td>${cells}</tr>`;
          }),
        )
      : '<p class="empty">No rows in the file (yet).</p>';
  return `<section id="totals"><h2>Totals per currency</h2><p class="meta">From the PSP's file, in each currency's units: money into the PSP balance is positive, money out negative. Matched and unmatched are net amounts (after the PSP's fees).</p>${body}</section>`;
}

function internalChecks(view: RunView): string {
  const internal = view.internal;
  if (!internal) {
    return '<section id="internal"><h2>Internal reconciliation</h2><p class="empty">Not done yet: the checks run when the run completes.</p></section>';
  }
  const checked = `<dl class="kpis">${[
    kpi('Wallets checked', internal.wallets_checked, 'wallets-checked'),
    kpi('Ledger transactions checked', internal.transactions_checked, 'transactions-checked'),
    kpi('Orders checked', internal.orders_checked, 'orders-checked'),
  ].join('')}</dl>`;
  const currencies = Object.keys(internal.clearing);
  const clearing =
    currencies.length > 0
      ? table(
          ['Currency', ...CLEARING_COLUMNS.map(([, label]) => [label, 'num'] as [string, 'num'])],
          currencies.map((cur) => {
            const c = internal.clearing[cur];
            if (!c) return '';
            return `<tr><td><strong>${escapeHtml(cur)}</strong></td>${CLEARING_COLUMNS.map(
              ([field]) =>
                `<td class="num${field === 'unexplained' && !isZero(c[field]) ? ' nonzero' : ''}">${money(
                  c[field],
                  cur,
                  `clearing-${field}-${cur}`,
                )}</td>`,
            ).join('')}</tr>`;
          }),
        )
      : '<p class="empty">No movement of the PSP clearing account on this day.</p>';
  return `<section id="internal"><h2>Internal reconciliation</h2><p class="meta">Every seller wallet against its payable account in the ledger, every ledger transaction of the day for balance, every matched payment's orders for their wallet credit and booking; and the PSP clearing account against the file: the drift is the file's net minus our ledger's movement, the part the mismatches above explain, and what is left unexplained.</p>${checked}<h3>PSP clearing account</h3>${clearing}</section>`;
}

function fixedSection(fixed: MismatchView[]): string {
  const body =
    fixed.length > 0
      ? table(
          ['Type', 'About', 'What', 'How it was fixed', 'Amount (PSP)', 'Records'],
          fixed.map((m) =>
            mismatchRow(m, [
              typeCell(m),
              subject(m),
              `<div class="detail">${escapeHtml(m.detail)}</div>`,
              escapeHtml(m.fix_result ?? m.fix?.kind ?? ''),
              money(m.psp_amount, m.currency, `psp-amount-${m.mismatch_id}`),
              recordLinks(m),
            ]),
          ),
        )
      : '<p class="empty">Nothing was fixed automatically.</p>';
  return `<section id="fixed"><h2>Fixed automatically</h2>${body}</section>`;
}

function openSection(open: MismatchView[], carried: MismatchView[]): string {
  const openTable =
    open.length > 0
      ? table(
          ['Type', 'About', 'What', 'PSP', 'Ours', 'Records', 'Mismatch'],
          open.map((m) =>
            mismatchRow(m, [
              typeCell(m),
              subject(m),
              `<div class="detail">${escapeHtml(m.detail)}${
                m.fix_result ? `<br><span class="ccy">automatic fix: ${escapeHtml(m.fix_result)}</span>` : ''
              }</div>`,
              ...amountsCells(m),
              recordLinks(m),
              `<code>${escapeHtml(m.mismatch_id)}</code><br><span class="ccy">since ${escapeHtml(m.created_at)}</span>`,
            ]),
          ),
        )
      : '<p class="empty">No open items.</p>';
  const carriedTable =
    carried.length > 0
      ? table(
          ['About', 'What', 'Ours', 'Records', 'Mismatch'],
          carried.map((m) =>
            mismatchRow(m, [
              subject(m),
              `<div class="detail">${escapeHtml(m.detail)}</div>`,
              money(m.our_amount, m.our_currency ?? m.currency, `our-amount-${m.mismatch_id}`),
              recordLinks(m),
              `<code>${escapeHtml(m.mismatch_id)}</code>`,
            ]),
          ),
        )
      : '<p class="empty">None.</p>';
  return `<section id="open"><h2>Open items</h2><p class="meta">Resolve each with <code>POST /v1/reconciliation/mismatches/{mismatch_id}/resolve</code>; the open lists are <code>GET /v1/reconciliation/mismatches?class=manual&amp;status=open</code> and <code>?class=unclassifiable&amp;status=open</code>.</p>${openTable}<h3>Timing differences carried to the next files</h3><p class="meta">Ours is dated this day, the PSP's row is expected in a later file; still unmatched after 3 days, it becomes a manual item.</p>${carriedTable}</section>`;
}

function resolvedSection(resolved: MismatchView[]): string {
  const body =
    resolved.length > 0
      ? table(
          ['Type', 'About', 'What', 'Resolution', 'Note', 'By', 'At'],
          resolved.map((m) =>
            mismatchRow(m, [
              typeCell(m),
              subject(m),
              `<div class="detail">${escapeHtml(m.detail)}</div>`,
              escapeHtml(m.resolution?.resolution ?? ''),
              escapeHtml(m.resolution?.note ?? ''),
              `<code>${escapeHtml(m.resolution?.by ?? '')}</code>`,
              escapeHtml(m.resolution?.at ?? ''),
            ]),
          ),
        )
      : '<p class="empty">Nothing resolved yet.</p>';
  return `<section id="resolved"><h2>Resolved</h2>${body}</section>`;
}

/** The report page of a run and the mismatches it saw (`mismatchesOfRun`). */
export function renderReport(run: ReconciliationRun, mismatches: StoredMismatch[]): string {
  const view = runView(run);
  const views = mismatches.map(mismatchView).sort(byId);
  const fixed = views.filter((m) => m.status === 'fixed');
  const open = views.filter((m) => m.status === 'open');
  const carried = views.filter((m) => m.status === 'carried');
  const resolved = views.filter((m) => m.status === 'resolved');
  const title = `Reconciliation of ${view.date} — ${view.status}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${header(view)}
${summary(view, open.length)}
${counts(view)}
${totals(view)}
${internalChecks(view)}
${fixedSection(fixed)}
${openSection(open, carried)}
${resolvedSection(resolved)}
<footer>Reconciliation run ${escapeHtml(view.run_id)} · last updated ${escapeHtml(view.updated_at)} · the same numbers as <code>GET ${escapeHtml(runUrlOf(view.run_id))}</code></footer>
</main>
</body>
</html>
`;
}
