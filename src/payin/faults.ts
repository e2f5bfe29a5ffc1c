/**
 * Crash injection for the local stack's fault tests: with LOCAL_FAULT_INJECTION=true (never set on AWS), an order
 * whose seller account starts with `fault_crash_<point>` makes the step throw right after its write, once per
 * order and container, as a function crashing after its side effect would. The retry must then change nothing.
 */

import { TransientError } from '../core/errors';
import type { PaymentOrder } from './payment';

export type CrashPoint = 'after-wallet-write' | 'after-ledger-write';

const crashed = new Set<string>();

export function crashPoint(point: CrashPoint, order: Pick<PaymentOrder, 'payment_order_id' | 'seller_account'>): void {
  if (process.env.LOCAL_FAULT_INJECTION !== 'true') return;
  if (!order.seller_account.startsWith(`fault_crash_${point}`)) return;
  const key = `${point}:${order.payment_order_id}`;
  if (crashed.has(key)) return;
  crashed.add(key);
  throw new TransientError(`injected crash ${point} of order ${order.payment_order_id}`);
}
