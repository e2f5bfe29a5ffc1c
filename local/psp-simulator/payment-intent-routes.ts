// The /v1/payment_intents endpoints: parameter validation (prepare) and the calls into the domain (execute).

import type Stripe from 'stripe';
import { type ApiRequest, type Execute, ok, type Route } from './api';
import { type ChargeAftermath, type ChargeSources, renderCharge } from './charge-routes';
import { assertChargeableAmount, normalizeCurrency } from './currencies';
import { invalidRequest, resourceMissing } from './errors';
import type { EventOrigin } from './events';
import type { FormObject } from './form';
import { inCreatedRange, paginate, readListParams } from './list';
import {
  prefixed,
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
  CONFIRMATION_METHODS,
  type ConfirmInput,
  type CreatePaymentIntentInput,
  type PaymentIntentService,
  REQUEST_THREE_D_SECURE,
  type RequestThreeDSecure,
  SEARCH_FIELDS,
  SETUP_FUTURE_USAGES,
  type SetupFutureUsage,
} from './payment-intents';
import type { PaymentMethodStore, StoredPaymentMethod } from './payment-methods';
import { matchesQuery, parseSearchQuery } from './search-query';

const COLLECTION_URL = '/v1/payment_intents';
const SEARCH_URL = '/v1/payment_intents/search';
const SUPPORTED_PAYMENT_METHOD_TYPES = ['card'];

/**
 * How far search lags behind writes by default. Stripe: "under normal operating conditions, data is
 * searchable in under 1 minute"; a second keeps read-after-write visibly wrong while tests stay fast.
 */
export const DEFAULT_SEARCH_LAG_MS = 1000;

export interface PaymentIntentRouteOptions {
  /** A search sees intents as they were this many ms ago (default DEFAULT_SEARCH_LAG_MS; 0: no lag). */
  searchLagMs?: number;
  /** A platform balance transaction, for `expand: latest_charge.balance_transaction`. */
  balanceTransaction?: (id: string) => Stripe.BalanceTransaction | undefined;
  /** Refunds and disputes, for `expand: latest_charge` (amount_refunded, refunded, disputed). */
  aftermath?: ChargeAftermath;
}

// Stripe's confirm parameters, also taken by create (with confirm=true where Stripe says so).
const CONFIRM_PARAMS = [
  'capture_method',
  'error_on_requires_action',
  'expand',
  'mandate_data',
  'off_session',
  'payment_method',
  'payment_method_options',
  'receipt_email',
  'return_url',
  'setup_future_usage',
  'shipping',
  'use_stripe_sdk',
];
const CREATE_PARAMS = [
  ...CONFIRM_PARAMS,
  'allowed_payment_method_types',
  'amount',
  'application_fee_amount',
  'automatic_payment_methods',
  'confirm',
  'confirmation_method',
  'currency',
  'customer',
  'description',
  'metadata',
  'on_behalf_of',
  'statement_descriptor',
  'statement_descriptor_suffix',
  'transfer_data',
  'transfer_group',
];
/**
 * `payment_method_types` is no longer writable on a PaymentIntent (create, update, confirm) since API version
 * 2026-09-30.endive, the version of the installed stripe SDK (its PaymentIntent{Create,Update,Confirm}Params lack it;
 * stripe-node 23.0.0's CHANGELOG: "Remove support for `payment_method_types` on ... PaymentIntentCreateParams"):
 * "Passing `payment_method_types` on this API version returns a 400 error with the code
 * `payment_method_types_no_longer_supported`" (docs.stripe.com/changelog/endive/2026-09-30/removes-the-payment-method-
 * types-parameter-from-payment-intents-and-setup-intents). Stripe documents the code, not the message: the message is
 * the simulator's own. The intent still reports `payment_method_types` (read-only, the compatible types). The
 * simulator answers as the SDK's version does, whatever Stripe-Version a request pins (an older pinned version would
 * still take the parameter on Stripe).
 */
const REMOVED_PAYMENT_METHOD_TYPES = 'payment_method_types';

