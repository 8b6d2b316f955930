import type { Clock } from '../executor/clock.js';
import type { Interrupt } from '../executor/interrupt.js';
import type { RunSubscriber } from '../run/index.js';

/** What main() gives a command: its streams, environment and clock (no global state). */
export interface CliIO {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  clock: Clock;
  exitCode: number;
  /** Injected by tests and the scheduler; default installs SIGINT/SIGTERM handlers. */
  interrupt?: () => Interrupt;
  /** More consumers of every run's events and outcome (the demo, metrics). */
  subscribers?: readonly RunSubscriber[];
}
