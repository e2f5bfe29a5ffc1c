/**
 * The PSP's SDK is in exactly the functions that may call the PSP: those the catalog lets read a PSP key (the payments
 * key, the Connect key, or the webhook signing secret, which stripe verifies). Each flow's dependency module leaves
 * the PSP to be provided (src/core/provided.ts) by its `with-psp` module, which those functions import; a function
 * that calls the PSP without importing it would fail at run time, and would fail here first. The bundles are built
 * as `cdk synth` builds them (bench/bundles.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleFunction } from '../../bench/bundles';
import { catalog, type FunctionSpec } from '../../lambdas/catalog';

jest.setTimeout(300_000);

const specs = Object.values(catalog.functions) as FunctionSpec[];
const mayCallPsp = (spec: FunctionSpec) => Boolean(spec.psp || spec.pspConnect || spec.webhookSecret);

describe('the PSP SDK in the bundles', () => {
  let outdir: string;
  const withStripe = new Map<string, boolean>();

  beforeAll(async () => {
    outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'psp-bundles-'));
    const queue = [...specs];
    await Promise.all(
      [0, 1].map(async () => {
        for (let spec = queue.shift(); spec; spec = queue.shift()) {
          const report = await bundleFunction(spec, outdir);
          withStripe.set(
            spec.id,
            report.packages.some((p) => p.name === 'stripe'),
          );
        }
      }),
    );
  });

  afterAll(() => fs.rmSync(outdir, { recursive: true, force: true }));

  test('every function was bundled, and both kinds exist (the check can fail either way)', () => {
    expect(withStripe.size).toBe(specs.length);
    expect(specs.filter(mayCallPsp).length).toBeGreaterThan(0);
    expect(specs.filter((spec) => !mayCallPsp(spec)).length).toBeGreaterThan(0);
  });

  test.each(specs.map((spec) => [spec.id, mayCallPsp(spec)] as const))(
    '%s: stripe bundled exactly when it may read a PSP key (%s)',
    (id, may) => {
      expect([id, withStripe.get(id)]).toEqual([id, may]);
    },
  );
});
