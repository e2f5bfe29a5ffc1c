/**
 * API keys (src/api/api-keys.ts): scopes, the salted SHA-256 hash, legacy scrypt keys re-hashed on first use, and
 * the caches that keep refusals cheap (the refused-key cache by fingerprint, the key record cache), over an
 * in-memory table behind aws-sdk-client-mock. The cost of a refusal is measured by `npm run bench`, not here.
 */
import { createHash, randomBytes, scrypt as scryptCallback } from 'node:crypto';
import { promisify } from 'node:util';
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  ScanCommand,
  type ScanCommandInput,
  UpdateCommand,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import {
  ApiKeys,
  type ApiKeysOptions,
  hasScope,
  parseScopes,
  SCOPES,
  scopesFromContext,
  scopesToContext,
} from '../../src/api/api-keys';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';

const scrypt = promisify(scryptCallback) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;
const TABLE = 'api-keys';
const ddb = mockClient(DynamoDBDocumentClient);
const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));

/** The table: items by pk. */
let table: Map<string, Record<string, unknown>>;

const conditionFailed = () =>
  new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });

/** Applies the two updates ApiKeys makes (a revocation, a re-hash), honouring their conditions. */
function applyUpdate(input: UpdateCommandInput): Record<string, never> {
  const pk = String(input.Key?.pk);
  const item = table.get(pk);
  const values = input.ExpressionAttributeValues ?? {};
  if (input.ConditionExpression === 'attribute_exists(pk)') {
    if (!item) throw conditionFailed();
    table.set(pk, { ...item, revoked: values[':true'], revoked_at: values[':now'] });
    return {};
  }
  if (!item || item.algorithm !== values[':legacy'] || item.hash !== values[':legacyHash']) throw conditionFailed();
  table.set(pk, {
    ...item,
    algorithm: values[':algorithm'],
    salt: values[':salt'],
    hash: values[':hash'],
    rehashed_at: values[':now'],
  });
  return {};
}

beforeEach(() => {
  table = new Map();
  ddb.reset();
  ddb.on(PutCommand).callsFake((input) => {
    const item = input.Item as Record<string, unknown>;
    if (input.ConditionExpression && table.has(String(item.pk))) throw conditionFailed();
    table.set(String(item.pk), structuredClone(item));
    return {};
  });
  ddb.on(GetCommand).callsFake((input) => ({ Item: structuredClone(table.get(String(input.Key.pk))) }));
  ddb.on(UpdateCommand).callsFake(applyUpdate);
  ddb.on(ScanCommand).callsFake((_input: ScanCommandInput) => ({ Items: [...table.values()] }));
});

const reads = () => ddb.commandCalls(GetCommand).length;
const keys = (options: ApiKeysOptions = {}) => new ApiKeys(client, TABLE, options);
const wrongSecretFor = (keyId: string) => `mpk_${keyId}_${randomBytes(32).toString('base64url')}`;

/** A clock the test moves. */
function clock(start = Date.parse('2026-11-29T10:00:00Z')) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

/** Stores a key the way it was stored before scopes: a salted scrypt hash, no scopes. */
async function storeLegacyKey(scopes?: string[]): Promise<{ keyId: string; secretKey: string; hash: string }> {
  const keyId = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  const salt = randomBytes(16);
  const hash = (await scrypt(secret, salt, 32)).toString('base64');
  table.set(`KEY#${keyId}`, {
    pk: `KEY#${keyId}`,
    key_id: keyId,
    label: 'legacy',
    salt: salt.toString('base64'),
    hash,
    algorithm: 'scrypt-N16384-r8-p1',
    created_at: '2026-01-01T00:00:00.000Z',
    revoked: false,
    ...(scopes ? { scopes } : {}),
  });
  return { keyId, secretKey: `mpk_${keyId}_${secret}`, hash };
}

describe('Scopes', () => {
  it('admin implies every scope; any other scope only itself', () => {
    for (const scope of SCOPES) expect(hasScope(['admin'], scope)).toBe(true);
    expect(hasScope(['payments:read'], 'payments:read')).toBe(true);
    expect(hasScope(['payments:read'], 'payments:write')).toBe(false);
    expect(hasScope([], 'payments:read')).toBe(false);
  });

  it('parses a list of scopes, refusing an unknown one by name', () => {
    expect(parseScopes('payments:read,reviews:write')).toEqual(['payments:read', 'reviews:write']);
    expect(parseScopes(' payments:read  payments:read ')).toEqual(['payments:read']);
    expect(() => parseScopes('payments:read,payments:delete')).toThrow(/unknown scope 'payments:delete'/);
  });

  it('travels in the authorizer context as one string, and nothing else grants a scope', () => {
    expect(scopesToContext(['payments:read', 'reviews:write'])).toBe('payments:read reviews:write');
    expect(scopesFromContext('payments:read reviews:write')).toEqual(['payments:read', 'reviews:write']);
    expect(scopesFromContext('payments:read,bogus')).toEqual(['payments:read']);
    expect(scopesFromContext(undefined)).toEqual([]);
    expect(scopesFromContext(['admin'])).toEqual([]);
    expect(scopesFromContext('')).toEqual([]);
  });
});

