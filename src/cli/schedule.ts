import { Writable } from 'node:stream';
import { Command, InvalidArgumentError } from 'commander';
import { FleetmendError } from '../errors.js';
import type { RunRequest } from '../run/index.js';
import type { ConnectionPool } from '../transport/pool.js';
import type { NotifyWhen, RunIO, ScheduledRunResult } from '../schedule/index.js';
import type { CliIO } from './io.js';
import { playbookRequest, runOptions, type RunCliOptions } from './run.js';
import { sweepOptions, sweepRequest, type SweepCliOptions } from './sweep.js';
import { runFromTerminal, type TerminalOptions } from './terminal.js';
import { secondsOption, optionWithDefault } from './options.js';
import { parsePositiveInt } from './util.js';

export interface ScheduleCliOptions {
  cron: string;
  tz?: string;
  notifyWebhook?: string;
  notify: NotifyWhen;
  notifyCommand?: string;
  notifyTimeout: number;
  maxRuns?: number;
  stateDir?: string;
  metricsListen?: string;
  metricsAllowRemote?: boolean;
  maxWarm?: number;
  warmIdle: number;
  cold?: boolean;
  probeShell?: boolean;
}

/** The warm pool's options, the same for `schedule` and `worker` (issue 25). */
export interface WarmCliOptions {
  maxWarm?: number;
  /** ms */
  warmIdle: number;
  cold?: boolean;
  /** false with --no-probe-shell */
  probeShell?: boolean;
}

/** Default idle timeout of a warm connection: above the usual scheduled interval (set it above yours). */
export const DEFAULT_WARM_IDLE_S = 1800;

export function warmOptions(cmd: Command): Command {
  return cmd
    .option('--max-warm <n>', 'SSH connections kept open between runs at most (least recently used closed first; default: what the file descriptor limit allows)', parsePositiveInt('--max-warm'))
    .addOption(secondsOption('--warm-idle <seconds>', 'a connection unused this long is closed', DEFAULT_WARM_IDLE_S))
    .option('--cold', 'keep no connection between runs: every run logs in to every host, as a one-shot sweep does')
    .option('--no-probe-shell', 'run every probe as an exec of its own (sudo logs each one) instead of in the shell kept on each warm connection');
}

/** The process's pool, or none with --cold; its warnings go to `log`. */
export async function warmPool(opts: WarmCliOptions, log: (line: string) => void, io: Pick<CliIO, 'clock'>): Promise<ConnectionPool | undefined> {
  if (opts.cold) return undefined;
  const { openWarmPool } = await import('../transport/pool.js');
  return openWarmPool({ ...(opts.maxWarm !== undefined ? { maxWarm: opts.maxWarm } : {}), ...(opts.probeShell === false ? { probeShell: false } : {}), idleTimeoutMs: opts.warmIdle, clock: io.clock, logger: { warn: (m) => log(`warning: ${m}`) } });
}

/** `warm: 300 hosts, 0 logins, 300 reused, 0 dead retried` (totals since the process started). */
export function warmLine(pool: ConnectionPool): string {
  const s = pool.stats;
  return `warm: ${pool.size} host(s) held, ${s.logins} login(s), ${s.reused} reuse(s), ${s.deadRetries} dead connection(s) retried, ${s.retired} retired, ${s.evicted} evicted, ${s.refusedChannels} channel(s) refused, ${s.shellProbes} probe(s) in a kept shell (since start)`;
}

function parseNotify(v: string): NotifyWhen {
  if (v === 'always' || v === 'changes') return v;
  throw new InvalidArgumentError(`--notify must be 'always' or 'changes', got '${v}'`);
}

export function scheduleCommand(program: Command, io: CliIO): Command {
  const cmd = program
    .command('schedule')
    .description('run a sweep (or a playbook run) on a cron schedule, report drift between runs, notify')
    .usage('--cron EXPR [options] -- sweep|run ARGS...')
    .requiredOption('--cron <expr>', "cron expression; 6 fields = seconds first, e.g. '0 */15 * * * *'")
    .option('--tz <zone>', 'IANA time zone of the expression (default: the system time zone)')
    .option('--notify-webhook <url>', 'POST the drift JSON (fleetmend.drift/v1) to URL (default: $FLEETMEND_NOTIFY_WEBHOOK)')
    .addOption(optionWithDefault('--notify <when>', "'changes' (drift only) or 'always'", 'changes' as NotifyWhen, parseNotify))
    .option('--notify-command <cmd>', 'run CMD with sh -c, the drift JSON on stdin')
    .addOption(secondsOption('--notify-timeout <seconds>', 'per webhook attempt (3 retries on errors/5xx)', 10))
    .option('--max-runs <n>', 'exit after N runs', parsePositiveInt('--max-runs'))
    .option('--state-dir <dir>', 'run store and locks (default: $XDG_STATE_HOME/fleetmend)')
    .option('--metrics-listen <addr:port>', 'serve Prometheus /metrics of the latest sweep on ADDR:PORT (ADDR defaults to 127.0.0.1)')
    .option('--metrics-allow-remote', '--metrics-listen may bind a non-loopback address (the page has no authentication)');
  return warmOptions(cmd)
    .argument('<command...>', "after '--': sweep -i INVENTORY ... | run PLAYBOOK -i INVENTORY ...")
    .action(async (command: string[], opts: ScheduleCliOptions) => {
      io.exitCode = await scheduleAction(command, opts, io);
    });
}

