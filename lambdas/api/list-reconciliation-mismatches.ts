/**
 * GET /v1/reconciliation/mismatches[?run_id=&class=&status=&limit=&cursor=]: mismatches of a run, or a work list
 * (the open manual or unclassifiable mismatches, the carried timing differences), a page at a time.
 */
import { json } from '../../src/api/http';
import { apiHandler } from '../../src/api/middleware';
import { listReconciliationMismatches } from '../../src/api/reconciliation';
import { reconciliationDeps } from '../../src/reconciliation/deps';

export const handler = apiHandler(
  async (event) => json(200, await listReconciliationMismatches(reconciliationDeps(), event.queryStringParameters)),
  { scope: 'reconciliation:read' },
);
