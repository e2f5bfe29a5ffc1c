// Connected accounts (`acct_...`) and their Account Links, rendered as Stripe renders them.
//
// A new account is not onboarded: `details_submitted`, `charges_enabled` and `payouts_enabled` are false, its
// requested capabilities `inactive`, and `requirements` lists what Stripe would ask for (currently_due = past_due =
// eventually_due, `disabled_reason: requirements.past_due`). Onboarding completes on the hosted onboarding page
// (onboarding-page.ts, reached through an Account Link) or through the admin route: then the account is
// `details_submitted`, charges and payouts enabled, its requested capabilities `active`, requirements cleared, with
// one bank account (external_accounts; its test number decides how payouts end, bank-accounts.ts). Identity details
// sent through the API (individual, company, documents...) are accepted and not kept: they never clear requirements.
//
// Admin controls (admin.ts) override what onboarding decided: payouts disabled (with a verification document due and
// a disabled_reason), the transfers capability forced active or inactive, the failure code of the next payouts.
//
// Every change of the rendered account emits `account.updated` (with `account` and `previous_attributes`).
// The simulator pays out only when asked (POST /v1/payouts): `settings.payouts.schedule` is kept and rendered, but no
// automatic payout is ever made, whatever its interval.

import type Stripe from 'stripe';
import {
  type BankAccountRecord,
  defaultTestBankNumber,
  newBankAccount,
  type PayoutFailureCode,
  renderBankAccount,
  type TestBankNumber,
} from './bank-accounts';
import { invalidRequest, StripeApiError } from './errors';
import { AUTOMATIC, type EventOrigin, type EventStore } from './events';
import { newId, randomAlphanumeric } from './ids';
import type { MoneyClock } from './money-clock';

export const ACCOUNT_TYPES = ['custom', 'express', 'standard'] as const;
export type AccountType = (typeof ACCOUNT_TYPES)[number];
export const BUSINESS_TYPES = ['company', 'government_entity', 'individual', 'non_profit'] as const;
export const PAYOUT_INTERVALS = ['daily', 'manual', 'monthly', 'weekly'] as const;
export const WEEKLY_ANCHORS = ['friday', 'monday', 'saturday', 'sunday', 'thursday', 'tuesday', 'wednesday'] as const;
export const ACCOUNT_LINK_TYPES = ['account_onboarding', 'account_update'] as const;
export type AccountLinkType = (typeof ACCOUNT_LINK_TYPES)[number];

/** Account Links are short-lived on Stripe: a few minutes. */
export const ACCOUNT_LINK_TTL_SECONDS = 300;
const ONBOARDING_PATH = '/connect/onboarding';

const BUSINESS_PROFILE_FIELDS = [
  'mcc',
  'name',
  'product_description',
  'support_email',
  'support_phone',
  'support_url',
  'url',
] as const;
type BusinessProfileField = (typeof BUSINESS_PROFILE_FIELDS)[number];
export type BusinessProfileInput = Partial<Record<BusinessProfileField, string | null>>;

export interface PayoutScheduleInput {
  interval?: (typeof PAYOUT_INTERVALS)[number];
  delay_days?: number | 'minimum';
  weekly_anchor?: (typeof WEEKLY_ANCHORS)[number];
  monthly_anchor?: number;
}

export interface TosAcceptanceInput {
  date?: number | null;
  ip?: string | null;
  user_agent?: string | null;
}

/** A bank account to attach, from a test number (the number itself is not kept). */
export interface BankInput {
  test: TestBankNumber;
  currency?: string;
  accountHolderName?: string | null;
  accountHolderType?: 'individual' | 'company' | null;
}

export interface AccountCreateInput {
  type: AccountType;
  country: string;
  email: string | null;
  defaultCurrency?: string;
  businessType: string | null;
  /** Capabilities requested. */
  capabilities: string[];
  metadata: Record<string, string>;
  businessProfile: BusinessProfileInput;
  tosAcceptance?: TosAcceptanceInput;
  payoutSchedule?: PayoutScheduleInput;
  payoutStatementDescriptor?: string | null;
  debitNegativeBalances?: boolean;
  paymentsStatementDescriptor?: string | null;
  externalAccount?: BankInput;
}

