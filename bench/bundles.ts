/**
 * The deployed functions (issue 12, part 4): each function of the catalog (lambdas/catalog.ts) bundled with esbuild
 * exactly as `cdk synth` bundles it (lib/functions.ts: NodejsFunction with minify, source map, target node22, CommonJS,
 * platform node, @aws-sdk/* external), and its module init time.
 *
 * Size: the bundle's .js (not its .map), in KB (bytes / 1024), and what is in it by package (from esbuild's metafile:
 * each input's bytes in the output, grouped as node_modules/<pkg>, node_modules/@scope/pkg, src, lambdas), with the
 * import chain from the handler to `stripe` and to `zod` (the first path of imports, breadth first).
 *
 * Init: `require()` of the bundle, timed with hrtime inside a fresh child process of this Node (22), with the
 * environment the CDK app gives the function (its tables, state machines, queues, buckets, secrets' ARNs: dummy values)
 * and those of the Lambda runtime (region, NODE_PATH to find the external @aws-sdk/* packages, as the Node 22 runtime
 * ships SDK v3). Nothing in a handler module makes a network call at import. Median of 5 runs (1 with --quick). The
 * bundles are built 2 at a time; the init runs one at a time, so that two timed children do not share the 2 cores,
 * and only once the machine is quiet (`quietMachine`, checked once before them; the idle share it found is printed and
 * kept with the results: in one full run the inits, after the load suite, read 12 ms higher on average than in a
 * bundles-only run, in two others they did not).
 *
 * Targets: every bundle at most 500 KB, every module init at most 150 ms.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { isBuiltin } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { build, type Metafile } from 'esbuild';
import { catalog, type FunctionSpec, METRICS_NAMESPACE, SERVICE_NAME } from '../lambdas/catalog';
import { type TableName, tableSchemas } from '../src/core/table-schemas';
import { formatTable, latency, type Row, type SuiteResult } from './harness';

/** The repository root: catalog entries are relative to it (lib/functions.ts's REPO_ROOT). */
const REPO_ROOT = path.resolve(__dirname, '..');

export const MAX_BUNDLE_KB = 500;
export const MAX_INIT_MS = 150;
/** Bundles built at a time. */
const BUNDLE_CONCURRENCY = 2;
/** The functions of a --quick run. */
const QUICK_FUNCTIONS = ['CreatePayment', 'Charge', 'Authorizer', 'PspWebhookProcessor'];
/** Packages whose import chains are printed for every bundle (the two the issue names). */
const TRACED_PACKAGES = ['stripe', 'zod'];
/** The bundles whose largest packages' import chains are printed. */
const EXPLAINED_FUNCTIONS = ['CreatePayment', 'Authorizer'];
/** A package with fewer bytes in a bundle has no import chain in the results. */
const CHAIN_MIN_BYTES = 10 * 1024;

const kb = (bytes: number) => Math.round((bytes / 1024) * 10) / 10;

/** What a bundle holds from one package (or src/, lambdas/). */
export interface PackageShare {
  name: string;
  bytes: number;
}

export interface BundleReport {
  id: string;
  entry: string;
  /** The bundle's .js file. */
  outfile: string;
  bytes: number;
  kb: number;
  /** Every package with bytes in the output, largest first. */
  packages: PackageShare[];
  /** The packages the bundle requires at run time (external: @aws-sdk/*, found in the runtime). */
  externals: string[];
  /** Bytes of zod's locales (node_modules/zod/.../locales/), part of zod's share. */
  zodLocalesBytes: number;
  /** By package of at least CHAIN_MIN_BYTES in the output: the import chain from the handler to its first module. */
  chains: Record<string, string[]>;
  buildMs: number;
}

/**
 * The package a metafile input belongs to: the innermost node_modules/<pkg> or node_modules/@scope/pkg, else its
 * top folder of the repository (src, lambdas), else `other`.
 */
