import { resolve } from 'node:path';
import { isoNow } from '../executor/clock.js';
import type { RunInfo, RunMode } from '../results/index.js';
import type { Renderer } from '../report/index.js';
import { terminalLine } from '../util/terminal.js';
import { newRunId } from './ids.js';
import { prepareRenderer } from './reports.js';
import { resolveTargets, type AskSecret, type ResolvedTargets } from './targets.js';
import type { ConnectionOptions, ReportOptions, RunContext } from './types.js';

export interface PreparedRun extends ResolvedTargets {
  run: RunInfo;
  renderer: Renderer | undefined;
}

/**
 * The preamble sweeps and playbook runs share, all before any host is contacted (a problem is
 * exit 1): hosts resolved (inventory, pattern, key files), inventory warnings printed, report
 * templates compiled, and the run's identity.
 */
export async function prepareRun(mode: RunMode, options: ConnectionOptions & ReportOptions, ctx: RunContext, ask?: AskSecret): Promise<PreparedRun> {
  const resolved = await resolveTargets(options, ctx.env, ask);
  for (const w of resolved.inventory.warnings) ctx.stderr.write(`warning: ${terminalLine(w)}\n`);
  const renderer = await prepareRenderer(options);
  const run: RunInfo = {
    id: newRunId(ctx.clock.now()),
    mode,
    started_at: isoNow(ctx.clock),
    forks: options.forks,
    inventory: resolve(options.inventory),
    ...(options.limit ? { limit: options.limit } : {}),
  };
  return { ...resolved, renderer, run };
}
