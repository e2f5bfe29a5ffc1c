// Transfers (`tr_...`) from the platform's balance to connected accounts, and their reversals (`trr_...`), as in
// Stripe's "separate charges and transfers".
//
// Balance transactions, as Stripe books them:
//   transfer   platform: `transfer` -amount (source tr_...), available at once (the available balance must cover it)
//              destination: `payment` +amount (source py_..., the transfer's `destination_payment`), available at once
//   with `source_transaction: ch_...` the transfer may exceed the available balance: both transactions stay pending
//              until the charge's funds are available (its `available_on`), and become available with them
//   reversal   platform: `transfer_refund` +amount (reporting category transfer_reversal, source trr_...);
//              destination: `payment_refund` -amount (source pyr_..., the reversal's `destination_payment_refund`);
//              both available at once; the destination's available balance must cover it
//
// Errors (HTTP 400, invalid_request_error), decided when the request executes (so stored under its idempotency key
// and replayed, as Stripe stores the result of an executed request): `balance_insufficient` (platform available
// balance short; for a reversal, the destination's), `transfers_not_allowed` (the destination's transfers capability
// is not active). An unknown destination is a parameter error (`resource_missing` on `destination`, not stored).
// Events: transfer.created; a reversal emits transfer.reversed then transfer.updated; a metadata update
// transfer.updated.

import type Stripe from 'stripe';
import type { AccountService } from './accounts';
import type { BalanceLedger } from './balance';
import { invalidRequest, resourceMissing, type StripeApiError } from './errors';
import type { EventOrigin, EventStore } from './events';
import { newId } from './ids';
import type { MoneyClock } from './money-clock';

/** Embedded lists show this many items, as Stripe's do. */
const EMBEDDED_LIST_SIZE = 10;

export interface TransferCreateInput {
  amount: number;
  currency: string;
  destination: string;
  description: string | null;
  metadata: Record<string, string>;
  transferGroup: string | null;
  sourceTransaction: string | null;
}

export interface TransferReversalInput {
  /** Default: what remains to reverse. */
  amount?: number;
  metadata: Record<string, string>;
}

/** What a charge can fund, for transfers naming it as `source_transaction`. */
export interface ChargeFunds {
  currency: string;
  /** The captured amount. */
  amount: number;
  /** When its funds are (or were) available on the money clock. */
  availableOn: number;
}

interface TransferRecord {
  transfer: Stripe.Transfer;
  /** Oldest first. */
  reversals: Stripe.TransferReversal[];
}

export function balanceInsufficient(message: string): StripeApiError {
  return invalidRequest(message, { code: 'balance_insufficient' });
}

export class TransferService {
  // Insertion order is creation order.
  private readonly records = new Map<string, TransferRecord>();

  constructor(
    private readonly ledger: BalanceLedger,
    private readonly accounts: AccountService,
    private readonly clock: MoneyClock,
    private readonly events: EventStore,
    private readonly chargeFunds: (chargeId: string) => ChargeFunds | undefined,
  ) {}

  has(id: string): boolean {
    return this.records.has(id);
  }

  /** Checks a `source_transaction` before executing (a parameter error, not stored). */
  assertSource(chargeId: string, currency: string): void {
    const funds = this.chargeFunds(chargeId);
    if (!funds) throw resourceMissing('charge', chargeId, 'source_transaction', 400);
    if (funds.currency !== currency) {
      throw invalidRequest(
        `The currency of source_transaction's balance transaction (${funds.currency}) must be the same as the transfer currency (${currency}).`,
        { param: 'currency' },
      );
    }
  }

