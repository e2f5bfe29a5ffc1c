// Stripe's test PaymentMethod tokens (https://docs.stripe.com/testing). Like Stripe, each use of a
// token such as `pm_card_visa` mints a new PaymentMethod (`pm_...`) that the PaymentIntent then
// references; that minted id can be reused later. No card numbers are kept, only the last4 and brand.
//
// Behaviours beyond success/decline:
//   pm_card_authenticationRequired, pm_card_threeDSecure2Required: confirming leaves the intent
//     `requires_action` (3-D Secure challenge at /3ds/:pi_id, or the admin authenticate route);
//   pm_card_authenticationRequiredChargeDeclinedInsufficientFunds: 3-D Secure, then declined;
//   pm_card_processing (simulator only, not a Stripe token): the intent stays `processing` until
//     POST /__admin/payment_intents/:id/settle.
// The hosted payment page maps Stripe's test card numbers onto these tokens (tokenForCardNumber).

import type Stripe from 'stripe';
import { resourceMissing } from './errors';
import { newId, randomAlphanumeric } from './ids';

export interface CardDecline {
  code: string;
  declineCode: string;
  message: string;
}

interface TestCard {
  brand: string;
  last4: string;
  funding: 'credit' | 'debit';
  decline?: CardDecline;
  /** A 3-D Secure challenge is required before the charge. */
  requiresAuthentication?: boolean;
  /** The charge stays `processing` until settled through the admin route. */
  processing?: boolean;
}

const CARD_DECLINED = 'Your card was declined.';

function declined(declineCode: string, message = CARD_DECLINED, code = 'card_declined'): CardDecline {
  return { code, declineCode, message };
}

const TEST_CARDS: Record<string, TestCard> = {
  pm_card_visa: { brand: 'visa', last4: '4242', funding: 'credit' },
  pm_card_authenticationRequired: { brand: 'visa', last4: '3184', funding: 'credit', requiresAuthentication: true },
  pm_card_threeDSecure2Required: { brand: 'visa', last4: '3220', funding: 'credit', requiresAuthentication: true },
  pm_card_authenticationRequiredChargeDeclinedInsufficientFunds: {
    brand: 'visa',
    last4: '3178',
    funding: 'credit',
    requiresAuthentication: true,
    decline: declined('insufficient_funds', 'Your card has insufficient funds.'),
  },
  pm_card_processing: { brand: 'visa', last4: '0077', funding: 'credit', processing: true },
  pm_card_visa_debit: { brand: 'visa', last4: '5556', funding: 'debit' },
  pm_card_mastercard: { brand: 'mastercard', last4: '4444', funding: 'credit' },
  pm_card_mastercard_debit: { brand: 'mastercard', last4: '8210', funding: 'debit' },
  pm_card_amex: { brand: 'amex', last4: '8431', funding: 'credit' },
  pm_card_discover: { brand: 'discover', last4: '1117', funding: 'credit' },
  pm_card_chargeDeclined: { brand: 'visa', last4: '0002', funding: 'credit', decline: declined('generic_decline') },
  pm_card_chargeDeclinedInsufficientFunds: {
    brand: 'visa',
    last4: '9995',
    funding: 'credit',
    decline: declined('insufficient_funds', 'Your card has insufficient funds.'),
  },
  pm_card_chargeDeclinedFraudulent: {
    brand: 'visa',
    last4: '0019',
    funding: 'credit',
    decline: declined('fraudulent'),
  },
  pm_card_chargeDeclinedLostCard: { brand: 'visa', last4: '9987', funding: 'credit', decline: declined('lost_card') },
  pm_card_chargeDeclinedStolenCard: {
    brand: 'visa',
    last4: '9979',
    funding: 'credit',
    decline: declined('stolen_card'),
  },
  pm_card_chargeDeclinedExpiredCard: {
    brand: 'visa',
    last4: '0069',
    funding: 'credit',
    decline: declined('expired_card', 'Your card has expired.', 'expired_card'),
  },
  pm_card_chargeDeclinedIncorrectCvc: {
    brand: 'visa',
    last4: '0127',
    funding: 'credit',
    decline: declined('incorrect_cvc', "Your card's security code is incorrect.", 'incorrect_cvc'),
  },
  pm_card_chargeDeclinedProcessingError: {
    brand: 'visa',
    last4: '0119',
    funding: 'credit',
    decline: declined(
      'processing_error',
      'An error occurred while processing your card. Try again in a little bit.',
      'processing_error',
    ),
  },
};

