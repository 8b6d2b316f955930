import { Cron } from 'croner';
import { holdOf, scheduledPlaybook, type HoldState } from './holds.js';
import { FleetmendError } from '../errors.js';
import { terminalLine } from '../util/terminal.js';
import type { Clock } from '../executor/clock.js';
import type { RunInfo, RunSummary } from '../results/index.js';
import { installInterrupt, type Interrupt } from '../executor/interrupt.js';
import { driftNotification, driftSinceLast, renderDriftText, runFailedNotification } from '../drift/index.js';
import type { Drift, DriftNotification } from '../drift/index.js';
import { acquireInventoryLock, liveLockHolder, manualRunWaiting, openStore, type StoredRun } from '../store/index.js';
import { prepareCommand, type ScheduledCommand } from './command.js';
import { maskUrl, postWebhook, runNotifyCommand } from './notify.js';
// the mask only: a Redis password given in the scheduled command's URL is not logged
import { maskRedisUrl } from '../distributed/connection.js';

export type NotifyWhen = 'always' | 'changes';

export interface ScheduleConfig {
  /** Cron expression; 6 fields means a seconds field first (croner). */
  cron: string;
  /** IANA time zone the expression is read in (default: the system's). */
  timezone?: string;
  /**
   * `['sweep', '-i', INVENTORY, ...]` or `['run', PLAYBOOK, '-i', ...]`: checked here once
   * (prepareCommand); the caller turns it into a typed run request and runs it (`execute`).
   */
  command: string[];
  stateDir: string;
  notify: NotifyWhen;
  webhook?: string;
  notifyCommand?: string;
  /** Stop after this many runs (tests, ops one-offs). */
  maxRuns?: number;
  webhookTimeoutMs?: number;
  webhookRetries?: number;
  webhookBackoffMs?: number;
  commandTimeoutMs?: number;
}

/** What one scheduled run is given: the scheduler holds the inventory's run lock around it. */
export interface RunIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  clock: Clock;
  /** The scheduler's interrupt: the first signal stops the run starting hosts, the second aborts them. */
  interrupt: () => Interrupt;
  /** An approved held run this tick resumes (`run --resume RUN`, issue 27 §4). */
  resume?: string;
}

/** How one scheduled run ended: the recorded run, or why there is none. */
export interface ScheduledRunResult {
  exitCode: number;
  /** Set when the run was recorded. */
  run?: RunInfo;
  summary?: RunSummary;
  /** The error that stopped the run before it was recorded (bad inventory, ...). */
  error?: string;
}

export interface SchedulerIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  clock: Clock;
  /** Runs the configured command once, in this process (the run layer, through the CLI's request). */
  execute: (io: RunIO) => Promise<ScheduledRunResult>;
  /** Default: SIGINT/SIGTERM handlers (two-stage, as for a sweep). */
  interrupt?: () => Interrupt;
  /** Each recorded run as stored (the metrics server keeps the latest sweep). */
  onRunRecorded?: (stored: StoredRun) => void;
}

/** What the loop reports as it goes (the CLI prints them; tests read them). */
export interface ScheduleOutcome {
  exitCode: number;
  runs: number;
  skipped: number;
}

/**
 * Validate, lock, then run `cfg.command` on every tick until a signal (or `maxRuns`). Returns the
 * exit code: 0, or 130 when the run in progress at the signal was interrupted.
 */
export async function runScheduler(cfg: ScheduleConfig, io: SchedulerIO): Promise<ScheduleOutcome> {
  const cmd = prepareCommand(cfg.command, cfg.stateDir);
  validateSchedule(cfg);
  const log = (line: string) => io.stderr.write(`${new Date(io.clock.now()).toISOString()} schedule: ${terminalLine(line)}\n`);
  const releaseScheduler = acquireInventoryLock(cfg.stateDir, cmd.inventory, { kind: 'scheduler', onWarning: log });
  try {
    return await new Loop(cfg, cmd, io, log).run();
  } finally {
    releaseScheduler();
  }
}

