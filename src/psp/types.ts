/** The PSP's payment operations in our terms. The Stripe implementation is in src/psp/stripe-psp.ts. */

export interface ChargeRequest {
  amountMinor: number;
  currency: string;
  paymentMethod: string;
  /** Our ids, stored at the PSP so a charge can be found again from our side. */
  metadata: Record<string, string>;
  /** Derived from our own ids: identical on every retry of the same operation. */
  idempotencyKey: string;
  description?: string;
  /** Where the PSP sends the buyer back after 3-D Secure. */
  returnUrl?: string;
}

/** What the client must do for a pending payment (3-D Secure, the hosted payment page). */
export type NextAction =
  /** Send the buyer to this URL (3-D Secure page, the hosted payment page); the PSP sends them back to return_url. */
  | { type: 'redirect_to_url'; redirect_url: string }
  /**
   * No URL: the PSP wants its client SDK to handle the action (Stripe.js `handleNextAction` with this client secret),
   * as Stripe answers a 3-D Secure card confirmed without a return_url.
   */
  | { type: 'use_stripe_sdk'; client_secret: string };

export type ChargeResult =
  | { outcome: 'SUCCEEDED'; pspReference: string }
  | { outcome: 'DECLINED'; pspReference?: string; reason: string }
  | { outcome: 'PENDING'; pspReference: string; status: string; nextAction?: NextAction };

/** Registration of a payment with the PSP's hosted payment page (a Checkout Session). */
export interface HostedPaymentRequest {
  amountMinor: number;
  currency: string;
  /** Our payment id: the PSP's reference back to us, and the nonce that makes registration exactly-once. */
  paymentId: string;
  metadata: Record<string, string>;
  returnUrl: string;
  idempotencyKey: string;
  /** Unix seconds after which the page no longer takes a payment. */
  expiresAt: number;
}

export interface HostedPayment {
  sessionId: string;
  pspReference: string;
  redirectUrl: string;
}

/** What the PSP knows of the charges made for one of our payments (found by our id in their metadata). */
export interface PspChargeState {
  pspReference: string;
  state: 'succeeded' | 'pending' | 'failed';
  amountMinor: number;
  currency: string;
  /** Why it failed, when it did (e.g. `card_declined:generic_decline`). */
  reason?: string;
}

export interface Psp {
  /** Creates and confirms one payment. Throws PspTransientError when the PSP could not be asked. */
  charge(request: ChargeRequest): Promise<ChargeResult>;
  /** Registers a payment with the hosted payment page. */
  registerHostedPayment(request: HostedPaymentRequest): Promise<HostedPayment>;
  /** Every PaymentIntent the PSP holds for our payment id. Throws PspTransientError when it cannot be asked. */
  findCharges(paymentId: string, window?: { createdFrom: number }): Promise<PspChargeState[]>;
  /** The current state of one PaymentIntent (webhook data may be stale: this is the PSP's answer now). */
  retrieve(pspReference: string): Promise<PspChargeState>;
  /**
   * Stops a pending payment at the PSP (cancels the intent, expires the hosted page). Returns the state after:
   * `failed` when stopped, `succeeded` when it had already succeeded (then it cannot be stopped).
   */
  stopPending(pspReference: string, sessionId: string | undefined, idempotencyKey: string): Promise<PspChargeState>;
}
