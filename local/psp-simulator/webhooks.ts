// Webhook delivery to one endpoint, signed as Stripe signs:
//   Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
// so `stripe.webhooks.constructEvent(rawBody, header, secret)` accepts it. The body of an event is
// fixed when the event is created; every delivery (retries, duplicates, resends) sends the same bytes,
// freshly signed.
//
// Pipeline for each new event:  paused? (held) -> reorder buffer? -> duplicate N times -> delay_ms ->
// send queue (`concurrency` in flight, 1 by default so arrival order is the send order) -> attempt.
// A non-2xx answer or a connection error is retried after retry_base_ms * 2^(attempt-1), up to
// max_attempts. Every attempt is recorded. Manual sends (resend, send with an old timestamp) are one
// attempt each, bypass the behaviour settings, and are recorded too.

import { createHmac } from 'node:crypto';
import { type ClientRequest, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { StoredEvent } from './events';
import { newId, randomAlphanumeric } from './ids';
import { isApiVersion } from './versions';

export function signPayload(payload: string, secret: string, timestamp: number): string {
  const signature = createHmac('sha256', secret).update(`${timestamp}.${payload}`, 'utf8').digest('hex');
  return `t=${timestamp},v1=${signature}`;
}

export function newWebhookSecret(): string {
  return `whsec_${randomAlphanumeric(32)}`;
}

export interface WebhookEndpoint {
  url: string;
  secret: string;
  /**
   * The API version its events are rendered in (Stripe's endpoint `api_version`). Absent: the account's default
   * version (ACCOUNT_API_VERSION, the SDK's pinned one), as an endpoint without a version has on Stripe.
   */
  apiVersion?: string;
}

export interface WebhookBehaviour {
  /** Deliveries per event (1: each event once; 3: each event three times). 1..10. */
  duplicate: number;
  /** Hold each new event this long before its first attempt. */
  delay_ms: number;
  /** Buffer new events and deliver each batch newest first. */
  reorder: boolean;
  /** A reorder batch is flushed once it holds this many events (2..1000)... */
  reorder_window: number;
  /** ...or this long after its first event arrived. */
  reorder_ms: number;
  /** Queue everything (retries included), send nothing until unpaused. */
  paused: boolean;
  /** Backoff before attempt n+1 is retry_base_ms * 2^(n-1). */
  retry_base_ms: number;
  /** Automatic attempts per delivery, the first included (1..20). */
  max_attempts: number;
  /** An attempt without a response after this long counts as failed. */
  timeout_ms: number;
  /** Attempts in flight at once (1..50). */
  concurrency: number;
}

export const DEFAULT_RETRY_BASE_MS = 1000;
export const DEFAULT_MAX_ATTEMPTS = 8;
const MAX_MS = 600_000;

export function defaultBehaviour(overrides: Partial<WebhookBehaviour> = {}): WebhookBehaviour {
  return {
    duplicate: 1,
    delay_ms: 0,
    reorder: false,
    reorder_window: 10,
    reorder_ms: 500,
    paused: false,
    retry_base_ms: DEFAULT_RETRY_BASE_MS,
    max_attempts: DEFAULT_MAX_ATTEMPTS,
    timeout_ms: 10_000,
    concurrency: 1,
    ...overrides,
  };
}

export class WebhookConfigError extends Error {}

const INTEGER_LIMITS: Record<Exclude<keyof WebhookBehaviour, 'reorder' | 'paused'>, [number, number]> = {
  duplicate: [1, 10],
  delay_ms: [0, MAX_MS],
  reorder_window: [2, 1000],
  reorder_ms: [0, MAX_MS],
  retry_base_ms: [0, MAX_MS],
  max_attempts: [1, 20],
  timeout_ms: [1, MAX_MS],
  concurrency: [1, 50],
};

/** Validates a partial behaviour (unknown fields and out-of-range values are refused). */
export function parseBehaviour(input: unknown): Partial<WebhookBehaviour> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new WebhookConfigError('The webhook behaviour must be a JSON object.');
  }
  const fields = input as Record<string, unknown>;
  const known = [...Object.keys(INTEGER_LIMITS), 'reorder', 'paused'];
  const parsed: Partial<WebhookBehaviour> = {};
  for (const [name, value] of Object.entries(fields)) {
    if (!known.includes(name)) {
      throw new WebhookConfigError(`Unknown webhook behaviour '${name}' (known: ${known.join(', ')}).`);
    }
    if (name === 'reorder' || name === 'paused') {
      if (typeof value !== 'boolean') throw new WebhookConfigError(`${name} must be a boolean.`);
      parsed[name] = value;
      continue;
    }
    const [min, max] = INTEGER_LIMITS[name as keyof typeof INTEGER_LIMITS];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new WebhookConfigError(`${name} must be an integer from ${min} to ${max}.`);
    }
    parsed[name as keyof typeof INTEGER_LIMITS] = value;
  }
  return parsed;
}

