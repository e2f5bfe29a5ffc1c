/** The input of a refund step. */
import * as z from 'zod';

export const refundStepInput = z.object({ refund_id: z.string().min(1), task_token: z.string().min(1).optional() });
