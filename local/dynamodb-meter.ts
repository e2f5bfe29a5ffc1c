/**
 * A metering proxy in front of DynamoDB Local, for the benchmark (`LOCAL_DYNAMODB_METER=true`) and the store-calls
 * test: the functions talk to it instead of DynamoDB Local; it asks DynamoDB Local for the capacity each call consumed
 * (`ReturnConsumedCapacity: INDEXES`), forwards the call, and keeps one record per call: operation, tables, items of
 * a transaction, write and read units as DynamoDB Local reports them, the write units AWS would bill (modeled from the
 * items before and after the write, read beside the call: local/dynamodb-units.ts says why Local's figure is lower for
 * a transaction of several items), the payment it is about (the first `pay_<32 hex>` in the request) and the request
 * as the function sent it (for the benchmark's replay of the store's share). Local tooling only: nothing here is
 * deployed.
 *
 *   GET  <meter>/__meter           every call recorded since the last reset
 *   POST <meter>/__meter/reset     forget them
 */
import http from 'node:http';
import { DescribeTableCommand, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { type Item, keyOf, type TableShape, writeUnits, writtenKeys } from './dynamodb-units';
import { listen } from './http-server';

export interface MeteredCall {
  at: number;
  operation: string;
  tables: string[];
  /** Items of a transaction or a batch (1 otherwise). */
  items: number;
  /** As DynamoDB Local reports them. */
  wcu: number;
  rcu: number;
  /**
   * Write units as AWS bills them, modeled (local/dynamodb-units.ts): the tables' and the indexes'. 0 for a read;
   * null when the meter could not read the items (a total over it is then unknown, not lower).
   */
  aws_wcu: number | null;
  aws_wcu_indexes: number | null;
  payment_id?: string;
  /** DynamoDB's HTTP status (a refused condition is a 400). */
  status: number;
  ms: number;
  /** The request body as the function sent it. */
  request: string;
}

const PAYMENT = /pay_[0-9a-f]{32}/;

type Capacity = { TableName?: string; CapacityUnits?: number; ReadCapacityUnits?: number; WriteCapacityUnits?: number };

const READS = new Set(['GetItem', 'Query', 'Scan', 'BatchGetItem', 'TransactGetItems']);

function tablesOf(body: Record<string, unknown>): { tables: string[]; items: number } {
  if (typeof body.TableName === 'string') return { tables: [body.TableName], items: 1 };
  const transact = body.TransactItems as Record<string, { TableName?: string }>[] | undefined;
  if (transact) {
    const tables = transact.map((item) => Object.values(item)[0]?.TableName ?? '?');
    return { tables: [...new Set(tables)], items: transact.length };
  }
  const batch = (body.RequestItems ?? {}) as Record<string, unknown[] | { Keys?: unknown[] }>;
  const tables = Object.keys(batch);
  const items = Object.values(batch).reduce<number>(
    (sum, value) => sum + (Array.isArray(value) ? value.length : (value.Keys?.length ?? 0)),
    0,
  );
  return { tables, items };
}

export interface DynamoMeter {
  url: string;
  calls(): MeteredCall[];
  close(): Promise<void>;
}

/** Tables' key names and indexes, asked of DynamoDB Local once per table. */
function tableShapes(client: DynamoDBClient) {
  const shapes = new Map<string, Promise<TableShape>>();
  return (name: string): Promise<TableShape> => {
    let shape = shapes.get(name);
    if (!shape) {
      shape = client.send(new DescribeTableCommand({ TableName: name })).then(({ Table }) => ({
        keys: (Table?.KeySchema ?? []).map((k) => k.AttributeName ?? ''),
        indexes: (Table?.GlobalSecondaryIndexes ?? []).map((index) => ({
          name: index.IndexName ?? '',
          keys: (index.KeySchema ?? []).map((k) => k.AttributeName ?? ''),
          projection:
            index.Projection?.ProjectionType === 'INCLUDE'
              ? (index.Projection.NonKeyAttributes ?? [])
              : index.Projection?.ProjectionType === 'KEYS_ONLY'
                ? 'KEYS_ONLY'
                : 'ALL',
        })),
      }));
      shapes.set(name, shape);
      // A failed description is asked again next time, not kept.
      shape.catch(() => shapes.delete(name));
    }
    return shape;
  };
}

export async function startDynamoMeter(upstream: string, host: string): Promise<DynamoMeter> {
  let calls: MeteredCall[] = [];
  const target = new URL(upstream);
  // The meter's own reads (table shapes, items before and after a write) go straight to DynamoDB Local, unrecorded.
  const direct = new DynamoDBClient({
    endpoint: upstream,
    region: 'us-east-1',
    credentials: { accessKeyId: 'meter', secretAccessKey: 'meter' },
  });
  const shapeOf = tableShapes(direct);
  const read = async (table: string, key: Item) =>
    (await direct.send(new GetItemCommand({ TableName: table, Key: key, ConsistentRead: true }))).Item as
      | Item
      | undefined;
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    if (req.url === '/__meter' && req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(calls));
      return;
    }
    if (req.url === '/__meter/reset' && req.method === 'POST') {
      calls = [];
      res.writeHead(204).end();
      return;
    }
    const operation = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
    let body: Record<string, unknown> | undefined;
    try {
      body = raw ? (JSON.parse(raw) as Record<string, unknown>) : undefined;
    } catch {
      body = undefined;
    }
    const metered =
      body !== undefined && operation !== '' && !operation.startsWith('Describe') && !operation.startsWith('List');
    const asked = metered && body?.ReturnConsumedCapacity !== undefined && body.ReturnConsumedCapacity !== 'NONE';
    const forwarded = metered ? JSON.stringify({ ...body, ReturnConsumedCapacity: 'INDEXES' }) : raw;
    // The items a write touches, as they were before it.
    const writes = metered && body ? writtenKeys(operation, body) : [];
    // Not modeled (a table or item the meter could not read): recorded as unknown (null).
    let unmodeled = false;
    const touched = await Promise.all(
      writes.map(async (written) => {
        const shape = await shapeOf(written.table);
        const key = keyOf(written, shape);
        return { written, shape, key, before: await read(written.table, key) };
      }),
    ).catch(() => {
      unmodeled = true;
      return [];
    });
    const started = performance.now();
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined && name !== 'host' && name !== 'content-length') headers[name] = String(value);
    }
    try {
      const answer = await fetch(`${target.origin}${req.url ?? '/'}`, {
        method: req.method,
        headers,
        body: req.method === 'GET' || req.method === 'HEAD' ? undefined : forwarded,
      });
      let text = await answer.text();
      const ms = performance.now() - started;
      if (metered && body) {
        let consumed: Capacity[] = [];
        try {
          const parsed = JSON.parse(text) as { ConsumedCapacity?: Capacity | Capacity[] };
          if (parsed.ConsumedCapacity !== undefined) {
            consumed = Array.isArray(parsed.ConsumedCapacity) ? parsed.ConsumedCapacity : [parsed.ConsumedCapacity];
            if (!asked) {
              delete parsed.ConsumedCapacity;
              text = JSON.stringify(parsed);
            }
          }
        } catch {
          // an error answer: recorded with no capacity
        }
        const units = consumed.reduce((sum, c) => sum + (c.CapacityUnits ?? 0), 0);
        const { tables, items } = tablesOf(body);
        // Modeled AWS units. A write refused by its condition (or a transaction cancelled) is billed as a write that
        // changed nothing: AWS bills a failed conditional write; for a cancelled transaction it is assumed alike (the
        // conservative reading). Any other refusal (a malformed request) is billed nothing.
        const refused = answer.status === 400 && /ConditionalCheckFailed|TransactionCanceled/.test(text.slice(0, 300));
        let awsTables = 0;
        let awsIndexes = 0;
        if (answer.status === 200 || refused) {
          // Read after the write and before the answer goes back (the caller may write the same item next).
          const afters = await Promise.all(
            touched.map(({ written, key, before }) =>
              refused || written.checkOnly
                ? Promise.resolve(before)
                : read(written.table, key).catch(() => {
                    unmodeled = true;
                    return undefined;
                  }),
            ),
          );
          touched.forEach(({ written, shape, before }, i) => {
            const modeled = writeUnits(before, afters[i], shape, written.transactional);
            awsTables += modeled.table;
            awsIndexes += written.checkOnly || refused ? 0 : modeled.indexes;
          });
        }
        calls.push({
          at: Date.now(),
          operation,
          tables,
          items,
          wcu: READS.has(operation) ? 0 : units,
          rcu: READS.has(operation) ? units : 0,
          aws_wcu: unmodeled ? null : awsTables + awsIndexes,
          aws_wcu_indexes: unmodeled ? null : awsIndexes,
          payment_id: PAYMENT.exec(raw)?.[0],
          status: answer.status,
          ms,
          request: raw,
        });
      }
      const out: Record<string, string> = {};
      answer.headers.forEach((value, name) => {
        // The body may have been rewritten (the capacity taken out): its checksum no longer holds.
        const stale = name === 'content-length' || name === 'content-encoding' || name === 'transfer-encoding';
        if (!stale && name !== 'x-amz-crc32') out[name] = value;
      });
      res.writeHead(answer.status, out);
      res.end(text);
    } catch (error) {
      res.writeHead(502, { 'content-type': 'application/x-amz-json-1.0' });
      res.end(JSON.stringify({ __type: 'MeterUpstreamError', message: (error as Error).message }));
    }
  });
  const listening = await listen(server, host, 0);
  return {
    url: listening.url,
    calls: () => calls,
    close: async () => {
      direct.destroy();
      await listening.close();
    },
  };
}
