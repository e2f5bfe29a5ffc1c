/**
 * The fuzz test's plumbing: sends a FuzzCase as a raw HTTP request (node:http, so paths and headers go out exactly
 * as generated), judges the answer, and counts what the stack has stored (every DynamoDB table, the PSP's objects).
 */
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { allTableSchemas } from '../../src/core/table-schemas';
import type { FuzzCase } from './fuzz-cases';
import type { StackInfo } from './local-stack-process';

export interface FuzzContext {
  apiUrl: string;
  devApiKey: string;
  webhookSecret: string;
}

/** The PSP webhook secret the stack's functions verify with (`function-env.json` in the stack's data directory). */
export function stackWebhookSecret(): string {
  const dataDir = process.env.LOCAL_STACK_DATA_DIR;
  if (!dataDir) throw new Error('LOCAL_STACK_DATA_DIR is not set: run the integration project');
  const env = JSON.parse(fs.readFileSync(path.join(dataDir, 'function-env.json'), 'utf8')) as Record<string, string>;
  const secret = env.PSP_WEBHOOK_SECRET;
  if (!secret) throw new Error('PSP_WEBHOOK_SECRET is not in function-env.json');
  return secret;
}

export interface RawRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json?: unknown;
}

/** The dev key with its last secret character changed: same key id, wrong secret. */
function wrongSecret(key: string): string {
  const last = key.slice(-1);
  return `${key.slice(0, -1)}${last === 'A' ? 'B' : 'A'}`;
}

function signature(c: NonNullable<FuzzCase['sign']>, body: string, ctx: FuzzContext): string {
  const t = Math.floor(Date.now() / 1000) + c.offsetSeconds;
  const secret = c.secret === '{{WEBHOOK_SECRET}}' ? ctx.webhookSecret : c.secret;
  const sig = createHmac('sha256', secret)
    .update(`${t}.${c.signedBody ?? body}`)
    .digest('hex');
  return c.template
    .replace('{t-1}', String(t - 1))
    .replace('{t}', String(t))
    .replace('{sig8}', sig.slice(0, 8))
    .replace('{sig}', sig);
}

/** The request a case describes, placeholders filled in (see fuzz-cases.ts). */
export function materialize(c: FuzzCase, ctx: FuzzContext): RawRequest {
  // A fresh token in generated identifiers: letters only, so it adds no digit run.
  const run = `fz${[...randomBytes(6)].map((b) => String.fromCharCode(97 + (b % 26))).join('')}`;
  const body = c.body?.replaceAll('FZRUN', run);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(c.headers)) {
    headers[name] = value
      .replaceAll('{{DEV_KEY_WRONG_SECRET}}', wrongSecret(ctx.devApiKey))
      .replaceAll('{{DEV_KEY_UPPER}}', ctx.devApiKey.toUpperCase())
      .replaceAll('{{DEV_KEY}}', ctx.devApiKey)
      .replaceAll('{{FRESH_KEY}}', randomUUID())
      .replace('{{SIGNATURE}}', () => (c.sign ? signature(c.sign, body ?? '', ctx) : ''));
  }
  return {
    method: c.method,
    path: c.path,
    headers,
    body: c.bodyHex !== undefined ? Buffer.from(c.bodyHex, 'hex') : body !== undefined ? Buffer.from(body) : undefined,
  };
}

// One connection per request: no keep-alive race with the server closing idle sockets.
const agent = new http.Agent({ keepAlive: false, maxSockets: 64 });

export function send(ctx: FuzzContext, request: RawRequest, timeoutMs = 20_000): Promise<RawResponse> {
  const url = new URL(ctx.apiUrl);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        method: request.method,
        path: request.path,
        headers: request.headers,
        agent,
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(request.body);
  });
}

/** At most `limit` calls of `fn` at a time. */
export class Limiter {
  private active = 0;
  private readonly queue: (() => void)[] = [];
  constructor(private readonly limit: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.queue.push(resolve));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.queue.shift()?.();
    }
  }
}

type ErrorBody = {
  error?: {
    code?: unknown;
    message?: unknown;
    header?: unknown;
    field?: unknown;
    errors?: { field?: unknown; header?: unknown }[];
  };
};

/** The texts of an error answer that may name a field or header. */
function namingTexts(body: ErrorBody): string[] {
  const error = body.error ?? {};
  const texts: unknown[] = [error.header, error.field, error.message];
  if (Array.isArray(error.errors)) for (const e of error.errors) texts.push(e?.field, e?.header);
  return texts.flat().filter((t): t is string => typeof t === 'string' && t.length > 0);
}

