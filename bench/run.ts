/**
 * The project's benchmark: `npm run bench` (every suite), `npm run bench -- api-keys` (some), `-- --quick` (short
 * runs, to check the benchmark itself). Suites run in this process against DynamoDB Local in memory (needs Java, like
 * `npm start`); each prints a table, and the results of the run are written as JSON to bench-results/ (git-ignored):
 * a timestamped file and latest.json. Targets are printed as PASS/FAIL; the exit code is 0 either way (a benchmark
 * informs, the tests decide).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ensureTables, startDynamoDbLocal } from '../local/dynamodb';
import { freePort } from '../local/processes';
import { tableSchemas } from '../src/core/table-schemas';
import { apiKeysSuite } from './api-keys';
import { bundlesSuite } from './bundles';
import { environment, formatTable, type SuiteResult, writeResults } from './harness';
import { payinSuite } from './payin';
import { payoutRunSuite } from './payout-run';
import { reconcileE2eSuite } from './reconcile-e2e';
import { reconcileMatchSuite } from './reconcile-match';

interface BenchContext {
  client: DynamoDBDocumentClient;
  quick: boolean;
}

/** The suites, by name. A new suite: a module of bench/ returning a SuiteResult, registered here. */
const suites: Record<string, (context: BenchContext) => Promise<SuiteResult>> = {
  // Starts two local stacks (child processes, in memory): the pay-in counted, under load, and the store's ceiling.
  payin: ({ quick }) => payinSuite({ quick }),
  'api-keys': ({ client, quick }) => apiKeysSuite({ client, tableName: tableSchemas.apiKeys.id, quick }),
  // Starts its own local stack (a child process, in memory).
  'payout-run': ({ quick }) => payoutRunSuite({ quick }),
  // Reconciliation's matching code in memory (no DynamoDB): 1,000,000 rows against 1,000,000 ledger transactions.
  'reconcile-match': ({ quick }) => reconcileMatchSuite({ quick }),
  // Starts its own local stack (a child process, in memory): 100,000 rows reconciled end to end over the API.
  'reconcile-e2e': ({ quick }) => reconcileE2eSuite({ quick }),
  // Every function of the catalog bundled as `cdk synth` does (esbuild): its size, by package, and its module init time.
  bundles: ({ quick }) => bundlesSuite({ quick }),
};

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    args: process.argv.slice(2),
    allowPositionals: true,
    options: { quick: { type: 'boolean', default: false } },
  });
  const unknown = positionals.filter((name) => !(name in suites));
  if (unknown.length > 0)
    throw new Error(`unknown suite ${unknown.join(', ')}; suites: ${Object.keys(suites).join(', ')}`);
  const selected = positionals.length > 0 ? positionals : Object.keys(suites);
  const startedAt = new Date();
  const env = environment();
  process.stdout.write(`bench: ${selected.join(', ')} on Node ${env.node}, ${env.cpus} × ${env.cpu}\n`);

  const host = '127.0.0.1';
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'payments-bench-'));
  const dynamo = await startDynamoDbLocal({ host, port: await freePort(host), dataDir, inMemory: true });
  const stop = async () => {
    await dynamo.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  process.once('SIGINT', () => {
    stop().finally(() => process.exit(130));
  });
  try {
    await ensureTables(
      dynamo.client,
      Object.values(tableSchemas).map((schema) => ({ schema, name: schema.id })),
    );
    // As the functions build theirs (src/core/clients.ts).
    const client = DynamoDBDocumentClient.from(dynamo.client, { marshallOptions: { removeUndefinedValues: true } });
    const results: SuiteResult[] = [];
    for (const name of selected) results.push(await suites[name]!({ client, quick: values.quick }));
    const targets = results.flatMap((result) =>
      Object.entries(result.targets ?? {}).map(([target, met]) => [result.suite, target, met ? 'PASS' : 'FAIL']),
    );
    if (targets.length > 0) process.stdout.write(`\nTargets\n${formatTable(['suite', 'target', ''], targets)}\n`);
    const file = writeResults(results, startedAt);
    process.stdout.write(`\nresults: ${path.relative(process.cwd(), file)} (and bench-results/latest.json)\n`);
  } finally {
    await stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
