// A PSP simulator speaking the subset of Stripe's v1 REST wire format we use, so the real `stripe`
// SDK talks to it unchanged:
//   new Stripe(secretKey, { host: '127.0.0.1', port, protocol: 'http', maxNetworkRetries: 0 })
// State is in memory.
//
//   /v1/payment_intents...          create, confirm, capture, cancel, retrieve, list, search
//   /v1/checkout/sessions...        create, retrieve, list, expire (checkout-session-routes.ts)
//   /v1/events, /v1/events/:id      the events of every state change (events.ts)
//   /pay/:session_id[/3ds], /3ds/:payment_intent   the hosted payment page and 3-D Secure (hosted-page.ts)
//   /__admin/...                    ground truth, faults, pending payments, webhooks (admin.ts)
//
// Events are POSTed, signed as Stripe signs them, to the webhook endpoint when one is configured
// (webhooks.ts). close() stops the server and every pending timer and delivery.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Stripe from 'stripe';
import { type AdminTarget, adminResponse } from './admin';
import { type ApiRequest, type ApiResponse, type HttpMethod, matchRoute, type Route } from './api';
import { authenticate } from './auth';
import { ChargeLedger, type ChargeRecord } from './charges';
import { checkoutSessionRoutes, DEFAULT_MIN_EXPIRY_S } from './checkout-session-routes';
import { CheckoutSessionService } from './checkout-sessions';
import {
  errorEnvelope,
  internalError,
  invalidRequest,
  rateLimited,
  StripeApiError,
  unknownError,
  unrecognizedUrl,
} from './errors';
import { EventStore, eventRoutes } from './events';
import {
  type FaultConfig,
  FaultInjector,
  type FaultPlan,
  type FaultToken,
  type InjectedFault,
  parseFaultToken,
} from './faults';
import { canonicalForm, FormError, type FormObject, parseForm } from './form';
import { hostedPage, isHostedPath } from './hosted-page';
import { IDEMPOTENCY_KEY_MAX_LENGTH, IdempotencyStore, type StoredResponse } from './idempotency';
import { newId } from './ids';
import { paymentIntentRoutes } from './payment-intent-routes';
import {
  type AuthenticationOutcome,
  type IntentHooks,
  PaymentIntentService,
  type SettlementOutcome,
} from './payment-intents';
import { isTestToken, PaymentMethodStore } from './payment-methods';
import {
  assertHttpUrl,
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_RETRY_BASE_MS,
  defaultBehaviour,
  type ManualSend,
  newWebhookSecret,
  parseBehaviour,
  type WebhookBehaviour,
  type WebhookDelivery,
  WebhookDispatcher,
  type WebhookEndpoint,
} from './webhooks';

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
  /** Where events are POSTed (none by default; see also setWebhookEndpoint and the admin route). */
  webhookUrl?: string;
  /** The endpoint's signing secret (`whsec_...`; a random one when omitted). */
  webhookSecret?: string;
  /** Backoff base between delivery attempts: base * 2^(attempt-1) (default 1000 ms). */
  webhookRetryBaseMs?: number;
  /** Automatic delivery attempts per event, the first included (default 8). */
  webhookMaxAttempts?: number;
  /** The initial delivery behaviour (duplicate, delay, reorder, pause...), also restored by reset(). */
  webhookBehaviour?: Partial<WebhookBehaviour>;
  /** Base URL of the hosted pages in `url` and `next_action` (default http://<host>:<port>). */
  publicUrl?: string;
  /** The minimum time from creation to a Checkout Session's `expires_at` (Stripe: 1800 s). */
  checkoutMinExpirySeconds?: number;
  /** How often open Checkout Sessions are checked for expiry (default 1000 ms). */
  sessionSweepMs?: number;
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
  /** Every Checkout Session, oldest first (copies). */
  checkoutSessions(): Stripe.Checkout.Session[];
  /** Every event, oldest first (copies). */
  events(): Stripe.Event[];
  /** Every webhook delivery attempt, in the order they finished. */
  webhookDeliveries(): WebhookDelivery[];
  webhookEndpoint(): WebhookEndpoint | undefined;
  /** Sets the endpoint (secret kept, or random, when omitted); null removes it. */
  setWebhookEndpoint(url: string | null, secret?: string): WebhookEndpoint | undefined;
  webhookBehaviour(): WebhookBehaviour;
  /** Merges a partial behaviour; throws WebhookConfigError when invalid. */
  setWebhookBehaviour(behaviour: Partial<WebhookBehaviour>): WebhookBehaviour;
  /** Deliveries not finished yet (held, buffered, waiting for a retry, queued or in flight). */
  pendingWebhooks(): number;
  /** Delivers an event again: same id and body, freshly signed (one attempt). */
  resendWebhook(eventId: string): Promise<WebhookDelivery>;
  /** One delivery with an offset timestamp, another secret or a tampered body (negative tests). */
  sendWebhook(eventId: string, options?: ManualSend): Promise<WebhookDelivery>;
  /** What the 3-D Secure challenge buttons do. */
  authenticatePaymentIntent(id: string, outcome: AuthenticationOutcome): Stripe.PaymentIntent;
  /** Ends the `processing` state of an intent. */
  settlePaymentIntent(id: string, outcome: SettlementOutcome): Stripe.PaymentIntent;
  /**
   * Forgets everything: intents, payment methods, charges, sessions, events, idempotency keys, fault
   * config, log and counters, pending webhook deliveries and their log (endpoint and behaviour back to
   * the startup options).
   */
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
  methods: PaymentMethodStore;
  sessions: CheckoutSessionService;
  events: EventStore;
}

