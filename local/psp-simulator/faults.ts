// Fault injection, off by default. Two ways to ask for a fault:
//
// 1. Per request, with a magic payment-method token: a test token plus one fault suffix,
//      <base>_latency<ms>                      wait <ms> (0..600000) before executing, then behave normally
//      <base>_error500x<N> | _error500always   HTTP 500 api_error before executing (nothing charged or stored)
//      <base>_ratelimitx<N> | _ratelimitalways HTTP 429 before executing (nothing charged or stored)
//      <base>_lostx<N> | _lostalways           execute and store, then destroy the socket without answering
//      <base>_timeoutx<N> | _timeoutalways     execute and store, then hang `hangMs` and destroy the socket
//    with N >= 1 (no leading zero). `<base>` is a known test token (`pm_card_visa`, `pm_card_chargeDeclined`...)
//    and alone decides how the card behaves. Attempts are counted per (idempotency key, token): `x<N>` faults
//    the first N attempts. A request without an idempotency key is always attempt 1.
// 2. By rate, for every mutating request (POST), from a seeded PRNG so a run is reproducible.
//
// The server applies a plan: rejections (500/429) before the idempotency layer, so they store nothing;
// latency while the key is claimed (a concurrent retry gets a 409); drops after the response exists
// (stored under the key), so a retry gets it replayed.

export const FAULT_KINDS = ['latency', 'error500', 'ratelimit', 'lost', 'timeout'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
export type FaultSource = 'token' | 'rate';
export type RejectFault = 'error500' | 'ratelimit';
export type DropFault = 'lost' | 'timeout';

export const MAX_LATENCY_MS = 600_000;

export type TokenFault = { kind: 'latency'; ms: number } | { kind: RejectFault | DropFault; times: number | 'always' };

export interface FaultToken {
  /** The token as sent, e.g. `pm_card_visa_lostx1`. */
  token: string;
  /** The test token that decides the card behaviour, e.g. `pm_card_visa`. */
  base: string;
  fault: TokenFault;
}

const FAULT_SUFFIX = /^(.+)_(?:latency(0|[1-9]\d{0,5})|(error500|ratelimit|lost|timeout)(?:x([1-9]\d{0,5})|(always)))$/;

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
    kind: kind as RejectFault | DropFault,
    times: times === undefined ? 'always' : Number(times),
  };
  return { token, base, fault };
}

/** Rate-based faults. Rates are probabilities in [0, 1]; `latency_ms` applies to every mutating request. */
export interface FaultConfig {
  latency_ms: number;
  error500_rate: number;
  ratelimit_rate: number;
  lost_rate: number;
  timeout_rate: number;
  /** PRNG seed (unsigned 32-bit integer); setting a config restarts the sequence from it. */
  seed: number;
}

const RATE_FIELDS = ['error500_rate', 'ratelimit_rate', 'lost_rate', 'timeout_rate'] as const;
const CONFIG_FIELDS = ['latency_ms', ...RATE_FIELDS, 'seed'] as const;

export const FAULTS_OFF: Readonly<FaultConfig> = Object.freeze({
  latency_ms: 0,
  error500_rate: 0,
  ratelimit_rate: 0,
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
  /** Rate-based faults apply to mutating requests only. */
  mutating: boolean;
}

export interface FaultPlan {
  request: FaultRequest;
  /** Answer with an error before executing (nothing is charged or stored). */
  reject?: PlannedFault<RejectFault>;
  /** Delays before executing (only when the request executes, not when it is replayed). */
  latency: PlannedFault<'latency'>[];
  /** Drop the response once it exists. Never set together with reject. */
  drop?: PlannedFault<DropFault>;
}

export class FaultInjector {
  private config: FaultConfig = { ...FAULTS_OFF };
  private random = mulberry32(FAULTS_OFF.seed);
  private readonly log: InjectedFault[] = [];
  private readonly attempts = new Map<string, number>();

  constructor(private readonly now: () => number) {}

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

  /** Config off, log and attempt counters cleared. */
  reset(): void {
    this.configure({});
    this.log.length = 0;
    this.attempts.clear();
  }

  /** Decides the faults of one request. Mutating requests always take four PRNG draws, hit or not. */
  plan(request: FaultRequest): FaultPlan {
    const plan: FaultPlan = { request, latency: [] };
    const token = this.tokenFault(request);
    const draws = request.mutating ? [this.random(), this.random(), this.random(), this.random()] : undefined;

    if (token?.kind === 'error500' || token?.kind === 'ratelimit') {
      plan.reject = { fault: token.kind, source: 'token', attempt: token.attempt };
    } else if (draws && (draws[0] ?? 1) < this.config.ratelimit_rate) {
      plan.reject = { fault: 'ratelimit', source: 'rate' };
    } else if (draws && (draws[1] ?? 1) < this.config.error500_rate) {
      plan.reject = { fault: 'error500', source: 'rate' };
    }
    if (plan.reject) return plan;

    if (token?.kind === 'latency') {
      plan.latency.push({ fault: 'latency', source: 'token', attempt: token.attempt, latencyMs: token.ms });
    }
    if (request.mutating && this.config.latency_ms > 0) {
      plan.latency.push({ fault: 'latency', source: 'rate', latencyMs: this.config.latency_ms });
    }

    if (token?.kind === 'lost' || token?.kind === 'timeout') {
      plan.drop = { fault: token.kind, source: 'token', attempt: token.attempt };
    } else if (draws && (draws[2] ?? 1) < this.config.lost_rate) {
      plan.drop = { fault: 'lost', source: 'rate' };
    } else if (draws && (draws[3] ?? 1) < this.config.timeout_rate) {
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

  /** The token's fault if active for this attempt (counting the attempt either way). */
  private tokenFault(
    request: FaultRequest,
  ): ({ attempt: number } & ({ kind: 'latency'; ms: number } | { kind: RejectFault | DropFault })) | undefined {
    const { token } = request;
    if (!token) return undefined;
    let attempt = 1;
    if (request.idempotencyKey !== undefined) {
      const counter = [request.scope, request.idempotencyKey, token.token].join('\u0000');
      attempt = (this.attempts.get(counter) ?? 0) + 1;
      this.attempts.set(counter, attempt);
    }
    const { fault } = token;
    if (fault.kind === 'latency') return { kind: 'latency', ms: fault.ms, attempt };
    if (fault.times !== 'always' && attempt > fault.times) return undefined;
    return { kind: fault.kind, attempt };
  }
}

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
