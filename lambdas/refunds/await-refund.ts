/** Refund step (.waitForTaskToken): keeps the task token of a refund pending at the PSP. */
import * as z from 'zod';
import { taskHandler } from '../../src/core/step-handler';
import { refundStepInput } from '../../src/refunds/step-input';
import { awaitRefund } from '../../src/refunds/steps';
import { deps } from './deps';

const input = refundStepInput.extend({ task_token: z.string().min(1) });

export const handler = taskHandler('AwaitRefund', input, ({ refund_id, task_token }) =>
  awaitRefund(deps(), refund_id, task_token),
);
