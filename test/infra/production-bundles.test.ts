/**
 * The deployed code holds no local test machinery: every handler of lambdas/catalog.ts, bundled as the CDK app
 * bundles it (lib/functions.ts, NodejsFunction `bundling`), contains no crash-injection code and no file of local/.
 * Crash injection lives in the local Lambda runtime (local/faults.ts); the positive controls below show that the
 * check finds it when a bundle does include it.
 */
import path from 'node:path';
import { type BuildOptions, type BuildResult, build } from 'esbuild';
import { type FunctionSpec, functions } from '../../lambdas/catalog';

const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** The esbuild options of NodejsFunction for lib/functions.ts's `bundling` (minify, sourceMap, node22, CJS). */
const CDK_BUNDLING: BuildOptions = {
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'cjs',
  minify: true,
  sourcemap: true,
  external: ['@aws-sdk/*'],
  outfile: path.join(REPO_ROOT, 'cdk.out', 'bundle', 'index.js'),
  write: false,
  metafile: true,
  logLevel: 'silent',
};

const FORBIDDEN = ['fault_crash', 'LOCAL_FAULT_INJECTION', 'injected crash'];

interface Bundle {
  /** index.js and index.js.map, as deployed. */
  files: { path: string; text: string }[];
  /** The source files bundled, relative to the repository root. */
  inputs: string[];
}

function asBundle(result: BuildResult<{ write: false; metafile: true }>): Bundle {
  return {
    files: result.outputFiles.map((file) => ({ path: path.basename(file.path), text: file.text })),
    inputs: Object.keys(result.metafile.inputs),
  };
}

async function bundleEntry(entry: string): Promise<Bundle> {
  return asBundle(
    (await build({ ...CDK_BUNDLING, entryPoints: [path.join(REPO_ROOT, entry)] })) as BuildResult<{
      write: false;
      metafile: true;
    }>,
  );
}

/** A TypeScript entry given as text, resolved from the repository root. */
async function bundleSource(contents: string): Promise<Bundle> {
  return asBundle(
    (await build({
      ...CDK_BUNDLING,
      stdin: { contents, resolveDir: REPO_ROOT, sourcefile: 'control-entry.ts', loader: 'ts' },
    })) as BuildResult<{ write: false; metafile: true }>,
  );
}

/** What the check finds: each forbidden string in each output file, and each bundled file of local/. */
function crashInjectionIn(bundle: Bundle): string[] {
  return [
    ...bundle.files.flatMap((file) =>
      FORBIDDEN.filter((needle) => file.text.includes(needle)).map((needle) => `${file.path}: '${needle}'`),
    ),
    ...bundle.inputs.filter((input) => input.startsWith('local/')).map((input) => `bundles ${input}`),
  ];
}

describe('production bundles', () => {
  const specs: FunctionSpec[] = Object.values(functions);
  let bundles: Map<string, Bundle>;

  beforeAll(async () => {
    const built = await Promise.all(specs.map(async (spec) => [spec.id, await bundleEntry(spec.entry)] as const));
    bundles = new Map(built);
  }, 120_000);

  it('bundles every function of the catalog', () => {
    expect(specs.length).toBeGreaterThan(0);
    for (const spec of specs) {
      const bundle = bundles.get(spec.id);
      expect(bundle?.files.map((file) => file.path).sort()).toEqual(['index.js', 'index.js.map']);
      expect(bundle?.inputs).toContain(spec.entry);
    }
  });

  it('contain no crash-injection code and nothing of local/', () => {
    const found = specs.flatMap((spec) =>
      crashInjectionIn(bundles.get(spec.id) as Bundle).map((what) => `${spec.id}: ${what}`),
    );
    expect(found).toEqual([]);
  });

  describe('the check itself', () => {
    it('finds the local crash injection when a handler bundle includes it', async () => {
      const bundle = await bundleSource(
        [
          "import { handler as step } from './lambdas/payin/credit-wallet';",
          "import { withCrashInjection } from './local/faults';",
          "export const handler = withCrashInjection('CreditWallet', step as never);",
        ].join('\n'),
      );
      const found = crashInjectionIn(bundle);
      for (const needle of FORBIDDEN) expect(found).toContain(`index.js: '${needle}'`);
      expect(found).toContain('bundles local/faults.ts');
    }, 60_000);

    it('finds crash injection written inline in a step, as it was in src/payin/faults.ts', async () => {
      const bundle = await bundleSource(
        [
          'export function crashPoint(point: string, order: { payment_order_id: string; seller_account: string }) {',
          "  if (process.env.LOCAL_FAULT_INJECTION !== 'true') return;",
          "  if (!order.seller_account.startsWith('fault_crash_' + point)) return;",
          "  throw new Error('injected crash ' + point + ' of order ' + order.payment_order_id);",
          '}',
        ].join('\n'),
      );
      expect(crashInjectionIn(bundle).filter((what) => what.startsWith('index.js:'))).toEqual(
        FORBIDDEN.map((needle) => `index.js: '${needle}'`),
      );
    });
  });
});
