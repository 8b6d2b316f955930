import { join } from 'node:path';
import type { RunEvent, RunInfo, HostResult, RunSummary } from '../executor/events.js';
import { installInterrupt, type Interrupt } from '../executor/interrupt.js';
import type { RunStore } from '../store/index.js';
import { defaultStateDir, openStateSubdir } from '../store/state-dir.js';
import { writeFileReplacing } from '../util/fsafe.js';
import { terminalLine } from '../util/terminal.js';
import { TransportFactory } from '../transport/index.js';
import type { ConnectionSpec, Transport } from '../transport/types.js';
import { Progress } from './progress.js';
import { acquireInventoryLock } from '../schedule/lock.js';
import type { CliIO } from './sweep.js';

export interface SessionOptions {
  store: boolean;
  stateDir?: string;
  quiet?: boolean;
  inventory: string;
  diff?: boolean;
}

/**
 * What every host-contacting command shares: the run store (written per host as each host
 * finishes), the two-stage interrupt, the transports in flight (closed on the second signal),
 * and the terminal progress. Sweep and run are both built on it.
 */
export class RunSession {
  readonly interrupt: Interrupt;
  readonly factory: TransportFactory;
  private readonly progress: Progress;
  private readonly taskSeq = new Map<string, number>();

  /**
   * Takes the inventory lock first (one sweep or run of an inventory at a time; a scheduler's
   * own runs nest inside its lock), then opens the run store, loaded only when the run is
   * recorded.
   */
  static async open(run: RunInfo, io: CliIO, opts: SessionOptions): Promise<RunSession> {
    const stateDir = opts.stateDir ?? defaultStateDir(io.env);
    const releaseLock = acquireInventoryLock(stateDir, opts.inventory, {
      env: io.env,
      onWarning: (w) => io.stderr.write(`warning: ${terminalLine(w)}\n`),
    });
    try {
      const store = opts.store ? (await import('../store/index.js')).openStore(stateDir) : undefined;
      return new RunSession(run, io, opts, store, releaseLock);
    } catch (err) {
      releaseLock();
      throw err;
    }
  }

  private constructor(
    readonly run: RunInfo,
    private readonly io: CliIO,
    opts: SessionOptions,
    readonly store: RunStore | undefined,
    private readonly releaseLock: () => void,
  ) {
    this.progress = new Progress(io.stderr, opts.quiet, opts.diff);
    this.interrupt = io.interrupt
      ? io.interrupt()
      : installInterrupt((sig, stage) =>
          io.stderr.write(
            stage === 1
              ? `\n${sig}: no new hosts will be started; waiting for hosts in flight (again to abort them)\n`
              : `\n${sig}: aborting hosts in flight\n`,
          ),
        );
    this.factory = new TransportFactory({ abortSignal: this.interrupt.abortInFlight });
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

  /**
   * Write-behind: hosts that finish in the same turn of the event loop are written in one
   * transaction on the next turn, so a fleet finishing at once costs one write, not one per
   * host, and a crash loses at most the results of one turn. Flushed before the run finishes.
   */
  private pending: HostResult[] = [];
  private flushScheduled = false;

  private queueHost(result: HostResult): void {
    this.pending.push(result);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  flush(): void {
    this.flushScheduled = false;
    const batch = this.pending;
    this.pending = [];
    this.store?.recordHosts(this.run.id, batch);
  }

  /** A connected transport; on failure nothing stays open. */
  connect(spec: ConnectionSpec): Promise<Transport> {
    return this.factory.connect(spec);
  }

  readonly listener = (e: RunEvent): void => {
    this.progress.listener(e);
    if (!this.store) return;
    if (e.type === 'host-done') this.queueHost(e.result);
    else if (e.type === 'task') {
      const seq = (this.taskSeq.get(e.host) ?? 0) + 1;
      this.taskSeq.set(e.host, seq);
      this.store.recordTask(this.run.id, e.host, seq, e.result);
    }
  };

  finish(run: RunInfo, summary: RunSummary, results: readonly HostResult[], rerecord: (r: HostResult) => boolean): void {
    this.flush();
    this.store?.recordHosts(this.run.id, results.filter(rerecord));
    this.store?.finishRun(this.run.id, summary, {
      interrupted: this.interrupt.interrupted,
      ...(run.finished_at ? { finished_at: run.finished_at } : {}),
    });
  }

  /** Ansible-style retry file of failed/unreachable/interrupted hosts; usable as `--limit @FILE`. */
  writeRetryFile(stateDir: string | undefined, results: readonly HostResult[]): string | undefined {
    const retry = results.filter((r) => r.status === 'failed' || r.status === 'unreachable' || r.status === 'interrupted');
    if (!retry.length || !this.store) return undefined;
    const dir = openStateSubdir(stateDir ?? defaultStateDir(this.io.env), 'retry');
    const file = join(dir, `${this.run.id}.retry`);
    writeFileReplacing(file, retry.map((r) => r.host).join('\n') + '\n');
    return file;
  }

  dispose(): void {
    if (this.pending.length) this.flush();
    this.interrupt.dispose();
    this.store?.close();
    this.releaseLock();
  }
}
