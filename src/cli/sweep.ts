import type { Command } from 'commander';
import type { RunOutcome, RunRequest, SweepOptions } from '../run/index.js';
import { addConnectionOptions } from './context.js';
import type { CliIO } from './io.js';
import { DEFAULT_POLICY } from './paths.js';
import { addReportOptions } from './reports.js';
import { redisOptions, secondsOption, waitLockOption } from './options.js';
import { runFromTerminal, withoutDistributed, type TerminalOptions } from './terminal.js';
import { increaseVerbosity, parsePositiveInt } from './util.js';
import { FleetmendError } from '../errors.js';
import { resolveInventory } from './inventory-source.js';

export type { CliIO } from './io.js';

/** What commander hands the sweep action: the request's options plus the terminal's. */
export interface SweepCliOptions extends Omit<SweepOptions, 'policy'>, TerminalOptions {
  policy?: string | false;
  /** --metrics-file: Prometheus textfile written once the sweep is recorded (src/metrics). */
  metricsFile?: string;
}

/** The sweep command's options (also parsed by `schedule -- sweep ...`). */
export function sweepOptions(cmd: Command): Command {
  addConnectionOptions(cmd);
  addReportOptions(cmd);
  cmd
    .option('--json', 'print one JSON document on stdout')
    .option('--samples <n>', 'samples per host (2+ measures rates)', parsePositiveInt('--samples'), 2)
    .addOption(secondsOption('--interval <seconds>', 'between samples', 5))
    .option('--policy <file>', 'compliance policy (default: policies/audit-baseline.yml)')
    .option('--no-policy', 'skip the compliance evaluation')
    .option('--state-dir <dir>', 'run store location (default: $XDG_STATE_HOME/fleetmend)')
    .option('--no-store', 'do not record the run')
    .option('--since-last', 'show what changed since the previous sweep of this inventory')
    .addOption(waitLockOption())
    .option('-q, --quiet', 'no progress output, no advice block (the table stays)')
    .option('-v, --verbose', 'one summary line per host (else hosts with the same outcome share a line); -vv is refused: the rest is in --json and the reports', increaseVerbosity, 0)
    .option('--no-color', 'no colour (also: NO_COLOR set; never when stdout is not a terminal)')
    .option('--metrics-file <path>', "write Prometheus metrics for node_exporter's textfile collector (atomically; PATH ending in .prom)");
  return redisOptions(cmd, 'one queue job per host');
}

export function sweepCommand(program: Command, io: CliIO): Command {
  const cmd = program
    .command('sweep')
    .description('collect audit status from every host in parallel, diagnose it, check it against a policy');
  return sweepOptions(cmd).action(async (opts: SweepCliOptions) => {
    io.exitCode = await sweepAction(opts, io);
  });
}

/** The typed request of a sweep's command-line options (the shipped policy by default). */
export function sweepRequest(opts: SweepCliOptions): RunRequest {
  const { json: _json, quiet: _quiet, verbose: _verbose, color: _color, sinceLast: _sinceLast, waitLock: _waitLock, diff: _diff, metricsFile: _mf, ...rest } = withoutDistributed(opts);
  return { kind: 'sweep', options: { ...rest, policy: opts.policy === false ? false : (opts.policy ?? DEFAULT_POLICY()) } };
}

export async function sweepAction(opts: SweepCliOptions, io: CliIO): Promise<number> {
  // refused, not ignored: a user who asks for more detail is told where it is
  if ((opts.verbose ?? 0) > 1) throw new FleetmendError('E_USAGE', 'sweep: -v is the most the table shows (one line per host); each host\'s findings, evidence and facts are in --json and the reports (-o DIR)');
  opts = { ...opts, inventory: resolveInventory(opts.inventory, io) };
  // the metrics file's directory is checked now, before any host is contacted
  const metrics = opts.metricsFile ? (await import('../metrics/index.js')).metricsFileWriter(opts.metricsFile, io.stderr) : undefined;
  const subscribers = metrics ? [{ onFinished: (o: RunOutcome): void => void metrics.update(o.run, o.results) }] : [];
  return (await runFromTerminal(sweepRequest(opts), opts, io, { subscribers })).exitCode;
}
