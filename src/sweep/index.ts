import { isoNow } from '../executor/clock.js';
import type { HostResult, RunEventListener, RunInfo, RunSummary } from '../results/index.js';
import type { Interrupt } from '../executor/interrupt.js';
import { runHosts } from '../executor/run-hosts.js';
import { summarize, type HostTarget } from '../results/index.js';
import { diagnoseFleet, withMoreFindings, type Finding } from '../diagnosis/index.js';
import type { Transport } from '../transport/types.js';
import { factsProbe, sweepHost, type SweepOptions } from './sweep-host.js';

export { sweepHost, collectSample, factsProbe, type FactsProbe } from './sweep-host.js';
export { newNonce } from '../util/nonce.js';

/** A sweep of a fleet: the per-host options (samples, interval, policy, clock) plus the run's. */
export interface SweepRequest extends Pick<SweepOptions, 'samples' | 'intervalMs' | 'policy' | 'clock'> {
  run: RunInfo;
  hosts: readonly HostTarget[];
  transportFor: (host: HostTarget) => Transport;
  interrupt: Interrupt;
  onEvent: RunEventListener;
  /**
   * Sweeps one host somewhere else (a queue worker) instead of here; the default sweeps it in
   * this process through `transportFor`.
   */
  sweepOne?: (host: HostTarget) => Promise<HostResult>;
  /** Hosts in flight at once here (default `run.forks`); a queue enforces forks itself. */
  inFlight?: number;
}

export interface SweepOutcome {
  run: RunInfo;
  /** As emitted in host-done: never changed afterwards. */
  results: HostResult[];
  /** Fleet outliers by host, emitted as one `fleet-findings` event after the last host. */
  fleetFindings: Record<string, Finding[]>;
  summary: RunSummary;
}

/** Sweeps every host in parallel (forks), then adds the fleet-level findings. */
export async function runSweep(req: SweepRequest): Promise<SweepOutcome> {
  req.onEvent({ type: 'run-start', run: req.run, hosts: req.hosts.map((h) => h.name) });
  const probe = factsProbe();
  const local = (host: HostTarget) =>
    sweepHost(host, req.transportFor(host), {
      samples: req.samples,
      intervalMs: req.intervalMs,
      clock: req.clock,
      signal: req.interrupt.stopStarting,
      probe,
      ...(req.policy ? { policy: req.policy } : {}),
    });
  const results = await runHosts(req.hosts, req.sweepOne ?? local, {
    forks: req.inFlight ?? req.run.forks,
    clock: req.clock,
    interrupt: req.interrupt,
    onEvent: req.onEvent,
  });
  const fleetFindings = fleetFindingsOf(results);
  if (Object.keys(fleetFindings).length) req.onEvent({ type: 'fleet-findings', findings: fleetFindings });
  const run: RunInfo = { ...req.run, finished_at: isoNow(req.clock), ...(req.interrupt.interrupted ? { interrupted: true } : {}) };
  const summary = summarize(results);
  req.onEvent({ type: 'run-end', run, summary });
  return { run, results, fleetFindings, summary };
}

/**
 * The final documents (JSON, reports): each host's result with its fleet findings merged into
 * its diagnosis (most severe first), as copies; the results emitted stay as they were.
 */
export function withFleetFindings(results: readonly HostResult[], findings: Readonly<Record<string, readonly Finding[]>>): HostResult[] {
  return results.map((r) => {
    const add = findings[r.host];
    return add?.length && r.diagnosis ? { ...r, diagnosis: { ...r.diagnosis, findings: withMoreFindings(r.diagnosis.findings, add) } } : r;
  });
}

/** Fleet outliers can only be computed once every host answered. */
function fleetFindingsOf(results: readonly HostResult[]): Record<string, Finding[]> {
  const extra = diagnoseFleet(
    results.map((r) => ({
      host: r.host,
      ...(r.groups?.[0] ? { group: r.groups.find((g) => g !== 'all' && g !== 'ungrouped') ?? r.groups[0] } : {}),
      ...(r.facts ? { facts: r.facts } : {}),
      ...(r.diagnosis ? { diagnosis: r.diagnosis } : {}),
    })),
  );
  const out: Record<string, Finding[]> = {};
  // only hosts with a diagnosis can carry a finding (as before: the others had nowhere to put it)
  for (const r of results) {
    const add = extra.get(r.host);
    if (add?.length && r.diagnosis) out[r.host] = add;
  }
  return out;
}
