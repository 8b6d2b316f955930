import type { Clock } from '../executor/clock.js';
import { isoNow } from '../executor/clock.js';
import type { HostResult, RunEventListener, RunInfo, RunSummary } from '../executor/events.js';
import type { Interrupt } from '../executor/interrupt.js';
import { runHosts, summarize, type HostTarget } from '../executor/run-hosts.js';
import { diagnoseFleet } from '../diagnosis/index.js';
import type { Policy } from '../policy/types.js';
import type { Transport } from '../transport/types.js';
import { factsProbe, sweepHost } from './sweep-host.js';

export { sweepHost, collectSample, newNonce, factsProbe, type FactsProbe } from './sweep-host.js';

export interface SweepRequest {
  run: RunInfo;
  hosts: readonly HostTarget[];
  transportFor: (host: HostTarget) => Transport;
  samples: number;
  intervalMs: number;
  policy?: Policy;
  clock: Clock;
  interrupt: Interrupt;
  onEvent: RunEventListener;
}

export interface SweepOutcome {
  run: RunInfo;
  results: HostResult[];
  summary: RunSummary;
}

/** Sweeps every host in parallel (forks), then adds the fleet-level findings. */
export async function runSweep(req: SweepRequest): Promise<SweepOutcome> {
  req.onEvent({ type: 'run-start', run: req.run, hosts: req.hosts.map((h) => h.name) });
  const probe = factsProbe();
  const results = await runHosts(
    req.hosts,
    (host) =>
      sweepHost(host, req.transportFor(host), {
        samples: req.samples,
        intervalMs: req.intervalMs,
        clock: req.clock,
        signal: req.interrupt.stopStarting,
        onEvent: req.onEvent,
        probe,
        ...(req.policy ? { policy: req.policy } : {}),
      }),
    { forks: req.run.forks, clock: req.clock, interrupt: req.interrupt, onEvent: req.onEvent },
  );
  addFleetFindings(results);
  const run: RunInfo = { ...req.run, finished_at: isoNow(req.clock), ...(req.interrupt.interrupted ? { interrupted: true } : {}) };
  const summary = summarize(results);
  req.onEvent({ type: 'run-end', run, summary });
  return { run, results, summary };
}

/** Fleet outliers can only be computed once every host answered. */
function addFleetFindings(results: HostResult[]): void {
  const extra = diagnoseFleet(
    results.map((r) => ({
      host: r.host,
      ...(r.groups?.[0] ? { group: r.groups.find((g) => g !== 'all' && g !== 'ungrouped') ?? r.groups[0] } : {}),
      ...(r.facts ? { facts: r.facts } : {}),
      ...(r.diagnosis ? { diagnosis: r.diagnosis } : {}),
    })),
  );
  for (const r of results) {
    const add = extra.get(r.host);
    if (add?.length && r.diagnosis) r.diagnosis.findings.push(...add);
  }
}
