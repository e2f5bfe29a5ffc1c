// The PSP-hosted payment page and the 3-D Secure challenge pages: plain HTML for the buyer's
// browser (no API key).
//
//   GET  /pay/:session_id        the card form (inputs cardnumber, exp (MM/YY), cvc; button #pay)
//   POST /pay/:session_id        pays (the first attempt creates the session's PaymentIntent, as Stripe's
//                                Checkout does): success -> 303 to success_url (?session_id=...&status=succeeded);
//                                decline or a bad number -> the form again with the error (402);
//                                3-D Secure card -> 303 to /pay/:session_id/3ds
//   GET  /pay/:session_id/3ds    the challenge: buttons #approve and #fail (name=action)
//   POST /pay/:session_id/3ds    approve -> as a success above; fail -> 303 to cancel_url (status=failed)
//   GET  /3ds/:payment_intent    the challenge of an intent confirmed through the API (next_action)
//   POST /3ds/:payment_intent    -> 303 to its return_url (?payment_intent=...&redirect_status=...) or a done page
//
// The Connect onboarding page (onboarding-page.ts) uses the same page helpers.
//
// Card data never leaves this module: the number is looked up to a test token and dropped. Only the
// minted PaymentMethod (brand, last4) is kept; the number is never logged, stored, echoed back in the
// page, put in a redirect, an event or an API response.

import type Stripe from 'stripe';
import type { CheckoutSessionService } from './checkout-sessions';
import { formatAmount } from './currencies';
import { StripeApiError } from './errors';
import { AUTOMATIC } from './events';
import type { AuthenticationOutcome, PaymentIntentService } from './payment-intents';
import { type PaymentMethodStore, tokenForCardNumber } from './payment-methods';

export interface HostedContext {
  sessions: CheckoutSessionService;
  intents: PaymentIntentService;
  methods: PaymentMethodStore;
  now: () => number;
}

export interface HtmlResponse {
  status: number;
  body: string;
  headers: Record<string, string>;
}

/** True for the paths this module serves. */
export function isHostedPath(path: string): boolean {
  return /^\/pay\/[^/]+(\/3ds)?$/.test(path) || /^\/3ds\/[^/]+$/.test(path);
}

export function hostedPage(ctx: HostedContext, method: string, path: string, body: string): HtmlResponse {
  if (method !== 'GET' && method !== 'POST') {
    return {
      ...page(405, 'Method not allowed', '<p>Use GET or POST.</p>'),
      headers: { ...HEADERS, Allow: 'GET, POST' },
    };
  }
  const form = method === 'POST' ? new URLSearchParams(body) : new URLSearchParams();
  const pay = /^\/pay\/([^/]+)(\/3ds)?$/.exec(path);
  if (pay) {
    const session = ctx.sessions.find(decode(pay[1] ?? ''));
    if (!session) return page(404, 'Not found', '<p id="status">This payment page does not exist.</p>');
    if (pay[2]) return method === 'GET' ? sessionChallenge(ctx, session) : sessionAuthenticate(ctx, session, form);
    return method === 'GET' ? checkoutForm(ctx, session) : checkoutPay(ctx, session, form);
  }
  const challenge = /^\/3ds\/([^/]+)$/.exec(path);
  const intentId = decode(challenge?.[1] ?? '');
  if (!ctx.intents.has(intentId)) return page(404, 'Not found', '<p id="status">No such payment.</p>');
  const intent = ctx.intents.get(intentId);
  if (method === 'GET') {
    if (intent.status !== 'requires_action') return intentDone(intent);
    return challengePage(intent, `/3ds/${encodeURIComponent(intent.id)}`, ctx);
  }
  const outcome = readOutcome(form);
  if (!outcome) return page(400, 'Bad request', '<p id="error">Choose approve or fail.</p>');
  if (intent.status !== 'requires_action') return intentDone(intent);
  // Read before authenticating: the outcome clears next_action.
  const returnUrl = intent.next_action?.redirect_to_url?.return_url;
  ctx.intents.authenticate(intent.id, outcome, AUTOMATIC);
  const sessionId = ctx.sessions.sessionIdForIntent(intent.id);
  const session = sessionId ? ctx.sessions.find(sessionId) : undefined;
  if (session) return afterSessionAttempt(ctx, session, intent);
  if (returnUrl) {
    return redirect(
      withParams(returnUrl, {
        payment_intent: intent.id,
        payment_intent_client_secret: intent.client_secret ?? '',
        redirect_status: redirectStatus(intent),
      }),
    );
  }
  return intentDone(intent);
}

/** Stripe's `redirect_status` on the return_url: authenticated (charged, or to confirm again) or not. */
function redirectStatus(intent: Stripe.PaymentIntent): string {
  if (intent.status === 'processing') return 'processing';
  return intent.status === 'requires_payment_method' || intent.status === 'canceled' ? 'failed' : 'succeeded';
}