export interface AccountUpdateInput {
  email?: string | null;
  defaultCurrency?: string;
  businessType?: string | null;
  /** Capabilities to request (true) or to stop requesting (false). */
  capabilities?: Record<string, boolean>;
  metadata?: (current: Record<string, string>) => Record<string, string>;
  businessProfile?: BusinessProfileInput;
  tosAcceptance?: TosAcceptanceInput;
  payoutSchedule?: PayoutScheduleInput;
  payoutStatementDescriptor?: string | null;
  debitNegativeBalances?: boolean;
  paymentsStatementDescriptor?: string | null;
  externalAccount?: BankInput;
}

/** What the admin route may change (see admin.ts). */
export interface AccountAdminChanges {
  /** false: payouts disabled (a document due); true: onboarded, payouts enabled. */
  payouts_enabled?: boolean;
  /** Forces the transfers capability active or inactive. */
  transfers_enabled?: boolean;
  /** The next payouts fail with this code (null: as the bank decides). */
  payout_failure_code?: PayoutFailureCode | null;
  /** requirements.disabled_reason (null: as the account's state decides). */
  disabled_reason?: string | null;
}

interface AccountRecord {
  id: string;
  type: AccountType;
  country: string;
  email: string | null;
  defaultCurrency: string;
  businessType: string | null;
  businessProfile: Record<BusinessProfileField, string | null>;
  capabilities: string[];
  metadata: Record<string, string>;
  created: number;
  tosAcceptance: { date: number | null; ip: string | null; user_agent: string | null };
  payoutSchedule: Required<Pick<PayoutScheduleInput, 'interval' | 'delay_days'>> &
    Pick<PayoutScheduleInput, 'weekly_anchor' | 'monthly_anchor'>;
  payoutStatementDescriptor: string | null;
  debitNegativeBalances: boolean;
  paymentsStatementDescriptor: string | null;
  onboarded: boolean;
  externalAccounts: BankAccountRecord[];
  /** Admin overrides. */
  payoutsDisabled: boolean;
  transfersEnabled?: boolean;
  disabledReason?: string | null;
  payoutFailureCode: PayoutFailureCode | null;
}

export interface AccountLinkRecord {
  token: string;
  account: string;
  type: AccountLinkType;
  refreshUrl: string | null;
  returnUrl: string | null;
  created: number;
  expiresAt: number;
  visited: boolean;
  completed: boolean;
}

/** Why an Account Link can no longer be used. */
export type LinkProblem = 'missing' | 'expired' | 'used';

const EURO_COUNTRIES = new Set('AT BE CY DE EE ES FI FR GR HR IE IT LT LU LV MT NL PT SI SK'.split(' '));
const COUNTRY_CURRENCIES: Record<string, string> = {
  AU: 'aud',
  CA: 'cad',
  CH: 'chf',
  CZ: 'czk',
  DK: 'dkk',
  GB: 'gbp',
  HK: 'hkd',
  HU: 'huf',
  JP: 'jpy',
  NO: 'nok',
  NZ: 'nzd',
  PL: 'pln',
  RO: 'ron',
  SE: 'sek',
  SG: 'sgd',
  US: 'usd',
};

export function countryCurrency(country: string): string {
  return EURO_COUNTRIES.has(country) ? 'eur' : (COUNTRY_CURRENCIES[country] ?? 'usd');
}

const INDIVIDUAL_REQUIREMENTS = [
  'business_profile.mcc',
  'business_profile.url',
  'external_account',
  'individual.address.city',
  'individual.address.line1',
  'individual.address.postal_code',
  'individual.dob.day',
  'individual.dob.month',
  'individual.dob.year',
  'individual.email',
  'individual.first_name',
  'individual.last_name',
  'individual.phone',
  'tos_acceptance.date',
  'tos_acceptance.ip',
];
const COMPANY_REQUIREMENTS = [
  'business_profile.mcc',
  'business_profile.url',
  'company.address.city',
  'company.address.line1',
  'company.address.postal_code',
  'company.name',
  'company.phone',
  'company.tax_id',
  'external_account',
  'representative.address.city',
  'representative.address.line1',
  'representative.address.postal_code',
  'representative.dob.day',
  'representative.dob.month',
  'representative.dob.year',
  'representative.email',
  'representative.first_name',
  'representative.last_name',
  'representative.phone',
  'representative.relationship.title',
  'tos_acceptance.date',
  'tos_acceptance.ip',
];
const UNKNOWN_BUSINESS_REQUIREMENTS = [
  'business_profile.mcc',
  'business_profile.url',
  'business_type',
  'external_account',
  'representative.first_name',
  'representative.last_name',
  'tos_acceptance.date',
  'tos_acceptance.ip',
];

