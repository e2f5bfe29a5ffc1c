// Checkout Sessions (mode=payment): the registration of a payment on the PSP's hosted page.
//
//   open --(its PaymentIntent succeeds: hosted page, 3-D Secure, admin settle...)--> complete (payment_status paid)
//   open --(POST /expire, expires_at passed)--> expired (its PaymentIntent, if any, is canceled)
//
// As on Stripe since API 2022-08-01, no PaymentIntent exists at creation: `payment_intent` is null until
// the buyer submits a card on the hosted page, which creates the intent (with payment_intent_data) and
// confirms it. A declined attempt keeps that intent (requires_payment_method, last_payment_error) and
// the session open: the buyer retries on the same intent. The intent cannot be confirmed or canceled
// through the API (payment-intent-routes.ts): the session is expired instead.
// `url` is null once the session is complete or expired, as on Stripe.

import type Stripe from 'stripe';
import { invalidRequest } from './errors';
import { AUTOMATIC, type EventOrigin } from './events';
import { newId } from './ids';
import type { CaptureMethod, IntentEventType, PaymentIntentService } from './payment-intents';

export interface SessionLineItem {
  name: string;
  description: string | null;
  currency: string;
  unitAmount: number;
  quantity: number;
}

export interface CreateSessionInput {
  lineItems: SessionLineItem[];
  currency: string;
  amountTotal: number;
  successUrl: string | null;
  cancelUrl: string | null;
  clientReferenceId: string | null;
  customerEmail: string | null;
  metadata: Record<string, string>;
  expiresAt: number;
  locale: string | null;
  submitType: string | null;
  paymentIntentData: {
    metadata: Record<string, string>;
    description: string | null;
    captureMethod: CaptureMethod;
    receiptEmail: string | null;
    statementDescriptorSuffix: string | null;
    transferGroup: string | null;
  };
  /** The allowed_payment_method_types asked for (the session accepts card, the one compatible type here). */
  allowedPaymentMethodTypes: string[] | null;
}

export interface SessionHooks {
  changed(
    type:
      | 'checkout.session.completed'
      | 'checkout.session.expired'
      | 'checkout.session.async_payment_succeeded'
      | 'checkout.session.async_payment_failed',
    session: Stripe.Checkout.Session,
    origin: EventOrigin,
  ): void;
  /** The hosted page of a session. */
  pageUrl(id: string): string;
}

interface StoredSession {
  session: Stripe.Checkout.Session;
  lineItems: SessionLineItem[];
  /** What the PaymentIntent is created with once the buyer pays. */
  input: CreateSessionInput;
}

export class CheckoutSessionService {
  /** Sessions completed with a delayed payment still processing (their async_payment_* event is owed). */
  private readonly awaitingFunds = new Set<string>();
  // Insertion order is creation order.
  private readonly sessions = new Map<string, StoredSession>();
  private readonly byIntent = new Map<string, string>();

  constructor(
    private readonly intents: PaymentIntentService,
    private readonly nowSeconds: () => number,
    private readonly hooks: SessionHooks,
  ) {}

  create(input: CreateSessionInput): Stripe.Checkout.Session {
    const id = newId('cs_test', 58);
    const session = this.buildSession(id, input);
    this.sessions.set(id, {
      session,
      lineItems: input.lineItems.map((item) => ({ ...item })),
      input: structuredClone(input),
    });
    return session;
  }

  /** The session's PaymentIntent, if the buyer has attempted a payment. */
  intentOf(id: string): Stripe.PaymentIntent | undefined {
    const intentId = this.sessions.get(id)?.session.payment_intent;
    return typeof intentId === 'string' && this.intents.has(intentId) ? this.intents.get(intentId) : undefined;
  }

  /** The PaymentIntent a payment attempt on the hosted page confirms: created by the first attempt. */
  intentForAttempt(id: string, origin: EventOrigin = AUTOMATIC): Stripe.PaymentIntent {
    const existing = this.intentOf(id);
    if (existing) return existing;
    const stored = this.sessions.get(id);
    if (!stored) throw new Error(`checkout session ${id} not stored`);
    const { input, session } = stored;
    const intent = this.intents.create(
      {
        amount: input.amountTotal,
        currency: input.currency,
        confirm: false,
        metadata: input.paymentIntentData.metadata,
        description: input.paymentIntentData.description,
        captureMethod: input.paymentIntentData.captureMethod,
        paymentMethodTypes: ['card'],
        receiptEmail: input.paymentIntentData.receiptEmail ?? input.customerEmail,
        statementDescriptorSuffix: input.paymentIntentData.statementDescriptorSuffix,
        transferGroup: input.paymentIntentData.transferGroup,
        checkoutSession: id,
      },
      origin,
    );
    session.payment_intent = intent.id;
    this.byIntent.set(intent.id, id);
    return intent;
  }

  /** The session, expired first if its expires_at has passed. */
  get(id: string): Stripe.Checkout.Session {
    const stored = this.sessions.get(id);
    if (!stored) {
      throw invalidRequest(`No such checkout.session: '${id}'`, {
        code: 'resource_missing',
        param: 'session',
        status: 404,
      });
    }
    this.expireIfDue(stored.session);
    return stored.session;
  }

  find(id: string): Stripe.Checkout.Session | undefined {
    return this.sessions.has(id) ? this.get(id) : undefined;
  }

  lineItems(id: string): SessionLineItem[] {
    return (this.sessions.get(id)?.lineItems ?? []).map((item) => ({ ...item }));
  }

  /** The session that created this PaymentIntent, if any. */
  sessionIdForIntent(intentId: string): string | undefined {
    return this.byIntent.get(intentId);
  }

