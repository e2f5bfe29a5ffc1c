// PaymentIntents: the objects, their state machine and their in-memory store.
//
//   requires_payment_method --(payment method attached)--> requires_confirmation
//   confirm: success -> succeeded (or requires_capture with capture_method=manual)
//            decline -> requires_payment_method, last_payment_error set, HTTP 402
//   capture: requires_capture -> succeeded;  cancel: any open state -> canceled

import type Stripe from 'stripe';
import type { ChargeLedger } from './charges';
import { docUrl, invalidRequest, StripeApiError } from './errors';
import { newId, randomAlphanumeric } from './ids';
import type { PaymentMethodStore, StoredPaymentMethod } from './payment-methods';
import type { SearchDocument } from './search-query';

export const CAPTURE_METHODS = ['automatic', 'automatic_async', 'manual'] as const;
export type CaptureMethod = (typeof CAPTURE_METHODS)[number];
export const CANCELLATION_REASONS = ['duplicate', 'fraudulent', 'requested_by_customer', 'abandoned'] as const;
export type CancellationReason = (typeof CANCELLATION_REASONS)[number];

export interface CreatePaymentIntentInput {
  amount: number;
  currency: string;
  confirm: boolean;
  paymentMethod?: StoredPaymentMethod;
  metadata: Record<string, string>;
  description: string | null;
  captureMethod: CaptureMethod;
  /** Given: exactly these types. Absent: automatic payment methods (the default since API 2023-08-16). */
  paymentMethodTypes?: string[];
  allowRedirects?: 'always' | 'never';
  returnUrl?: string;
  receiptEmail: string | null;
  statementDescriptor: string | null;
  statementDescriptorSuffix: string | null;
  transferGroup: string | null;
}

export interface ConfirmInput {
  paymentMethod?: StoredPaymentMethod;
  returnUrl?: string;
}

const CONFIRMABLE: readonly string[] = ['requires_payment_method', 'requires_confirmation', 'requires_action'];
const CANCELABLE: readonly string[] = [
  'requires_payment_method',
  'requires_capture',
  'requires_confirmation',
  'requires_action',
  'processing',
];

export class PaymentIntentService {
  // Insertion order is creation order; lists and searches read it backwards (newest first).
  private readonly intents = new Map<string, Stripe.PaymentIntent>();
  private readonly paymentMethodConfiguration = newId('pmc');

  constructor(
    private readonly methods: PaymentMethodStore,
    private readonly charges: ChargeLedger,
    private readonly nowSeconds: () => number,
  ) {}

  /** Checks that fail the whole create request before any PaymentIntent exists. */
  assertCreatable(input: CreatePaymentIntentInput): void {
    if (!input.confirm) return;
    if (!input.paymentMethod) throw missingPaymentMethod();
    if (!input.paymentMethodTypes && input.allowRedirects !== 'never' && !input.returnUrl) throw returnUrlRequired();
  }

  /** Creates (and with confirm=true, confirms) a PaymentIntent. A decline throws a 402 after storing it. */
  create(input: CreatePaymentIntentInput): Stripe.PaymentIntent {
    this.assertCreatable(input);
    const intent = this.buildIntent(input);
    if (input.paymentMethod) this.attach(intent, input.paymentMethod);
    this.intents.set(intent.id, intent);
    if (input.confirm && input.paymentMethod) this.charge(intent, input.paymentMethod);
    return intent;
  }

  confirm(id: string, input: ConfirmInput): Stripe.PaymentIntent {
    const intent = this.get(id);
    if (!CONFIRMABLE.includes(intent.status)) {
      throw unexpectedState(intent, 'confirm', 'confirmed', CONFIRMABLE);
    }
    const paymentMethod = input.paymentMethod ?? this.attachedPaymentMethod(intent);
    if (!paymentMethod) throw missingPaymentMethod(intent);
    if (requiresReturnUrl(intent) && !input.returnUrl) throw returnUrlRequired();
    this.attach(intent, paymentMethod);
    this.charge(intent, paymentMethod);
    return intent;
  }

