import { Option, type Command } from 'commander';
import { addReportOptions, historyFor, prepareRenderer, type ReportOptions } from './reports.js';
import { FleetmendError } from '../errors.js';
import { exitCodeFor } from '../results/index.js';
import type { RunListItem } from '../store/index.js';
import type { ReportFormat } from '../report/formats.js';
import type { CliIO } from './io.js';
import { argumentWithDefault } from './options.js';
import { parsePositiveInt } from './util.js';
import { escapeJsonControls, terminalLines, terminalTable } from '../util/terminal.js';

/** Rows read from the store hold what hosts and workers reported: shown through the terminal's line writer. */
function table(header: string[], rows: string[][]): string {
  return terminalLines(terminalTable([header, ...rows]));
}

/** The run store (and its native SQLite binding) is loaded only by commands that use it. */
async function storeAt(dir: string | undefined, env: NodeJS.ProcessEnv) {
  const { defaultStateDir, openStore } = await import('../store/index.js');
  return openStore(dir ?? defaultStateDir(env));
}

/** `sweep`, or for a playbook run whether it changed anything: `check` (run --check) or `apply`. */
function modeOf(r: RunListItem): string {
  return r.mode === 'sweep' ? 'sweep' : r.check ? 'check' : 'apply';
}

/**
 * What a run did beyond its counts: the exit code it ended with (the same function the run used,
 * from the recorded summary and interrupted flag; none while it is still running) and how long
 * it took.
 */
function withOutcome(r: RunListItem): RunListItem & { exit_code?: number; duration_ms?: number } {
  const finished = r.status !== 'running' && r.summary !== undefined;
  const took = r.finished_at ? Date.parse(r.finished_at) - Date.parse(r.started_at) : NaN;
  return {
    ...r,
    ...(finished ? { exit_code: exitCodeFor(r.summary!, r.status === 'interrupted') } : {}),
    ...(Number.isFinite(took) ? { duration_ms: took } : {}),
  };
}

/** `report` without -o prints one document: the one format asked for, else Markdown. */
function stdoutFormat(formats: readonly ReportFormat[], defaulted: boolean): ReportFormat {
  if (defaulted) return 'md';
  if (formats.length !== 1) {
    throw new FleetmendError('E_USAGE', `report: stdout takes one format, got --format ${formats.join(',')} (add -o DIR to write several)`);
  }
  return formats[0]!;
}

interface RowCountOptions {
  last: number;
  /** --limit N, the old name of --last N. */
  limit?: number;
}

/**
 * `--limit` is a host pattern in `sweep`, `run` and `inventory` (as in Ansible); in `runs` and
 * `history` it was a row count. The count is now `--last N`; `--limit N` still works here, with
 * a warning, so scripts keep running while they move (issue 24 item 8).
 */
function deprecatedLimit(): Option {
  return new Option('-l, --limit <n>', 'deprecated: --last N').argParser(parsePositiveInt('--limit')).hideHelp();
}

function rowCount(opts: RowCountOptions, io: CliIO): number {
  if (opts.limit === undefined) return opts.last;
  io.stderr.write('warning: --limit N is deprecated here, use --last N (--limit is a host pattern in sweep and run)\n');
  return opts.limit;
}

