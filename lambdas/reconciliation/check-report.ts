/** Reconciliation step: one poll of the PSP's report run (bounded: a report never ready fails the run). */
import '../../src/reconciliation/with-psp';
import { taskHandler } from '../../src/core/step-handler';
import { reconciliationDeps } from '../../src/reconciliation/deps';
import { checkReport } from '../../src/reconciliation/run';
import { runInput } from './step-input';

export const handler = taskHandler('CheckReport', runInput, ({ run_id }) => checkReport(reconciliationDeps(), run_id));