  capture(id: string, amountToCapture?: number): Stripe.PaymentIntent {
    const intent = this.get(id);
    if (intent.status !== 'requires_capture') {
      throw unexpectedState(intent, 'capture', 'captured', ['requires_capture']);
    }
    const amount = amountToCapture ?? intent.amount_capturable;
    if (amount > intent.amount_capturable) {
      throw invalidRequest(
        `The amount to capture (${amount}) must be less than or equal to the amount capturable (${intent.amount_capturable}).`,
        { param: 'amount_to_capture', code: 'amount_too_large' },
      );
    }
    if (typeof intent.latest_charge === 'string') this.charges.capture(intent.latest_charge, amount);
    intent.status = 'succeeded';
    intent.amount_received = amount;
    intent.amount_capturable = 0;
    return intent;
  }

  cancel(id: string, reason: CancellationReason | undefined): Stripe.PaymentIntent {
    const intent = this.get(id);
    if (!CANCELABLE.includes(intent.status)) throw unexpectedState(intent, 'cancel', 'canceled', CANCELABLE);
    if (intent.status === 'requires_capture' && typeof intent.latest_charge === 'string') {
      this.charges.release(intent.latest_charge);
    }
    intent.status = 'canceled';
    intent.canceled_at = this.nowSeconds();
    intent.cancellation_reason = reason ?? null;
    intent.amount_capturable = 0;
    return intent;
  }

  get(id: string): Stripe.PaymentIntent {
    const intent = this.intents.get(id);
    if (!intent)
      throw invalidRequest(`No such payment_intent: '${id}'`, {
        code: 'resource_missing',
        param: 'intent',
        status: 404,
      });
    return intent;
  }

  newestFirst(): Stripe.PaymentIntent[] {
    return [...this.intents.values()].reverse();
  }

  private buildIntent(input: CreatePaymentIntentInput): Stripe.PaymentIntent {
    const id = newId('pi');
    const automatic = !input.paymentMethodTypes;
    return {
      id,
      object: 'payment_intent',
      allowed_payment_method_types: null,
      amount: input.amount,
      amount_capturable: 0,
      amount_details: { tip: {} },
      amount_received: 0,
      application: null,
      application_fee_amount: null,
      automatic_payment_methods: automatic ? automaticPaymentMethods(input.allowRedirects) : null,
      canceled_at: null,
      cancellation_reason: null,
      capture_method: input.captureMethod,
      client_secret: `${id}_secret_${randomAlphanumeric(25)}`,
      confirmation_method: 'automatic',
      created: this.nowSeconds(),
      currency: input.currency,
      customer: null,
      customer_account: null,
      description: input.description,
      excluded_payment_method_types: null,
      last_payment_error: null,
      latest_charge: null,
      livemode: false,
      managed_payments: null,
      metadata: { ...input.metadata },
      next_action: null,
      on_behalf_of: null,
      payment_method: null,
      payment_method_configuration_details: automatic ? { id: this.paymentMethodConfiguration, parent: null } : null,
      payment_method_options: {
        card: { installments: null, mandate_options: null, network: null, request_three_d_secure: 'automatic' },
      },
      payment_method_types: input.paymentMethodTypes ?? ['card'],
      payment_record: null,
      processing: null,
      receipt_email: input.receiptEmail,
      review: null,
      setup_future_usage: null,
      shipping: null,
      source: null,
      statement_descriptor: input.statementDescriptor,
      statement_descriptor_suffix: input.statementDescriptorSuffix,
      status: 'requires_payment_method',
      transfer_data: null,
      transfer_group: input.transferGroup,
    };
  }

  private attachedPaymentMethod(intent: Stripe.PaymentIntent): StoredPaymentMethod | undefined {
    return typeof intent.payment_method === 'string' ? this.methods.get(intent.payment_method) : undefined;
  }

  private attach(intent: Stripe.PaymentIntent, paymentMethod: StoredPaymentMethod): void {
    const type = paymentMethod.object.type;
    if (!intent.payment_method_types.includes(type)) {
      throw invalidRequest(
        `The PaymentMethod provided (${type}) is not allowed for this PaymentIntent. Please attach a PaymentMethod of one of the following types: ${intent.payment_method_types.join(', ')}. Alternatively, update the allowed payment_method_types for this PaymentIntent to include "${type}".`,
        { param: 'payment_method', code: 'payment_intent_incompatible_payment_method' },
      );
    }
    intent.payment_method = paymentMethod.object.id;
    intent.status = 'requires_confirmation';
  }

