// The /v1/checkout/sessions endpoints (mode=payment, hosted page, price_data line items only).

import type Stripe from 'stripe';
import { type ApiRequest, ok, type Route } from './api';
import type { CheckoutSessionService, CreateSessionInput, SessionLineItem } from './checkout-sessions';
import { assertChargeableAmount, normalizeCurrency } from './currencies';
import { invalidRequest } from './errors';
import { asList, type FormObject } from './form';
import { inCreatedRange, paginate, readListParams } from './list';
import {
  prefixed,
  readEnum,
  readExpand,
  readInteger,
  readMetadata,
  readObject,
  readRequiredString,
  readString,
  readStringList,
  rejectUnknownParams,
} from './params';
import { originOf } from './payment-intent-routes';
import { CAPTURE_METHODS, type PaymentIntentService } from './payment-intents';

const COLLECTION_URL = '/v1/checkout/sessions';
const MAX_EXPIRY_S = 24 * 60 * 60;
export const DEFAULT_MIN_EXPIRY_S = 30 * 60;

// No `payment_method_types`: removed from a Checkout Session's create in API version 2026-09-30.endive, the version of
// the installed stripe SDK (its SessionCreateParams lack it and take `allowed_payment_method_types`; stripe-node
// 23.0.0's CHANGELOG). Stripe's changelog names no error code for sessions
// (docs.stripe.com/changelog/endive/2026-09-30/remove-payment-method-types-checkout-sessions), so it is refused as any
// parameter the version does not take: 400 parameter_unknown.
const CREATE_PARAMS = [
  'allowed_payment_method_types',
  'cancel_url',
  'client_reference_id',
  'customer_email',
  'expand',
  'expires_at',
  'line_items',
  'locale',
  'metadata',
  'mode',
  'payment_intent_data',
  'submit_type',
  'success_url',
  'ui_mode',
];
const PAYMENT_INTENT_DATA_PARAMS = [
  'capture_method',
  'description',
  'metadata',
  'receipt_email',
  'statement_descriptor',
  'statement_descriptor_suffix',
  'transfer_group',
];

export interface CheckoutRouteOptions {
  nowSeconds: () => number;
  /** Stripe's minimum distance of expires_at from creation (30 minutes). */
  minExpirySeconds: number;
}

export function checkoutSessionRoutes(
  sessions: CheckoutSessionService,
  intents: PaymentIntentService,
  options: CheckoutRouteOptions,
): Route[] {
  const render = (session: Stripe.Checkout.Session, expand: string[]): Stripe.Checkout.Session => {
    const copy = structuredClone(session);
    if (expand.includes('payment_intent') && typeof copy.payment_intent === 'string') {
      copy.payment_intent = structuredClone(intents.get(copy.payment_intent));
    }
    return copy;
  };

  return [
    {
      method: 'POST',
      path: COLLECTION_URL,
      prepare: (request: ApiRequest) => {
        const input = readCreateInput(request.params, options);
        const expand = readSessionExpand(request.params);
        return () => ok(render(sessions.create(input), expand));
      },
    },
    {
      method: 'GET',
      path: COLLECTION_URL,
      prepare: ({ params }) => {
        rejectUnknownParams(params, [
          'created',
          'ending_before',
          'expand',
          'limit',
          'payment_intent',
          'starting_after',
          'status',
        ]);
        const listParams = readListParams(params);
        const paymentIntent = readString(params, 'payment_intent');
        const status = readEnum(params, 'status', ['open', 'complete', 'expired'] as const);
        const expand = readSessionExpand(params, 'data.');
        return () => {
          sessions.expireDue();
          const matches = (session: Stripe.Checkout.Session) =>
            inCreatedRange(session.created, listParams.created) &&
            (!paymentIntent || session.payment_intent === paymentIntent) &&
            (!status || session.status === status);
          const page = paginate(sessions.newestFirst(), matches, listParams, COLLECTION_URL, 'checkout.session');
          return ok({ ...page, data: page.data.map((session) => render(session, expand)) });
        };
      },
    },
    {
      method: 'GET',
      path: `${COLLECTION_URL}/:id`,
      prepare: ({ params, pathParams }) => {
        rejectUnknownParams(params, ['expand']);
        const expand = readSessionExpand(params);
        const id = pathParams.id ?? '';
        sessions.get(id);
        return () => ok(render(sessions.get(id), expand));
      },
    },
    {
      method: 'POST',
      path: `${COLLECTION_URL}/:id/expire`,
      prepare: (request) => {
        rejectUnknownParams(request.params, ['expand']);
        const expand = readSessionExpand(request.params);
        const id = request.pathParams.id ?? '';
        sessions.get(id);
        return () => ok(render(sessions.expire(id, originOf(request)), expand));
      },
    },
  ];
}

