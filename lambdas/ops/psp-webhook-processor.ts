/** The pay-in's verified PSP events (payment intents, charges), applied once each (lambdas/ops/psp-event-consumer.ts). */
import '../../src/payin/with-psp';
import { stepDeps } from '../../src/payin/deps';
import { applyPspEvent } from '../../src/payin/webhooks';
import { pspEventConsumer } from './psp-event-consumer';

export const handler = pspEventConsumer('payin', (event) => applyPspEvent(stepDeps(), event));
