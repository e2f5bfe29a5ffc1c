/** Pay-out step (.waitForTaskToken): keeps the task token on the payout; a webhook or the janitor resumes it. */
import * as z from 'zod/mini';
import { payoutStepInput, taskHandler, text } from '../../src/core/step-handler';
import { payoutDeps } from '../../src/payout/deps';
import { awaitPayout } from '../../src/payout/steps';

const input = z.extend(payoutStepInput, { task_token: text() });

export const handler = taskHandler('AwaitPayout', input, ({ payout_id, task_token }) =>
  awaitPayout(payoutDeps(), payout_id, task_token),
);
