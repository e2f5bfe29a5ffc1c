/** Starts one in-memory local stack for the integration tests; they reach it only over HTTP. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ARTIFACTS, startStackProcess } from '../support/local-stack-process';

/** The settings the integration tests rely on: fast janitor and retries, risk rules, crash injection. */
export const TEST_STACK_ENV = {
  LOCAL_FAULT_INJECTION: 'true',
  JANITOR_INTERVAL_SECONDS: '1',
  JANITOR_STALE_AFTER_SECONDS: '3',
  LOCAL_SFN_RETRY_INTERVAL_MS: '20',
  RISK_BLOCKED_COUNTRIES: 'KP',
  RISK_REVIEW_ABOVE: 'EUR:5000.00',
  RISK_MAX_AMOUNTS: 'EUR:50000.00',
  RISK_MAX_PAYMENTS_PER_BUYER_PER_HOUR: '3',
  PENDING_DEADLINE_SECONDS: '20',
  PSP_SEARCH_LAG_SECONDS: '2',
  PAYOUT_JANITOR_INTERVAL_SECONDS: '1',
  REFUND_JANITOR_INTERVAL_SECONDS: '1',
  // The daily payout run never fires by itself during the tests (they start runs by hand).
  PAYOUT_RUN_INTERVAL_SECONDS: '86400',
  // Nor the nightly reconciliation (its own test file runs a stack where it does).
  RECONCILIATION_INTERVAL_SECONDS: '86400',
};

export default async function globalSetup(): Promise<void> {
  // Each run audits its own logs (the card-data scan of the teardown reads every .log here).
  fs.rmSync(ARTIFACTS, { recursive: true, force: true });
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'payments-it-'));
  const stack = await startStackProcess({
    dataDir,
    logFile: path.join(ARTIFACTS, 'local-stack.log'),
    env: TEST_STACK_ENV,
  });
  process.env.LOCAL_STACK = JSON.stringify(stack.info);
  process.env.LOCAL_STACK_DATA_DIR = dataDir;
  (globalThis as { __LOCAL_STACK__?: unknown }).__LOCAL_STACK__ = { stack, dataDir };
}
