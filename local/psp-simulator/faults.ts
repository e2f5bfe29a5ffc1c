// Fault injection, off by default. Two ways to ask for a fault:
//
// 1. Per request, with a magic payment-method token: a test token plus one fault suffix,
//      <base>_latency<ms>                      wait <ms> (0..600000) before executing, then behave normally
//      <base>_error500x<N> | _error500always   HTTP 500 api_error from the API itself, before the charge: nothing
//                                              executes, but the 500 is STORED under the idempotency key (Stripe
//                                              saves the first result of a key, 500s included) and a retry with
//                                              the same key gets it replayed (Idempotent-Replayed: true)
//      <base>_charged500x<N> | _charged500always  the request EXECUTES (intent created/confirmed, card charged),
//                                              then the answer is a 500 api_error stored under the key: the
//                                              client cannot know it was charged; a retry replays the 500
//      <base>_edge502x<N> | _edge502always     a load balancer in front of the API answers 502 (HTML body, no
//      <base>_edge503x<N> | _edge503always     Stripe headers) or 503: nothing executes, nothing is stored, so
//                                              a retry with the same key executes normally
//      <base>_ratelimitx<N> | _ratelimitalways HTTP 429 before the idempotency layer (nothing charged or stored)
//      <base>_lostx<N> | _lostalways           execute and store, then destroy the socket without answering
//      <base>_timeoutx<N> | _timeoutalways     execute and store, then hang `hangMs` and destroy the socket
//    with N >= 1 (no leading zero). `<base>` is a known test token (`pm_card_visa`, `pm_card_chargeDeclined`...)
//    and alone decides how the card behaves. Attempts are counted per (idempotency key, token): `x<N>` faults
//    the first N attempts. A request without an idempotency key is always attempt 1. Note that with stored 500s
//    (the default) a retry under the same key is a replay, so `x<N>` only matters for the edge, rate-limit and
//    drop faults, for requests without a key, or with `store500s` off.
// 2. By rate, for every mutating request (POST), from a seeded PRNG so a run is reproducible.
// 3. Targeted, for the next N requests to one endpoint (POST /__admin/faults/next):
//      {"path": "/v1/transfers", "method": "POST", "fault": "lost", "count": 1}
//    `fault` is any kind above (latency with "latency_ms"); `method` defaults to POST, `count` to 1; a path segment
//    `*` (or `:name`) matches any one segment (`/v1/transfers/*/reversals`). The next `count` matching requests
//    (any idempotency key) get the fault with the same semantics as the token's; several rules are taken in the
//    order they were added. `"params": {"payment_intent": "pi_..."}` narrows a rule to requests whose top-level
//    parameters have those values, so a test aims at its own object and never at a neighbour's retry. A request whose token carries a fault takes that one and leaves the rule for the next.
//    Listed by GET /__admin/faults (as `next`, when any) and GET /__admin/faults/next; cleared by DELETE
//    /__admin/faults, DELETE /__admin/faults/next and reset.
//
// The server applies a plan in this order: an edge fault (502/503) before anything; a rate limit (429) before
// the idempotency layer, as Stripe's rate limiters run before it; latency while the key is claimed (a concurrent
// retry gets a 409); error500 once the request passed validation, instead of executing; charged500 after
// executing; drops after the response exists (stored under the key), so a retry gets it replayed. Whether a
// 500 is stored is the simulator setting `store500s` (default true, as on Stripe): off, an error500 is answered
// before the idempotency layer and a charged500 releases the key (a retry executes again).

