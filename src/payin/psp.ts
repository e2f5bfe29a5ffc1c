/** The PSP as the pay-in sees it. The Stripe implementation is in src/adapters/stripe-psp.ts. */

export interface ChargeRequest {
  amountMinor: number;
  currency: string;
  paymentMethod: string;
  /** Our ids, stored at the PSP so a charge can be found again from our side. */
  metadata: Record<string, string>;
  /** Derived from our own ids: identical on every retry of the same operation. */
  idempotencyKey: string;
  description?: string;
}

export type ChargeResult =
  | { outcome: 'SUCCEEDED'; pspReference: string }
  | { outcome: 'DECLINED'; pspReference?: string; reason: string }
  | { outcome: 'PENDING'; pspReference: string; status: string };

/** What the PSP knows of the charges made for one of our payments (found by our id in their metadata). */
export interface PspChargeState {
  pspReference: string;
  state: 'succeeded' | 'pending' | 'failed';
  amountMinor: number;
  currency: string;
}

export interface Psp {
  /** Creates and confirms one payment. Throws PspTransientError when the PSP could not be asked. */
  charge(request: ChargeRequest): Promise<ChargeResult>;
  /** Every PaymentIntent the PSP holds for our payment id. Throws PspTransientError when it cannot be asked. */
  findCharges(paymentId: string): Promise<PspChargeState[]>;
}
