/** GET /v1/disputes[?status=OPEN|WON|LOST&limit=N&before=<created_at>]: disputes, newest first. */
import { badRequest, json } from '../../src/api/http';
import { apiHandler } from '../../src/api/middleware';
import { disputeView } from '../../src/api/refunds';
import type { DisputeStatus } from '../../src/refunds/dispute';
import { deps } from '../refunds/deps';

const STATUSES: DisputeStatus[] = ['OPEN', 'WON', 'LOST'];

export const handler = apiHandler(
  async (event) => {
    const query = event.queryStringParameters ?? {};
    const status = query.status?.toUpperCase();
    if (status !== undefined && !STATUSES.includes(status as DisputeStatus)) {
      throw badRequest('the query is not valid', [
        { field: 'status', message: `status must be one of ${STATUSES.join(', ')}` },
      ]);
    }
    const limit = query.limit === undefined ? 50 : Number(query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
      throw badRequest('the query is not valid', [
        { field: 'limit', message: 'limit must be an integer from 1 to 100' },
      ]);
    }
    const disputes = await deps().refunds.disputes(status as DisputeStatus | undefined, limit, query.before);
    const last = disputes.at(-1);
    return json(200, {
      disputes: disputes.map(disputeView),
      next_before: disputes.length === limit && last ? last.created_at : null,
    });
  },
  { scope: 'payments:read' },
);
