import type { RunStore } from '../store/index.js';
import type { RunEvent } from '../results/index.js';
import type { RunOutcome, RunSubscriber } from './types.js';

/**
 * The caller's subscribers, each isolated from the run and from the others (as ansible-core
 * wraps each callback plugin): one that throws is reported on stderr, naming it, and the run goes
 * on. Its first failure on an event is reported in full, the later ones are counted and the
 * count reported when the run is finished, so a subscriber that fails on every event does not
 * flood the terminal.
 */
export class IsolatedSubscribers {
  /** Failures on events, by subscriber index. */
  private readonly failures = new Map<number, number>();

  constructor(
    private readonly list: readonly RunSubscriber[],
    private readonly warn: (line: string) => void,
  ) {}

  emit(e: RunEvent): void {
    this.list.forEach((s, i) => {
      try {
        s.onEvent?.(e);
      } catch (err) {
        const n = (this.failures.get(i) ?? 0) + 1;
        this.failures.set(i, n);
        if (n === 1) this.report(i, `a ${e.type} event`, err);
      }
    });
  }

  async finished(outcome: RunOutcome, store: RunStore | undefined): Promise<void> {
    for (const [i, n] of this.failures) {
      if (n > 1) this.warn(`subscriber ${this.nameOf(i)} failed on ${n - 1} more event(s) in this run`);
    }
    for (const [i, s] of this.list.entries()) {
      try {
        await s.onFinished?.(outcome, store);
      } catch (err) {
        this.report(i, 'the finished run', err);
      }
    }
  }

  private report(i: number, on: string, err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    this.warn(`subscriber ${this.nameOf(i)} failed on ${on} (the run goes on): ${message}`);
  }

  private nameOf(i: number): string {
    return this.list[i]?.name ?? `#${i + 1}`;
  }
}
