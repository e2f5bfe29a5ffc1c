// The /v1/accounts and /v1/account_links endpoints (accounts.ts holds the accounts).
//
//   POST /v1/accounts                 create a connected account (type custom | express | standard, country,
//                                     email, default_currency, business_type, capabilities, business_profile,
//                                     settings[payouts], tos_acceptance, external_account (a bank_account hash with
//                                     a test number), metadata; individual, company, documents... accepted, not kept)
//   GET  /v1/accounts                 newest first, created filter and cursors
//   GET  /v1/accounts/:id             retrieve (an unknown id: Stripe's 403 account_invalid)
//   POST /v1/accounts/:id             update (the same fields, type and country excepted); account.updated
//   GET  /v1/account                  the account named by the Stripe-Account header
//   POST /v1/account_links            {account, type: account_onboarding | account_update, refresh_url, return_url}
//                                     -> {object: account_link, url, created, expires_at}; the url is the hosted
//                                     onboarding page (onboarding-page.ts), valid ACCOUNT_LINK_TTL_SECONDS, once
//
// Validation errors are raised before executing (nothing stored under the idempotency key), as the other routes do.

import {
  ACCOUNT_LINK_TYPES,
  ACCOUNT_TYPES,
  type AccountCreateInput,
  type AccountService,
  type AccountType,
  type AccountUpdateInput,
  accountInvalid,
  type BankInput,
  BUSINESS_TYPES,
  type BusinessProfileInput,
  PAYOUT_INTERVALS,
  type PayoutScheduleInput,
  type TosAcceptanceInput,
  WEEKLY_ANCHORS,
} from './accounts';
import { type ApiRequest, ok, type Route } from './api';
import { lookupTestBankNumber } from './bank-accounts';
import { normalizeCurrency } from './currencies';
import { invalidRequest } from './errors';
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
  rejectUnknownParams,
} from './params';
import { originOf } from './payment-intent-routes';

const COLLECTION_URL = '/v1/accounts';

const CREATE_PARAMS = [
  'account_token',
  'business_profile',
  'business_type',
  'capabilities',
  'company',
  'controller',
  'country',
  'default_currency',
  'documents',
  'email',
  'expand',
  'external_account',
  'groups',
  'individual',
  'metadata',
  'settings',
  'tos_acceptance',
  'type',
];
const UPDATE_PARAMS = CREATE_PARAMS.filter((name) => !['controller', 'country', 'type'].includes(name));
/** Identity and verification details: accepted (objects or strings), not kept. */
const OPAQUE_OBJECTS = ['company', 'documents', 'groups', 'individual'];
const BUSINESS_PROFILE_PARAMS = [
  'annual_revenue',
  'estimated_worker_count',
  'mcc',
  'minority_owned_business_designation',
  'monthly_estimated_revenue',
  'name',
  'product_description',
  'support_address',
  'support_email',
  'support_phone',
  'support_url',
  'url',
];
const BUSINESS_PROFILE_STRINGS = [
  'mcc',
  'name',
  'product_description',
  'support_email',
  'support_phone',
  'support_url',
  'url',
] as const;
const SETTINGS_PARAMS = [
  'bacs_debit_payments',
  'branding',
  'card_issuing',
  'card_payments',
  'invoices',
  'payments',
  'payouts',
  'paypay_payments',
  'treasury',
];

