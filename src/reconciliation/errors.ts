/** Reconciliation's domain errors (the edge maps them: 400, 404, 409). */

/** Bad input to a run (400, naming the field). */
export class InvalidRunInputError extends Error {
  override readonly name = 'InvalidRunInputError';
  constructor(
    readonly field: string,
    problem: string,
  ) {
    super(`${field}: ${problem}`);
  }
}

export class RunNotFoundError extends Error {
  override readonly name = 'RunNotFoundError';
  constructor(readonly runId: string) {
    super(`no reconciliation run ${runId}`);
  }
}

/** A run of this date is already running (409). */
export class RunInProgressError extends Error {
  override readonly name = 'RunInProgressError';
  constructor(
    readonly date: string,
    readonly runningRunId: string,
  ) {
    super(`a reconciliation run of ${date} is already running: ${runningRunId}`);
  }
}

/** The mismatch cannot be resolved in its status (409). */
export class MismatchNotOpenError extends Error {
  override readonly name = 'MismatchNotOpenError';
  constructor(
    readonly mismatchId: string,
    readonly status: string,
  ) {
    super(`mismatch ${mismatchId} is ${status}: only open and carried mismatches are resolved by a person`);
  }
}