/** What is wrong with the answer to a bad request (empty when it is a proper refusal). */
export function judge(c: FuzzCase, response: RawResponse): string[] {
  const problems: string[] = [];
  const { status } = response;
  if (status < 400 || status > 499) problems.push(`status ${status}, not a 4xx`);
  else if (!c.expect.statuses.includes(status)) {
    problems.push(`status ${status}, expected ${c.expect.statuses.join(' or ')}`);
  }
  const body = response.json as ErrorBody | undefined;
  const contentType = String(response.headers['content-type'] ?? '');
  if (body === undefined || body === null || typeof body !== 'object') {
    problems.push(`the answer is not JSON (content-type ${contentType || 'none'})`);
  } else {
    if (!/^application\/(.+\+)?json\b/i.test(contentType)) problems.push(`content-type ${contentType || 'none'}`);
    const error = body.error;
    if (typeof error?.code !== 'string' || !error.code) problems.push('no error.code');
    if (typeof error?.message !== 'string' || !error.message) problems.push('no error.message');
    if (status === 400 && c.expect.names.length > 0) {
      const texts = namingTexts(body).map((t) => t.toLowerCase());
      const named = c.expect.names.some((name) => texts.some((t) => t.includes(name.toLowerCase())));
      if (!named) problems.push('the 400 names none of the expected fields or headers');
    }
  }
  for (const secret of c.expect.noEcho ?? []) {
    if (secret && response.text.includes(secret)) problems.push('the answer echoes the card number');
  }
  return problems;
}

export function excerpt(response: RawResponse, max = 300): string {
  const text = response.text.length > max ? `${response.text.slice(0, max)}...` : response.text;
  return `${response.status} ${text}`;
}

// What the stack has stored ---------------------------------------------------------------------------------------

export interface StoreSnapshot {
  /** Item count per table, and per PSP object list (`psp:charges`...). */
  counts: Record<string, number>;
  /** The keys of every item per table, to show what appeared. */
  keys: Record<string, Set<string>>;
}

let dynamoClient: DynamoDBClient | undefined;
function dynamo(endpoint: string) {
  dynamoClient ??= new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });
  return dynamoClient;
}

export function closeStoreClients() {
  dynamoClient?.destroy();
  dynamoClient = undefined;
}

async function countItems(client: DynamoDBClient, table: string): Promise<number> {
  let count = 0;
  let start: Record<string, never> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({ TableName: table, Select: 'COUNT', ConsistentRead: true, ExclusiveStartKey: start }),
    );
    count += page.Count ?? 0;
    start = page.LastEvaluatedKey as typeof start;
  } while (start);
  return count;
}

async function itemKeys(client: DynamoDBClient, table: string, keyNames: string[]): Promise<Set<string>> {
  const keys = new Set<string>();
  let start: Record<string, never> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({
        TableName: table,
        ConsistentRead: true,
        ProjectionExpression: keyNames.map((_, i) => `#k${i}`).join(', '),
        ExpressionAttributeNames: Object.fromEntries(keyNames.map((k, i) => [`#k${i}`, k])),
        ExclusiveStartKey: start,
      }),
    );
    for (const item of page.Items ?? []) keys.add(keyNames.map((k) => item[k]?.S ?? '').join(' | '));
    start = page.LastEvaluatedKey as typeof start;
  } while (start);
  return keys;
}

async function pspCount(pspUrl: string, list: string): Promise<number> {
  const response = await fetch(`${pspUrl}/__admin/${list}`);
  if (!response.ok) throw new Error(`PSP admin ${list}: ${response.status}`);
  const body = (await response.json()) as unknown[] | { data: unknown[] };
  return (Array.isArray(body) ? body : body.data).length;
}

export async function snapshot(urls: StackInfo['urls']): Promise<StoreSnapshot> {
  const client = dynamo(urls.dynamodb);
  const counts: Record<string, number> = {};
  const keys: Record<string, Set<string>> = {};
  for (const schema of allTableSchemas) {
    counts[schema.id] = await countItems(client, schema.id);
    keys[schema.id] = await itemKeys(client, schema.id, [
      schema.partitionKey,
      ...(schema.sortKey ? [schema.sortKey] : []),
    ]);
  }
  counts['psp:charges'] = await pspCount(urls.psp, 'charges?include=failed');
  counts['psp:payment_intents'] = await pspCount(urls.psp, 'payment_intents');
  counts['psp:checkout_sessions'] = await pspCount(urls.psp, 'checkout_sessions');
  return { counts, keys };
}

/** Waits until nothing changes for `quietMs` (work left over by earlier tests), at most `maxMs`. */
export async function settledSnapshot(
  urls: StackInfo['urls'],
  quietMs = 2_000,
  maxMs = 60_000,
): Promise<StoreSnapshot> {
  const deadline = Date.now() + maxMs;
  let last = await snapshot(urls);
  let stableSince = Date.now();
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const next = await snapshot(urls);
    if (JSON.stringify(next.counts) !== JSON.stringify(last.counts)) stableSince = Date.now();
    last = next;
    if (Date.now() - stableSince >= quietMs) break;
  }
  return last;
}

/** The differences between two snapshots: changed counts with a few of the keys that appeared or went. */
export function storeChanges(before: StoreSnapshot, after: StoreSnapshot): string[] {
  const changes: string[] = [];
  for (const [name, count] of Object.entries(after.counts)) {
    const was = before.counts[name] ?? 0;
    if (count === was) continue;
    let detail = '';
    const b = before.keys[name];
    const a = after.keys[name];
    if (a && b) {
      const added = [...a].filter((k) => !b.has(k));
      const removed = [...b].filter((k) => !a.has(k));
      detail = `; new: ${added.slice(0, 5).join(', ')}${added.length > 5 ? ` (+${added.length - 5})` : ''}`;
      if (removed.length > 0) detail += `; gone: ${removed.slice(0, 5).join(', ')}`;
    }
    changes.push(`${name}: ${was} -> ${count} items${detail}`);
  }
  return changes;
}
