/** GET /v1/reconciliation/runs?date=YYYY-MM-DD: the reconciliation runs of a date, newest first. */
import { json } from '../../src/api/http';
import { apiHandler } from '../../src/api/middleware';
import { listReconciliationRuns } from '../../src/api/reconciliation';
import { reconciliationDeps } from '../../src/reconciliation/deps';

export const handler = apiHandler(
  async (event) => json(200, await listReconciliationRuns(reconciliationDeps(), event.queryStringParameters)),
  { scope: 'reconciliation:read' },
);
