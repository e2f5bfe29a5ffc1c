/**
 * The reconciliation report page (src/reconciliation/report.ts) and the JSON views it shares with the API
 * (src/reconciliation/views.ts): every number on the page is the JSON view's, every dynamic value is escaped, the
 * page is self-contained, an empty run renders.
 */
import type { ReconciliationRun, StoredMismatch } from '../../src/reconciliation/domain/run';
import { escapeHtml, renderReport } from '../../src/reconciliation/report';
import { mismatchView, runView } from '../../src/reconciliation/views';

const AT = '2026-11-22T03:10:00.000Z';

function sampleRun(overrides: Partial<ReconciliationRun> = {}): ReconciliationRun {
  return {
    run_id: 'rec_20261121_abc123def456',
    date: '2026-11-21',
    status: 'COMPLETED',
    trigger: 'schedule',
    report_polls: 2,
    archive_key: 'runs/2026-11-21/rec_20261121_abc123def456/settlement.csv',
    rows: 12,
    shards_total: 16,
    shards_done: 16,
    matched: 7,
    fees_booked: 8,
    fees_booked_new: 3,
    mismatches: { auto_fixed: 3, manual: 3, unclassifiable: 1 },
    by_type: { duplicate_row: 1, timing: 1, missed_outcome: 1, amount_mismatch: 2, wallet_drift: 1, unknown_row: 1 },
    totals: {
      EUR: {
        rows: 10,
        gross_minor: 123_456,
        fee_minor: 3_890,
        net_minor: 119_566,
        matched_net_minor: 110_000,
        unmatched_net_minor: 9_566,
      },
      JPY: {
        rows: 2,
        gross_minor: 1500,
        fee_minor: 75,
        net_minor: 1425,
        matched_net_minor: 0,
        unmatched_net_minor: 1425,
      },
    },
    internal: {
      wallets_checked: 42,
      transactions_checked: 15,
      orders_checked: 7,
      clearing: {
        EUR: { file_net_minor: 119_566, ledger_minor: 110_010, drift_minor: 9_556, explained_minor: 9_566 },
        JPY: { file_net_minor: 1425, ledger_minor: 0, drift_minor: 1425, explained_minor: 1425 },
      },
    },
    created_by: 'key_ops',
    created_at: '2026-11-22T03:00:00.000Z',
    updated_at: AT,
    completed_at: AT,
    ...overrides,
  };
}

function mismatch(overrides: Partial<StoredMismatch> & Pick<StoredMismatch, 'mismatch_id' | 'type' | 'class'>) {
  return {
    date: '2026-11-21',
    run_id: 'rec_20261121_abc123def456',
    first_run_id: 'rec_20261121_abc123def456',
    status: 'open',
    detail: 'a difference',
    created_at: AT,
    updated_at: AT,
    ...overrides,
  } as StoredMismatch;
}