describe('ApiKeys: issuing and verifying', () => {
  it('stores the scopes and a salted SHA-256 hash, never the secret, and verifies the key with its scopes', async () => {
    // Act
    const issued = await keys().issue('ops', { scopes: ['payments:read', 'reviews:write'] });
    const principal = await keys().verify(issued.secretKey);

    // Assess
    const item = table.get(`KEY#${issued.keyId}`)!;
    const secret = issued.secretKey.slice(`mpk_${issued.keyId}_`.length);
    expect(JSON.stringify(item)).not.toContain(secret);
    const salt = Buffer.from(String(item.salt), 'base64');
    expect(item).toMatchObject({
      label: 'ops',
      scopes: ['payments:read', 'reviews:write'],
      algorithm: 'sha256-salted',
      hash: createHash('sha256').update(salt).update(secret).digest('base64'),
      revoked: false,
    });
    expect(principal).toEqual({ keyId: issued.keyId, scopes: ['payments:read', 'reviews:write'] });
  });

  it('refuses to issue a key without scopes, with an unknown scope, or with a malformed preset', async () => {
    await expect(keys().issue('none', { scopes: [] })).rejects.toThrow('a key needs at least one scope');
    await expect(keys().issue('bad', { scopes: ['payments:delete' as never] })).rejects.toThrow(/unknown scope/);
    await expect(keys().issue('bad', { scopes: ['admin'], preset: 'mpk_short' })).rejects.toThrow(/preset/);
    expect(table.size).toBe(0);
  });

  it('re-issues a preset key in place (the dev key), with new scopes', async () => {
    // Prepare
    const preset = `mpk_${'a'.repeat(16)}_${'b'.repeat(43)}`;
    await keys().issue('dev', { scopes: ['payments:read'], preset });

    // Act
    await keys().issue('dev', { scopes: [...SCOPES], preset });

    // Assess
    expect(await keys().verify(preset)).toEqual({ keyId: 'a'.repeat(16), scopes: [...SCOPES] });
    expect(table.size).toBe(1);
  });

  it('refuses a wrong secret, an unknown key id and a revoked key', async () => {
    // Prepare
    const { keyId, secretKey } = await keys().issue('k', { scopes: ['admin'] });
    const other = await keys().issue('revoked', { scopes: ['admin'] });
    await keys().revoke(other.keyId);

    // Act & Assess
    const verifier = keys();
    expect(await verifier.verify(wrongSecretFor(keyId))).toBeUndefined();
    expect(await verifier.verify(wrongSecretFor(randomBytes(8).toString('hex')))).toBeUndefined();
    expect(await verifier.verify(other.secretKey)).toBeUndefined();
    expect(await verifier.verify(secretKey)).toEqual({ keyId, scopes: ['admin'] });
  });

  it('revokes by a whole (leaked) key, and never echoes the argument in its errors', async () => {
    // Prepare
    const leaked = await keys().issue('leaked', { scopes: ['admin'] });

    // Act
    const revoked = await keys().revoke(leaked.secretKey);
    const refusal = keys()
      .revoke(`mpk_nothex_${leaked.secretKey.slice(-43)}`)
      .catch((error: Error) => error.message);

    // Assess
    expect(revoked).toBe(true);
    expect(await keys().verify(leaked.secretKey)).toBeUndefined();
    expect(await refusal).not.toContain(leaked.secretKey.slice(-43));
  });

  it('refuses a key stored with an unknown hash algorithm', async () => {
    const { keyId, secretKey } = await keys().issue('k', { scopes: ['admin'] });
    table.set(`KEY#${keyId}`, { ...table.get(`KEY#${keyId}`), algorithm: 'md5' });
    expect(await keys().verify(secretKey)).toBeUndefined();
  });

  it('lists keys oldest first without their hashes, and revokes one (false for an unknown id)', async () => {
    // Prepare
    const time = clock();
    const first = await keys(time).issue('first', { scopes: ['payments:read'] });
    time.advance(1000);
    const second = await keys(time).issue('second', { scopes: ['admin'] });
    const legacy = await storeLegacyKey();

    // Act
    const revoked = await keys(time).revoke(second.keyId);
    const unknown = await keys(time).revoke('0'.repeat(16));
    const listed = await keys().list();

    // Assess
    expect([revoked, unknown]).toEqual([true, false]);
    await expect(keys().revoke('not-a-key-id')).rejects.toThrow(/not a key id/);
    expect(ddb.commandCalls(ScanCommand)[0]!.args[0].input.ProjectionExpression).not.toMatch(/hash|salt/);
    expect(listed.map((k) => [k.key_id, k.label, k.scopes, k.revoked, k.algorithm])).toEqual([
      [legacy.keyId, 'legacy', [], false, 'scrypt-N16384-r8-p1'],
      [first.keyId, 'first', ['payments:read'], false, 'sha256-salted'],
      [second.keyId, 'second', ['admin'], true, 'sha256-salted'],
    ]);
    expect(listed[2]!.revoked_at).toBe(new Date(time.now()).toISOString());
  });
});

