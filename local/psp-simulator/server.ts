// A PSP simulator speaking the subset of Stripe's v1 REST wire format we use, so the real `stripe`
// SDK talks to it unchanged:
//   new Stripe(secretKey, { host: '127.0.0.1', port, protocol: 'http', maxNetworkRetries: 0 })
// State is in memory. `/__admin/...` routes (no auth; loopback only) expose the ground truth and control
// fault injection (faults.ts):
//   GET    /__admin/charges[?payment_id=...][&include=failed]   successful (or all) charges
//   GET    /__admin/payment_intents
//   GET    /__admin/faults          POST /__admin/faults (JSON FaultConfig)          DELETE /__admin/faults
//   GET    /__admin/faults/log      POST /__admin/reset (intents, charges, keys, faults: everything)

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Stripe from 'stripe';
import { type ApiRequest, type ApiResponse, type HttpMethod, matchRoute, type Route } from './api';
import { authenticate } from './auth';
import { ChargeLedger, type ChargeRecord } from './charges';
import {
  errorEnvelope,
  internalError,
  invalidRequest,
  rateLimited,
  StripeApiError,
  unknownError,
  unrecognizedUrl,
} from './errors';
import {
  type FaultConfig,
  FaultConfigError,
  FaultInjector,
  type FaultPlan,
  type FaultToken,
  type InjectedFault,
  parseFaultToken,
} from './faults';
import { canonicalForm, FormError, type FormObject, parseForm } from './form';
import { IDEMPOTENCY_KEY_MAX_LENGTH, IdempotencyStore, type StoredResponse } from './idempotency';
import { newId } from './ids';
import { paymentIntentRoutes } from './payment-intent-routes';
import { PaymentIntentService } from './payment-intents';
import { isTestToken, PaymentMethodStore } from './payment-methods';

export interface PspSimulatorOptions {
  secretKey: string;
  /**
   * Awaited once the request is authenticated and its idempotency key claimed, before the endpoint
   * runs: holding it keeps the request "in progress" (latency, and later fault injection).
   */
  beforeExecute?: (request: ApiRequest) => Promise<void> | void;
  /** Clock in milliseconds (default Date.now), so tests can move time, e.g. past the 24 h key expiry. */
  now?: () => number;
  /** How long a `timeout` fault holds the connection open before destroying it (default 30 s). */
  hangMs?: number;
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
  /** Replaces the rate-based fault config (omitted fields off); throws FaultConfigError when invalid. */
  setFaults(config: Partial<FaultConfig>): FaultConfig;
  /** The current rate-based fault config. */
  faults(): FaultConfig;
  /** Every fault injected so far (token and rate based), oldest first. */
  injectedFaults(): InjectedFault[];
  /** Forgets everything: intents, payment methods, charges, idempotency keys, fault config, log and counters. */
  reset(): void;
}

const MAX_BODY_BYTES = 1024 * 1024;
const DEFAULT_HANG_MS = 30_000;

/** The resettable state. */
interface State {
  routes: Route[];
  idempotency: IdempotencyStore;
  intents: PaymentIntentService;
  charges: ChargeLedger;
}

interface Simulator extends State {
  secretKey: string;
  beforeExecute: PspSimulatorOptions['beforeExecute'];
  now: () => number;
  hangMs: number;
  faults: FaultInjector;
  /** Pending latency and hang timers, cleared on close. */
  timers: Set<NodeJS.Timeout>;
}

interface Outgoing {
  status: number;
  body: string;
  headers: Record<string, string>;
}

/** What one API request decided about faults, filled in by handleApi. */
interface Exchange {
  requestId: string;
  plan?: FaultPlan;
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
    close: () => {
      for (const timer of sim.timers) clearTimeout(timer);
      sim.timers.clear();
      return close(server);
    },
    paymentIntents: () =>
      sim.intents
        .newestFirst()
        .reverse()
        .map((intent) => structuredClone(intent)),
    charges: () => sim.charges.succeeded(),
    chargeAttempts: () => sim.charges.all(),
    chargeCount: () => sim.charges.succeeded().length,
    setFaults: (config) => sim.faults.configure(config),
    faults: () => sim.faults.current(),
    injectedFaults: () => sim.faults.injected(),
    reset: () => reset(sim),
  };
}

