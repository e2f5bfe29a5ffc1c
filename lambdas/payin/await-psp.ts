/** Pay-in step (.waitForTaskToken): keeps the task token on the pending payment; a webhook or the janitor resumes. */
import * as z from 'zod/mini';
import { parseStepInput, stepHandler, text } from '../../src/core/step-handler';
import { stepDeps } from '../../src/payin/deps';
import { awaitPsp } from '../../src/payin/pending';

const input = z.object({ task_token: text() });

export const handler = stepHandler('AwaitPsp', ({ payment_id }, raw) =>
  awaitPsp(stepDeps(), payment_id, parseStepInput('AwaitPsp', input, raw).task_token),
);
