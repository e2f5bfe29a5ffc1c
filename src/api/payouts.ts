/**
 * The pay-out at the HTTP edge: request bodies checked (zod; every problem a 400 naming its field), amounts turned
 * into minor units by the money module, and what the API shows of sellers, payouts and runs (decimal strings).
 */
import * as z from 'zod/mini';
import '../core/zod-english';
import { fromMinorUnits, isSupportedCurrency, MoneyError, toMinorUnits } from '../core/money';
import type { Payout } from '../payout/payout';
import type { PayoutRun } from '../payout/ports';
import type { Seller } from '../payout/seller';
import type { SellerInput } from '../payout/sellers';
import { findCardData } from './card-data';
import { badRequest } from './http';
import { isCountryCode } from './identifiers';
import { zodErrors } from './zod-errors';

const currency = (field: string) =>
  z
    .string({ error: `${field} must be a string` })
    .check(z.refine(isSupportedCurrency, `${field} must be a supported ISO 4217 code in upper case, such as "EUR"`));

export const sellerSchema = z.strictObject({
  country: z
    .string({ error: 'country must be a string' })
    .check(z.refine(isCountryCode, 'country must be an ISO 3166-1 alpha-2 code such as "FR"')),
  default_currency: currency('default_currency'),
  email: z.email({ error: 'email must be an e-mail address such as "seller@example.com"' }).check(z.maxLength(254)),
});

export const payoutRequestSchema = z.strictObject({
  seller_account: z
    .string({ error: 'seller_account must be a string' })
    .check(
      z.minLength(1, 'seller_account must not be empty'),
      z.maxLength(128, 'seller_account must be at most 128 characters'),
      z.regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]*$/, 'seller_account may contain only letters, digits and _ . : -'),
    ),
  currency: currency('currency'),
  amount: z.optional(z.string({ error: 'amount must be a decimal string such as "12.34", not a number' })),
});

export const payoutRunSchema = z.strictObject({
  date: z.optional(
    z.string({ error: 'date must be a string' }).check(
      z.regex(/^\d{4}-\d{2}-\d{2}$/, 'date must be a UTC date such as "2026-11-28"'),
      z.refine(
        (d) => !Number.isNaN(Date.parse(`${d}T00:00:00Z`)) && new Date(`${d}T00:00:00Z`).toISOString().startsWith(d),
        'date is not a calendar date',
      ),
    ),
  ),
});

function refuseCardData(body: unknown) {
  const cardField = findCardData(body);
  if (cardField) {
    throw badRequest('card data is never accepted', [{ field: cardField, message: 'looks like card data' }]);
  }
}

export function validateSeller(sellerAccount: string, body: unknown): SellerInput {
  refuseCardData(body);
  const parsed = sellerSchema.safeParse(body, { reportInput: true });
  if (!parsed.success) throw badRequest('the seller is not valid', zodErrors(parsed.error));
  return { seller_account: sellerAccount, ...parsed.data };
}

export function validatePayoutRequest(body: unknown): {
  seller_account: string;
  currency: string;
  amount_minor?: number;
} {
  refuseCardData(body);
  const parsed = payoutRequestSchema.safeParse(body, { reportInput: true });
  if (!parsed.success) throw badRequest('the payout request is not valid', zodErrors(parsed.error));
  const { seller_account, currency: code, amount } = parsed.data;
  if (amount === undefined) return { seller_account, currency: code };
  try {
    const amountMinor = toMinorUnits(amount, code);
    if (amountMinor <= 0) throw new MoneyError('must be more than zero');
    return { seller_account, currency: code, amount_minor: amountMinor };
  } catch (error) {
    if (error instanceof MoneyError)
      throw badRequest('the payout request is not valid', [{ field: 'amount', message: `amount ${error.message}` }]);
    throw error;
  }
}

export function validatePayoutRun(body: unknown, today: string): { date: string } {
  const parsed = payoutRunSchema.safeParse(body ?? {}, { reportInput: true });
  if (!parsed.success) throw badRequest('the payout run is not valid', zodErrors(parsed.error));
  const date = parsed.data.date ?? today;
  if (date > today)
    throw badRequest('the payout run is not valid', [{ field: 'date', message: 'date must not be in the future' }]);
  return { date };
}

export function sellerView(seller: Seller, onboarding?: { url: string; expires_at: number }) {
  return {
    seller_account: seller.seller_account,
    country: seller.country,
    default_currency: seller.default_currency,
    email: seller.email,
    psp_account_id: seller.psp_account_id ?? null,
    payouts_enabled: seller.payouts_enabled,
    requirements: seller.requirements,
    disabled_reason: seller.disabled_reason ?? null,
    payouts_paused: seller.payouts_paused_reason
      ? { reason: seller.payouts_paused_reason, since: seller.payouts_paused_at ?? null }
      : null,
    ...(onboarding
      ? {
          onboarding_url: onboarding.url,
          onboarding_url_expires_at: new Date(onboarding.expires_at * 1000).toISOString(),
        }
      : {}),
    created_at: seller.created_at,
    updated_at: seller.updated_at,
  };
}

export function payoutView(payout: Payout) {
  return {
    payout_id: payout.payout_id,
    seller_account: payout.seller_account,
    status: payout.status,
    amount: fromMinorUnits(payout.amount_minor, payout.currency),
    currency: payout.currency,
    trigger: payout.trigger,
    run_id: payout.run_id ?? null,
    psp_account_id: payout.psp_account_id,
    transfer_id: payout.transfer_id ?? null,
    psp_payout_id: payout.psp_payout_id ?? null,
    transfer_reversal_id: payout.reversal_id ?? null,
    failure_code: payout.failure_code ?? null,
    failure_message: payout.failure_message ?? null,
    /** After a failure that followed the transfer: whether the money is back in the seller's available balance. */
    reversal_complete:
      payout.transfer_id && (payout.status === 'FAILED' || payout.status === 'CANCELED') ? payout.reversal_done : null,
    created_at: payout.created_at,
    updated_at: payout.updated_at,
  };
}

export function payoutRunView(run: PayoutRun) {
  return {
    run_id: run.run_id,
    date: run.date,
    status: run.status,
    attempt: run.attempt,
    progress: {
      sellers_listed: run.sellers_listed,
      sellers_done: run.sellers_done,
      listing_done: run.listing_done,
    },
    payouts_created: run.payouts_created,
    payouts_existing: run.payouts_existing,
    sellers_skipped: run.sellers_skipped,
    amounts: Object.fromEntries(
      Object.entries(run.amount_by_currency ?? {}).map(([code, minor]) => [code, fromMinorUnits(Number(minor), code)]),
    ),
    started_at: run.started_at,
    completed_at: run.completed_at ?? null,
    updated_at: run.updated_at,
  };
}