function readSessionExpand(params: FormObject, prefix = ''): string[] {
  const expand = readExpand(params).map((path) => (path.startsWith(prefix) ? path.slice(prefix.length) : path));
  for (const path of expand) {
    if (path !== 'payment_intent') {
      throw invalidRequest(`The PSP simulator cannot expand ${prefix}${path} (only payment_intent).`, {
        param: 'expand',
      });
    }
  }
  return expand;
}

function readCreateInput(params: FormObject, options: CheckoutRouteOptions): CreateSessionInput {
  rejectUnknownParams(params, CREATE_PARAMS);
  const mode = readRequiredString(params, 'mode');
  if (mode !== 'payment') {
    throw invalidRequest(`The PSP simulator supports mode=payment only (got '${mode}').`, { param: 'mode' });
  }
  const uiMode = readString(params, 'ui_mode');
  if (uiMode && uiMode !== 'hosted' && uiMode !== 'hosted_page') {
    throw invalidRequest(`The PSP simulator supports the hosted page only (ui_mode '${uiMode}').`, {
      param: 'ui_mode',
    });
  }
  // A filter on the eligible types (Stripe keeps the compatible ones silently; here: card).
  const allowed = readStringList(params, 'allowed_payment_method_types');
  if (allowed && !allowed.includes('card')) {
    throw invalidRequest(
      'None of the allowed_payment_method_types can be used with this Checkout Session. The PSP simulator supports: card.',
      { param: 'allowed_payment_method_types' },
    );
  }
  const lineItems = readLineItems(params);
  const currency = lineItems[0]?.currency ?? '';
  if (lineItems.some((item) => item.currency !== currency)) {
    throw invalidRequest('All line items must have the same currency.', { param: 'line_items' });
  }
  const amountTotal = lineItems.reduce((sum, item) => sum + item.unitAmount * item.quantity, 0);
  assertChargeableAmount(amountTotal, currency);
  const now = options.nowSeconds();
  const expiresAt = readInteger(params, 'expires_at') ?? now + MAX_EXPIRY_S;
  if (expiresAt < now + options.minExpirySeconds) {
    throw invalidRequest(
      `The \`expires_at\` timestamp must be at least ${describeSeconds(options.minExpirySeconds)} from Checkout Session creation.`,
      { param: 'expires_at' },
    );
  }
  if (expiresAt > now + MAX_EXPIRY_S) {
    throw invalidRequest('The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.', {
      param: 'expires_at',
    });
  }
  const clientReferenceId = readString(params, 'client_reference_id') ?? null;
  if (clientReferenceId && clientReferenceId.length > 200) {
    throw invalidRequest('client_reference_id can be at most 200 characters.', { param: 'client_reference_id' });
  }
  return {
    lineItems,
    currency,
    amountTotal,
    successUrl: readUrl(params, 'success_url'),
    cancelUrl: readUrl(params, 'cancel_url'),
    clientReferenceId,
    customerEmail: readString(params, 'customer_email') ?? null,
    metadata: readMetadata(params) ?? {},
    expiresAt,
    locale: readString(params, 'locale') ?? null,
    submitType: readEnum(params, 'submit_type', ['auto', 'book', 'donate', 'pay'] as const) ?? null,
    paymentIntentData: readPaymentIntentData(params),
    allowedPaymentMethodTypes: allowed ?? null,
  };
}

