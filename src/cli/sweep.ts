import type { Command } from 'commander';
import { systemClock, isoNow, type Clock } from '../executor/clock.js';
import type { HostResult, RunEvent, RunInfo, RunSummary } from '../executor/events.js';
import { exitCodeFor, installInterrupt, type Interrupt } from '../executor/index.js';
import { loadPolicy } from '../policy/index.js';
import type { Policy } from '../policy/types.js';
import { openStore, defaultStateDir, type RunStore } from '../store/index.js';
import { TransportFactory } from '../transport/index.js';
import { runSweep } from '../sweep/index.js';
import { addConnectionOptions, resolveTargets, type ConnectionOptions } from './context.js';
import { jsonDocument } from './output.js';
import { DEFAULT_POLICY } from './paths.js';
import { Progress, summaryTable } from './progress.js';
import { addReportOptions, prepareRenderer, writeRunReports, type ReportOptions } from './reports.js';
import { newRunId, parsePositiveInt, parseSeconds } from './util.js';

export interface SweepCliOptions extends ConnectionOptions, ReportOptions {
  json?: boolean;
  samples: number;
  interval: number;
  policy?: string | false;
  stateDir?: string;
  store: boolean;
  quiet?: boolean;
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
    .option('--interval <seconds>', 'between samples', parseSeconds('--interval'), 5000)
    .option('--policy <file>', 'compliance policy (default policies/audit-baseline.yml)')
    .option('--no-policy', 'skip the compliance evaluation')
    .option('--state-dir <dir>', 'run store location (default $XDG_STATE_HOME/fleetmend)')
    .option('--no-store', 'do not record the run')
    .option('-q, --quiet', 'no progress output')
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
  for (const w of inventory.warnings) io.stderr.write(`warning: ${w}\n`);
  const policy: Policy | undefined = opts.policy === false ? undefined : await loadPolicy(opts.policy ?? DEFAULT_POLICY());
  const renderer = prepareRenderer(opts);
  const store: RunStore | undefined = opts.store ? openStore(opts.stateDir ?? defaultStateDir(io.env)) : undefined;
  const run: RunInfo = {
    id: newRunId(io.clock.now()),
    mode: 'sweep',
    started_at: isoNow(io.clock),
    forks: opts.forks,
    inventory: opts.inventory,
    ...(opts.limit ? { limit: opts.limit } : {}),
  };
  const progress = new Progress(io.stderr, opts.quiet);
  const interrupt = io.interrupt ? io.interrupt() : installInterrupt((sig, stage) => {
    io.stderr.write(
      stage === 1
        ? `\n${sig}: no new hosts will be started; waiting for hosts in flight (again to abort them)\n`
        : `\n${sig}: aborting hosts in flight\n`,
    );
  });
  const factory = new TransportFactory();
  const live = new Set<{ close(): Promise<void> }>();
  const onAbort = () => void Promise.all([...live].map((t) => t.close()));
  interrupt.abortInFlight.addEventListener('abort', onAbort, { once: true });
  try {
    store?.startRun(run, targets.map((t) => t.name));
    const listener = (e: RunEvent) => {
      progress.listener(e);
      if (e.type === 'host-done') store?.recordHost(run.id, e.result);
    };
    const outcome = await runSweep({
      run,
      hosts: targets,
      transportFor: (host) => {
        const t = factory.create(specs.get(host.name)!);
        live.add(t);
        return t;
      },
      samples: opts.samples,
      intervalMs: opts.interval,
      clock: io.clock,
      interrupt,
      onEvent: listener,
      ...(policy ? { policy } : {}),
    });
    // fleet-level findings were added after the per-host records: store the final versions
    for (const r of outcome.results) if (r.diagnosis?.findings.some((f) => f.code === 'fleet-outlier')) store?.recordHost(run.id, r);
    store?.finishRun(run.id, outcome.summary, { interrupted: interrupt.interrupted, ...(outcome.run.finished_at ? { finished_at: outcome.run.finished_at } : {}) });
    const written = await writeRunReports(opts, outcome.run, outcome.summary, outcome.results, store, renderer);
    if (opts.json) io.stdout.write(JSON.stringify(jsonDocument(outcome.run, outcome.summary, outcome.results), null, 2) + '\n');
    else io.stdout.write(summaryTable(outcome.results, outcome.summary));
    for (const f of written) io.stderr.write(`report: ${f}\n`);
    await io.onRunFinished?.(outcome.run, outcome.summary, store);
    return exitCodeFor(outcome.summary, interrupt.interrupted);
  } finally {
    interrupt.abortInFlight.removeEventListener('abort', onAbort);
    interrupt.dispose();
    store?.close();
  }
}

export type { HostResult };
