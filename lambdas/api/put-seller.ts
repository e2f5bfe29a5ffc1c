/**
 * PUT /v1/sellers/{seller_account}: creates or updates the seller and its connected account at the PSP (the
 * account created once: Idempotency-Key derived from the seller id). Answers an onboarding link while the PSP does
 * not pay out to the account yet: the seller enters bank details on the PSP's page, never through us.
 */
import '../../src/payout/with-psp';
import { json, parseJsonBody } from '../../src/api/http';
import { apiHandler } from '../../src/api/middleware';
import { sellerView, validateSeller } from '../../src/api/payouts';
import { pathParam } from '../../src/api/request-guards';
import { logger } from '../../src/core/observability';
import { payoutDeps } from '../../src/payout/deps';
import { upsertSeller } from '../../src/payout/sellers';

export const handler = apiHandler(
  async (event) => {
    const sellerAccount = pathParam(event, 'seller_account');
    const input = validateSeller(sellerAccount, parseJsonBody(event.body, event.isBase64Encoded));
    logger.appendKeys({ seller_account: sellerAccount });
    const { seller, created, onboarding } = await upsertSeller(payoutDeps(), input);
    return json(created ? 201 : 200, sellerView(seller, onboarding));
  },
  { scope: 'sellers:write', maxBodyBytes: 8 * 1024 },
);
