/** Reconciliation step: one poll of the PSP's report run (bounded: a report never ready fails the run). */
import '../../src/reconciliation/with-psp';
import { taskHandler } from '../../src/core/step-handler';
import { checkReport } from '../../src/reconciliation/run';
import { deps } from './deps';
import { runInput } from './step-input';

export const handler = taskHandler('CheckReport', runInput, ({ run_id }) => checkReport(deps(), run_id));
