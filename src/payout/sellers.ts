/**
 * Sellers and their connected accounts: created or updated by PUT /v1/sellers/{id}, kept current from the PSP's
 * `account.updated`. Bank details are entered on the PSP's hosted onboarding page and never reach us.
 */
import { createHash } from 'node:crypto';
import type { PayoutDeps } from './ports';
import type { Seller } from './seller';

export type SellerDeps = Pick<PayoutDeps, 'sellers' | 'psp' | 'settings'> & { now?: () => Date };

export interface SellerInput {
  seller_account: string;
  country: string;
  default_currency: string;
  email: string;
}

/** A change the PSP does not allow (a connected account's country is fixed). */
export class SellerConflictError extends Error {
  override readonly name = 'SellerConflictError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

const digest = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16);

/** Idempotency keys of the seller's PSP calls, derived from the seller id. */
export const sellerKeys = (seller: string) => ({
  account: `seller:${seller}:account`,
  email: (email: string) => `seller:${seller}:email:${digest(email)}`,
  onboarding: (at: Date) => `seller:${seller}:onboarding:${Math.floor(at.getTime() / 60_000)}`,
});

export async function upsertSeller(
  deps: SellerDeps,
  input: SellerInput,
): Promise<{ seller: Seller; created: boolean; onboarding?: { url: string; expires_at: number } }> {
  const now = deps.now?.() ?? new Date();
  const at = now.toISOString();
  let seller = await deps.sellers.get(input.seller_account);
  let created = false;
  if (!seller) {
    const fresh: Seller = { ...input, payouts_enabled: false, requirements: [], created_at: at, updated_at: at };
    created = await deps.sellers.create(fresh);
    seller = (await deps.sellers.get(input.seller_account)) ?? fresh;
  }
  if (seller.psp_account_id) {
    for (const field of ['country', 'default_currency'] as const) {
      if (seller[field] !== input[field]) {
        throw new SellerConflictError(
          field,
          `${field} is ${seller[field]} and cannot change once the seller has a connected account`,
        );
      }
    }
  }
  const keys = sellerKeys(input.seller_account);
  if (!seller.psp_account_id) {
    const account = await deps.psp.createAccount({
      sellerAccount: input.seller_account,
      country: input.country,
      email: input.email,
      defaultCurrency: input.default_currency,
      idempotencyKey: keys.account,
    });
    await deps.sellers.setAccount(input.seller_account, account);
  } else if (seller.email !== input.email) {
    await deps.psp.updateAccountEmail(seller.psp_account_id, input.email, keys.email(input.email));
  }
  if (seller.email !== input.email) await deps.sellers.updateContact(input.seller_account, { email: input.email });
  seller = (await deps.sellers.get(input.seller_account)) as Seller;
  const onboarding = seller.payouts_enabled ? undefined : await onboardingLink(deps, seller, now);
  return { seller, created, ...(onboarding ? { onboarding } : {}) };
}

/** A fresh link to the PSP's hosted onboarding page (links are short-lived and single-use). */
export async function onboardingLink(deps: SellerDeps, seller: Seller, now = new Date()) {
  if (!seller.psp_account_id) return undefined;
  const link = await deps.psp.onboardingLink(
    seller.psp_account_id,
    {
      refreshUrl: deps.settings.onboardingRefreshUrl.replace(
        '{seller_account}',
        encodeURIComponent(seller.seller_account),
      ),
      returnUrl: deps.settings.onboardingReturnUrl.replace(
        '{seller_account}',
        encodeURIComponent(seller.seller_account),
      ),
    },
    sellerKeys(seller.seller_account).onboarding(now),
  );
  return { url: link.url, expires_at: link.expiresAt };
}

/** The PSP's current view of a connected account, applied to its seller (a webhook said it changed). */
export async function refreshAccount(deps: SellerDeps, pspAccountId: string): Promise<Seller | undefined> {
  const sellerAccount = await deps.sellers.sellerOfAccount(pspAccountId);
  if (!sellerAccount) return undefined;
  const observedAt = (deps.now?.() ?? new Date()).toISOString();
  const account = await deps.psp.retrieveAccount(pspAccountId);
  return deps.sellers.applyAccount(sellerAccount, account, observedAt);
}
