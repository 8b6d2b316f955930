import pLimit from 'p-limit';
import type { Clock } from './clock.js';
import { isoNow } from './clock.js';
import type { Interrupt } from './interrupt.js';
import type { HostResult, RunEventListener, RunSummary } from './events.js';
import { isUnreachable, toFleetmendError } from '../errors.js';

export interface HostTarget {
  name: string;
  address: string;
  port: number;
  groups?: string[];
}

export interface RunHostsOptions {
  forks: number;
  clock: Clock;
  interrupt: Interrupt;
  onEvent: RunEventListener;
}

/**
 * Runs `job` for every host with at most `forks` in flight. A job's exception becomes that
 * host's failed/unreachable result: one host never stops the others. Hosts not started when
 * the run is interrupted are reported `interrupted`.
 */
export async function runHosts<H extends HostTarget>(
  hosts: readonly H[],
  job: (host: H) => Promise<HostResult>,
  opts: RunHostsOptions,
): Promise<HostResult[]> {
  const limit = pLimit(Math.max(1, opts.forks));
  const results = hosts.map((host) =>
    limit(async (): Promise<HostResult> => {
      if (opts.interrupt.stopStarting.aborted) return notStarted(host, opts.clock);
      const started = isoNow(opts.clock);
      opts.onEvent({ type: 'host-start', host: host.name, at: started });
      let result: HostResult;
      try {
        result = await job(host);
      } catch (err) {
        result = failedResult(host, err, started, opts.clock);
      }
      opts.onEvent({ type: 'host-done', result });
      return result;
    }),
  );
  return Promise.all(results);
}

function notStarted(host: HostTarget, clock: Clock): HostResult {
  const at = isoNow(clock);
  return {
    host: host.name,
    address: host.address,
    port: host.port,
    status: 'interrupted',
    started_at: at,
    finished_at: at,
    error: { code: 'E_INTERRUPTED', message: 'not started: the run was interrupted' },
    ...(host.groups ? { groups: host.groups } : {}),
  };
}

export function failedResult(host: HostTarget, err: unknown, started: string, clock: Clock): HostResult {
  const e = toFleetmendError(err, host.name);
  return {
    host: host.name,
    address: host.address,
    port: host.port,
    status: isUnreachable(e) ? 'unreachable' : e.code === 'E_INTERRUPTED' ? 'interrupted' : 'failed',
    started_at: started,
    finished_at: isoNow(clock),
    error: { code: e.code, message: e.message },
    ...(host.groups ? { groups: host.groups } : {}),
  };
}

export function summarize(results: readonly HostResult[]): RunSummary {
  const s: RunSummary = { hosts: results.length, ok: 0, changed: 0, failed: 0, unreachable: 0, skipped: 0, interrupted: 0 };
  const byState: Record<string, number> = {};
  let nonCompliant = 0;
  for (const r of results) {
    if (r.status === 'held') s.held = (s.held ?? 0) + 1;
    else s[r.status]++;
    if (r.diagnosis) byState[r.diagnosis.state] = (byState[r.diagnosis.state] ?? 0) + 1;
    if (r.compliance && !r.compliance.compliant) nonCompliant++;
  }
  if (Object.keys(byState).length) s.by_state = byState;
  if (results.some((r) => r.compliance)) s.non_compliant = nonCompliant;
  return s;
}

/**
 * Exit codes (README "Exit codes"): 0 all ok; 2 a host failed (or is non-compliant);
 * 4 a host unreachable; 6 both; 8 added when a failure budget held the run (10, 12, 14);
 * 130 interrupted. 1 (bad input) is decided before any host.
 */
/** The bit a held run adds to its exit code: 2/4/6 still say what failed. */
export const EXIT_HELD = 8;

export function exitCodeFor(summary: RunSummary, interrupted: boolean): number {
  if (interrupted) return 130;
  const failed = summary.failed > 0 || (summary.non_compliant ?? 0) > 0;
  const unreachable = summary.unreachable > 0;
  return (failed ? 2 : 0) | (unreachable ? 4 : 0) | ((summary.held ?? 0) > 0 ? EXIT_HELD : 0);
}
