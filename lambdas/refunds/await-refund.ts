/** Refund step (.waitForTaskToken): keeps the task token of a refund pending at the PSP. */
import * as z from 'zod/mini';
import { taskHandler, text } from '../../src/core/step-handler';
import { refundStepInput } from '../../src/refunds/step-input';
import { awaitRefund } from '../../src/refunds/steps';
import { deps } from './deps';

const input = z.extend(refundStepInput, { task_token: text() });

export const handler = taskHandler('AwaitRefund', input, ({ refund_id, task_token }) =>
  awaitRefund(deps(), refund_id, task_token),
);
