// The /v1/payment_intents endpoints: parameter validation (prepare) and the calls into the domain (execute).

import type Stripe from 'stripe';
import { type ApiRequest, type Execute, ok, type Route } from './api';
import { assertChargeableAmount, normalizeCurrency } from './currencies';
import { invalidRequest } from './errors';
import type { EventOrigin } from './events';
import type { FormObject } from './form';
import { inCreatedRange, paginate, readListParams } from './list';
import {
  readBoolean,
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
import {
  CANCELLATION_REASONS,
  CAPTURE_METHODS,
  type ConfirmInput,
  type CreatePaymentIntentInput,
  type PaymentIntentService,
  SEARCH_FIELDS,
  searchDocument,
} from './payment-intents';
import type { PaymentMethodStore, StoredPaymentMethod } from './payment-methods';
import { matchesQuery, parseSearchQuery } from './search-query';

const COLLECTION_URL = '/v1/payment_intents';
const SEARCH_URL = '/v1/payment_intents/search';
const SUPPORTED_PAYMENT_METHOD_TYPES = ['card'];

const CREATE_PARAMS = [
  'amount',
  'currency',
  'automatic_payment_methods',
  'capture_method',
  'confirm',
  'description',
  'error_on_requires_action',
  'expand',
  'metadata',
  'off_session',
  'payment_method',
  'payment_method_types',
  'receipt_email',
  'return_url',
  'statement_descriptor',
  'statement_descriptor_suffix',
  'transfer_group',
];
const CONFIRM_PARAMS = ['error_on_requires_action', 'expand', 'off_session', 'payment_method', 'return_url'];

export function paymentIntentRoutes(intents: PaymentIntentService, methods: PaymentMethodStore): Route[] {
  // Resolving a test token mints a PaymentMethod; do it last so a request failing validation mints nothing.
  const resolveMethod = (params: FormObject): StoredPaymentMethod | undefined => {
    const id = readString(params, 'payment_method');
    return id ? methods.resolve(id) : undefined;
  };

  return [
    {
      method: 'POST',
      path: COLLECTION_URL,
      prepare: (request) => {
        const { params } = request;
        const input = readCreateInput(params);
        const expand = readIntentExpand(params);
        const paymentMethod = resolveMethod(params);
        if (paymentMethod) input.paymentMethod = paymentMethod;
        intents.assertCreatable(input);
        return () => ok(render(intents.create(input, originOf(request)), expand, methods));
      },
    },
    {
      method: 'GET',
      path: SEARCH_URL,
      prepare: ({ params }) => prepareSearch(intents, methods, params),
    },
    {
      method: 'GET',
      path: COLLECTION_URL,
      prepare: ({ params }) => prepareList(intents, methods, params),
    },
    {
      method: 'GET',
      path: `${COLLECTION_URL}/:id`,
      prepare: ({ params, pathParams }) => {
        rejectUnknownParams(params, ['client_secret', 'expand']);
        const expand = readIntentExpand(params);
        const intent = intents.get(idOf(pathParams));
        return () => ok(render(intent, expand, methods));
      },
    },
    {
      method: 'POST',
      path: `${COLLECTION_URL}/:id/confirm`,
      prepare: (request) => {
        const { params, pathParams } = request;
        rejectUnknownParams(params, CONFIRM_PARAMS);
        const expand = readIntentExpand(params);
        const returnUrl = readString(params, 'return_url');
        const offSession = readBoolean(params, 'off_session');
        const errorOnRequiresAction = readBoolean(params, 'error_on_requires_action');
        const id = idOf(pathParams);
        intents.get(id);
        const paymentMethod = resolveMethod(params);
        return () => {
          const input: ConfirmInput = {
            ...(paymentMethod && { paymentMethod }),
            ...(returnUrl && { returnUrl }),
            ...(offSession !== undefined && { offSession }),
            ...(errorOnRequiresAction !== undefined && { errorOnRequiresAction }),
          };
          return ok(render(intents.confirm(id, input, originOf(request)), expand, methods));
        };
      },
    },
    {
      method: 'POST',
      path: `${COLLECTION_URL}/:id/capture`,
      prepare: (request: ApiRequest) => {
        const { params, pathParams } = request;
        rejectUnknownParams(params, ['amount_to_capture', 'expand']);
        const expand = readIntentExpand(params);
        const amount = readInteger(params, 'amount_to_capture', { min: 1 });
        const id = idOf(pathParams);
        intents.get(id);
        return () => ok(render(intents.capture(id, amount, originOf(request)), expand, methods));
      },
    },
    {
      method: 'POST',
      path: `${COLLECTION_URL}/:id/cancel`,
      prepare: (request) => {
        const { params, pathParams } = request;
        rejectUnknownParams(params, ['cancellation_reason', 'expand']);
        const expand = readIntentExpand(params);
        const reason = readEnum(params, 'cancellation_reason', CANCELLATION_REASONS);
        const id = idOf(pathParams);
        intents.get(id);
        return () => ok(render(intents.cancel(id, reason, originOf(request)), expand, methods));
      },
    },
  ];
}

/** The request recorded on the events it causes. */
export function originOf(request: ApiRequest): EventOrigin {
  return { id: request.requestId, idempotency_key: request.idempotencyKey ?? null };
}

function idOf(pathParams: Record<string, string>): string {
  return pathParams.id ?? '';
}

function readCreateInput(params: FormObject): CreatePaymentIntentInput & Omit<ConfirmInput, 'paymentMethod'> {
  rejectUnknownParams(params, CREATE_PARAMS);
  const amount = readInteger(params, 'amount', { required: true, min: 1 }) as number;
  const currency = normalizeCurrency(readRequiredString(params, 'currency'));
  assertChargeableAmount(amount, currency);
  const confirm = readBoolean(params, 'confirm') ?? false;
  const offSession = readBoolean(params, 'off_session');
  const errorOnRequiresAction = readBoolean(params, 'error_on_requires_action');
  const returnUrl = readString(params, 'return_url');
  if (returnUrl && !confirm) {
    throw invalidRequest('The parameter `return_url` can only be passed when `confirm` is `true`.', {
      param: 'return_url',
    });
  }
  const input: CreatePaymentIntentInput & Omit<ConfirmInput, 'paymentMethod'> = {
    ...(offSession !== undefined && { offSession }),
    ...(errorOnRequiresAction !== undefined && { errorOnRequiresAction }),
    amount,
    currency,
    confirm,
    metadata: readMetadata(params) ?? {},
    description: readString(params, 'description') ?? null,
    captureMethod: readEnum(params, 'capture_method', CAPTURE_METHODS) ?? 'automatic_async',
    receiptEmail: readString(params, 'receipt_email') ?? null,
    statementDescriptor: readString(params, 'statement_descriptor') ?? null,
    statementDescriptorSuffix: readString(params, 'statement_descriptor_suffix') ?? null,
    transferGroup: readString(params, 'transfer_group') ?? null,
  };
  if (returnUrl) input.returnUrl = returnUrl;
  Object.assign(input, readPaymentMethodChoice(params));
  return input;
}

function readPaymentMethodChoice(
  params: FormObject,
): Pick<CreatePaymentIntentInput, 'paymentMethodTypes' | 'allowRedirects'> {
  const types = readStringList(params, 'payment_method_types');
  const automatic = readObject(params, 'automatic_payment_methods');
  if (types && automatic) {
    throw invalidRequest(
      'You may only specify one of these parameters: automatic_payment_methods, payment_method_types.',
      { param: 'automatic_payment_methods' },
    );
  }
  if (types) {
    for (const [index, type] of types.entries()) {
      if (!SUPPORTED_PAYMENT_METHOD_TYPES.includes(type)) {
        throw invalidRequest(
          `The payment method type "${type}" is invalid. The PSP simulator supports: ${SUPPORTED_PAYMENT_METHOD_TYPES.join(', ')}.`,
          { param: `payment_method_types[${index}]` },
        );
      }
    }
    return { paymentMethodTypes: types };
  }
  if (!automatic) return {};
  rejectUnknownParams(automatic, ['enabled', 'allow_redirects'], 'automatic_payment_methods');
  const enabled = readBoolean(automatic, 'enabled');
  if (enabled === undefined)
    throw invalidRequest('Missing required param: automatic_payment_methods[enabled].', {
      code: 'parameter_missing',
      param: 'automatic_payment_methods[enabled]',
    });
  if (!enabled) return { paymentMethodTypes: ['card'] };
  const allowRedirects = readEnum(automatic, 'allow_redirects', ['always', 'never'] as const);
  return allowRedirects ? { allowRedirects } : {};
}

const EXPANDABLE = ['payment_method'];

function readIntentExpand(params: FormObject, prefix = ''): string[] {
  const expand = readExpand(params);
  for (const path of expand) {
    const property = path.startsWith(prefix) ? path.slice(prefix.length) : path;
    if (EXPANDABLE.includes(property)) continue;
    if (property === 'latest_charge' || property === 'customer') {
      throw invalidRequest(`The PSP simulator cannot expand ${path} yet.`, { param: 'expand' });
    }
    throw invalidRequest(`This property cannot be expanded (${path}).`, { param: 'expand' });
  }
  return expand.map((path) => (path.startsWith(prefix) ? path.slice(prefix.length) : path));
}

/** A snapshot for the response body, with requested expansions (the stored object is never mutated). */
function render(intent: Stripe.PaymentIntent, expand: string[], methods: PaymentMethodStore): Stripe.PaymentIntent {
  const copy = structuredClone(intent);
  if (expand.includes('payment_method') && typeof copy.payment_method === 'string') {
    const method = methods.get(copy.payment_method);
    if (method) copy.payment_method = structuredClone(method.object);
  }
  return copy;
}

function prepareList(intents: PaymentIntentService, methods: PaymentMethodStore, params: FormObject): Execute {
  rejectUnknownParams(params, ['created', 'customer', 'ending_before', 'expand', 'limit', 'starting_after']);
  const listParams = readListParams(params);
  const customer = readString(params, 'customer');
  const expand = readIntentExpand(params, 'data.');
  return () => {
    const matches = (intent: Stripe.PaymentIntent) =>
      inCreatedRange(intent.created, listParams.created) && (!customer || intent.customer === customer);
    const page = paginate(intents.newestFirst(), matches, listParams, COLLECTION_URL, 'payment_intent');
    return ok({ ...page, data: page.data.map((intent) => render(intent, expand, methods)) });
  };
}

function prepareSearch(intents: PaymentIntentService, methods: PaymentMethodStore, params: FormObject): Execute {
  rejectUnknownParams(params, ['expand', 'limit', 'page', 'query']);
  const query = parseSearchQuery(readRequiredString(params, 'query'), 'payment_intents', SEARCH_FIELDS);
  const limit = readInteger(params, 'limit', { min: 1, max: 100 }) ?? 10;
  const afterId = decodePageToken(readString(params, 'page'));
  const expand = readIntentExpand(params, 'data.');
  return () => {
    const all = intents.newestFirst();
    const start = afterId === undefined ? 0 : all.findIndex((intent) => intent.id === afterId) + 1;
    if (afterId !== undefined && start === 0)
      throw invalidRequest('Invalid page: the page token has expired.', { param: 'page' });
    const hits = all.slice(start).filter((intent) => matchesQuery(query, searchDocument(intent)));
    const data = hits.slice(0, limit);
    const hasMore = hits.length > limit;
    const last = data[data.length - 1];
    return ok({
      object: 'search_result',
      data: data.map((intent) => render(intent, expand, methods)),
      has_more: hasMore,
      next_page: hasMore && last ? encodePageToken(last.id) : null,
      url: SEARCH_URL,
    });
  };
}

// Search pages are opaque tokens on Stripe; here a token is the id of the last result returned.
function encodePageToken(lastId: string): string {
  return Buffer.from(`after:${lastId}`).toString('base64url');
}

function decodePageToken(token: string | null | undefined): string | undefined {
  if (!token) return undefined;
  const decoded = Buffer.from(token, 'base64url').toString();
  if (!decoded.startsWith('after:')) throw invalidRequest(`Invalid page: ${token}`, { param: 'page' });
  return decoded.slice('after:'.length);
}
