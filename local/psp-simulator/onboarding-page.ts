// The hosted Connect onboarding page an Account Link's `url` points to: plain HTML for the seller's browser (no API
// key), under the simulator's publicUrl.
//
//   GET  /connect/onboarding/:token   the form: inputs account_holder_name, account_number (a test IBAN or US account
//                                     number, listed on the page in #test-numbers), routing_number (US); button
//                                     #submit. Opening the link uses it: a second GET is refused.
//   POST /connect/onboarding/:token   completes onboarding (details submitted, charges and payouts enabled,
//                                     capabilities active, requirements cleared, the bank account attached:
//                                     account.updated) and answers 303 to the link's return_url; a number that is not
//                                     a test number shows the form again (400) and the link stays usable
//   an unknown (404), expired or already used (410) link shows an error page (#status data-status="missing" |
//   "expired" | "used") with a link to the Account Link's refresh_url (#refresh); Stripe itself redirects there.
//
// Bank details never leave this module: the number is looked up to a test number (bank-accounts.ts) and dropped;
// only its last 4 digits are kept. It is never logged, stored, echoed back in the page, put in a redirect or an event.

import type { AccountService, LinkProblem } from './accounts';
import { lookupTestBankNumber, TEST_BANK_NUMBERS } from './bank-accounts';
import { AUTOMATIC } from './events';
import { escapeHtml, type HtmlResponse, page, redirect } from './hosted-page';

export interface OnboardingContext {
  accounts: AccountService;
}

const PATH = /^\/connect\/onboarding\/([^/]+)$/;

export function isOnboardingPath(path: string): boolean {
  return PATH.test(path);
}

export function onboardingPage(ctx: OnboardingContext, method: string, path: string, body: string): HtmlResponse {
  if (method !== 'GET' && method !== 'POST') {
    const response = page(405, 'Method not allowed', '<p>Use GET or POST.</p>');
    return { ...response, headers: { ...response.headers, Allow: 'GET, POST' } };
  }
  const token = decode(PATH.exec(path)?.[1] ?? '');
  const found = ctx.accounts.usableLink(token, method === 'POST');
  if ('problem' in found) return linkError(found.problem, found.link?.refreshUrl ?? null);
  const { link } = found;
  if (method === 'GET') {
    ctx.accounts.markVisited(token);
    return form(ctx, token, link.account);
  }
  const fields = new URLSearchParams(body);
  const test = lookupTestBankNumber(fields.get('account_number') ?? '', fields.get('routing_number'));
  if (!test) {
    return form(ctx, token, link.account, 'This is not one of the test bank account numbers listed below.');
  }
  const holder = (fields.get('account_holder_name') ?? '').trim();
  ctx.accounts.onboard(
    link.account,
    { test, accountHolderName: holder === '' ? null : holder, accountHolderType: 'individual' },
    AUTOMATIC,
  );
  ctx.accounts.markCompleted(token);
  if (link.returnUrl) return redirect(link.returnUrl);
  return page(200, 'Onboarding complete', '<h1 id="status" data-status="complete">Your account is set up.</h1>');
}

function form(ctx: OnboardingContext, token: string, account: string, error?: string): HtmlResponse {
  const rows = TEST_BANK_NUMBERS.map((test) => {
    const outcome = test.failureCode ?? 'succeeds';
    const label = test.failureCode ? `Payouts fail: ${test.failureCode}` : 'Payouts succeed';
    const routing = test.routingNumber ? ` (routing ${test.routingNumber})` : '';
    return `<tr data-number="${escapeHtml(test.number)}" data-country="${test.country}" data-outcome="${outcome}"><td><code>${escapeHtml(test.number)}</code>${routing}</td><td>${escapeHtml(label)}</td></tr>`;
  }).join('\n');
  const errorHtml = error ? `<p id="error" role="alert">${escapeHtml(error)}</p>` : '';
  return page(
    error ? 400 : 200,
    'Set up payouts',
    `<h1>Set up payouts</h1>
<p id="account" data-account="${escapeHtml(account)}">For ${escapeHtml(ctx.accounts.displayName(account))}</p>
${errorHtml}
<form id="onboarding-form" method="post" action="/connect/onboarding/${encodeURIComponent(token)}" autocomplete="off">
  <label>Account holder name <input id="account_holder_name" name="account_holder_name" autocomplete="name"></label>
  <label>IBAN or account number <input id="account_number" name="account_number" required></label>
  <label>Routing number (US accounts) <input id="routing_number" name="routing_number" inputmode="numeric"></label>
  <button type="submit" id="submit">Save and continue</button>
</form>
<h2>Test bank accounts</h2>
<table id="test-numbers">
${rows}
</table>`,
  );
}

function linkError(problem: LinkProblem, refreshUrl: string | null): HtmlResponse {
  const messages: Record<LinkProblem, string> = {
    missing: 'This onboarding link does not exist.',
    expired: 'This onboarding link has expired.',
    used: 'This onboarding link has already been used.',
  };
  const refresh = refreshUrl ? `<p><a id="refresh" href="${escapeHtml(refreshUrl)}">Get a new link</a></p>` : '';
  return page(
    problem === 'missing' ? 404 : 410,
    'Link unavailable',
    `<h1 id="status" data-status="${problem}">${escapeHtml(messages[problem])}</h1>\n${refresh}`,
  );
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return '';
  }
}
