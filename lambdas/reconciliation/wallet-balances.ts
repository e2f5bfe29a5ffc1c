/** The sellers' wallet balances, as the run's last step checks them against their payable accounts (FinishRun). */
import { dynamo, runtimeConfig } from '../../src/core/clients';
import { tableName } from '../../src/core/config';
import { Wallets } from '../../src/ledger/wallets';
import type { WalletBalances } from '../../src/reconciliation/ports';

export const walletBalances = (): WalletBalances => {
  const wallets = new Wallets(dynamo(), tableName(runtimeConfig(), 'wallets'));
  return {
    all: () => wallets.allBalances(),
    of: async (seller, currency) =>
      (await wallets.balances(seller)).find((b) => b.currency === currency)?.balance_minor,
  };
};
