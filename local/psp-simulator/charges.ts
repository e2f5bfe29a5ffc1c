// The simulator's record of money movements: every charge attempt a confirmation made. Successful
// charges are the ground truth that end-to-end invariant checks compare our ledger against. The same records
// are served as Stripe Charge objects (`ch_...`, the ids PaymentIntents show as `latest_charge`) by
// charge-routes.ts, and each change is reported to a listener (the `charge.*` events, see server.ts). A captured
// charge names the platform balance transaction of its funds (`balance_transaction`, see balance.ts and connect.ts).

import { newId } from './ids';

export interface ChargeRecord {
  id: string;
  payment_intent: string;
  payment_method: string;
  amount: number;
  /** Equals amount once captured; 0 while a manual-capture authorization is open. */
  amount_captured: number;
  captured: boolean;
  /** True when an uncaptured authorization was released by cancelling its PaymentIntent. */
  refunded: boolean;
  currency: string;
  created: number;
  metadata: Record<string, string>;
  status: 'succeeded' | 'failed';
  failure_code: string | null;
  /** The balance transaction (`txn_...`) of a captured charge's funds; null until captured. */
  balance_transaction: string | null;
}

export type NewCharge = Pick<
  ChargeRecord,
  'payment_intent' | 'payment_method' | 'amount' | 'currency' | 'created' | 'metadata' | 'captured'
>;

/** What happened to a charge: the `charge.<change>` event type. */
export type ChargeChange = 'succeeded' | 'failed' | 'captured' | 'refunded';

/** How a declined charge was declined, as the PaymentIntent's last_payment_error reports it. */
export interface ChargeFailure {
  message: string;
  declineCode: string | null;
}

export class ChargeLedger {
  private readonly records: ChargeRecord[] = [];
  private readonly failures = new Map<string, ChargeFailure>();

  /** Called after every change, with the record as it now is. */
  constructor(private readonly onChange: (record: ChargeRecord, change: ChargeChange) => void = () => {}) {}

  recordSuccess(charge: NewCharge): ChargeRecord {
    return this.changed(this.push({ ...charge, status: 'succeeded', failure_code: null }), 'succeeded');
  }

  recordFailure(charge: Omit<NewCharge, 'captured'>, failureCode: string): ChargeRecord {
    return this.changed(
      this.push({ ...charge, captured: false, status: 'failed', failure_code: failureCode }),
      'failed',
    );
  }

  capture(id: string, amount: number): void {
    const record = this.find(id);
    record.captured = true;
    record.amount_captured = amount;
    this.changed(record, 'captured');
  }

  /** An uncaptured authorization released (its PaymentIntent canceled): Stripe refunds it. */
  release(id: string): void {
    const record = this.find(id);
    record.refunded = true;
    this.changed(record, 'refunded');
  }

  /** Links a captured charge to the balance transaction of its funds. */
  setBalanceTransaction(id: string, txnId: string): void {
    this.find(id).balance_transaction = txnId;
  }

  /** Re-dates a charge (settlement faults: a charge booked late, settlement-faults.ts). */
  redate(id: string, created: number): void {
    this.find(id).created = created;
  }

  /** Keeps the decline's message and decline code (failure_message, outcome.reason of the Charge object). */
  describeFailure(id: string, failure: ChargeFailure): void {
    this.failures.set(id, { ...failure });
  }

  failure(id: string): ChargeFailure | undefined {
    const failure = this.failures.get(id);
    return failure && { ...failure };
  }

  /** A copy of one charge attempt. */
  get(id: string): ChargeRecord | undefined {
    const record = this.records.find((candidate) => candidate.id === id);
    return record && copy(record);
  }

  /** Every charge attempt, newest first, as copies (the order of GET /v1/charges). */
  newestFirst(): ChargeRecord[] {
    return this.records.map(copy).reverse();
  }

  /** Successful charges, oldest first, as copies. */
  succeeded(): ChargeRecord[] {
    return this.records.filter((record) => record.status === 'succeeded').map(copy);
  }

  all(): ChargeRecord[] {
    return this.records.map(copy);
  }

  private push(
    fields: Omit<ChargeRecord, 'id' | 'amount_captured' | 'refunded' | 'balance_transaction'>,
  ): ChargeRecord {
    const record: ChargeRecord = {
      id: newId('ch'),
      ...fields,
      amount_captured: fields.captured ? fields.amount : 0,
      refunded: false,
      balance_transaction: null,
      metadata: { ...fields.metadata },
    };
    this.records.push(record);
    return record;
  }

  private changed(record: ChargeRecord, change: ChargeChange): ChargeRecord {
    this.onChange(copy(record), change);
    return record;
  }

  private find(id: string): ChargeRecord {
    const record = this.records.find((candidate) => candidate.id === id);
    if (!record) throw new Error(`charge ${id} not recorded`);
    return record;
  }
}

function copy(record: ChargeRecord): ChargeRecord {
  return { ...record, metadata: { ...record.metadata } };
}
