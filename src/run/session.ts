import type { RunEvent, RunInfo, HostResult, RunSummary } from '../results/index.js';
import { installInterrupt, type Interrupt } from '../executor/interrupt.js';
import type { RunStore } from '../store/index.js';
// Deep imports, not store/index.ts: both are cheap, and index.ts loads SQLite, which a
// --no-store run never needs.
import { defaultStateDir } from '../store/state-dir.js';
import { terminalLine } from '../util/terminal.js';
import { waitForInventoryLock } from '../store/lock.js';
import { TransportFactory } from '../transport/index.js';
import type { ConnectionSpec, Transport } from '../transport/types.js';
import { writeRetryFile } from './retry.js';
import { IsolatedSubscribers } from './subscribers.js';
import type { RunContext, RunOutcome, RunSubscriber } from './types.js';

export interface SessionOptions {
  store: boolean;
  stateDir?: string;
  inventory: string;
}

/** The inventory's run lock, waited for up to `ctx.lockWaitMs` (a scheduled sweep takes seconds). */
function takeRunLock(stateDir: string, inventory: string, ctx: RunContext): Promise<() => void> {
  const waitMs = ctx.lockWaitMs ?? 0;
  return waitForInventoryLock(stateDir, inventory, {
    waitMs,
    onWarning: (w) => ctx.stderr.write(`warning: ${terminalLine(w)}\n`),
    onWaiting: (h) =>
      ctx.stderr.write(`waiting up to ${waitMs / 1000} s for the lock on ${terminalLine(inventory)}${h ? ` (held by pid ${h.pid} since ${h.acquired_at})` : ''}\n`),
  });
}

/**
 * What every run shares: the inventory lock, the run store and its writer (a subscriber of the
 * event stream), the two-stage interrupt, the transports in flight (closed on the second
 * signal), and the fan-out of events to the caller's subscribers.
 */
export class RunSession {
  readonly interrupt: Interrupt;
  readonly factory: TransportFactory;
  readonly stateDir: string;
  private readonly subscribers: IsolatedSubscribers;
  private readonly writer: StoreWriter | undefined;

  /**
   * Takes the inventory lock first (one sweep or run of an inventory at a time; the scheduler
   * takes it around its runs and says so with `lockHeld`), then opens the run store, loaded only
   * when the run is recorded.
   */
  static async open(run: RunInfo, ctx: RunContext, opts: SessionOptions): Promise<RunSession> {
    const stateDir = opts.stateDir ?? defaultStateDir(ctx.env);
    const releaseLock = ctx.lockHeld ? () => {} : await takeRunLock(stateDir, opts.inventory, ctx);
    try {
      const store = opts.store ? (await import('../store/index.js')).openStore(stateDir) : undefined;
      return new RunSession(run, ctx, stateDir, store, releaseLock);
    } catch (err) {
      releaseLock();
      throw err;
    }
  }

  private constructor(
    readonly run: RunInfo,
    ctx: RunContext,
    stateDir: string,
    readonly store: RunStore | undefined,
    private readonly releaseLock: () => void,
  ) {
    this.stateDir = stateDir;
    const warn = (w: string) => ctx.stderr.write(`warning: ${terminalLine(w)}\n`);
    this.writer = store ? new StoreWriter(store, run.id, warn) : undefined;
    // the store writer is not isolated: a run that cannot be recorded fails as such
    this.subscribers = new IsolatedSubscribers(ctx.subscribers, warn);
    const signals = ctx.interrupt
      ? ctx.interrupt()
      : installInterrupt((sig, stage) =>
          ctx.stderr.write(
            stage === 1
              ? `\n${sig}: no new hosts will be started; waiting for hosts in flight (again to abort them)\n`
              : `\n${sig}: aborting hosts in flight\n`,
          ),
        );
    // a run also ends interrupted when its queue goes away (markInterrupted), not only on a signal
    const session = this;
    this.interrupt = {
      get stopStarting() { return signals.stopStarting; },
      get abortInFlight() { return signals.abortInFlight; },
      get interrupted() { return signals.interrupted || session.lost; },
      dispose: () => signals.dispose(),
    };
    this.factory = new TransportFactory({ abortSignal: this.interrupt.abortInFlight, clock: ctx.clock, ...(ctx.pool ? { pool: ctx.pool } : {}) });
  }

