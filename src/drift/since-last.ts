import type { HostResult, RunInfo } from '../results/index.js';
import type { RunStore, StoredRun } from '../store/index.js';
import { computeDrift } from './compute.js';
import { renderDriftText } from './render.js';
import type { Drift, DriftOptions } from './types.js';

/** How far back a previous run is looked for (the store lists runs newest first). */
const LOOKBACK_RUNS = 500;

/**
 * The fleet a run covered: its hosts' names and addresses (with the port: simulated hosts share
 * 127.0.0.1), sorted. The same fleet read from its INI and from its YAML copy, or from a moved
 * inventory file, has the same identity; the inventory's path does not say that (issue 24 item 8).
 */
export function fleetIdentity(hosts: readonly Pick<HostResult, 'host' | 'address' | 'port'>[]): string {
  return hosts
    .map((h) => `${h.host}@${h.address}:${h.port}`)
    .sort()
    .join('\n');
}

/**
 * The latest finished run of the same mode, before `cur`, of the same fleet: the same
 * inventory path (how runs were matched before, so a store's older runs still count) or the
 * same fleet identity (another file describing the same hosts).
 */
export function previousRunOfFleet(store: RunStore, cur: StoredRun): StoredRun | undefined {
  const runs = store.listRuns({ mode: cur.run.mode, limit: LOOKBACK_RUNS });
  const at = runs.findIndex((r) => r.id === cur.run.id);
  if (at < 0) return store.previousRun(cur.run.inventory, cur.run.id);
  const identity = fleetIdentity(cur.hosts);
  for (const r of runs.slice(at + 1)) {
    if (r.status === 'running') continue;
    if (r.inventory === cur.run.inventory) return store.getRun(r.id);
    // host_count first: a run of another fleet is seldom read in full
    if (r.host_count !== cur.hosts.length) continue;
    const prev = store.getRun(r.id);
    if (fleetIdentity(prev.hosts) === identity) return prev;
  }
  return undefined;
}

/** Drift of a recorded run against the previous finished run of the same fleet. */
export function driftSinceLast(store: RunStore, runId: string, opts: DriftOptions = {}): Drift {
  const cur = store.getRun(runId);
  return computeDrift(previousRunOfFleet(store, cur), cur, opts);
}

/** `fleetmend sweep --since-last`: the drift text for a run that was just recorded. */
export function sinceLastReport(store: RunStore, run: Pick<RunInfo, 'id'>): string {
  return renderDriftText(driftSinceLast(store, run.id));
}