const MISMATCHES: StoredMismatch[] = [
  mismatch({
    mismatch_id: 'mm_20261121_duplicate_row_txn_dup',
    type: 'duplicate_row',
    class: 'auto_fixed',
    status: 'fixed',
    balance_transaction_id: 'txn_dup',
    line: 7,
    currency: 'EUR',
    psp_amount_minor: 1234,
    detail: 'balance transaction txn_dup appears more than once in the file (again on line 7); counted once',
    fix: { kind: 'count_once' },
    fix_result: 'counted once',
  }),
  mismatch({
    mismatch_id: 'mm_20261121_missed_outcome_txn_missed',
    type: 'missed_outcome',
    class: 'auto_fixed',
    status: 'fixed',
    balance_transaction_id: 'txn_missed',
    key: 'charge:pay_missed',
    payment_id: 'pay_missed',
    currency: 'EUR',
    psp_amount_minor: 5000,
    our_amount_minor: 0,
    detail: 'the PSP charged charge ch_1 for payment pay_missed, which we hold UNKNOWN',
    fix: { kind: 'settle_payment', payment_id: 'pay_missed' },
    fix_result: 'payment pay_missed settled SUCCESS',
  }),
  mismatch({
    mismatch_id: 'mm_20261121_timing_charge:pay_late',
    type: 'timing',
    class: 'auto_fixed',
    status: 'carried',
    key: 'charge:pay_late',
    payment_id: 'pay_late',
    currency: 'EUR',
    our_amount_minor: 2500,
    detail: 'our charge:pay_late is dated 2026-11-21; the PSP dates it 2026-11-22',
    fix: { kind: 'carry_forward' },
  }),
  mismatch({
    mismatch_id: 'mm_20261121_amount_mismatch_txn_amt',
    type: 'amount_mismatch',
    class: 'manual',
    balance_transaction_id: 'txn_amt',
    key: 'charge:pay_amt',
    payment_id: 'pay_amt',
    currency: 'EUR',
    psp_amount_minor: 1001,
    our_amount_minor: 1000,
    // A value from the PSP's file, shown on the page: escaped.
    detail: 'the PSP moved 1001 <script>alert("x")</script> & more',
  }),
  mismatch({
    mismatch_id: 'mm_20261121_amount_mismatch_txn_refund',
    type: 'amount_mismatch',
    class: 'manual',
    status: 'resolved',
    balance_transaction_id: 'txn_refund',
    refund_id: 're_1',
    payment_id: 'pay_r',
    currency: 'JPY',
    psp_amount_minor: -500,
    our_amount_minor: -400,
    detail: 'a refund moved -500',
    resolution: { resolution: 'written_off', note: 'agreed with the PSP <b>', by: 'key_finance', at: AT },
  }),
  mismatch({
    mismatch_id: 'mm_20261121_wallet_drift_seller_a:EUR',
    type: 'wallet_drift',
    class: 'manual',
    seller_account: 'seller_a',
    currency: 'EUR',
    our_amount_minor: 999,
    detail: 'the wallet of seller_a holds 999',
  }),
  mismatch({
    mismatch_id: 'mm_20261121_unknown_row_txn_unknown',
    type: 'unknown_row',
    class: 'unclassifiable',
    balance_transaction_id: 'txn_unknown',
    currency: 'EUR',
    psp_amount_minor: 777,
    detail: 'a charge ch_x linked to nothing of ours (\'"quoted"\')',
  }),
];

/** Every `data-testid` of the page and the text of its element (no element with a testid has child elements). */
function testIds(html: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const m of html.matchAll(/<(\w+)[^>]*\sdata-testid="([^"]+)"[^>]*>([^<]*)<\/\1>/g)) {
    const [, , id = '', text = ''] = m;
    expect(found.has(id)).toBe(false); // unique
    found.set(id, text);
  }
  return found;
}

/** What the page must show under each testid: the JSON view's values, as the API gives them. */
function expectedTestIds(run: ReconciliationRun, mismatches: StoredMismatch[]): Map<string, string> {
  const view = runView(run);
  const expected = new Map<string, string>([
    ['run-id', view.run_id],
    ['date', view.date],
    ['status', view.status],
    ['rows', String(view.rows)],
    ['matched', String(view.matched)],
    ['fees-booked', String(view.fees_booked)],
    ['fees-booked-new', String(view.fees_booked_new)],
  ]);
  for (const [c, n] of Object.entries(view.mismatches)) expected.set(`count-${c}`, String(n));
  for (const [t, n] of Object.entries(view.by_type)) expected.set(`type-${t}`, String(n));
  for (const [cur, t] of Object.entries(view.totals)) {
    for (const [field, value] of Object.entries(t)) expected.set(`total-${field}-${cur}`, String(value));
  }
  if (view.internal) {
    expected.set('wallets-checked', String(view.internal.wallets_checked));
    expected.set('transactions-checked', String(view.internal.transactions_checked));
    expected.set('orders-checked', String(view.internal.orders_checked));
    for (const [cur, c] of Object.entries(view.internal.clearing)) {
      for (const [field, value] of Object.entries(c)) expected.set(`clearing-${field}-${cur}`, value);
    }
  }
  if (view.status === 'RUNNING') {
    expected.set('shards-done', String(view.shards_done));
    expected.set('shards-total', String(view.shards_total));
  }
  for (const m of mismatches.map(mismatchView)) {
    const shown = m.status !== 'resolved';
    if (shown && m.psp_amount !== undefined && m.status !== 'carried')
      expected.set(`psp-amount-${m.mismatch_id}`, m.psp_amount);
    if (shown && m.our_amount !== undefined && m.status !== 'fixed')
      expected.set(`our-amount-${m.mismatch_id}`, m.our_amount);
  }
  return expected;
}

