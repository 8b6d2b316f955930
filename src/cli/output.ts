import type { HostResult, RunInfo, RunSummary } from '../executor/events.js';

/**
 * The `--json` document (README "JSON output"): snake_case keys as auditctl names them,
 * numbers as numbers, `address` the address actually connected to.
 */
export function jsonDocument(run: RunInfo, summary: RunSummary, results: readonly HostResult[]): unknown {
  return {
    run: {
      id: run.id,
      mode: run.mode,
      started_at: run.started_at,
      finished_at: run.finished_at ?? null,
      forks: run.forks,
      ...(run.check !== undefined ? { check: run.check } : {}),
      ...(run.interrupted ? { interrupted: true } : {}),
    },
    summary,
    hosts: results.map((r) => ({
      host: r.host,
      address: r.address,
      port: r.port,
      status: r.status,
      audit: r.audit ?? null,
      error: r.error ?? null,
      ...(r.diagnosis ? { diagnosis: r.diagnosis } : {}),
      ...(r.compliance
        ? { compliance: { compliant: r.compliance.compliant, failed_controls: r.compliance.failed_controls } }
        : {}),
      ...(r.facts ? { facts: r.facts } : {}),
      ...(r.tasks ? { tasks: r.tasks } : {}),
    })),
  };
}
