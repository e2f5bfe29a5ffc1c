// A PSP simulator speaking the subset of Stripe's v1 REST wire format we use, so the real `stripe`
// SDK talks to it unchanged:
//   new Stripe(secretKey, { host: '127.0.0.1', port, protocol: 'http', maxNetworkRetries: 0 })
// State is in memory. `GET /__admin/...` routes (no auth; loopback only) expose the ground truth.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Stripe from 'stripe';
import { type ApiRequest, type ApiResponse, type HttpMethod, matchRoute, type Route } from './api';
import { authenticate } from './auth';
import { ChargeLedger, type ChargeRecord } from './charges';
import { errorEnvelope, internalError, invalidRequest, StripeApiError, unrecognizedUrl } from './errors';
import { canonicalForm, FormError, parseForm } from './form';
import { IDEMPOTENCY_KEY_MAX_LENGTH, IdempotencyStore, type StoredResponse } from './idempotency';
import { newId } from './ids';
import { paymentIntentRoutes } from './payment-intent-routes';
import { PaymentIntentService } from './payment-intents';
import { PaymentMethodStore } from './payment-methods';

export interface PspSimulatorOptions {
  secretKey: string;
  /**
   * Awaited once the request is authenticated and its idempotency key claimed, before the endpoint
   * runs: holding it keeps the request "in progress" (latency, and later fault injection).
   */
  beforeExecute?: (request: ApiRequest) => Promise<void> | void;
  /** Clock in milliseconds (default Date.now), so tests can move time, e.g. past the 24 h key expiry. */
  now?: () => number;
}

export interface PspSimulator {
  url: string;
  host: string;
  port: number;
  close(): Promise<void>;
  /** Every stored PaymentIntent, oldest first (copies). */
  paymentIntents(): Stripe.PaymentIntent[];
  /** Successful charges (money the PSP took or authorized), oldest first. */
  charges(): ChargeRecord[];
  /** Every charge attempt, declined ones included. */
  chargeAttempts(): ChargeRecord[];
  chargeCount(): number;
}

const MAX_BODY_BYTES = 1024 * 1024;

interface Simulator {
  secretKey: string;
  routes: Route[];
  idempotency: IdempotencyStore;
  intents: PaymentIntentService;
  charges: ChargeLedger;
  beforeExecute: PspSimulatorOptions['beforeExecute'];
  now: () => number;
}

interface Outgoing {
  status: number;
  body: string;
  headers: Record<string, string>;
}

