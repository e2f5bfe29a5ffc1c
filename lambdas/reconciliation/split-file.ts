/** Reconciliation step: archives the raw settlement file and splits it into shards, streaming. */
import '../../src/reconciliation/with-psp';
import { taskHandler } from '../../src/core/step-handler';
import { reconciliationDeps } from '../../src/reconciliation/deps';
import { splitFile } from '../../src/reconciliation/run';
import { runInput } from './step-input';

export const handler = taskHandler('SplitFile', runInput, ({ run_id }) => splitFile(reconciliationDeps(), run_id));
