// PaymentIntents: the objects, their state machine and their in-memory store.
//
//   requires_payment_method --(payment method attached)--> requires_confirmation
//   confirm: success -> succeeded (or requires_capture with capture_method=manual)
//            decline -> requires_payment_method, last_payment_error set, HTTP 402
//            3-D Secure card (or request_three_d_secure any/challenge) -> requires_action: with a
//              return_url next_action is redirect_to_url (the challenge page), without one use_stripe_sdk
//              (no URL: the buyer authenticates in the PSP's client SDK; here the admin route or
//              /3ds/:id); with off_session or error_on_requires_action: declined (authentication_required)
//            processing card -> processing
//   authenticate (challenge page or admin): requires_action -> approve: charged as above (with
//              confirmation_method=manual: requires_confirmation, charged by the next confirm);
//            fail: requires_payment_method, last_payment_error payment_intent_authentication_failure
//   settle (admin): processing -> succeeded | requires_payment_method (declined)
//   capture: requires_capture -> succeeded;  cancel: any open state -> canceled
// Every state change is reported to the hooks (events and webhooks, checkout sessions).
//
// Search sees an index that lags behind the writes (see searchable): every write is stamped, and a
// search at time t matches each intent as it was at t - lag (intents created later are not found).

import { randomUUID } from 'node:crypto';
import type Stripe from 'stripe';
import type { ChargeLedger } from './charges';
import { docUrl, invalidRequest, StripeApiError } from './errors';
import { AUTOMATIC, type EmittedEventType, type EventOrigin } from './events';
import { newId, randomAlphanumeric } from './ids';
import type { CardDecline, PaymentMethodStore, StoredPaymentMethod } from './payment-methods';
import type { SearchDocument } from './search-query';

export const CAPTURE_METHODS = ['automatic', 'automatic_async', 'manual'] as const;
export type CaptureMethod = (typeof CAPTURE_METHODS)[number];
export const CANCELLATION_REASONS = ['duplicate', 'fraudulent', 'requested_by_customer', 'abandoned'] as const;
export type CancellationReason = (typeof CANCELLATION_REASONS)[number];
export const SETUP_FUTURE_USAGES = ['off_session', 'on_session'] as const;
export type SetupFutureUsage = (typeof SETUP_FUTURE_USAGES)[number];
export const CONFIRMATION_METHODS = ['automatic', 'manual'] as const;
export type ConfirmationMethod = (typeof CONFIRMATION_METHODS)[number];
export const REQUEST_THREE_D_SECURE = ['any', 'automatic', 'challenge'] as const;
export type RequestThreeDSecure = (typeof REQUEST_THREE_D_SECURE)[number];

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
  /** The allowed_payment_method_types asked for (paymentMethodTypes: the compatible ones among them). */
  allowedPaymentMethodTypes?: string[];
  allowRedirects?: 'always' | 'never';
  returnUrl?: string;
  receiptEmail: string | null;
  statementDescriptorSuffix: string | null;
  transferGroup: string | null;
  customer?: string | null;
  setupFutureUsage?: SetupFutureUsage | null;
  shipping?: Stripe.PaymentIntent.Shipping | null;
  onBehalfOf?: string | null;
  transferData?: Stripe.PaymentIntent.TransferData | null;
  applicationFeeAmount?: number | null;
  confirmationMethod?: ConfirmationMethod;
  requestThreeDSecure?: RequestThreeDSecure;
  /** The Checkout Session that created the intent (its PaymentIntent cannot be confirmed or canceled directly). */
  checkoutSession?: string;
}

export interface ConfirmInput {
  paymentMethod?: StoredPaymentMethod;
  returnUrl?: string;
  offSession?: boolean;
  errorOnRequiresAction?: boolean;
  /** Next actions are for Stripe.js / the mobile SDKs: use_stripe_sdk even with a return_url. */
  useStripeSdk?: boolean;
  /** Confirm-time updates (null unsets). */
  receiptEmail?: string | null;
  setupFutureUsage?: SetupFutureUsage | null;
  shipping?: Stripe.PaymentIntent.Shipping | null;
  captureMethod?: CaptureMethod;
  requestThreeDSecure?: RequestThreeDSecure;
  /**
   * The simulator's hosted payment page confirming for the buyer: a challenge is its own page
   * (redirect_to_url without return_url), whatever the rules for API confirmations.
   */
  hostedChallenge?: boolean;
}

export type IntentEventType = Extract<EmittedEventType, `payment_intent.${string}`>;

