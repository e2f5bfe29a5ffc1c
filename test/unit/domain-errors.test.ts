/** The HTTP edge maps each capability's named errors to a status and a body that names the field or the reason. */
import { fromDomainError } from '../../src/api/middleware';
import { PspTransientError, TransientError } from '../../src/core/errors';
import {
  AmountAboveAvailableError,
  PayoutIdTakenError,
  PayoutsDisabledError,
  RunInProgressError,
} from '../../src/payout/errors';
import { SellerConflictError } from '../../src/payout/sellers';
import {
  AmountAboveRefundableError,
  RefundConflictError,
  RefundIdTakenError,
  RefundNotAllowedError,
} from '../../src/refunds/errors';

describe('fromDomainError', () => {
  it('names amount and the available amount for a payout above available (422)', () => {
    const mapped = fromDomainError(new AmountAboveAvailableError(2001, 2000, 'EUR'));
    expect(mapped).toMatchObject({ statusCode: 422, code: 'amount_above_available' });
    expect(mapped?.details).toMatchObject({ available: '20.00', errors: [{ field: 'amount' }] });
  });

  it('names amount and the refundable amount for a refund above it (422), in the currency exponent', () => {
    const mapped = fromDomainError(new AmountAboveRefundableError(101, 100, 'JPY'));
    expect(mapped).toMatchObject({ statusCode: 422, code: 'amount_above_refundable' });
    expect(mapped?.details).toMatchObject({ refundable: '100', errors: [{ field: 'amount' }] });
  });

  it.each([
    [new PayoutsDisabledError('s', 'payouts are paused: x'), 409, 'payouts_disabled'],
    [new RunInProgressError('running'), 409, 'payout_run_in_progress'],
    [new SellerConflictError('country', 'country is FR'), 409, 'seller_conflict'],
    [new RefundNotAllowedError('not charged'), 409, 'refund_not_allowed'],
    [new RefundConflictError('retry'), 409, 'refund_conflict'],
    [new PayoutIdTakenError('x'), 422, 'idempotency_key_reused'],
    [new RefundIdTakenError('x'), 422, 'idempotency_key_reused'],
    [new TransientError('throttled'), 503, 'temporarily_unavailable'],
    [new PspTransientError('unreachable'), 503, 'temporarily_unavailable'],
  ])('%p -> %i %s', (error, status, code) => {
    expect(fromDomainError(error)).toMatchObject({ statusCode: status, code });
  });

  it('says why payouts are disabled, and asks for a retry after a moment when a dependency failed', () => {
    expect(fromDomainError(new PayoutsDisabledError('s', 'payouts are paused: closed'))?.details).toEqual({
      reason: 'payouts are paused: closed',
    });
    expect(fromDomainError(new TransientError('x'))?.headers).toEqual({ 'retry-after': '1' });
    expect(fromDomainError(new Error('a bug'))).toBeUndefined();
  });
});
