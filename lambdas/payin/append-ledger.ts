import * as z from 'zod';
import { taskHandler } from '../../src/core/step-handler';
import { stepDeps } from '../../src/payin/deps';
import { appendLedger } from '../../src/payin/steps';

/** The order, and CreditWallet's answer (the workflow passes it along): a booked ledger needs no read. */
const input = z.object({
  payment_id: z.string().min(1),
  payment_order_id: z.string().min(1),
  credit: z.object({ credited: z.boolean(), ledger_booked: z.boolean().optional() }).optional(),
});

export const handler = taskHandler('AppendLedger', input, ({ payment_id, payment_order_id, credit }) =>
  appendLedger(stepDeps(), payment_id, payment_order_id, credit),
);
