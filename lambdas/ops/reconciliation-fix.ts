/**
 * A janitor's second door: reconciliation's automatic fix of one record. MatchShard invokes the flow's janitor with
 * `{"reconciliation_fix": {<the record's id>}}` (src/reconciliation/adapters.ts) and the janitor runs its own
 * recovery code on that record, with its own rights, instead of its scheduled sweep. It answers `{"result"}` (what
 * the fix did) or, when the fix threw, `{"error": {"type", "message"}}`: answered, not thrown, because a fix that did
 * not settle is the reconciliation run's finding (a person's, and the next run tries again), not the janitor's
 * failure. A request that is not valid is answered the same way. Only a crash of the janitor itself (its timeout, its
 * memory) during a fix counts among its errors and raises its Errors alarm, as it would during a sweep. A fix has the
 * janitor's timeout (300 s): one record's recovery is a few calls.
 */
import type { ZodMiniType } from 'zod/mini';
import { asRetryable } from '../../src/core/errors';
import { logger } from '../../src/core/observability';
import { parseStepInput } from '../../src/core/step-handler';
import { withTimeline } from '../../src/core/timeline';
import type { FixAnswer } from '../../src/reconciliation/fix-invoker';

const FIX_KEY = 'reconciliation_fix';

/** Whether an event is reconciliation's request for a fix (a scheduled event has no such key). */
export function isFixRequest(event: unknown): event is { reconciliation_fix: unknown } {
  return typeof event === 'object' && event !== null && FIX_KEY in event;
}

/**
 * The janitor's handler body: a fix request is checked against `schema` and made by `fix` (its events on the
 * records' timelines as the reconciliation's); any other event runs the sweep.
 */
export function orReconciliationFix<I extends Record<string, unknown>, R>(
  name: string,
  schema: ZodMiniType<I>,
  fix: (input: I) => Promise<string>,
  sweep: () => Promise<R>,
): (event: unknown) => Promise<R | FixAnswer> {
  return async (event) => {
    if (!isFixRequest(event)) return sweep();
    try {
      const input = parseStepInput(name, schema, event.reconciliation_fix);
      logger.appendKeys({ ...input, step: name });
      const result = await withTimeline({ source: 'reconciliation' }, () => fix(input));
      logger.info(`${name} done`, { result });
      return { result };
    } catch (error) {
      const thrown = asRetryable(error) as Error;
      logger.warn(`${name} did not settle the record; the reconciliation run records it`, { error: thrown });
      return { error: { type: thrown.name, message: thrown.message } };
    }
  };
}
