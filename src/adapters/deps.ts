/** Builds the dependencies the handlers pass into domain code, once per container. */
import { tableName } from '../config';
import { RulesRiskProvider } from '../domain/risk';
import { MoneyError, toMinorUnits } from '../domain/money';
import type { StepDeps } from '../payin/steps';
import { dynamo, runtimeConfig, stripe } from './clients';
import { LedgerTable } from './ledger-table';
import { PaymentsTable } from './payments-table';
import { StripePsp } from './stripe-psp';
import { WalletsTable } from './wallets-table';

let deps: StepDeps | undefined;

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
export function stepDeps(): StepDeps {
  deps ??= lazy<StepDeps>({
    payments: () => new PaymentsTable(dynamo(), tableName(runtimeConfig(), 'payments')),
    wallets: () => new WalletsTable(dynamo(), tableName(runtimeConfig(), 'wallets')),
    ledger: () => new LedgerTable(dynamo(), tableName(runtimeConfig(), 'ledger')),
    psp: () => new StripePsp(stripe),
    risk: () =>
      new RulesRiskProvider({
        maxAmountMinor: parseAmountLimits(process.env.RISK_MAX_AMOUNTS),
        blockedCountries: (process.env.RISK_BLOCKED_COUNTRIES ?? '')
          .split(',')
          .map((c) => c.trim())
          .filter(Boolean),
      }),
  });
  return deps;
}