export type DeliveryTrigger = 'automatic' | 'resend' | 'send';

/** One delivery attempt. Never holds the body or the secret. */
export interface WebhookDelivery {
  id: string;
  event_id: string;
  type: string;
  trigger: DeliveryTrigger;
  /** Which copy of the event (1..duplicate); 1 for manual sends. */
  copy: number;
  /** 1-based attempt of this copy. */
  attempt: number;
  url: string;
  /** The `t=` of the Stripe-Signature header sent. */
  signature_timestamp: number;
  /** HTTP status of the answer, or null when there was none (see error). */
  status: number | null;
  error: string | null;
  succeeded: boolean;
  /** ISO 8601 time the attempt started. */
  at: string;
  duration_ms: number;
  /** For a failed automatic attempt: when the next one is due (ISO 8601), or null when given up. */
  next_attempt_at: string | null;
}

export interface ManualSend {
  /** Added to the current time for the signature's `t=` (negative: an old, stale signature). */
  timestampOffsetS?: number;
  /** Sign with this secret instead of the endpoint's (a bad signature). */
  secret?: string;
  /** Change the body after signing it (a tampered body). */
  tamper?: boolean;
}

interface Job {
  stored: StoredEvent;
  copy: number;
  attempt: number;
}

type Held = { kind: 'event'; stored: StoredEvent } | { kind: 'job'; job: Job };

interface Outcome {
  status: number | null;
  error: string | null;
}

