/**
 * The local scheduler runs every schedule of a catalog on the timing its entry gives (rate, cron, or the local
 * override its entry names), knowing no function; and the cron reading shared with the CDK app.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { type Catalog, functions, schedules } from '../../lambdas/catalog';
import { localTiming, startScheduler } from '../../local/scheduler';
import { ConfigError, loadLocalStackConfig } from '../../src/core/config';
import { cronExpression, nextCronTime, shortestCronGapMs } from '../../src/core/schedule';

const at = (iso: string) => new Date(iso);

describe('cron fields (EventBridge, UTC)', () => {
  test.each([
    [{}, 'cron(* * * * ? *)'],
    [{ minute: '0', hour: '3' }, 'cron(0 3 * * ? *)'],
    [{ minute: '30', hour: '2', weekDay: 'MON-FRI' }, 'cron(30 2 ? * MON-FRI *)'],
    [{ minute: '0', hour: '0', day: '1', month: 'JAN,JUL' }, 'cron(0 0 1 JAN,JUL ? *)'],
  ])('%j renders as %s', (fields, expression) => {
    expect(cronExpression(fields)).toBe(expression);
  });

  test.each([
    [{ minute: '0', hour: '3' }, '2025-01-01T05:00:00Z', '2025-01-02T03:00:00Z'],
    [{ minute: '0', hour: '3' }, '2025-01-01T02:59:59Z', '2025-01-01T03:00:00Z'],
    [{ minute: '0', hour: '3' }, '2025-01-01T03:00:00Z', '2025-01-02T03:00:00Z'],
    [{ minute: '*/15' }, '2025-01-01T10:07:30Z', '2025-01-01T10:15:00Z'],
    [{ minute: '30', hour: '2', weekDay: 'MON-FRI' }, '2025-01-03T03:00:00Z', '2025-01-06T02:30:00Z'], // Fri -> Mon
    [{ minute: '0', hour: '9', weekDay: '1' }, '2025-01-01T00:00:00Z', '2025-01-05T09:00:00Z'], // 1 is Sunday
    [{ minute: '0', hour: '0', day: '1', month: 'JAN,JUL' }, '2025-01-01T00:00:00Z', '2025-07-01T00:00:00Z'],
    [{ minute: '0', hour: '12', day: '29', month: '2' }, '2025-03-01T00:00:00Z', '2028-02-29T12:00:00Z'],
  ])('%j after %s fires at %s', (fields, after, next) => {
    expect(nextCronTime(fields, at(after)).toISOString()).toBe(at(next).toISOString());
  });

  test('refuses what EventBridge refuses or this reader does not follow', () => {
    expect(() => nextCronTime({ day: '1', weekDay: 'MON' }, new Date())).toThrow(/must be '\?'/);
    expect(() => nextCronTime({ minute: '61' }, new Date())).toThrow(/minute/);
    expect(() => nextCronTime({ day: 'L' }, new Date())).toThrow(/day/);
    expect(() => nextCronTime({ minute: '0', hour: '0', year: '2020' }, at('2025-01-01T00:00:00Z'))).toThrow(
      /does not fire/,
    );
  });

  test('the shortest gap between runs', () => {
    expect(shortestCronGapMs({ minute: '*/15' })).toBe(15 * 60_000);
    expect(shortestCronGapMs({ minute: '30', hour: '2', weekDay: 'MON-FRI' })).toBe(24 * 3600_000);
    expect(shortestCronGapMs({ minute: '0', hour: '0,6' })).toBe(6 * 3600_000);
  });
});

describe('local schedule configuration', () => {
  test('every *_INTERVAL_SECONDS variable is an override; JANITOR_INTERVAL_SECONDS keeps its default', () => {
    expect(loadLocalStackConfig({}).scheduleIntervalSeconds).toEqual({ JANITOR_INTERVAL_SECONDS: 60 });
    const config = loadLocalStackConfig({ JANITOR_INTERVAL_SECONDS: '1', REPORTS_INTERVAL_SECONDS: '7', OTHER: '3' });
    expect(config.scheduleIntervalSeconds).toEqual({ JANITOR_INTERVAL_SECONDS: 1, REPORTS_INTERVAL_SECONDS: 7 });
    expect(config.janitorIntervalSeconds).toBe(1);
    expect(() => loadLocalStackConfig({ REPORTS_INTERVAL_SECONDS: 'soon' })).toThrow(ConfigError);
    expect(() => loadLocalStackConfig({ JANITOR_INTERVAL_SECONDS: '0' })).toThrow(/JANITOR_INTERVAL_SECONDS/);
  });

  test("the catalog's janitor: its override when set (the tests' 1 s), else 60 s locally", () => {
    const janitor = schedules.find((schedule) => schedule.localIntervalEnvVar === 'JANITOR_INTERVAL_SECONDS');
    expect(janitor).toBeDefined();
    expect(
      localTiming(janitor!, loadLocalStackConfig({ JANITOR_INTERVAL_SECONDS: '1' }).scheduleIntervalSeconds),
    ).toEqual({
      everyMs: 1000,
    });
    expect(localTiming(janitor!, loadLocalStackConfig({}).scheduleIntervalSeconds)).toEqual({ everyMs: 60_000 });
  });
});