export const FAULT_KINDS = [
  'latency',
  'error500',
  'charged500',
  'ratelimit',
  'edge502',
  'edge503',
  'lost',
  'timeout',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
export type FaultSource = 'token' | 'rate' | 'targeted';
/** A 500 from the API itself: before executing (error500) or after it (charged500). */
export type ServerFault = 'error500' | 'charged500';
/** An answer from a load balancer in front of the API. */
export type EdgeFault = 'edge502' | 'edge503';
export type RejectFault = 'ratelimit';
export type DropFault = 'lost' | 'timeout';
type CountedFault = ServerFault | EdgeFault | RejectFault | DropFault;

export const MAX_LATENCY_MS = 600_000;

export type TokenFault = { kind: 'latency'; ms: number } | { kind: CountedFault; times: number | 'always' };

export interface FaultToken {
  /** The token as sent, e.g. `pm_card_visa_lostx1`. */
  token: string;
  /** The test token that decides the card behaviour, e.g. `pm_card_visa`. */
  base: string;
  fault: TokenFault;
}

const FAULT_SUFFIX =
  /^(.+)_(?:latency(0|[1-9]\d{0,5})|(error500|charged500|edge502|edge503|ratelimit|lost|timeout)(?:x([1-9]\d{0,5})|(always)))$/;

/** Parses `<base>_<fault>`; undefined when the suffix is not a fault or the base is not a known token. */
export function parseFaultToken(token: string, isBaseToken: (base: string) => boolean): FaultToken | undefined {
  const match = FAULT_SUFFIX.exec(token);
  if (!match) return undefined;
  const [, base, latency, kind, times] = match;
  if (base === undefined || !isBaseToken(base)) return undefined;
  if (latency !== undefined) {
    const ms = Number(latency);
    return ms > MAX_LATENCY_MS ? undefined : { token, base, fault: { kind: 'latency', ms } };
  }
  const fault: TokenFault = {
    kind: kind as CountedFault,
    times: times === undefined ? 'always' : Number(times),
  };
  return { token, base, fault };
}

/** Rate-based faults. Rates are probabilities in [0, 1]; `latency_ms` applies to every mutating request. */
export interface FaultConfig {
  latency_ms: number;
  /** A 500 before executing (stored under the key unless store500s is off). */
  error500_rate: number;
  /** Execute, then a 500 (stored under the key unless store500s is off). */
  charged500_rate: number;
  ratelimit_rate: number;
  /** A 502 or 503 (half each) from a load balancer: nothing executes or is stored. */
  edge_rate: number;
  lost_rate: number;
  timeout_rate: number;
  /** PRNG seed (unsigned 32-bit integer); setting a config restarts the sequence from it. */
  seed: number;
}

const RATE_FIELDS = [
  'error500_rate',
  'charged500_rate',
  'ratelimit_rate',
  'edge_rate',
  'lost_rate',
  'timeout_rate',
] as const;
const CONFIG_FIELDS = ['latency_ms', ...RATE_FIELDS, 'seed'] as const;

export const FAULTS_OFF: Readonly<FaultConfig> = Object.freeze({
  latency_ms: 0,
  error500_rate: 0,
  charged500_rate: 0,
  ratelimit_rate: 0,
  edge_rate: 0,
  lost_rate: 0,
  timeout_rate: 0,
  seed: 0,
});

export class FaultConfigError extends Error {}

/** Validates a (partial) config; omitted fields are off (seed 0). */
export function parseFaultConfig(input: unknown): FaultConfig {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new FaultConfigError('The fault configuration must be a JSON object.');
  }
  const fields = input as Record<string, unknown>;
  for (const name of Object.keys(fields)) {
    if (!(CONFIG_FIELDS as readonly string[]).includes(name)) {
      throw new FaultConfigError(`Unknown fault setting '${name}' (known: ${CONFIG_FIELDS.join(', ')}).`);
    }
  }
  const config: FaultConfig = { ...FAULTS_OFF };
  for (const name of RATE_FIELDS) {
    const value = fields[name];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
      throw new FaultConfigError(`${name} must be a number from 0 to 1.`);
    }
    config[name] = value;
  }
  config.latency_ms = integerField(fields, 'latency_ms', MAX_LATENCY_MS);
  config.seed = integerField(fields, 'seed', 0xffffffff);
  return config;
}

