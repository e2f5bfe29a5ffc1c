/**
 * Replaying a dead-lettered payment (or any payment by id), safely: a final payment is left alone, a running one
 * too; an UNKNOWN or stalled charge is first resolved with the PSP; only then is the workflow re-driven, and every
 * step of it is idempotent (conditional writes, the PSP idempotency key), so a replay cannot charge twice. The
 * decision is the janitor's (src/payin/recovery.ts), with the one difference stated there.
 */
import { type RecoveryAction, type RecoveryDeps, recover } from './recovery';

export type ReplayAction = RecoveryAction;

/** Replays one payment through the one recovery decision (src/payin/recovery.ts). */
export async function replayPayment(
  deps: RecoveryDeps,
  paymentId: string,
  now: Date = new Date(),
): Promise<{ payment_id: string; action: ReplayAction; execution?: string }> {
  const { action, execution } = await recover(deps, paymentId, { trigger: 'replay', now });
  return execution ? { payment_id: paymentId, action, execution } : { payment_id: paymentId, action };
}

/** The payment id of a dead-lettered "Execution Status Change" event (its execution input names it). */
export function paymentIdOfDeadLetter(body: string): string | undefined {
  try {
    const event = JSON.parse(body) as { detail?: { input?: string } };
    const input = JSON.parse(event.detail?.input ?? '{}') as { payment_id?: unknown };
    return typeof input.payment_id === 'string' ? input.payment_id : undefined;
  } catch {
    return undefined;
  }
}
