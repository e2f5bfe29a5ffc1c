/** GET /v1/reconciliation/runs/{run_id}: a reconciliation run's progress, counts, totals and internal checks. */
import { json } from '../../src/api/http';
import { apiHandler } from '../../src/api/middleware';
import { getReconciliationRun } from '../../src/api/reconciliation';
import { pathParam } from '../../src/api/request-guards';
import { reconciliationDeps } from '../../src/reconciliation/deps';

export const handler = apiHandler(
  async (event) => json(200, await getReconciliationRun(reconciliationDeps(), pathParam(event, 'run_id'))),
  { scope: 'reconciliation:read' },
);