/** The page's elements nest properly (void elements aside). */
function expectBalanced(html: string) {
  const VOID = new Set(['meta', 'br', 'link', 'img', 'hr', 'input']);
  const stack: string[] = [];
  for (const m of html
    .replace(/<style>[\s\S]*?<\/style>/, '<style></style>')
    .matchAll(/<(\/?)([a-zA-Z][\w-]*)[^>]*>/g)) {
    const [, closing, tag = ''] = m;
    const name = tag.toLowerCase();
    if (VOID.has(name)) continue;
    if (closing) expect(stack.pop()).toBe(name);
    else stack.push(name);
  }
  expect(stack).toEqual([]);
}

describe('runView', () => {
  it('gives the counts, and every amount as a decimal string in its currency exponent', () => {
    const view = runView(sampleRun());
    expect(view).toMatchObject({
      run_id: 'rec_20261121_abc123def456',
      date: '2026-11-21',
      status: 'COMPLETED',
      rows: 12,
      matched: 7,
      fees_booked: 8,
      fees_booked_new: 3,
      mismatches: { auto_fixed: 3, manual: 3, unclassifiable: 1 },
      report_url: '/v1/reconciliation/runs/rec_20261121_abc123def456/report.html',
      shards_total: 16,
      shards_done: 16,
      trigger: 'schedule',
      error: null,
      completed_at: AT,
    });
    expect(view.totals).toEqual({
      EUR: { rows: 10, gross: '1234.56', fee: '38.90', net: '1195.66', matched: '1100.00', unmatched: '95.66' },
      JPY: { rows: 2, gross: '1500', fee: '75', net: '1425', matched: '0', unmatched: '1425' },
    });
    expect(view.internal?.clearing.EUR).toEqual({
      file_net: '1195.66',
      ledger: '1100.10',
      drift: '95.56',
      explained: '95.66',
      unexplained: '-0.10',
    });
    // The types found, in the order of MISMATCH_TYPES.
    expect(Object.keys(view.by_type)).toEqual([
      'duplicate_row',
      'timing',
      'missed_outcome',
      'amount_mismatch',
      'unknown_row',
      'wallet_drift',
    ]);
  });

  it('shows a run just started: zero counts, no totals, internal null', () => {
    const view = runView(
      sampleRun({
        status: 'RUNNING',
        rows: 0,
        matched: 0,
        fees_booked: 0,
        fees_booked_new: 0,
        mismatches: { auto_fixed: 0, manual: 0, unclassifiable: 0 },
        by_type: {},
        totals: {},
        internal: undefined,
        archive_key: undefined,
        completed_at: undefined,
      }),
    );
    expect(view).toMatchObject({ status: 'RUNNING', by_type: {}, totals: {}, internal: null, archive_key: null });
    expect(view.completed_at).toBeNull();
  });
});

