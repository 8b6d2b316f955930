import type { HostResult } from '../results/index.js';
import type { StoredRun } from '../store/index.js';
import type { Drift, DriftOptions, HostChange, HostChangeKind, HostDrift, RunRef } from './types.js';

/**
 * Statuses that carry a measurement. `skipped`/`interrupted` hosts (and hosts still pending in an
 * interrupted run) were never looked at, so they are neither a change nor a removal.
 */
const MEASURED = new Set(['ok', 'changed', 'failed', 'unreachable']);
const isMeasured = (h: HostResult | undefined): h is HostResult => h !== undefined && MEASURED.has(h.status);

/** Per-host drift between two stored runs of the same inventory. Pure. */
export function computeDrift(prev: StoredRun | undefined, cur: StoredRun, opts: DriftOptions = {}): Drift {
  const base = {
    ...(cur.run.inventory !== undefined ? { inventory: cur.run.inventory } : {}),
    current: runRef(cur),
  };
  if (!prev) return { ...base, changed: false, hosts: [], counts: {}, notes: ['no previous run of this fleet (inventory or same hosts): this run is the baseline'] };

  const notes: string[] = [];
  // With different --limit patterns the host sets differ by design: that is not drift.
  const sameScope = (prev.run.limit ?? '') === (cur.run.limit ?? '');
  if (!sameScope) notes.push(`host set not compared: --limit differs (${prev.run.limit ?? 'none'} → ${cur.run.limit ?? 'none'})`);

  const before = byHost(prev);
  const after = byHost(cur);
  const prevNames = new Set([...before.keys(), ...prev.pending]);
  const curNames = new Set([...after.keys(), ...cur.pending]);
  const hosts: HostDrift[] = [];
  let unmeasured = 0;

  for (const name of [...after.keys(), ...cur.pending.filter((p) => !after.has(p))]) {
    const a = after.get(name);
    if (!prevNames.has(name)) {
      if (sameScope) hosts.push({ host: name, changes: [{ kind: 'host-added' }] });
      continue;
    }
    const b = before.get(name);
    if (!isMeasured(a) || !isMeasured(b)) {
      unmeasured += 1;
      continue;
    }
    const changes = hostChanges(b, a, opts);
    if (changes.length) hosts.push({ host: name, changes });
  }
  if (sameScope) {
    for (const name of prevNames) if (!curNames.has(name)) hosts.push({ host: name, changes: [{ kind: 'host-removed' }] });
  }
  if (unmeasured) notes.push(`${unmeasured} host(s) not compared: skipped, interrupted or pending in one of the runs`);
  return { ...base, previous: runRef(prev), changed: hosts.length > 0, hosts, counts: countKinds(hosts), notes };
}

function byHost(run: StoredRun): Map<string, HostResult> {
  return new Map(run.hosts.map((h) => [h.host, h]));
}

function runRef(r: StoredRun): RunRef {
  return {
    id: r.run.id,
    mode: r.run.mode,
    started_at: r.run.started_at,
    ...(r.run.finished_at ? { finished_at: r.run.finished_at } : {}),
    status: r.status,
  };
}

function countKinds(hosts: HostDrift[]): Partial<Record<HostChangeKind, number>> {
  const counts: Partial<Record<HostChangeKind, number>> = {};
  for (const h of hosts) for (const k of new Set(h.changes.map((c) => c.kind))) counts[k] = (counts[k] ?? 0) + 1;
  return counts;
}