export function packageOf(input: string): string {
  const marker = 'node_modules/';
  const at = input.lastIndexOf(marker);
  if (at >= 0) {
    const [first = '', second = ''] = input.slice(at + marker.length).split('/');
    return first.startsWith('@') ? `${first}/${second}` : first;
  }
  const top = input.split('/')[0] ?? '';
  return top === 'src' || top === 'lambdas' ? top : 'other';
}

/**
 * By package: the shortest chain of imports (breadth first) from `from` to the package's first module reached, as
 * metafile input paths (the repository's modules, then the package's). Packages not reachable are absent.
 */
export function importChains(metafile: Metafile, from: string): Record<string, string[]> {
  const previous = new Map<string, string | undefined>([[from, undefined]]);
  const chains: Record<string, string[]> = {};
  const queue = [from];
  for (let i = 0; i < queue.length; i++) {
    const current = queue[i]!;
    const name = packageOf(current);
    if (current.includes('node_modules/') && !(name in chains)) {
      const chain: string[] = [];
      for (let at: string | undefined = current; at !== undefined; at = previous.get(at)) chain.unshift(at);
      chains[name] = chain;
    }
    for (const imported of metafile.inputs[current]?.imports ?? []) {
      if (imported.external || previous.has(imported.path) || !(imported.path in metafile.inputs)) continue;
      previous.set(imported.path, current);
      queue.push(imported.path);
    }
  }
  return chains;
}

/** Bundles one function as the CDK app does, into `outdir/<id>/index.js` (and its map). */
export async function bundleFunction(spec: Pick<FunctionSpec, 'id' | 'entry'>, outdir: string): Promise<BundleReport> {
  const outfile = path.join(outdir, spec.id, 'index.js');
  const started = performance.now();
  // lib/functions.ts: bundling { minify, sourceMap, target node22, format cjs, externalModules ['@aws-sdk/*'] };
  // NodejsFunction runs `esbuild --bundle <entry> --target=node22 --platform=node --format=cjs --outfile=...
  // --minify --sourcemap --external:@aws-sdk/*` from the project root.
  const result = await build({
    absWorkingDir: REPO_ROOT,
    entryPoints: [path.join(REPO_ROOT, spec.entry)],
    bundle: true,
    target: 'node22',
    platform: 'node',
    format: 'cjs',
    outfile,
    minify: true,
    sourcemap: true,
    external: ['@aws-sdk/*'],
    metafile: true,
    logLevel: 'error',
  });
  const buildMs = performance.now() - started;
  const bytes = fs.statSync(outfile).size;
  const output = Object.entries(result.metafile.outputs).find(([file]) => file.endsWith('.js'))?.[1];
  if (!output) throw new Error(`${spec.id}: esbuild reported no .js output`);
  const shares = new Map<string, number>();
  let zodLocalesBytes = 0;
  for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
    const name = packageOf(input);
    shares.set(name, (shares.get(name) ?? 0) + bytesInOutput);
    if (name === 'zod' && /\/locales\//.test(input)) zodLocalesBytes += bytesInOutput;
  }
  const packages = [...shares]
    .map(([name, share]) => ({ name, bytes: share }))
    .filter((share) => share.bytes > 0)
    .sort((a, b) => b.bytes - a.bytes);
  const entryInput = path.relative(REPO_ROOT, path.join(REPO_ROOT, spec.entry)).split(path.sep).join('/');
  // The chains of the packages that weigh something in the output (at least CHAIN_MIN_BYTES).
  const chains = Object.fromEntries(
    Object.entries(importChains(result.metafile, entryInput)).filter(
      ([name]) => (shares.get(name) ?? 0) >= CHAIN_MIN_BYTES,
    ),
  );
  const externals = [
    ...new Set(
      Object.values(result.metafile.inputs).flatMap((input) =>
        input.imports
          .filter((imported) => imported.external && !isBuiltin(imported.path))
          .map((imported) => imported.path),
      ),
    ),
  ].sort();
  return {
    id: spec.id,
    entry: spec.entry,
    outfile,
    bytes,
    kb: kb(bytes),
    packages,
    externals,
    zodLocalesBytes,
    chains,
    buildMs,
  };
}

