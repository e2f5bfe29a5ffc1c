/**
 * The layer rules (.dependency-cruiser.cjs) bite: the fixture tree test/fixtures/layers, a miniature of the
 * repository with one deliberate violation per `VIOLATION` file, is cruised with the real config file, unchanged,
 * and must report exactly the expected violations; the repository itself must report none.
 *
 * dependency-cruiser is ESM-only and jest runs CommonJS here, so its CLI runs in a child process (JSON output).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
const CONFIG = path.join(ROOT, '.dependency-cruiser.cjs');
const DEPCRUISE = path.join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruiser.mjs');
const FIXTURES = path.join(ROOT, 'test/fixtures/layers');
/** What `npm run lint` cruises. */
const LINTED = ['src', 'lambdas', 'local', 'scripts', 'lib', 'bin'];

interface Violation {
  type: string;
  from: string;
  to: string;
  rule: { name: string; severity: string };
  cycle?: { name: string }[];
}
interface CruiseResult {
  modules: { source: string }[];
  summary: {
    violations: Violation[];
    ruleSetUsed: { forbidden?: { name: string; from?: { path?: string | string[] } }[] };
  };
}

function cruise(cwd: string, folders: string[]): CruiseResult {
  const run = spawnSync(process.execPath, [DEPCRUISE, ...folders, '--config', CONFIG, '--output-type', 'json'], {
    cwd,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (run.error) throw run.error;
  // The exit code is the number of errors; the JSON is written either way.
  if (!run.stdout) throw new Error(`depcruise wrote nothing (exit ${run.status}): ${run.stderr}`);
  return JSON.parse(run.stdout) as CruiseResult;
}

/** An npm package's resolved path (…/node_modules/@aws-sdk/client-dynamodb/dist-es/index.js) as its name. */
const named = (module: string): string => /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(module)?.[1] ?? module;

/** `rule: from -> to`; a cycle as its modules in order, whichever module dependency-cruiser starts it from. */
function show(violation: Violation): string {
  if (violation.cycle) {
    const members = [violation.from, ...violation.cycle.map((step) => step.name)];
    return `${violation.rule.name}: ${[...new Set(members)].sort().join(' <-> ')}`;
  }
  return `${violation.rule.name}: ${violation.from} -> ${named(violation.to)}`;
}

const EXPECTED = [
  'core-imports-only-core: src/core/violates-core-imports-flow.ts -> src/payin/payment.ts',
  'cdk-only-in-infra: src/core/violates-uses-cdk.ts -> aws-cdk-lib',
  'ledger-imports-only-core: src/ledger/violates-ledger-imports-psp.ts -> src/psp/types.ts',
  'psp-imports-only-core: src/psp/violates-psp-imports-ledger.ts -> src/ledger/postings.ts',
  'flow-not-to-api: src/payin/violates-flow-imports-api.ts -> src/api/http.ts',
  'flow-not-to-other-flow: src/payout/violates-flow-imports-flow.ts -> src/payin/payment.ts',
  'src-not-to-entry-points-or-tooling: src/payin/violates-src-imports-lambdas.ts -> lambdas/catalog.ts',
  'production-not-to-test: src/payin/violates-src-imports-test.ts -> test/support/fakes.ts',
  'stripe-only-in-psp: src/payin/violates-stripe-outside-psp.ts -> stripe',
  // Directly, from a src/<capability>/domain/ module...
  'domain-stays-pure: src/payin/domain/fees.ts -> @aws-sdk/client-dynamodb',
  // ...and transitively, from a named domain module through payments-table.ts (and on through core/clients.ts).
  'domain-stays-pure: src/payin/risk.ts -> @aws-sdk/client-dynamodb',
  'domain-stays-pure: src/payin/risk.ts -> @aws-sdk/lib-dynamodb',
  'no-circular: lambdas/api/violates-cycle-handler.ts <-> lambdas/ops/violates-cycle-shared.ts',
  'lambdas-not-to-tooling: lambdas/violates-lambdas-imports-local.ts -> local/stack.ts',
  'infra-not-to-local-or-scripts: lib/violates-infra-imports-local.ts -> local/stack.ts',
].sort();

/** The fixture files without a deliberate violation. */
function cleanFixtures(): string[] {
  const files = fs.readdirSync(FIXTURES, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.ts'));
  return files
    .map((file) => file.split(path.sep).join('/'))
    .filter((file) => !fs.readFileSync(path.join(FIXTURES, file), 'utf8').includes('VIOLATION'))
    .sort();
}

describe('layer rules (.dependency-cruiser.cjs) on the fixture tree', () => {
  let fixtures: CruiseResult;
  let reported: string[];

  beforeAll(() => {
    fixtures = cruise(FIXTURES, ['src', 'lambdas', 'local', 'lib', 'test']);
    reported = fixtures.summary.violations.map(show).sort();
  }, 60_000);

  it.each(EXPECTED)('reports %s', (violation) => {
    expect(reported).toContain(violation);
  });

  it('reports every violation as an error (so lint fails), and nothing beyond the deliberate ones', () => {
    expect([...new Set(fixtures.summary.violations.map((violation) => violation.rule.severity))]).toEqual(['error']);
    expect(reported).toEqual(EXPECTED);
  });

  it('reports nothing from the clean fixture files, which were cruised', () => {
    const clean = cleanFixtures();
    expect(clean).toEqual(
      expect.arrayContaining(['src/payin/clean.ts', 'src/api/checkout.ts', 'src/psp/stripe-psp.ts']),
    );
    expect(fixtures.modules.map((module) => module.source)).toEqual(expect.arrayContaining(clean));
    const fromClean = fixtures.summary.violations.filter((violation) => clean.includes(violation.from));
    expect(fromClean.map(show)).toEqual([]);
  });

  it('has a deliberate violation for every rule of the config', () => {
    const rules = (fixtures.summary.ruleSetUsed.forbidden ?? []).map((rule) => rule.name).sort();
    const exercised = [...new Set(fixtures.summary.violations.map((violation) => violation.rule.name))].sort();
    expect(rules.length).toBeGreaterThan(0);
    expect(exercised).toEqual(rules);
  });
});

describe('layer rules (.dependency-cruiser.cjs) on the repository', () => {
  let repository: CruiseResult;

  beforeAll(() => {
    repository = cruise(ROOT, LINTED);
  }, 60_000);

  it('reports no violation in the folders npm run lint cruises', () => {
    expect(repository.summary.violations.map(show)).toEqual([]);
  });

  it('names domain modules that exist (a renamed one would silently leave the purity rule)', () => {
    const rule = (repository.summary.ruleSetUsed.forbidden ?? []).find((each) => each.name === 'domain-stays-pure');
    const modules = [rule?.from?.path ?? []]
      .flat()
      .flatMap((patterns) => patterns.split('|')) // dependency-cruiser joins a list of patterns with |
      .filter((pattern) => pattern.endsWith('\\.ts$'))
      .map((pattern) => pattern.replace(/^\^/, '').replace(/\$$/, '').replaceAll('\\.', '.'));
    expect(modules.length).toBeGreaterThan(0);
    expect(repository.modules.map((module) => module.source)).toEqual(expect.arrayContaining(modules));
  });
});