/**
 * What Stripe answers (HTTP 403, StripePermissionError in the SDK) for an account the API key cannot see, an unknown
 * one included: in the Stripe-Account header or as /v1/accounts/:id.
 */
export function accountInvalid(account: string, maskedKey?: string): StripeApiError {
  const key = maskedKey === undefined ? 'key' : `key '${maskedKey}'`;
  return new StripeApiError(403, {
    type: 'invalid_request_error',
    code: 'account_invalid',
    doc_url: 'https://stripe.com/docs/error-codes/account-invalid',
    message: `The provided ${key} does not have access to account '${account}' (or that account does not exist). Application access may have been revoked.`,
  });
}

export class AccountService {
  // Insertion order is creation order.
  private readonly accounts = new Map<string, AccountRecord>();
  private readonly links = new Map<string, AccountLinkRecord>();

  constructor(
    private readonly clock: MoneyClock,
    /** The simulator's clock in seconds (Account Link expiry is not money). */
    private readonly nowSeconds: () => number,
    private readonly events: EventStore,
    private readonly publicUrl: () => string,
  ) {}

  has(id: string): boolean {
    return this.accounts.has(id);
  }

  create(input: AccountCreateInput): Stripe.Account {
    const defaultCurrency = input.defaultCurrency ?? countryCurrency(input.country);
    const record: AccountRecord = {
      id: newId('acct', 16),
      type: input.type,
      country: input.country,
      email: input.email,
      defaultCurrency,
      businessType: input.businessType,
      businessProfile: { ...emptyBusinessProfile(), ...input.businessProfile },
      capabilities: [...new Set(input.capabilities)].sort(),
      metadata: { ...input.metadata },
      created: this.clock.now(),
      tosAcceptance: { date: null, ip: null, user_agent: null, ...input.tosAcceptance },
      payoutSchedule: { delay_days: 2, interval: 'daily' },
      payoutStatementDescriptor: input.payoutStatementDescriptor ?? null,
      // Stripe's default: false when the platform collects requirements (custom), else true.
      debitNegativeBalances: input.debitNegativeBalances ?? input.type !== 'custom',
      paymentsStatementDescriptor: input.paymentsStatementDescriptor ?? null,
      onboarded: false,
      externalAccounts: [],
      payoutsDisabled: false,
      payoutFailureCode: null,
    };
    if (input.payoutSchedule) applySchedule(record, input.payoutSchedule);
    if (input.externalAccount) record.externalAccounts = [bankFor(record, input.externalAccount)];
    this.accounts.set(record.id, record);
    return this.render(record.id);
  }

  update(id: string, input: AccountUpdateInput, origin: EventOrigin): Stripe.Account {
    return this.change(id, origin, (record) => {
      if (input.email !== undefined) record.email = input.email;
      if (input.defaultCurrency !== undefined) record.defaultCurrency = input.defaultCurrency;
      if (input.businessType !== undefined) record.businessType = input.businessType;
      if (input.capabilities) {
        const requested = new Set(record.capabilities);
        for (const [name, wanted] of Object.entries(input.capabilities)) {
          if (wanted) requested.add(name);
          else requested.delete(name);
        }
        record.capabilities = [...requested].sort();
      }
      if (input.metadata) record.metadata = input.metadata(record.metadata);
      if (input.businessProfile) Object.assign(record.businessProfile, input.businessProfile);
      if (input.tosAcceptance) Object.assign(record.tosAcceptance, input.tosAcceptance);
      if (input.payoutSchedule) applySchedule(record, input.payoutSchedule);
      if (input.payoutStatementDescriptor !== undefined) {
        record.payoutStatementDescriptor = input.payoutStatementDescriptor;
      }
      if (input.debitNegativeBalances !== undefined) record.debitNegativeBalances = input.debitNegativeBalances;
      if (input.paymentsStatementDescriptor !== undefined) {
        record.paymentsStatementDescriptor = input.paymentsStatementDescriptor;
      }
      // As on Stripe, a new external account replaces the default one of its currency.
      if (input.externalAccount) {
        const bank = bankFor(record, input.externalAccount);
        record.externalAccounts = [...record.externalAccounts.filter((b) => b.currency !== bank.currency), bank];
      }
    });
  }

