/**
 * Which flow applies a PSP event, by its type. Each flow's events go to a queue and a consumer of their own (the
 * receiver routes them; a consumer refuses another flow's), so a flow's consumer holds only its own rights and its
 * own code, and one flow's backlog or poison event never holds up another's. Connect events (accounts, balance,
 * transfers, payouts) are the pay-out's; refunds and disputes the refunds'; every other event (payment intents,
 * charges) the pay-in's, which ignores what settles no payment. No imports: the receiver bundles this alone.
 */
export type PspEventFlow = 'payin' | 'refunds' | 'payout';

const CONNECT = /^(account\.updated|balance\.available|payout\.|transfer\.)/;
const REFUNDS = /^(refund\.|charge\.refund\.|charge\.refunded$|charge\.dispute\.)/;

export function pspEventFlow(type: string): PspEventFlow {
  if (CONNECT.test(type)) return 'payout';
  if (REFUNDS.test(type)) return 'refunds';
  return 'payin';
}
