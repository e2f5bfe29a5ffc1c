/** Starts one in-memory local stack for the integration tests; they reach it only over HTTP. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ARTIFACTS, startStackProcess } from '../support/local-stack-process';

export default async function globalSetup(): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'payments-it-'));
  const stack = await startStackProcess({ dataDir, logFile: path.join(ARTIFACTS, 'local-stack.log') });
  process.env.LOCAL_STACK = JSON.stringify(stack.info);
  (globalThis as { __LOCAL_STACK__?: unknown }).__LOCAL_STACK__ = { stack, dataDir };
}
