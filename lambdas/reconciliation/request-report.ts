/** Reconciliation step: asks the PSP for the day's itemized balance report (or takes the file at hand). */
import '../../src/reconciliation/with-psp';
import { taskHandler } from '../../src/core/step-handler';
import { reconciliationDeps } from '../../src/reconciliation/deps';
import { requestReport } from '../../src/reconciliation/run';
import { runInput } from './step-input';

export const handler = taskHandler('RequestReport', runInput, ({ run_id }) =>
  requestReport(reconciliationDeps(), run_id),
);
