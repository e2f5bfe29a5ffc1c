/**
 * Named errors. Step Functions `Retry`/`Catch` match on the error name, so every failure a Task may retry
 * is thrown as one of these names; anything else is a bug or a business outcome and is not retried.
 */

/** A transient infrastructure failure (throttling, a conflicting transaction, a 5xx): safe to retry. */
export class TransientError extends Error {
  override readonly name = 'TransientError';
}

/** The PSP did not answer usefully but did not charge either (5xx before charging, connection refused, 429). */
export class PspTransientError extends Error {
  override readonly name = 'PspTransientError';
}

/**
 * The PSP answered a create with a 500: it saved that answer under our idempotency key and replays it to a retry,
 * so retrying cannot tell whether it charged. Never retried: the payment becomes UNKNOWN and is settled from the
 * PSP's own record (the janitor's search), as Stripe documents for a 500.
 */
export class PspOutcomeUnknownError extends Error {
  override readonly name = 'PspOutcomeUnknownError';
}

/** Our records are not in a state this step can act on: a bug or a manual change, never retried blindly. */
export class InconsistentStateError extends Error {
  override readonly name = 'InconsistentStateError';
}

export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
}

/** A Task got an input it cannot act on (a workflow definition and its function out of step): never retried. */
export class InvalidStepInputError extends Error {
  override readonly name = 'InvalidStepInputError';
}

const TRANSIENT_AWS_ERRORS = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
  'TransactionInProgressException',
  // A single-item write to an item a transaction is writing at that moment: nothing was written, try again.
  'TransactionConflictException',
  'TimeoutError',
  'ECONNREFUSED',
  'ECONNRESET',
]);

/** True for AWS SDK errors worth retrying (after the SDK's own bounded retries gave up). */
export function isTransientAwsError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const fault = (error as { $fault?: string }).$fault;
  const code = (error as { code?: string }).code;
  if (TRANSIENT_AWS_ERRORS.has(error.name) || (code !== undefined && TRANSIENT_AWS_ERRORS.has(code))) return true;
  if (error.name === 'TransactionCanceledException') {
    const reasons = (error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
    return reasons.some(
      (reason) =>
        reason.Code === 'TransactionConflict' ||
        reason.Code === 'ThrottlingError' ||
        reason.Code === 'ProvisionedThroughputExceeded',
    );
  }
  return fault === 'server';
}

/** Rethrows transient AWS failures as TransientError so the workflow retries them; others pass unchanged. */
export function asRetryable(error: unknown): unknown {
  if (isTransientAwsError(error)) {
    return new TransientError(`transient AWS error: ${(error as Error).name}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return error;
}

/** Cancellation reason codes of a TransactionCanceledException, in item order ('None' for items that passed). */
export function cancellationCodes(error: unknown): string[] | undefined {
  if (!(error instanceof Error) || error.name !== 'TransactionCanceledException') return undefined;
  const reasons = (error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
  return reasons.map((reason) => reason.Code ?? 'None');
}

/** Runs a store call, rethrowing its transient AWS failures as TransientError (see asRetryable). */
export async function retryable<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw asRetryable(error);
  }
}
