import type { HostResult } from '../results/index.js';
import type { HostTarget } from '../results/index.js';
import { loadPolicy } from '../policy/index.js';
import { runSweep, withFleetFindings } from '../sweep/index.js';
import { finishRun, type Prepared } from './finish.js';
import { prepareRun } from './prepare.js';
import { RunSession } from './session.js';
import type { AskSecret } from './targets.js';
import type { ConnectionSpec } from '../transport/types.js';
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
export async function prepareSweep(options: SweepOptions, ctx: RunContext, ask?: AskSecret): Promise<PreparedSweep & { specs: Map<string, ConnectionSpec> }> {
  const { targets, specs, renderer, run } = await prepareRun('sweep', options, ctx, ask);
  const policy = options.policy === false || options.policy === undefined ? undefined : await loadPolicy(options.policy);
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
      return await finishRun(prepared, session, {
        run: outcome.run,
        summary: outcome.summary,
        results: withFleetFindings(outcome.results, outcome.fleetFindings),
      });
    } finally {
      session.dispose();
    }
  } finally {
    await placement?.close();
  }
}
