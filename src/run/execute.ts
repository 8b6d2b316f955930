import type { AskSecret } from './targets.js';
import type { SweepPlacement, PreparedSweep } from './sweep.js';
import type { PlaybookPlacement, PreparedPlaybook } from './playbook.js';
import type { RunContext, RunOutcome, RunRequest } from './types.js';

export interface ExecuteHooks {
  /** Asks for a passphrase or sudo password on the terminal (-K, encrypted keys). */
  ask?: AskSecret;
  /** Distributed mode: where the hosts of a validated sweep run. */
  placeSweep?: (prepared: PreparedSweep) => Promise<SweepPlacement>;
  /** Distributed mode: where each host's plays of a validated playbook run. */
  placePlaybook?: (prepared: PreparedPlaybook) => Promise<PlaybookPlacement>;
}

/**
 * A run end to end: validate (a FleetmendError before any host is contacted, exit 1), lock,
 * record, run the hosts, emit the event stream to the subscribers, write the reports. The CLI,
 * the scheduler and tests call this; the outcome's results are final and match the store.
 */
export async function executeRun(request: RunRequest, ctx: RunContext, hooks: ExecuteHooks = {}): Promise<RunOutcome> {
  if (request.kind === 'sweep') {
    const { executeSweep } = await import('./sweep.js');
    return executeSweep(request.options, ctx, { ...(hooks.ask ? { ask: hooks.ask } : {}), ...(hooks.placeSweep ? { place: hooks.placeSweep } : {}) });
  }
  // the playbook engine is loaded only when a playbook runs
  const { executePlaybook } = await import('./playbook.js');
  return executePlaybook(request.playbook, request.options, ctx, { ...(hooks.ask ? { ask: hooks.ask } : {}), ...(hooks.placePlaybook ? { place: hooks.placePlaybook } : {}) });
}
