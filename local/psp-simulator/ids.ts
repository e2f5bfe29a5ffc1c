import { randomInt } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export function randomAlphanumeric(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[randomInt(ALPHABET.length)];
  return out;
}

/** Stripe-style object id, e.g. `pi_` followed by 24 alphanumerics. */
export function newId(prefix: string, length = 24): string {
  return `${prefix}_${randomAlphanumeric(length)}`;
}
