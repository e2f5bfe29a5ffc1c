/** Refund step: the seller's wallet debited (it may go below zero) and the refund booked in the ledger, once each. */
import { taskHandler } from '../../src/core/step-handler';
import { refundStepInput } from '../../src/refunds/step-input';
import { debitAndBook } from '../../src/refunds/steps';
import { deps } from './deps';

export const handler = taskHandler('DebitAndBook', refundStepInput, ({ refund_id }) => debitAndBook(deps(), refund_id));
