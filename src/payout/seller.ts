/** A seller: the marketplace's account of a merchant, tied to one connected account at the PSP. */
export interface Seller {
  seller_account: string;
  country: string;
  default_currency: string;
  email: string;
  psp_account_id?: string;
  /** The PSP's word: whether it pays out to this account (kept current by `account.updated`). */
  payouts_enabled: boolean;
  /** What the PSP still needs (e.g. `external_account`), and why payouts are disabled, in its words. */
  requirements: string[];
  disabled_reason?: string;
  /** Whether the PSP leaves payouts to us (never sweeps the connected balance on its own schedule). */
  manual_payouts?: boolean;
  /** Ours: payouts paused after a payout failed at the bank, until the account is fixed (a later update). */
  payouts_paused_reason?: string;
  payouts_paused_at?: string;
  created_at: string;
  updated_at: string;
}

/** Why a seller cannot be paid out now, or undefined when it can. */
export function payoutBlocker(seller: Seller): string | undefined {
  if (!seller.psp_account_id) return 'the seller has no connected account at the PSP yet';
  if (seller.payouts_paused_reason) return `payouts are paused: ${seller.payouts_paused_reason}`;
  if (seller.manual_payouts === false) {
    return "the connected account's payout schedule is not manual: the PSP would pay out on its own";
  }
  if (!seller.payouts_enabled) {
    const why = seller.disabled_reason ? ` (${seller.disabled_reason})` : '';
    const due = seller.requirements.length > 0 ? `; the PSP still needs: ${seller.requirements.join(', ')}` : '';
    return `the PSP has not enabled payouts on the connected account${why}${due}`;
  }
  return undefined;
}
