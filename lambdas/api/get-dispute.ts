/** GET /v1/disputes/{dispute_id}: the dispute, its payment and orders, the sellers bearing it, the evidence due date. */
import { HttpError, json } from '../../src/api/http';
import { apiHandler } from '../../src/api/middleware';
import { disputeView } from '../../src/api/refunds';
import { pathParam, quote } from '../../src/api/request-guards';
import { deps } from '../refunds/deps';

export const handler = apiHandler(
  async (event) => {
    const disputeId = pathParam(event, 'dispute_id');
    const dispute = await deps().refunds.getDispute(disputeId);
    if (!dispute) throw new HttpError(404, 'not_found', `no dispute ${quote(disputeId)}`);
    return json(200, disputeView(dispute));
  },
  { scope: 'payments:read' },
);
