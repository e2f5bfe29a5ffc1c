/**
 * The timeline table on DynamoDB Local: a scope's events are written together when it ends (one item per payment,
 * one call), read back flattened in order beside single events; a once-only fact is written once.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { ensureTables, type LocalDynamo, startDynamoDbLocal } from '../../local/dynamodb';
import { freePort } from '../../local/processes';
import { tableSchemas } from '../../src/core/table-schemas';
import { recordTimeline, TimelineTable, withTimeline } from '../../src/core/timeline';

jest.setTimeout(120_000);

const TABLE = 'TimelineTest';
let dynamo: LocalDynamo;
let doc: DynamoDBDocumentClient;
let table: TimelineTable;
const sent: string[] = [];

beforeAll(async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'timeline-'));
  dynamo = await startDynamoDbLocal({ host: '127.0.0.1', port: await freePort('127.0.0.1'), dataDir, inMemory: true });
  await ensureTables(dynamo.client, [{ schema: tableSchemas.timeline, name: TABLE }]);
  doc = DynamoDBDocumentClient.from(dynamo.client, { marshallOptions: { removeUndefinedValues: true } });
  doc.middlewareStack.add(
    (next, context) => (args) => {
      sent.push(String(context.commandName));
      return next(args);
    },
    { step: 'initialize', name: 'countCalls' },
  );
  table = new TimelineTable(doc, TABLE);
});

afterAll(async () => {
  doc?.destroy();
  await dynamo?.stop();
});

const items = async (paymentId: string) =>
  (
    await doc.send(
      new QueryCommand({
        TableName: TABLE,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': `PAY#${paymentId}` },
      }),
    )
  ).Items ?? [];

describe('TimelineTable', () => {
  it('writes a scope’s events when it ends: one item per payment in one call, read back in order', async () => {
    sent.length = 0;
    await withTimeline({ source: 'workflow', writer: table }, async () => {
      await recordTimeline({ payment_id: 'pay_a', type: 'payment.executing', summary: 'moved', ids: {} });
      await recordTimeline({ payment_id: 'pay_a', source: 'psp', type: 'psp.charge', summary: 'charged', ids: {} });
      await recordTimeline({ payment_id: 'pay_b', type: 'payment.failed', summary: 'other', ids: {} });
      await recordTimeline({ payment_id: 'pay_a', type: 'payment.success', summary: 'orders', ids: {} });
      // Nothing is written while the scope runs.
      expect(sent).toEqual([]);
    });
    expect(sent).toEqual(['BatchWriteItemCommand']);
    expect(await items('pay_a')).toHaveLength(1);
    expect(await items('pay_b')).toHaveLength(1);
    expect((await table.eventsOf('pay_a')).map((e) => [e.source, e.type])).toEqual([
      ['workflow', 'payment.executing'],
      ['psp', 'psp.charge'],
      ['workflow', 'payment.success'],
    ]);
  });

  it('reads single events and batched ones together, in time order; a once-only fact is written once, at once', async () => {
    const at = (ms: number) => new Date(Date.UTC(2026, 10, 29, 12, 0, 0, ms)).toISOString();
    await table.put({ payment_id: 'pay_c', at: at(5), source: 'api', type: 'single', summary: 's', ids: {} });
    await table.putMany([
      { payment_id: 'pay_c', at: at(1), source: 'workflow', type: 'first', summary: 'f', ids: {} },
      { payment_id: 'pay_c', at: at(9), source: 'workflow', type: 'last', summary: 'l', ids: {} },
    ]);
    sent.length = 0;
    await withTimeline({ source: 'api', writer: table }, async () => {
      await recordTimeline({ payment_id: 'pay_c', type: 'payment.accepted', summary: 'a', ids: {}, once: 'accepted' });
      expect(sent).toEqual(['PutItemCommand']);
      await recordTimeline({ payment_id: 'pay_c', type: 'payment.accepted', summary: 'b', ids: {}, once: 'accepted' });
    });
    const types = (await table.eventsOf('pay_c')).map((e) => e.type);
    expect(types.slice(0, 3)).toEqual(['first', 'single', 'last']);
    expect(types.filter((t) => t === 'payment.accepted')).toHaveLength(1);
  });

  it('splits a payment’s many events into items of at most 50, and more than 25 items into several calls', async () => {
    sent.length = 0;
    const events = Array.from({ length: 30 }, (_, p) =>
      Array.from({ length: p === 0 ? 120 : 1 }, (_, n) => ({
        payment_id: `pay_many_${p}`,
        at: new Date(Date.UTC(2026, 10, 29, 12, 0, 0, n)).toISOString(),
        source: 'janitor' as const,
        type: `t${n}`,
        summary: 's',
        ids: {},
      })),
    ).flat();
    await table.putMany(events);
    expect(sent).toEqual(['BatchWriteItemCommand', 'BatchWriteItemCommand']);
    expect(await items('pay_many_0')).toHaveLength(3);
    expect((await table.eventsOf('pay_many_0')).map((e) => e.type)).toEqual(
      Array.from({ length: 120 }, (_, n) => `t${n}`),
    );
    expect(await table.eventsOf('pay_many_29')).toHaveLength(1);
  });
});
