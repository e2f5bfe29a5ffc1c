/**
 * The Idempotency-Key header of a mutating request, checked: kept apart from the Powertools idempotency wrapper
 * (src/api/idempotency.ts) so that a handler that keeps its own record (POST /v1/payments: the payment) does not
 * bundle it.
 */
import { HttpError } from './http';

const HEADER = /^[\x21-\x7e]{1,255}$/;

/** The Idempotency-Key header, required, printable ASCII, at most 255 characters. */
export function idempotencyKeyHeader(headers: Record<string, string | undefined> | null): string {
  const entry = Object.entries(headers ?? {}).find(([name]) => name.toLowerCase() === 'idempotency-key');
  const value = entry?.[1]?.trim();
  if (!value) {
    throw new HttpError(
      400,
      'idempotency_key_missing',
      'the Idempotency-Key header is required: send a unique key per checkout attempt (e.g. a UUID) and reuse it on retries',
      {
        errors: [{ field: 'Idempotency-Key', message: 'header is required' }],
      },
    );
  }
  if (!HEADER.test(value)) {
    throw new HttpError(400, 'invalid_request', 'the Idempotency-Key header is not valid', {
      errors: [{ field: 'Idempotency-Key', message: 'must be 1 to 255 printable ASCII characters without spaces' }],
    });
  }
  return value;
}
