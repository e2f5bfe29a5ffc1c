/**
 * Reconciles a day on the local stack and shows its progress, then prints the summary.
 *
 *   npm run reconcile -- --date 2026-11-28                 # the PSP's settlement file of that UTC day
 *   npm run reconcile -- --date 2026-11-28 --file day.csv  # a settlement file at hand (same columns)
 *
 * It calls the running stack's API (`npm start`) with the dev key kept under the data folder (or DEV_API_KEY, or
 * --key); --api sets another API base URL, --s3 another S3 endpoint for the file (default: the stack's fauxqs). The same as POST /v1/reconciliation/runs then GET
 * /v1/reconciliation/runs/{id}; a file is first put in the settlement bucket (fauxqs's S3 locally).
 */
import fs from 'node:fs';
import path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { bar, localApi, option } from './cli';

type Run = {
  run_id: string;
  date: string;
  status: 'RUNNING' | 'COMPLETED' | 'FAILED';
  rows: number;
  matched: number;
  fees_booked: number;
  shards_total?: number;
  shards_done?: number;
  mismatches: { auto_fixed: number; manual: number; unclassifiable: number };
  by_type: Record<string, number>;
  totals?: Record<string, { gross: string; fee: string; net: string; matched: string; unmatched: string }>;
  report_url: string;
  error?: string;
};

async function main(): Promise<void> {
  const { api, key, config } = localApi();
  const date = option('date');
  if (!date) throw new Error('--date YYYY-MM-DD is required');
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };

  let fileKey: string | undefined;
  const file = option('file');
  if (file) {
    // The settlement bucket of the local stack: fauxqs serves S3 on the SQS port.
    const s3 = new S3Client({
      region: 'us-east-1',
      endpoint: option('s3') ?? `http://${config.host}:${config.ports.sqs}`,
      forcePathStyle: true,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    fileKey = `uploads/${date}/${Date.now()}-${path.basename(file)}`;
    // In parts, streamed: a day's file can be hundreds of MB (and the local S3 refuses bodies over 11 MiB).
    await new Upload({
      client: s3,
      params: {
        Bucket: option('bucket') ?? 'settlement',
        Key: fileKey,
        Body: fs.createReadStream(file),
        ContentType: 'text/csv',
      },
      partSize: 8 * 1024 * 1024,
      queueSize: 2,
    }).done();
    process.stdout.write(`file ${file} uploaded as ${fileKey}\n`);
  }

  const started = await fetch(`${api}/v1/reconciliation/runs`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ date, ...(fileKey && { file_key: fileKey }) }),
  });
  const body = (await started.json()) as Run & { error?: { message: string } };
  if (started.status !== 202) {
    throw new Error(`POST /v1/reconciliation/runs: ${started.status} ${body.error?.message ?? ''}`);
  }
  const runId = body.run_id;
  process.stdout.write(`reconciliation run ${runId} (${body.date}) started\n`);
  const interactive = process.stdout.isTTY;
  let run: Run = body;
  for (;;) {
    const response = await fetch(`${api}/v1/reconciliation/runs/${encodeURIComponent(runId)}`, { headers });
    run = (await response.json()) as Run;
    const shards = run.shards_total ?? 0;
    const phase = shards === 0 ? 'fetching the settlement file' : `shards ${run.shards_done ?? 0}/${shards}`;
    const line = `${bar(run.status === 'COMPLETED' ? 1 : (run.shards_done ?? 0), run.status === 'COMPLETED' ? 1 : shards || 1)} ${phase}  rows ${run.rows}`;
    process.stdout.write(interactive ? `\r${line}` : `${line}\n`);
    if (run.status !== 'RUNNING') break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  if (interactive) process.stdout.write('\n');
  if (run.status === 'FAILED') throw new Error(`run ${runId} FAILED: ${run.error ?? 'unknown error'}`);
  const m = run.mismatches;
  process.stdout.write(
    `completed: ${run.rows} rows, ${run.matched} matched, ${run.fees_booked} fees booked\n` +
      `mismatches: ${m.auto_fixed} fixed automatically, ${m.manual} for finance, ${m.unclassifiable} to investigate\n`,
  );
  for (const [type, count] of Object.entries(run.by_type)) process.stdout.write(`  ${type}: ${count}\n`);
  for (const [currency, t] of Object.entries(run.totals ?? {})) {
    process.stdout.write(`  ${currency}: gross ${t.gross}, fees ${t.fee}, net ${t.net}, unmatched ${t.unmatched}\n`);
  }
  process.stdout.write(`report: ${api}${run.report_url}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exitCode = 1;
});
