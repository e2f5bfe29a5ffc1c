import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleFunction, type CpuSample, packageOf, quietMachine } from '../../bench/bundles';
import { functions } from '../../lambdas/catalog';

describe('Module: bench/bundles', () => {
  describe('Function: packageOf', () => {
    it.each([
      ['node_modules/zod/v4/locales/en.js', 'zod'],
      ['node_modules/@aws-lambda-powertools/logger/lib/esm/index.js', '@aws-lambda-powertools/logger'],
      ['node_modules/stripe/node_modules/qs/lib/index.js', 'qs'],
      ['src/core/clients.ts', 'src'],
      ['lambdas/api/authorizer.ts', 'lambdas'],
      ['package.json', 'other'],
    ])('puts %s in %s', (input, name) => {
      expect(packageOf(input)).toBe(name);
    });
  });

  describe('Function: quietMachine', () => {
    /** A machine whose windows are busy, then idle, by the idle shares given (each window 100 ms of CPU). */
    const machine = (shares: number[]): CpuSample => {
      let idle = 0;
      let total = 0;
      let reads = 0;
      return () => {
        // Each window is two reads (before, after): the second read of a window adds that window's time.
        if (reads % 2 === 1) {
          const share = shares[Math.min((reads - 1) / 2, shares.length - 1)]!;
          idle += 100 * share;
          total += 100;
        }
        reads++;
        return { idle, total };
      };
    };

    it('waits for two quiet windows in a row, and says how idle the machine was', async () => {
      const quiet = await quietMachine({ windowMs: 1, sample: machine([0.2, 0.9, 0.3, 0.9, 0.95]) });
      expect(quiet).toMatchObject({ quiet: true, idle: 0.95 });
    });

    it('a machine whose CPU times cannot be read is not called quiet', async () => {
      const unknown = await quietMachine({ windowMs: 1, sample: () => ({ idle: 0, total: 0 }) });
      expect(unknown.quiet).toBe(false);
      expect(unknown.idle).toBeNaN();
    });

    it('gives up after its bound on a busy machine, and says so', async () => {
      const busy = await quietMachine({ windowMs: 1, maxMs: 20, sample: machine([0.4]) });
      expect(busy).toMatchObject({ quiet: false, idle: 0.4 });
      expect(busy.waitedMs).toBeGreaterThanOrEqual(20);
    });
  });

  describe('Function: bundleFunction', () => {
    let outdir: string;
    beforeAll(() => {
      outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-bundles-test-'));
    });
    afterAll(() => {
      fs.rmSync(outdir, { recursive: true, force: true });
    });

    it('reports the size of the bundle it wrote, and packages that add up to at most that', async () => {
      const report = await bundleFunction(functions.Authorizer, outdir);

      const written = fs.statSync(report.outfile).size;
      expect(report.outfile).toBe(path.join(outdir, 'Authorizer', 'index.js'));
      expect(report.bytes).toBeGreaterThan(0);
      expect(report.bytes).toBe(written);
      expect(report.kb).toBe(Math.round((written / 1024) * 10) / 10);
      // The source map is written beside it, and not counted.
      expect(fs.existsSync(`${report.outfile}.map`)).toBe(true);

      const attributed = report.packages.reduce((sum, share) => sum + share.bytes, 0);
      expect(attributed).toBeGreaterThan(0);
      expect(attributed).toBeLessThanOrEqual(report.bytes);
      expect(report.packages.map((share) => share.bytes)).toEqual(
        [...report.packages.map((share) => share.bytes)].sort((a, b) => b - a),
      );
      expect(report.packages.some((share) => share.name === 'src')).toBe(true);
      // The AWS SDK stays outside the bundle (the runtime provides it).
      expect(report.packages.some((share) => share.name.startsWith('@aws-sdk/'))).toBe(false);
      expect(report.externals.length).toBeGreaterThan(0);
      expect(report.externals.every((name) => name.startsWith('@aws-sdk/'))).toBe(true);
      for (const chain of Object.values(report.chains)) expect(chain[0]).toBe('lambdas/api/authorizer.ts');
    }, 20_000);
  });
});