function integerField(fields: Record<string, unknown>, name: string, max: number): number {
  const value = fields[name];
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw new FaultConfigError(`${name} must be an integer from 0 to ${max}.`);
  }
  return value;
}

/** A targeted fault: the next `count` requests matching `method` and `path` get `fault`. */
export interface TargetedFault {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  fault: FaultKind;
  /** How many matching requests are still to get it. */
  count: number;
  /** Latency faults: the delay. */
  latency_ms?: number;
  /** Only requests whose top-level parameters have these values (e.g. {"payment_intent": "pi_..."}). */
  params?: Record<string, string>;
}

const TARGET_FIELDS = ['path', 'method', 'fault', 'count', 'latency_ms', 'params'];
const MAX_TARGET_COUNT = 1_000_000;

/** Validates a targeted fault (POST /__admin/faults/next). */
export function parseTargetedFault(input: unknown): TargetedFault {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new FaultConfigError('The targeted fault must be a JSON object.');
  }
  const fields = input as Record<string, unknown>;
  for (const name of Object.keys(fields)) {
    if (!TARGET_FIELDS.includes(name)) {
      throw new FaultConfigError(`Unknown targeted fault field '${name}' (known: ${TARGET_FIELDS.join(', ')}).`);
    }
  }
  const { path, fault } = fields;
  if (typeof path !== 'string' || !path.startsWith('/'))
    throw new FaultConfigError('path must be a path like /v1/transfers.');
  const method = fields.method ?? 'POST';
  if (method !== 'GET' && method !== 'POST' && method !== 'DELETE') {
    throw new FaultConfigError('method must be GET, POST or DELETE.');
  }
  if (typeof fault !== 'string' || !(FAULT_KINDS as readonly string[]).includes(fault)) {
    throw new FaultConfigError(`fault must be one of: ${FAULT_KINDS.join(', ')}.`);
  }
  const count = fields.count ?? 1;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > MAX_TARGET_COUNT) {
    throw new FaultConfigError(`count must be an integer from 1 to ${MAX_TARGET_COUNT}.`);
  }
  const target: TargetedFault = { method, path, fault: fault as FaultKind, count };
  if (fields.params !== undefined) {
    const params = fields.params;
    if (
      typeof params !== 'object' ||
      params === null ||
      Array.isArray(params) ||
      Object.keys(params).length === 0 ||
      !Object.values(params).every((value) => typeof value === 'string')
    ) {
      throw new FaultConfigError('params must be a non-empty object of parameter names to string values.');
    }
    target.params = { ...(params as Record<string, string>) };
  }
  if (fault === 'latency') {
    const latency = fields.latency_ms;
    if (typeof latency !== 'number' || !Number.isInteger(latency) || latency < 0 || latency > MAX_LATENCY_MS) {
      throw new FaultConfigError(`latency_ms must be an integer from 0 to ${MAX_LATENCY_MS} for a latency fault.`);
    }
    target.latency_ms = latency;
  } else if (fields.latency_ms !== undefined) {
    throw new FaultConfigError('latency_ms goes with fault "latency" only.');
  }
  return target;
}

function pathMatches(template: string, path: string): boolean {
  const expected = template.split('/');
  const actual = path.split('/');
  if (expected.length !== actual.length) return false;
  return expected.every((segment, i) => {
    const value = actual[i] ?? '';
    return segment === '*' || (segment.startsWith(':') && value !== '') || segment === value;
  });
}

/** One entry of the injected-fault log. */
export interface InjectedFault {
  /** ISO 8601 time the fault was applied. */
  at: string;
  fault: FaultKind;
  source: FaultSource;
  idempotency_key: string | null;
  method: string;
  path: string;
  /** Token faults: the attempt (1-based) under this idempotency key and token. */
  attempt?: number;
  /** Latency faults: the delay. */
  latency_ms?: number;
}

export interface PlannedFault<K extends FaultKind = FaultKind> {
  fault: K;
  source: FaultSource;
  attempt?: number;
  latencyMs?: number;
}

