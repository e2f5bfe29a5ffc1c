/** GET /v1/sellers/{seller_account}/payouts[?limit=N&before=<created_at>]: the seller's payouts, newest first. */
import { badRequest, json } from '../../src/api/http';
import { apiHandler } from '../../src/api/middleware';
import { payoutView } from '../../src/api/payouts';
import { pathParam } from '../../src/api/request-guards';
import { payoutDeps } from '../../src/payout/deps';

export const handler = apiHandler(
  async (event) => {
    const sellerAccount = pathParam(event, 'seller_account');
    const query = event.queryStringParameters ?? {};
    const limit = query.limit === undefined ? 50 : Number(query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
      throw badRequest('the query is not valid', [
        { field: 'limit', message: 'limit must be an integer from 1 to 100' },
      ]);
    }
    const before = query.before;
    if (before !== undefined && Number.isNaN(Date.parse(before))) {
      throw badRequest('the query is not valid', [
        { field: 'before', message: 'before must be an ISO time (a payout created_at)' },
      ]);
    }
    const payouts = await payoutDeps().payouts.bySeller(sellerAccount, limit, before);
    const last = payouts.at(-1);
    return json(200, {
      seller_account: sellerAccount,
      payouts: payouts.map(payoutView),
      next_before: payouts.length === limit && last ? last.created_at : null,
    });
  },
  { scope: 'payouts:read' },
);
