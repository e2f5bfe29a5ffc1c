// Settlement faults: mismatches injected into one UTC day's settlement file (the itemized balance report of
// reporting.ts), with the ground truth of what was injected (the manifest), so that a reconciliation can be tested
// against a file that disagrees with the PSP's API the way real settlement files do.
//
// POST /__admin/settlement/faults {"seed": 1, "date": "YYYY-MM-DD", "<kind>": n, ...} (each count optional, default 0;
// date default: the money clock's current UTC day). Rows are chosen when the faults are set, among the platform's
// balance transactions created that day (distinct rows across kinds, from a PRNG seeded with seed and date), and
// the faults apply to every file generated afterwards that covers them:
//
//   kind            rows eligible            what happens                                  manifest type / class
//   late_rows       charge rows of the day   the balance transaction (and its charge) is   timing / auto_fixed
//                                            re-dated to the next day 00:00:01, 00:00:02...
//                                            when the faults are set: it leaves the day's
//                                            file, appears in the next day's, and the API
//                                            dates it the next day too
//   drop_rows       charge rows              missing from the file (the balance            missing_in_settlement / manual
//                                            transaction stays dated that day)
//   amount_deltas   charge rows              gross and net in the file are one major unit  amount_mismatch / manual
//                                            higher (+1.00; JPY +1); file only
//   currency_flips  charge rows              currency and customer_facing_currency show    currency_mismatch / manual
//                                            another currency (eur <-> usd, others usd);
//                                            file only
//   duplicate_rows  any row but fee rows     the row appears twice                         duplicate_row / auto_fixed
//                   (stripe_fee)
//   unknown_rows    none needed              extra charge rows with fresh txn_/ch_/pi_ ids unknown_row / unclassifiable
//                                            (seeded, so the same seed gives the same ids),
//                                            no metadata, dated within the day; file only
//
// Rows are allocated in that order; when too few remain for a kind, the request is refused with a 409 naming it and
// how many are eligible. Rows a late_rows fault moved are not eligible for any other day's faults. Setting faults for
// a day replaces that day's earlier faults: rows they moved go back to their original dates first (so the same seed
// gives the same file again); DELETE (clear) moves every moved row back and forgets all faults; the simulator's reset
// forgets them with everything else.

import type Stripe from 'stripe';
import { type BalanceLedger, type FeeSchedule, stripeFee } from './balance';
import type { ChargeLedger } from './charges';
import { currencyExponent } from './currencies';

export const SETTLEMENT_FAULT_KINDS = [
  'late_rows',
  'drop_rows',
  'amount_deltas',
  'currency_flips',
  'duplicate_rows',
  'unknown_rows',
] as const;
export type SettlementFaultKind = (typeof SETTLEMENT_FAULT_KINDS)[number];

export const SETTLEMENT_FAULT_TYPES: Record<SettlementFaultKind, { type: string; expected_class: string }> = {
  duplicate_rows: { type: 'duplicate_row', expected_class: 'auto_fixed' },
  late_rows: { type: 'timing', expected_class: 'auto_fixed' },
  amount_deltas: { type: 'amount_mismatch', expected_class: 'manual' },
  currency_flips: { type: 'currency_mismatch', expected_class: 'manual' },
  drop_rows: { type: 'missing_in_settlement', expected_class: 'manual' },
  unknown_rows: { type: 'unknown_row', expected_class: 'unclassifiable' },
};

/** What POST /__admin/settlement/faults takes. */
export type SettlementFaultsInput = { seed?: number; date?: string } & Partial<Record<SettlementFaultKind, number>>;

export type SettlementFaultConfig = { seed: number; date: string } & Record<SettlementFaultKind, number>;

export interface SettlementManifestEntry {
  balance_transaction_id: string;
  source_id: string;
  payment_intent_id: string | null;
  /** The `payment_id` of the PaymentIntent's metadata. */
  payment_id: string | null;
  type: string;
  expected_class: string;
}

export interface SettlementManifest {
  date: string;
  injected: SettlementManifestEntry[];
}

/** A refused fault request: 400 (a bad field) or 409 (too few eligible rows), naming the field. */
export class SettlementFaultError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string,
    readonly eligible?: number,
  ) {
    super(message);
  }
}