  private charge(intent: Stripe.PaymentIntent, paymentMethod: StoredPaymentMethod): void {
    const base = {
      payment_intent: intent.id,
      payment_method: paymentMethod.object.id,
      amount: intent.amount,
      currency: intent.currency,
      created: this.nowSeconds(),
      metadata: intent.metadata,
    };
    const { decline } = paymentMethod;
    if (decline) {
      const failed = this.charges.recordFailure(base, decline.code);
      intent.status = 'requires_payment_method';
      intent.payment_method = null;
      intent.latest_charge = failed.id;
      intent.last_payment_error = {
        type: 'card_error',
        charge: failed.id,
        code: decline.code,
        decline_code: decline.declineCode,
        doc_url: docUrl(decline.code),
        message: decline.message,
        payment_method: paymentMethod.object,
        payment_method_type: paymentMethod.object.type,
      };
      throw new StripeApiError(402, {
        ...intent.last_payment_error,
        type: 'card_error',
        message: decline.message,
        payment_intent: structuredClone(intent),
      });
    }
    const manual = intent.capture_method === 'manual';
    const charge = this.charges.recordSuccess({ ...base, captured: !manual });
    intent.latest_charge = charge.id;
    intent.last_payment_error = null;
    if (manual) {
      intent.status = 'requires_capture';
      intent.amount_capturable = intent.amount;
    } else {
      intent.status = 'succeeded';
      intent.amount_received = intent.amount;
    }
  }
}

function automaticPaymentMethods(allowRedirects: 'always' | 'never' | undefined) {
  return allowRedirects ? { allow_redirects: allowRedirects, enabled: true } : { enabled: true };
}

// Stripe refuses a server-side confirmation without return_url when the intent may use redirect-based
// methods (automatic payment methods unless allow_redirects=never), even for a card.
function requiresReturnUrl(intent: Stripe.PaymentIntent): boolean {
  const automatic = intent.automatic_payment_methods;
  return automatic?.enabled === true && automatic.allow_redirects !== 'never';
}

function returnUrlRequired(): StripeApiError {
  return invalidRequest(
    'A `return_url` must be specified because this Payment Intent is configured to automatically accept the payment methods enabled in the Dashboard, some of which may require a full page redirect to succeed. If you do not want to accept redirect-based payment methods, set `automatic_payment_methods[enabled]` to `true` and `automatic_payment_methods[allow_redirects]` to `never` when creating Setup Intents and Payment Intents.',
  );
}

function missingPaymentMethod(intent?: Stripe.PaymentIntent): StripeApiError {
  return invalidRequest(
    "You cannot confirm this PaymentIntent because it's missing a payment method. You can either update the PaymentIntent with a payment method and then confirm it again, or confirm it again directly with a payment method.",
    { code: 'payment_intent_unexpected_state', extra: intent ? { payment_intent: structuredClone(intent) } : {} },
  );
}

function unexpectedState(
  intent: Stripe.PaymentIntent,
  verb: string,
  participle: string,
  allowed: readonly string[],
): StripeApiError {
  return invalidRequest(
    `You cannot ${verb} this PaymentIntent because it has a status of ${intent.status}. Only a PaymentIntent with one of the following statuses may be ${participle}: ${allowed.join(', ')}.`,
    { code: 'payment_intent_unexpected_state', extra: { payment_intent: structuredClone(intent) } },
  );
}

export function searchDocument(intent: Stripe.PaymentIntent): SearchDocument {
  return {
    fields: {
      amount: intent.amount,
      created: intent.created,
      currency: intent.currency,
      customer: typeof intent.customer === 'string' ? intent.customer : null,
      status: intent.status,
    },
    metadata: intent.metadata,
  };
}

export const SEARCH_FIELDS = {
  amount: 'number',
  created: 'number',
  currency: 'string',
  customer: 'string',
  status: 'string',
} as const;