function validateSchedule(cfg: ScheduleConfig): void {
  if (cfg.timezone !== undefined) {
    try {
      new Intl.DateTimeFormat('en', { timeZone: cfg.timezone });
    } catch {
      throw new FleetmendError('E_USAGE', `--tz: unknown time zone '${cfg.timezone}' (an IANA name such as Europe/Berlin or UTC)`);
    }
  }
  try {
    const probe = new Cron(cfg.cron, { paused: true, ...(cfg.timezone ? { timezone: cfg.timezone } : {}) });
    const next = probe.nextRun();
    probe.stop();
    if (!next) throw new Error('it never fires');
  } catch (err) {
    throw new FleetmendError('E_USAGE', `--cron '${cfg.cron}': ${err instanceof Error ? err.message : String(err)}`);
  }
  if (cfg.webhook !== undefined) {
    let u: URL | undefined;
    try {
      u = new URL(cfg.webhook);
    } catch {
      /* reported below */
    }
    if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:')) {
      throw new FleetmendError('E_USAGE', `--notify-webhook must be an http(s) URL, got '${maskUrl(cfg.webhook)}'`);
    }
  }
}

/** `<time> run N <run-id>: exit 2; 30 hosts: 25 ok, 3 failed, 2 unreachable, 4 non-compliant`. */
function tickLine(at: number, n: number, exitCode: number, result: ScheduledRunResult): string {
  const head = `${new Date(at).toISOString()} run ${n}${result.run ? ` ${result.run.id}` : ''}: exit ${exitCode}`;
  const s = result.summary;
  if (!s) return `${head}; ${terminalLine(result.error ?? 'nothing recorded')}`;
  const counts = (['ok', 'changed', 'failed', 'unreachable', 'skipped', 'interrupted', 'non_compliant'] as const)
    .filter((k) => (s[k] ?? 0) > 0)
    .map((k) => `${s[k]} ${k.replace('_', '-')}`);
  return `${head}; ${s.hosts} host${s.hosts === 1 ? '' : 's'}${counts.length ? `: ${counts.join(', ')}` : ''}`;
}

class Loop {
  private runs = 0;
  private skipped = 0;
  private current: { promise: Promise<void>; tickAt: number } | undefined;
  private interruptedRun = false;
  private lastRunFailed = false;
  private notifications: Promise<void> = Promise.resolve();
  private stop!: () => void;
  private readonly stopped = new Promise<void>((r) => (this.stop = r));
  private stopping = false;
  private abortSignal: AbortSignal | undefined;

  constructor(
    private readonly cfg: ScheduleConfig,
    private readonly cmd: ScheduledCommand,
    private readonly io: SchedulerIO,
    private readonly log: (line: string) => void,
  ) {}

  async run(): Promise<ScheduleOutcome> {
    const interrupt = this.io.interrupt ? this.io.interrupt() : installInterrupt((sig, stage) => this.onSignal(sig, stage));
    this.abortSignal = interrupt.abortInFlight;
    const onStop = () => this.halt('signal');
    interrupt.stopStarting.addEventListener('abort', onStop, { once: true });
    // Each run gets the shared interrupt: the first signal stops it starting hosts, the second
    // aborts them; its dispose() must not remove the scheduler's handlers.
    const perRun: Interrupt = {
      get stopStarting() { return interrupt.stopStarting; },
      get abortInFlight() { return interrupt.abortInFlight; },
      get interrupted() { return interrupt.interrupted; },
      dispose() {},
    };
    const job = new Cron(this.cfg.cron, { ...(this.cfg.timezone ? { timezone: this.cfg.timezone } : {}) }, () => this.tick(perRun));
    this.log(`'${this.cfg.cron}'${this.cfg.timezone ? ` (${this.cfg.timezone})` : ''}: ${this.cmd.argv.map((a) => (/^rediss?:\/\//.test(a) ? maskRedisUrl(a) : a)).join(' ')}; next run ${job.nextRun()?.toISOString() ?? 'never'}`);
    try {
      if (interrupt.stopStarting.aborted) this.halt('signal');
      await this.stopped;
      job.stop();
      if (this.current) await this.current.promise;
      // Pending notifications are still sent on exit; a second signal stops their retries.
      await this.notifications;
    } finally {
      job.stop();
      interrupt.stopStarting.removeEventListener('abort', onStop);
      interrupt.dispose();
    }
    this.log(`stopped after ${this.runs} run(s), ${this.skipped} skipped tick(s)`);
    return { exitCode: this.interruptedRun ? 130 : 0, runs: this.runs, skipped: this.skipped };
  }

