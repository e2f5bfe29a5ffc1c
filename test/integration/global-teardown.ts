import fs from 'node:fs';
import type { StackProcess } from '../support/local-stack-process';

export default async function globalTeardown(): Promise<void> {
  const state = (globalThis as { __LOCAL_STACK__?: { stack: StackProcess; dataDir: string } }).__LOCAL_STACK__;
  if (!state) return;
  await state.stack.stop('SIGTERM');
  fs.rmSync(state.dataDir, { recursive: true, force: true });
}
