import type { Command } from 'commander';
import { FleetmendError } from '../errors.js';
import type { HostResult, RunInfo, RunSummary } from '../executor/events.js';
import { FORMATS, type ReportFormat } from '../report/formats.js';
import type { Renderer } from '../report/index.js';
import { optionWithDefault } from './options.js';
import type { HostHistoryRow, RunStore, StoredRun } from '../store/index.js';

export interface ReportOptions {
  output?: string;
  format: ReportFormat[];
  perHost?: boolean;
  templateDir?: string;
}

export const DEFAULT_FORMATS: ReportFormat[] = ['md', 'html', 'json'];

export function parseFormats(v: string): ReportFormat[] {
  const list = v.split(',').map((s) => s.trim()).filter(Boolean);
  for (const f of list) {
    if (!(FORMATS as readonly string[]).includes(f)) {
      throw new FleetmendError('E_USAGE', `unknown report format '${f}' (choose from ${FORMATS.join(', ')})`);
    }
  }
  return list as ReportFormat[];
}

export function addReportOptions(cmd: Command): Command {
  return cmd
    .option('-o, --output <dir>', 'write reports to DIR/<run-id>/')
    .addOption(optionWithDefault('--format <list>', `report formats: ${FORMATS.join(',')}`, DEFAULT_FORMATS, parseFormats))
    .option('--per-host', 'also write one report file per host')
    .option('--template-dir <dir>', 'override templates or partials by file name');
}

/** Compile the templates before any host is contacted, so a template error is exit 1. */
export async function prepareRenderer(opts: ReportOptions): Promise<Renderer | undefined> {
  if (!opts.output) return undefined;
  // the template engine is loaded only by runs that write reports
  const { checkReportDir, createRenderer } = await import('../report/index.js');
  checkReportDir(opts.output);
  return createRenderer(opts.templateDir ? { templateDir: opts.templateDir } : {});
}

export async function writeRunReports(
  opts: ReportOptions,
  run: RunInfo,
  summary: RunSummary,
  results: HostResult[],
  store: RunStore | undefined,
  renderer: Renderer | undefined,
): Promise<string[]> {
  if (!opts.output || !renderer) return [];
  const { writeReports } = await import('../report/index.js');
  const stored: StoredRun = store
    ? store.getRun(run.id)
    : { run, status: run.interrupted ? 'interrupted' : 'finished', finished: true, summary, hosts: results, pending: [] };
  return writeReports({
    runStored: stored,
    formats: opts.format,
    outDir: opts.output,
    renderer,
    ...(opts.perHost ? { perHost: true } : {}),
    ...(store ? { history: historyFor(store, results) } : {}),
  });
}

/** Past sweeps for the sparklines; bounded per host. */
export function historyFor(store: RunStore, results: readonly { host: string }[]): Record<string, HostHistoryRow[]> {
  const out: Record<string, HostHistoryRow[]> = {};
  for (const r of results) {
    const rows = store.hostHistory(r.host, { limit: 30 });
    if (rows.length > 1) out[r.host] = rows;
  }
  return out;
}