export async function scheduleAction(command: string[], opts: ScheduleCliOptions, io: CliIO): Promise<number> {
  // The URL is often the secret itself (Slack, Teams): the environment keeps it out of `ps`.
  const webhook = opts.notifyWebhook ?? (io.env['FLEETMEND_NOTIFY_WEBHOOK'] || undefined);
  const [{ runScheduler }, { defaultStateDir }] = await Promise.all([import('../schedule/index.js'), import('../store/index.js')]);
  const stateDir = opts.stateDir ?? defaultStateDir(io.env);
  const log = (line: string) => io.stderr.write(`${new Date(io.clock.now()).toISOString()} schedule: ${line}\n`);
  const pool = await warmPool(opts, log, io);
  const execute = await scheduledRunner(command, stateDir, io, pool);
  const metrics = opts.metricsListen ? await startMetrics(command, opts.metricsListen, !!opts.metricsAllowRemote, io) : undefined;
  const outcome = await runScheduler(
    {
      cron: opts.cron,
      ...(opts.tz ? { timezone: opts.tz } : {}),
      command,
      stateDir,
      notify: opts.notify,
      ...(webhook ? { webhook } : {}),
      ...(opts.notifyCommand ? { notifyCommand: opts.notifyCommand } : {}),
      ...(opts.maxRuns ? { maxRuns: opts.maxRuns } : {}),
      webhookTimeoutMs: opts.notifyTimeout,
    },
    {
      stdout: io.stdout,
      stderr: io.stderr,
      env: io.env,
      clock: io.clock,
      execute,
      ...(io.interrupt ? { interrupt: io.interrupt } : {}),
      ...(metrics ? { onRunRecorded: metrics.update } : {}),
    },
  ).finally(async () => {
    metrics?.close(); // also when the loop refuses to start
    await pool?.close();
  });
  return outcome.exitCode;
}

/** `--metrics-listen` (src/metrics): the latest scheduled sweep on /metrics. */
async function startMetrics(command: string[], listen: string, allowRemote: boolean, io: CliIO) {
  if (command[0] !== 'sweep') throw new FleetmendError('E_USAGE', `--metrics-listen serves the metrics of a scheduled sweep, not of '${command[0] ?? ''}'`);
  const server = await (await import('../metrics/index.js')).serveSweepMetrics(listen, { allowRemote });
  io.stderr.write(`${new Date(io.clock.now()).toISOString()} schedule: metrics on ${server.url}\n`);
  return server;
}

/**
 * The scheduled command as a typed run request, run in this process on each tick. A typo in it
 * fails now (exit 1), not on every tick; the inventory is read again by every run. With a pool,
 * every run leases the connections the earlier ones left warm (a distributed run's hosts are
 * the workers' business: their own pools).
 */
export async function scheduledRunner(
  command: readonly string[],
  stateDir: string,
  io: CliIO,
  pool?: ConnectionPool,
): Promise<(runIo: RunIO) => Promise<ScheduledRunResult>> {
  const { prepareCommand } = await import('../schedule/index.js');
  const scheduled = await parseScheduled(prepareCommand(command, stateDir).argv, io);
  return async (runIo) => {
    const result = await executeScheduled(scheduled, runIo, io, pool);
    if (pool) runIo.stderr.write(`${new Date(runIo.clock.now()).toISOString()} schedule: ${warmLine(pool)}\n`);
    return result;
  };
}

interface ScheduledRequest {
  request: RunRequest;
  terminal: TerminalOptions;
}

/** The scheduled command's argv through the same option definitions as `sweep` / `run`. */
async function parseScheduled(argv: string[], io: CliIO): Promise<ScheduledRequest> {
  let parsed: ScheduledRequest | undefined;
  const parser = new Command('fleetmend')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
  sweepOptions(parser.command('sweep')).action((o: SweepCliOptions) => {
    parsed = { request: sweepRequest(o), terminal: o };
  });
  runOptions(parser.command('run').argument('<playbook>')).action((playbook: string, o: RunCliOptions) => {
    parsed = { request: playbookRequest(playbook, o), terminal: o };
  });
  await parser.parseAsync(argv, { from: 'user' });
  if (!parsed) throw new FleetmendError('E_USAGE', `schedule: nothing to run in '${argv.join(' ')}'`);
  return parsed;
}

function discard(): Writable {
  return new Writable({ write: (_chunk, _enc, done) => done() });
}

/** One tick's run, in this process; errors are reported the way main() reports them. */
async function executeScheduled(s: ScheduledRequest, runIo: RunIO, io: CliIO, pool: ConnectionPool | undefined): Promise<ScheduledRunResult> {
  try {
    // the scheduler prints one line per tick and the drift; each run's table (or --json) would
    // repeat the whole fleet every tick, and the store keeps it (`fleetmend report latest`)
    const request: RunRequest = runIo.resume && s.request.kind === 'playbook' ? { ...s.request, options: { ...s.request.options, resume: runIo.resume } } : s.request;
    const outcome = await runFromTerminal(request, s.terminal, { ...io, ...runIo, stdout: discard(), exitCode: 0 }, { lockHeld: true, ...(pool ? { pool } : {}) });
    return { exitCode: outcome.exitCode, run: outcome.run, summary: outcome.summary };
  } catch (err) {
    if (!(err instanceof FleetmendError)) throw err;
    runIo.stderr.write(`fleetmend: ${err.oneLine()}\n`);
    return { exitCode: 1, error: err.oneLine().slice(0, 500) };
  }
}