describe('ApiKeys: legacy scrypt keys', () => {
  it('refuses a key stored before scopes with no scopes (it could do nothing) without running scrypt or re-hashing', async () => {
    // Prepare
    const { keyId, secretKey, hash } = await storeLegacyKey();

    // Act
    const principal = await keys().verify(secretKey);

    // Assess: refused before the ~40 ms scrypt, so a flood of guesses at a legacy key id is as cheap as any other
    expect(principal).toBeUndefined();
    const item = table.get(`KEY#${keyId}`)!;
    expect(item.algorithm).toBe('scrypt-N16384-r8-p1');
    expect(item.hash).toBe(hash);
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
  });

  it('verifies a legacy key that carries scopes, and re-hashes it to SHA-256 on first use', async () => {
    // Prepare
    const { keyId, secretKey, hash } = await storeLegacyKey(['payments:read']);

    // Act
    const principal = await keys().verify(secretKey);

    // Assess: the stored hash is now SHA-256 and still verifies (another function reads it)
    expect(principal).toEqual({ keyId, scopes: ['payments:read'] });
    const item = table.get(`KEY#${keyId}`)!;
    expect(item.algorithm).toBe('sha256-salted');
    expect(item.hash).not.toBe(hash);
    expect(item.rehashed_at).toEqual(expect.any(String));
    expect(await keys().verify(secretKey)).toEqual({ keyId, scopes: ['payments:read'] });
    expect(await keys().verify(wrongSecretFor(keyId))).toBeUndefined();
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(1);
  });

  it('does not re-hash on a wrong secret', async () => {
    const { keyId } = await storeLegacyKey();
    expect(await keys().verify(wrongSecretFor(keyId))).toBeUndefined();
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
    expect(table.get(`KEY#${keyId}`)!.algorithm).toBe('scrypt-N16384-r8-p1');
  });

  it('still accepts the key when another function re-hashed it first, and reads the stored record next time', async () => {
    // Prepare: two warm functions read the scrypt record; the first re-hashes it
    const { keyId, secretKey } = await storeLegacyKey(['admin']);
    const a = keys();
    const b = keys();
    await b.verify(wrongSecretFor(keyId)); // b now holds the scrypt record
    await a.verify(secretKey);
    const rehashed = table.get(`KEY#${keyId}`)!.hash;

    // Act
    const principal = await b.verify(secretKey);

    // Assess: b's conditional write failed and changed nothing; b reads the SHA-256 record next time
    expect(principal).toEqual({ keyId, scopes: ['admin'] });
    expect(table.get(`KEY#${keyId}`)!.hash).toBe(rehashed);
    const before = reads();
    expect(await b.verify(secretKey)).toEqual({ keyId, scopes: ['admin'] });
    expect(reads()).toBe(before + 1);
  });

  it('still accepts the key when the re-hash cannot be written (e.g. no write permission)', async () => {
    const { keyId, secretKey } = await storeLegacyKey(['admin']);
    ddb.on(UpdateCommand).rejects(Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' }));
    expect(await keys().verify(secretKey)).toEqual({ keyId, scopes: ['admin'] });
    expect(table.get(`KEY#${keyId}`)!.algorithm).toBe('scrypt-N16384-r8-p1');
  });
});

describe('ApiKeys: cheap refusals', () => {
  it('refuses a repeated wrong secret without reading the table again', async () => {
    // Prepare: no record cache, so only the refused-key cache can spare the read
    const { keyId } = await keys().issue('k', { scopes: ['admin'] });
    const verifier = keys({ recordCacheMs: 0 });
    const wrong = wrongSecretFor(keyId);

    // Act
    for (let i = 0; i < 5; i++) expect(await verifier.verify(wrong)).toBeUndefined();

    // Assess
    expect(reads()).toBe(1);
  });

  it('refuses a repeated unknown key from the same cache (unknown ids themselves are not cached)', async () => {
    const verifier = keys();
    const unknown = wrongSecretFor(randomBytes(8).toString('hex'));
    await verifier.verify(unknown);
    await verifier.verify(unknown);
    expect(reads()).toBe(1);
    await verifier.verify(wrongSecretFor(randomBytes(8).toString('hex')));
    expect(reads()).toBe(2);
  });

  it('refuses distinct wrong secrets for a known key without a read while its record is cached', async () => {
    // Prepare
    const { keyId, secretKey } = await keys().issue('k', { scopes: ['payments:read'] });
    const verifier = keys();

    // Act
    for (let i = 0; i < 20; i++) expect(await verifier.verify(wrongSecretFor(keyId))).toBeUndefined();
    const valid = await verifier.verify(secretKey);

    // Assess
    expect(valid).toEqual({ keyId, scopes: ['payments:read'] });
    expect(reads()).toBe(1);
  });

  it('shares one read between concurrent verifications of one key', async () => {
    const { keyId, secretKey } = await keys().issue('k', { scopes: ['admin'] });
    const verifier = keys();
    const results = await Promise.all([
      verifier.verify(secretKey),
      ...Array.from({ length: 10 }, () => verifier.verify(wrongSecretFor(keyId))),
    ]);
    expect(results[0]).toEqual({ keyId, scopes: ['admin'] });
    expect(results.slice(1).every((r) => r === undefined)).toBe(true);
    expect(reads()).toBe(1);
  });

  it('forgets a refusal after refusedCacheMs, and a record after recordCacheMs', async () => {
    // Prepare
    const time = clock();
    const { keyId } = await keys().issue('k', { scopes: ['admin'] });
    const verifier = keys({ now: time.now, refusedCacheMs: 1_000, recordCacheMs: 5_000 });
    const wrong = wrongSecretFor(keyId);
    await verifier.verify(wrong);

    // Act & Assess: refused from the cache, then from the cached record (no read), then read again
    time.advance(999);
    await verifier.verify(wrong);
    time.advance(2);
    await verifier.verify(wrong);
    expect(reads()).toBe(1);
    time.advance(5_000);
    await verifier.verify(wrong);
    expect(reads()).toBe(2);
  });

  it('bounds the refused-key cache: the oldest refusal goes first', async () => {
    // Prepare
    const { keyId } = await keys().issue('k', { scopes: ['admin'] });
    const verifier = keys({ recordCacheMs: 0, maxRefused: 2 });
    const [a, b, c] = [wrongSecretFor(keyId), wrongSecretFor(keyId), wrongSecretFor(keyId)];
    for (const wrong of [a, b, c]) await verifier.verify(wrong);
    expect(reads()).toBe(3);

    // Act & Assess: b and c are still refused from the cache, a was dropped
    await verifier.verify(c);
    await verifier.verify(b);
    expect(reads()).toBe(3);
    await verifier.verify(a);
    expect(reads()).toBe(4);
  });

  it('never refuses a valid key because a wrong one for the same key id was refused', async () => {
    const { keyId, secretKey } = await keys().issue('k', { scopes: ['admin'] });
    const verifier = keys({ recordCacheMs: 0 });
    await verifier.verify(wrongSecretFor(keyId));
    expect(await verifier.verify(secretKey)).toEqual({ keyId, scopes: ['admin'] });
  });

  it('refuses a key revoked through the same instance at once, and elsewhere once the cached record expires', async () => {
    // Prepare
    const time = clock();
    const { keyId, secretKey } = await keys().issue('k', { scopes: ['admin'] });
    const admin = keys({ now: time.now });
    const warm = keys({ now: time.now, recordCacheMs: 60_000 });
    await admin.verify(secretKey);
    await warm.verify(secretKey);

    // Act
    await admin.revoke(keyId);

    // Assess
    expect(await admin.verify(secretKey)).toBeUndefined();
    expect(await warm.verify(secretKey)).toEqual({ keyId, scopes: ['admin'] });
    time.advance(60_001);
    expect(await warm.verify(secretKey)).toBeUndefined();
  });
});
