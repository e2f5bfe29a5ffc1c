/**
 * API key verification (src/api/api-keys.ts) against a real DynamoDB (DynamoDB Local in memory, from bench/run.ts):
 * what a valid key, a wrong secret (cold: read and hash; warm: refused from the cache), an unknown key id and a
 * legacy scrypt key cost; and how much a flood of 1,000 refused verifications per second slows valid ones running
 * in the same process (target: < 20 %). Refusing a wrong secret should cost under 1 ms of CPU.
 */
import { randomBytes, scrypt as scryptCallback } from 'node:crypto';
import { promisify } from 'node:util';
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { ApiKeys } from '../src/api/api-keys';
import { compareLoad, formatTable, load, measure, type Row, rowsTable, type SuiteResult } from './harness';

const scrypt = promisify(scryptCallback) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;

export interface ApiKeysBenchOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  /** Shorter runs (a smoke test of the benchmark itself). */
  quick?: boolean;
}

const randomKeyId = () => randomBytes(8).toString('hex');
const wrongSecretFor = (keyId: string) => `mpk_${keyId}_${randomBytes(32).toString('base64url')}`;

/** Stores a key as it was before scopes: salted scrypt (N=16384, r=8, p=1), no scopes. */
async function legacyKey(client: DynamoDBDocumentClient, tableName: string): Promise<string> {
  const keyId = randomKeyId();
  const secret = randomBytes(32).toString('base64url');
  const salt = randomBytes(16);
  await client.send(
    new PutCommand({
      TableName: tableName,
      Item: {
        pk: `KEY#${keyId}`,
        key_id: keyId,
        label: 'bench legacy',
        salt: salt.toString('base64'),
        hash: (await scrypt(secret, salt, 32)).toString('base64'),
        algorithm: 'scrypt-N16384-r8-p1',
        created_at: new Date().toISOString(),
        revoked: false,
      },
    }),
  );
  return `mpk_${keyId}_${secret}`;
}

const expectValid = async (keys: ApiKeys, key: string) => {
  if (!(await keys.verify(key))) throw new Error('a valid key was refused');
};
const expectRefused = async (keys: ApiKeys, key: string) => {
  if (await keys.verify(key)) throw new Error('a wrong key was accepted');
};

const slowdown = (base: number, loaded: number) => Math.round((loaded / base - 1) * 1000) / 10;

