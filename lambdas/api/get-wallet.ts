/** GET /v1/wallets/{seller_account}: the seller's balance per currency. */
import { dynamo, runtimeConfig } from '../../src/adapters/clients';
import { WalletsTable } from '../../src/adapters/wallets-table';
import { json } from '../../src/api/http';
import { apiHandler } from '../../src/api/middleware';
import { walletView } from '../../src/api/views';
import { tableName } from '../../src/config';

export const handler = apiHandler(async (event) => {
  const seller = event.pathParameters?.seller_account ?? '';
  const config = runtimeConfig();
  const wallets = new WalletsTable(dynamo(), tableName(config, 'wallets'));
  return json(200, walletView(seller, await wallets.balances(seller)));
});
