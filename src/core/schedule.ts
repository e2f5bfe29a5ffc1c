/**
 * EventBridge cron schedules (UTC), shared by the CDK app (the rule's expression, its target's maximum event age)
 * and the local scheduler (the next fire time): one reading of the catalog's cron fields for both.
 */

/**
 * EventBridge cron fields, as `Schedule.cron` takes them: an unset field is `*`, except the day of the month, which
 * is `?` when `weekDay` is set (EventBridge wants one of the two to be `?`).
 */
export interface CronFields {
  minute?: string;
  hour?: string;
  day?: string;
  month?: string;
  /** 1-7 (1 is Sunday) or SUN-SAT. */
  weekDay?: string;
  year?: string;
}

/** The six fields of the expression, with `Schedule.cron`'s defaults: minute hour day month weekDay year. */
export function cronFieldList(fields: CronFields): [string, string, string, string, string, string] {
  const day = fields.day ?? (fields.weekDay !== undefined ? '?' : '*');
  return [
    fields.minute ?? '*',
    fields.hour ?? '*',
    day,
    fields.month ?? '*',
    fields.weekDay ?? '?',
    fields.year ?? '*',
  ];
}

/** The EventBridge schedule expression, e.g. `cron(0 3 * * ? *)`. */
export function cronExpression(fields: CronFields): string {
  return `cron(${cronFieldList(fields).join(' ')})`;
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const WEEK_DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

interface FieldRange {
  name: string;
  min: number;
  max: number;
  /** Names of the values from `min` on (months, week days). */
  names?: string[];
}

const RANGES: FieldRange[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS },
  { name: 'weekDay', min: 1, max: 7, names: WEEK_DAYS },
  { name: 'year', min: 1970, max: 2199 },
];

/** The values a field allows; `undefined` for `*` and `?` (any). `L`, `W` and `#` are not supported here. */
function parseField(raw: string, range: FieldRange): Set<number> | undefined {
  if (raw === '*' || raw === '?') return undefined;
  const value = (text: string): number => {
    const named = range.names?.indexOf(text.toUpperCase()) ?? -1;
    const n = named >= 0 ? range.min + named : Number(text);
    if (!Number.isInteger(n) || n < range.min || n > range.max) {
      throw new Error(`cron ${range.name} '${raw}': '${text}' is not in ${range.min}..${range.max}`);
    }
    return n;
  };
  const allowed = new Set<number>();
  for (const part of raw.split(',')) {
    const [span = '', stepText] = part.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new Error(`cron ${range.name} '${raw}': bad step '${stepText}'`);
    let from: number;
    let to: number;
    if (span === '*') {
      from = range.min;
      to = range.max;
    } else if (span.includes('-')) {
      const [a = '', b = ''] = span.split('-');
      from = value(a);
      to = value(b);
    } else {
      from = value(span);
      to = stepText === undefined ? from : range.max;
    }
    if (from > to) throw new Error(`cron ${range.name} '${raw}': empty range '${span}'`);
    for (let n = from; n <= to; n += step) allowed.add(n);
  }
  return allowed;
}

const matches = (allowed: Set<number> | undefined, n: number) => allowed === undefined || allowed.has(n);

/** How far ahead `nextCronTime` looks before it decides the expression never fires. */
const HORIZON_DAYS = 366 * 8;

/** The first time strictly after `after` (whole minutes, UTC) that the cron fields match. */
export function nextCronTime(fields: CronFields, after: Date): Date {
  const list = cronFieldList(fields);
  if (list[2] !== '?' && list[4] !== '?') {
    throw new Error(`cron ${cronExpression(fields)}: the day of the month or the day of the week must be '?'`);
  }
  const [minutes, hours, days, months, weekDays, years] = list.map((raw, i) => parseField(raw, RANGES[i]!));
  const start = new Date(after.getTime());
  start.setUTCSeconds(0, 0);
  start.setUTCMinutes(start.getUTCMinutes() + 1);
  const firstDay = Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate());
  for (let d = 0; d < HORIZON_DAYS; d++) {
    const day = new Date(firstDay + d * 86_400_000);
    if (
      !matches(years, day.getUTCFullYear()) ||
      !matches(months, day.getUTCMonth() + 1) ||
      !matches(days, day.getUTCDate()) ||
      !matches(weekDays, day.getUTCDay() + 1)
    ) {
      continue;
    }
    for (let hour = 0; hour < 24; hour++) {
      if (!matches(hours, hour)) continue;
      for (let minute = 0; minute < 60; minute++) {
        if (!matches(minutes, minute)) continue;
        const at = new Date(day.getTime() + (hour * 60 + minute) * 60_000);
        if (at >= start) return at;
      }
    }
  }
  throw new Error(`cron ${cronExpression(fields)} does not fire within ${HORIZON_DAYS} days of ${after.toISOString()}`);
}

/**
 * The shortest time between two consecutive fire times, over the `count` fire times after `from` (a fixed date by
 * default, so the CDK app renders the same template every time); Infinity when it fires once only.
 */
export function shortestCronGapMs(fields: CronFields, from = new Date(Date.UTC(2025, 0, 1)), count = 60): number {
  let previous = nextCronTime(fields, from);
  let shortest = Number.POSITIVE_INFINITY;
  for (let i = 0; i < count; i++) {
    let next: Date;
    try {
      next = nextCronTime(fields, previous);
    } catch {
      break; // A schedule that stops firing (e.g. one bound to a year).
    }
    shortest = Math.min(shortest, next.getTime() - previous.getTime());
    previous = next;
  }
  return shortest;
}
