// The money clock: the simulator's clock (`now`) plus an offset that only moves forward (POST /__admin/clock/advance).
// It dates and drives the movements of money: balance transactions (`created`, `available_on`, when pending funds
// become available), transfers, payouts (`created`, `arrival_date`, pending -> in_transit -> paid/failed), accounts,
// and the `created` of events. It does NOT drive webhook signature timestamps (a receiver checks them against real
// time), idempotency key expiry, search lag, Checkout Session expiry or Account Link expiry: those keep the
// simulator's clock. The offset starts at 0, so both clocks agree until someone advances the money clock.

export interface MoneyClockView {
  /** The money clock, in Unix seconds. */
  now: number;
  offset_seconds: number;
}

/** The largest single advance: 10 years. */
export const MAX_ADVANCE_SECONDS = 10 * 366 * 24 * 60 * 60;

export class MoneyClock {
  private offset = 0;

  /** `nowMs`: the simulator's clock in milliseconds. */
  constructor(private readonly nowMs: () => number) {}

  /** The money clock in Unix seconds. */
  now(): number {
    return Math.floor(this.nowMs() / 1000) + this.offset;
  }

  offsetSeconds(): number {
    return this.offset;
  }

  /** Moves the clock forward (whole seconds, 0 allowed). Applying what became due is the caller's job. */
  advance(seconds: number): void {
    if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_ADVANCE_SECONDS) {
      throw new RangeError(`seconds must be an integer from 0 to ${MAX_ADVANCE_SECONDS}.`);
    }
    this.offset += seconds;
  }

  view(): MoneyClockView {
    return { now: this.now(), offset_seconds: this.offset };
  }
}