export function accountRoutes(accounts: AccountService): Route[] {
  const render = (id: string) => accounts.render(id);
  return [
    {
      method: 'POST',
      path: COLLECTION_URL,
      prepare: (request) => {
        const { params } = request;
        rejectUnknownParams(params, CREATE_PARAMS);
        rejectExpand(params);
        const input = readCreateInput(params);
        return () => ok(accounts.create(input));
      },
    },
    {
      method: 'GET',
      path: COLLECTION_URL,
      prepare: ({ params }) => {
        rejectUnknownParams(params, ['created', 'ending_before', 'expand', 'limit', 'starting_after']);
        rejectExpand(params, 'data.');
        const listParams = readListParams(params);
        return () =>
          ok(
            paginate(
              accounts.newestFirst(),
              (account) => inCreatedRange(account.created ?? 0, listParams.created),
              listParams,
              COLLECTION_URL,
              'account',
            ),
          );
      },
    },
    {
      method: 'GET',
      path: `${COLLECTION_URL}/:id`,
      stripeAccount: true,
      prepare: (request) => {
        rejectUnknownParams(request.params, ['expand']);
        rejectExpand(request.params);
        const id = accountId(request, accounts);
        return () => ok(render(id));
      },
    },
    {
      method: 'POST',
      path: `${COLLECTION_URL}/:id`,
      stripeAccount: true,
      prepare: (request) => {
        const { params } = request;
        rejectUnknownParams(params, UPDATE_PARAMS);
        rejectExpand(params);
        const id = accountId(request, accounts);
        const input = readUpdateInput(params);
        return () => ok(accounts.update(id, input, originOf(request)));
      },
    },
    {
      method: 'GET',
      path: '/v1/account',
      stripeAccount: true,
      prepare: ({ params, account }) => {
        rejectUnknownParams(params, ['expand']);
        rejectExpand(params);
        if (account === undefined) {
          throw invalidRequest(
            'The PSP simulator does not model the platform account: send the Stripe-Account header to retrieve a connected account.',
          );
        }
        return () => ok(render(account));
      },
    },
    {
      method: 'POST',
      path: '/v1/account_links',
      prepare: ({ params }) => {
        rejectUnknownParams(params, [
          'account',
          'collect',
          'collection_options',
          'expand',
          'refresh_url',
          'return_url',
          'type',
        ]);
        rejectExpand(params);
        const account = readRequiredString(params, 'account');
        const type = readEnum(params, 'type', ACCOUNT_LINK_TYPES);
        if (type === undefined) {
          throw invalidRequest('Missing required param: type.', { code: 'parameter_missing', param: 'type' });
        }
        readEnum(params, 'collect', ['currently_due', 'eventually_due'] as const);
        const refreshUrl = readUrl(params, 'refresh_url');
        const returnUrl = readUrl(params, 'return_url');
        if (!accounts.has(account)) {
          throw invalidRequest(`No such account: '${account}'`, { code: 'resource_missing', param: 'account' });
        }
        return () => ok(accounts.createLink({ account, type, refreshUrl, returnUrl }));
      },
    },
  ];
}

/** The account of /v1/accounts/:id; with Stripe-Account only that account itself. */
function accountId(request: ApiRequest, accounts: AccountService): string {
  const id = request.pathParams.id ?? '';
  if (!accounts.has(id) || (request.account !== undefined && request.account !== id)) {
    throw accountInvalid(id);
  }
  return id;
}

function rejectExpand(params: FormObject, prefix = ''): void {
  for (const path of readExpand(params)) {
    throw invalidRequest(`This property cannot be expanded (${path.startsWith(prefix) ? path : prefix + path}).`, {
      param: 'expand',
    });
  }
}

function readUrl(params: FormObject, name: string): string {
  const value = readRequiredString(params, name);
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw invalidRequest('Not a valid URL', { code: 'url_invalid', param: name });
  }
  return value;
}

function readCreateInput(params: FormObject): AccountCreateInput {
  const controller = readObject(params, 'controller');
  const type = readEnum(params, 'type', ACCOUNT_TYPES) ?? typeFromController(controller);
  const rawCountry = readString(params, 'country') ?? 'US';
  if (!/^[A-Za-z]{2}$/.test(rawCountry)) {
    throw invalidRequest(
      `Country '${rawCountry}' is unknown. Try using a 2-character alphanumeric country code instead, such as 'US', 'EG', or 'GB'. A full list of country codes is available at https://stripe.com/docs/api#country_codes`,
      { param: 'country' },
    );
  }
  const common = readCommon(params);
  return {
    type,
    country: rawCountry.toUpperCase(),
    email: common.email ?? null,
    ...(common.defaultCurrency !== undefined && { defaultCurrency: common.defaultCurrency }),
    businessType: common.businessType ?? null,
    capabilities: Object.entries(common.capabilities ?? {})
      .filter(([, requested]) => requested)
      .map(([name]) => name),
    metadata: readMetadata(params) ?? {},
    businessProfile: common.businessProfile ?? {},
    ...(common.tosAcceptance && { tosAcceptance: common.tosAcceptance }),
    ...(common.payoutSchedule && { payoutSchedule: common.payoutSchedule }),
    ...(common.payoutStatementDescriptor !== undefined && {
      payoutStatementDescriptor: common.payoutStatementDescriptor,
    }),
    ...(common.debitNegativeBalances !== undefined && { debitNegativeBalances: common.debitNegativeBalances }),
    ...(common.paymentsStatementDescriptor !== undefined && {
      paymentsStatementDescriptor: common.paymentsStatementDescriptor,
    }),
    ...(common.externalAccount && { externalAccount: common.externalAccount }),
  };
}