function createSimulator(opts: PspSimulatorOptions): Simulator {
  const now = opts.now ?? Date.now;
  const hangMs = opts.hangMs ?? DEFAULT_HANG_MS;
  if (!Number.isInteger(hangMs) || hangMs < 0) throw new Error(`hangMs must be a non-negative integer: ${hangMs}`);
  return {
    ...createState(now),
    secretKey: opts.secretKey,
    beforeExecute: opts.beforeExecute,
    now,
    hangMs,
    faults: new FaultInjector(now),
    timers: new Set(),
  };
}

function createState(now: () => number): State {
  const nowSeconds = () => Math.floor(now() / 1000);
  const methods = new PaymentMethodStore(nowSeconds);
  const charges = new ChargeLedger();
  const intents = new PaymentIntentService(methods, charges, nowSeconds);
  return {
    routes: paymentIntentRoutes(intents, methods),
    idempotency: new IdempotencyStore(now),
    intents,
    charges,
  };
}

/** Requests still in flight finish against the state they started with. */
function reset(sim: Simulator): void {
  Object.assign(sim, createState(sim.now));
  sim.faults.reset();
}

async function handle(sim: Simulator, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://simulator');
  if (url.pathname.startsWith('/__admin/')) {
    send(res, await adminResponse(sim, req, url));
    return;
  }
  const exchange: Exchange = { requestId: newId('req', 14) };
  const outgoing = await handleApi(sim, req, url, exchange).catch((error: unknown) =>
    errorResponse(sim, asApiError(error), exchange.requestId),
  );
  outgoing.headers['Request-Id'] ??= exchange.requestId;
  const version = req.headers['stripe-version'];
  if (typeof version === 'string') outgoing.headers['Stripe-Version'] = version;
  const { plan } = exchange;
  if (plan?.drop) {
    sim.faults.record(plan, plan.drop);
    dropResponse(sim, req, plan.drop.fault);
    return;
  }
  send(res, outgoing);
}

async function handleApi(sim: Simulator, req: IncomingMessage, url: URL, exchange: Exchange): Promise<Outgoing> {
  const apiKey = authenticate(req.headers.authorization, sim.secretKey);
  const method = (req.method ?? 'GET').toUpperCase();
  const match = matchRoute(sim.routes, method, url.pathname);
  if (!match) throw unrecognizedUrl(method, url.pathname);
  const body = await readBody(req);
  const params = parseForm(method === 'POST' ? body : url.search.slice(1));
  // Stripe ignores idempotency keys on GET and DELETE.
  const key = method === 'POST' ? headerValue(req, 'idempotency-key') : undefined;
  const token = method === 'POST' ? faultTokenOf(params) : undefined;
  const plan = sim.faults.plan({
    method,
    path: url.pathname,
    scope: apiKey,
    mutating: method === 'POST',
    ...(key !== undefined && { idempotencyKey: key }),
    ...(token && { token }),
  });
  exchange.plan = plan;
  const request: ApiRequest = {
    method: method as HttpMethod,
    path: url.pathname,
    pathParams: match.pathParams,
    // The endpoint sees the base token only: the suffix must not change what gets charged or stored.
    params: token ? { ...params, payment_method: token.base } : params,
    requestId: exchange.requestId,
  };
  if (key === undefined) {
    if (plan.reject) throw injectedRejection(sim, plan);
    return run(sim, match.route, request, plan);
  }

  request.idempotencyKey = key;
  // The fingerprint is what the client sent, suffix included.
  const outgoing = await runIdempotently(sim, match.route, request, apiKey, key, canonicalForm(params), plan).catch(
    (error: unknown) => errorResponse(sim, asApiError(error), exchange.requestId),
  );
  outgoing.headers['Idempotency-Key'] = key;
  return outgoing;
}

function faultTokenOf(params: FormObject): FaultToken | undefined {
  const paymentMethod = params.payment_method;
  return typeof paymentMethod === 'string' ? parseFaultToken(paymentMethod, isTestToken) : undefined;
}

/** An injected 500/429: answered before the idempotency layer, so nothing is stored under the key. */
function injectedRejection(sim: Simulator, plan: FaultPlan): StripeApiError {
  if (!plan.reject) throw new Error('no rejection planned');
  sim.faults.record(plan, plan.reject);
  return plan.reject.fault === 'ratelimit' ? rateLimited() : unknownError();
}

