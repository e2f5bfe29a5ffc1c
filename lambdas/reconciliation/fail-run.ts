/** Reconciliation step after a step gave up: the run FAILED with the error, its date free for a new run. */
import { taskHandler } from '../../src/core/step-handler';
import { failRun } from '../../src/reconciliation/run';
import { deps } from './deps';
import { failInput } from './step-input';

export const handler = taskHandler('FailRun', failInput, async ({ run_id, error }) => {
  await failRun(deps(), run_id, error);
  return { run_id, status: 'FAILED' };
});
