/** GET /v1/wallets/{seller_account}: the seller's balance per currency. */

import { json } from '../../src/api/http';
import { apiHandler } from '../../src/api/middleware';
import { pathParam } from '../../src/api/request-guards';
import { walletView } from '../../src/api/views';
import { dynamo, runtimeConfig } from '../../src/core/clients';
import { tableName } from '../../src/core/config';
import { Wallets } from '../../src/ledger/wallets';

export const handler = apiHandler(
  async (event) => {
    const seller = pathParam(event, 'seller_account');
    const config = runtimeConfig();
    const wallets = new Wallets(dynamo(), tableName(config, 'wallets'));
    return json(200, walletView(seller, await wallets.balances(seller)));
  },
  { scope: 'payments:read' },
);
