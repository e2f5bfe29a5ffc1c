/**
 * Starts a payout run on the local stack and shows its progress until it completes.
 *
 *   npm run payouts                        # today's run (UTC)
 *   npm run payouts -- --date 2026-11-28   # the run of a date (started again if it completed: no one paid twice)
 *
 * It calls the running stack's API (`npm start`) with the dev key kept under the data folder (or DEV_API_KEY, or
 * --key); --api sets another API base URL. The same as POST /v1/payout-runs then GET /v1/payout-runs/{id}.
 */
import { bar, localApi, option } from './cli';

type Run = {
  run_id: string;
  date: string;
  status: string;
  progress: { sellers_listed: number; sellers_done: number; listing_done: boolean };
  payouts_created: number;
  payouts_existing: number;
  sellers_skipped: number;
  amounts: Record<string, string>;
};

async function main(): Promise<void> {
  const { api, key } = localApi();
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const date = option('date');
  const started = await fetch(`${api}/v1/payout-runs`, {
    method: 'POST',
    headers,
    body: JSON.stringify(date ? { date } : {}),
  });
  const body = (await started.json()) as Run & { error?: { message: string } };
  if (started.status !== 202) throw new Error(`POST /v1/payout-runs: ${started.status} ${body.error?.message ?? ''}`);
  const runId = body.run_id;
  process.stdout.write(`payout run ${runId} (${body.date}) started\n`);
  let run: Run = body;
  const interactive = process.stdout.isTTY;
  for (;;) {
    const { progress } = run;
    const line = `${bar(progress.sellers_done, progress.sellers_listed)} sellers ${progress.sellers_done}/${progress.sellers_listed}${progress.listing_done ? '' : '+'}  payouts ${run.payouts_created}`;
    process.stdout.write(interactive ? `\r${line}` : `${line}\n`);
    if (run.status === 'COMPLETED') break;
    await new Promise((resolve) => setTimeout(resolve, 500));
    const response = await fetch(`${api}/v1/payout-runs/${encodeURIComponent(runId)}`, { headers });
    run = (await response.json()) as Run;
  }
  if (interactive) process.stdout.write('\n');
  const amounts = Object.entries(run.amounts)
    .map(([currency, amount]) => `${amount} ${currency}`)
    .join(', ');
  process.stdout.write(
    `completed: ${run.payouts_created} payouts made (${amounts || 'nothing'}), ${run.payouts_existing} made before, ` +
      `${run.sellers_skipped} sellers skipped\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exitCode = 1;
});
