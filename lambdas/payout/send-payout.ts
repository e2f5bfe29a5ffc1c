/** Pay-out step: the payout from the connected account to the seller's bank (refused: the transfer is undone). */
import '../../src/payout/with-psp';
import { payoutStepInput, taskHandler } from '../../src/core/step-handler';
import { payoutDeps } from '../../src/payout/deps';
import { sendPayout } from '../../src/payout/steps';

export const handler = taskHandler('SendPayout', payoutStepInput, ({ payout_id }) =>
  sendPayout(payoutDeps(), payout_id),
);