/** A lost response: the socket is destroyed at once, or (timeout) after hanging `hangMs` without answering. */
function dropResponse(sim: Simulator, req: IncomingMessage, fault: 'lost' | 'timeout'): void {
  const { socket } = req;
  if (fault === 'lost') {
    socket.destroy();
    return;
  }
  const timer = setTimeout(() => {
    sim.timers.delete(timer);
    socket.destroy();
  }, sim.hangMs);
  sim.timers.add(timer);
  socket.once('close', () => {
    clearTimeout(timer);
    sim.timers.delete(timer);
  });
}

async function runIdempotently(
  sim: Simulator,
  route: Route,
  request: ApiRequest,
  apiKey: string,
  key: string,
  params: string,
  plan: FaultPlan,
): Promise<Outgoing> {
  if (plan.reject) throw injectedRejection(sim, plan);
  if (key.length > IDEMPOTENCY_KEY_MAX_LENGTH) {
    throw invalidRequest(
      `Keys for idempotent requests can be no longer than ${IDEMPOTENCY_KEY_MAX_LENGTH} characters.`,
      { param: 'Idempotency-Key' },
    );
  }
  const endpoint = `${request.method} ${request.path}`;
  const claim = sim.idempotency.begin(apiKey, key, { endpoint, params });
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
      const outgoing = await run(sim, route, request, plan, claim.release);
      claim.complete({ status: outgoing.status, body: outgoing.body, requestId: request.requestId });
      outgoing.headers['Original-Request'] = request.requestId;
      return outgoing;
    }
  }
}

/** Runs a route; `release` is called when it fails before executing (nothing to store). */
async function run(
  sim: Simulator,
  route: Route,
  request: ApiRequest,
  plan: FaultPlan,
  release?: () => void,
): Promise<Outgoing> {
  let execute: () => ApiResponse | Promise<ApiResponse>;
  try {
    // Injected latency holds the claimed key: a concurrent retry meanwhile gets a 409, as on Stripe.
    let latencyMs = 0;
    for (const latency of plan.latency) {
      sim.faults.record(plan, latency);
      latencyMs += latency.latencyMs ?? 0;
    }
    if (latencyMs > 0) await sleep(sim, latencyMs);
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

function sleep(sim: Simulator, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      sim.timers.delete(timer);
      resolve();
    }, ms);
    sim.timers.add(timer);
  });
}

const ADMIN_METHODS: Record<string, readonly string[]> = {
  '/__admin/charges': ['GET'],
  '/__admin/payment_intents': ['GET'],
  '/__admin/faults': ['GET', 'POST', 'DELETE'],
  '/__admin/faults/log': ['GET'],
  '/__admin/reset': ['POST'],
};

async function adminResponse(sim: Simulator, req: IncomingMessage, url: URL): Promise<Outgoing> {
  const json = (status: number, body: unknown): Outgoing => ({
    status,
    body: JSON.stringify(body, null, 2),
    headers: {},
  });
  const failure = (status: number, message: string) => json(status, { error: { message } });
  const method = (req.method ?? 'GET').toUpperCase();
  const allowed = ADMIN_METHODS[url.pathname];
  if (!allowed) return failure(404, `Unknown admin route ${url.pathname}`);
  if (!allowed.includes(method)) {
    const response = failure(405, `${method} not allowed on ${url.pathname}`);
    response.headers.Allow = allowed.join(', ');
    return response;
  }
  switch (`${method} ${url.pathname}`) {
    case 'GET /__admin/charges': {
      const charges = url.searchParams.get('include') === 'failed' ? sim.charges.all() : sim.charges.succeeded();
      const paymentId = url.searchParams.get('payment_id');
      return json(200, paymentId === null ? charges : charges.filter((c) => c.metadata.payment_id === paymentId));
    }
    case 'GET /__admin/payment_intents':
      return json(200, sim.intents.newestFirst().reverse());
    case 'GET /__admin/faults':
      return json(200, sim.faults.current());
    case 'POST /__admin/faults': {
      try {
        const body = (await readBody(req)).trim();
        return json(200, sim.faults.configure(body === '' ? {} : JSON.parse(body)));
      } catch (error) {
        if (error instanceof SyntaxError) return failure(400, `Invalid JSON: ${error.message}`);
        if (error instanceof FaultConfigError || error instanceof StripeApiError) return failure(400, error.message);
        throw error;
      }
    }
    case 'DELETE /__admin/faults':
      return json(200, sim.faults.configure({}));
    case 'GET /__admin/faults/log':
      return json(200, sim.faults.injected());
    case 'POST /__admin/reset':
      reset(sim);
      return json(200, { reset: true });
    default:
      return failure(404, `Unknown admin route ${url.pathname}`);
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
