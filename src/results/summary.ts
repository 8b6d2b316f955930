import type { HostResult, RunSummary } from './types.js';

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
export function exitCodeFor(summary: RunSummary, interrupted: boolean): number {
  if (interrupted) return 130;
  const failed = summary.failed > 0 || (summary.non_compliant ?? 0) > 0;
  const unreachable = summary.unreachable > 0;
  return (failed ? 2 : 0) | (unreachable ? 4 : 0) | ((summary.held ?? 0) > 0 ? EXIT_HELD : 0);
}

/** The bit a held run adds to its exit code: 2/4/6 still say what failed. */
export const EXIT_HELD = 8;
