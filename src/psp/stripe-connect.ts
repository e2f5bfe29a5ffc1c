/** The Connect adapter over the real stripe SDK: connected accounts, funds availability, transfers and payouts. */
import type Stripe from 'stripe';
import { InconsistentStateError, PspOutcomeUnknownError } from '../core/errors';
import type {
  AccountRequest,
  ConnectPsp,
  FundsAvailability,
  MoneyMoveResult,
  PayoutRequest,
  PspAccount,
  PspPayout,
  PspTransfer,
  TransferRequest,
} from './connect-types';
import { ask } from './stripe-psp';

type StripeError = Error & { type?: string; code?: string; statusCode?: number };

export function accountState(account: Stripe.Account): PspAccount {
  const requirements = account.requirements;
  const due = [...(requirements?.past_due ?? []), ...(requirements?.currently_due ?? [])];
  return {
    accountId: account.id,
    payoutsEnabled: account.payouts_enabled === true,
    detailsSubmitted: account.details_submitted === true,
    requirements: [...new Set(due)],
    manualPayouts: account.settings?.payouts?.schedule?.interval === 'manual',
    ...(requirements?.disabled_reason ? { disabledReason: requirements.disabled_reason } : {}),
  };
}

export function payoutState(payout: Stripe.Payout): PspPayout {
  return {
    payoutId: payout.id,
    status: payout.status as PspPayout['status'],
    amountMinor: payout.amount,
    currency: payout.currency.toUpperCase(),
    ...(payout.failure_code ? { failureCode: payout.failure_code } : {}),
    ...(payout.failure_message ? { failureMessage: payout.failure_message } : {}),
    ...(payout.metadata?.payout_id ? { ourPayoutId: payout.metadata.payout_id } : {}),
  };
}

function transferState(transfer: Stripe.Transfer): PspTransfer {
  return {
    transferId: transfer.id,
    amountMinor: transfer.amount,
    currency: transfer.currency.toUpperCase(),
    destination: typeof transfer.destination === 'string' ? transfer.destination : (transfer.destination?.id ?? ''),
    amountReversedMinor: transfer.amount_reversed,
  };
}

/**
 * A money move's call: a 400/402 with a code is the PSP refusing it (nothing moved, e.g. `balance_insufficient`),
 * a 500 is an unknown outcome (stored under the key: only the PSP's record can tell), the rest transient. An
 * idempotency error means the key was used with other parameters: a bug, never taken for a refusal.
 */
export async function move<T>(call: () => Promise<T>): Promise<MoneyMoveResult<T>> {
  try {
    return { outcome: 'CREATED', value: await call() };
  } catch (error) {
    const e = error as StripeError;
    if (e.statusCode === 500) {
      throw new PspOutcomeUnknownError(`PSP outcome unknown (500): ${e.message}`, { cause: error });
    }
    if (e.type === 'StripeIdempotencyError' || e.type === 'idempotency_error') {
      throw new InconsistentStateError(`PSP idempotency key reused with other parameters: ${e.message}`, {
        cause: error,
      });
    }
    // A 400/402 is a request the PSP did not execute (idempotency errors aside, above): refused, with its code.
    if (e.statusCode === 400 || e.statusCode === 402) {
      return { outcome: 'REFUSED', code: e.code ?? 'invalid_request_error', message: e.message };
    }
    // Anything else as every PSP call: 429, 409, connection errors and 5xx from in front of the PSP are transient.
    return ask(() => Promise.reject(error));
  }
}

export class StripeConnect implements ConnectPsp {
  constructor(private readonly stripe: () => Promise<Stripe>) {}

  async createAccount(request: AccountRequest): Promise<PspAccount> {
    const stripe = await this.stripe();
    const account = await ask(() =>
      stripe.accounts.create(
        {
          type: 'custom',
          country: request.country,
          email: request.email,
          default_currency: request.defaultCurrency.toLowerCase(),
          capabilities: { transfers: { requested: true } },
          // We pay out ourselves (POST /v1/payouts): the PSP must never sweep a connected balance on its own, or our
          // payouts and transfer reversals would find the money gone.
          settings: { payouts: { schedule: { interval: 'manual' } } },
          metadata: { seller_account: request.sellerAccount },
        },
        { idempotencyKey: request.idempotencyKey },
      ),
    );
    return accountState(account);
  }

  async updateAccountEmail(accountId: string, email: string, idempotencyKey: string): Promise<PspAccount> {
    const stripe = await this.stripe();
    return accountState(await ask(() => stripe.accounts.update(accountId, { email }, { idempotencyKey })));
  }

  async retrieveAccount(accountId: string): Promise<PspAccount> {
    const stripe = await this.stripe();
    return accountState(await ask(() => stripe.accounts.retrieve(accountId)));
  }

