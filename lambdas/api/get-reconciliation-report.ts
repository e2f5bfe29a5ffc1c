/** GET /v1/reconciliation/runs/{run_id}/report.html: the run's report, a page a finance person reads (text/html). */
import { apiHandler } from '../../src/api/middleware';
import { getReconciliationReport, htmlResponse } from '../../src/api/reconciliation';
import { pathParam } from '../../src/api/request-guards';
import { reconciliationDeps } from '../../src/reconciliation/deps';

export const handler = apiHandler(
  async (event) => htmlResponse(await getReconciliationReport(reconciliationDeps(), pathParam(event, 'run_id'))),
  { scope: 'reconciliation:read' },
);
