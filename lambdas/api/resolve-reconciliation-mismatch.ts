/**
 * POST /v1/reconciliation/mismatches/{mismatch_id}/resolve {"resolution", "note"?}: a person resolves an open (or
 * carried) mismatch; who (the caller's key) and when are recorded with it. 409 when it is not open.
 */
import { json, parseJsonBody } from '../../src/api/http';
import { apiHandler, callerKeyId } from '../../src/api/middleware';
import { resolveReconciliationMismatch } from '../../src/api/reconciliation';
import { pathParam } from '../../src/api/request-guards';
import { reconciliationDeps } from '../../src/reconciliation/deps';

export const handler = apiHandler(
  async (event) => {
    const mismatchId = pathParam(event, 'mismatch_id');
    const body = parseJsonBody(event.body, event.isBase64Encoded, { maxBytes: 8 * 1024 });
    return json(200, await resolveReconciliationMismatch(reconciliationDeps(), mismatchId, body, callerKeyId(event)));
  },
  { scope: 'reconciliation:write', maxBodyBytes: 8 * 1024 },
);