const DAY_SECONDS = 86_400;
/** The most rows one kind may ask for. */
export const MAX_FAULT_ROWS = 1000;
const FIELDS = ['seed', 'date', ...SETTLEMENT_FAULT_KINDS];

/** `YYYY-MM-DD` of a Unix time, in UTC. */
export function utcDate(seconds: number): string {
  return new Date(seconds * 1000).toISOString().slice(0, 10);
}

/** The Unix time of a `YYYY-MM-DD` day's 00:00:00 UTC; undefined when it is not a valid date. */
export function utcDayStart(date: string): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) return undefined;
  const ms = Date.parse(`${date}T00:00:00Z`);
  if (Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== date) return undefined;
  return ms / 1000;
}

/** Validates a fault request (400 naming the field); `today` is the default date. */
export function parseSettlementFaults(input: unknown, today: string): SettlementFaultConfig {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new SettlementFaultError(400, 'The settlement faults must be a JSON object.', 'body');
  }
  const body = input as Record<string, unknown>;
  for (const name of Object.keys(body)) {
    if (!FIELDS.includes(name)) {
      throw new SettlementFaultError(400, `Unknown field '${name}' (known: ${FIELDS.join(', ')}).`, name);
    }
  }
  const seed = body.seed ?? 0;
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) {
    throw new SettlementFaultError(400, 'seed must be an integer.', 'seed');
  }
  const date = body.date ?? today;
  if (typeof date !== 'string' || utcDayStart(date) === undefined) {
    throw new SettlementFaultError(400, 'date must be a valid day as YYYY-MM-DD (UTC).', 'date');
  }
  const config = { seed, date } as SettlementFaultConfig;
  for (const kind of SETTLEMENT_FAULT_KINDS) {
    const count = body[kind] ?? 0;
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 0 || count > MAX_FAULT_ROWS) {
      throw new SettlementFaultError(400, `${kind} must be an integer from 0 to ${MAX_FAULT_ROWS}.`, kind);
    }
    config[kind] = count;
  }
  return config;
}

/** A charge row that exists only in the file (unknown_rows). */
export interface UnknownRow {
  txn: Stripe.BalanceTransaction;
  chargeId: string;
  paymentIntentId: string;
}

/** What the file does with one real row. */
export interface RowFaults {
  drop: boolean;
  duplicate: boolean;
  /** Added to gross and net, in minor units. */
  amountDelta?: number;
  /** The currency the row shows instead of its own. */
  currency?: string;
}

interface LateMove {
  txnId: string;
  chargeId: string;
  created: number;
  availableOn: number;
  chargeCreated: number;
}

interface DayFaults {
  config: SettlementFaultConfig;
  late: LateMove[];
  drops: Set<string>;
  duplicates: Set<string>;
  amountDeltas: Map<string, number>;
  currencyFlips: Map<string, string>;
  unknown: UnknownRow[];
  manifest: SettlementManifestEntry[];
}

export interface SettlementFaultDependencies {
  ledger: BalanceLedger;
  charges: ChargeLedger;
  /** The PaymentIntent of a row and the payment_id of its metadata (none for rows without a payment). */
  paymentOf(txn: Stripe.BalanceTransaction): { paymentIntent: string | null; paymentId: string | null };
  feeSchedule(): FeeSchedule;
  availabilityDelaySeconds(): number;
}

export class SettlementFaults {
  private readonly days = new Map<string, DayFaults>();

  constructor(private readonly deps: SettlementFaultDependencies) {}

  /**
   * Sets the faults of one day, replacing its earlier ones; answers the day's manifest. Throws SettlementFaultError
   * (409) when too few rows are eligible, leaving the earlier faults as they were.
   */
  set(config: SettlementFaultConfig): SettlementManifest {
    const previous = this.days.get(config.date);
    if (previous) this.undo(previous);
    this.days.delete(config.date);
    let day: DayFaults;
    try {
      day = this.choose(config);
    } catch (error) {
      if (previous) {
        this.redo(previous);
        this.days.set(config.date, previous);
      }
      throw error;
    }
    this.redo(day);
    this.days.set(config.date, day);
    return this.manifest(config.date);
  }

