/** POST /v1/payout-runs {"date"?}: starts the payout run of a UTC date (today by default); 409 while it runs. */
import { json, parseJsonBody } from '../../src/api/http';
import { apiHandler } from '../../src/api/middleware';
import { payoutRunView, validatePayoutRun } from '../../src/api/payouts';
import { payoutDeps } from '../../src/payout/deps';
import { startRun, utcDate } from '../../src/payout/runs';

export const handler = apiHandler(
  async (event) => {
    const body = event.body ? parseJsonBody(event.body, event.isBase64Encoded) : {};
    const { date } = validatePayoutRun(body, utcDate());
    const run = await startRun(payoutDeps(), date);
    return json(202, { ...payoutRunView(run), status_url: `/v1/payout-runs/${run.run_id}` });
  },
  { scope: 'payouts:write', maxBodyBytes: 1024 },
);
