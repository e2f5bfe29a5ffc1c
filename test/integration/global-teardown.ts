import fs from 'node:fs';
import path from 'node:path';
import { scanForCardNumbers } from '../support/card-scan';
import { ARTIFACTS, type StackProcess } from '../support/local-stack-process';

export default async function globalTeardown(): Promise<void> {
  const state = (globalThis as { __LOCAL_STACK__?: { stack: StackProcess; dataDir: string } }).__LOCAL_STACK__;
  if (!state) return;
  try {
    // Card data must never reach our tables or logs, whatever the tests did.
    const report = await scanForCardNumbers(state.stack.info.urls.dynamodb, ARTIFACTS);
    fs.writeFileSync(path.join(ARTIFACTS, 'card-scan.json'), JSON.stringify(report, null, 2));
    process.stdout.write(
      `\ncard-data scan: ${report.items} table items, ${report.logLines} log lines, ${report.findings.length} findings\n`,
    );
    if (report.findings.length > 0) {
      throw new Error(`card numbers found: ${JSON.stringify(report.findings.slice(0, 20))}`);
    }
  } finally {
    await state.stack.stop('SIGTERM');
    fs.rmSync(state.dataDir, { recursive: true, force: true });
  }
}