/**
 * The environment of the deployed function (lib/functions.ts), with dummy names and ARNs, and what the Lambda
 * runtime sets (region, function name, NODE_PATH: where the runtime's own @aws-sdk/* packages are found).
 */
export function functionEnvironment(spec: FunctionSpec<string, string>): Record<string, string> {
  const account = '123456789012';
  const region = 'us-east-1';
  const env: Record<string, string> = {
    // The Lambda runtime's.
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
    AWS_LAMBDA_FUNCTION_NAME: `payments-${spec.id}`,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(spec.memoryMb ?? 512),
    AWS_ACCESS_KEY_ID: 'AKIABENCHMARKDUMMY00',
    AWS_SECRET_ACCESS_KEY: 'bench-dummy-secret',
    AWS_SESSION_TOKEN: 'bench-dummy-token',
    TZ: 'UTC',
    NODE_PATH: path.join(REPO_ROOT, 'node_modules'),
    // The CDK app's (lib/functions.ts).
    POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
    POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
    POWERTOOLS_LOG_LEVEL: 'INFO',
    NODE_OPTIONS: '--enable-source-maps',
    PLATFORM_FEE_BPS: '0',
  };
  for (const name of Object.keys(spec.tables) as TableName[]) {
    env[tableSchemas[name].envVar] = `payments-${tableSchemas[name].id}-bench`;
  }
  const secret = (name: string) => `arn:aws:secretsmanager:${region}:${account}:secret:${name}-AbCdEf`;
  if (spec.psp) env.PSP_SECRET_ARN = secret('psp');
  if (spec.pspConnect) env.PSP_CONNECT_SECRET_ARN = secret('psp-connect');
  if (spec.webhookSecret) env.PSP_WEBHOOK_SECRET_ARN = secret('psp-webhook');
  const allQueues: Record<string, { id: string; envVar: string }> = { ...catalog.queues, ...catalog.workQueues };
  for (const name of spec.sendsTo ?? []) {
    const queue = allQueues[name];
    if (queue) env[queue.envVar] = `https://sqs.${region}.amazonaws.com/${account}/${queue.id}`;
  }
  for (const name of [...(spec.startsWorkflows ?? []), ...(spec.readsHistoryOf ?? [])]) {
    const machine = catalog.stateMachines[name];
    if (machine) env[machine.envVar] = `arn:aws:states:${region}:${account}:stateMachine:${machine.id}`;
  }
  for (const name of Object.keys(spec.buckets ?? {})) {
    const bucket = catalog.buckets[name];
    if (bucket) env[bucket.envVar] = `payments-${bucket.id.toLowerCase()}-bench`;
  }
  return env;
}

/**
 * Run in the child: requires the modules named in its arguments (a bundle, or packages) between two hrtime readings
 * and prints the time, and the type of the last module's `handler` export, or the error, as JSON.
 */
const INIT_SCRIPT = `
const modules = process.argv.slice(1);
const started = process.hrtime.bigint();
try {
  let mod;
  for (const name of modules) mod = require(name);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  process.stdout.write(JSON.stringify({ ms, handler: typeof (mod && mod.handler) }));
} catch (error) {
  process.stdout.write(JSON.stringify({ error: String((error && error.stack) || error).slice(0, 2000) }));
}
process.exit(0);
`;

/**
 * One module init in a fresh Node process: milliseconds of `require()` of the modules in order (a bundle's file, or
 * package names, found through the environment's NODE_PATH). With `handler`, the last one must export a function
 * `handler`.
 */