export interface IntentHooks {
  /** Called after every state change with the intent as it now is. */
  changed(type: IntentEventType, intent: Stripe.PaymentIntent, origin: EventOrigin): void;
  /** Where the buyer completes a 3-D Secure challenge for this intent. */
  challengeUrl(intent: Stripe.PaymentIntent): string;
}

const NO_HOOKS: IntentHooks = { changed: () => {}, challengeUrl: (intent) => `/3ds/${intent.id}` };

export type AuthenticationOutcome = 'approve' | 'fail';
export type SettlementOutcome = 'succeeded' | 'failed';

const CONFIRMABLE: readonly string[] = ['requires_payment_method', 'requires_confirmation', 'requires_action'];
const CANCELABLE: readonly string[] = [
  'requires_payment_method',
  'requires_capture',
  'requires_confirmation',
  'requires_action',
  'processing',
];

/** One write of an intent as the search index sees it. */
interface IndexedVersion {
  atMs: number;
  document: SearchDocument;
}

export class PaymentIntentService {
  // Insertion order is creation order; lists and searches read it backwards (newest first).
  private readonly intents = new Map<string, Stripe.PaymentIntent>();
  private readonly paymentMethodConfiguration = newId('pmc');
  /** intent id -> the Checkout Session that created it. */
  private readonly checkoutSessions = new Map<string, string>();
  /** intent id -> the payment method whose 3-D Secure challenge was passed and not charged yet. */
  private readonly authenticated = new Map<string, string>();
  /** Every write of every intent, oldest first, as the search index receives them. */
  private readonly index = new Map<string, IndexedVersion[]>();

  constructor(
    private readonly methods: PaymentMethodStore,
    private readonly charges: ChargeLedger,
    private readonly nowSeconds: () => number,
    private readonly hooks: IntentHooks = NO_HOOKS,
    /** The clock of the search index (ms). */
    private readonly nowMs: () => number = Date.now,
  ) {}

  /** Checks that fail the whole create request before any PaymentIntent exists. */
  assertCreatable(input: CreatePaymentIntentInput): void {
    if (!input.confirm) return;
    if (!input.paymentMethod) throw missingPaymentMethod();
    if (!input.paymentMethodTypes && input.allowRedirects !== 'never' && !input.returnUrl) throw returnUrlRequired();
  }

  /** Creates (and with confirm=true, confirms) a PaymentIntent. A decline throws a 402 after storing it. */
  create(
    input: CreatePaymentIntentInput & Omit<ConfirmInput, 'paymentMethod' | 'returnUrl'>,
    origin: EventOrigin = AUTOMATIC,
  ): Stripe.PaymentIntent {
    this.assertCreatable(input);
    const intent = this.buildIntent(input);
    if (input.checkoutSession) this.checkoutSessions.set(intent.id, input.checkoutSession);
    return this.indexed(intent, () => {
      if (input.paymentMethod) this.attach(intent, input.paymentMethod);
      this.intents.set(intent.id, intent);
      this.hooks.changed('payment_intent.created', intent, origin);
      if (input.confirm && input.paymentMethod) this.process(intent, input.paymentMethod, input, origin);
      return intent;
    });
  }

  confirm(id: string, input: ConfirmInput, origin: EventOrigin = AUTOMATIC): Stripe.PaymentIntent {
    const intent = this.get(id);
    if (!CONFIRMABLE.includes(intent.status)) {
      throw unexpectedState(intent, 'confirm', 'confirmed', CONFIRMABLE);
    }
    const paymentMethod = input.paymentMethod ?? this.attachedPaymentMethod(intent);
    if (!paymentMethod) throw missingPaymentMethod(intent);
    if (requiresReturnUrl(intent) && !input.returnUrl && !input.hostedChallenge) throw returnUrlRequired();
    return this.indexed(intent, () => {
      this.attach(intent, paymentMethod);
      applyConfirmUpdates(intent, input);
      this.process(intent, paymentMethod, input, origin);
      return intent;
    });
  }

