/** Refunds' named domain errors; the HTTP edge maps them to status codes. */
import { NotFoundError } from '../core/errors';

/** The order cannot be refunded (not charged, or no such order): 409, saying why. */
export class RefundNotAllowedError extends Error {
  override readonly name = 'RefundNotAllowedError';
}

/** More than what remains refundable on the order (minor units). */
export class AmountAboveRefundableError extends Error {
  override readonly name = 'AmountAboveRefundableError';
  constructor(
    readonly requestedMinor: number,
    readonly refundableMinor: number,
    readonly currency: string,
  ) {
    super('the amount is more than what remains refundable');
  }
}

export class OrderNotFoundError extends NotFoundError {}

/** The refund id (derived from the Idempotency-Key) belongs to another request. */
export class RefundIdTakenError extends Error {
  override readonly name = 'RefundIdTakenError';
}

/** Other refunds of the order kept moving its refundable amount: nothing was stored; retry with the same key. */
export class RefundConflictError extends Error {
  override readonly name = 'RefundConflictError';
}
