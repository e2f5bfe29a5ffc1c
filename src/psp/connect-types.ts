/**
 * The PSP's Connect operations in our terms: connected accounts for sellers, the availability of collected funds,
 * transfers from the platform's balance to a seller's account and payouts from there to the seller's bank. The
 * Stripe implementation is in src/psp/stripe-connect.ts.
 */

export interface PspAccount {
  accountId: string;
  payoutsEnabled: boolean;
  detailsSubmitted: boolean;
  /** What the PSP still needs before it pays out (its `requirements.currently_due`, then `past_due`). */
  requirements: string[];
  /** Whether the PSP leaves payouts to us (`settings.payouts.schedule.interval: manual`). */
  manualPayouts: boolean;
  /** Why the account cannot be paid out, in the PSP's words (`requirements.disabled_reason`). */
  disabledReason?: string;
}

export interface AccountRequest {
  sellerAccount: string;
  country: string;
  email: string;
  defaultCurrency: string;
  idempotencyKey: string;
}

/** Whether the money of one payment is available at the PSP, by its balance transaction. */
export interface FundsAvailability {
  balanceTransaction: string;
  available: boolean;
  /** Unix seconds, the PSP's own date. */
  availableOn: number;
}

export interface TransferRequest {
  amountMinor: number;
  currency: string;
  destination: string;
  /** Our payout id: lets us find the transfer again from our side (list by transfer_group). */
  transferGroup: string;
  metadata: Record<string, string>;
  idempotencyKey: string;
  description?: string;
}

export interface PspTransfer {
  transferId: string;
  amountMinor: number;
  currency: string;
  destination: string;
  amountReversedMinor: number;
}

/** What the PSP said to a transfer or payout: made, or refused with its code (no money moved). */
export type MoneyMoveResult<T> =
  | { outcome: 'CREATED'; value: T }
  | { outcome: 'REFUSED'; code: string; message: string };

export type PspPayoutStatus = 'pending' | 'in_transit' | 'paid' | 'failed' | 'canceled';

export interface PspPayout {
  payoutId: string;
  status: PspPayoutStatus;
  amountMinor: number;
  currency: string;
  failureCode?: string;
  failureMessage?: string;
  /** Our payout id, from its metadata. */
  ourPayoutId?: string;
}

export interface PayoutRequest {
  account: string;
  amountMinor: number;
  currency: string;
  metadata: Record<string, string>;
  idempotencyKey: string;
  description?: string;
}

export interface ConnectPsp {
  createAccount(request: AccountRequest): Promise<PspAccount>;
  updateAccountEmail(accountId: string, email: string, idempotencyKey: string): Promise<PspAccount>;
  retrieveAccount(accountId: string): Promise<PspAccount>;
  /** A one-time link to the PSP's hosted onboarding page (bank details are entered there, never with us). */
  onboardingLink(
    accountId: string,
    urls: { refreshUrl: string; returnUrl: string },
    idempotencyKey: string,
  ): Promise<{ url: string; expiresAt: number }>;
  /** The availability of a payment's money (PaymentIntent or hosted page reference); undefined: not charged. */
  fundsAvailability(pspReference: string, balanceTransaction?: string): Promise<FundsAvailability | undefined>;
  /** Throws PspOutcomeUnknownError on a 500 (the PSP stored it under the key), PspTransientError when unreachable. */
  transfer(request: TransferRequest): Promise<MoneyMoveResult<PspTransfer>>;
  /** The transfers made for one of our payouts (by transfer_group), the PSP's own record. */
  findTransfers(transferGroup: string): Promise<PspTransfer[]>;
  reverseTransfer(
    transferId: string,
    request: { amountMinor: number; metadata: Record<string, string>; idempotencyKey: string },
  ): Promise<MoneyMoveResult<{ reversalId: string }>>;
  payout(request: PayoutRequest): Promise<MoneyMoveResult<PspPayout>>;
  retrievePayout(account: string, payoutId: string): Promise<PspPayout>;
  /** The payouts on an account made for one of our payouts (by our id in their metadata), the PSP's own record. */
  findPayouts(account: string, ourPayoutId: string, createdFrom: number): Promise<PspPayout[]>;
}
