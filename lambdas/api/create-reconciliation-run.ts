/**
 * POST /v1/reconciliation/runs {"date", "file_key"?}: starts the reconciliation of a UTC date against the PSP's
 * settlement file (202); 409 `run_in_progress` naming the running run while one of that date runs.
 */
import { json, parseJsonBody } from '../../src/api/http';
import { apiHandler, callerKeyId } from '../../src/api/middleware';
import { createReconciliationRun } from '../../src/api/reconciliation';
import { reconciliationDeps } from '../../src/reconciliation/deps';

export const handler = apiHandler(
  async (event) => {
    const body = parseJsonBody(event.body, event.isBase64Encoded, { maxBytes: 2048 });
    return json(202, await createReconciliationRun(reconciliationDeps(), body, callerKeyId(event)));
  },
  { scope: 'reconciliation:write', maxBodyBytes: 2048 },
);
