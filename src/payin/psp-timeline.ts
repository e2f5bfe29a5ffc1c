/**
 * The pay-in's PSP calls, each recorded on the payment's timeline with its idempotency key and outcome (or the
 * error that left the outcome unknown). A decorator of the PSP port: the steps do not change.
 */
import { recordTimeline } from '../core/timeline';
import type { PspChargeState } from '../psp/types';
import type { PayInPsp } from './ports';

async function recorded<T>(
  operation: string,
  paymentId: string | undefined,
  ids: Record<string, string>,
  call: () => Promise<T>,
  describe: (result: T) => { outcome: string; ids?: Record<string, string> },
): Promise<T> {
  let result: T;
  try {
    result = await call();
  } catch (error) {
    if (paymentId) {
      const name = error instanceof Error ? error.name : 'Error';
      const message = error instanceof Error ? error.message : String(error);
      await recordTimeline({
        payment_id: paymentId,
        source: 'psp',
        type: `psp.${operation}`,
        summary: `PSP ${operation}: no answer (${name}: ${message})`,
        ids,
        detail: { error: name, cause: message },
      });
    }
    throw error;
  }
  if (paymentId) {
    let told: { outcome: string; ids?: Record<string, string> };
    try {
      told = describe(result);
    } catch {
      told = { outcome: 'answered' };
    }
    await recordTimeline({
      payment_id: paymentId,
      source: 'psp',
      type: `psp.${operation}`,
      summary: `PSP ${operation}: ${told.outcome}`,
      ids: { ...ids, ...(told.ids ?? {}) },
    });
  }
  return result;
}

const stateOf = (states: PspChargeState[]) =>
  states.length === 0
    ? { outcome: 'no charge found' }
    : {
        outcome: states.map((s) => `${s.pspReference} ${s.state}${s.reason ? ` (${s.reason})` : ''}`).join(', '),
        ids: { psp_reference: states.map((s) => s.pspReference).join(',') },
      };

export function recordingPsp(psp: PayInPsp): PayInPsp {
  return {
    charge: (request) =>
      recorded(
        'charge',
        request.metadata.payment_id,
        { idempotency_key: request.idempotencyKey },
        () => psp.charge(request),
        (result) => ({
          outcome:
            result.outcome === 'DECLINED'
              ? `declined (${result.reason})`
              : result.outcome === 'PENDING'
                ? `pending (${result.status})`
                : 'succeeded',
          ids: result.pspReference ? { psp_reference: result.pspReference } : ({} as Record<string, string>),
        }),
      ),
    registerHostedPayment: (request) =>
      recorded(
        'register_hosted_page',
        request.paymentId,
        { idempotency_key: request.idempotencyKey },
        () => psp.registerHostedPayment(request),
        (hosted) => ({
          outcome: `hosted page open (${hosted.sessionId})`,
          ids: { psp_reference: hosted.pspReference, checkout_session_id: hosted.sessionId },
        }),
      ),
    findCharges: (paymentId, window) =>
      recorded('find_charges', paymentId, {}, () => psp.findCharges(paymentId, window), stateOf),
    // A read by PSP reference: its callers record what they did with the answer.
    retrieve: (pspReference) => psp.retrieve(pspReference),
    stopPending: (pspReference, sessionId, idempotencyKey) =>
      recorded(
        'stop_pending',
        idempotencyKey.split(':stop:')[0],
        { idempotency_key: idempotencyKey, psp_reference: pspReference },
        () => psp.stopPending(pspReference, sessionId, idempotencyKey),
        (state) => stateOf([state]),
      ),
  };
}