  /** Forgets every fault; rows moved by late_rows go back to their dates. */
  clear(): void {
    for (const day of this.days.values()) this.undo(day);
    this.days.clear();
  }

  /** The faults in force, oldest date first. */
  configs(): SettlementFaultConfig[] {
    return [...this.days.values()].map((day) => ({ ...day.config })).sort((a, b) => a.date.localeCompare(b.date));
  }

  manifest(date: string): SettlementManifest {
    const day = this.days.get(date);
    return { date, injected: day ? day.manifest.map((entry) => ({ ...entry })) : [] };
  }

  /** What the file does with a real row (any day's faults). */
  rowFaults(txnId: string): RowFaults {
    const faults: RowFaults = { drop: false, duplicate: false };
    for (const day of this.days.values()) {
      if (day.drops.has(txnId)) faults.drop = true;
      if (day.duplicates.has(txnId)) faults.duplicate = true;
      const delta = day.amountDeltas.get(txnId);
      if (delta !== undefined) faults.amountDelta = delta;
      const currency = day.currencyFlips.get(txnId);
      if (currency !== undefined) faults.currency = currency;
    }
    return faults;
  }

  /** The file-only rows created in [start, end). */
  unknownRows(start: number, end: number): UnknownRow[] {
    const rows: UnknownRow[] = [];
    for (const day of this.days.values()) {
      for (const row of day.unknown) {
        if (row.txn.created >= start && row.txn.created < end) rows.push(structuredClone(row));
      }
    }
    return rows;
  }