describe('local scheduler', () => {
  const fixture: Catalog['schedules'] = [
    { functionId: 'Alpha', rate: 2 },
    { functionId: 'Beta', rate: 10, localIntervalEnvVar: 'BETA_INTERVAL_SECONDS' },
    { functionId: 'Gamma', cron: { minute: '0', hour: '3' } },
    { functionId: 'Delta', cron: { minute: '0', hour: '3' }, localIntervalEnvVar: 'DELTA_INTERVAL_SECONDS' },
  ];
  const intervals = loadLocalStackConfig({
    BETA_INTERVAL_SECONDS: '5',
    DELTA_INTERVAL_SECONDS: '20',
  }).scheduleIntervalSeconds;

  afterEach(() => jest.useRealTimers());

  test('the timing of each entry comes from the entry alone: rate, cron, or the override it names', () => {
    const [alpha, beta, gamma, delta] = fixture.map((schedule) => localTiming(schedule, intervals));
    expect(alpha).toEqual({ everyMs: 2 * 60_000 });
    expect(beta).toEqual({ everyMs: 5000 });
    expect(delta).toEqual({ everyMs: 20_000 });
    expect('next' in gamma! && gamma.next(at('2025-01-01T05:00:00Z')).toISOString()).toBe('2025-01-02T03:00:00.000Z');
    // Without its variable set, an entry keeps its own timing.
    expect(localTiming(fixture[1]!, {})).toEqual({ everyMs: 10 * 60_000 });
    expect(() => localTiming({ functionId: 'X', rate: 1, localIntervalEnvVar: 'X_SECONDS' }, {})).toThrow(
      /_INTERVAL_SECONDS/,
    );
  });

  test('runs every schedule at its times with a Scheduled Event, never overlapping itself', async () => {
    jest.useFakeTimers({ now: at('2025-01-01T02:58:00Z') });
    const runs: { functionId: string; at: string; event: unknown }[] = [];
    let release: (() => void) | undefined;
    const stop = startScheduler({
      schedules: fixture,
      intervals,
      now: () => new Date(),
      run: async (functionId, event) => {
        runs.push({ functionId, at: new Date().toISOString(), event });
        // Alpha's first run lasts until released: its next tick must not start a second one.
        if (functionId === 'Alpha' && !release) await new Promise<void>((resolve) => (release = resolve));
      },
    });
    await jest.advanceTimersByTimeAsync(4 * 60_000);
    const count = (id: string) => runs.filter((r) => r.functionId === id).length;
    expect(count('Beta')).toBe(48); // every 5 s (its override)
    expect(count('Delta')).toBe(12); // every 20 s (its override, instead of its cron)
    expect(count('Gamma')).toBe(1); // at 03:00 only
    expect(runs.find((r) => r.functionId === 'Gamma')?.at).toBe('2025-01-01T03:00:00.000Z');
    expect(count('Alpha')).toBe(1); // 03:00 started, 03:02 skipped while the first still runs
    release?.();
    await jest.advanceTimersByTimeAsync(2 * 60_000);
    expect(count('Alpha')).toBe(2);
    expect(runs[0]!.event).toEqual({ source: 'aws.events', 'detail-type': 'Scheduled Event', time: runs[0]!.at });
    await stop();
    const before = runs.length;
    await jest.advanceTimersByTimeAsync(24 * 3600_000);
    expect(runs.length).toBe(before);
  });

  test('the scheduler and the local stack name no function of the catalog', () => {
    for (const file of ['local/scheduler.ts', 'local/stack.ts']) {
      const source = readFileSync(path.join(__dirname, '..', '..', file), 'utf8');
      for (const id of Object.keys(functions)) {
        expect([file, new RegExp(`\\b${id}\\b`).test(source)]).toEqual([file, false]);
      }
      expect([file, /JANITOR/.test(source)]).toEqual([file, false]);
    }
  });
});
