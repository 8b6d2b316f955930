import type { RunInfo } from '../results/index.js';
import type { RunStore } from '../store/index.js';
import { computeDrift } from './compute.js';
import { renderDriftText } from './render.js';
import type { Drift, DriftOptions } from './types.js';

/** Drift of a recorded run against the previous finished run of the same inventory. */
export function driftSinceLast(store: RunStore, runId: string, opts: DriftOptions = {}): Drift {
  const cur = store.getRun(runId);
  return computeDrift(store.previousRun(cur.run.inventory, cur.run.id), cur, opts);
}

/** `fleetmend sweep --since-last`: the drift text for a run that was just recorded. */
export function sinceLastReport(store: RunStore, run: Pick<RunInfo, 'id'>): string {
  return renderDriftText(driftSinceLast(store, run.id));
}
