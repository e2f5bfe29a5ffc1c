/**
 * Runs the functions of lambdas/catalog.ts in this process, as Lambda would: each handler module is bundled
 * by esbuild the way the CDK app bundles it (CommonJS, node22, the AWS SDK left external), loaded on first
 * invocation and kept (a warm container, with its own module singletons), and called with an event and a Context.
 * Crash injection for the fault tests (local/faults.ts) wraps the handlers here, outside the bundled code.
 * Every table's name is in this one process's environment, so the runtime refuses a function a table its catalog
 * entry does not grant (src/core/config.ts, LOCAL_TABLE_GUARD), as the function's environment and role on AWS would.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Context } from 'aws-lambda';
import { buildSync } from 'esbuild';
import { type FunctionId, functions } from '../lambdas/catalog';
import { ConfigError, LOCAL_TABLE_GUARD } from '../src/core/config';
import { type TableName, tableSchemas } from '../src/core/table-schemas';
import { withCrashInjection } from './faults';

export const REPO_ROOT = path.resolve(__dirname, '..');
export const LOCAL_ACCOUNT = '000000000000';
export const LOCAL_REGION = 'us-east-1';

type Handler = (event: unknown, context: Context) => Promise<unknown>;
const loaded = new Map<FunctionId, Handler>();

/** Bundles live under the repository (so the external AWS SDK resolves from node_modules), one folder per process. */
export const BUILD_DIR = path.join(REPO_ROOT, '.local', 'build', String(process.pid));

function bundle(id: FunctionId): string {
  const outfile = path.join(BUILD_DIR, `${id}.js`);
  buildSync({
    entryPoints: [path.join(REPO_ROOT, functions[id].entry)],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    external: ['@aws-sdk/*'],
    sourcemap: 'inline',
    logLevel: 'error',
  });
  return outfile;
}

/** Removes this process's bundles, and those of processes that are gone. */
export function cleanBuilds(): void {
  const root = path.dirname(BUILD_DIR);
  if (!fs.existsSync(root)) return;
  for (const dir of fs.readdirSync(root)) {
    const pid = Number(dir);
    let alive = false;
    try {
      alive = pid !== process.pid && process.kill(pid, 0);
    } catch {
      alive = false;
    }
    if (!alive) fs.rmSync(path.join(root, dir), { recursive: true, force: true });
  }
}

function load(id: FunctionId): Handler {
  let handler = loaded.get(id);
  if (!handler) {
    const module = require(bundle(id)) as { handler?: Handler };
    if (typeof module.handler !== 'function') throw new Error(`${functions[id].entry} does not export a handler`);
    handler = withCrashInjection(id, module.handler);
    loaded.set(id, handler);
  }
  return handler;
}

export function functionArn(id: FunctionId): string {
  return `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${id}`;
}

function context(id: FunctionId): Context {
  const deadline = Date.now() + functions[id].timeoutSeconds * 1000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: id,
    functionVersion: '$LATEST',
    invokedFunctionArn: functionArn(id),
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${id}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** The function being invoked, for the table guard. */
const invoking = new AsyncLocalStorage<FunctionId>();
(globalThis as { [LOCAL_TABLE_GUARD]?: (table: TableName) => void })[LOCAL_TABLE_GUARD] = (table) => {
  const id = invoking.getStore();
  if (id && !(functions[id].tables as Partial<Record<TableName, string>>)[table]) {
    throw new ConfigError(
      `${tableSchemas[table].envVar} is not set: the catalog grants ${id} no ${table} table (lambdas/catalog.ts)`,
    );
  }
};

/** Invokes a function with an event; its errors are thrown unchanged (their names drive Retry/Catch). */
export async function invoke(id: FunctionId, event: unknown): Promise<unknown> {
  return invoking.run(id, () => load(id)(event, context(id)));
}
