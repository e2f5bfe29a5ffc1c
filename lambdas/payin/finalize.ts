import { stepHandler } from '../../src/core/step-handler';
import { stepDeps } from '../../src/payin/deps';
import { finalize } from '../../src/payin/steps';

export const handler = stepHandler('Finalize', ({ payment_id }) => finalize(stepDeps(), payment_id));
