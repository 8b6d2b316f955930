/**
 * Time for the simulated machines. Structurally compatible with the runner's clock
 * (`now()`), but defined here: the simulator is a separate "machine" and imports nothing
 * of the runner.
 */
export interface SimClock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const realClock: SimClock = { now: () => Date.now() };

/** A clock that only moves when told to: unit tests drive the model with it. */
export class FakeClock implements SimClock {
  private t: number;
  constructor(startMs = Date.UTC(2026, 10, 24, 16, 0, 0)) {
    this.t = startMs;
  }
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    if (ms < 0) throw new Error('FakeClock cannot go backwards');
    this.t += ms;
  }
  set(ms: number): void {
    this.t = ms;
  }
}
