import * as z from 'zod';
import { taskHandler } from '../../src/core/step-handler';
import { stepDeps } from '../../src/payin/deps';
import { ORDER_STATUSES } from '../../src/payin/payment';
import { riskCheck } from '../../src/payin/steps';

/** The execution's input: the payment id and, from the start, what the risk check assesses. */
const input = z.object({
  payment_id: z.string().min(1),
  subject: z
    .object({
      buyer: z.object({ id: z.string().min(1), country: z.string().min(1) }),
      currency: z.string().min(1),
      total_minor: z.number().int().nonnegative(),
      status: z.enum(ORDER_STATUSES),
    })
    .optional(),
});

export const handler = taskHandler('RiskCheck', input, ({ payment_id, subject }) =>
  riskCheck(stepDeps(), payment_id, subject),
);
