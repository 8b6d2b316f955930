import type { HostResult, RunInfo, RunSummary } from '../results/index.js';
import { exitCodeFor } from '../results/index.js';
import type { Renderer } from '../report/index.js';
import { writeRunReports } from './reports.js';
import type { RunSession } from './session.js';
import type { PlaybookOutcome, ReportOptions, RunOutcome } from './types.js';

/** What every validated request carries into its run. */
export interface Prepared {
  run: RunInfo;
  options: ReportOptions;
  renderer: Renderer | undefined;
}

export interface Finished {
  run: RunInfo;
  summary: RunSummary;
  /** The final documents. */
  results: HostResult[];
  playbook?: PlaybookOutcome;
  resumedSkipped?: number;
}

/**
 * Closes a run the same way for sweeps and playbooks: record, retry file, reports, then the
 * subscribers' onFinished with the store still open.
 */
export async function finishRun(prepared: Prepared, session: RunSession, f: Finished): Promise<RunOutcome> {
  session.finish(f.run, f.summary);
  const retryFile = session.writeRetryFile(f.results);
  const reports = await writeRunReports(prepared.options, f.run, f.summary, f.results, session.store, prepared.renderer);
  const interrupted = session.interrupt.interrupted;
  const outcome: RunOutcome = {
    run: f.run,
    summary: f.summary,
    results: f.results,
    interrupted,
    exitCode: exitCodeFor(f.summary, interrupted),
    reports,
    ...(retryFile ? { retryFile } : {}),
    ...(f.playbook ? { playbook: f.playbook } : {}),
    ...(f.resumedSkipped !== undefined ? { resumedSkipped: f.resumedSkipped } : {}),
  };
  await session.finished(outcome);
  return outcome;
}