export async function startPspSimulator(
  opts: PspSimulatorOptions & { port?: number; host?: string },
): Promise<PspSimulator> {
  const sim = createSimulator(opts);
  const server = createServer((req, res) => {
    handle(sim, req, res).catch((error: unknown) => {
      console.error('psp-simulator: unhandled error', error);
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  const host = opts.host ?? '127.0.0.1';
  await listen(server, opts.port ?? 0, host);
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    host,
    port,
    close: () => close(server),
    paymentIntents: () =>
      sim.intents
        .newestFirst()
        .reverse()
        .map((intent) => structuredClone(intent)),
    charges: () => sim.charges.succeeded(),
    chargeAttempts: () => sim.charges.all(),
    chargeCount: () => sim.charges.succeeded().length,
  };
}

function createSimulator(opts: PspSimulatorOptions): Simulator {
  const now = opts.now ?? Date.now;
  const nowSeconds = () => Math.floor(now() / 1000);
  const methods = new PaymentMethodStore(nowSeconds);
  const charges = new ChargeLedger();
  const intents = new PaymentIntentService(methods, charges, nowSeconds);
  return {
    secretKey: opts.secretKey,
    routes: paymentIntentRoutes(intents, methods),
    idempotency: new IdempotencyStore(now),
    intents,
    charges,
    beforeExecute: opts.beforeExecute,
    now,
  };
}

async function handle(sim: Simulator, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://simulator');
  if (url.pathname.startsWith('/__admin/')) {
    send(res, adminResponse(sim, req.method ?? 'GET', url));
    return;
  }
  const requestId = newId('req', 14);
  const outgoing = await handleApi(sim, req, url, requestId).catch((error: unknown) =>
    errorResponse(sim, asApiError(error), requestId),
  );
  outgoing.headers['Request-Id'] ??= requestId;
  const version = req.headers['stripe-version'];
  if (typeof version === 'string') outgoing.headers['Stripe-Version'] = version;
  send(res, outgoing);
}

async function handleApi(sim: Simulator, req: IncomingMessage, url: URL, requestId: string): Promise<Outgoing> {
  const apiKey = authenticate(req.headers.authorization, sim.secretKey);
  const method = (req.method ?? 'GET').toUpperCase();
  const match = matchRoute(sim.routes, method, url.pathname);
  if (!match) throw unrecognizedUrl(method, url.pathname);
  const body = await readBody(req);
  const params = parseForm(method === 'POST' ? body : url.search.slice(1));
  const request: ApiRequest = {
    method: method as HttpMethod,
    path: url.pathname,
    pathParams: match.pathParams,
    params,
    requestId,
  };
  const key = headerValue(req, 'idempotency-key');
  // Stripe ignores idempotency keys on GET and DELETE.
  if (method !== 'POST' || key === undefined) return run(sim, match.route, request);

  request.idempotencyKey = key;
  const outgoing = await runIdempotently(sim, match.route, request, apiKey, key).catch((error: unknown) =>
    errorResponse(sim, asApiError(error), requestId),
  );
  outgoing.headers['Idempotency-Key'] = key;
  return outgoing;
}

async function runIdempotently(
  sim: Simulator,
  route: Route,
  request: ApiRequest,
  apiKey: string,
  key: string,
): Promise<Outgoing> {
  if (key.length > IDEMPOTENCY_KEY_MAX_LENGTH) {
    throw invalidRequest(
      `Keys for idempotent requests can be no longer than ${IDEMPOTENCY_KEY_MAX_LENGTH} characters.`,
      { param: 'Idempotency-Key' },
    );
  }
  const endpoint = `${request.method} ${request.path}`;
  const claim = sim.idempotency.begin(apiKey, key, { endpoint, params: canonicalForm(request.params) });
  switch (claim.outcome) {
    case 'replay':
      return replay(claim.response);
    case 'in_progress':
      throw idempotencyError(
        409,
        'There is currently another in-progress request using this Idempotent Key (probably a retry). Please try again later.',
        'idempotency_key_in_use',
      );
    case 'endpoint_mismatch':
      throw idempotencyError(
        400,
        `Keys for idempotent requests can only be used for the same endpoint they were first used for ('${claim.firstEndpoint}' vs '${endpoint}'). Try using a key other than '${key}' if you meant to execute a different request.`,
      );
    case 'params_mismatch':
      throw idempotencyError(
        400,
        `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
      );
    case 'acquired': {
      const outgoing = await run(sim, route, request, claim.release);
      claim.complete({ status: outgoing.status, body: outgoing.body, requestId: request.requestId });
      outgoing.headers['Original-Request'] = request.requestId;
      return outgoing;
    }
  }
}

/** Runs a route; `release` is called when it fails before executing (nothing to store). */
async function run(sim: Simulator, route: Route, request: ApiRequest, release?: () => void): Promise<Outgoing> {
  let execute: () => ApiResponse | Promise<ApiResponse>;
  try {
    await sim.beforeExecute?.(request);
    execute = route.prepare(request);
  } catch (error) {
    release?.();
    throw error;
  }
  try {
    const response = await execute();
    return { status: response.status, body: JSON.stringify(response.body, null, 2), headers: {} };
  } catch (error) {
    return errorResponse(sim, asApiError(error), request.requestId);
  }
}

function replay(stored: StoredResponse): Outgoing {
  return {
    status: stored.status,
    body: stored.body,
    headers: { 'Idempotent-Replayed': 'true', 'Original-Request': stored.requestId },
  };
}

function idempotencyError(status: number, message: string, code?: string): StripeApiError {
  return new StripeApiError(status, { type: 'idempotency_error', message, ...(code && { code }) });
}

function errorResponse(sim: Simulator, error: StripeApiError, requestId: string): Outgoing {
  const body = JSON.stringify(errorEnvelope(error, requestId, Math.floor(sim.now() / 1000)), null, 2);
  const headers: Record<string, string> = {};
  if (error.status === 401) headers['WWW-Authenticate'] = 'Basic realm="Stripe"';
  return { status: error.status, body, headers };
}

function asApiError(error: unknown): StripeApiError {
  if (error instanceof StripeApiError) return error;
  if (error instanceof FormError) return invalidRequest(error.message);
  console.error('psp-simulator: internal error', error);
  return internalError();
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const raw = req.headers[name];
  const value = Array.isArray(raw) ? raw[0] : raw;
  return value === '' ? undefined : value;
}

function adminResponse(sim: Simulator, method: string, url: URL): Outgoing {
  const json = (status: number, body: unknown): Outgoing => ({
    status,
    body: JSON.stringify(body, null, 2),
    headers: {},
  });
  if (method !== 'GET') return json(405, { error: { message: `${method} not allowed on ${url.pathname}` } });
  switch (url.pathname) {
    case '/__admin/charges':
      return json(200, url.searchParams.get('include') === 'failed' ? sim.charges.all() : sim.charges.succeeded());
    case '/__admin/payment_intents':
      return json(200, sim.intents.newestFirst().reverse());
    default:
      return json(404, { error: { message: `Unknown admin route ${url.pathname}` } });
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(invalidRequest('Request body too large.', { status: 413 }));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, outgoing: Outgoing): void {
  res.writeHead(outgoing.status, {
    'Content-Type': 'application/json',
    'Cache-Control': 'no-cache, no-store',
    ...outgoing.headers,
  });
  res.end(outgoing.body);
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    // The SDK keeps connections alive; without this close() would wait for them to time out.
    server.closeAllConnections();
  });
}
