/** Pay-out step (.waitForTaskToken): keeps the task token on the payout; a webhook or the janitor resumes it. */
import * as z from 'zod';
import { payoutStepInput, taskHandler } from '../../src/core/step-handler';
import { payoutDeps } from '../../src/payout/deps';
import { awaitPayout } from '../../src/payout/steps';

const input = payoutStepInput.extend({ task_token: z.string().min(1) });

export const handler = taskHandler('AwaitPayout', input, ({ payout_id, task_token }) =>
  awaitPayout(payoutDeps(), payout_id, task_token),
);