  private lost = false;

  /** The run cannot go on (distributed mode: Redis went away): it is recorded interrupted, exit 130. */
  markInterrupted(): void {
    this.lost = true;
  }

  start(hosts: readonly string[]): void {
    this.store?.startRun(this.run, [...hosts]);
  }

  /**
   * A transport for `spec`: the second signal aborts its commands in flight (they end as
   * E_INTERRUPTED, the host `interrupted`, not `unreachable`) and closes it.
   */
  transport(spec: ConnectionSpec): Transport {
    return this.factory.create(spec);
  }

  /** A connected transport; on failure nothing stays open. */
  connect(spec: ConnectionSpec): Promise<Transport> {
    return this.factory.connect(spec);
  }

  /** The one listener the executor, the sweep and the playbook engine are given. */
  readonly emit = (e: RunEvent): void => {
    this.writer?.onEvent(e);
    this.subscribers.emit(e);
  };

  /** The caller's subscribers' onFinished, with the store still open. */
  finished(outcome: RunOutcome): Promise<void> {
    return this.subscribers.finished(outcome, this.store);
  }

  /** Closes the run in the store: every host result came with its (final) host-done. */
  finish(run: RunInfo, summary: RunSummary): void {
    this.writer?.flush();
    this.store?.finishRun(this.run.id, summary, {
      interrupted: this.interrupt.interrupted,
      ...(run.finished_at ? { finished_at: run.finished_at } : {}),
    });
  }

  /** The retry file of failed/unreachable/interrupted hosts (run/retry.ts); not without a store. */
  writeRetryFile(results: readonly HostResult[]): string | undefined {
    return this.store ? writeRetryFile(this.stateDir, this.run, results) : undefined;
  }

  dispose(): void {
    this.writer?.flush();
    this.interrupt.dispose();
    this.store?.close();
    this.releaseLock();
  }
}

/**
 * The store as a subscriber. Write-behind: hosts that finish in the same turn of the event loop
 * are written in one transaction on the next turn, so a fleet finishing at once costs one write,
 * not one per host, and a crash loses at most the results of one turn.
 */
class StoreWriter implements RunSubscriber {
  private pending: HostResult[] = [];
  private flushScheduled = false;
  /** Tasks seen per host: a task row's seq is its index in the host's `tasks`, from 0. */
  private readonly taskSeq = new Map<string, number>();

  constructor(
    private readonly store: RunStore,
    private readonly runId: string,
    private readonly warn: (message: string) => void,
  ) {}

  onEvent(e: RunEvent): void {
    if (e.type === 'host-done') this.queueHost(e.result);
    else if (e.type === 'task') {
      const seq = this.taskSeq.get(e.host) ?? 0;
      this.taskSeq.set(e.host, seq + 1);
      this.store.recordTask(this.runId, e.host, seq, e.result);
    } else if (e.type === 'fleet-findings') {
      this.flush();
      this.store.recordFleetFindings(this.runId, e.findings);
    }
  }

  private queueHost(result: HostResult): void {
    // host-done is final: a playbook host's result has every play's tasks, and its task rows
    // (written live from the task events) are replaced by them
    this.pending.push(result);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  flush(): void {
    this.flushScheduled = false;
    if (!this.pending.length) return;
    const batch = this.pending;
    this.pending = [];
    // one result per host per run: a second one (a job delivered twice) is refused
    for (const r of this.store.recordHostsOnce(this.runId, batch)) {
      this.warn(`${r.host}: a second result for run ${this.runId} was refused (the first one stays recorded)`);
    }
  }
}