export interface FaultRequest {
  method: string;
  path: string;
  /** Scope of idempotency keys (the API key). */
  scope: string;
  idempotencyKey?: string;
  token?: FaultToken;
  /** The request's parameters (form body or query), for targeted faults with `params`. */
  params?: Readonly<Record<string, unknown>>;
  /** Rate-based faults apply to mutating requests only. */
  mutating: boolean;
}

/**
 * The faults of one request. At most one of edge, reject and server is set; drop is never set with them. A
 * fault is logged (`record`) only when the server applies it: a replayed request applies no error500.
 */
export interface FaultPlan {
  request: FaultRequest;
  /** A load balancer answers: nothing executes, nothing is stored, no Stripe headers. */
  edge?: PlannedFault<EdgeFault>;
  /** A 429 before the idempotency layer (nothing is charged or stored). */
  reject?: PlannedFault<RejectFault>;
  /** A 500 from the API: error500 instead of executing, charged500 after executing. */
  server?: PlannedFault<ServerFault>;
  /** Delays before executing (only when the request executes, not when it is replayed). */
  latency: PlannedFault<'latency'>[];
  /** Drop the response once it exists. */
  drop?: PlannedFault<DropFault>;
}

/** PRNG draws taken by every mutating request, hit or not (one per rate). */
const DRAWS = 6;

export class FaultInjector {
  private config: FaultConfig = { ...FAULTS_OFF };
  private random = mulberry32(FAULTS_OFF.seed);
  private readonly log: InjectedFault[] = [];
  private readonly attempts = new Map<string, number>();
  private readonly targeted: TargetedFault[] = [];

  constructor(private readonly now: () => number) {}

  /** Adds a targeted fault; returns every pending one. */
  target(input: unknown): TargetedFault[] {
    this.targeted.push(parseTargetedFault(input));
    return this.targetedFaults();
  }

  /** The targeted faults still pending, in the order they will be taken. */
  targetedFaults(): TargetedFault[] {
    return this.targeted.map((target) => ({ ...target }));
  }

  clearTargeted(): void {
    this.targeted.length = 0;
  }

  /** Replaces the rate-based config (omitted fields off) and restarts the PRNG from its seed. */
  configure(input: unknown): FaultConfig {
    this.config = parseFaultConfig(input);
    this.random = mulberry32(this.config.seed);
    return this.current();
  }

  current(): FaultConfig {
    return { ...this.config };
  }

  injected(): InjectedFault[] {
    return this.log.map((entry) => ({ ...entry }));
  }

  /** Config off, targeted faults, log and attempt counters cleared. */
  reset(): void {
    this.configure({});
    this.clearTargeted();
    this.log.length = 0;
    this.attempts.clear();
  }

