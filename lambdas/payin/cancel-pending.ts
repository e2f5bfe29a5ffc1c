/** Pay-in step at the pending deadline: stops the payment at the PSP; FAILED, or SUCCEEDED if it was paid meanwhile. */
import { stepDeps } from '../../src/adapters/deps';
import { cancelPending } from '../../src/payin/pending';
import { stepHandler } from '../../src/payin/step-handler';

export const handler = stepHandler('CancelPending', ({ payment_id }) => cancelPending(stepDeps(), payment_id));
