/** The input of a refund step. */
import * as z from 'zod/mini';
import { text } from '../core/step-handler';

export const refundStepInput = z.object({ refund_id: text(), task_token: z.optional(text()) });
