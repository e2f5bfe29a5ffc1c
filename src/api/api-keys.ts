/**
 * API secret keys: `mpk_<key id>_<secret>`, each with scopes. Only a salted SHA-256 hash of the secret is stored,
 * under the key id; the plaintext is shown once, when the key is issued.
 *
 * Why a fast hash: the secret is 256 random bits, not a password. Nobody can guess it or try a dictionary of
 * likely values against a stolen hash, so a slow hash (scrypt) buys nothing and makes every refusal of a wrong
 * secret cost tens of milliseconds of CPU: an easy way to exhaust the authorizer. A per-key salt keeps two keys'
 * hashes unrelated; a pepper (an HMAC key kept in Secrets Manager) would add a secret to fetch, rotate and lose,
 * and protects nothing more when the secrets themselves cannot be brute-forced.
 *
 * Keys stored with scrypt (`algorithm: 'scrypt-N16384-r8-p1'`, before scopes) still verify, and are re-hashed with
 * SHA-256 on their first successful use (a conditional write: only if the stored hash is still that scrypt one).
 *
 * Refusals stay cheap: a refused key (by the SHA-256 fingerprint of the whole presented string) is refused again
 * without a read for a short while, and a known key's record is kept for a minute (the window a revocation already
 * took with the cache of verified keys), so a flood of wrong secrets for a known key id costs one SHA-256 each and no
 * read. Both caches are bounded.
 */
import { createHash, randomBytes, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { logger } from '../core/observability';

const scrypt = promisify(scryptCallback) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;
const KEY_FORMAT = /^mpk_([a-f0-9]{16})_([A-Za-z0-9_-]{43})$/;
const KEY_ID_FORMAT = /^[a-f0-9]{16}$/;
const HASH_BYTES = 32;
const SALT_BYTES = 16;

/** The hash of keys issued now: SHA-256 over the key's 16-byte salt followed by the secret. */
export const KEY_ALGORITHM = 'sha256-salted';
/** The hash of keys issued before scopes (still verified; re-hashed on first use). */
export const LEGACY_KEY_ALGORITHM = 'scrypt-N16384-r8-p1';

/** What a key may do. `admin` implies every other scope. */
export const SCOPES = [
  'payments:write',
  'payments:read',
  'reviews:write',
  'refunds:write',
  'payouts:write',
  'payouts:read',
  'sellers:write',
  'sellers:read',
  'reconciliation:read',
  'reconciliation:write',
  'admin',
] as const;
export type Scope = (typeof SCOPES)[number];

export const isScope = (value: string): value is Scope => (SCOPES as readonly string[]).includes(value);

/** Whether keys with these scopes may do what `needed` allows. */
export function hasScope(granted: readonly string[], needed: Scope): boolean {
  return granted.includes('admin') || granted.includes(needed);
}

/** Parses a list of scopes (`payments:read,reviews:write`, commas or spaces); throws naming an unknown one. */
export function parseScopes(text: string): Scope[] {
  const names = text.split(/[\s,]+/).filter(Boolean);
  const unknown = names.find((name) => !isScope(name));
  if (unknown !== undefined) throw new Error(`unknown scope '${unknown}'; the scopes are: ${SCOPES.join(', ')}`);
  return [...new Set(names as Scope[])];
}

/** The scopes as one authorizer context value (API Gateway context values are strings, numbers or booleans). */
export const scopesToContext = (scopes: readonly Scope[]): string => scopes.join(' ');

/** The scopes of an authorizer context value; anything else (no value, a non-string) grants nothing. */
export function scopesFromContext(value: unknown): Scope[] {
  if (typeof value !== 'string') return [];
  return value.split(/[\s,]+/).filter(isScope);
}

export interface ApiPrincipal {
  keyId: string;
  /** What the key may do; empty for a key stored before scopes existed (it may do nothing). */
  scopes: Scope[];
}

/** What `list` shows of a key: never its hash or salt. */
export interface ApiKeySummary {
  key_id: string;
  label: string;
  scopes: Scope[];
  created_at: string;
  revoked: boolean;
  revoked_at?: string;
  algorithm: string;
}

interface KeyRecord {
  keyId: string;
  scopes: Scope[];
  revoked: boolean;
  algorithm: string;
  salt: Buffer;
  hash: Buffer;
}

export interface ApiKeysOptions {
  /** How long a key's record is kept after a read; a revocation takes this long to reach a warm function. */
  recordCacheMs?: number;
  /** How long a refused key (by fingerprint) is refused again without a read or a hash of its secret. */
  refusedCacheMs?: number;
  /** Bounds of the two caches (the oldest entry goes first). */
  maxRecords?: number;
  maxRefused?: number;
  /** The clock (tests). */
  now?: () => number;
}

/** A map with a size bound (the oldest entry is dropped first) whose entries expire. */
class ExpiringCache<V> {
  private readonly entries = new Map<string, { value: V; expiresAt: number }>();

  constructor(private readonly max: number) {}

  get(key: string, now: number): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt > now) return entry.value;
    this.entries.delete(key);
    return undefined;
  }

  set(key: string, value: V, expiresAt: number): void {
    if (this.max <= 0) return;
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt });
    while (this.entries.size > this.max) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}

