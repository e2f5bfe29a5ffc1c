/**
 * The checkout request at the HTTP edge: card data refused, the body's shape checked (zod), then the pay-in's
 * own rules (src/payin/create-payment.ts). Every problem is a 400 naming its field; nothing is stored on error.
 */
import type { ZodError } from 'zod';
import { newPayment } from '../payin/create-payment';
import { InvalidCheckoutError } from '../payin/errors';
import { findCardData } from './card-data';
import { badRequest, type FieldError } from './http';
import { createPaymentSchema } from './schemas';

function fieldPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (text, part) => (typeof part === 'number' ? `${text}[${part}]` : text ? `${text}.${String(part)}` : String(part)),
    '',
  );
}

export function zodErrors(error: ZodError): FieldError[] {
  return error.issues.map((issue) => {
    const field = fieldPath(issue.path) || '(body)';
    if (issue.code === 'unrecognized_keys') {
      return { field, message: `unknown field${issue.keys.length > 1 ? 's' : ''}: ${issue.keys.join(', ')}` };
    }
    if (issue.code === 'invalid_type' && issue.input === undefined) return { field, message: `${field} is required` };
    return { field, message: issue.message };
  });
}

/** Validates a checkout body: every problem is reported with the field it concerns. Nothing is stored on error. */
export function validateCheckout(body: unknown, platformFeeBps: number, ids: { paymentId: string; now: string }) {
  const cardField = findCardData(body);
  if (cardField) {
    throw badRequest(
      'card data is never accepted: collect it on the PSP payment page or with the PSP SDK and send the payment method token',
      [{ field: cardField, message: 'looks like card data' }],
    );
  }
  const parsed = createPaymentSchema.safeParse(body, { reportInput: true });
  if (!parsed.success) throw badRequest('the checkout is not valid', zodErrors(parsed.error));
  try {
    return newPayment(parsed.data, platformFeeBps, ids);
  } catch (error) {
    if (error instanceof InvalidCheckoutError) throw badRequest(error.message, error.problems);
    throw error;
  }
}
