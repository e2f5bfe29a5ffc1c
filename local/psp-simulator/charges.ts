// The simulator's record of money movements: every charge attempt a confirmation made. Successful
// charges are the ground truth that end-to-end invariant checks compare our ledger against.

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
}

export type NewCharge = Pick<
  ChargeRecord,
  'payment_intent' | 'payment_method' | 'amount' | 'currency' | 'created' | 'metadata' | 'captured'
>;

export class ChargeLedger {
  private readonly records: ChargeRecord[] = [];

  recordSuccess(charge: NewCharge): ChargeRecord {
    return this.push({ ...charge, status: 'succeeded', failure_code: null });
  }

  recordFailure(charge: Omit<NewCharge, 'captured'>, failureCode: string): ChargeRecord {
    return this.push({ ...charge, captured: false, status: 'failed', failure_code: failureCode });
  }

  capture(id: string, amount: number): void {
    const record = this.find(id);
    record.captured = true;
    record.amount_captured = amount;
  }

  release(id: string): void {
    this.find(id).refunded = true;
  }

  /** Successful charges, oldest first, as copies. */
  succeeded(): ChargeRecord[] {
    return this.records.filter((record) => record.status === 'succeeded').map(copy);
  }

  all(): ChargeRecord[] {
    return this.records.map(copy);
  }

  private push(fields: Omit<ChargeRecord, 'id' | 'amount_captured' | 'refunded'>): ChargeRecord {
    const record: ChargeRecord = {
      id: newId('ch'),
      ...fields,
      amount_captured: fields.captured ? fields.amount : 0,
      refunded: false,
      metadata: { ...fields.metadata },
    };
    this.records.push(record);
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
