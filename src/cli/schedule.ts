import { InvalidArgumentError, type Command } from 'commander';
import { FleetmendError } from '../errors.js';
import type { NotifyWhen } from '../schedule/index.js';
import type { CliIO } from './sweep.js';
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
}

function parseNotify(v: string): NotifyWhen {
  if (v === 'always' || v === 'changes') return v;
  throw new InvalidArgumentError(`--notify must be 'always' or 'changes', got '${v}'`);
}

export function scheduleCommand(program: Command, io: CliIO): Command {
  return program
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
    .option('--metrics-allow-remote', '--metrics-listen may bind a non-loopback address (the page has no authentication)')
    .argument('<command...>', "after '--': sweep -i INVENTORY ... | run PLAYBOOK -i INVENTORY ...")
    .action(async (command: string[], opts: ScheduleCliOptions) => {
      io.exitCode = await scheduleAction(command, opts, io);
    });
}

export async function scheduleAction(command: string[], opts: ScheduleCliOptions, io: CliIO): Promise<number> {
  // program.ts imports this file: load main() when a run starts, not at module load.
  const { main } = await import('./program.js');
  // The URL is often the secret itself (Slack, Teams): the environment keeps it out of `ps`.
  const webhook = opts.notifyWebhook ?? (io.env['FLEETMEND_NOTIFY_WEBHOOK'] || undefined);
  const [{ runScheduler }, { defaultStateDir }] = await Promise.all([import('../schedule/index.js'), import('../store/index.js')]);
  const metrics = opts.metricsListen ? await startMetrics(command, opts.metricsListen, !!opts.metricsAllowRemote, io) : undefined;
  const outcome = await runScheduler(
    {
      cron: opts.cron,
      ...(opts.tz ? { timezone: opts.tz } : {}),
      command,
      stateDir: opts.stateDir ?? defaultStateDir(io.env),
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
      runCommand: (argv, runIo) => main(argv, runIo),
      ...(io.interrupt ? { interrupt: io.interrupt } : {}),
      ...(metrics ? { onRunRecorded: metrics.update } : {}),
    },
  ).finally(() => metrics?.close()); // also when the loop refuses to start
  return outcome.exitCode;
}

/** `--metrics-listen` (src/metrics): the latest scheduled sweep on /metrics. */
async function startMetrics(command: string[], listen: string, allowRemote: boolean, io: CliIO) {
  if (command[0] !== 'sweep') throw new FleetmendError('E_USAGE', `--metrics-listen serves the metrics of a scheduled sweep, not of '${command[0] ?? ''}'`);
  const server = await (await import('../metrics/index.js')).serveSweepMetrics(listen, { allowRemote });
  io.stderr.write(`${new Date(io.clock.now()).toISOString()} schedule: metrics on ${server.url}\n`);
  return server;
}