  private onSignal(sig: NodeJS.Signals, stage: 1 | 2): void {
    if (stage === 2) return this.log(`${sig}: aborting the hosts in flight`);
    this.log(
      this.current
        ? `${sig}: no new runs; the run in progress stops starting hosts and is recorded before exit (again to abort its hosts in flight)`
        : `${sig}: no run in progress; stopping`,
    );
  }

  private halt(why: string): void {
    if (this.stopping) return;
    this.stopping = true;
    if (why !== 'signal') this.log(why);
    this.stop();
  }

  /** A tick never waits: it starts a run or logs why it did not. */
  private tick(perRun: Interrupt): void {
    if (this.stopping) return;
    const at = this.io.clock.now();
    const iso = new Date(at).toISOString();
    if (this.current) {
      this.skipped += 1;
      this.log(`tick ${iso} skipped: the run started at ${new Date(this.current.tickAt).toISOString()} is still in progress`);
      return;
    }
    // a manual sweep or run waiting for the lock (--wait-lock) goes first: an operator's urgent fix
    // must not queue behind every tick
    const waiter = manualRunWaiting(this.cfg.stateDir, this.cmd.inventory);
    if (waiter && waiter.pid !== process.pid) {
      this.skipped += 1;
      this.log(`tick ${iso} skipped: a manual run (pid ${waiter.pid}) is waiting for ${this.cmd.inventoryAbs}`);
      return;
    }
    const holder = liveLockHolder(this.cfg.stateDir, this.cmd.inventory, 'run');
    if (holder && holder.pid !== process.pid) {
      this.skipped += 1;
      this.log(`tick ${iso} skipped: ${this.cmd.inventoryAbs} is locked by pid ${holder.pid} (a ${holder.kind} since ${holder.acquired_at})`);
      return;
    }
    const promise = this.runOnce(at, perRun).catch((err: unknown) => this.log(`run failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)).finally(() => {
      this.current = undefined;
      if (this.cfg.maxRuns !== undefined && this.runs >= this.cfg.maxRuns) this.halt(`--max-runs ${this.cfg.maxRuns} reached`);
    });
    this.current = { promise, tickAt: at };
  }

  private async runOnce(tickAt: number, perRun: Interrupt): Promise<void> {
    let release: () => void;
    try {
      release = acquireInventoryLock(this.cfg.stateDir, this.cmd.inventory, { onWarning: this.log });
    } catch (err) {
      this.skipped += 1;
      this.log(`tick ${new Date(tickAt).toISOString()} skipped: ${err instanceof FleetmendError ? err.oneLine() : String(err)}`);
      return;
    }
    const hold = this.holdState();
    if (hold.kind === 'waiting') {
      release();
      this.skipped += 1;
      this.log(`tick ${new Date(tickAt).toISOString()} skipped: run ${hold.runId} of this playbook is held; approve it (fleetmend approve ${hold.runId}: the next tick resumes it) or resume it by hand (--resume ${hold.runId})`);
      return;
    }
    this.runs += 1;
    const n = this.runs;
    this.log(`run ${n} started${hold.kind === 'approved' ? `: resuming the approved held run ${hold.runId}` : ''}`);
    let result: ScheduledRunResult;
    try {
      const resume = hold.kind === 'approved' ? { resume: hold.runId } : {};
      result = await this.io.execute({ stdout: this.io.stdout, stderr: this.io.stderr, env: this.io.env, clock: this.io.clock, interrupt: () => perRun, ...resume });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.io.stderr.write(`fleetmend: internal error: ${message}\n`);
      result = { exitCode: 1, error: `internal error: ${message}` };
    } finally {
      release();
    }
    if (result.exitCode === 130) this.interruptedRun = true;
    this.afterRun(n, result);
  }

  /** A scheduled playbook whose latest apply is held waits for an operator (src/schedule/holds.ts). */
  private holdState(): HoldState {
    const playbook = scheduledPlaybook(this.cmd.argv);
    if (!playbook) return { kind: 'none' };
    try {
      const store = openStore(this.cfg.stateDir);
      try {
        return holdOf(store, this.cfg.stateDir, this.cmd.inventoryAbs, playbook);
      } finally {
        store.close();
      }
    } catch (err) {
      // the run itself will meet (and report) an unreadable store
      this.log(`could not read held runs: ${err instanceof Error ? err.message : String(err)}`);
      return { kind: 'none' };
    }
  }

  private afterRun(n: number, result: ScheduledRunResult): void {
    const code = result.exitCode;
    const runId = result.run?.id;
    let drift: Drift | undefined;
    if (runId) {
      try {
        const store = openStore(this.cfg.stateDir);
        try {
          drift = driftSinceLast(store, runId);
          if (this.io.onRunRecorded) this.io.onRunRecorded(store.getRun(runId));
        } finally {
          store.close();
        }
      } catch (err) {
        this.log(`run ${n}: could not compute drift: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    this.log(`run ${n}${runId ? ` (${runId})` : ''} finished: exit ${code}${runId ? '' : ', nothing recorded'}`);
    // stdout says what each tick found, in one line, and what changed: the full table is in the store
    this.io.stdout.write(`${tickLine(this.io.clock.now(), n, code, result)}\n`);
    if (drift) this.io.stdout.write(renderDriftText(drift));

    let payload: DriftNotification | undefined;
    if (drift) {
      payload = this.cfg.notify === 'always' || drift.changed ? driftNotification(drift, { exitCode: code, ...(result.summary ? { summary: result.summary } : {}) }) : undefined;
      this.lastRunFailed = false;
    } else if (!runId) {
      // Failing to run at all is news once (and on every run with --notify always).
      if (this.cfg.notify === 'always' || !this.lastRunFailed) payload = runFailedNotification(this.cmd.inventoryAbs, code, result.error ?? `exit ${code}`);
      this.lastRunFailed = true;
    }
    if (payload) this.enqueue(payload);
  }

  /** Deliveries are queued: a slow receiver delays the next notification, never the next run. */
  private enqueue(payload: DriftNotification): void {
    this.notifications = this.notifications
      .then(() => this.deliver(payload))
      .catch((err: unknown) => this.log(`notification failed: ${err instanceof Error ? err.message : String(err)}`));
  }

  private async deliver(payload: DriftNotification): Promise<void> {
    const what = `${payload.event}${payload.run ? ` ${payload.run.id}` : ''}`;
    const jobs: Promise<void>[] = [];
    if (this.cfg.webhook) {
      const url = this.cfg.webhook;
      jobs.push(
        postWebhook(url, payload, {
          log: this.log,
          ...(this.cfg.webhookTimeoutMs !== undefined ? { timeoutMs: this.cfg.webhookTimeoutMs } : {}),
          ...(this.cfg.webhookRetries !== undefined ? { retries: this.cfg.webhookRetries } : {}),
          ...(this.cfg.webhookBackoffMs !== undefined ? { backoffMs: this.cfg.webhookBackoffMs } : {}),
          ...(this.abortSignal ? { signal: this.abortSignal } : {}),
          headers: { 'user-agent': 'fleetmend-scheduler' },
        }).then((r) => {
          if (r.ok) this.log(`notified ${maskUrl(url)}: ${what} (HTTP ${r.status}, attempt ${r.attempts})`);
        }),
      );
    }
    if (this.cfg.notifyCommand) {
      jobs.push(
        runNotifyCommand(this.cfg.notifyCommand, payload, {
          log: this.log,
          env: { ...this.io.env, FLEETMEND_EVENT: payload.event, FLEETMEND_RUN_ID: payload.run?.id ?? '', FLEETMEND_EXIT_CODE: String(payload.run?.exit_code ?? '') },
          ...(this.cfg.commandTimeoutMs !== undefined ? { timeoutMs: this.cfg.commandTimeoutMs } : {}),
        }).then((r) => {
          if (r.ok) this.log(`notify-command ran for ${what}`);
        }),
      );
    }
    await Promise.all(jobs);
  }

}