function rejectRemovedPaymentMethodTypes(params: FormObject): void {
  if (params[REMOVED_PAYMENT_METHOD_TYPES] === undefined) return;
  throw invalidRequest(
    'The `payment_method_types` parameter is no longer supported on PaymentIntents as of API version 2026-09-30.endive. Use `allowed_payment_method_types` to limit the payment method types, or `automatic_payment_methods`.',
    { code: 'payment_method_types_no_longer_supported', param: REMOVED_PAYMENT_METHOD_TYPES },
  );
}

/** Create parameters Stripe takes only together with confirm=true. */
const CONFIRM_ONLY_PARAMS = ['error_on_requires_action', 'mandate_data', 'off_session', 'return_url', 'use_stripe_sdk'];

export function paymentIntentRoutes(
  intents: PaymentIntentService,
  methods: PaymentMethodStore,
  options: PaymentIntentRouteOptions = {},
): Route[] {
  const searchLagMs = options.searchLagMs ?? DEFAULT_SEARCH_LAG_MS;
  if (!Number.isInteger(searchLagMs) || searchLagMs < 0) {
    throw new Error(`searchLagMs must be a non-negative integer: ${searchLagMs}`);
  }
  // Resolving a test token mints a PaymentMethod; do it last so a request failing validation mints nothing.
  const resolveMethod = (params: FormObject): StoredPaymentMethod | undefined => {
    const id = readString(params, 'payment_method');
    return id ? methods.resolve(id) : undefined;
  };
  const render = (intent: Stripe.PaymentIntent, expand: string[]) =>
    renderIntent(intent, expand, { charges: intents.chargeLedger(), intents, methods, ...options });

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
        return () => ok(render(intents.create(input, originOf(request)), expand));
      },
    },
    {
      method: 'GET',
      path: SEARCH_URL,
      prepare: ({ params }) => prepareSearch(intents, params, searchLagMs, render),
    },
    {
      method: 'GET',
      path: COLLECTION_URL,
      prepare: ({ params }) => prepareList(intents, params, render),
    },
    {
      method: 'GET',
      path: `${COLLECTION_URL}/:id`,
      prepare: ({ params, pathParams }) => {
        rejectUnknownParams(params, ['client_secret', 'expand']);
        const expand = readIntentExpand(params);
        const intent = intents.get(idOf(pathParams));
        return () => ok(render(intent, expand));
      },
    },
    {
      method: 'POST',
      path: `${COLLECTION_URL}/:id/confirm`,
      prepare: (request) => {
        const { params, pathParams } = request;
        rejectRemovedPaymentMethodTypes(params);
        rejectUnknownParams(params, CONFIRM_PARAMS);
        const expand = readIntentExpand(params);
        const input: ConfirmInput = readConfirmInput(params);
        const id = idOf(pathParams);
        intents.get(id);
        const paymentMethod = resolveMethod(params);
        if (paymentMethod) input.paymentMethod = paymentMethod;
        return () => {
          assertNotCheckoutOwned(intents, id, 'confirm');
          return ok(render(intents.confirm(id, input, originOf(request)), expand));
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
        return () => ok(render(intents.capture(id, amount, originOf(request)), expand));
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
        return () => {
          assertNotCheckoutOwned(intents, id, 'cancel');
          return ok(render(intents.cancel(id, reason, originOf(request)), expand));
        };
      },
    },
  ];
}

/**
 * Stripe: "You can't confirm or cancel the PaymentIntent for a Checkout Session. To cancel, expire the
 * Checkout Session instead." Cancelling stays possible once it holds an authorization (requires_capture).
 * The message is the one Stripe answers (stripe/stripe-dotnet#2429).
 */
function assertNotCheckoutOwned(intents: PaymentIntentService, id: string, action: 'confirm' | 'cancel'): void {
  if (!intents.checkoutSessionOf(id)) return;
  if (action === 'cancel' && intents.get(id).status === 'requires_capture') return;
  throw invalidRequest(
    'You cannot perform this action on PaymentIntents created by Checkout. (Hint: The feature you are trying to use is deprecated.)',
  );
}

/** The request recorded on the events it causes. */
export function originOf(request: ApiRequest): EventOrigin {
  return { id: request.requestId, idempotency_key: request.idempotencyKey ?? null };
}

function idOf(pathParams: Record<string, string>): string {
  return pathParams.id ?? '';
}

