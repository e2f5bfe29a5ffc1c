import { stepHandler } from '../../src/core/step-handler';
import { stepDeps } from '../../src/payin/deps';
import { riskCheck } from '../../src/payin/steps';

export const handler = stepHandler('RiskCheck', ({ payment_id }) => riskCheck(stepDeps(), payment_id));
