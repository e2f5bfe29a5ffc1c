/** The pay-out's named domain errors; the HTTP edge (src/api) maps them to status codes. */
import { NotFoundError } from '../core/errors';

export interface FieldProblem {
  field: string;
  message: string;
}

/** A request that cannot be accepted as it is: every problem names its field. Nothing was stored. */
export class InvalidPayoutRequestError extends Error {
  override readonly name = 'InvalidPayoutRequestError';
  constructor(readonly problems: FieldProblem[]) {
    super('the request is not valid');
  }
}

export class SellerNotFoundError extends NotFoundError {}

/** The seller cannot be paid out now (no connected account, payouts disabled at the PSP, or paused by us). */
export class PayoutsDisabledError extends Error {
  override readonly name = 'PayoutsDisabledError';
  constructor(
    readonly sellerAccount: string,
    readonly reason: string,
  ) {
    super(`payouts to ${sellerAccount} are disabled: ${reason}`);
  }
}

/** More than the seller's available balance was asked for (minor units). */
export class AmountAboveAvailableError extends Error {
  override readonly name = 'AmountAboveAvailableError';
  constructor(
    readonly requestedMinor: number,
    readonly availableMinor: number,
    readonly currency: string,
  ) {
    super(`the amount is more than the available balance`);
  }
}

/** The payout id (derived from the Idempotency-Key) belongs to another request. */
export class PayoutIdTakenError extends Error {
  override readonly name = 'PayoutIdTakenError';
}

/** A payout run for this date is running. */
export class RunInProgressError extends Error {
  override readonly name = 'RunInProgressError';
}
