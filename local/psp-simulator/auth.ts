// API key authentication as Stripe does it: Bearer (what the SDK sends) or Basic with the key as user name.

import { createHash, timingSafeEqual } from 'node:crypto';
import { StripeApiError } from './errors';

const NO_KEY_MESSAGE =
  "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.";

/** Returns the presented key when it is the configured one; otherwise throws Stripe's 401. */
export function authenticate(authorization: string | undefined, secretKey: string): string {
  const presented = presentedKey(authorization);
  if (!presented) throw unauthorized(NO_KEY_MESSAGE);
  if (!sameKey(presented, secretKey)) throw unauthorized(`Invalid API Key provided: ${maskKey(presented)}`);
  return presented;
}

function presentedKey(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  const space = authorization.indexOf(' ');
  const scheme = authorization.slice(0, space).toLowerCase();
  const credentials = authorization.slice(space + 1).trim();
  if (scheme === 'bearer') return credentials || undefined;
  if (scheme === 'basic') {
    const user = Buffer.from(credentials, 'base64').toString().split(':')[0];
    return user || undefined;
  }
  return undefined;
}

function sameKey(presented: string, expected: string): boolean {
  const digest = (key: string) => createHash('sha256').update(key).digest();
  return timingSafeEqual(digest(presented), digest(expected));
}

/** Stripe keeps the key type prefix and the last four characters: `sk_test_********1234`. */
export function maskKey(key: string): string {
  const prefix = /^(sk|rk|pk)_(test|live)_/.exec(key)?.[0] ?? '';
  const rest = key.slice(prefix.length);
  // A short secret would be mostly revealed by its last four characters.
  if (rest.length < 12) return `${prefix}${'*'.repeat(rest.length)}`;
  return `${prefix}${'*'.repeat(rest.length - 4)}${rest.slice(-4)}`;
}

function unauthorized(message: string): StripeApiError {
  return new StripeApiError(401, { type: 'invalid_request_error', message });
}
