/** Reconciliation step: adds the shards up, internal checks, work queues, metrics; the run COMPLETED. */
import { taskHandler } from '../../src/core/step-handler';
import { PowertoolsReconciliationMetrics } from '../../src/reconciliation/metrics';
import { finishRun } from '../../src/reconciliation/run';
import { deps } from './deps';
import { runInput } from './step-input';
import { walletBalances } from './wallet-balances';

export const handler = taskHandler('FinishRun', runInput, async ({ run_id }) => {
  const run = await finishRun(
    deps({ wallets: walletBalances, metrics: () => new PowertoolsReconciliationMetrics() }),
    run_id,
  );
  return { run_id, status: run.status, rows: run.rows, matched: run.matched, mismatches: run.mismatches };
});
