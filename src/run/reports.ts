import type { HostResult, RunInfo, RunSummary } from '../results/index.js';
import type { Renderer } from '../report/index.js';
import type { HostHistoryRow, RunStore, StoredRun } from '../store/index.js';
import type { ReportOptions } from './types.js';

/** Compile the templates before any host is contacted, so a template error is exit 1. */
export async function prepareRenderer(opts: ReportOptions): Promise<Renderer | undefined> {
  if (!opts.output) return undefined;
  // the template engine is loaded only by runs that write reports
  const { checkReportDir, createRenderer } = await import('../report/index.js');
  checkReportDir(opts.output);
  return createRenderer(opts.templateDir ? { templateDir: opts.templateDir } : {});
}

/** Reports are the run's last subscriber: written from what the store read back (or the results). */
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
