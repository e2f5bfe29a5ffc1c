/** Refund step after the wait: the PSP's state of the refund applied (succeeded; failed: the booking reversed). */
import '../../src/refunds/with-psp';
import { taskHandler } from '../../src/core/step-handler';
import { refundStepInput } from '../../src/refunds/step-input';
import { settleRefund } from '../../src/refunds/steps';
import { deps } from './deps';

export const handler = taskHandler('SettleRefund', refundStepInput, ({ refund_id }) => settleRefund(deps(), refund_id));
