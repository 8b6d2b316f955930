import { terminalLine } from '../util/terminal.js';
import { resolve } from 'node:path';
import { isoNow } from '../executor/clock.js';
import type { HostResult, RunInfo } from '../executor/events.js';
import type { HostTarget } from '../executor/run-hosts.js';
import { loadPolicy } from '../policy/index.js';
import { runSweep, withFleetFindings } from '../sweep/index.js';
import { finishRun, type Prepared } from './finish.js';
import { newRunId } from './ids.js';
import { prepareRenderer } from './reports.js';
import { RunSession } from './session.js';
import { resolveTargets, type AskSecret } from './targets.js';
import type { RunContext, RunOutcome, SweepOptions } from './types.js';

/** Where a sweep's hosts are swept: here (default) or on queue workers (distributed mode). */
export interface SweepPlacement {
  sweepOne(host: HostTarget, session: RunSession): Promise<HostResult>;
  /** Hosts in flight at once in this process. */
  inFlight: number;
  close(): Promise<void>;
}

export interface SweepHooks {
  ask?: AskSecret;
  /** Called after validation, before the lock and the store: nothing has been contacted yet. */
  place?: (prepared: PreparedSweep) => Promise<SweepPlacement>;
}

export interface PreparedSweep extends Prepared {
  options: SweepOptions;
  policy: Awaited<ReturnType<typeof loadPolicy>> | undefined;
  targets: HostTarget[];
}

/** Everything that can be wrong with the input fails here, before any host is contacted (exit 1). */
export async function prepareSweep(options: SweepOptions, ctx: RunContext, ask?: AskSecret): Promise<PreparedSweep & { specs: Awaited<ReturnType<typeof resolveTargets>>['specs'] }> {
  const { inventory, targets, specs } = await resolveTargets(options, ctx.env, ask);
  for (const w of inventory.warnings) ctx.stderr.write(`warning: ${terminalLine(w)}\n`);
  const policy = options.policy === false || options.policy === undefined ? undefined : await loadPolicy(options.policy);
  const renderer = await prepareRenderer(options);
  const run: RunInfo = {
    id: newRunId(ctx.clock.now()),
    mode: 'sweep',
    started_at: isoNow(ctx.clock),
    forks: options.forks,
    inventory: resolve(options.inventory),
    ...(options.limit ? { limit: options.limit } : {}),
  };
  return { options, policy, targets, specs, renderer, run };
}

export async function executeSweep(options: SweepOptions, ctx: RunContext, hooks: SweepHooks = {}): Promise<RunOutcome> {
  const prepared = await prepareSweep(options, ctx, hooks.ask);
  const placement = hooks.place ? await hooks.place(prepared) : undefined;
  try {
    const session = await RunSession.open(prepared.run, ctx, { store: options.store, ...(options.stateDir ? { stateDir: options.stateDir } : {}), inventory: options.inventory });
    try {
      session.start(prepared.targets.map((t) => t.name));
      const outcome = await runSweep({
        run: prepared.run,
        hosts: prepared.targets,
        transportFor: (host) => session.transport(prepared.specs.get(host.name)!),
        samples: options.samples,
        intervalMs: options.interval,
        clock: ctx.clock,
        interrupt: session.interrupt,
        onEvent: session.emit,
        ...(prepared.policy ? { policy: prepared.policy } : {}),
        ...(placement ? { sweepOne: (host: HostTarget) => placement.sweepOne(host, session), inFlight: placement.inFlight } : {}),
      });
      // host results were recorded as each host finished and the fleet findings beside them
      return await finishRun(prepared, session, ctx, {
        run: outcome.run,
        summary: outcome.summary,
        results: withFleetFindings(outcome.results, outcome.fleetFindings),
        toRecord: [],
      });
    } finally {
      session.dispose();
    }
  } finally {
    await placement?.close();
  }
}
