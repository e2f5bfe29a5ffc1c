/**
 * CI fuzz test: at least 5,000 generated bad requests per run against the local stack (malformed and too-deep JSON,
 * wrong types, amounts the currency's exponent does not allow, card numbers in any field, bad headers, bad API keys,
 * bad paths, bad webhooks; see test/support/fuzz-cases.ts). Every answer must be a 4xx with a JSON error
 * (`error.code`, `error.message`) that, for a 400, names the field or header; no 5xx, no 2xx; and nothing may be
 * stored: the item count of every table (the idempotency table included) and the PSP's charges, PaymentIntents and
 * Checkout Sessions are the same before and after.
 *
 * Each class of bad request is a fast-check property with its own seed (the run's seed + the class's index); the
 * classes run side by side, requests at most CONCURRENCY at a time. The run's seed is printed first.
 * Replay a run: FUZZ_SEED=<seed>; one class: FUZZ_KINDS=<class>[,<class>...]; one counterexample: add
 * FUZZ_PATH=<path from the report> with that single class.
 */
import * as fc from 'fast-check';
import { stackInfo } from '../support/api-client';
import { type FuzzCase, type FuzzKind, fuzzKinds } from '../support/fuzz-cases';
import {
  closeStoreClients,
  excerpt,
  type FuzzContext,
  judge,
  Limiter,
  materialize,
  type RawResponse,
  send,
  settledSnapshot,
  snapshot,
  stackWebhookSecret,
  storeChanges,
} from '../support/fuzz-http';

const MIN_REQUESTS = 5_000;
const CONCURRENCY = 12;

jest.setTimeout(300_000);

