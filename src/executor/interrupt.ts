import { setMaxListeners } from 'node:events';
/**
 * Two-stage interruption, like a careful operator expects: the first SIGINT/SIGTERM stops
 * starting new hosts and lets in-flight commands finish or time out; the second aborts them.
 */
export interface Interrupt {
  /** Aborted on the first signal: do not start new hosts. */
  readonly stopStarting: AbortSignal;
  /** Aborted on the second signal: abort in-flight commands and close connections. */
  readonly abortInFlight: AbortSignal;
  readonly interrupted: boolean;
  dispose(): void;
}

export function installInterrupt(
  onSignal: (signal: NodeJS.Signals, stage: 1 | 2) => void = () => {},
  signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'],
): Interrupt {
  const first = new AbortController();
  const second = new AbortController();
  // every host in flight listens on these (waits between samples, transports): not a leak
  setMaxListeners(0, first.signal, second.signal);
  const handler = (sig: NodeJS.Signals) => {
    if (!first.signal.aborted) {
      first.abort(sig);
      onSignal(sig, 1);
    } else if (!second.signal.aborted) {
      second.abort(sig);
      onSignal(sig, 2);
    }
  };
  for (const s of signals) process.on(s, handler);
  return {
    stopStarting: first.signal,
    abortInFlight: second.signal,
    get interrupted() {
      return first.signal.aborted;
    },
    dispose() {
      for (const s of signals) process.off(s, handler);
    },
  };
}

/** An Interrupt that never fires (tests, library use). */
export function noInterrupt(): Interrupt {
  const a = new AbortController();
  const b = new AbortController();
  setMaxListeners(0, a.signal, b.signal);
  return { stopStarting: a.signal, abortInFlight: b.signal, interrupted: false, dispose() {} };
}