  /**
   * Completes onboarding (the hosted page, or the admin route without a browser): details submitted, charges and
   * payouts enabled, requested capabilities active, requirements cleared, the bank account attached (the admin
   * route's default: the succeeding test number of the account's country, unless it has one).
   */
  onboard(id: string, bank: BankInput | undefined, origin: EventOrigin): Stripe.Account {
    return this.change(id, origin, (record) => {
      record.onboarded = true;
      record.payoutsDisabled = false;
      record.businessType ??= 'individual';
      if (record.tosAcceptance.date === null) {
        record.tosAcceptance = { date: this.clock.now(), ip: '127.0.0.1', user_agent: 'PSP simulator onboarding' };
      }
      if (bank) {
        const added = bankFor(record, bank);
        record.externalAccounts = [...record.externalAccounts.filter((b) => b.currency !== added.currency), added];
      } else if (record.externalAccounts.length === 0) {
        record.externalAccounts = [bankFor(record, { test: defaultTestBankNumber(record.country) })];
      }
    });
  }

  /** The admin controls (see AccountAdminChanges). */
  adminUpdate(id: string, changes: AccountAdminChanges): Stripe.Account {
    if (changes.payouts_enabled === true) this.onboard(id, undefined, AUTOMATIC);
    return this.change(id, AUTOMATIC, (record) => {
      if (changes.payouts_enabled === false) record.payoutsDisabled = true;
      if (changes.transfers_enabled !== undefined) {
        record.transfersEnabled = changes.transfers_enabled;
        if (changes.transfers_enabled && !record.capabilities.includes('transfers')) {
          record.capabilities = [...record.capabilities, 'transfers'].sort();
        }
      }
      if (changes.payout_failure_code !== undefined) record.payoutFailureCode = changes.payout_failure_code;
      if (changes.disabled_reason !== undefined) record.disabledReason = changes.disabled_reason;
    });
  }

  render(id: string): Stripe.Account {
    return renderAccount(this.find(id));
  }

  /** Every account, newest first (rendered). */
  newestFirst(): Stripe.Account[] {
    return [...this.accounts.values()].map(renderAccount).reverse();
  }

  /** Whether transfers to the account are allowed (its transfers capability active). */
  transfersActive(id: string): boolean {
    return renderAccount(this.find(id)).capabilities?.transfers === 'active';
  }

  payoutsEnabled(id: string): boolean {
    return payoutsEnabled(this.find(id));
  }

  defaultCurrency(id: string): string {
    return this.find(id).defaultCurrency;
  }

  /** The bank account a payout in `currency` goes to (`destination` if given), if the account has one. */
  bankAccount(id: string, currency: string, destination?: string): BankAccountRecord | undefined {
    const banks = this.find(id).externalAccounts;
    const bank = destination ? banks.find((b) => b.id === destination) : banks.find((b) => b.currency === currency);
    return bank && { ...bank };
  }

  hasBankAccount(id: string, bankId: string): boolean {
    return this.find(id).externalAccounts.some((bank) => bank.id === bankId);
  }

  /** How the next payout of the account ends: the admin's failure code, else its bank's (null: paid). */
  payoutOutcome(id: string, bankId: string): PayoutFailureCode | null {
    const record = this.find(id);
    if (record.payoutFailureCode !== null) return record.payoutFailureCode;
    return record.externalAccounts.find((bank) => bank.id === bankId)?.failureCode ?? null;
  }

  createLink(input: {
    account: string;
    type: AccountLinkType;
    refreshUrl: string | null;
    returnUrl: string | null;
  }): Stripe.AccountLink {
    this.find(input.account);
    const created = this.nowSeconds();
    const link: AccountLinkRecord = {
      token: randomAlphanumeric(32),
      account: input.account,
      type: input.type,
      refreshUrl: input.refreshUrl,
      returnUrl: input.returnUrl,
      created,
      expiresAt: created + ACCOUNT_LINK_TTL_SECONDS,
      visited: false,
      completed: false,
    };
    this.links.set(link.token, link);
    return {
      object: 'account_link',
      created,
      expires_at: link.expiresAt,
      url: `${this.publicUrl()}${ONBOARDING_PATH}/${link.token}`,
    };
  }

