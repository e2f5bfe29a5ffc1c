/**
 * Client idempotency (src/api/idempotency.ts) against DynamoDB Local, including the regression test of the
 * Powertools middleware bug (issue #5675: a duplicate arriving while the original runs removed the original's
 * lock, so a third call ran the side effect again). We use `makeIdempotent`; this proves the three-call case.
 */

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { createTableInput, type LocalDynamo, startDynamoDbLocal } from '../../local/dynamodb';
import { freePort } from '../../local/processes';
import { HttpError } from '../../src/api/http';
import { type IdempotentRequest, idempotent, type StoredResponse } from '../../src/api/idempotency';
import { tableSchemas } from '../../src/core/table-schemas';

jest.setTimeout(90_000);

let dynamo: LocalDynamo;
const TABLE = 'IdempotencyTest';

beforeAll(async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'idem-'));
  dynamo = await startDynamoDbLocal({ host: '127.0.0.1', port: await freePort('127.0.0.1'), dataDir, inMemory: true });
  await dynamo.client.send(new CreateTableCommand(createTableInput(tableSchemas.idempotency, TABLE)));
});

afterAll(async () => {
  await dynamo?.stop();
});

function context(): Context {
  return {
    functionName: 'test',
    awsRequestId: 'r',
    getRemainingTimeInMillis: () => 30_000,
  } as unknown as Context;
}

/** A side effect that counts its runs and, when asked, waits for a gate before answering. */
function sideEffect() {
  let runs = 0;
  let open: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const fn = async (request: IdempotentRequest & { slow?: boolean }): Promise<StoredResponse> => {
    runs++;
    if (request.slow) await gate;
    return { statusCode: 202, body: { ok: true, run: runs } };
  };
  return { fn, runs: () => runs, open: () => open() };
}

async function statusOf(promise: Promise<StoredResponse>): Promise<number> {
  try {
    return (await promise).statusCode;
  } catch (error) {
    if (error instanceof HttpError) return error.statusCode;
    throw error;
  }
}

describe('Function: idempotent', () => {
  it('runs the side effect once across A (slow), B (duplicate while A runs) and C (after B)', async () => {
    // Prepare
    const effect = sideEffect();
    const accept = idempotent(dynamo.client, TABLE, effect.fn);
    const request = { idempotency_key: 'key:three-calls', body: { amount: '10.00', currency: 'EUR' }, slow: true };

    // Act: A starts and is held inside the side effect.
    const a = accept(request, context());
    await new Promise((resolve) => setTimeout(resolve, 300));
    const b = await statusOf(accept(request, context()));
    const c = await statusOf(accept(request, context()));
    effect.open();
    const first = await a;
    const d = await accept(request, context());

    // Assess
    expect([b, c]).toEqual([409, 409]);
    expect(first).toEqual({ statusCode: 202, body: { ok: true, run: 1 } });
    expect(d).toEqual({ statusCode: 202, body: { ok: true, run: 1 }, replayed: true });
    expect(effect.runs()).toBe(1);
  });

  it('answers 409 with Retry-After while in progress', async () => {
    const effect = sideEffect();
    const accept = idempotent(dynamo.client, TABLE, effect.fn);
    const request = { idempotency_key: 'key:retry-after', body: { amount: '1.00' }, slow: true };
    const a = accept(request, context());
    await new Promise((resolve) => setTimeout(resolve, 300));
    const error = await accept(request, context()).catch((e: unknown) => e);
    effect.open();
    await a;
    expect(error).toBeInstanceOf(HttpError);
    expect((error as HttpError).headers).toEqual({ 'retry-after': '1' });
    expect((error as HttpError).code).toBe('request_in_progress');
  });

  it('refuses the same key with another body with 422, running nothing', async () => {
    const effect = sideEffect();
    const accept = idempotent(dynamo.client, TABLE, effect.fn);
    await accept({ idempotency_key: 'key:validation', body: { amount: '10.00', currency: 'EUR' } }, context());
    const error = await accept(
      { idempotency_key: 'key:validation', body: { amount: '10.01', currency: 'EUR' } },
      context(),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpError);
    expect((error as HttpError).statusCode).toBe(422);
    expect(effect.runs()).toBe(1);
  });

  it('keeps no record of a failed side effect, so a retry runs it again', async () => {
    let runs = 0;
    const accept = idempotent(dynamo.client, TABLE, async () => {
      runs++;
      if (runs === 1) throw new Error('boom');
      return { statusCode: 202, body: {} };
    });
    const request = { idempotency_key: 'key:failure', body: {} };
    await expect(accept(request, context())).rejects.toThrow('boom');
    await expect(accept(request, context())).resolves.toEqual({ statusCode: 202, body: {} });
    expect(runs).toBe(2);
  });

  it('keeps keys at least 24 hours', async () => {
    const accept = idempotent(dynamo.client, TABLE, async () => ({ statusCode: 202, body: {} }));
    const before = Math.floor(Date.now() / 1000);
    await accept({ idempotency_key: 'key:ttl', body: {} }, context());
    const doc = DynamoDBDocumentClient.from(dynamo.client);
    const { ScanCommand } = await import('@aws-sdk/lib-dynamodb');
    const { Items = [] } = await doc.send(new ScanCommand({ TableName: TABLE }));
    const record = Items.find((item) => item.status === 'COMPLETED' && Number(item.expiration) >= before);
    expect(record).toBeDefined();
    expect(Number(record?.expiration)).toBeGreaterThanOrEqual(before + 24 * 3600);
  });
});
