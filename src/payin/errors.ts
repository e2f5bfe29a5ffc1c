/**
 * The pay-in's named domain errors. The HTTP edge (src/api) maps them to status codes; Step Functions matches
 * the shared ones of src/core/errors by name. A use case never throws an HTTP error.
 */

export interface FieldProblem {
  /** The request field, as a path such as `payment_orders[1].amount`. */
  field: string;
  message: string;
}

/** A checkout that cannot be accepted as it is: every problem names its field. Nothing was stored. */
export class InvalidCheckoutError extends Error {
  override readonly name = 'InvalidCheckoutError';
  constructor(readonly problems: FieldProblem[]) {
    super('the checkout is not valid');
  }
}

export class DuplicateCheckoutError extends Error {
  override readonly name = 'DuplicateCheckoutError';
  constructor(
    readonly checkoutId: string,
    readonly existingPaymentId: string | undefined,
  ) {
    super(`checkout ${checkoutId} was already accepted as payment ${existingPaymentId ?? '(unknown)'}`);
  }
}

/** The payment id (derived from a client's idempotency key) already belongs to another checkout. */
export class PaymentIdTakenError extends Error {
  override readonly name = 'PaymentIdTakenError';
}

/** Another request with the same payment id (the same Idempotency-Key) is being stored at this moment. */
export class CheckoutInProgressError extends Error {
  override readonly name = 'CheckoutInProgressError';
}

export class DuplicateOrderError extends Error {
  override readonly name = 'DuplicateOrderError';
  constructor(readonly paymentOrderIds: string[]) {
    super(`payment_order_id already used: ${paymentOrderIds.join(', ')}`);
  }
}