  expire(id: string, origin: EventOrigin = AUTOMATIC): Stripe.Checkout.Session {
    const session = this.get(id);
    if (session.status !== 'open') {
      throw invalidRequest(`Only Checkout Sessions with a status in ["open"] can be expired.`);
    }
    this.markExpired(session, origin, true);
    return session;
  }

  /** Expires every open session whose expires_at has passed. */
  expireDue(): void {
    for (const { session } of this.sessions.values()) this.expireIfDue(session);
  }

  newestFirst(): Stripe.Checkout.Session[] {
    return [...this.sessions.values()].map((stored) => stored.session).reverse();
  }

  /** Keeps the session in step with its PaymentIntent, whoever changed the intent. */
  onIntentChanged(type: IntentEventType, intent: Stripe.PaymentIntent, origin: EventOrigin): void {
    const id = this.byIntent.get(intent.id);
    const session = id ? this.sessions.get(id)?.session : undefined;
    if (session?.status === 'complete' && session.payment_status === 'unpaid' && id && this.awaitingFunds.has(id)) {
      // A delayed payment method: the session completed unpaid; the money's arrival (or not) comes later.
      if (type === 'payment_intent.succeeded') {
        this.awaitingFunds.delete(id);
        session.payment_status = 'paid';
        this.hooks.changed('checkout.session.async_payment_succeeded', session, origin);
      } else if (type === 'payment_intent.payment_failed') {
        this.awaitingFunds.delete(id);
        this.hooks.changed('checkout.session.async_payment_failed', session, origin);
      }
      return;
    }
    if (session?.status !== 'open') return;
    if (type === 'payment_intent.processing' && id) {
      // As Stripe does for delayed methods: the session completes unpaid, async_payment_* follows.
      session.status = 'complete';
      session.payment_status = 'unpaid';
      session.url = null;
      this.awaitingFunds.add(id);
      this.hooks.changed('checkout.session.completed', session, origin);
    } else if (type === 'payment_intent.succeeded' || type === 'payment_intent.amount_capturable_updated') {
      session.status = 'complete';
      session.payment_status = type === 'payment_intent.succeeded' ? 'paid' : 'unpaid';
      session.url = null;
      this.hooks.changed('checkout.session.completed', session, origin);
    } else if (type === 'payment_intent.canceled') {
      this.markExpired(session, origin, false);
    }
  }

  private expireIfDue(session: Stripe.Checkout.Session): void {
    if (session.status === 'open' && this.nowSeconds() >= session.expires_at)
      this.markExpired(session, AUTOMATIC, true);
  }

  private markExpired(session: Stripe.Checkout.Session, origin: EventOrigin, cancelIntent: boolean): void {
    // Marked first: the intent's cancellation below then finds no open session to update.
    session.status = 'expired';
    session.url = null;
    const intentId = session.payment_intent;
    if (cancelIntent && typeof intentId === 'string' && this.intents.has(intentId)) {
      const intent = this.intents.get(intentId);
      if (
        ['requires_payment_method', 'requires_confirmation', 'requires_action', 'processing'].includes(intent.status)
      ) {
        this.intents.cancel(intentId, 'abandoned', origin);
      }
    }
    this.hooks.changed('checkout.session.expired', session, origin);
  }

  private buildSession(id: string, input: CreateSessionInput): Stripe.Checkout.Session {
    return {
      id,
      object: 'checkout.session',
      adaptive_pricing: null,
      after_expiration: null,
      allow_promotion_codes: null,
      allowed_payment_method_types: input.allowedPaymentMethodTypes ? [...input.allowedPaymentMethodTypes] : null,
      amount_subtotal: input.amountTotal,
      amount_total: input.amountTotal,
      automatic_tax: { enabled: false, liability: null, provider: null, status: null },
      billing_address_collection: null,
      cancel_url: input.cancelUrl,
      client_reference_id: input.clientReferenceId,
      client_secret: null,
      collected_information: null,
      consent: null,
      consent_collection: null,
      created: this.nowSeconds(),
      currency: input.currency,
      currency_conversion: null,
      custom_fields: [],
      custom_text: { after_submit: null, shipping_address: null, submit: null, terms_of_service_acceptance: null },
      customer: null,
      customer_account: null,
      customer_creation: 'if_required',
      customer_details: input.customerEmail
        ? {
            address: null,
            business_name: null,
            email: input.customerEmail,
            individual_name: null,
            name: null,
            phone: null,
            tax_exempt: 'none',
            tax_ids: null,
          }
        : null,
      customer_email: input.customerEmail,
      discounts: [],
      expires_at: input.expiresAt,
      integration_identifier: null,
      invoice: null,
      invoice_creation: null,
      livemode: false,
      locale: input.locale,
      managed_payments: null,
      metadata: { ...input.metadata },
      mode: 'payment',
      origin_context: null,
      payment_intent: null,
      payment_link: null,
      payment_method_collection: 'if_required',
      payment_method_configuration_details: null,
      payment_method_options: { card: { request_three_d_secure: 'automatic' } },
      payment_method_types: ['card'],
      payment_status: 'unpaid',
      permissions: null,
      phone_number_collection: { enabled: false },
      recovered_from: null,
      saved_payment_method_options: null,
      setup_intent: null,
      shipping_address_collection: null,
      shipping_cost: null,
      shipping_options: [],
      status: 'open',
      submit_type: input.submitType as Stripe.Checkout.Session.SubmitType | null,
      subscription: null,
      success_url: input.successUrl,
      total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
      ui_mode: 'hosted_page',
      url: this.hooks.pageUrl(id),
      wallet_options: null,
    };
  }
}