interface Simulator extends State {
  secretKey: string;
  beforeExecute: PspSimulatorOptions['beforeExecute'];
  now: () => number;
  hangMs: number;
  faults: FaultInjector;
  webhooks: WebhookDispatcher;
  /** Base URL of the hosted pages, known once listening. */
  publicUrl: string;
  minExpirySeconds: number;
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
  const url = `http://${host}:${port}`;
  sim.publicUrl = (opts.publicUrl ?? url).replace(/\/+$/, '');
  const sweepMs = opts.sessionSweepMs ?? 1000;
  const sweep = setInterval(() => sim.sessions.expireDue(), sweepMs);
  sweep.unref();
  let closing: Promise<void> | undefined;
  return {
    url,
    host,
    port,
    // Idempotent: a second call waits for the first.
    close: () => {
      if (!closing) {
        clearInterval(sweep);
        sim.webhooks.close();
        for (const timer of sim.timers) clearTimeout(timer);
        sim.timers.clear();
        closing = close(server);
      }
      return closing;
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
    checkoutSessions: () =>
      sim.sessions
        .newestFirst()
        .reverse()
        .map((session) => structuredClone(session)),
    events: () => sim.events.oldestFirst().map((event) => structuredClone(event)),
    webhookDeliveries: () => sim.webhooks.deliveries(),
    webhookEndpoint: () => sim.webhooks.currentEndpoint(),
    setWebhookEndpoint: (endpointUrl, secret) => sim.webhooks.setEndpoint(endpointUrl, secret),
    webhookBehaviour: () => sim.webhooks.currentBehaviour(),
    setWebhookBehaviour: (behaviour) => sim.webhooks.configure(behaviour),
    pendingWebhooks: () => sim.webhooks.pending(),
    resendWebhook: (eventId) => sim.webhooks.resend(eventId),
    sendWebhook: (eventId, options = {}) => sim.webhooks.send(eventId, options),
    authenticatePaymentIntent: (id, outcome) => structuredClone(sim.intents.authenticate(id, outcome)),
    settlePaymentIntent: (id, outcome) => structuredClone(sim.intents.settleProcessing(id, outcome)),
    reset: () => reset(sim),
  };
}

function createSimulator(opts: PspSimulatorOptions): Simulator {
  const now = opts.now ?? Date.now;
  const hangMs = opts.hangMs ?? DEFAULT_HANG_MS;
  if (!Number.isInteger(hangMs) || hangMs < 0) throw new Error(`hangMs must be a non-negative integer: ${hangMs}`);
  const minExpirySeconds = opts.checkoutMinExpirySeconds ?? DEFAULT_MIN_EXPIRY_S;
  if (!Number.isInteger(minExpirySeconds) || minExpirySeconds < 0) {
    throw new Error(`checkoutMinExpirySeconds must be a non-negative integer: ${minExpirySeconds}`);
  }
  if (opts.webhookUrl) assertHttpUrl(opts.webhookUrl);
  const endpoint = opts.webhookUrl
    ? { url: opts.webhookUrl, secret: opts.webhookSecret ?? newWebhookSecret() }
    : undefined;
  const behaviour = defaultBehaviour({
    retry_base_ms: opts.webhookRetryBaseMs ?? DEFAULT_RETRY_BASE_MS,
    max_attempts: opts.webhookMaxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    ...opts.webhookBehaviour,
  });
  parseBehaviour(behaviour);
  // The state is created below; the dispatcher reads the current event store through `sim`.
  const sim = {
    secretKey: opts.secretKey,
    beforeExecute: opts.beforeExecute,
    now,
    hangMs,
    faults: new FaultInjector(now),
    publicUrl: opts.publicUrl ?? '',
    minExpirySeconds,
    timers: new Set(),
  } as Omit<Simulator, keyof State | 'webhooks'> as Simulator;
  sim.webhooks = new WebhookDispatcher(
    endpoint,
    behaviour,
    now,
    (id) => sim.events.find(id),
    (id) => sim.events.delivered(id),
  );
  return Object.assign(sim, createState(sim));
}

function createState(sim: Simulator): State {
  const nowSeconds = () => Math.floor(sim.now() / 1000);
  const methods = new PaymentMethodStore(nowSeconds);
  const charges = new ChargeLedger();
  // Hooks are called only after construction, once `sessions` below exists.
  let sessions: CheckoutSessionService | undefined;
  const events = new EventStore(
    nowSeconds,
    () => sim.webhooks.endpointCount(),
    (stored) => sim.webhooks.enqueue(stored),
  );
  const hooks: IntentHooks = {
    changed: (type, intent, origin) => {
      events.emit(type, intent, origin);
      sessions?.onIntentChanged(type, intent, origin);
    },
    challengeUrl: (intent) => {
      const sessionId = sessions?.sessionIdForIntent(intent.id);
      const path = sessionId ? `/pay/${encodeURIComponent(sessionId)}/3ds` : `/3ds/${encodeURIComponent(intent.id)}`;
      return `${sim.publicUrl}${path}`;
    },
  };
  const intents = new PaymentIntentService(methods, charges, nowSeconds, hooks);
  sessions = new CheckoutSessionService(intents, nowSeconds, {
    changed: (type, session, origin) => events.emit(type, session, origin),
    pageUrl: (id) => `${sim.publicUrl}/pay/${encodeURIComponent(id)}`,
  });
  return {
    routes: [
      ...paymentIntentRoutes(intents, methods),
      ...checkoutSessionRoutes(sessions, intents, { nowSeconds, minExpirySeconds: sim.minExpirySeconds }),
      ...eventRoutes(events),
    ],
    idempotency: new IdempotencyStore(sim.now),
    intents,
    charges,
    methods,
    sessions,
    events,
  };
}

/** Requests still in flight finish against the state they started with. */
function reset(sim: Simulator): void {
  sim.webhooks.reset();
  Object.assign(sim, createState(sim));
  sim.faults.reset();
}

async function handle(sim: Simulator, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://simulator');
  if (url.pathname.startsWith('/__admin/')) {
    send(res, await admin(sim, req, url));
    return;
  }
  if (isHostedPath(url.pathname)) {
    const method = (req.method ?? 'GET').toUpperCase();
    let body = '';
    try {
      if (method === 'POST') body = await readBody(req);
    } catch {
      // Never logged: the body may hold card data.
      send(res, { status: 413, body: 'Request body too large.', headers: { 'Content-Type': 'text/plain' } });
      return;
    }
    send(res, hostedPage(sim, method, url.pathname, body));
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

function admin(sim: Simulator, req: IncomingMessage, url: URL) {
  const target: AdminTarget = {
    get intents() {
      return sim.intents;
    },
    get charges() {
      return sim.charges;
    },
    get sessions() {
      return sim.sessions;
    },
    get events() {
      return sim.events;
    },
    faults: sim.faults,
    webhooks: sim.webhooks,
    reset: () => reset(sim),
  };
  const json = async (): Promise<unknown> => {
    const body = (await readBody(req)).trim();
    return body === '' ? {} : JSON.parse(body);
  };
  return adminResponse(target, { method: (req.method ?? 'GET').toUpperCase(), url, json });
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
