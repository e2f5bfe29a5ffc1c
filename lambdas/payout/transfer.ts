/** Pay-out step: the Connect transfer to the seller's account (refused: hold released; 500: UNKNOWN), then booked. */
import '../../src/payout/with-psp';
import { payoutStepInput, taskHandler } from '../../src/core/step-handler';
import { payoutDeps } from '../../src/payout/deps';
import { transfer } from '../../src/payout/steps';

export const handler = taskHandler('Transfer', payoutStepInput, ({ payout_id }) => transfer(payoutDeps(), payout_id));