  /**
   * The link behind a token, if it can still be used: a link may be opened once (a second visit, like an expired
   * link, is refused, as on Stripe) and submitted once after that.
   */
  usableLink(
    token: string,
    forSubmit: boolean,
  ): { link: AccountLinkRecord } | { problem: LinkProblem; link?: AccountLinkRecord } {
    const link = this.links.get(token);
    if (!link) return { problem: 'missing' };
    if (link.completed) return { problem: 'used', link: { ...link } };
    if (forSubmit ? !link.visited : link.visited) return { problem: 'used', link: { ...link } };
    if (!forSubmit && this.nowSeconds() >= link.expiresAt) return { problem: 'expired', link: { ...link } };
    return { link: { ...link } };
  }

  markVisited(token: string): void {
    const link = this.links.get(token);
    if (link) link.visited = true;
  }

  markCompleted(token: string): void {
    const link = this.links.get(token);
    if (link) link.completed = true;
  }

  /** The account's name for the onboarding page (business name, else email, else id). */
  displayName(id: string): string {
    const record = this.find(id);
    return record.businessProfile.name ?? record.email ?? record.id;
  }

  /** Applies a change and emits account.updated when the rendered account changed. */
  private change(id: string, origin: EventOrigin, mutate: (record: AccountRecord) => void): Stripe.Account {
    const record = this.find(id);
    const before = renderAccount(record);
    mutate(record);
    const after = renderAccount(record);
    const previous: Record<string, unknown> = {};
    for (const key of Object.keys(after) as (keyof Stripe.Account)[]) {
      if (JSON.stringify(before[key]) !== JSON.stringify(after[key])) previous[key] = before[key] ?? null;
    }
    if (Object.keys(previous).length > 0) {
      this.events.emit('account.updated', after, origin, { account: id, previousAttributes: previous });
    }
    return after;
  }

  private find(id: string): AccountRecord {
    const record = this.accounts.get(id);
    if (!record) throw invalidRequest(`No such account: '${id}'`, { code: 'resource_missing', param: 'account' });
    return record;
  }
}

function emptyBusinessProfile(): Record<BusinessProfileField, string | null> {
  return Object.fromEntries(BUSINESS_PROFILE_FIELDS.map((field) => [field, null])) as Record<
    BusinessProfileField,
    string | null
  >;
}

function applySchedule(record: AccountRecord, schedule: PayoutScheduleInput): void {
  const next = { ...record.payoutSchedule, ...schedule };
  if (next.interval !== 'weekly') delete next.weekly_anchor;
  else next.weekly_anchor ??= 'monday';
  if (next.interval !== 'monthly') delete next.monthly_anchor;
  else next.monthly_anchor ??= 1;
  record.payoutSchedule = next;
}

function bankFor(record: AccountRecord, bank: BankInput): BankAccountRecord {
  return newBankAccount(bank.test, {
    currency: bank.currency ?? record.defaultCurrency,
    accountHolderName: bank.accountHolderName ?? null,
    accountHolderType: bank.accountHolderType ?? null,
  });
}

function payoutsEnabled(record: AccountRecord): boolean {
  return record.onboarded && !record.payoutsDisabled;
}

function requirementsDue(record: AccountRecord): string[] {
  if (record.onboarded) {
    // Payouts disabled by the admin: Stripe asks for a document to verify the account.
    if (!record.payoutsDisabled) return [];
    return [
      record.businessType === 'individual'
        ? 'individual.verification.document'
        : 'representative.verification.document',
    ];
  }
  const fields =
    record.businessType === null
      ? UNKNOWN_BUSINESS_REQUIREMENTS
      : record.businessType === 'individual'
        ? INDIVIDUAL_REQUIREMENTS
        : COMPANY_REQUIREMENTS;
  return fields.filter((field) => {
    if (field === 'external_account') return record.externalAccounts.length === 0;
    if (field === 'tos_acceptance.date') return record.tosAcceptance.date === null;
    if (field === 'tos_acceptance.ip') return record.tosAcceptance.ip === null;
    if (field === 'business_profile.mcc') return record.businessProfile.mcc === null;
    if (field === 'business_profile.url') return record.businessProfile.url === null;
    return true;
  });
}