type CreateInput = CreatePaymentIntentInput & Omit<ConfirmInput, 'paymentMethod'>;

function readCreateInput(params: FormObject): CreateInput {
  rejectRemovedPaymentMethodTypes(params);
  rejectUnknownParams(params, CREATE_PARAMS);
  const amount = readInteger(params, 'amount', { required: true, min: 1 }) as number;
  const currency = normalizeCurrency(readRequiredString(params, 'currency'));
  assertChargeableAmount(amount, currency);
  const confirm = readBoolean(params, 'confirm') ?? false;
  if (!confirm) {
    for (const name of CONFIRM_ONLY_PARAMS) {
      if (params[name] !== undefined) {
        throw invalidRequest(`The parameter \`${name}\` can only be passed when \`confirm\` is \`true\`.`, {
          param: name,
        });
      }
    }
  }
  const statementDescriptor = readString(params, 'statement_descriptor');
  if (statementDescriptor) {
    // Every PaymentIntent of the simulator accepts cards (https://support.stripe.com/questions/use-of-the-statement-descriptor-parameter-on-paymentintents-for-card-charges).
    throw invalidRequest(
      'The statement_descriptor parameter is not supported for the payment_method_type `card`. To continue supporting payment_method_type `card`, please pass in `statement_descriptor_suffix` or remove the `statement_descriptor` parameter altogether. Please see https://support.stripe.com/questions/use-of-the-statement-descriptor-parameter-on-paymentintents-for-card-charges for additional details.',
      { param: 'statement_descriptor' },
    );
  }
  const transferData = readTransferData(params, amount);
  const onBehalfOf = readAccount(params, 'on_behalf_of');
  const applicationFeeAmount = readInteger(params, 'application_fee_amount', { min: 0 });
  if (applicationFeeAmount !== undefined) {
    if (!transferData) {
      throw invalidRequest(
        'Can only apply an application_fee_amount when the PaymentIntent is attempting a direct payment (using an OAuth key or Stripe-Account header) or destination payment (using `transfer_data[destination]`).',
        { param: 'application_fee_amount' },
      );
    }
    if (applicationFeeAmount > amount) {
      throw invalidRequest(
        `The application_fee_amount (${applicationFeeAmount}) cannot be greater than the amount (${amount}).`,
        { param: 'application_fee_amount' },
      );
    }
  }
  const confirmation = readConfirmInput(params, 'create');
  const input: CreateInput = {
    ...confirmation,
    amount,
    currency,
    confirm,
    metadata: readMetadata(params) ?? {},
    description: readString(params, 'description') ?? null,
    captureMethod: confirmation.captureMethod ?? 'automatic_async',
    receiptEmail: confirmation.receiptEmail ?? null,
    setupFutureUsage: confirmation.setupFutureUsage ?? null,
    shipping: confirmation.shipping ?? null,
    statementDescriptorSuffix: readStatementDescriptorSuffix(params),
    transferGroup: readString(params, 'transfer_group') ?? null,
    customer: readCustomer(params),
    onBehalfOf: onBehalfOf ?? null,
    transferData: transferData ?? null,
    applicationFeeAmount: applicationFeeAmount ?? null,
    confirmationMethod: readEnum(params, 'confirmation_method', CONFIRMATION_METHODS) ?? 'automatic',
  };
  Object.assign(input, readPaymentMethodChoice(params));
  return input;
}

/** The confirm parameters (create takes them too: there `''` does not unset). */
function readConfirmInput(
  params: FormObject,
  endpoint: 'create' | 'confirm' = 'confirm',
): Omit<ConfirmInput, 'paymentMethod'> {
  const input: Omit<ConfirmInput, 'paymentMethod'> = {};
  const returnUrl = readString(params, 'return_url');
  if (returnUrl) input.returnUrl = returnUrl;
  const offSession = readOffSession(params);
  if (offSession !== undefined) input.offSession = offSession;
  const errorOnRequiresAction = readBoolean(params, 'error_on_requires_action');
  if (errorOnRequiresAction !== undefined) input.errorOnRequiresAction = errorOnRequiresAction;
  const useStripeSdk = readBoolean(params, 'use_stripe_sdk');
  if (useStripeSdk !== undefined) input.useStripeSdk = useStripeSdk;
  const captureMethod = readEnum(params, 'capture_method', CAPTURE_METHODS);
  if (captureMethod) input.captureMethod = captureMethod;
  const unsettable = endpoint === 'confirm';
  const receiptEmail = readReceiptEmail(params, unsettable);
  if (receiptEmail !== undefined) input.receiptEmail = receiptEmail;
  const setupFutureUsage = readSetupFutureUsage(params, unsettable);
  if (setupFutureUsage !== undefined) input.setupFutureUsage = setupFutureUsage;
  const shipping = readShipping(params, unsettable);
  if (shipping !== undefined) input.shipping = shipping;
  const requestThreeDSecure = readPaymentMethodOptions(params);
  if (requestThreeDSecure) input.requestThreeDSecure = requestThreeDSecure;
  readMandateData(params);
  return input;
}

