// API versions. Stripe answers every API request with a `Stripe-Version` header: the version the request asked
// for (its own `Stripe-Version` header), else the account's default version. The simulated account's default is
// the version the installed stripe SDK is pinned to (`Stripe.API_VERSION`, e.g. `2026-10-28.endive`), so a
// client left at the SDK default and the account agree, as they do on a freshly created Stripe account.
//
// Webhook endpoints render their events with their own version (`api_version` of the endpoint; none set means
// the account's default): see events.ts and webhooks.ts.

import Stripe from 'stripe';

export const ACCOUNT_API_VERSION: string = Stripe.API_VERSION;

/** `YYYY-MM-DD` or `YYYY-MM-DD.<release>`, the shapes of Stripe's API versions. */
export function isApiVersion(value: string): boolean {
  return /^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$/.test(value);
}
