/** Pay-in step at the pending deadline: stops the payment at the PSP; FAILED, or SUCCEEDED if it was paid meanwhile. */

import '../../src/payin/with-psp';
import { stepHandler } from '../../src/core/step-handler';
import { stepDeps } from '../../src/payin/deps';
import { cancelPending } from '../../src/payin/pending';

export const handler = stepHandler('CancelPending', ({ payment_id }) => cancelPending(stepDeps(), payment_id));
