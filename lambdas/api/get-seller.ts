/** GET /v1/sellers/{seller_account}: the seller, its connected account's payout state and what the PSP still needs. */
import { HttpError, json } from '../../src/api/http';
import { apiHandler } from '../../src/api/middleware';
import { sellerView } from '../../src/api/payouts';
import { pathParam } from '../../src/api/request-guards';
import { payoutDeps } from '../../src/payout/deps';

export const handler = apiHandler(
  async (event) => {
    const sellerAccount = pathParam(event, 'seller_account');
    const seller = await payoutDeps().sellers.get(sellerAccount);
    if (!seller) throw new HttpError(404, 'not_found', `seller ${sellerAccount} does not exist`);
    return json(200, sellerView(seller));
  },
  { scope: 'sellers:read' },
);
