import * as z from 'zod/mini';
import { taskHandler, text } from '../../src/core/step-handler';
import { stepDeps } from '../../src/payin/deps';
import { ORDER_STATUSES } from '../../src/payin/payment';
import { riskCheck } from '../../src/payin/steps';

/** The execution's input: the payment id and, from the start, what the risk check assesses. */
const input = z.object({
  payment_id: text(),
  subject: z.optional(
    z.object({
      buyer: z.object({ id: text(), country: text() }),
      currency: text(),
      total_minor: z.int().check(z.gte(0)),
      status: z.enum(ORDER_STATUSES),
    }),
  ),
});

export const handler = taskHandler('RiskCheck', input, ({ payment_id, subject }) =>
  riskCheck(stepDeps(), payment_id, subject),
);
