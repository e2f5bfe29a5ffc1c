/** GET /v1/refunds/{refund_id}: the refund, its PSP refund and, when it failed, the PSP's reason. */
import { HttpError, json } from '../../src/api/http';
import { apiHandler } from '../../src/api/middleware';
import { refundView } from '../../src/api/refunds';
import { pathParam, quote } from '../../src/api/request-guards';
import { deps } from '../refunds/deps';

export const handler = apiHandler(
  async (event) => {
    const refundId = pathParam(event, 'refund_id');
    const refund = await deps().refunds.get(refundId);
    if (!refund) throw new HttpError(404, 'not_found', `no refund ${quote(refundId)}`);
    return json(200, refundView(refund));
  },
  { scope: 'payments:read' },
);
