/**
 * Reconciliation step: one shard of the file against our ledger; fixes applied once (by the flows' fix functions,
 * invoked), mismatches stored.
 */
import '../../src/reconciliation/with-psp';
import { taskHandler } from '../../src/core/step-handler';
import { matchShardStep } from '../../src/reconciliation/run';
import { deps } from './deps';
import { shardInput } from './step-input';

export const handler = taskHandler('MatchShard', shardInput, async ({ run_id, shard }) => {
  const result = await matchShardStep(deps(), run_id, shard);
  // The shard's result is stored with the run; the workflow needs only that it is done.
  return { shard, rows: result.rows, matched: result.matched };
});