export function storeCommands(program: Command, io: CliIO): void {

  program
    .command('runs')
    .description('list recorded sweeps and playbook runs, newest first')
    .option('--state-dir <dir>', 'run store location')
    .option('-n, --last <n>', 'the newest N runs', parsePositiveInt('--last'), 20)
    .addOption(deprecatedLimit())
    .option('--json', 'as JSON')
    .action(async (opts: RowCountOptions & { stateDir?: string; json?: boolean }) => {
      const last = rowCount(opts, io);
      const store = await storeAt(opts.stateDir, io.env);
      try {
        const runs = store.listRuns({ limit: last }).map(withOutcome);
        if (opts.json) return void io.stdout.write(escapeJsonControls(JSON.stringify(runs, null, 2)) + '\n');
        const n = (v: number | undefined) => (v === undefined ? '-' : String(v));
        io.stdout.write(
          table(
            ['RUN', 'MODE', 'STARTED', 'TOOK', 'STATUS', 'EXIT', 'HOSTS', 'OK', 'CHANGED', 'FAILED', 'UNREACHABLE', 'LIMIT', 'INVENTORY/PLAYBOOK'],
            runs.map((r) => [
              r.id,
              modeOf(r),
              r.started_at,
              r.duration_ms === undefined ? '-' : `${(r.duration_ms / 1000).toFixed(1)}s`,
              r.status,
              n(r.exit_code),
              String(r.host_count),
              n(r.summary?.ok),
              n(r.summary?.changed),
              n(r.summary?.failed),
              n(r.summary?.unreachable),
              r.limit ?? '-',
              r.playbook ?? r.inventory ?? '',
            ]),
          ),
        );
      } finally {
        store.close();
      }
    });

  program
    .command('history')
    .description("a host's backlog, lost, limit and state across recorded runs")
    .argument('<host>', 'inventory host name')
    .option('--state-dir <dir>', 'run store location')
    .option('-n, --last <n>', 'the newest N runs', parsePositiveInt('--last'), 50)
    .addOption(deprecatedLimit())
    .option('--json', 'as JSON')
    .action(async (host: string, opts: RowCountOptions & { stateDir?: string; json?: boolean }) => {
      const last = rowCount(opts, io);
      const store = await storeAt(opts.stateDir, io.env);
      try {
        const rows = store.hostHistory(host, { limit: last });
        if (!rows.length) throw new FleetmendError('E_USAGE', `no recorded run has host '${host}'`);
        if (opts.json) return void io.stdout.write(escapeJsonControls(JSON.stringify(rows, null, 2)) + '\n');
        const n = (v: number | null) => (v === null ? '-' : String(v));
        io.stdout.write(
          table(
            ['RUN', 'TAKEN', 'STATE', 'BACKLOG', 'LIMIT', 'LOST', 'ENABLED', 'FAILURE', 'REACHABLE'],
            rows.map((r) => [
              r.run_id,
              new Date(r.taken_at).toISOString(),
              r.state ?? '-',
              n(r.backlog),
              n(r.backlog_limit),
              n(r.lost),
              n(r.enabled),
              n(r.failure),
              r.reachable ? 'yes' : 'no',
            ]),
          ),
        );
      } finally {
        store.close();
      }
    });

  addReportOptions(
    program
      .command('report')
      .description('re-render a recorded run without contacting any host')
      .addArgument(argumentWithDefault('[run]', 'run id, unique prefix, or latest', 'latest'))
      .option('--state-dir <dir>', 'run store location'),
  ).action(async (id: string, opts: ReportOptions & { stateDir?: string }, cmd: Command) => {
    // without -o the report goes to stdout, as one document: one format (Markdown unless --format names one)
    const toStdout = opts.output ? undefined : stdoutFormat(opts.format, cmd.getOptionValueSource('format') === 'default');
    const renderer = await prepareRenderer(opts);
    const { printReport, writeReports } = await import('../report/index.js');
    const store = await storeAt(opts.stateDir, io.env);
    try {
      const stored = store.getRun(id);
      if (toStdout) {
        const templates = opts.templateDir ? { templateDir: opts.templateDir } : {};
        return void (await printReport({ runStored: stored, format: toStdout, ...templates, history: historyFor(store, stored.hosts) }, io.stdout));
      }
      const written = await writeReports({
        runStored: stored,
        formats: opts.format,
        outDir: opts.output!,
        ...(renderer ? { renderer } : {}),
        ...(opts.perHost ? { perHost: true } : {}),
        history: historyFor(store, stored.hosts),
      });
      for (const f of written) io.stdout.write(`${f}\n`);
    } finally {
      store.close();
    }
  });
}