/** The changes of one host measured in both runs. */
export function hostChanges(b: HostResult, a: HostResult, opts: DriftOptions = {}): HostChange[] {
  const wasUp = b.status !== 'unreachable';
  const isUp = a.status !== 'unreachable';
  if (wasUp && !isUp) {
    return [{
      kind: 'became-unreachable',
      ...(a.error ? { error_code: a.error.code, error: a.error.message } : {}),
    }];
  }
  // While unreachable there is nothing to compare; coming back is compared with nothing older.
  if (!wasUp && !isUp) return [];
  if (!wasUp) {
    return [{
      kind: 'reachable-again',
      ...(a.diagnosis ? { state: a.diagnosis.state } : {}),
      findings: [...new Set((a.diagnosis?.findings ?? []).map((f) => f.code))],
    }];
  }
  return [...statusChange(b, a), ...stateAndFindings(b, a), ...counterChanges(b, a, opts), ...complianceChange(b, a)];
}

function statusChange(b: HostResult, a: HostResult): HostChange[] {
  const failed = (h: HostResult) => h.status === 'failed';
  if (failed(b) === failed(a)) return [];
  return [{ kind: 'status-changed', from: b.status, to: a.status, ...(a.error ? { error_code: a.error.code } : {}) }];
}

function stateAndFindings(b: HostResult, a: HostResult): HostChange[] {
  const out: HostChange[] = [];
  const from = b.diagnosis?.state;
  const to = a.diagnosis?.state;
  // A failed host's state is 'unknown' for want of facts: status-changed already says so.
  const bothAnswered = b.status !== 'failed' && a.status !== 'failed';
  if (from && to && from !== to && bothAnswered) out.push({ kind: 'state-changed', from, to });
  if (!a.diagnosis) return out;
  const had = new Set((b.diagnosis?.findings ?? []).map((f) => f.code));
  const has = new Set(a.diagnosis.findings.map((f) => f.code));
  for (const f of a.diagnosis.findings) {
    if (!had.has(f.code)) {
      had.add(f.code); // the same code twice is one new finding
      out.push({ kind: 'new-finding', code: f.code, severity: f.severity, message: f.message });
    }
  }
  // A host that failed this time has no fresh diagnosis to prove a finding went away.
  if (b.diagnosis && a.status !== 'failed') {
    for (const code of new Set(b.diagnosis.findings.map((f) => f.code))) {
      if (!has.has(code)) out.push({ kind: 'resolved-finding', code });
    }
  }
  return out;
}

function counterChanges(b: HostResult, a: HostResult, opts: DriftOptions): HostChange[] {
  if (!b.audit || !a.audit) return [];
  const out: HostChange[] = [];
  // audit_lost is a kernel counter since boot (kernel/audit.c audit_lost): a new boot id (or a
  // smaller value) means it restarted from 0, so everything it counts now was lost since then.
  const rebooted = bootId(b) !== undefined && bootId(a) !== undefined ? bootId(b) !== bootId(a) : a.audit.lost < b.audit.lost;
  const lostBy = rebooted ? a.audit.lost : a.audit.lost - b.audit.lost;
  if (lostBy > 0) out.push({ kind: 'lost-increased', by: lostBy, from: rebooted ? 0 : b.audit.lost, to: a.audit.lost, since_reboot: rebooted });
  const grew = a.audit.backlog - b.audit.backlog;
  if (grew > 0 && grew >= (opts.backlogGrowthMin ?? 1)) out.push({ kind: 'backlog-grew', by: grew, from: b.audit.backlog, to: a.audit.backlog });
  if (a.audit.backlog_limit !== b.audit.backlog_limit) out.push({ kind: 'limit-changed', from: b.audit.backlog_limit, to: a.audit.backlog_limit });
  return out;
}

function bootId(h: HostResult): string | undefined {
  const samples = h.facts?.samples ?? [];
  return samples[samples.length - 1]?.system.boot_id ?? undefined;
}

function complianceChange(b: HostResult, a: HostResult): HostChange[] {
  if (!b.compliance || !a.compliance || b.compliance.compliant === a.compliance.compliant) return [];
  return [{
    kind: 'compliance-changed',
    from: b.compliance.compliant,
    to: a.compliance.compliant,
    failed_controls: a.compliance.failed_controls.map((c) => c.id),
  }];
}