export class WebhookDispatcher {
  private endpoint: WebhookEndpoint | undefined;
  private behaviour: WebhookBehaviour;
  private readonly log: WebhookDelivery[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly requests = new Set<ClientRequest>();
  private held: Held[] = [];
  private reorderBuffer: StoredEvent[] = [];
  private reorderTimer: NodeJS.Timeout | undefined;
  private readonly queue: Job[] = [];
  private inFlight = 0;
  private closed = false;
  /** Bumped by cancelAll: attempts started before it record nothing and schedule nothing. */
  private generation = 0;

  constructor(
    private readonly initialEndpoint: WebhookEndpoint | undefined,
    private readonly initialBehaviour: WebhookBehaviour,
    private readonly now: () => number,
    private readonly findEvent: (id: string) => StoredEvent | undefined,
    private readonly onDelivered: (eventId: string) => void,
  ) {
    this.endpoint = initialEndpoint && { ...initialEndpoint };
    this.behaviour = { ...initialBehaviour };
  }

  currentEndpoint(): WebhookEndpoint | undefined {
    return this.endpoint && { ...this.endpoint };
  }

  /**
   * Sets (or with url null, removes) the endpoint; pending deliveries go to the new one. An omitted secret or API
   * version keeps the current one; an API version null goes back to the account's default. Events already
   * created keep the version they were rendered in (their body never changes).
   */
  setEndpoint(url: string | null, secret?: string, apiVersion?: string | null): WebhookEndpoint | undefined {
    if (url === null) {
      this.endpoint = undefined;
      return undefined;
    }
    assertHttpUrl(url);
    if (typeof apiVersion === 'string') assertApiVersion(apiVersion);
    const version = apiVersion === undefined ? this.endpoint?.apiVersion : (apiVersion ?? undefined);
    this.endpoint = {
      url,
      secret: secret ?? this.endpoint?.secret ?? newWebhookSecret(),
      ...(version !== undefined && { apiVersion: version }),
    };
    return this.currentEndpoint();
  }

  /** The API version new events are rendered in for the endpoint; undefined without an endpoint. */
  endpointApiVersion(): string | undefined {
    return this.endpoint?.apiVersion;
  }

  endpointCount(): number {
    return this.endpoint ? 1 : 0;
  }

  currentBehaviour(): WebhookBehaviour {
    return { ...this.behaviour };
  }

  /** Merges a partial behaviour. Unpausing releases what was held; turning reorder off flushes the buffer. */
  configure(input: unknown): WebhookBehaviour {
    const changes = parseBehaviour(input);
    const wasPaused = this.behaviour.paused;
    this.behaviour = { ...this.behaviour, ...changes };
    if (!this.behaviour.reorder && this.reorderBuffer.length > 0) this.flushReorder();
    if (wasPaused && !this.behaviour.paused) this.release();
    this.pump();
    return this.currentBehaviour();
  }

  /** Back to the startup behaviour. */
  resetBehaviour(): WebhookBehaviour {
    this.configure({ ...this.initialBehaviour });
    return this.currentBehaviour();
  }

  deliveries(): WebhookDelivery[] {
    return this.log.map((entry) => ({ ...entry }));
  }

  /** Events and attempts not yet finished: held, buffered, waiting for a timer, queued or in flight. */
  pending(): number {
    const waiting = this.timers.size - (this.reorderTimer ? 1 : 0);
    return this.held.length + this.reorderBuffer.length + waiting + this.queue.length + this.inFlight;
  }

  /** A new event from the store. */
  enqueue(stored: StoredEvent): void {
    if (this.closed || !this.endpoint) return;
    if (this.behaviour.paused) {
      this.held.push({ kind: 'event', stored });
      return;
    }
    this.stage(stored);
  }

  /** Delivers an existing event once more: same id and body, a fresh signature. */
  async resend(eventId: string): Promise<WebhookDelivery> {
    return this.sendNow(this.requireEvent(eventId), 'resend', {});
  }

  /** One delivery with options for negative tests (old timestamp, wrong secret, tampered body). */
  async send(eventId: string, options: ManualSend): Promise<WebhookDelivery> {
    return this.sendNow(this.requireEvent(eventId), 'send', options);
  }

  /** Stops every timer and request; nothing is sent afterwards. */
  close(): void {
    this.closed = true;
    this.cancelAll();
  }

  /** Cancels pending deliveries, forgets the log, restores the startup endpoint and behaviour. */
  reset(): void {
    this.cancelAll();
    this.log.length = 0;
    this.endpoint = this.initialEndpoint && { ...this.initialEndpoint };
    this.behaviour = { ...this.initialBehaviour };
  }

  private cancelAll(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.reorderTimer = undefined;
    for (const request of this.requests) request.destroy();
    this.requests.clear();
    this.held = [];
    this.reorderBuffer = [];
    this.queue.length = 0;
    this.inFlight = 0;
    // Attempts already in flight see `generation` changed and record nothing more.
    this.generation += 1;
  }

  private requireEvent(eventId: string): StoredEvent {
    const stored = this.findEvent(eventId);
    if (!stored) throw new WebhookConfigError(`No such event: '${eventId}'`);
    return stored;
  }

  private stage(stored: StoredEvent): void {
    if (!this.behaviour.reorder) {
      this.fanOut([stored]);
      return;
    }
    this.reorderBuffer.push(stored);
    if (this.reorderBuffer.length >= this.behaviour.reorder_window) {
      this.flushReorder();
    } else if (!this.reorderTimer) {
      this.reorderTimer = this.after(this.behaviour.reorder_ms, () => {
        this.reorderTimer = undefined;
        this.flushReorder();
      });
    }
  }

  private flushReorder(): void {
    if (this.reorderTimer) {
      clearTimeout(this.reorderTimer);
      this.timers.delete(this.reorderTimer);
      this.reorderTimer = undefined;
    }
    const batch = this.reorderBuffer.reverse();
    this.reorderBuffer = [];
    this.fanOut(batch);
  }

  private fanOut(events: StoredEvent[]): void {
    const { duplicate, delay_ms: delayMs } = this.behaviour;
    for (const stored of events) {
      for (let copy = 1; copy <= duplicate; copy++) {
        const job: Job = { stored, copy, attempt: 1 };
        if (delayMs > 0) this.after(delayMs, () => this.ready(job));
        else this.ready(job);
      }
    }
  }

  private ready(job: Job): void {
    if (this.closed) return;
    if (this.behaviour.paused) {
      this.held.push({ kind: 'job', job });
      return;
    }
    this.queue.push(job);
    this.pump();
  }

  private release(): void {
    const held = this.held;
    this.held = [];
    for (const item of held) {
      if (item.kind === 'event') this.stage(item.stored);
      else this.ready(item.job);
    }
  }

  private pump(): void {
    while (!this.closed && !this.behaviour.paused && this.inFlight < this.behaviour.concurrency) {
      const job = this.queue.shift();
      if (!job) return;
      this.inFlight += 1;
      const generation = this.generation;
      void this.attempt(job).finally(() => {
        if (generation !== this.generation) return;
        this.inFlight -= 1;
        this.pump();
      });
    }
  }

  private async attempt(job: Job): Promise<void> {
    const endpoint = this.endpoint;
    if (!endpoint) return;
    const generation = this.generation;
    const startedMs = this.now();
    const timestamp = Math.floor(startedMs / 1000);
    const outcome = await this.post(
      endpoint.url,
      job.stored.payload,
      signPayload(job.stored.payload, endpoint.secret, timestamp),
    );
    if (this.closed || generation !== this.generation) return;
    const succeeded = isSuccess(outcome);
    let nextAttemptAt: string | null = null;
    if (succeeded) {
      this.onDelivered(job.stored.event.id);
    } else if (job.attempt < this.behaviour.max_attempts) {
      const backoffMs = this.behaviour.retry_base_ms * 2 ** (job.attempt - 1);
      nextAttemptAt = new Date(this.now() + backoffMs).toISOString();
      this.after(backoffMs, () => this.ready({ ...job, attempt: job.attempt + 1 }));
    }
    this.record(
      job.stored,
      'automatic',
      job.copy,
      job.attempt,
      endpoint.url,
      timestamp,
      startedMs,
      outcome,
      nextAttemptAt,
    );
  }

  private async sendNow(stored: StoredEvent, trigger: DeliveryTrigger, options: ManualSend): Promise<WebhookDelivery> {
    const endpoint = this.endpoint;
    if (!endpoint) throw new WebhookConfigError('No webhook endpoint is configured.');
    if (this.closed) throw new WebhookConfigError('The simulator is closed.');
    const startedMs = this.now();
    const timestamp = Math.floor(startedMs / 1000) + (options.timestampOffsetS ?? 0);
    const header = signPayload(stored.payload, options.secret ?? endpoint.secret, timestamp);
    const body = options.tamper ? tamper(stored.payload) : stored.payload;
    const outcome = await this.post(endpoint.url, body, header);
    // A correctly signed manual send that was accepted counts as delivered.
    if (isSuccess(outcome) && !options.secret && !options.tamper && !options.timestampOffsetS) {
      this.onDelivered(stored.event.id);
    }
    return this.record(stored, trigger, 1, 1, endpoint.url, timestamp, startedMs, outcome, null);
  }

  private record(
    stored: StoredEvent,
    trigger: DeliveryTrigger,
    copy: number,
    attempt: number,
    url: string,
    timestamp: number,
    startedMs: number,
    outcome: Outcome,
    nextAttemptAt: string | null,
  ): WebhookDelivery {
    const entry: WebhookDelivery = {
      id: newId('whdel', 16),
      event_id: stored.event.id,
      type: stored.event.type,
      trigger,
      copy,
      attempt,
      url,
      signature_timestamp: timestamp,
      status: outcome.status,
      error: outcome.error,
      succeeded: isSuccess(outcome),
      at: new Date(startedMs).toISOString(),
      duration_ms: Math.max(0, this.now() - startedMs),
      next_attempt_at: nextAttemptAt,
    };
    this.log.push(entry);
    return { ...entry };
  }

  private after(ms: number, fn: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.closed) fn();
    }, ms);
    this.timers.add(timer);
    return timer;
  }

  /** POSTs the body; resolves with the status or the connection error (never rejects). */
  private post(url: string, body: string, signature: string): Promise<Outcome> {
    return new Promise((resolve) => {
      let settled = false;
      const finish = (outcome: Outcome) => {
        if (settled) return;
        settled = true;
        this.requests.delete(req);
        resolve(outcome);
      };
      const target = new URL(url);
      const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
      const req = send(
        target,
        {
          method: 'POST',
          // A fresh connection per attempt: nothing lingers after close().
          agent: false,
          headers: {
            'Content-Type': 'application/json; charset=utf-8',
            'Content-Length': Buffer.byteLength(body),
            'Cache-Control': 'no-cache',
            Accept: '*/*; q=0.5, application/xml',
            'User-Agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
            'Stripe-Signature': signature,
          },
          timeout: this.behaviour.timeout_ms,
        },
        (res) => {
          res.resume();
          res.on('end', () => finish({ status: res.statusCode ?? null, error: null }));
          res.on('error', () => finish({ status: res.statusCode ?? null, error: null }));
        },
      );
      this.requests.add(req);
      req.on('timeout', () => req.destroy(new Error(`timed out after ${this.behaviour.timeout_ms} ms`)));
      req.on('error', (error: NodeJS.ErrnoException) => finish({ status: null, error: error.code ?? error.message }));
      req.end(body);
    });
  }
}

function isSuccess(outcome: Outcome): boolean {
  return outcome.status !== null && outcome.status >= 200 && outcome.status < 300;
}

/** The same event with its object's metadata changed: what an attacker editing the body would send. */
function tamper(payload: string): string {
  const event = JSON.parse(payload) as { data: { object: Record<string, unknown> } };
  const object = event.data.object;
  object.metadata = { ...((object.metadata as Record<string, string> | null) ?? {}), tampered: 'true' };
  if (typeof object.amount === 'number') object.amount += 100;
  return JSON.stringify(event, null, 2);
}

export function assertHttpUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new WebhookConfigError(`Invalid webhook URL: ${url}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new WebhookConfigError(`The webhook URL must be http or https: ${url}`);
  }
}

export function assertApiVersion(version: string): void {
  if (!isApiVersion(version)) {
    throw new WebhookConfigError(`Invalid API version '${version}' (expected YYYY-MM-DD or YYYY-MM-DD.<release>).`);
  }
}
