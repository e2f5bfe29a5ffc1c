// The /v1/charges endpoints (retrieve and list), served from the charge ledger (charges.ts): every charge
// attempt a confirmation made, declines included, as Stripe Charge objects. Their ids are the ledger's, the ones
// PaymentIntents show as `latest_charge` and declines as `last_payment_error.charge`.
//
//   GET /v1/charges/:id                       expand: payment_intent, balance_transaction, refunds
//   GET /v1/charges[?payment_intent=pi_...]   newest first, with created, customer, transfer_group, limit and
//                                             the starting_after / ending_before cursors; expand:
//                                             data.payment_intent, data.balance_transaction, data.refunds
//
// Refunds (refunds.ts) show in `amount_refunded` (pending and succeeded ones, plus what a partial capture or a
// release left uncaptured) and `refunded` (all of it); `refunds`, the charge's refunds newest first, is included only
// when expanded, as on Stripe since API version 2022-11-15. A dispute (disputes.ts) sets `disputed`.
//
// A captured charge names the platform balance transaction of its funds (`balance_transaction`, balance.ts); an
// uncaptured or declined one has none (null), as on Stripe. What the simulator does not model is rendered as Stripe
// renders an account without it: no Radar rule, no receipt, no 3-D Secure details on the card (null).

import type Stripe from 'stripe';
import { ok, type Route } from './api';
import type { ChargeLedger, ChargeRecord } from './charges';
import { invalidRequest, resourceMissing } from './errors';
import type { FormObject } from './form';
import { inCreatedRange, paginate, readListParams } from './list';
import { readExpand, readString, rejectUnknownParams } from './params';
import type { PaymentIntentService } from './payment-intents';
import type { PaymentMethodStore } from './payment-methods';

const COLLECTION_URL = '/v1/charges';
const EXPANDABLE = ['payment_intent', 'balance_transaction', 'refunds'];
/** Embedded lists show this many items, as Stripe's do. */
const EMBEDDED_LIST_SIZE = 10;
/** The statement descriptor of the simulated account. */
const ACCOUNT_DESCRIPTOR = 'PSP SIMULATOR';
/** Radar's score for a test charge with nothing unusual about it. */
const NORMAL_RISK_SCORE = 20;

export interface ChargeSources {
  charges: ChargeLedger;
  intents: PaymentIntentService;
  methods: PaymentMethodStore;
  /** A platform balance transaction, for `expand: balance_transaction`. */
  balanceTransaction?: (id: string) => Stripe.BalanceTransaction | undefined;
  /** What happened to charges after the payment: refunds and disputes (none when absent). */
  aftermath?: ChargeAftermath;
}

export interface ChargeAftermath {
  /** What the charge's refunds take back (pending and succeeded ones). */
  refundedAmount(chargeId: string): number;
  /** The charge's refunds, newest first. */
  refundsOf(chargeId: string): Stripe.Refund[];
  disputed(chargeId: string): boolean;
}

export function chargeRoutes(sources: ChargeSources): Route[] {
  return [
    {
      method: 'GET',
      path: COLLECTION_URL,
      prepare: ({ params }) => {
        rejectUnknownParams(params, [
          'created',
          'customer',
          'ending_before',
          'expand',
          'limit',
          'payment_intent',
          'starting_after',
          'transfer_group',
        ]);
        const listParams = readListParams(params);
        const paymentIntent = readString(params, 'payment_intent') ?? undefined;
        const customer = readString(params, 'customer') ?? undefined;
        const transferGroup = readString(params, 'transfer_group') ?? undefined;
        const expand = readChargeExpand(params, 'data.');
        return () => {
          const rendered = sources.charges.newestFirst().map((record) => renderCharge(record, sources));
          const matches = (charge: Stripe.Charge) =>
            inCreatedRange(charge.created, listParams.created) &&
            (paymentIntent === undefined || charge.payment_intent === paymentIntent) &&
            (customer === undefined || charge.customer === customer) &&
            (transferGroup === undefined || charge.transfer_group === transferGroup);
          const page = paginate(rendered, matches, listParams, COLLECTION_URL, 'charge');
          return ok({ ...page, data: page.data.map((charge) => expanded(charge, expand, sources)) });
        };
      },
    },
    {
      method: 'GET',
      path: `${COLLECTION_URL}/:id`,
      prepare: ({ params, pathParams }) => {
        rejectUnknownParams(params, ['expand']);
        const expand = readChargeExpand(params);
        const id = pathParams.id ?? '';
        const record = sources.charges.get(id);
        if (!record) throw resourceMissing('charge', id, 'id');
        return () => ok(expanded(renderCharge(record, sources), expand, sources));
      },
    },
  ];
}