describe('mismatchView', () => {
  it('signs amounts as decimal strings, names our records and links the payment', () => {
    const [, , , amount, refund, wallet] = MISMATCHES;
    expect(mismatchView(amount as StoredMismatch)).toMatchObject({
      mismatch_id: 'mm_20261121_amount_mismatch_txn_amt',
      type: 'amount_mismatch',
      class: 'manual',
      status: 'open',
      psp_amount: '10.01',
      our_amount: '10.00',
      currency: 'EUR',
      payment_id: 'pay_amt',
      links: { payment: '/v1/payments/pay_amt', run: '/v1/reconciliation/runs/rec_20261121_abc123def456' },
    });
    expect(mismatchView(refund as StoredMismatch)).toMatchObject({
      psp_amount: '-500',
      our_amount: '-400',
      resolution: { resolution: 'written_off', note: 'agreed with the PSP <b>', by: 'key_finance', at: AT },
      links: { payment: '/v1/payments/pay_r', refund: '/v1/refunds/re_1' },
    });
    const walletView = mismatchView(wallet as StoredMismatch);
    expect(walletView).toMatchObject({ seller_account: 'seller_a', our_amount: '9.99' });
    expect(walletView).not.toHaveProperty('psp_amount');
    expect(walletView.links).toEqual({ run: '/v1/reconciliation/runs/rec_20261121_abc123def456' });
  });

  it('gives our amount in our currency on a currency mismatch', () => {
    const view = mismatchView(
      mismatch({
        mismatch_id: 'mm_x',
        type: 'currency_mismatch',
        class: 'manual',
        currency: 'JPY',
        our_currency: 'EUR',
        psp_amount_minor: 1000,
        our_amount_minor: 1000,
      }),
    );
    expect(view).toMatchObject({ psp_amount: '1000', our_amount: '10.00', currency: 'JPY', our_currency: 'EUR' });
  });
});