function runSeed(): number {
  const raw = process.env.FUZZ_SEED;
  if (raw === undefined || raw === '') return (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;
  const seed = Number(raw);
  if (!Number.isInteger(seed)) throw new Error(`FUZZ_SEED must be an integer, got ${raw}`);
  return seed | 0;
}

/** Long bodies (deep JSON, padding) shortened for the report: repeated runs collapsed, then cut. */
function compact(text: string, max = 700): string {
  const collapsed = text.replace(/(.{1,6}?)\1{9,}/gs, (run, unit: string) => `${unit}{x${run.length / unit.length}}`);
  return collapsed.length > max ? `${collapsed.slice(0, max)}...(${text.length} chars)` : collapsed;
}

/** How a counterexample is printed by fast-check. */
function printable(c: FuzzCase): FuzzCase {
  return Object.assign(c, {
    [fc.toStringMethod]: () =>
      JSON.stringify(
        {
          ...c,
          body: c.body === undefined ? undefined : compact(c.body),
          bodyHex: c.bodyHex === undefined ? undefined : compact(c.bodyHex, 200),
        },
        null,
        1,
      ).replace(/\n\s*/g, ' '),
  });
}

/** Every distinct failure seen (by class and problem), with a few examples: shrinking keeps only one per class. */
class FailureLog {
  private readonly groups = new Map<string, { count: number; examples: string[] }>();

  get size() {
    return this.groups.size;
  }

  record(c: FuzzCase, problems: string[], response: RawResponse) {
    // By class, problem and the shape of why the case is bad (quoted values and numbers left out).
    const shape = c.why.map((w) => w.replace(/"(?:[^"\\]|\\.)*"/g, '"…"').replace(/\d+/g, 'N')).join(' + ');
    const key = `[${c.kind}] ${problems.join('; ')} <- ${shape}`;
    const group = this.groups.get(key) ?? { count: 0, examples: [] };
    group.count++;
    if (group.examples.length < 3) {
      const body = c.body === undefined ? '' : ` body ${compact(c.body, 160)}`;
      group.examples.push(
        `${c.why.join(' + ')} :: ${c.method} ${compact(c.path, 100)}${body} -> ${excerpt(response, 200)}`,
      );
    }
    this.groups.set(key, group);
  }

  summary(): string {
    return [...this.groups.entries()]
      .map(([key, { count, examples }]) => `${key} (${count}x)\n${examples.map((e) => `    e.g. ${e}`).join('\n')}`)
      .join('\n');
  }
}

describe('fuzz: bad requests to the local stack', () => {
  afterAll(() => closeStoreClients());

  it('refuses every generated bad request with a 4xx JSON error naming the field or header, and stores nothing', async () => {
    const seed = runSeed();
    const only = process.env.FUZZ_KINDS?.split(',')
      .map((k) => k.trim())
      .filter(Boolean);
    const replayPath = process.env.FUZZ_PATH || undefined;
    // FUZZ_SURVEY=1: send every case and list each distinct failure (no stop at the first, no shrinking).
    const surveyOnly = process.env.FUZZ_SURVEY === '1';
    const seen = new FailureLog();
    console.log(
      `fuzz seed: ${seed} (replay: FUZZ_SEED=${seed} npx jest --selectProjects integration -t fuzz)` +
        (only ? ` classes: ${only.join(',')}` : '') +
        (replayPath ? ` path: ${replayPath}` : ''),
    );
    const kinds: { kind: FuzzKind; seed: number }[] = fuzzKinds
      .map((kind, index) => ({ kind, seed: (seed + index) | 0 }))
      .filter(({ kind }) => !only || only.includes(kind.name));
    if (only && kinds.length !== only.length) {
      throw new Error(`FUZZ_KINDS: unknown class in ${only.join(',')}; classes: ${fuzzKinds.map((k) => k.name)}`);
    }
    if (replayPath && kinds.length !== 1) throw new Error('FUZZ_PATH replays one class: set FUZZ_KINDS to it');

    const info = stackInfo();
    const ctx: FuzzContext = { apiUrl: info.urls.api, devApiKey: info.devApiKey, webhookSecret: stackWebhookSecret() };
    const before = await settledSnapshot(info.urls);
    const limiter = new Limiter(CONCURRENCY);
    const sent: Record<string, number> = {};
    const failures: string[] = [];
    const started = Date.now();

    await Promise.all(
      kinds.map(async ({ kind, seed: kindSeed }) => {
        sent[kind.name] = 0;
        const property = fc.asyncProperty(kind.arbitrary.map(printable), async (c) => {
          const request = materialize(c, ctx);
          const response = await limiter.run(() => send(ctx, request));
          sent[kind.name] = (sent[kind.name] ?? 0) + 1;
          const problems = judge(c, response);
          if (problems.length > 0) {
            seen.record(c, problems, response);
            const names = c.expect.names.length > 0 ? ` naming ${c.expect.names.join(' or ')}` : '';
            const message = `${problems.join('; ')} (expected ${c.expect.statuses.join('/')}${names})`;
            if (!surveyOnly) throw new Error(`${message}\n  answer: ${excerpt(response)}`);
          }
        });
        try {
          await fc.assert(property, {
            numRuns: kind.runs,
            seed: kindSeed,
            timeout: 30_000,
            includeErrorInReport: true,
            ...(replayPath ? { path: replayPath } : {}),
          });
        } catch (error) {
          const message = (error as Error).message;
          const path = /path: "([^"]+)"/.exec(message)?.[1];
          const replay = `FUZZ_SEED=${seed} FUZZ_KINDS=${kind.name}${path ? ` FUZZ_PATH=${path}` : ''}`;
          failures.push(`[${kind.name}] (seed ${kindSeed}; replay: ${replay})\n${message}`);
        }
      }),
    );

    const total = Object.values(sent).reduce((a, b) => a + b, 0);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    // Anything wrongly accepted writes at once (idempotency record, payment) and its workflow shortly after.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const changes = storeChanges(before, await snapshot(info.urls));
    console.log(
      `fuzz: ${total} requests in ${seconds} s (seed ${seed}); per class: ${JSON.stringify(sent)}; ` +
        `failing classes: ${failures.length}; store changes: ${changes.length === 0 ? 'none' : changes.join(' / ')}`,
    );

    const report: string[] = [];
    if (seen.size > 0) console.log(`fuzz: distinct failures seen (seed ${seed}):\n${seen.summary()}`);
    if (surveyOnly && seen.size > 0) report.push(`${seen.size} distinct failure(s), listed above`);
    if (failures.length > 0)
      report.push(`${failures.length} class(es) of bad requests not refused properly:`, ...failures);
    if (changes.length > 0) report.push(`bad requests stored something:\n  ${changes.join('\n  ')}`);
    if (report.length > 0) throw new Error(`fuzz seed ${seed}\n${report.join('\n\n')}`);
    if (!only && !replayPath) expect(total).toBeGreaterThanOrEqual(MIN_REQUESTS);
  });
});