export async function apiKeysSuite({ client, tableName, quick = false }: ApiKeysBenchOptions): Promise<SuiteResult> {
  const scale = quick ? 0.2 : 1;
  const count = (n: number) => Math.max(5, Math.round(n * scale));
  const phaseMs = quick ? 1_000 : 2_000;
  const rounds = quick ? 1 : 4;
  const issuer = new ApiKeys(client, tableName);
  const { keyId, secretKey } = await issuer.issue('bench', { scopes: ['payments:read'] });
  const other = await issuer.issue('bench other', { scopes: ['payments:read'] });

  // ---- one verification at a time ---------------------------------------------------------------------------
  /** As a warm authorizer: the key's record cached. */
  const warm = new ApiKeys(client, tableName);
  /** As a cold authorizer: every verification reads the key's record. */
  const cold = new ApiKeys(client, tableName, { recordCacheMs: 0 });
  const repeatedWrong = wrongSecretFor(keyId);
  const rows: Row[] = [];
  rows.push(
    await measure('valid key, warm (record cached)', count(5_000), () => expectValid(warm, secretKey), {
      warmup: 200,
    }),
  );
  rows.push(
    await measure('valid key, cold (read + hash)', count(500), () => expectValid(cold, secretKey), {
      // The first read: its warm-up also warms the client, its connections and the JIT for the rows below.
      warmup: 300,
    }),
  );
  rows.push(
    await measure('wrong secret, cold (read + hash)', count(500), () => expectRefused(cold, wrongSecretFor(keyId)), {
      warmup: 50,
    }),
  );
  rows.push(
    await measure('wrong secret, warm (refused cache)', count(5_000), () => expectRefused(cold, repeatedWrong), {
      warmup: 200,
    }),
  );
  rows.push(
    await measure(
      'new wrong secrets, known key (record cached)',
      count(5_000),
      () => expectRefused(warm, wrongSecretFor(keyId)),
      { warmup: 200 },
    ),
  );
  rows.push(
    await measure(
      'unknown key id (read each time)',
      count(500),
      () => expectRefused(cold, wrongSecretFor(randomKeyId())),
      {
        warmup: 50,
      },
    ),
  );
  rows.push(
    await measure(
      'reference: one GetItem, no verification',
      count(500),
      () => client.send(new GetCommand({ TableName: tableName, Key: { pk: `KEY#${keyId}` }, ConsistentRead: true })),
      { warmup: 50 },
    ),
  );
  const legacyCount = quick ? 3 : 10;
  const legacyFirstUse = await Promise.all(Array.from({ length: legacyCount }, () => legacyKey(client, tableName)));
  const legacyWrong = await Promise.all(Array.from({ length: legacyCount }, () => legacyKey(client, tableName)));
  rows.push(
    await measure('legacy scrypt key, first use (+ re-hash)', legacyCount, (i) =>
      expectValid(cold, legacyFirstUse[i] ?? ''),
    ),
  );
  rows.push(
    await measure('legacy scrypt key, wrong secret (cold)', legacyCount, (i) =>
      expectRefused(cold, wrongSecretFor((legacyWrong[i] ?? '').slice(4, 20))),
    ),
  );
  rows.push(
    await measure('legacy key after its re-hash, cold', legacyCount, (i) => expectValid(cold, legacyFirstUse[i] ?? '')),
  );

  // ---- a flood of refusals while valid keys are verified -----------------------------------------------------
  /** One process, as the local stack or an authorizer serving many requests: one ApiKeys, default caches. */
  const authorizer = new ApiKeys(client, tableName);
  /** Valid verifications that read DynamoDB each time (a cold function), sharing the process and the database. */
  const coldValid = new ApiKeys(client, tableName, { recordCacheMs: 0 });
  await expectValid(authorizer, secretKey);
  const valid = [
    { name: 'valid, warm (200/s)', ratePerSecond: 200, fn: () => expectValid(authorizer, secretKey) },
    { name: 'valid, cold read (100/s)', ratePerSecond: 100, fn: () => expectValid(coldValid, other.secretKey) },
  ];
  const floods = [
    {
      name: 'wrong secrets for a known key id',
      stream: {
        name: 'flood: wrong secrets (1000/s)',
        ratePerSecond: 1_000,
        fn: () => expectRefused(authorizer, wrongSecretFor(keyId)),
      },
      target: true,
    },
    {
      name: 'unknown key ids (each one a read)',
      stream: {
        name: 'flood: unknown key ids (1000/s)',
        ratePerSecond: 1_000,
        fn: () => expectRefused(authorizer, wrongSecretFor(randomKeyId())),
      },
      target: false,
    },
  ];
  // Warm the database, the client's connections and the JIT before the first baseline.
  await load(valid, phaseMs / 2);
  const comparisons: Record<string, unknown>[] = [];
  const targets: Record<string, boolean> = {};
  const loadRows: (string | number | undefined)[][] = [];
  for (const flood of floods) {
    const { base, loaded } = await compareLoad(valid, flood.stream, { rounds, phaseMs });
    const floodStream = loaded.streams[valid.length]!;
    const extraCpu = loaded.cpu_us - (base.cpu_us * loaded.duration_ms) / base.duration_ms;
    const cpuPerRefusal = Math.round((extraCpu / Math.max(1, floodStream.sent)) * 10) / 10;
    const perStream = valid.map((stream, s) => {
      const before = base.streams[s]!;
      const during = loaded.streams[s]!;
      return {
        stream: stream.name,
        baseline: { p50_us: before.p50_us, p99_us: before.p99_us, n: before.n, failed: before.failed },
        flood: { p50_us: during.p50_us, p99_us: during.p99_us, n: during.n, failed: during.failed },
        slowdown_p50_pct: slowdown(before.p50_us, during.p50_us),
        slowdown_p99_pct: slowdown(before.p99_us, during.p99_us),
      };
    });
    if (flood.target) {
      for (const s of perStream) {
        targets[`${flood.name}: ${s.stream} p50 slowdown < 20%`] = s.slowdown_p50_pct < 20;
      }
      targets[`${flood.name}: CPU per refusal < 1000 µs`] = cpuPerRefusal < 1_000;
    }
    comparisons.push({
      flood: flood.name,
      flood_stream: floodStream,
      cpu_us_per_refusal: cpuPerRefusal,
      event_loop_delay: { baseline: base.event_loop_delay, flood: loaded.event_loop_delay },
      valid: perStream,
    });
    for (const s of perStream) {
      loadRows.push([
        flood.name,
        s.stream,
        s.baseline.p50_us,
        s.flood.p50_us,
        `${s.slowdown_p50_pct}%`,
        s.baseline.p99_us,
        s.flood.p99_us,
        `${s.slowdown_p99_pct}%`,
      ]);
    }
    loadRows.push([
      flood.name,
      `${floodStream.name}: ${floodStream.sent} sent, ${cpuPerRefusal} µs CPU each`,
      undefined,
      floodStream.p50_us,
      undefined,
      undefined,
      floodStream.p99_us,
      undefined,
    ]);
    loadRows.push([
      flood.name,
      'event-loop delay',
      base.event_loop_delay.p50_us,
      loaded.event_loop_delay.p50_us,
      undefined,
      base.event_loop_delay.p99_us,
      loaded.event_loop_delay.p99_us,
      undefined,
    ]);
  }
  const cpuOf = (prefix: string) => rows.find((r) => r.name.startsWith(prefix))?.cpu_us_per_op ?? Number.NaN;
  targets['new wrong secret, known key (record cached): CPU per refusal < 1000 µs'] =
    cpuOf('new wrong secrets') < 1_000;
  targets['wrong secret, cold (one GetItem + hash): CPU per refusal < 1000 µs'] = cpuOf('wrong secret, cold') < 1_000;

  process.stdout.write(`\nAPI keys: one verification at a time (DynamoDB Local)\n${rowsTable(rows)}\n`);
  process.stdout.write(
    `\nAPI keys: valid verifications with and without a flood of refusals (${rounds} × ${phaseMs / 1000} s each)\n${formatTable(
      ['flood', 'stream', 'base p50 µs', 'flood p50 µs', 'Δ p50', 'base p99 µs', 'flood p99 µs', 'Δ p99'],
      loadRows,
    )}\n`,
  );
  return { suite: 'api-keys', rows, details: { flood: comparisons }, targets };
}