  private choose(config: SettlementFaultConfig): DayFaults {
    const start = utcDayStart(config.date) as number;
    const random = seededRandom(`${config.seed}:${config.date}`);
    const moved = new Set<string>();
    for (const other of this.days.values()) for (const move of other.late) moved.add(move.txnId);
    const rows = this.deps.ledger
      .views(null)
      .filter((txn) => txn.created >= start && txn.created < start + DAY_SECONDS && !moved.has(txn.id))
      .sort((a, b) => a.created - b.created || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const taken = new Set<string>();
    const pick = (kind: SettlementFaultKind, eligible: Stripe.BalanceTransaction[], what: string) => {
      const available = eligible.filter((txn) => !taken.has(txn.id));
      const wanted = config[kind];
      if (available.length < wanted) {
        throw new SettlementFaultError(
          409,
          `${kind}: ${wanted} requested, but only ${available.length} ${what} of ${config.date} are eligible.`,
          kind,
          available.length,
        );
      }
      const chosen = sample(available, wanted, random);
      for (const txn of chosen) taken.add(txn.id);
      return chosen;
    };
    const charges = rows.filter((txn) => txn.type === 'charge');
    const day: DayFaults = {
      config: { ...config },
      late: [],
      drops: new Set(),
      duplicates: new Set(),
      amountDeltas: new Map(),
      currencyFlips: new Map(),
      unknown: [],
      manifest: [],
    };
    const entry = (kind: SettlementFaultKind, txn: Stripe.BalanceTransaction) => {
      const { paymentIntent, paymentId } = this.deps.paymentOf(txn);
      day.manifest.push({
        balance_transaction_id: txn.id,
        source_id: typeof txn.source === 'string' ? txn.source : (txn.source?.id ?? ''),
        payment_intent_id: paymentIntent,
        payment_id: paymentId,
        ...SETTLEMENT_FAULT_TYPES[kind],
      });
    };
    for (const txn of pick('late_rows', charges, 'charge rows')) {
      const chargeId = txn.source as string;
      const charge = this.deps.charges.get(chargeId);
      day.late.push({
        txnId: txn.id,
        chargeId,
        created: txn.created,
        availableOn: txn.available_on,
        chargeCreated: charge?.created ?? txn.created,
      });
      entry('late_rows', txn);
    }
    for (const txn of pick('drop_rows', charges, 'charge rows')) {
      day.drops.add(txn.id);
      entry('drop_rows', txn);
    }
    for (const txn of pick('amount_deltas', charges, 'charge rows')) {
      day.amountDeltas.set(txn.id, 10 ** currencyExponent(txn.currency));
      entry('amount_deltas', txn);
    }
    for (const txn of pick('currency_flips', charges, 'charge rows')) {
      day.currencyFlips.set(txn.id, txn.currency === 'usd' ? 'eur' : 'usd');
      entry('currency_flips', txn);
    }
    const duplicable = rows.filter((txn) => txn.type !== 'stripe_fee');
    for (const txn of pick('duplicate_rows', duplicable, 'rows (fee rows excluded)')) {
      day.duplicates.add(txn.id);
      entry('duplicate_rows', txn);
    }
    const currency = charges[0]?.currency ?? rows[0]?.currency ?? 'eur';
    for (let i = 0; i < config.unknown_rows; i++) {
      const row = this.unknownRow(start, currency, random);
      day.unknown.push(row);
      day.manifest.push({
        balance_transaction_id: row.txn.id,
        source_id: row.chargeId,
        payment_intent_id: row.paymentIntentId,
        payment_id: null,
        ...SETTLEMENT_FAULT_TYPES.unknown_rows,
      });
    }
    return day;
  }

  /** A charge row nobody knows: seeded ids, amount and time within the day. */
  private unknownRow(dayStart: number, currency: string, random: () => number): UnknownRow {
    const created = dayStart + Math.floor(random() * DAY_SECONDS);
    const unit = 10 ** currencyExponent(currency);
    // 5.00 to 200.00 major units, whole tens of minor units (three-decimal currencies want a last digit 0).
    const amount = Math.round((5 * unit + Math.floor(random() * 195 * unit)) / 10) * 10 || unit;
    const fee = stripeFee(amount, currency, this.deps.feeSchedule());
    const chargeId = seededId('ch', random);
    const paymentIntentId = seededId('pi', random);
    const txn: Stripe.BalanceTransaction = {
      id: seededId('txn', random),
      object: 'balance_transaction',
      amount,
      available_on: created + this.deps.availabilityDelaySeconds(),
      balance_type: 'payments',
      created,
      currency,
      description: null,
      exchange_rate: null,
      fee,
      fee_details: [
        { amount: fee, application: null, currency, description: 'Stripe processing fees', type: 'stripe_fee' },
      ],
      net: amount - fee,
      reporting_category: 'charge',
      source: chargeId,
      status: 'pending',
      type: 'charge',
    };
    return { txn, chargeId, paymentIntentId };
  }

  /** Moves a day's late rows to the next day. */
  private redo(day: DayFaults): void {
    const nextDay = (utcDayStart(day.config.date) as number) + DAY_SECONDS;
    day.late.forEach((move, index) => {
      const created = nextDay + index + 1;
      this.deps.ledger.redate(move.txnId, created);
      if (this.deps.charges.get(move.chargeId)) this.deps.charges.redate(move.chargeId, created);
    });
  }

  /** Moves a day's late rows back to their dates. */
  private undo(day: DayFaults): void {
    for (const move of day.late) {
      this.deps.ledger.redate(move.txnId, move.created, move.availableOn);
      if (this.deps.charges.get(move.chargeId)) this.deps.charges.redate(move.chargeId, move.chargeCreated);
    }
  }
}

/** `count` distinct items of `items` (partial Fisher-Yates), in the order of `items`. */
function sample<T>(items: readonly T[], count: number, random: () => number): T[] {
  const indexes = items.map((_, index) => index);
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(random() * (indexes.length - i));
    [indexes[i], indexes[j]] = [indexes[j] as number, indexes[i] as number];
  }
  return indexes
    .slice(0, count)
    .sort((a, b) => a - b)
    .map((index) => items[index] as T);
}

/** mulberry32, seeded from a string by FNV-1a: a small reproducible PRNG in [0, 1). */
export function seededRandom(seed: string): () => number {
  let state = 0x811c9dc5;
  for (let i = 0; i < seed.length; i++) state = Math.imul(state ^ seed.charCodeAt(i), 0x01000193) >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function seededId(prefix: string, random: () => number): string {
  let out = `${prefix}_`;
  for (let i = 0; i < 24; i++) out += ALPHABET[Math.floor(random() * ALPHABET.length)];
  return out;
}