describe('renderReport', () => {
  const run = sampleRun();
  const html = renderReport(run, MISMATCHES);

  it('has a title with the date and the status', () => {
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('<title>Reconciliation of 2026-11-21 — COMPLETED</title>');
  });

  it('shows every key number exactly as the JSON view gives it, under a stable data-testid', () => {
    const onPage = testIds(html);
    const expected = expectedTestIds(run, MISMATCHES);
    for (const [id, value] of expected) expect([id, onPage.get(id)]).toEqual([id, value]);
    // ...and nothing else carries a testid: every number tagged on the page is compared above.
    expect([...onPage.keys()].sort()).toEqual([...expected.keys()].sort());
    // The ones a browser test names.
    expect(onPage.get('total-gross-EUR')).toBe('1234.56');
    expect(onPage.get('total-gross-JPY')).toBe('1500');
    expect(onPage.get('count-manual')).toBe('3');
    expect(onPage.get('count-auto_fixed')).toBe('3');
    expect(onPage.get('count-unclassifiable')).toBe('1');
    expect(onPage.get('clearing-unexplained-EUR')).toBe('-0.10');
  });

  it('shows each amount with its currency code', () => {
    expect(html).toContain('<span data-testid="total-net-EUR">1195.66</span> <span class="ccy">EUR</span>');
    expect(html).toContain('<span data-testid="total-fee-JPY">75</span> <span class="ccy">JPY</span>');
  });

  it('escapes every dynamic value: a detail holding a script is text', () => {
    expect(html).not.toContain('<script');
    expect(html).toContain('the PSP moved 1001 &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; more');
    expect(html).toContain('agreed with the PSP &lt;b&gt;');
    expect(html).toContain('(&#39;&quot;quoted&quot;&#39;)');
    const evil = renderReport(
      sampleRun({ run_id: 'rec_"><img src=x onerror=alert(1)>', error: '<b>boom</b>', status: 'FAILED' }),
      [],
    );
    expect(evil).not.toMatch(/<img|<b>boom/);
    expect(evil).toContain('&lt;b&gt;boom&lt;/b&gt;');
    expectBalanced(evil);
  });

  it('is self-contained: inline style, no script, nothing loaded from elsewhere', () => {
    expect(html).toMatch(/<style>[\s\S]+<\/style>/);
    expect(html).not.toMatch(/<script|<link|<img|<iframe|\ssrc=|@import|url\(/i);
    expect(html).not.toMatch(/https?:\/\//);
    // Links are to the API's own paths only.
    for (const [, href] of html.matchAll(/href="([^"]*)"/g)) expect(href).toMatch(/^(#|\/v1\/)/);
    expectBalanced(html);
  });

  it('lists what was fixed automatically, and how', () => {
    const fixed = html.slice(html.indexOf('<section id="fixed">'), html.indexOf('<section id="open">'));
    expect(fixed).toContain('mm_20261121_duplicate_row_txn_dup');
    expect(fixed).toContain('counted once');
    expect(fixed).toContain('payment pay_missed settled SUCCESS');
    expect(fixed).toContain('<a href="/v1/payments/pay_missed">pay_missed</a>');
    expect(fixed).not.toContain('txn_amt');
  });

  it('lists the open items (manual, unclassifiable) with PSP and our amounts and the payment link, and the carried ones', () => {
    const open = html.slice(html.indexOf('<section id="open">'), html.indexOf('<section id="resolved">'));
    for (const id of [
      'mm_20261121_amount_mismatch_txn_amt',
      'mm_20261121_wallet_drift_seller_a:EUR',
      'mm_20261121_unknown_row_txn_unknown',
      'mm_20261121_timing_charge:pay_late',
    ]) {
      expect(open).toContain(`data-testid="mismatch-${id}"`);
    }
    expect(open).toContain('<a href="/v1/payments/pay_amt">pay_amt</a>');
    expect(open).toContain('<span data-testid="psp-amount-mm_20261121_amount_mismatch_txn_amt">10.01</span>');
    expect(open).toContain('<span data-testid="our-amount-mm_20261121_amount_mismatch_txn_amt">10.00</span>');
    expect(open).toContain('<a href="/v1/payments/pay_late">pay_late</a>');
    expect(open).not.toContain('txn_dup');
    // The summary says how many are open and where.
    expect(html).toContain('<strong>3</strong> items of this run are open');
  });

  it('lists the resolved items with who and when', () => {
    const resolved = html.slice(html.indexOf('<section id="resolved">'));
    expect(resolved).toContain('written_off');
    expect(resolved).toContain('<code>key_finance</code>');
    expect(resolved).toContain(AT);
  });

  it('renders an empty run (just started): zero counts, no totals, the checks to come', () => {
    const empty = sampleRun({
      status: 'RUNNING',
      rows: 0,
      shards_total: 0,
      shards_done: 0,
      matched: 0,
      fees_booked: 0,
      fees_booked_new: 0,
      mismatches: { auto_fixed: 0, manual: 0, unclassifiable: 0 },
      by_type: {},
      totals: {},
      internal: undefined,
      archive_key: undefined,
      completed_at: undefined,
    });
    const page = renderReport(empty, []);
    expect(page).toContain('<title>Reconciliation of 2026-11-21 — RUNNING</title>');
    expect(page).toContain('No rows in the file (yet).');
    expect(page).toContain('No mismatches.');
    expect(page).toContain('Not done yet');
    expect(page).toContain('Nothing was fixed automatically.');
    expect(page).toContain('No open items.');
    const onPage = testIds(page);
    const expected = expectedTestIds(empty, []);
    expect(Object.fromEntries(onPage)).toEqual(Object.fromEntries(expected));
    expect(onPage.get('count-manual')).toBe('0');
    expectBalanced(page);
  });

  it('says why a run failed', () => {
    const page = renderReport(sampleRun({ status: 'FAILED', error: 'settlement file line 3, column net: bad' }), []);
    expect(page).toContain('The run failed.');
    expect(page).toContain('settlement file line 3, column net: bad');
  });
});

describe('escapeHtml', () => {
  it('escapes the five characters that matter in text and attributes', () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe(
      '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;',
    );
    expect(escapeHtml(undefined)).toBe('');
    expect(escapeHtml(12)).toBe('12');
  });
});
