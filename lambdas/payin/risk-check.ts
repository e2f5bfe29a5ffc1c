import { stepDeps } from '../../src/adapters/deps';
import { stepHandler } from '../../src/payin/step-handler';
import { riskCheck } from '../../src/payin/steps';

export const handler = stepHandler('RiskCheck', ({ payment_id }) => riskCheck(stepDeps(), payment_id));
