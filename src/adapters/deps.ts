/** Builds the dependencies the handlers pass into domain code, once per container. */
import { ConfigError, tableName } from '../config';
import { MoneyError, toMinorUnits } from '../domain/money';
import { RulesRiskProvider } from '../domain/risk';
import type { PendingDeps } from '../payin/pending';
import type { StepDeps } from '../payin/steps';
import { dynamo, runtimeConfig, sfn, stripe } from './clients';
import { LedgerTable } from './ledger-table';
import { PaymentsTable } from './payments-table';
import { StripePsp } from './stripe-psp';
import { SfnTaskResponder } from './task-responder';
import { WalletsTable } from './wallets-table';

type AllDeps = StepDeps & PendingDeps;
let deps: AllDeps | undefined;

/** Parses `USD:10000.00,JPY:1000000` into per-currency limits in minor units. */
export function parseAmountLimits(raw: string | undefined): Record<string, number> {
  if (!raw) return {};
  return Object.fromEntries(
    raw.split(',').map((pair) => {
      const [currency = '', amount = ''] = pair.trim().split(':');
      try {
        return [currency, toMinorUnits(amount, currency)];
      } catch (error) {
        if (error instanceof MoneyError) throw new MoneyError(`RISK_MAX_AMOUNTS '${pair}': ${error.message}`);
        throw error;
      }
    }),
  );
}

/** The default risk provider: rules from the environment, velocity counted in the payments table. */
export function riskProvider(payments: () => PaymentsTable, env: Record<string, string | undefined> = process.env) {
  const perHour = Number(env.RISK_MAX_PAYMENTS_PER_BUYER_PER_HOUR ?? '0');
  if (!Number.isInteger(perHour) || perHour < 0) {
    throw new ConfigError(`RISK_MAX_PAYMENTS_PER_BUYER_PER_HOUR must be a whole number, got '${perHour}'`);
  }
  return new RulesRiskProvider(
    {
      maxAmountMinor: parseAmountLimits(env.RISK_MAX_AMOUNTS),
      reviewAboveMinor: parseAmountLimits(env.RISK_REVIEW_ABOVE),
      blockedCountries: (env.RISK_BLOCKED_COUNTRIES ?? '')
        .split(',')
        .map((c) => c.trim())
        .filter(Boolean),
      maxPaymentsPerBuyerPerHour: perHour,
    },
    (payment) => {
      const hour = new Date();
      hour.setUTCMinutes(0, 0, 0);
      const expiresAt = Math.floor(hour.getTime() / 1000) + 2 * 3600;
      return payments().countBuyerPayments(payment.buyer.id, payment.payment_id, hour.toISOString(), expiresAt);
    },
  );
}

/** An object whose properties are built on first use, so a function only needs the settings of what it uses. */
function lazy<T extends object>(factories: { [K in keyof T]: () => T[K] }): T {
  const target = {} as T;
  for (const key of Object.keys(factories) as (keyof T)[]) {
    let value: T[typeof key] | undefined;
    Object.defineProperty(target, key, {
      enumerable: true,
      get: () => {
        value ??= factories[key]();
        return value;
      },
    });
  }
  return target;
}

/** The pay-in steps' dependencies; each is created on first use with the function's own settings. */
export function stepDeps(): AllDeps {
  deps ??= lazy<AllDeps>({
    tasks: () => new SfnTaskResponder(sfn),
    payments: () => new PaymentsTable(dynamo(), tableName(runtimeConfig(), 'payments')),
    wallets: () => new WalletsTable(dynamo(), tableName(runtimeConfig(), 'wallets')),
    ledger: () => new LedgerTable(dynamo(), tableName(runtimeConfig(), 'ledger')),
    psp: () => new StripePsp(stripe),
    risk: () => riskProvider(() => (deps as StepDeps).payments),
  });
  return deps;
}