  /** The buyer's (or the admin's) answer to the 3-D Secure challenge of a `requires_action` intent. */
  authenticate(id: string, outcome: AuthenticationOutcome, origin: EventOrigin = AUTOMATIC): Stripe.PaymentIntent {
    const intent = this.get(id);
    if (intent.status !== 'requires_action') {
      throw unexpectedState(intent, 'authenticate', 'authenticated', ['requires_action']);
    }
    const paymentMethod = this.attachedPaymentMethod(intent);
    if (!paymentMethod) throw missingPaymentMethod(intent);
    return this.indexed(intent, () => {
      if (outcome === 'approve') {
        this.authenticated.set(intent.id, paymentMethod.object.id);
        if (intent.confirmation_method === 'manual') {
          // Manual confirmation: the server confirms again to charge (no new challenge).
          intent.status = 'requires_confirmation';
          intent.next_action = null;
          return intent;
        }
        // A decline after authentication is reported on the intent (last_payment_error), not thrown.
        this.charge(intent, paymentMethod, origin);
        return intent;
      }
      intent.status = 'requires_payment_method';
      intent.payment_method = null;
      intent.next_action = null;
      intent.last_payment_error = {
        type: 'invalid_request_error',
        code: 'payment_intent_authentication_failure',
        doc_url: docUrl('payment_intent_authentication_failure'),
        message:
          'The provided PaymentMethod has failed authentication. You can provide payment_method_data or a new PaymentMethod to attempt to fulfill this PaymentIntent again.',
        payment_method: structuredClone(paymentMethod.object),
        payment_method_type: paymentMethod.object.type,
      };
      this.hooks.changed('payment_intent.payment_failed', intent, origin);
      return intent;
    });
  }

  /** Ends the `processing` state of an intent, as the PSP does once a slow payment settles. */
  settleProcessing(id: string, outcome: SettlementOutcome, origin: EventOrigin = AUTOMATIC): Stripe.PaymentIntent {
    const intent = this.get(id);
    if (intent.status !== 'processing') throw unexpectedState(intent, 'settle', 'settled', ['processing']);
    const paymentMethod = this.attachedPaymentMethod(intent);
    if (!paymentMethod) throw missingPaymentMethod(intent);
    const decline = outcome === 'failed' ? (paymentMethod.decline ?? GENERIC_DECLINE) : undefined;
    return this.indexed(intent, () => {
      this.settle(intent, paymentMethod, origin, decline);
      return intent;
    });
  }

  capture(id: string, amountToCapture?: number, origin: EventOrigin = AUTOMATIC): Stripe.PaymentIntent {
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
    return this.indexed(intent, () => {
      if (typeof intent.latest_charge === 'string') this.charges.capture(intent.latest_charge, amount);
      intent.status = 'succeeded';
      intent.amount_received = amount;
      intent.amount_capturable = 0;
      this.hooks.changed('payment_intent.succeeded', intent, origin);
      return intent;
    });
  }