function checkoutForm(ctx: HostedContext, session: Stripe.Checkout.Session, error?: CardError): HtmlResponse {
  const closed = closedSession(session);
  if (closed) return closed;
  if (ctx.sessions.intentOf(session.id)?.status === 'processing') return processingPage(session);
  const lastError = error ?? undefined;
  const amount = formatAmount(session.amount_total ?? 0, session.currency ?? 'usd');
  const items = ctx.sessions
    .lineItems(session.id)
    .map((item) => `<li>${escapeHtml(item.name)} × ${item.quantity}</li>`)
    .join('');
  const errorHtml = lastError
    ? `<p id="error" role="alert" data-code="${escapeHtml(lastError.code)}">${escapeHtml(lastError.message)}</p>`
    : '';
  const cancel = session.cancel_url
    ? `<p><a id="cancel" href="${escapeHtml(withParams(session.cancel_url, { session_id: session.id }, session.id))}">Cancel and return</a></p>`
    : '';
  return page(
    lastError ? 402 : 200,
    `Pay ${amount}`,
    `<h1>Pay <span id="amount" data-amount="${session.amount_total}" data-currency="${escapeHtml(session.currency ?? '')}">${escapeHtml(amount)}</span></h1>
<p id="currency">${escapeHtml((session.currency ?? '').toUpperCase())}</p>
<ul id="items">${items}</ul>
${errorHtml}
<form id="payment-form" method="post" action="/pay/${encodeURIComponent(session.id)}" autocomplete="on">
  <label>Card number <input id="cardnumber" name="cardnumber" inputmode="numeric" autocomplete="cc-number" placeholder="1234 1234 1234 1234" required></label>
  <label>Expiry (MM/YY) <input id="exp" name="exp" autocomplete="cc-exp" placeholder="MM/YY" required></label>
  <label>CVC <input id="cvc" name="cvc" inputmode="numeric" autocomplete="cc-csc" placeholder="123" required></label>
  <button type="submit" id="pay">Pay ${escapeHtml(amount)}</button>
</form>
${cancel}`,
  );
}

interface CardError {
  code: string;
  message: string;
}

function checkoutPay(ctx: HostedContext, session: Stripe.Checkout.Session, form: URLSearchParams): HtmlResponse {
  const closed = closedSession(session);
  if (closed) return closed;
  if (ctx.sessions.intentOf(session.id)?.status === 'processing') return processingPage(session);
  // A card refused before submission (number, expiry, CVC) is no attempt: no PaymentIntent yet.
  const token = readCard(form, ctx.now());
  if ('code' in token) return checkoutForm(ctx, session, token);
  const paymentMethod = ctx.methods.resolve(token.token);
  const intent = ctx.sessions.intentForAttempt(session.id, AUTOMATIC);
  try {
    ctx.intents.confirm(intent.id, { paymentMethod, hostedChallenge: true }, AUTOMATIC);
  } catch (error) {
    if (error instanceof StripeApiError) {
      return checkoutForm(ctx, session, { code: error.body.code ?? 'card_declined', message: error.body.message });
    }
    throw error;
  }
  if (intent.status === 'requires_action') return redirect(`/pay/${encodeURIComponent(session.id)}/3ds`);
  return afterSessionAttempt(ctx, session, intent);
}

function sessionChallenge(ctx: HostedContext, session: Stripe.Checkout.Session): HtmlResponse {
  const intent = ctx.sessions.intentOf(session.id);
  if (session.status === 'open' && intent?.status === 'requires_action') {
    return challengePage(intent, `/pay/${encodeURIComponent(session.id)}/3ds`, ctx);
  }
  return redirect(`/pay/${encodeURIComponent(session.id)}`);
}

function sessionAuthenticate(
  ctx: HostedContext,
  session: Stripe.Checkout.Session,
  form: URLSearchParams,
): HtmlResponse {
  const outcome = readOutcome(form);
  if (!outcome) return page(400, 'Bad request', '<p id="error">Choose approve or fail.</p>');
  const intent = ctx.sessions.intentOf(session.id);
  if (session.status !== 'open' || intent?.status !== 'requires_action') {
    return redirect(`/pay/${encodeURIComponent(session.id)}`);
  }
  ctx.intents.authenticate(intent.id, outcome, AUTOMATIC);
  return afterSessionAttempt(ctx, session, intent);
}

/** Where the buyer goes once an attempt on a session's intent has an outcome. */
function afterSessionAttempt(
  ctx: HostedContext,
  session: Stripe.Checkout.Session,
  intent: Stripe.PaymentIntent,
): HtmlResponse {
  if (intent.status === 'succeeded' || intent.status === 'requires_capture') {
    if (session.success_url) {
      return redirect(withParams(session.success_url, { session_id: session.id, status: 'succeeded' }, session.id));
    }
    return page(200, 'Payment complete', '<h1 id="status" data-status="succeeded">Payment complete</h1>');
  }
  if (intent.status === 'processing') return processingPage(session);
  const error = intent.last_payment_error;
  if (error?.code === 'payment_intent_authentication_failure') {
    if (session.cancel_url) {
      return redirect(withParams(session.cancel_url, { session_id: session.id, status: 'failed' }, session.id));
    }
    return checkoutForm(ctx, session, { code: error.code, message: error.message ?? 'Authentication failed.' });
  }
  // Declined (after authentication, too): the buyer may try another card.
  return checkoutForm(ctx, session, {
    code: error?.code ?? 'card_declined',
    message: error?.message ?? 'Your card was declined.',
  });
}

