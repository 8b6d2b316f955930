import type { HostResult, RunInfo, RunSummary } from '../results/index.js';
import { escapeJsonControls } from '../util/terminal.js';

/**
 * The `--json` document (README "JSON output"): snake_case keys as auditctl names them,
 * numbers as numbers, `address` the address actually connected to.
 */
export function jsonDocument(run: RunInfo, summary: RunSummary, results: readonly HostResult[]): unknown {
  return { run: jsonRun(run), summary, hosts: results.map(jsonHost) };
}

function jsonRun(run: RunInfo): unknown {
  return {
    id: run.id,
    mode: run.mode,
    started_at: run.started_at,
    finished_at: run.finished_at ?? null,
    forks: run.forks,
    ...(run.check !== undefined ? { check: run.check } : {}),
    ...(run.interrupted ? { interrupted: true } : {}),
  };
}

function jsonHost(r: HostResult): unknown {
  return {
    host: r.host,
    address: r.address,
    port: r.port,
    status: r.status,
    audit: r.audit ?? null,
    error: r.error ?? null,
    ...(r.diagnosis ? { diagnosis: r.diagnosis } : {}),
    ...(r.compliance ? { compliance: { compliant: r.compliance.compliant, failed_controls: r.compliance.failed_controls } } : {}),
    ...(r.facts ? { facts: r.facts } : {}),
    ...(r.tasks ? { tasks: r.tasks } : {}),
  };
}

/**
 * Writes the `--json` document host by host, so a 10,000-host fleet never becomes one giant
 * string (the same document as `jsonDocument`, plus `extra` keys at the end).
 */
export function writeJsonDocument(
  out: NodeJS.WritableStream,
  run: RunInfo,
  summary: RunSummary,
  results: readonly HostResult[],
  extra: Record<string, unknown> = {},
): void {
  // host data on stdout, often a terminal: the controls JSON.stringify leaves raw are \u-escaped
  const indent = (v: unknown, pad: string) => escapeJsonControls(JSON.stringify(v, null, 2)).replace(/\n/g, `\n${pad}`);
  out.write(`{\n  "run": ${indent(jsonRun(run), '  ')},\n  "summary": ${indent(summary, '  ')},\n  "hosts": [`);
  results.forEach((r, i) => out.write(`${i ? ',' : ''}\n    ${indent(jsonHost(r), '    ')}`));
  out.write(results.length ? '\n  ]' : ']');
  for (const [k, v] of Object.entries(extra)) out.write(`,\n  ${JSON.stringify(k)}: ${indent(v, '  ')}`);
  out.write('\n}\n');
}
