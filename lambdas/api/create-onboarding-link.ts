/** POST /v1/sellers/{seller_account}/onboarding-link: a fresh one-time link to the PSP's hosted onboarding page. */
import '../../src/payout/with-psp';
import { HttpError, json } from '../../src/api/http';
import { apiHandler } from '../../src/api/middleware';
import { pathParam } from '../../src/api/request-guards';
import { payoutDeps } from '../../src/payout/deps';
import { onboardingLink } from '../../src/payout/sellers';

export const handler = apiHandler(
  async (event) => {
    const sellerAccount = pathParam(event, 'seller_account');
    const deps = payoutDeps();
    const seller = await deps.sellers.get(sellerAccount);
    if (!seller) throw new HttpError(404, 'not_found', `seller ${sellerAccount} does not exist`);
    const link = await onboardingLink(deps, seller);
    if (!link) throw new HttpError(409, 'no_connected_account', `seller ${sellerAccount} has no connected account yet`);
    return json(201, { url: link.url, expires_at: new Date(link.expires_at * 1000).toISOString() });
  },
  { scope: 'sellers:write' },
);
