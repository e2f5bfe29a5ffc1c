// Stripe's idempotency layer: the first request under a key stores its status code and body, whatever they
// are (500s included) once the endpoint started executing; a retry with the same key and the same request gets
// them replayed; a different request under the key is refused; a retry while the first is still executing gets
// a 409. Keys are scoped to the API key and expire 24 hours after first use.

export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
export const IDEMPOTENCY_KEY_MAX_LENGTH = 255;
const SWEEP_INTERVAL_MS = 60 * 1000;

/** What makes two requests "the same": method and path (the endpoint) and the canonical parameters. */
export interface RequestFingerprint {
  endpoint: string;
  params: string;
}

export interface StoredResponse {
  status: number;
  body: string;
  requestId: string;
}

interface Entry {
  fingerprint: RequestFingerprint;
  createdAtMs: number;
  response?: StoredResponse;
}

export type BeginOutcome =
  | { outcome: 'acquired'; complete(response: StoredResponse): void; release(): void }
  | { outcome: 'replay'; response: StoredResponse }
  | { outcome: 'in_progress' }
  | { outcome: 'endpoint_mismatch'; firstEndpoint: string }
  | { outcome: 'params_mismatch' };

export class IdempotencyStore {
  private readonly entries = new Map<string, Entry>();
  private lastSweepMs: number;

  constructor(
    private readonly now: () => number,
    private readonly ttlMs = IDEMPOTENCY_TTL_MS,
  ) {
    this.lastSweepMs = now();
  }

  /** Synchronous on purpose: checking and claiming a key must not interleave with another request. */
  begin(scope: string, key: string, fingerprint: RequestFingerprint): BeginOutcome {
    this.sweepExpired();
    const storeKey = `${scope}\u0000${key}`;
    const existing = this.entries.get(storeKey);
    if (existing && !this.isExpired(existing)) return this.compare(existing, fingerprint);

    const entry: Entry = { fingerprint, createdAtMs: this.now() };
    this.entries.set(storeKey, entry);
    return {
      outcome: 'acquired',
      complete: (response) => {
        entry.response = response;
      },
      // Stripe saves nothing when a request fails validation before the endpoint starts executing.
      release: () => {
        if (this.entries.get(storeKey) === entry) this.entries.delete(storeKey);
      },
    };
  }

  size(): number {
    return this.entries.size;
  }

  private compare(entry: Entry, fingerprint: RequestFingerprint): BeginOutcome {
    if (entry.fingerprint.endpoint !== fingerprint.endpoint) {
      return { outcome: 'endpoint_mismatch', firstEndpoint: entry.fingerprint.endpoint };
    }
    if (entry.fingerprint.params !== fingerprint.params) return { outcome: 'params_mismatch' };
    if (!entry.response) return { outcome: 'in_progress' };
    return { outcome: 'replay', response: entry.response };
  }

  private isExpired(entry: Entry): boolean {
    return this.now() - entry.createdAtMs >= this.ttlMs;
  }

  private sweepExpired(): void {
    const now = this.now();
    if (now - this.lastSweepMs < SWEEP_INTERVAL_MS) return;
    this.lastSweepMs = now;
    for (const [key, entry] of this.entries) {
      if (entry.response && this.isExpired(entry)) this.entries.delete(key);
    }
  }
}
