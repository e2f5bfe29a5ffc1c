// Records every raw HTTP exchange the stripe SDK makes: the client is built with the SDK's own fetch-based
// HTTP client around a fetch that keeps a copy of each response body before the SDK parses it.

import Stripe from 'stripe';
import type { ContractKind } from './contract-validator';

export interface RecordedExchange {
  method: string;
  path: string;
  status: number;
  /** The body exactly as received. */
  body: string;
}

export function recordingClient(
  target: { host: string; port: number },
  secretKey: string,
  log: RecordedExchange[],
): Stripe {
  const recordingFetch: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    const request = input instanceof Request ? input : undefined;
    const url = new URL(request ? request.url : String(input));
    log.push({
      method: (init?.method ?? request?.method ?? 'GET').toUpperCase(),
      path: url.pathname,
      status: response.status,
      body: await response.clone().text(),
    });
    return response;
  };
  return new Stripe(secretKey, {
    host: target.host,
    port: target.port,
    protocol: 'http',
    maxNetworkRetries: 0,
    httpClient: Stripe.createFetchHttpClient(recordingFetch),
  });
}

const ID = '[^/]+';

/** The routes the contract knows, with what a 2xx answer of each must be. */
const ROUTES: { method: string; pattern: RegExp; kind: ContractKind }[] = [
  { method: 'POST', pattern: /^\/v1\/payment_intents$/, kind: 'PaymentIntent' },
  { method: 'GET', pattern: /^\/v1\/payment_intents$/, kind: 'ApiList<PaymentIntent>' },
  { method: 'GET', pattern: /^\/v1\/payment_intents\/search$/, kind: 'SearchResult<PaymentIntent>' },
  { method: 'GET', pattern: new RegExp(`^/v1/payment_intents/${ID}$`), kind: 'PaymentIntent' },
  {
    method: 'POST',
    pattern: new RegExp(`^/v1/payment_intents/${ID}(/(confirm|capture|cancel))?$`),
    kind: 'PaymentIntent',
  },
  { method: 'POST', pattern: /^\/v1\/checkout\/sessions$/, kind: 'Checkout.Session' },
  { method: 'GET', pattern: /^\/v1\/checkout\/sessions$/, kind: 'ApiList<Checkout.Session>' },
  { method: 'GET', pattern: new RegExp(`^/v1/checkout/sessions/${ID}$`), kind: 'Checkout.Session' },
  { method: 'POST', pattern: new RegExp(`^/v1/checkout/sessions/${ID}/expire$`), kind: 'Checkout.Session' },
  { method: 'GET', pattern: /^\/v1\/events$/, kind: 'ApiList<Event>' },
  { method: 'GET', pattern: new RegExp(`^/v1/events/${ID}$`), kind: 'Event' },
  { method: 'GET', pattern: /^\/v1\/charges$/, kind: 'ApiList<Charge>' },
  { method: 'GET', pattern: new RegExp(`^/v1/charges/${ID}$`), kind: 'Charge' },
];

/** What the body of an exchange must be: every error status carries the error envelope. */
export function kindOf(exchange: RecordedExchange): ContractKind | undefined {
  if (exchange.status >= 400) return 'ErrorEnvelope';
  return ROUTES.find((route) => route.method === exchange.method && route.pattern.test(exchange.path))?.kind;
}

/** `GET /v1/payment_intents/pi_123` -> `GET /v1/payment_intents/:id` (for reports). */
export function routeName(exchange: Pick<RecordedExchange, 'method' | 'path'>): string {
  const path = exchange.path.replace(/\/(pi|cs|evt|ch|pm)_[A-Za-z0-9_]+/g, '/:id');
  return `${exchange.method} ${path}`;
}

/** True when the simulator answered that it has no such route (Stripe's 404 "Unrecognized request URL"). */
export function isUnrecognizedUrl(exchange: RecordedExchange): boolean {
  if (exchange.status !== 404) return false;
  try {
    const message = (JSON.parse(exchange.body) as { error?: { message?: unknown } }).error?.message;
    return typeof message === 'string' && message.startsWith('Unrecognized request URL');
  } catch {
    return false;
  }
}