export function measureInit(
  modules: string[],
  env: Record<string, string>,
  options: { cwd: string; handler: boolean },
): Promise<number> {
  const what = modules.join(', ');
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['-e', INIT_SCRIPT, ...modules],
      { env, cwd: options.cwd, timeout: 60_000, maxBuffer: 1 << 20 },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`init of ${what} failed: ${error.message}\n${stderr}`));
        let result: { ms?: number; handler?: string; error?: string };
        try {
          result = JSON.parse(stdout);
        } catch {
          return reject(new Error(`init of ${what}: unexpected output ${stdout.slice(0, 500)}\n${stderr}`));
        }
        if (result.error) return reject(new Error(`init of ${what} threw: ${result.error}`));
        if (options.handler && result.handler !== 'function') {
          return reject(new Error(`${what} exports no handler function`));
        }
        resolve(result.ms ?? Number.NaN);
      },
    );
  });
}

/** CPU time of this machine so far: idle and total, in ms (os.cpus(), every core). */
export type CpuSample = () => { idle: number; total: number };
const cpuTimes: CpuSample = () => {
  let idle = 0;
  let total = 0;
  for (const cpu of os.cpus()) {
    idle += cpu.times.idle;
    total += cpu.times.idle + cpu.times.user + cpu.times.nice + cpu.times.sys + cpu.times.irq;
  }
  return { idle, total };
};

/**
 * Waits until the machine's CPUs are mostly idle (two windows in a row at `idle` or more of their time), at most
 * `maxMs`, so that a timed init does not share the cores with what ran before. Answers the idle share of the last
 * window, whether it was quiet, and how long it waited.
 */
export async function quietMachine(
  options: { idle?: number; maxMs?: number; windowMs?: number; sample?: CpuSample } = {},
): Promise<{ idle: number; quiet: boolean; waitedMs: number }> {
  const { idle: wanted = 0.85, maxMs = 60_000, windowMs = 500, sample = cpuTimes } = options;
  const started = performance.now();
  let calm = 0;
  let share = 0;
  while (true) {
    const before = sample();
    await new Promise((resolve) => setTimeout(resolve, windowMs));
    const after = sample();
    const total = after.total - before.total;
    // No CPU time to read (no cores listed): not known to be quiet.
    if (total <= 0) return { idle: Number.NaN, quiet: false, waitedMs: performance.now() - started };
    share = (after.idle - before.idle) / total;
    calm = share >= wanted ? calm + 1 : 0;
    const waitedMs = performance.now() - started;
    if (calm >= 2) return { idle: share, quiet: true, waitedMs };
    if (waitedMs >= maxMs) return { idle: share, quiet: false, waitedMs };
  }
}