  /**
   * Decides the faults of one request. Mutating requests always take the same number of PRNG draws, hit or not.
   * Order: edge, rate limit, error500, latency, charged500, drop; a token (or targeted) fault wins over a rate of
   * its kind.
   */
  plan(request: FaultRequest): FaultPlan {
    const plan: FaultPlan = { request, latency: [] };
    // A token's fault, else the first targeted fault matching the request (counted down as it is taken).
    const explicit = this.tokenFault(request) ?? this.takeTargeted(request);
    const draws = request.mutating ? Array.from({ length: DRAWS }, () => this.random()) : undefined;
    const hit = (index: number, rate: number) => draws !== undefined && (draws[index] ?? 1) < rate;
    const fromExplicit = <K extends FaultKind>(fault: K): PlannedFault<K> =>
      explicit?.source === 'targeted'
        ? { fault, source: 'targeted' }
        : { fault, source: 'token', attempt: explicit?.attempt };

    if (explicit?.kind === 'edge502' || explicit?.kind === 'edge503') {
      plan.edge = fromExplicit(explicit.kind);
    } else if (hit(4, this.config.edge_rate)) {
      // One draw decides both whether and which: the lower half of the rate is a 502.
      plan.edge = { fault: hit(4, this.config.edge_rate / 2) ? 'edge502' : 'edge503', source: 'rate' };
    }
    if (plan.edge) return plan;

    if (explicit?.kind === 'ratelimit') plan.reject = fromExplicit('ratelimit');
    else if (hit(0, this.config.ratelimit_rate)) plan.reject = { fault: 'ratelimit', source: 'rate' };
    if (plan.reject) return plan;

    if (explicit?.kind === 'error500') plan.server = fromExplicit('error500');
    else if (hit(1, this.config.error500_rate)) plan.server = { fault: 'error500', source: 'rate' };
    if (plan.server) return plan;

    if (explicit?.kind === 'latency') {
      plan.latency.push({ ...fromExplicit('latency'), latencyMs: explicit.ms });
    }
    if (request.mutating && this.config.latency_ms > 0) {
      plan.latency.push({ fault: 'latency', source: 'rate', latencyMs: this.config.latency_ms });
    }

    if (explicit?.kind === 'charged500') plan.server = fromExplicit('charged500');
    else if (hit(5, this.config.charged500_rate)) plan.server = { fault: 'charged500', source: 'rate' };
    if (plan.server) return plan;

    if (explicit?.kind === 'lost' || explicit?.kind === 'timeout') {
      plan.drop = fromExplicit(explicit.kind);
    } else if (hit(2, this.config.lost_rate)) {
      plan.drop = { fault: 'lost', source: 'rate' };
    } else if (hit(3, this.config.timeout_rate)) {
      plan.drop = { fault: 'timeout', source: 'rate' };
    }
    return plan;
  }

  /** Logs a planned fault at the moment the server applies it. */
  record(plan: FaultPlan, planned: PlannedFault): void {
    const { request } = plan;
    const entry: InjectedFault = {
      at: new Date(this.now()).toISOString(),
      fault: planned.fault,
      source: planned.source,
      idempotency_key: request.idempotencyKey ?? null,
      method: request.method,
      path: request.path,
    };
    if (planned.attempt !== undefined) entry.attempt = planned.attempt;
    if (planned.latencyMs !== undefined) entry.latency_ms = planned.latencyMs;
    this.log.push(entry);
  }

  /** The first targeted fault matching the request, counted down (removed at zero). */
  private takeTargeted(request: FaultRequest): ExplicitFault | undefined {
    const index = this.targeted.findIndex(
      (target) =>
        target.method === request.method &&
        pathMatches(target.path, request.path) &&
        Object.entries(target.params ?? {}).every(([name, value]) => request.params?.[name] === value),
    );
    const target = this.targeted[index];
    if (!target) return undefined;
    target.count -= 1;
    if (target.count === 0) this.targeted.splice(index, 1);
    if (target.fault === 'latency') return { kind: 'latency', ms: target.latency_ms ?? 0, source: 'targeted' };
    return { kind: target.fault, source: 'targeted' };
  }

  /** The token's fault if active for this attempt (counting the attempt either way). */
  private tokenFault(request: FaultRequest): ExplicitFault | undefined {
    const { token } = request;
    if (!token) return undefined;
    let attempt = 1;
    if (request.idempotencyKey !== undefined) {
      const counter = [request.scope, request.idempotencyKey, token.token].join('\u0000');
      attempt = (this.attempts.get(counter) ?? 0) + 1;
      this.attempts.set(counter, attempt);
    }
    const { fault } = token;
    if (fault.kind === 'latency') return { kind: 'latency', ms: fault.ms, attempt, source: 'token' };
    if (fault.times !== 'always' && attempt > fault.times) return undefined;
    return { kind: fault.kind, attempt, source: 'token' };
  }
}

/** A fault asked for explicitly: by a request's token (with its attempt) or by a targeted rule. */
type ExplicitFault = { source: 'token' | 'targeted'; attempt?: number } & (
  | { kind: 'latency'; ms: number }
  | { kind: CountedFault }
);

/** mulberry32: a small, fast, seedable PRNG (uniform in [0, 1)). Not for anything but test faults. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