/** `off_session`: a boolean, or one_off / recurring (both true). */
function readOffSession(params: FormObject): boolean | undefined {
  const raw = params.off_session;
  if (raw === 'one_off' || raw === 'recurring') return true;
  return readBoolean(params, 'off_session');
}

function readReceiptEmail(params: FormObject, unsettable: boolean): string | null | undefined {
  if (params.receipt_email === '' && !unsettable) return undefined;
  const email = readString(params, 'receipt_email');
  if (email && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) {
    throw invalidRequest(`Invalid email address: ${email}`, { param: 'receipt_email', code: 'email_invalid' });
  }
  return email;
}

function readSetupFutureUsage(params: FormObject, unsettable: boolean): SetupFutureUsage | null | undefined {
  if (params.setup_future_usage === '' && unsettable) return null;
  return readEnum(params, 'setup_future_usage', SETUP_FUTURE_USAGES);
}

const ADDRESS_FIELDS = ['city', 'country', 'line1', 'line2', 'postal_code', 'state'] as const;

function readShipping(params: FormObject, unsettable: boolean): Stripe.PaymentIntent.Shipping | null | undefined {
  if (params.shipping === '' && unsettable) return null;
  const shipping = readObject(params, 'shipping');
  if (!shipping) return undefined;
  return prefixed('shipping', () => {
    rejectUnknownParams(shipping, ['address', 'carrier', 'name', 'phone', 'tracking_number']);
    const name = readRequiredString(shipping, 'name');
    const address = readObject(shipping, 'address');
    if (!address) {
      throw invalidRequest('Missing required param: address.', { code: 'parameter_missing', param: 'address' });
    }
    const rendered = prefixed('address', () => {
      rejectUnknownParams(address, ADDRESS_FIELDS);
      const fields = {} as Record<(typeof ADDRESS_FIELDS)[number], string | null>;
      for (const field of ADDRESS_FIELDS) fields[field] = readString(address, field) ?? null;
      return fields;
    });
    return {
      address: rendered,
      carrier: readString(shipping, 'carrier') ?? null,
      name,
      phone: readString(shipping, 'phone') ?? null,
      tracking_number: readString(shipping, 'tracking_number') ?? null,
    };
  });
}

/** payment_method_options: the simulator takes card options only, and of those request_three_d_secure. */
function readPaymentMethodOptions(params: FormObject): RequestThreeDSecure | undefined {
  const options = readObject(params, 'payment_method_options');
  if (!options) return undefined;
  return prefixed('payment_method_options', () => {
    rejectUnknownParams(options, ['card']);
    const card = readObject(options, 'card');
    if (!card) return undefined;
    return prefixed('card', () => {
      rejectUnknownParams(card, ['request_three_d_secure']);
      return readEnum(card, 'request_three_d_secure', REQUEST_THREE_D_SECURE);
    });
  });
}