function challengePage(intent: Stripe.PaymentIntent, action: string, ctx: HostedContext): HtmlResponse {
  const method = typeof intent.payment_method === 'string' ? ctx.methods.get(intent.payment_method) : undefined;
  const card = method?.object.card;
  const cardText = card ? `${escapeHtml(card.brand)} •••• ${escapeHtml(card.last4)}` : 'your card';
  const amount = formatAmount(intent.amount, intent.currency);
  return page(
    200,
    '3-D Secure authentication',
    `<h1>3-D Secure authentication</h1>
<p id="summary">Authenticate a payment of ${escapeHtml(amount)} with ${cardText}.</p>
<form id="challenge" method="post" action="${escapeHtml(action)}">
  <button type="submit" id="approve" name="action" value="approve">Complete authentication</button>
  <button type="submit" id="fail" name="action" value="fail">Fail authentication</button>
</form>`,
  );
}

function intentDone(intent: Stripe.PaymentIntent): HtmlResponse {
  const status = escapeHtml(intent.status);
  return page(200, 'Payment status', `<h1 id="status" data-status="${status}">Payment status: ${status}</h1>`);
}

function processingPage(session: Stripe.Checkout.Session): HtmlResponse {
  return page(
    200,
    'Payment processing',
    `<h1 id="status" data-status="processing">Your payment is processing</h1><p>Session ${escapeHtml(session.id)}.</p>`,
  );
}

function closedSession(session: Stripe.Checkout.Session): HtmlResponse | undefined {
  if (session.status === 'complete') {
    return page(200, 'Already paid', '<h1 id="status" data-status="complete">This payment is already complete.</h1>');
  }
  if (session.status === 'expired') {
    return page(410, 'Expired', '<h1 id="status" data-status="expired">This payment page has expired.</h1>');
  }
  return undefined;
}

function readOutcome(form: URLSearchParams): AuthenticationOutcome | undefined {
  const action = form.get('action');
  return action === 'approve' || action === 'fail' ? action : undefined;
}

/** Validates the card fields; returns the test token the number behaves as, or the error to show. */
function readCard(form: URLSearchParams, nowMs: number): { token: string } | CardError {
  const digits = (form.get('cardnumber') ?? '').replace(/[\s-]/g, '');
  const token = /^\d{12,19}$/.test(digits) ? tokenForCardNumber(digits) : undefined;
  if (!token) return { code: 'incorrect_number', message: 'Your card number is incorrect.' };
  const expiry = /^\s*(\d{1,2})\s*\/\s*(\d{2}|\d{4})\s*$/.exec(form.get('exp') ?? '');
  const month = Number(expiry?.[1]);
  if (!expiry || month < 1 || month > 12) {
    return { code: 'invalid_expiry_month', message: "Your card's expiration date is incomplete or invalid." };
  }
  const rawYear = expiry[2] ?? '';
  const year = rawYear.length === 2 ? 2000 + Number(rawYear) : Number(rawYear);
  const now = new Date(nowMs);
  if (year < now.getUTCFullYear() || (year === now.getUTCFullYear() && month < now.getUTCMonth() + 1)) {
    return { code: 'invalid_expiry_year', message: "Your card's expiration date is in the past." };
  }
  if (!/^\d{3,4}$/.test((form.get('cvc') ?? '').trim())) {
    return { code: 'incomplete_cvc', message: "Your card's security code is incomplete." };
  }
  return { token };
}

/**
 * A success/cancel/return URL with `{CHECKOUT_SESSION_ID}` substituted and parameters set (an existing
 * `session_id` is kept; `status` and the others replace any value already there).
 */
export function withParams(template: string, params: Record<string, string>, sessionId?: string): string {
  const url = new URL(sessionId ? template.replaceAll('{CHECKOUT_SESSION_ID}', sessionId) : template);
  for (const [name, value] of Object.entries(params)) {
    if (name === 'session_id' && url.searchParams.has(name)) continue;
    url.searchParams.set(name, value);
  }
  return url.toString();
}

const HEADERS: Record<string, string> = {
  'Content-Type': 'text/html; charset=utf-8',
  'Cache-Control': 'no-store',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
};

export function page(status: number, title: string, content: string): HtmlResponse {
  const body = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · PSP simulator</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem}label{display:block;margin:.75rem 0}input{display:block;width:100%;padding:.4rem;font-size:1rem}button{margin:.5rem .5rem 0 0;padding:.5rem 1rem;font-size:1rem}#error{color:#b00020}</style>
</head>
<body>
${content}
</body>
</html>
`;
  return { status, body, headers: { ...HEADERS } };
}

export function redirect(location: string): HtmlResponse {
  return {
    status: 303,
    body: `<!doctype html><p>Redirecting to <a href="${escapeHtml(location)}">${escapeHtml(location)}</a>.</p>`,
    headers: { ...HEADERS, Location: location },
  };
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return '';
  }
}