function readUpdateInput(params: FormObject): AccountUpdateInput {
  const metadata = readMetadataUpdate(params);
  return { ...readCommon(params), ...(metadata && { metadata }) };
}

/** The parameters create and update share. */
function readCommon(params: FormObject): Omit<AccountUpdateInput, 'metadata'> {
  for (const name of OPAQUE_OBJECTS) {
    if (typeof params[name] === 'string' && params[name] !== '')
      throw invalidRequest('Invalid object', { param: name });
  }
  if (params.account_token !== undefined) readString(params, 'account_token');
  const input: Omit<AccountUpdateInput, 'metadata'> = {};
  const email = readString(params, 'email');
  if (email !== undefined) input.email = email;
  const currency = readString(params, 'default_currency');
  if (currency) input.defaultCurrency = normalizeCurrency(currency);
  const businessType = readEnum(params, 'business_type', BUSINESS_TYPES);
  if (businessType !== undefined) input.businessType = businessType;
  const capabilities = readCapabilities(params);
  if (capabilities) input.capabilities = capabilities;
  const profile = readBusinessProfile(params);
  if (profile) input.businessProfile = profile;
  const tos = readTosAcceptance(params);
  if (tos) input.tosAcceptance = tos;
  Object.assign(input, readSettings(params));
  const bank = readExternalAccount(params);
  if (bank) input.externalAccount = bank;
  return input;
}

function typeFromController(controller: FormObject | undefined): AccountType {
  if (!controller) return 'standard';
  const dashboard = readObject(controller, 'stripe_dashboard');
  const dashboardType = dashboard && typeof dashboard.type === 'string' ? dashboard.type : undefined;
  if (dashboardType === 'express') return 'express';
  if (dashboardType === 'none' || controller.requirement_collection === 'application') return 'custom';
  return 'standard';
}

function readCapabilities(params: FormObject): Record<string, boolean> | undefined {
  const capabilities = readObject(params, 'capabilities');
  if (!capabilities) return undefined;
  const result: Record<string, boolean> = {};
  for (const name of Object.keys(capabilities)) {
    const param = `capabilities[${name}]`;
    if (!/^[a-z0-9_]+$/.test(name)) {
      throw invalidRequest(`Received unknown parameter: ${param}`, { code: 'parameter_unknown', param });
    }
    const capability = readObject(capabilities, name);
    if (!capability) throw invalidRequest('Invalid object', { param });
    rejectUnknownParams(capability, ['requested'], param);
    const requested = prefixed(param, () => readBoolean(capability, 'requested'));
    if (requested !== undefined) result[name] = requested;
  }
  return result;
}

function readBusinessProfile(params: FormObject): BusinessProfileInput | undefined {
  const profile = readObject(params, 'business_profile');
  if (!profile) return undefined;
  rejectUnknownParams(profile, BUSINESS_PROFILE_PARAMS, 'business_profile');
  const result: BusinessProfileInput = {};
  for (const name of BUSINESS_PROFILE_STRINGS) {
    const value = prefixed('business_profile', () => readString(profile, name));
    if (value !== undefined) result[name] = value;
  }
  return result;
}

function readTosAcceptance(params: FormObject): TosAcceptanceInput | undefined {
  const tos = readObject(params, 'tos_acceptance');
  if (!tos) return undefined;
  rejectUnknownParams(tos, ['date', 'ip', 'service_agreement', 'user_agent'], 'tos_acceptance');
  return prefixed('tos_acceptance', () => {
    const result: TosAcceptanceInput = {};
    const date = readInteger(tos, 'date', { min: 0 });
    if (date !== undefined) result.date = date;
    const ip = readString(tos, 'ip');
    if (ip !== undefined) result.ip = ip;
    const userAgent = readString(tos, 'user_agent');
    if (userAgent !== undefined) result.user_agent = userAgent;
    readEnum(tos, 'service_agreement', ['full', 'recipient'] as const);
    return result;
  });
}

function readSettings(
  params: FormObject,
): Pick<
  AccountUpdateInput,
  'payoutSchedule' | 'payoutStatementDescriptor' | 'debitNegativeBalances' | 'paymentsStatementDescriptor'
