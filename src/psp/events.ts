/** PSP (Stripe) events: what we read of them, its shape checked, and which of our objects they concern. No SDK needed. */
import * as z from 'zod/mini';
import '../core/zod-english';

/** The part of a Stripe event we read. */
export interface PspEvent {
  id: string;
  type: string;
  account?: string;
  data: {
    object: {
      /** Every object we act on has one (a PaymentIntent, a Checkout Session); some others (a Balance) have none. */
      id?: string;
      object: string;
      metadata?: Record<string, string> | null;
      client_reference_id?: string | null;
      payment_intent?: string | { id: string } | null;
    };
  };
}

/** Event types that may change a pay-in. */
export const isPaymentEvent = (event: Pick<PspEvent, 'type'>) =>
  /^(payment_intent|checkout\.session)\./.test(event.type);

const text = z.string().check(z.minLength(1), z.maxLength(255));

/** What we read of an event, checked; the rest of it is kept as is (loose objects). */
const eventSchema = z
  .looseObject({
    id: text,
    type: text,
    account: z.optional(text),
    data: z.looseObject({
      object: z.looseObject({
        id: z.optional(text),
        object: text,
        metadata: z.optional(z.nullable(z.looseObject({ payment_id: z.optional(z.string()) }))),
        client_reference_id: z.optional(z.nullable(z.string())),
        payment_intent: z.optional(z.nullable(z.union([z.string(), z.looseObject({ id: z.string() })]))),
      }),
    }),
  })
  .check(
    z.superRefine((event, context) => {
      if (isPaymentEvent(event) && event.data.object.id === undefined) {
        context.addIssue({
          code: 'custom',
          path: ['data', 'object', 'id'],
          message: 'a payment event names its object',
        });
      }
    }),
  );

export type ParsedPspEvent =
  | { ok: true; event: PspEvent }
  | { ok: false; reason: string; eventId?: string; type?: string };

const MAX_REASON_LENGTH = 500;

/**
 * Reads a queued (verified) event: its JSON, then the fields we use. A malformed event gets the reason, naming each
 * field, and, when they can be read, its id and type (for the logs).
 */
export function parsePspEvent(body: string): ParsedPspEvent {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (error) {
    return { ok: false, reason: `the event is not JSON: ${(error as Error).message}`.slice(0, MAX_REASON_LENGTH) };
  }
  const parsed = eventSchema.safeParse(value);
  if (parsed.success) return { ok: true, event: parsed.data as PspEvent };
  const reason = parsed.error.issues
    .map((issue) => `${issue.path.map(String).join('.') || '(event)'}: ${issue.message}`)
    .join('; ')
    .slice(0, MAX_REASON_LENGTH);
  const facts = value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  return {
    ok: false,
    reason,
    ...(typeof facts.id === 'string' ? { eventId: facts.id.slice(0, 255) } : {}),
    ...(typeof facts.type === 'string' ? { type: facts.type.slice(0, 255) } : {}),
  };
}

/** A verified event that cannot be applied as it is: it is kept (dead-lettered) with its reason logged. */
export class MalformedPspEventError extends Error {
  override readonly name = 'MalformedPspEventError';
}

/** Our payment id and the PSP object an event is about (a PaymentIntent or a hosted page), when it names them. */
export function paymentEventRouting(event: PspEvent): { paymentId?: string; pspReference?: string } {
  const object = event.data.object;
  const paymentId = object.metadata?.payment_id ?? object.client_reference_id ?? undefined;
  // A hosted page's events name the session (its PaymentIntent may not exist yet); the PSP adapter reads either.
  const pspReference =
    object.object === 'payment_intent' || object.object === 'checkout.session' ? object.id : undefined;
  return { paymentId, pspReference };
}