  async onboardingLink(
    accountId: string,
    urls: { refreshUrl: string; returnUrl: string },
    idempotencyKey: string,
  ): Promise<{ url: string; expiresAt: number }> {
    const stripe = await this.stripe();
    const link = await ask(() =>
      stripe.accountLinks.create(
        { account: accountId, refresh_url: urls.refreshUrl, return_url: urls.returnUrl, type: 'account_onboarding' },
        { idempotencyKey },
      ),
    );
    return { url: link.url, expiresAt: link.expires_at };
  }

  async fundsAvailability(pspReference: string, balanceTransaction?: string): Promise<FundsAvailability | undefined> {
    const stripe = await this.stripe();
    let txnId = balanceTransaction;
    if (!txnId) {
      let intentId = pspReference;
      if (pspReference.startsWith('cs_')) {
        const session = await ask(() => stripe.checkout.sessions.retrieve(pspReference));
        const intent = session.payment_intent;
        if (!intent) return undefined;
        intentId = typeof intent === 'string' ? intent : intent.id;
      }
      const intent = await ask(() => stripe.paymentIntents.retrieve(intentId));
      const chargeRef = intent.latest_charge;
      if (intent.status !== 'succeeded' || !chargeRef) return undefined;
      const charge =
        typeof chargeRef === 'string'
          ? await ask(() => stripe.charges.retrieve(chargeRef))
          : (chargeRef as Stripe.Charge);
      const txn = charge.balance_transaction;
      if (!txn) return undefined;
      txnId = typeof txn === 'string' ? txn : txn.id;
    }
    const id = txnId;
    const txn = await ask(() => stripe.balanceTransactions.retrieve(id));
    return { balanceTransaction: txn.id, available: txn.status === 'available', availableOn: txn.available_on };
  }

  async transfer(request: TransferRequest): Promise<MoneyMoveResult<PspTransfer>> {
    const stripe = await this.stripe();
    const result = await move(() =>
      stripe.transfers.create(
        {
          amount: request.amountMinor,
          currency: request.currency.toLowerCase(),
          destination: request.destination,
          transfer_group: request.transferGroup,
          metadata: request.metadata,
          ...(request.description ? { description: request.description } : {}),
        },
        { idempotencyKey: request.idempotencyKey },
      ),
    );
    return result.outcome === 'CREATED' ? { outcome: 'CREATED', value: transferState(result.value) } : result;
  }

  async findTransfers(transferGroup: string): Promise<PspTransfer[]> {
    const stripe = await this.stripe();
    const found: PspTransfer[] = [];
    await ask(async () => {
      for await (const transfer of stripe.transfers.list({ transfer_group: transferGroup, limit: 100 })) {
        found.push(transferState(transfer));
      }
    });
    return found;
  }

  async reverseTransfer(
    transferId: string,
    request: { amountMinor: number; metadata: Record<string, string>; idempotencyKey: string },
  ): Promise<MoneyMoveResult<{ reversalId: string }>> {
    const stripe = await this.stripe();
    const result = await move(() =>
      stripe.transfers.createReversal(
        transferId,
        { amount: request.amountMinor, metadata: request.metadata },
        { idempotencyKey: request.idempotencyKey },
      ),
    );
    return result.outcome === 'CREATED' ? { outcome: 'CREATED', value: { reversalId: result.value.id } } : result;
  }

  async payout(request: PayoutRequest): Promise<MoneyMoveResult<PspPayout>> {
    const stripe = await this.stripe();
    const result = await move(() =>
      stripe.payouts.create(
        {
          amount: request.amountMinor,
          currency: request.currency.toLowerCase(),
          metadata: request.metadata,
          ...(request.description ? { description: request.description } : {}),
        },
        { stripeAccount: request.account, idempotencyKey: request.idempotencyKey },
      ),
    );
    return result.outcome === 'CREATED' ? { outcome: 'CREATED', value: payoutState(result.value) } : result;
  }

  async retrievePayout(account: string, payoutId: string): Promise<PspPayout> {
    const stripe = await this.stripe();
    return payoutState(await ask(() => stripe.payouts.retrieve(payoutId, {}, { stripeAccount: account })));
  }

  async findPayouts(account: string, ourPayoutId: string, createdFrom: number): Promise<PspPayout[]> {
    const stripe = await this.stripe();
    const found: PspPayout[] = [];
    await ask(async () => {
      for await (const payout of stripe.payouts.list(
        { created: { gte: createdFrom }, limit: 100 },
        { stripeAccount: account },
      )) {
        if (payout.metadata?.payout_id === ourPayoutId) found.push(payoutState(payout));
      }
    });
    return found;
  }
}
