/** Connect events (accounts, balance, transfers, payouts), verified, applied once each (lambdas/ops/psp-event-consumer.ts). */
import '../../src/payout/with-psp';
import { payoutDeps } from '../../src/payout/deps';
import { applyConnectEvent } from '../../src/payout/webhooks';
import { pspEventConsumer } from './psp-event-consumer';

export const handler = pspEventConsumer('payout', (event) => applyConnectEvent(payoutDeps(), event));