const sha256 = (salt: Buffer, secret: string): Buffer => createHash('sha256').update(salt).update(secret).digest();

const fingerprintOf = (presented: string): string => createHash('sha256').update(presented).digest('base64url');

function storedScopes(value: unknown): Scope[] {
  return Array.isArray(value) ? value.filter((s): s is Scope => typeof s === 'string' && isScope(s)) : [];
}

function toRecord(keyId: string, item: Record<string, unknown>): KeyRecord {
  return {
    keyId,
    scopes: storedScopes(item.scopes),
    revoked: item.revoked === true,
    algorithm: String(item.algorithm ?? LEGACY_KEY_ALGORITHM),
    salt: Buffer.from(String(item.salt ?? ''), 'base64'),
    hash: Buffer.from(String(item.hash ?? ''), 'base64'),
  };
}

const sameBytes = (a: Buffer, b: Buffer) => a.length === b.length && timingSafeEqual(a, b);

export class ApiKeys {
  private readonly records: ExpiringCache<KeyRecord>;
  private readonly refused: ExpiringCache<true>;
  /** Reads in flight, by key id: concurrent requests for one key wait for one read. */
  private readonly reading = new Map<string, Promise<KeyRecord | undefined>>();
  private readonly recordCacheMs: number;
  private readonly refusedCacheMs: number;
  private readonly now: () => number;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    options: ApiKeysOptions = {},
  ) {
    this.recordCacheMs = options.recordCacheMs ?? 60_000;
    this.refusedCacheMs = options.refusedCacheMs ?? 30_000;
    this.records = new ExpiringCache(options.maxRecords ?? 1_000);
    this.refused = new ExpiringCache(options.maxRefused ?? 10_000);
    this.now = options.now ?? Date.now;
  }

  /**
   * Creates a key with these scopes and returns its plaintext: the only time it exists outside the caller.
   * `preset` registers (or re-registers, replacing its record) a given key instead: a fixed dev key.
   */
  async issue(
    label: string,
    options: { scopes: readonly Scope[]; preset?: string },
  ): Promise<{ keyId: string; secretKey: string; scopes: Scope[] }> {
    const { preset } = options;
    const scopes = [...new Set(options.scopes)];
    if (scopes.length === 0) throw new Error('a key needs at least one scope');
    const unknown = scopes.find((scope) => !isScope(scope));
    if (unknown !== undefined) throw new Error(`unknown scope '${unknown}'`);
    const match = preset === undefined ? undefined : KEY_FORMAT.exec(preset);
    if (preset !== undefined && !match) throw new Error('a preset API key must look like mpk_<16 hex>_<43 base64url>');
    const keyId = match?.[1] ?? randomBytes(8).toString('hex');
    const secret = match?.[2] ?? randomBytes(32).toString('base64url');
    const salt = randomBytes(SALT_BYTES);
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          pk: `KEY#${keyId}`,
          key_id: keyId,
          label,
          scopes,
          salt: salt.toString('base64'),
          hash: sha256(salt, secret).toString('base64'),
          algorithm: KEY_ALGORITHM,
          created_at: new Date(this.now()).toISOString(),
          revoked: false,
        },
        ConditionExpression: preset === undefined ? 'attribute_not_exists(pk)' : undefined,
      }),
    );
    this.records.delete(keyId);
    if (preset !== undefined) this.refused.delete(fingerprintOf(preset));
    return { keyId, secretKey: `mpk_${keyId}_${secret}`, scopes };
  }

  /** The principal of a valid, unrevoked key, or undefined. Never throws on bad input (a failed read throws). */
  async verify(presented: string | undefined): Promise<ApiPrincipal | undefined> {
    const match = presented ? KEY_FORMAT.exec(presented) : null;
    if (!presented || !match) return undefined;
    const [, keyId = '', secret = ''] = match;
    const fingerprint = fingerprintOf(presented);
    if (this.refused.get(fingerprint, this.now())) return undefined;
    const record = await this.record(keyId);
    const principal = record && !record.revoked ? await this.check(record, secret) : undefined;
    if (!principal) this.refused.set(fingerprint, true, this.now() + this.refusedCacheMs);
    return principal;
  }

  /** Every key, oldest first, without hashes. */
  async list(): Promise<ApiKeySummary[]> {
    const keys: ApiKeySummary[] = [];
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(
        new ScanCommand({
          TableName: this.tableName,
          ProjectionExpression: 'key_id, label, scopes, created_at, revoked, revoked_at, algorithm',
          ExclusiveStartKey,
        }),
      );
      for (const item of page.Items ?? []) {
        if (typeof item.key_id !== 'string') continue;
        keys.push({
          key_id: item.key_id,
          label: String(item.label ?? ''),
          scopes: storedScopes(item.scopes),
          created_at: String(item.created_at ?? ''),
          revoked: item.revoked === true,
          ...(typeof item.revoked_at === 'string' ? { revoked_at: item.revoked_at } : {}),
          algorithm: String(item.algorithm ?? LEGACY_KEY_ALGORITHM),
        });
      }
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
    return keys.sort((a, b) => a.created_at.localeCompare(b.created_at) || a.key_id.localeCompare(b.key_id));
  }

  /** Revokes a key for good; false when there is no such key. Warm functions notice within `recordCacheMs`. */
  async revoke(keyIdOrKey: string): Promise<boolean> {
    // A whole key (pasted when revoking a leaked one) names its id; the argument itself is never echoed.
    const keyId = KEY_FORMAT.exec(keyIdOrKey)?.[1] ?? keyIdOrKey;
    if (!KEY_ID_FORMAT.test(keyId)) throw new Error('not a key id (16 hex digits) nor a key (mpk_<id>_<secret>)');
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: `KEY#${keyId}` },
          UpdateExpression: 'SET revoked = :true, revoked_at = :now',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':true': true, ':now': new Date(this.now()).toISOString() },
        }),
      );
    } catch (error) {
      if ((error as Error).name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
    this.records.delete(keyId);
    return true;
  }

  /** The key's record: from the cache, or read (one read at a time per key id). Unknown ids are not cached. */
  private async record(keyId: string): Promise<KeyRecord | undefined> {
    const cached = this.records.get(keyId, this.now());
    if (cached) return cached;
    let read = this.reading.get(keyId);
    if (!read) {
      read = this.read(keyId).finally(() => this.reading.delete(keyId));
      this.reading.set(keyId, read);
    }
    return read;
  }

  private async read(keyId: string): Promise<KeyRecord | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: { pk: `KEY#${keyId}` }, ConsistentRead: true }),
    );
    if (!Item) return undefined;
    const record = toRecord(keyId, Item);
    this.records.set(keyId, record, this.now() + this.recordCacheMs);
    return record;
  }

  private async check(record: KeyRecord, secret: string): Promise<ApiPrincipal | undefined> {
    if (record.algorithm === KEY_ALGORITHM) {
      return sameBytes(record.hash, sha256(record.salt, secret))
        ? { keyId: record.keyId, scopes: record.scopes }
        : undefined;
    }
    if (record.algorithm !== LEGACY_KEY_ALGORITHM) {
      logger.error('API key stored with an unknown hash algorithm', {
        key_id: record.keyId,
        algorithm: record.algorithm,
      });
      return undefined;
    }
    // A legacy key without scopes can do nothing: refused before scrypt (~40 ms of CPU, and the refusal cache keys on
    // the whole presented secret), so a flood of guesses at a legacy key id costs no more than at any other.
    if (record.scopes.length === 0) return undefined;
    if (!sameBytes(record.hash, await scrypt(secret, record.salt, HASH_BYTES))) return undefined;
    await this.rehash(record, secret);
    return { keyId: record.keyId, scopes: record.scopes };
  }

  /**
   * Replaces a verified scrypt hash by a SHA-256 one, only if the stored hash is still that scrypt one (another
   * function may have re-hashed it, or the key been re-issued). Best effort: a failed write leaves the scrypt hash,
   * which still verifies, and is tried again on the next cold read.
   */
  private async rehash(record: KeyRecord, secret: string): Promise<void> {
    const salt = randomBytes(SALT_BYTES);
    const hash = sha256(salt, secret);
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: `KEY#${record.keyId}` },
          UpdateExpression: 'SET #algorithm = :algorithm, #salt = :salt, #hash = :hash, rehashed_at = :now',
          ConditionExpression: '#algorithm = :legacy AND #hash = :legacyHash',
          ExpressionAttributeNames: { '#algorithm': 'algorithm', '#salt': 'salt', '#hash': 'hash' },
          ExpressionAttributeValues: {
            ':algorithm': KEY_ALGORITHM,
            ':salt': salt.toString('base64'),
            ':hash': hash.toString('base64'),
            ':now': new Date(this.now()).toISOString(),
            ':legacy': LEGACY_KEY_ALGORITHM,
            ':legacyHash': record.hash.toString('base64'),
          },
        }),
      );
      this.records.set(
        record.keyId,
        { ...record, algorithm: KEY_ALGORITHM, salt, hash },
        this.now() + this.recordCacheMs,
      );
    } catch (error) {
      // Read again next time: what is stored now (re-hashed elsewhere, re-issued, revoked) decides.
      this.records.delete(record.keyId);
      if ((error as Error).name !== 'ConditionalCheckFailedException') {
        logger.warn('could not re-hash a legacy API key; it keeps its scrypt hash for now', {
          key_id: record.keyId,
          error: (error as Error).name,
        });
      }
    }
  }
}

/** The bearer token of an `Authorization` header value, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = header ? /^Bearer\s+(\S+)$/i.exec(header.trim()) : null;
  return match?.[1];
}
