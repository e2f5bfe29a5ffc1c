/** Refund step: the refund at the PSP (Idempotency-Key: the refund id); refused: the booking reversed. */
import '../../src/refunds/with-psp';
import { taskHandler } from '../../src/core/step-handler';
import { refundStepInput } from '../../src/refunds/step-input';
import { refundAtPsp } from '../../src/refunds/steps';
import { deps } from './deps';

export const handler = taskHandler('RefundAtPsp', refundStepInput, ({ refund_id }) => refundAtPsp(deps(), refund_id));