/** mandate_data is checked and dropped: card payments create no Mandate here. */
function readMandateData(params: FormObject): void {
  if (params.mandate_data === '') return;
  const mandate = readObject(params, 'mandate_data');
  if (!mandate) return;
  prefixed('mandate_data', () => {
    rejectUnknownParams(mandate, ['customer_acceptance']);
    const acceptance = readObject(mandate, 'customer_acceptance');
    if (!acceptance) {
      throw invalidRequest('Missing required param: customer_acceptance.', {
        code: 'parameter_missing',
        param: 'customer_acceptance',
      });
    }
    prefixed('customer_acceptance', () => {
      rejectUnknownParams(acceptance, ['accepted_at', 'offline', 'online', 'type']);
      if (acceptance.type === undefined) {
        throw invalidRequest('Missing required param: type.', { code: 'parameter_missing', param: 'type' });
      }
      const type = readEnum(acceptance, 'type', ['offline', 'online'] as const);
      readInteger(acceptance, 'accepted_at', { min: 0 });
      const online = readObject(acceptance, 'online');
      if (type === 'online' && !online) {
        throw invalidRequest('Missing required param: online.', { code: 'parameter_missing', param: 'online' });
      }
      if (online) {
        prefixed('online', () => {
          rejectUnknownParams(online, ['ip_address', 'user_agent']);
          readRequiredString(online, 'ip_address');
          readRequiredString(online, 'user_agent');
        });
      }
      const offline = readObject(acceptance, 'offline');
      if (offline) prefixed('offline', () => rejectUnknownParams(offline, []));
    });
  });
}

/** The simulator keeps no Customers: any `cus_` id is taken as existing. */
function readCustomer(params: FormObject): string | null {
  const customer = readString(params, 'customer');
  if (!customer) return null;
  if (!customer.startsWith('cus_')) throw resourceMissing('customer', customer, 'customer', 400);
  return customer;
}

/** The simulator keeps no connected accounts: any `acct_` id is taken as existing. */
function readAccount(params: FormObject, name: string): string | undefined {
  const account = readString(params, name);
  if (!account) return undefined;
  if (!account.startsWith('acct_')) throw resourceMissing('account', account, name, 400);
  return account;
}

function readTransferData(params: FormObject, amount: number): Stripe.PaymentIntent.TransferData | undefined {
  const transfer = readObject(params, 'transfer_data');
  if (!transfer) return undefined;
  return prefixed('transfer_data', () => {
    rejectUnknownParams(transfer, ['amount', 'destination']);
    if (transfer.destination === undefined) {
      throw invalidRequest('Missing required param: destination.', { code: 'parameter_missing', param: 'destination' });
    }
    const destination = readAccount(transfer, 'destination') as string;
    const transferAmount = readInteger(transfer, 'amount', { min: 1, max: amount });
    return transferAmount === undefined ? { destination } : { amount: transferAmount, destination };
  });
}

const STATEMENT_DESCRIPTOR_MAX = 22;