function readLineItems(params: FormObject): SessionLineItem[] {
  const raw = params.line_items;
  if (raw === undefined || raw === '') {
    throw invalidRequest('You must specify `line_items` when `mode` is `payment`.', {
      code: 'parameter_missing',
      param: 'line_items',
    });
  }
  if (typeof raw === 'string') throw invalidRequest('Invalid array', { param: 'line_items' });
  return asList(raw).map((entry, index) => {
    const prefix = `line_items[${index}]`;
    if (typeof entry === 'string') throw invalidRequest('Invalid object', { param: prefix });
    return prefixed(prefix, () => readLineItem(entry));
  });
}

function readLineItem(item: FormObject): SessionLineItem {
  rejectUnknownParams(item, ['price', 'price_data', 'quantity']);
  if (item.price !== undefined) {
    throw invalidRequest('The PSP simulator supports price_data only, not Price objects.', { param: 'price' });
  }
  const priceData = readObject(item, 'price_data');
  if (!priceData)
    throw invalidRequest('Missing required param: price_data.', { code: 'parameter_missing', param: 'price_data' });
  const quantity = readInteger(item, 'quantity', { required: true, min: 1 }) as number;
  return prefixed('price_data', () => {
    rejectUnknownParams(priceData, ['currency', 'product_data', 'tax_behavior', 'unit_amount']);
    const currency = normalizeCurrency(readRequiredString(priceData, 'currency'));
    const unitAmount = readInteger(priceData, 'unit_amount', { required: true, min: 0 }) as number;
    const productData = readObject(priceData, 'product_data');
    if (!productData) {
      throw invalidRequest('Missing required param: product_data.', {
        code: 'parameter_missing',
        param: 'product_data',
      });
    }
    const product = prefixed('product_data', () => {
      rejectUnknownParams(productData, ['description', 'images', 'metadata', 'name', 'tax_code']);
      return {
        name: readRequiredString(productData, 'name'),
        description: readString(productData, 'description') ?? null,
      };
    });
    return { ...product, currency, unitAmount, quantity };
  });
}

function readPaymentIntentData(params: FormObject): CreateSessionInput['paymentIntentData'] {
  const data = readObject(params, 'payment_intent_data') ?? {};
  return prefixed('payment_intent_data', () => {
    rejectUnknownParams(data, PAYMENT_INTENT_DATA_PARAMS);
    if (readString(data, 'statement_descriptor')) {
      // The session's PaymentIntent takes cards (https://support.stripe.com/questions/use-of-the-statement-descriptor-parameter-on-paymentintents-for-card-charges).
      throw invalidRequest(
        'The statement_descriptor parameter is not supported for the payment_method_type `card`. To continue supporting payment_method_type `card`, please pass in `statement_descriptor_suffix` or remove the `statement_descriptor` parameter altogether. Please see https://support.stripe.com/questions/use-of-the-statement-descriptor-parameter-on-paymentintents-for-card-charges for additional details.',
        { param: 'statement_descriptor' },
      );
    }
    return {
      metadata: readMetadata(data) ?? {},
      description: readString(data, 'description') ?? null,
      captureMethod: readEnum(data, 'capture_method', CAPTURE_METHODS) ?? 'automatic_async',
      receiptEmail: readString(data, 'receipt_email') ?? null,
      statementDescriptorSuffix: readString(data, 'statement_descriptor_suffix') ?? null,
      transferGroup: readString(data, 'transfer_group') ?? null,
    };
  });
}

function readUrl(params: FormObject, name: string): string | null {
  const value = readString(params, name);
  if (!value) return null;
  let url: URL;
  try {
    url = new URL(value.replaceAll('{CHECKOUT_SESSION_ID}', 'cs'));
  } catch {
    throw invalidRequest('Not a valid URL', { param: name, code: 'url_invalid' });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalidRequest('Not a valid URL', { param: name, code: 'url_invalid' });
  }
  return value;
}

function describeSeconds(seconds: number): string {
  if (seconds % 60 === 0) return `${seconds / 60} minutes`;
  return `${seconds} seconds`;
}
