/** Pay-out step after the wait: applies the PSP's own state of the payout (paid, or failed: the transfer undone). */
import '../../src/payout/with-psp';
import { payoutStepInput, taskHandler } from '../../src/core/step-handler';
import { payoutDeps } from '../../src/payout/deps';
import { settlePayout } from '../../src/payout/steps';

export const handler = taskHandler('SettlePayout', payoutStepInput, ({ payout_id }) =>
  settlePayout(payoutDeps(), payout_id),
);
