// The contract between the HTTP layer (server.ts) and the resource modules: a route validates its
// request in `prepare` and returns the side-effecting step. Errors thrown by `prepare` are never
// stored under an idempotency key; whatever `execute` returns or throws is (as on Stripe, which
// saves a result only once an endpoint has started executing).

import type { FormObject } from './form';

export type HttpMethod = 'GET' | 'POST' | 'DELETE';

export interface ApiRequest {
  method: HttpMethod;
  path: string;
  pathParams: Record<string, string>;
  params: FormObject;
  requestId: string;
  idempotencyKey?: string;
  /** The connected account the request acts for (`Stripe-Account` header, known to exist); absent: the platform. */
  account?: string;
}

export interface ApiResponse {
  status: number;
  /** Sent as JSON, unless `contentType` is set: then it is the body as is (a string). */
  body: unknown;
  /** A body that is not JSON (a file's contents, GET /v1/files/:id/contents). */
  contentType?: string;
}

export type Execute = () => ApiResponse | Promise<ApiResponse>;

export interface Route {
  method: HttpMethod;
  /** Path template, e.g. `/v1/payment_intents/:id/confirm`. */
  path: string;
  /** Whether the route takes the `Stripe-Account` header (Connect); other routes refuse it. */
  stripeAccount?: boolean;
  prepare(request: ApiRequest): Execute;
}

export function ok(body: unknown): ApiResponse {
  return { status: 200, body };
}

export function matchRoute(
  routes: readonly Route[],
  method: string,
  path: string,
): { route: Route; pathParams: Record<string, string> } | undefined {
  const segments = path.split('/');
  for (const route of routes) {
    if (route.method !== method) continue;
    const pathParams = matchTemplate(route.path.split('/'), segments);
    if (pathParams) return { route, pathParams };
  }
  return undefined;
}

function matchTemplate(template: string[], segments: string[]): Record<string, string> | undefined {
  if (template.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < template.length; i++) {
    const expected = template[i] ?? '';
    const actual = segments[i] ?? '';
    if (expected.startsWith(':')) {
      if (actual === '') return undefined;
      const decoded = safeDecode(actual);
      if (decoded === undefined) return undefined;
      params[expected.slice(1)] = decoded;
    } else if (expected !== actual) {
      return undefined;
    }
  }
  return params;
}

function safeDecode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}
