import type { Command } from 'commander';
import { isoNow, type Clock } from '../executor/clock.js';
import type { RunInfo, RunSummary } from '../executor/events.js';
import { exitCodeFor, type Interrupt } from '../executor/index.js';
import { RunSession } from './session.js';
import { resolve } from 'node:path';
import { loadPolicy } from '../policy/index.js';
import type { Policy } from '../policy/types.js';
import type { RunStore } from '../store/index.js';
import { sinceLastReport } from '../drift/index.js';
import { runSweep } from '../sweep/index.js';
import { addConnectionOptions, resolveTargets, type ConnectionOptions } from './context.js';
import { writeJsonDocument } from './output.js';
import { DEFAULT_POLICY } from './paths.js';
import { summaryTable } from './progress.js';
import { addReportOptions, prepareRenderer, writeRunReports, type ReportOptions } from './reports.js';
import { secondsOption } from './options.js';
import { newRunId, parsePositiveInt } from './util.js';
import { terminalLine } from '../util/terminal.js';

export interface SweepCliOptions extends ConnectionOptions, ReportOptions {
  json?: boolean;
  samples: number;
  interval: number;
  policy?: string | false;
  stateDir?: string;
  store: boolean;
  quiet?: boolean;
  verbose?: boolean;
  sinceLast?: boolean;
  metricsFile?: string;
}

export function sweepCommand(program: Command, io: CliIO): Command {
  const cmd = program
    .command('sweep')
    .description('collect audit status from every host in parallel, diagnose it, check it against a policy');
  addConnectionOptions(cmd);
  addReportOptions(cmd);
  return cmd
    .option('--json', 'print one JSON document on stdout')
    .option('--samples <n>', 'samples per host (2+ measures rates)', parsePositiveInt('--samples'), 2)
    .addOption(secondsOption('--interval <seconds>', 'between samples', 5))
    .option('--policy <file>', 'compliance policy (default: policies/audit-baseline.yml)')
    .option('--no-policy', 'skip the compliance evaluation')
    .option('--state-dir <dir>', 'run store location (default: $XDG_STATE_HOME/fleetmend)')
    .option('--no-store', 'do not record the run')
    .option('--since-last', 'show what changed since the previous run of this inventory')
    .option('-q, --quiet', 'no progress output')
    .option('--metrics-file <path>', "write Prometheus metrics for node_exporter's textfile collector (atomically; PATH ending in .prom)")
    .option('-v, --verbose', 'one summary line per host (else hosts with the same outcome share a line)')
    .action(async (opts: SweepCliOptions) => {
      io.exitCode = await sweepAction(opts, io);
    });
}

export interface CliIO {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  clock: Clock;
  exitCode: number;
  /** Injected by tests and the scheduler; default installs SIGINT/SIGTERM handlers. */
  interrupt?: () => Interrupt;
  /** Called once a run is recorded (the scheduler computes drift from it). */
  onRunFinished?: (run: RunInfo, summary: RunSummary, store: RunStore | undefined) => void | Promise<void>;
}

export async function sweepAction(opts: SweepCliOptions, io: CliIO): Promise<number> {
  // Everything that can be wrong with the input fails here, before any host is contacted.
  const { inventory, targets, specs } = await resolveTargets(opts, io.env);
  for (const w of inventory.warnings) io.stderr.write(`warning: ${terminalLine(w)}\n`);
  const policy: Policy | undefined = opts.policy === false ? undefined : await loadPolicy(opts.policy ?? DEFAULT_POLICY());
  const renderer = await prepareRenderer(opts);
  const metricsFile = opts.metricsFile ? (await import('../metrics/index.js')).metricsFileWriter(opts.metricsFile, io.stderr) : undefined;
  const run: RunInfo = {
    id: newRunId(io.clock.now()),
    mode: 'sweep',
    started_at: isoNow(io.clock),
    forks: opts.forks,
    inventory: resolve(opts.inventory),
    ...(opts.limit ? { limit: opts.limit } : {}),
  };
  const session = await RunSession.open(run, io, { store: opts.store, ...(opts.stateDir ? { stateDir: opts.stateDir } : {}), quiet: !!opts.quiet, inventory: opts.inventory });
  try {
    session.start(targets.map((t) => t.name));
    const outcome = await runSweep({
      run,
      hosts: targets,
      transportFor: (host) => session.transport(specs.get(host.name)!),
      samples: opts.samples,
      intervalMs: opts.interval,
      clock: io.clock,
      interrupt: session.interrupt,
      onEvent: session.listener,
      ...(policy ? { policy } : {}),
    });
    // fleet-level findings are added after the per-host records: store the final versions
    session.finish(outcome.run, outcome.summary, outcome.results, (r) => !!r.diagnosis?.findings.some((f) => f.code === 'fleet-outlier'));
    session.writeRetryFile(opts.stateDir, outcome.results);
    const written = await writeRunReports(opts, outcome.run, outcome.summary, outcome.results, session.store, renderer);
    if (opts.json) writeJsonDocument(io.stdout, outcome.run, outcome.summary, outcome.results);
    else io.stdout.write(summaryTable(outcome.results, outcome.summary, { verbose: !!opts.verbose }));
    if (opts.sinceLast && session.store) (opts.json ? io.stderr : io.stdout).write(sinceLastReport(session.store, outcome.run));
    for (const f of written) io.stderr.write(`report: ${f}\n`);
    metricsFile?.update(outcome.run, outcome.results);
    await io.onRunFinished?.(outcome.run, outcome.summary, session.store);
    return exitCodeFor(outcome.summary, session.interrupt.interrupted);
  } finally {
    session.dispose();
  }
}

