/** GET /v1/payout-runs/{run_id}: a run's progress and counts. */
import { HttpError, json } from '../../src/api/http';
import { apiHandler } from '../../src/api/middleware';
import { payoutRunView } from '../../src/api/payouts';
import { pathParam } from '../../src/api/request-guards';
import { payoutDeps } from '../../src/payout/deps';

export const handler = apiHandler(
  async (event) => {
    const runId = pathParam(event, 'run_id');
    const run = await payoutDeps().payouts.getRun(runId);
    if (!run) throw new HttpError(404, 'not_found', `payout run ${runId} does not exist`);
    return json(200, payoutRunView(run));
  },
  { scope: 'payouts:read' },
);