  create(input: TransferCreateInput, origin: EventOrigin): Stripe.Transfer {
    const { amount, currency, destination } = input;
    if (!this.accounts.transfersActive(destination)) {
      throw invalidRequest(
        'Your destination account needs to have at least one of the following capabilities enabled: transfers, crypto_transfers, legacy_payments',
        { code: 'transfers_not_allowed', param: 'destination' },
      );
    }
    let availableOn: number | undefined;
    if (input.sourceTransaction !== null) {
      this.assertSource(input.sourceTransaction, currency);
      const funds = this.chargeFunds(input.sourceTransaction) as ChargeFunds;
      const remaining = funds.amount - this.transferredFrom(input.sourceTransaction);
      if (amount > remaining) {
        throw balanceInsufficient(
          `Insufficient funds in charge ${input.sourceTransaction} to transfer ${amount} ${currency}: ${remaining} remain to be transferred.`,
        );
      }
      availableOn = funds.availableOn;
    } else if (this.ledger.amounts(null, currency).available < amount) {
      throw balanceInsufficient(
        'You have insufficient available funds in your Stripe account. Try adding funds directly to your available balance by creating Charges using the 4000000000000077 test card. See: https://stripe.com/docs/testing#available-balance',
      );
    }
    const id = newId('tr');
    const destinationPayment = newId('py');
    const platformTxn = this.ledger.record({
      account: null,
      type: 'transfer',
      amount: -amount,
      currency,
      source: id,
      description: input.description,
      ...(availableOn !== undefined && { availableOn }),
    });
    this.ledger.record({
      account: destination,
      type: 'payment',
      amount,
      currency,
      source: destinationPayment,
      ...(availableOn !== undefined && { availableOn }),
    });
    const transfer: Stripe.Transfer = {
      id,
      object: 'transfer',
      amount,
      amount_reversed: 0,
      balance_transaction: platformTxn.id,
      created: this.clock.now(),
      currency,
      description: input.description,
      destination,
      destination_payment: destinationPayment,
      livemode: false,
      metadata: { ...input.metadata },
      reversals: reversalList(id, []),
      reversed: false,
      source_transaction: input.sourceTransaction,
      source_type: 'card',
      transfer_group: input.transferGroup,
    };
    this.records.set(id, { transfer, reversals: [] });
    this.events.emit('transfer.created', transfer, origin);
    return structuredClone(transfer);
  }

  /** What remains to reverse (a parameter check before executing). */
  remaining(id: string): number {
    const { transfer } = this.find(id);
    return transfer.amount - transfer.amount_reversed;
  }

  reverse(id: string, input: TransferReversalInput, origin: EventOrigin): Stripe.TransferReversal {
    const record = this.find(id);
    const { transfer } = record;
    const remaining = transfer.amount - transfer.amount_reversed;
    const amount = input.amount ?? remaining;
    assertReversible(transfer, amount, remaining);
    const destination = transfer.destination as string;
    if (this.ledger.amounts(destination, transfer.currency).available < amount) {
      throw balanceInsufficient(
        `Insufficient funds in the destination account ${destination} to reverse ${amount} ${transfer.currency} of this transfer.`,
      );
    }
    const reversalId = newId('trr');
    const paymentRefund = newId('pyr');
    const platformTxn = this.ledger.record({
      account: null,
      type: 'transfer_refund',
      amount,
      currency: transfer.currency,
      source: reversalId,
    });
    this.ledger.record({
      account: destination,
      type: 'payment_refund',
      amount: -amount,
      currency: transfer.currency,
      source: paymentRefund,
    });
    const reversal: Stripe.TransferReversal = {
      id: reversalId,
      object: 'transfer_reversal',
      amount,
      balance_transaction: platformTxn.id,
      created: this.clock.now(),
      currency: transfer.currency,
      destination_payment_refund: paymentRefund,
      metadata: { ...input.metadata },
      source_refund: null,
      transfer: transfer.id,
    };
    const previous = {
      amount_reversed: transfer.amount_reversed,
      reversals: structuredClone(transfer.reversals),
      ...(transfer.amount_reversed + amount === transfer.amount && { reversed: false }),
    };
    record.reversals.push(reversal);
    transfer.amount_reversed += amount;
    transfer.reversed = transfer.amount_reversed === transfer.amount;
    transfer.reversals = reversalList(transfer.id, record.reversals);
    this.events.emit('transfer.reversed', transfer, origin);
    this.events.emit('transfer.updated', transfer, origin, { previousAttributes: previous });
    return structuredClone(reversal);
  }

