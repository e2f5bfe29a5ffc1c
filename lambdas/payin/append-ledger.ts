import * as z from 'zod/mini';
import { taskHandler, text } from '../../src/core/step-handler';
import { stepDeps } from '../../src/payin/deps';
import { appendLedger } from '../../src/payin/steps';

/** The order, and CreditWallet's answer (the workflow passes it along): a booked ledger needs no read. */
const input = z.object({
  payment_id: text(),
  payment_order_id: text(),
  credit: z.optional(z.object({ credited: z.boolean(), ledger_booked: z.optional(z.boolean()) })),
});

export const handler = taskHandler('AppendLedger', input, ({ payment_id, payment_order_id, credit }) =>
  appendLedger(stepDeps(), payment_id, payment_order_id, credit),
);
