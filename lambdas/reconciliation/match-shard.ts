/**
 * Reconciliation step: one shard of the file against our ledger; fixes applied once (by the flows' janitors,
 * invoked), mismatches stored.
 */
import '../../src/reconciliation/with-psp';
import { runtimeConfig } from '../../src/core/clients';
import { lambda } from '../../src/core/lambda-client';
import { taskHandler } from '../../src/core/step-handler';
import { LambdaRecoveryActions } from '../../src/reconciliation/fix-invoker';
import { matchShardStep } from '../../src/reconciliation/run';
import { deps } from './deps';
import { shardInput } from './step-input';

/** The automatic fixes: each made by its flow's janitor (lambdas/ops/reconciliation-fix.ts), invoked. */
const recovery = new LambdaRecoveryActions(lambda, () => runtimeConfig().fixingJanitors);

export const handler = taskHandler('MatchShard', shardInput, async ({ run_id, shard }) => {
  const result = await matchShardStep(deps({ recovery: () => recovery }), run_id, shard);
  // The shard's result is stored with the run; the workflow needs only that it is done.
  return { shard, rows: result.rows, matched: result.matched };
});