  cancel(id: string, reason: CancellationReason | undefined, origin: EventOrigin = AUTOMATIC): Stripe.PaymentIntent {
    const intent = this.get(id);
    if (!CANCELABLE.includes(intent.status)) throw unexpectedState(intent, 'cancel', 'canceled', CANCELABLE);
    return this.indexed(intent, () => {
      if (intent.status === 'requires_capture' && typeof intent.latest_charge === 'string') {
        this.charges.release(intent.latest_charge);
      }
      intent.status = 'canceled';
      intent.canceled_at = this.nowSeconds();
      intent.cancellation_reason = reason ?? null;
      intent.amount_capturable = 0;
      intent.next_action = null;
      intent.processing = null;
      this.authenticated.delete(intent.id);
      this.hooks.changed('payment_intent.canceled', intent, origin);
      return intent;
    });
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

  has(id: string): boolean {
    return this.intents.has(id);
  }

  newestFirst(): Stripe.PaymentIntent[] {
    return [...this.intents.values()].reverse();
  }

  /** The Checkout Session that created this intent, if one did. */
  checkoutSessionOf(id: string): string | undefined {
    return this.checkoutSessions.get(id);
  }

  /**
   * What a search sees now, newest first: each intent as indexed `lagMs` ago (its latest write at least
   * that old); intents without such a write are not found yet.
   */
  searchable(lagMs: number): { intent: Stripe.PaymentIntent; document: SearchDocument }[] {
    const horizon = this.nowMs() - lagMs;
    const found: { intent: Stripe.PaymentIntent; document: SearchDocument }[] = [];
    for (const intent of this.newestFirst()) {
      const versions = this.index.get(intent.id) ?? [];
      const visible = versions.findLast((version) => version.atMs <= horizon);
      if (visible) found.push({ intent, document: visible.document });
    }
    return found;
  }

  /** The charge attempts of every intent (rendered as Charge objects by charge-routes.ts). */
  chargeLedger(): ChargeLedger {
    return this.charges;
  }

  /** Runs a write of `intent` and stamps the result for the search index, even when the write throws (402). */
  private indexed<T>(intent: Stripe.PaymentIntent, write: () => T): T {
    try {
      return write();
    } finally {
      if (this.intents.has(intent.id)) {
        const versions = this.index.get(intent.id) ?? [];
        versions.push({ atMs: this.nowMs(), document: structuredClone(searchDocument(intent)) });
        this.index.set(intent.id, versions);
      }
    }
  }

  private buildIntent(input: CreatePaymentIntentInput): Stripe.PaymentIntent {
    const id = newId('pi');
    const automatic = !input.paymentMethodTypes;
    return {
      id,
      object: 'payment_intent',
      allowed_payment_method_types: input.allowedPaymentMethodTypes ? [...input.allowedPaymentMethodTypes] : null,
      amount: input.amount,
      amount_capturable: 0,
      amount_details: { tip: {} },
      amount_received: 0,
      application: null,
      application_fee_amount: input.applicationFeeAmount ?? null,
      automatic_payment_methods: automatic ? automaticPaymentMethods(input.allowRedirects) : null,
      canceled_at: null,
      cancellation_reason: null,
      capture_method: input.captureMethod,
      client_secret: `${id}_secret_${randomAlphanumeric(25)}`,
      confirmation_method: input.confirmationMethod ?? 'automatic',
      created: this.nowSeconds(),
      currency: input.currency,
      customer: input.customer ?? null,
      customer_account: null,
      description: input.description,
      excluded_payment_method_types: null,
      last_payment_error: null,
      latest_charge: null,
      livemode: false,
      managed_payments: null,
      metadata: { ...input.metadata },
      next_action: null,
      on_behalf_of: input.onBehalfOf ?? null,
      payment_method: null,
      payment_method_configuration_details: automatic ? { id: this.paymentMethodConfiguration, parent: null } : null,
      payment_method_options: {
        card: {
          installments: null,
          mandate_options: null,
          network: null,
          request_three_d_secure: input.requestThreeDSecure ?? 'automatic',
        },
      },
      payment_method_types: input.paymentMethodTypes ?? ['card'],
      payment_record: null,
      processing: null,
      receipt_email: input.receiptEmail,
      review: null,
      setup_future_usage: input.setupFutureUsage ?? null,
      shipping: input.shipping ? structuredClone(input.shipping) : null,
      source: null,
      // Stripe refuses statement_descriptor on card PaymentIntents (see payment-intent-routes.ts).
      statement_descriptor: null,
      statement_descriptor_suffix: input.statementDescriptorSuffix,
      status: 'requires_payment_method',
      transfer_data: input.transferData ? structuredClone(input.transferData) : null,
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
    if (intent.payment_method !== paymentMethod.object.id) this.authenticated.delete(intent.id);
    intent.payment_method = paymentMethod.object.id;
    intent.status = 'requires_confirmation';
  }

  /** A 3-D Secure challenge is due: the card demands it, or the merchant asked for one. */
  private needsAuthentication(intent: Stripe.PaymentIntent, paymentMethod: StoredPaymentMethod): boolean {
    if (this.authenticated.get(intent.id) === paymentMethod.object.id) return false;
    const requested = intent.payment_method_options?.card?.request_three_d_secure;
    return paymentMethod.requiresAuthentication === true || requested === 'any' || requested === 'challenge';
  }

  /** After a confirmation: challenge, processing, or the charge itself. Throws the 402 of a decline. */
  private process(
    intent: Stripe.PaymentIntent,
    paymentMethod: StoredPaymentMethod,
    options: Omit<ConfirmInput, 'paymentMethod'>,
    origin: EventOrigin,
  ): void {
    if (this.needsAuthentication(intent, paymentMethod)) {
      if (options.offSession || options.errorOnRequiresAction) {
        const error = this.settle(intent, paymentMethod, origin, AUTHENTICATION_REQUIRED);
        if (error) throw error;
        return;
      }
      intent.status = 'requires_action';
      intent.last_payment_error = null;
      intent.next_action = this.challengeAction(intent, paymentMethod, options);
      this.hooks.changed('payment_intent.requires_action', intent, origin);
      return;
    }
    const error = this.charge(intent, paymentMethod, origin);
    if (error) throw error;
  }

  /**
   * Stripe's next action for a 3-D Secure challenge: redirect_to_url only when the confirmation gave a
   * return_url (and did not ask for use_stripe_sdk); otherwise use_stripe_sdk, whose content only
   * Stripe.js reads (no URL). Cards are not a redirect-based method: allow_redirects=never changes nothing.
   */
  private challengeAction(
    intent: Stripe.PaymentIntent,
    paymentMethod: StoredPaymentMethod,
    options: Omit<ConfirmInput, 'paymentMethod'>,
  ): Stripe.PaymentIntent.NextAction {
    if (options.hostedChallenge) {
      return { type: 'redirect_to_url', redirect_to_url: { url: this.hooks.challengeUrl(intent), return_url: null } };
    }
    if (options.returnUrl && !options.useStripeSdk) {
      return {
        type: 'redirect_to_url',
        redirect_to_url: { url: this.hooks.challengeUrl(intent), return_url: options.returnUrl },
      };
    }
    const brand = paymentMethod.object.card?.brand ?? 'visa';
    return {
      type: 'use_stripe_sdk',
      use_stripe_sdk: {
        type: 'stripe_3ds2_fingerprint',
        merchant: 'acct_pspsimulator',
        three_d_secure_2_source: newId('payatt'),
        directory_server_name: brand,
        server_transaction_id: randomUUID(),
        three_ds_method_url: '',
        three_ds_optimizations: 'kf',
        directory_server_encryption: {
          algorithm: 'RSA',
          certificate: '',
          directory_server_id: DIRECTORY_SERVER_IDS[brand] ?? 'A000000003',
          root_certificate_authorities: [],
        },
        one_click_authn: null,
      },
    };
  }

  /** A confirmation with nothing (more) to authenticate: processing, or the charge. */
  private charge(
    intent: Stripe.PaymentIntent,
    paymentMethod: StoredPaymentMethod,
    origin: EventOrigin,
  ): StripeApiError | undefined {
    if (paymentMethod.processing) {
      intent.status = 'processing';
      intent.last_payment_error = null;
      intent.next_action = null;
      intent.processing = { type: 'card', card: {} };
      this.hooks.changed('payment_intent.processing', intent, origin);
      return undefined;
    }
    return this.settle(intent, paymentMethod, origin);
  }

  /** Charges (or declines) the payment method; a decline is returned as the 402 to throw on the API path. */
  private settle(
    intent: Stripe.PaymentIntent,
    paymentMethod: StoredPaymentMethod,
    origin: EventOrigin,
    decline = paymentMethod.decline,
  ): StripeApiError | undefined {
    const base = {
      payment_intent: intent.id,
      payment_method: paymentMethod.object.id,
      amount: intent.amount,
      currency: intent.currency,
      created: this.nowSeconds(),
      metadata: intent.metadata,
    };
    this.authenticated.delete(intent.id);
    intent.next_action = null;
    intent.processing = null;
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
        payment_method: structuredClone(paymentMethod.object),
        payment_method_type: paymentMethod.object.type,
      };
      this.hooks.changed('payment_intent.payment_failed', intent, origin);
      return new StripeApiError(402, {
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
      this.hooks.changed('payment_intent.amount_capturable_updated', intent, origin);
    } else {
      intent.status = 'succeeded';
      intent.amount_received = intent.amount;
      this.hooks.changed('payment_intent.succeeded', intent, origin);
    }
    return undefined;
  }
}

const GENERIC_DECLINE: CardDecline = {
  code: 'card_declined',
  declineCode: 'generic_decline',
  message: 'Your card was declined.',
};

const AUTHENTICATION_REQUIRED: CardDecline = {
  code: 'authentication_required',
  declineCode: 'authentication_required',
  message: 'Your card was declined. This transaction requires authentication.',
};

// EMVCo registered application ids of the card networks' directory servers.
const DIRECTORY_SERVER_IDS: Record<string, string> = {
  visa: 'A000000003',
  mastercard: 'A000000004',
  amex: 'A000000025',
  discover: 'A000000152',
};

function applyConfirmUpdates(intent: Stripe.PaymentIntent, input: ConfirmInput): void {
  if (input.receiptEmail !== undefined) intent.receipt_email = input.receiptEmail;
  if (input.setupFutureUsage !== undefined) intent.setup_future_usage = input.setupFutureUsage;
  if (input.shipping !== undefined) intent.shipping = input.shipping ? structuredClone(input.shipping) : null;
  if (input.captureMethod) intent.capture_method = input.captureMethod;
  if (input.requestThreeDSecure && intent.payment_method_options?.card) {
    intent.payment_method_options.card.request_three_d_secure = input.requestThreeDSecure;
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