/** A charge attempt as a Stripe Charge object (a new object each time). */
export function renderCharge(record: ChargeRecord, sources: ChargeSources): Stripe.Charge {
  const intent = sources.intents.has(record.payment_intent) ? sources.intents.get(record.payment_intent) : undefined;
  const method = sources.methods.get(record.payment_method)?.object;
  const succeeded = record.status === 'succeeded';
  const failure = succeeded ? undefined : sources.charges.failure(record.id);
  // A released authorization is refunded in full; a partial capture refunds the rest of the authorization.
  const uncaptured = record.refunded || record.captured ? record.amount - record.amount_captured : 0;
  const amountRefunded = uncaptured + (sources.aftermath?.refundedAmount(record.id) ?? 0);
  const suffix = intent?.statement_descriptor_suffix ?? null;
  const descriptor =
    intent?.statement_descriptor ?? (suffix ? `${ACCOUNT_DESCRIPTOR}* ${suffix}`.slice(0, 22) : ACCOUNT_DESCRIPTOR);
  return {
    id: record.id,
    object: 'charge',
    amount: record.amount,
    amount_captured: record.amount_captured,
    amount_refunded: amountRefunded,
    application: null,
    application_fee: null,
    application_fee_amount: null,
    balance_transaction: record.balance_transaction,
    billing_details: method
      ? structuredClone(method.billing_details)
      : {
          address: null,
          email: null,
          name: null,
          phone: null,
          tax_id: null,
        },
    calculated_statement_descriptor: descriptor,
    captured: record.captured,
    created: record.created,
    currency: record.currency,
    customer: typeof intent?.customer === 'string' ? intent.customer : null,
    description: intent?.description ?? null,
    disputed: sources.aftermath?.disputed(record.id) ?? false,
    failure_balance_transaction: null,
    failure_code: record.failure_code,
    failure_message: succeeded ? null : (failure?.message ?? 'Your card was declined.'),
    fraud_details: {},
    livemode: false,
    metadata: { ...record.metadata },
    on_behalf_of: null,
    outcome: succeeded ? approved() : declined(failure?.declineCode ?? record.failure_code),
    paid: succeeded,
    payment_intent: record.payment_intent,
    payment_method: record.payment_method,
    payment_method_details: method?.card ? cardDetails(method.card, record) : null,
    receipt_email: intent?.receipt_email ?? null,
    receipt_number: null,
    receipt_url: null,
    refunded: record.refunded || (succeeded && amountRefunded >= record.amount),
    review: null,
    shipping: null,
    source: null,
    source_transfer: null,
    statement_descriptor: intent?.statement_descriptor ?? null,
    statement_descriptor_suffix: suffix,
    status: record.status,
    transfer_data: null,
    transfer_group: intent?.transfer_group ?? null,
  };
}

function approved(): Stripe.Charge.Outcome {
  return {
    advice_code: null,
    network_advice_code: null,
    network_decline_code: null,
    network_status: 'approved_by_network',
    reason: null,
    risk_level: 'normal',
    risk_score: NORMAL_RISK_SCORE,
    seller_message: 'Payment complete.',
    type: 'authorized',
  };
}

function declined(reason: string | null): Stripe.Charge.Outcome {
  return {
    advice_code: null,
    network_advice_code: null,
    network_decline_code: null,
    network_status: 'declined_by_network',
    reason,
    risk_level: 'normal',
    risk_score: NORMAL_RISK_SCORE,
    seller_message:
      reason === null || reason === 'generic_decline'
        ? 'The bank did not return any further details with this decline.'
        : `The bank returned the decline code \`${reason}\`.`,
    type: 'issuer_declined',
  };
}

function cardDetails(card: Stripe.PaymentMethod.Card, record: ChargeRecord): Stripe.Charge.PaymentMethodDetails {
  return {
    type: 'card',
    card: {
      amount_authorized: record.status === 'succeeded' ? record.amount : null,
      authorization_code: null,
      brand: card.brand,
      checks: card.checks ? { ...card.checks } : null,
      country: card.country,
      electronic_commerce_indicator: null,
      exp_month: card.exp_month,
      exp_year: card.exp_year,
      fingerprint: card.fingerprint ?? null,
      funding: card.funding,
      installments: null,
      last4: card.last4,
      mandate: null,
      network: card.networks?.preferred ?? card.brand,
      network_transaction_id: null,
      regulated_status: card.regulated_status,
      three_d_secure: null,
      transaction_link_id: null,
      wallet: null,
    },
  };
}

function readChargeExpand(params: FormObject, prefix = ''): string[] {
  const paths = readExpand(params);
  return paths.map((path) => {
    const property = path.startsWith(prefix) ? path.slice(prefix.length) : path;
    if (!EXPANDABLE.includes(property)) {
      throw invalidRequest(`This property cannot be expanded (${path}).`, { param: 'expand' });
    }
    return property;
  });
}

function expanded(charge: Stripe.Charge, expand: string[], sources: ChargeSources): Stripe.Charge {
  if (expand.includes('payment_intent') && typeof charge.payment_intent === 'string') {
    const id = charge.payment_intent;
    if (sources.intents.has(id)) charge.payment_intent = structuredClone(sources.intents.get(id));
  }
  if (expand.includes('balance_transaction') && typeof charge.balance_transaction === 'string') {
    const txn = sources.balanceTransaction?.(charge.balance_transaction);
    if (txn) charge.balance_transaction = txn;
  }
  if (expand.includes('refunds')) {
    const refunds = sources.aftermath?.refundsOf(charge.id) ?? [];
    charge.refunds = {
      object: 'list',
      data: refunds.slice(0, EMBEDDED_LIST_SIZE),
      has_more: refunds.length > EMBEDDED_LIST_SIZE,
      url: `${COLLECTION_URL}/${charge.id}/refunds`,
    } as Stripe.ApiList<Stripe.Refund>;
  }
  return charge;
}