// Stripe's test card numbers accepted by the hosted payment page, by the token they behave as. Only the
// token (and so the last4 and brand) is kept once the number is looked up.
const CARD_NUMBERS: Record<string, string> = {
  '4242424242424242': 'pm_card_visa',
  '4000056655665556': 'pm_card_visa_debit',
  '5555555555554444': 'pm_card_mastercard',
  '4000000000000002': 'pm_card_chargeDeclined',
  '4000000000009995': 'pm_card_chargeDeclinedInsufficientFunds',
  '4000000000000069': 'pm_card_chargeDeclinedExpiredCard',
  '4000002760003184': 'pm_card_authenticationRequired',
  '4000000000003220': 'pm_card_threeDSecure2Required',
  '4000008260003178': 'pm_card_authenticationRequiredChargeDeclinedInsufficientFunds',
};

/** The test token a hosted-page card number behaves as (digits only), or undefined for an unknown number. */
export function tokenForCardNumber(digits: string): string | undefined {
  return Object.hasOwn(CARD_NUMBERS, digits) ? CARD_NUMBERS[digits] : undefined;
}

/** True for a test token such as `pm_card_visa` (the base of a fault token, see faults.ts). */
export function isTestToken(token: string): boolean {
  return Object.hasOwn(TEST_CARDS, token);
}

/** A stored PaymentMethod and how a charge against it behaves. */
export interface StoredPaymentMethod {
  object: Stripe.PaymentMethod;
  decline?: CardDecline;
  requiresAuthentication?: boolean;
  processing?: boolean;
}

export class PaymentMethodStore {
  private readonly methods = new Map<string, StoredPaymentMethod>();
  // Stripe gives the same card the same fingerprint; keep that per test token.
  private readonly fingerprints = new Map<string, string>();

  constructor(private readonly nowSeconds: () => number) {}

  /** Resolves a test token (minting a new PaymentMethod) or a previously minted id. */
  resolve(idOrToken: string, param = 'payment_method'): StoredPaymentMethod {
    const stored = this.methods.get(idOrToken);
    if (stored) return stored;
    const card = isTestToken(idOrToken) ? TEST_CARDS[idOrToken] : undefined;
    if (!card) throw resourceMissing('PaymentMethod', idOrToken, param, 400);
    return this.mint(idOrToken, card);
  }

  get(id: string): StoredPaymentMethod | undefined {
    return this.methods.get(id);
  }

  private mint(token: string, card: TestCard): StoredPaymentMethod {
    const object = buildPaymentMethod(newId('pm'), card, this.fingerprint(token), this.nowSeconds());
    const stored: StoredPaymentMethod = { object };
    if (card.decline) stored.decline = card.decline;
    if (card.requiresAuthentication) stored.requiresAuthentication = true;
    if (card.processing) stored.processing = true;
    this.methods.set(object.id, stored);
    return stored;
  }

  private fingerprint(token: string): string {
    let fingerprint = this.fingerprints.get(token);
    if (!fingerprint) {
      fingerprint = randomAlphanumeric(16);
      this.fingerprints.set(token, fingerprint);
    }
    return fingerprint;
  }
}

function buildPaymentMethod(id: string, card: TestCard, fingerprint: string, created: number): Stripe.PaymentMethod {
  const expYear = new Date(created * 1000).getUTCFullYear() + 1;
  return {
    id,
    object: 'payment_method',
    allow_redisplay: 'unspecified',
    billing_details: {
      address: { city: null, country: null, line1: null, line2: null, postal_code: null, state: null },
      email: null,
      name: null,
      phone: null,
      tax_id: null,
    },
    card: {
      brand: card.brand,
      checks: { address_line1_check: null, address_postal_code_check: null, cvc_check: 'unchecked' },
      country: 'US',
      display_brand: card.brand,
      exp_month: 12,
      exp_year: expYear,
      fingerprint,
      funding: card.funding,
      generated_from: null,
      last4: card.last4,
      networks: { available: [card.brand], preferred: null },
      regulated_status: 'unregulated',
      three_d_secure_usage: { supported: true },
      wallet: null,
    },
    created,
    customer: null,
    customer_account: null,
    livemode: false,
    metadata: {},
    type: 'card',
  };
}
