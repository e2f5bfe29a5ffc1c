// Connected accounts' bank accounts (external accounts, `ba_...`) and the test numbers that decide how payouts to
// them end, as Stripe's test-mode bank numbers do. The number a seller enters (onboarding-page.ts, or an
// `external_account` hash on the API) is looked up here and dropped at once: a record keeps its last 4 digits, its
// country, and the outcome; the number itself is never stored, logged, echoed, put in an event or an API response.
//
//   DE89 3704 0044 0532 0130 00   US 000123456789   payouts succeed
//   DE62 3704 0044 0532 0130 01   US 000111111116   payouts fail: no_account
//   DE35 3704 0044 0532 0130 02   US 000111111113   payouts fail: account_closed
//   DE08 3704 0044 0532 0130 03   US 000222222227   payouts fail: insufficient_funds
// (US numbers with routing number 110000000.)

import { createHmac, randomBytes } from 'node:crypto';
import type Stripe from 'stripe';
import { newId } from './ids';

/** Stripe's payout failure codes. */
export const PAYOUT_FAILURE_CODES = [
  'account_closed',
  'account_frozen',
  'bank_account_restricted',
  'bank_ownership_changed',
  'could_not_process',
  'debit_not_authorized',
  'declined',
  'incorrect_account_holder_address',
  'incorrect_account_holder_name',
  'incorrect_account_holder_tax_id',
  'insufficient_funds',
  'invalid_account_number',
  'invalid_currency',
  'no_account',
  'unsupported_card',
] as const;
export type PayoutFailureCode = (typeof PAYOUT_FAILURE_CODES)[number];

/** Stripe's `failure_message` for each failure code. */
export const PAYOUT_FAILURE_MESSAGES: Record<PayoutFailureCode, string> = {
  account_closed: 'The bank account has been closed.',
  account_frozen: 'The bank account has been frozen.',
  bank_account_restricted:
    'The bank account has restrictions on either the type, or the number, of payouts allowed. This normally indicates that the bank account is a savings or other non-checking account.',
  bank_ownership_changed: 'The destination bank account is no longer valid because its branch has changed ownership.',
  could_not_process: 'The bank could not process this payout.',
  debit_not_authorized:
    'Debit transactions are not approved on the bank account. (Stripe requires bank accounts to be set up for both credit and debit payouts.)',
  declined: 'The bank has declined this transfer. Please contact the bank before retrying.',
  incorrect_account_holder_address: 'Your bank notified us that the bank account holder address on file is incorrect.',
  incorrect_account_holder_name: 'Your bank notified us that the bank account holder name on file is incorrect.',
  incorrect_account_holder_tax_id: 'Your bank notified us that the bank account holder tax ID on file is incorrect.',
  insufficient_funds: 'Your Stripe account has insufficient funds to cover the payout.',
  invalid_account_number: 'The routing number seems correct, but the account number is invalid.',
  invalid_currency:
    'The bank was unable to process this payout because of its currency. This is probably because the bank account cannot accept payments in that currency.',
  no_account:
    'The bank account details on file are probably incorrect. No bank account could be located with those details.',
  unsupported_card: 'The bank no longer supports payouts to this card.',
};

export function isPayoutFailureCode(value: unknown): value is PayoutFailureCode {
  return typeof value === 'string' && (PAYOUT_FAILURE_CODES as readonly string[]).includes(value);
}

export interface TestBankNumber {
  /** An IBAN, or a US account number (with routingNumber). */
  number: string;
  country: string;
  routingNumber: string | null;
  /** How payouts to it end: null succeeds. */
  failureCode: PayoutFailureCode | null;
}

const US_ROUTING_NUMBER = '110000000';

export const TEST_BANK_NUMBERS: readonly TestBankNumber[] = Object.freeze([
  { number: 'DE89370400440532013000', country: 'DE', routingNumber: null, failureCode: null },
  { number: 'DE62370400440532013001', country: 'DE', routingNumber: null, failureCode: 'no_account' },
  { number: 'DE35370400440532013002', country: 'DE', routingNumber: null, failureCode: 'account_closed' },
  { number: 'DE08370400440532013003', country: 'DE', routingNumber: null, failureCode: 'insufficient_funds' },
  { number: '000123456789', country: 'US', routingNumber: US_ROUTING_NUMBER, failureCode: null },
  { number: '000111111116', country: 'US', routingNumber: US_ROUTING_NUMBER, failureCode: 'no_account' },
  { number: '000111111113', country: 'US', routingNumber: US_ROUTING_NUMBER, failureCode: 'account_closed' },
  { number: '000222222227', country: 'US', routingNumber: US_ROUTING_NUMBER, failureCode: 'insufficient_funds' },
]);

/** The test number, spaces and dashes ignored, case-insensitive; a US number needs routing 110000000 if one is given. */
export function lookupTestBankNumber(raw: string, routingNumber?: string | null): TestBankNumber | undefined {
  const normalized = raw.replace(/[\s-]/g, '').toUpperCase();
  const found = TEST_BANK_NUMBERS.find((candidate) => candidate.number === normalized);
  if (!found) return undefined;
  const routing = routingNumber?.replace(/[\s-]/g, '');
  if (found.routingNumber !== null && routing && routing !== found.routingNumber) return undefined;
  return found;
}

/** A bank account as the simulator keeps it: no number, only its last 4 digits. */
export interface BankAccountRecord {
  id: string;
  last4: string;
  country: string;
  currency: string;
  routingNumber: string | null;
  accountHolderName: string | null;
  accountHolderType: 'individual' | 'company' | null;
  fingerprint: string;
  /** How payouts to it end (from the test number): null succeeds. */
  failureCode: PayoutFailureCode | null;
}

// Fingerprints identify a number within one simulator process without revealing anything about it.
const FINGERPRINT_KEY = randomBytes(32);

export function newBankAccount(
  test: TestBankNumber,
  details: { currency: string; accountHolderName?: string | null; accountHolderType?: 'individual' | 'company' | null },
): BankAccountRecord {
  return {
    id: newId('ba'),
    last4: test.number.slice(-4),
    country: test.country,
    currency: details.currency,
    routingNumber: test.routingNumber,
    accountHolderName: details.accountHolderName ?? null,
    accountHolderType: details.accountHolderType ?? null,
    fingerprint: createHmac('sha256', FINGERPRINT_KEY).update(test.number).digest('base64url').slice(0, 16),
    failureCode: test.failureCode,
  };
}

/** The default test number that succeeds for an account of `country` (admin onboarding without a browser). */
export function defaultTestBankNumber(country: string): TestBankNumber {
  const found = TEST_BANK_NUMBERS.find((candidate) => candidate.country === country && candidate.failureCode === null);
  return found ?? (TEST_BANK_NUMBERS[0] as TestBankNumber);
}

export function renderBankAccount(record: BankAccountRecord, accountId: string): Stripe.BankAccount {
  return {
    id: record.id,
    object: 'bank_account',
    account: accountId,
    account_holder_name: record.accountHolderName,
    account_holder_type: record.accountHolderType,
    account_type: null,
    available_payout_methods: ['standard'],
    bank_name: 'STRIPE TEST BANK',
    country: record.country,
    currency: record.currency,
    default_for_currency: true,
    fingerprint: record.fingerprint,
    future_requirements: { currently_due: [], errors: [], past_due: [], pending_verification: [] },
    last4: record.last4,
    metadata: {},
    requirements: { currently_due: [], errors: [], past_due: [], pending_verification: [] },
    routing_number: record.routingNumber,
    status: 'new',
  };
}