/** Runs `work` over the items, at most `limit` at a time, results in the items' order. */
async function pool<T, R>(items: T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

const topShares = (packages: PackageShare[], n = 3) =>
  packages
    .slice(0, n)
    .map((share) => `${share.name} ${Math.round(share.bytes / 1024)} KB`)
    .join(', ');

/**
 * A chain for printing: the repository's modules as they are, then in node_modules the first module reached of each
 * package, from the package's folder (`zod/index.js`).
 */
function formatChain(chain: string[]): string {
  const shown: string[] = [];
  let last = '';
  for (const input of chain) {
    const at = input.lastIndexOf('node_modules/');
    if (at < 0) {
      shown.push(input);
      last = '';
      continue;
    }
    const name = packageOf(input);
    if (name !== last) shown.push(input.slice(at + 'node_modules/'.length));
    last = name;
  }
  return shown.join(' -> ');
}

export async function bundlesSuite({ quick = false }: { quick?: boolean }): Promise<SuiteResult> {
  const specs = Object.values(catalog.functions).filter((spec) => !quick || QUICK_FUNCTIONS.includes(spec.id));
  const runs = quick ? 1 : 5;
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'payments-bundles-'));
  process.stdout.write(
    `\nbundles: ${specs.length} functions, built ${BUNDLE_CONCURRENCY} at a time into ${outdir}; init ${runs}× each\n`,
  );
  try {
    const started = performance.now();
    let built = 0;
    const bundles = await pool(specs, BUNDLE_CONCURRENCY, async (spec) => {
      const report = await bundleFunction(spec, outdir);
      built++;
      process.stdout.write(
        `  built [${built}/${specs.length}] ${spec.id}: ${report.kb} KB (${Math.round(report.buildMs)} ms)\n`,
      );
      return report;
    });
    const buildSeconds = (performance.now() - started) / 1000;
    const quiet = await quietMachine({ maxMs: quick ? 5_000 : 60_000 });
    process.stdout.write(
      quiet.quiet
        ? `  machine quiet for the inits: ${Math.round(quiet.idle * 100)}% idle (waited ${(quiet.waitedMs / 1000).toFixed(1)} s)\n`
        : Number.isNaN(quiet.idle)
          ? '  machine: its CPU times could not be read; init times timed without waiting\n'
          : `  machine still busy after ${(quiet.waitedMs / 1000).toFixed(1)} s (${Math.round(quiet.idle * 100)}% idle): init times may read high\n`,
    );
    // One unmeasured init first: it reads the @aws-sdk/* packages from disk into the OS cache for all the others.
    if (bundles[0]) {
      await measureInit([bundles[0].outfile], functionEnvironment(specs[0]!), { cwd: outdir, handler: true });
    }
    const inits: number[][] = [];
    for (const [i, bundle] of bundles.entries()) {
      const env = functionEnvironment(specs[i]!);
      const times: number[] = [];
      for (let run = 0; run < runs; run++) {
        times.push(await measureInit([bundle.outfile], env, { cwd: outdir, handler: true }));
      }
      inits.push(times);
      process.stdout.write(
        `  init  [${i + 1}/${bundles.length}] ${bundle.id}: ${times.map((ms) => ms.toFixed(1)).join(' / ')} ms\n`,
      );
    }
    // For reference: the part of an init that is the runtime's @aws-sdk/* packages (the bundle's externals) alone,
    // required in the same way; once per distinct set of externals.
    const sdkInits = new Map<string, number[]>();
    for (const [i, bundle] of bundles.entries()) {
      const key = bundle.externals.join(' ');
      if (sdkInits.has(key)) continue;
      const times: number[] = [];
      for (let run = 0; run < runs; run++) {
        if (bundle.externals.length === 0) break;
        times.push(
          await measureInit(bundle.externals, functionEnvironment(specs[i]!), { cwd: outdir, handler: false }),
        );
      }
      sdkInits.set(key, times);
      process.stdout.write(
        `  init  of ${bundle.externals.join(', ') || 'no externals'} alone: ${times.map((ms) => ms.toFixed(1)).join(' / ')} ms\n`,
      );
    }
    const sdkMedians = bundles.map((bundle) => {
      const times = sdkInits.get(bundle.externals.join(' ')) ?? [];
      return times.length > 0 ? median(times) : 0;
    });

    const medians = inits.map(median);
    const rows: Row[] = bundles.map((bundle, i) => ({
      name: bundle.id,
      ...latency(inits[i]!),
      note: `${bundle.kb} KB; ${topShares(bundle.packages)}`,
    }));
    const overSize = bundles.filter((bundle) => bundle.kb > MAX_BUNDLE_KB);
    const overInit = bundles.filter((_, i) => medians[i]! > MAX_INIT_MS);
    const table = bundles.map((bundle, i) => [
      bundle.id,
      bundle.kb.toFixed(1),
      medians[i]!.toFixed(1),
      sdkMedians[i]!.toFixed(1),
      `${bundle.kb > MAX_BUNDLE_KB ? 'size' : ''}${bundle.kb > MAX_BUNDLE_KB && medians[i]! > MAX_INIT_MS ? '+' : ''}${medians[i]! > MAX_INIT_MS ? 'init' : ''}`,
      topShares(bundle.packages),
    ]);
    process.stdout.write(
      `\nFunction bundles (esbuild as cdk synth; init ${runs > 1 ? `median of ${runs}` : 'once'}; built in ${buildSeconds.toFixed(1)} s)\n` +
        `${formatTable(['function', 'KB', 'init ms', 'SDK alone ms', 'over', 'top 3 by package'], table)}\n`,
    );
    const sizes = bundles.map((bundle) => bundle.kb);
    process.stdout.write(
      `bundle size: min ${Math.min(...sizes)} KB, median ${median(sizes).toFixed(1)} KB, max ${Math.max(...sizes)} KB; ` +
        `init median: min ${Math.min(...medians).toFixed(1)} ms, max ${Math.max(...medians).toFixed(1)} ms\n` +
        `${overSize.length} of ${bundles.length} bundles over ${MAX_BUNDLE_KB} KB; ` +
        `${overInit.length} of ${bundles.length} over ${MAX_INIT_MS} ms of module init\n`,
    );

    // Why stripe and zod are in a bundle: the first edge from the repository into each package, and how many
    // bundles reach the package through it.
    const withPackage = (name: string) => bundles.filter((bundle) => bundle.chains[name]);
    for (const name of TRACED_PACKAGES) {
      const holders = withPackage(name);
      const edges = new Map<string, number>();
      for (const bundle of holders) {
        const chain = bundle.chains[name]!;
        const edge = formatChain(chain.slice(-2));
        edges.set(edge, (edges.get(edge) ?? 0) + 1);
      }
      const shares = holders.map((bundle) => bundle.packages.find((share) => share.name === name)?.bytes ?? 0);
      process.stdout.write(
        `${name}: in ${holders.length} of ${bundles.length} bundles` +
          (holders.length > 0 ? ` (${kb(Math.min(...shares))}-${kb(Math.max(...shares))} KB each)` : '') +
          (name === 'zod' && holders.length > 0
            ? `, of which locales ${kb(Math.max(...holders.map((bundle) => bundle.zodLocalesBytes)))} KB at most`
            : '') +
          '\n',
      );
      for (const [edge, count] of edges) {
        process.stdout.write(`  via ${edge} (${count} bundle${count === 1 ? '' : 's'})\n`);
      }
    }
    for (const id of EXPLAINED_FUNCTIONS) {
      const bundle = bundles.find((candidate) => candidate.id === id);
      if (!bundle) continue;
      process.stdout.write(`${id}: import chains of its packages of ${kb(CHAIN_MIN_BYTES)} KB or more\n`);
      for (const share of bundle.packages) {
        const chain = bundle.chains[share.name];
        if (chain) process.stdout.write(`  ${share.name} (${kb(share.bytes)} KB): ${formatChain(chain)}\n`);
      }
    }

    return {
      suite: 'bundles',
      rows,
      details: {
        init_runs: runs,
        // Before the inits (checked once).
        init_machine_idle: Number.isNaN(quiet.idle) ? null : Math.round(quiet.idle * 100) / 100,
        init_machine_quiet: quiet.quiet,
        max_bundle_kb: MAX_BUNDLE_KB,
        max_init_ms: MAX_INIT_MS,
        build_seconds: Math.round(buildSeconds * 10) / 10,
        bundles_over_size: overSize.map((bundle) => bundle.id),
        bundles_over_init: overInit.map((bundle) => bundle.id),
        functions: bundles.map((bundle, i) => ({
          id: bundle.id,
          entry: bundle.entry,
          bundle_bytes: bundle.bytes,
          bundle_kb: bundle.kb,
          init_ms_median: Math.round(medians[i]! * 10) / 10,
          init_ms_runs: inits[i]!.map((ms) => Math.round(ms * 10) / 10),
          external_packages: bundle.externals,
          externals_init_ms_median: Math.round(sdkMedians[i]! * 10) / 10,
          packages_kb: Object.fromEntries(bundle.packages.map((share) => [share.name, kb(share.bytes)])),
          zod_locales_kb: kb(bundle.zodLocalesBytes),
          import_chains: bundle.chains,
        })),
      },
      targets: {
        // Stable names (comparable across runs); how many are over is in details.
        [`every bundle at most ${MAX_BUNDLE_KB} KB`]: overSize.length === 0,
        [`every module init at most ${MAX_INIT_MS} ms (median)`]: overInit.length === 0,
      },
    };
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}