  /** Stripe takes description and metadata on a transfer update. */
  update(
    id: string,
    input: { description?: string | null; metadata?: (current: Record<string, string>) => Record<string, string> },
    origin: EventOrigin,
  ): Stripe.Transfer {
    const { transfer } = this.find(id);
    const previous: Record<string, unknown> = {};
    if (input.description !== undefined && input.description !== transfer.description) {
      previous.description = transfer.description;
      transfer.description = input.description;
    }
    if (input.metadata) {
      const metadata = input.metadata(transfer.metadata);
      if (JSON.stringify(metadata) !== JSON.stringify(transfer.metadata)) {
        previous.metadata = transfer.metadata;
        transfer.metadata = metadata;
      }
    }
    if (Object.keys(previous).length > 0) {
      this.events.emit('transfer.updated', transfer, origin, { previousAttributes: previous });
    }
    return structuredClone(transfer);
  }

  get(id: string): Stripe.Transfer {
    return structuredClone(this.find(id).transfer);
  }

  /** Every transfer, newest first (copies). */
  newestFirst(): Stripe.Transfer[] {
    return [...this.records.values()].map((record) => structuredClone(record.transfer)).reverse();
  }

  reversalsNewestFirst(id: string): Stripe.TransferReversal[] {
    return this.find(id)
      .reversals.map((reversal) => structuredClone(reversal))
      .reverse();
  }

  reversal(id: string, reversalId: string): Stripe.TransferReversal {
    const found = this.find(id).reversals.find((reversal) => reversal.id === reversalId);
    if (!found) throw resourceMissing('transfer_reversal', reversalId, 'id');
    return structuredClone(found);
  }

  /** A reversal (`trr_...`) with its transfer, whichever transfer it belongs to (reports). */
  findReversal(reversalId: string): { transfer: Stripe.Transfer; reversal: Stripe.TransferReversal } | undefined {
    for (const record of this.records.values()) {
      const reversal = record.reversals.find((candidate) => candidate.id === reversalId);
      if (reversal) return { transfer: structuredClone(record.transfer), reversal: structuredClone(reversal) };
    }
    return undefined;
  }

  private transferredFrom(chargeId: string): number {
    let total = 0;
    for (const { transfer } of this.records.values()) {
      if (transfer.source_transaction === chargeId) total += transfer.amount - transfer.amount_reversed;
    }
    return total;
  }

  private find(id: string): TransferRecord {
    const record = this.records.get(id);
    if (!record) throw resourceMissing('transfer', id, 'id');
    return record;
  }
}

/** The checks of a reversal's amount (also run before executing). */
export function assertReversible(transfer: Stripe.Transfer, amount: number, remaining: number): void {
  if (remaining === 0) {
    throw invalidRequest(`Transfer ${transfer.id} has already been fully reversed.`, { param: 'id' });
  }
  if (amount > remaining) {
    throw invalidRequest(
      `You have requested a reversal of ${amount}, but only ${remaining} remains on transfer ${transfer.id} to be reversed.`,
      { param: 'amount' },
    );
  }
}

function reversalList(
  transferId: string,
  oldestFirst: Stripe.TransferReversal[],
): Stripe.ApiList<Stripe.TransferReversal> {
  const newestFirst = [...oldestFirst].reverse();
  return {
    object: 'list',
    data: newestFirst.slice(0, EMBEDDED_LIST_SIZE).map((reversal) => structuredClone(reversal)),
    has_more: newestFirst.length > EMBEDDED_LIST_SIZE,
    total_count: newestFirst.length,
    url: `/v1/transfers/${transferId}/reversals`,
  } as Stripe.ApiList<Stripe.TransferReversal>;
}