function renderAccount(record: AccountRecord): Stripe.Account {
  const due = requirementsDue(record);
  const disabledReason =
    record.disabledReason !== undefined ? record.disabledReason : due.length > 0 ? 'requirements.past_due' : null;
  const capabilities: Record<string, string> = {};
  for (const name of record.capabilities) {
    const forced = name === 'transfers' ? record.transfersEnabled : undefined;
    capabilities[name] = (forced ?? record.onboarded) ? 'active' : 'inactive';
  }
  const schedule: Stripe.Account.Settings.Payouts.Schedule = {
    delay_days: record.payoutSchedule.delay_days === 'minimum' ? 2 : record.payoutSchedule.delay_days,
    interval: record.payoutSchedule.interval,
    ...(record.payoutSchedule.weekly_anchor !== undefined && { weekly_anchor: record.payoutSchedule.weekly_anchor }),
    ...(record.payoutSchedule.monthly_anchor !== undefined && { monthly_anchor: record.payoutSchedule.monthly_anchor }),
  };
  const banks = record.externalAccounts.map((bank) => renderBankAccount(bank, record.id));
  const noRequirements = {
    alternatives: [],
    current_deadline: null,
    currently_due: [],
    disabled_reason: null,
    errors: [],
    eventually_due: [],
    past_due: [],
    pending_verification: [],
  };
  return {
    id: record.id,
    object: 'account',
    business_profile: {
      annual_revenue: null,
      estimated_worker_count: null,
      mcc: record.businessProfile.mcc,
      minority_owned_business_designation: null,
      name: record.businessProfile.name,
      product_description: record.businessProfile.product_description,
      specified_commercial_transactions_act_url: null,
      support_address: null,
      support_email: record.businessProfile.support_email,
      support_phone: record.businessProfile.support_phone,
      support_url: record.businessProfile.support_url,
      url: record.businessProfile.url,
    },
    business_type: record.businessType as Stripe.Account.BusinessType | null,
    capabilities: capabilities as Stripe.Account.Capabilities,
    charges_enabled: record.onboarded,
    controller: controllerOf(record.type),
    country: record.country,
    created: record.created,
    default_currency: record.defaultCurrency,
    details_submitted: record.onboarded,
    email: record.email,
    external_accounts: {
      object: 'list',
      data: banks,
      has_more: false,
      total_count: banks.length,
      url: `/v1/accounts/${record.id}/external_accounts`,
    } as Stripe.ApiList<Stripe.BankAccount>,
    future_requirements: { ...noRequirements },
    metadata: { ...record.metadata },
    payouts_enabled: payoutsEnabled(record),
    requirements: {
      ...noRequirements,
      currently_due: [...due],
      disabled_reason: disabledReason as Stripe.Account.Requirements.DisabledReason | null,
      eventually_due: [...due],
      past_due: [...due],
    },
    settings: {
      bacs_debit_payments: { display_name: null, service_user_number: null },
      branding: { icon: null, logo: null, primary_color: null, secondary_color: null },
      card_issuing: { tos_acceptance: { date: null, ip: null } },
      card_payments: {
        decline_on: { avs_failure: false, cvc_failure: false },
        statement_descriptor_prefix: null,
        statement_descriptor_prefix_kana: null,
        statement_descriptor_prefix_kanji: null,
      },
      dashboard: { display_name: record.businessProfile.name, timezone: 'Etc/UTC' },
      invoices: { default_account_tax_ids: null, hosted_payment_method_save: 'offer' },
      payments: {
        statement_descriptor: record.paymentsStatementDescriptor,
        statement_descriptor_kana: null,
        statement_descriptor_kanji: null,
        statement_descriptor_prefix_kana: null,
        statement_descriptor_prefix_kanji: null,
      },
      payouts: {
        debit_negative_balances: record.debitNegativeBalances,
        schedule,
        statement_descriptor: record.payoutStatementDescriptor,
      },
      sepa_debit_payments: {},
    },
    tos_acceptance: { ...record.tosAcceptance },
    type: record.type,
  };
}

function controllerOf(type: AccountType): Stripe.Account.Controller {
  switch (type) {
    case 'custom':
      return {
        fees: { payer: 'application_custom' },
        is_controller: true,
        losses: { payments: 'application' },
        requirement_collection: 'application',
        stripe_dashboard: { type: 'none' },
        type: 'application',
      };
    case 'express':
      return {
        fees: { payer: 'application_express' },
        is_controller: true,
        losses: { payments: 'application' },
        requirement_collection: 'stripe',
        stripe_dashboard: { type: 'express' },
        type: 'application',
      };
    case 'standard':
      return {
        fees: { payer: 'account' },
        is_controller: true,
        losses: { payments: 'stripe' },
        requirement_collection: 'stripe',
        stripe_dashboard: { type: 'full' },
        type: 'application',
      };
  }
}