> {
  const settings = readObject(params, 'settings');
  if (!settings) return {};
  rejectUnknownParams(settings, SETTINGS_PARAMS, 'settings');
  const result: ReturnType<typeof readSettings> = {};
  const payments = readObject(settings, 'payments');
  if (payments) {
    const descriptor = prefixed('settings[payments]', () => readString(payments, 'statement_descriptor'));
    if (descriptor !== undefined) result.paymentsStatementDescriptor = descriptor;
  }
  const payouts = readObject(settings, 'payouts');
  if (!payouts) return result;
  rejectUnknownParams(payouts, ['debit_negative_balances', 'schedule', 'statement_descriptor'], 'settings[payouts]');
  prefixed('settings[payouts]', () => {
    const debit = readBoolean(payouts, 'debit_negative_balances');
    if (debit !== undefined) result.debitNegativeBalances = debit;
    const descriptor = readString(payouts, 'statement_descriptor');
    if (descriptor !== undefined) result.payoutStatementDescriptor = descriptor;
  });
  const schedule = readObject(payouts, 'schedule');
  if (schedule) {
    rejectUnknownParams(
      schedule,
      ['delay_days', 'interval', 'monthly_anchor', 'monthly_payout_days', 'weekly_anchor', 'weekly_payout_days'],
      'settings[payouts][schedule]',
    );
    result.payoutSchedule = prefixed('settings[payouts][schedule]', () => {
      const parsed: PayoutScheduleInput = {};
      const interval = readEnum(schedule, 'interval', PAYOUT_INTERVALS);
      if (interval !== undefined) parsed.interval = interval;
      if (schedule.delay_days === 'minimum') parsed.delay_days = 'minimum';
      else {
        const delay = readInteger(schedule, 'delay_days', { min: 0, max: 365 });
        if (delay !== undefined) parsed.delay_days = delay;
      }
      const weekly = readEnum(schedule, 'weekly_anchor', WEEKLY_ANCHORS);
      if (weekly !== undefined) parsed.weekly_anchor = weekly;
      const monthly = readInteger(schedule, 'monthly_anchor', { min: 1, max: 31 });
      if (monthly !== undefined) parsed.monthly_anchor = monthly;
      return parsed;
    });
  }
  return result;
}

/**
 * An `external_account` hash (`object: bank_account`) with one of the test numbers (bank-accounts.ts). The number is
 * looked up and dropped; errors never echo it.
 */
function readExternalAccount(params: FormObject): BankInput | undefined {
  const value = params.external_account;
  if (value === undefined || value === '') return undefined;
  if (typeof value === 'string') {
    throw invalidRequest(
      'The PSP simulator cannot resolve bank account tokens: send an external_account hash with a test account number, or onboard through an Account Link.',
      { param: 'external_account' },
    );
  }
  rejectUnknownParams(
    value,
    [
      'account_holder_name',
      'account_holder_type',
      'account_number',
      'country',
      'currency',
      'default_for_currency',
      'metadata',
      'object',
      'routing_number',
    ],
    'external_account',
  );
  return prefixed('external_account', () => {
    if (readString(value, 'object') !== 'bank_account') {
      throw invalidRequest('Invalid external_account: the PSP simulator takes bank accounts (object=bank_account).', {
        param: 'object',
      });
    }
    const number = readRequiredString(value, 'account_number');
    const test = lookupTestBankNumber(number, readString(value, 'routing_number'));
    if (!test) {
      throw invalidRequest(
        'This account number is not one of the PSP simulator test bank numbers (see bank-accounts.ts).',
        { code: 'account_number_invalid', param: 'account_number' },
      );
    }
    const currency = readString(value, 'currency');
    const holderType = readEnum(value, 'account_holder_type', ['company', 'individual'] as const);
    return {
      test,
      ...(currency && { currency: normalizeCurrency(currency) }),
      accountHolderName: readString(value, 'account_holder_name') ?? null,
      accountHolderType: holderType ?? null,
    };
  });
}

/**
 * A metadata update as Stripe applies it: keys set, keys sent empty removed, `metadata=` (empty) clears all; a
 * function of the current metadata.
 */
export function readMetadataUpdate(
  params: FormObject,
): ((current: Record<string, string>) => Record<string, string>) | undefined {
  const value = params.metadata;
  if (value === undefined) return undefined;
  const set = readMetadata(params) ?? {};
  if (typeof value === 'string') return () => ({});
  const unset = Object.keys(value).filter((key) => value[key] === '');
  return (current) => {
    const next = { ...current, ...set };
    for (const key of unset) delete next[key];
    return next;
  };
}
