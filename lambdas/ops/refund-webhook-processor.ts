/** Refund and dispute events, verified, applied once each (lambdas/ops/psp-event-consumer.ts). */
import '../../src/refunds/with-psp';
import { applyRefundEvent } from '../../src/refunds/webhooks';
import { deps } from '../refunds/deps';
import { pspEventConsumer } from './psp-event-consumer';

export const handler = pspEventConsumer('refunds', (event) => applyRefundEvent(deps(), event));