function readStatementDescriptorSuffix(params: FormObject): string | null {
  const suffix = readString(params, 'statement_descriptor_suffix') ?? null;
  if (suffix && suffix.length > STATEMENT_DESCRIPTOR_MAX) {
    throw invalidRequest(
      `The statement descriptor suffix must be at most ${STATEMENT_DESCRIPTOR_MAX} characters long.`,
      { param: 'statement_descriptor_suffix' },
    );
  }
  if (suffix && /[<>\\'"*]/.test(suffix)) {
    throw invalidRequest(
      'The statement descriptor suffix cannot contain any of the special characters < > \\ \' " *.',
      {
        param: 'statement_descriptor_suffix',
      },
    );
  }
  return suffix;
}

function readPaymentMethodChoice(
  params: FormObject,
): Pick<CreatePaymentIntentInput, 'paymentMethodTypes' | 'allowRedirects' | 'allowedPaymentMethodTypes'> {
  const automatic = readObject(params, 'automatic_payment_methods');
  const allowed = readStringList(params, 'allowed_payment_method_types');
  const given = [
    ...(allowed ? ['allowed_payment_method_types'] : []),
    ...(automatic ? ['automatic_payment_methods'] : []),
  ];
  if (given.length > 1) {
    throw invalidRequest(`You may only specify one of these parameters: ${given.join(', ')}.`, {
      param: given[0] as string,
    });
  }
  if (allowed) {
    // Stripe keeps the compatible types silently (here: card) and reports them in payment_method_types.
    const compatible = allowed.filter((type) => SUPPORTED_PAYMENT_METHOD_TYPES.includes(type));
    if (compatible.length === 0) {
      throw invalidRequest(
        `None of the allowed_payment_method_types can be used with this PaymentIntent. The PSP simulator supports: ${SUPPORTED_PAYMENT_METHOD_TYPES.join(', ')}.`,
        { param: 'allowed_payment_method_types' },
      );
    }
    return { paymentMethodTypes: compatible, allowedPaymentMethodTypes: allowed };
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

const EXPANDABLE = ['latest_charge', 'latest_charge.balance_transaction', 'payment_method'];

function readIntentExpand(params: FormObject, prefix = ''): string[] {
  const expand = readExpand(params);
  for (const path of expand) {
    const property = path.startsWith(prefix) ? path.slice(prefix.length) : path;
    if (EXPANDABLE.includes(property)) continue;
    if (property === 'customer') {
      throw invalidRequest(`The PSP simulator cannot expand ${path}: it keeps no Customer objects.`, {
        param: 'expand',
      });
    }
    throw invalidRequest(`This property cannot be expanded (${path}).`, { param: 'expand' });
  }
  return expand.map((path) => (path.startsWith(prefix) ? path.slice(prefix.length) : path));
}

type Render = (intent: Stripe.PaymentIntent, expand: string[]) => Stripe.PaymentIntent;

/** A snapshot for the response body, with requested expansions (the stored object is never mutated). */
function renderIntent(intent: Stripe.PaymentIntent, expand: string[], sources: ChargeSources): Stripe.PaymentIntent {
  const copy = structuredClone(intent);
  if (expand.includes('payment_method') && typeof copy.payment_method === 'string') {
    const method = sources.methods.get(copy.payment_method);
    if (method) copy.payment_method = structuredClone(method.object);
  }
  const expandTxn = expand.includes('latest_charge.balance_transaction');
  if ((expandTxn || expand.includes('latest_charge')) && typeof copy.latest_charge === 'string') {
    // The same Charge object as GET /v1/charges/:id.
    const record = sources.charges.get(copy.latest_charge);
    if (record) {
      const charge = renderCharge(record, sources);
      if (expandTxn && typeof charge.balance_transaction === 'string') {
        charge.balance_transaction =
          sources.balanceTransaction?.(charge.balance_transaction) ?? charge.balance_transaction;
      }
      copy.latest_charge = charge;
    }
  }
  return copy;
}

function prepareList(intents: PaymentIntentService, params: FormObject, render: Render): Execute {
  rejectUnknownParams(params, ['created', 'customer', 'ending_before', 'expand', 'limit', 'starting_after']);
  const listParams = readListParams(params);
  const customer = readString(params, 'customer');
  const expand = readIntentExpand(params, 'data.');
  return () => {
    const matches = (intent: Stripe.PaymentIntent) =>
      inCreatedRange(intent.created, listParams.created) && (!customer || intent.customer === customer);
    const page = paginate(intents.newestFirst(), matches, listParams, COLLECTION_URL, 'payment_intent');
    return ok({ ...page, data: page.data.map((intent) => render(intent, expand)) });
  };
}

/**
 * Search answers from a lagging index: each intent is matched as it was `searchLagMs` ago (not found if
 * created since) and returned as it is now.
 */
function prepareSearch(
  intents: PaymentIntentService,
  params: FormObject,
  searchLagMs: number,
  render: Render,
): Execute {
  rejectUnknownParams(params, ['expand', 'limit', 'page', 'query']);
  const query = parseSearchQuery(readRequiredString(params, 'query'), 'payment_intents', SEARCH_FIELDS);
  const limit = readInteger(params, 'limit', { min: 1, max: 100 }) ?? 10;
  const afterId = decodePageToken(readString(params, 'page'));
  const expand = readIntentExpand(params, 'data.');
  return () => {
    const all = intents.searchable(searchLagMs);
    const start = afterId === undefined ? 0 : all.findIndex(({ intent }) => intent.id === afterId) + 1;
    if (afterId !== undefined && start === 0)
      throw invalidRequest('Invalid page: the page token has expired.', { param: 'page' });
    const hits = all.slice(start).filter(({ document }) => matchesQuery(query, document));
    const data = hits.slice(0, limit).map(({ intent }) => intent);
    const hasMore = hits.length > limit;
    const last = data[data.length - 1];
    return ok({
      object: 'search_result',
      data: data.map((intent) => render(intent, expand)),
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
