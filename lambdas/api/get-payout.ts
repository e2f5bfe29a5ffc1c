/** GET /v1/payouts/{payout_id}: the payout, its PSP ids and, when it failed, why. */
import { HttpError, json } from '../../src/api/http';
import { apiHandler } from '../../src/api/middleware';
import { payoutView } from '../../src/api/payouts';
import { pathParam } from '../../src/api/request-guards';
import { payoutDeps } from '../../src/payout/deps';

export const handler = apiHandler(
  async (event) => {
    const payoutId = pathParam(event, 'payout_id');
    const payout = await payoutDeps().payouts.get(payoutId);
    if (!payout) throw new HttpError(404, 'not_found', `payout ${payoutId} does not exist`);
    return json(200, payoutView(payout));
  },
  { scope: 'payouts:read' },
);
