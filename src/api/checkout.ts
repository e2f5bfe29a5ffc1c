/**
 * The checkout request at the HTTP edge: card data refused, the body's shape checked (zod), then the pay-in's
 * own rules (src/payin/create-payment.ts). Every problem is a 400 naming its field; nothing is stored on error.
 */
import { newPayment } from '../payin/create-payment';
import { InvalidCheckoutError } from '../payin/errors';
import { findCardData } from './card-data';
import { badRequest } from './http';
import { createPaymentSchema } from './schemas';
import { zodErrors } from './zod-errors';

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
