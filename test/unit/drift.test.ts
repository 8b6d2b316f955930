import { describe, expect, it } from 'vitest';
import type { HostResult } from '../../src/results/index.js';
import type { StoredRun } from '../../src/store/index.js';
import { computeDrift, driftNotification, renderDriftText, runFailedNotification } from '../../src/drift/index.js';
import type { HostChange } from '../../src/drift/index.js';
import { buildHost, summarize, T0 } from '../fixtures/results/build.js';

function stored(id: string, hosts: HostResult[], over: Partial<StoredRun> & { limit?: string; at?: number } = {}): StoredRun {
  const at = over.at ?? T0;
  return {
    run: {
      id, mode: 'sweep', started_at: new Date(at).toISOString(), finished_at: new Date(at + 9_000).toISOString(),
      forks: 50, inventory: 'inventory/prod.yml', ...(over.limit ? { limit: over.limit } : {}),
    },
    status: over.status ?? 'finished',
    finished: true,
    summary: summarize(hosts),
    hosts,
    pending: over.pending ?? [],
  };
}

const host = (kind: Parameters<typeof buildHost>[0], index: number) => buildHost(kind, { index });
/** A copy of a host with its last audit status changed (the store keeps `audit` = last sample). */
function withAudit(h: HostResult, over: Partial<NonNullable<HostResult['audit']>>, bootId?: string): HostResult {
  const copy = structuredClone(h);
  copy.audit = { ...copy.audit!, ...over };
  if (bootId) for (const s of copy.facts!.samples) s.system.boot_id = bootId;
  return copy;
}
function changesOf(prev: HostResult[], cur: HostResult[], name = 'web001'): HostChange[] {
  const d = computeDrift(stored('A', prev), stored('B', cur, { at: T0 + 3_600_000 }));
  return d.hosts.find((h) => h.host === name)?.changes ?? [];
}

describe('computeDrift', () => {
  it('reports nothing and changed=false when the runs agree', () => {
    const hosts = [host('healthy', 1), host('records-lost', 7), host('unreachable', 13)];
    const d = computeDrift(stored('A', hosts), stored('B', structuredClone(hosts)));
    expect(d.changed).toBe(false);
    expect(d.hosts).toEqual([]);
    expect(d.previous?.id).toBe('A');
    expect(renderDriftText(d)).toMatch(/^drift: no change since run A/);
  });

  it('treats the first run of an inventory as the baseline, not as drift', () => {
    const d = computeDrift(undefined, stored('B', [host('records-lost', 1)]));
    expect(d.changed).toBe(false);
    expect(d.previous).toBeUndefined();
    expect(renderDriftText(d)).toContain('baseline');
  });

  it('new findings, resolved findings and the state change of a host that started losing records', () => {
    const before = host('healthy', 1);
    const after = { ...host('records-lost', 1), host: before.host };
    const c = changesOf([before], [after]);
    expect(c).toContainEqual({ kind: 'state-changed', from: 'healthy', to: 'records-lost' });
    expect(c.filter((x) => x.kind === 'new-finding').map((x) => x.kind === 'new-finding' && x.code)).toEqual(['records-lost', 'backlog-limit-default']);
    expect(c).toContainEqual({ kind: 'limit-changed', from: 8192, to: 64 });
    expect(c).toContainEqual(expect.objectContaining({ kind: 'compliance-changed', from: true, to: false, failed_controls: ['audit-1.2', 'audit-2.1'] }));
    const back = changesOf([after], [before]);
    expect(back).toContainEqual({ kind: 'resolved-finding', code: 'records-lost' });
    expect(back).toContainEqual({ kind: 'resolved-finding', code: 'backlog-limit-default' });
    expect(back).toContainEqual({ kind: 'state-changed', from: 'records-lost', to: 'healthy' });
  });

  it('lost increased by N on the same boot', () => {
    const a = host('records-lost', 1);
    const c = changesOf([a], [withAudit(a, { lost: a.audit!.lost + 120 })]);
    expect(c).toEqual([{ kind: 'lost-increased', by: 120, from: a.audit!.lost, to: a.audit!.lost + 120, since_reboot: false }]);
  });

  it('after a reboot (new boot_id) counts all of the restarted lost counter as new', () => {
    const a = host('records-lost', 1);
    const c = changesOf([a], [withAudit(a, { lost: 40 }, '0badc0de-1f2e-4d3c-8b7a-0badc0de0bad')]);
    expect(c).toEqual([{ kind: 'lost-increased', by: 40, from: 0, to: 40, since_reboot: true }]);
    // a reboot with a clean counter is not drift
    expect(changesOf([a], [withAudit(a, { lost: 0 }, '0badc0de-1f2e-4d3c-8b7a-0badc0de0bad')])).toEqual([]);
  });

  it('backlog grew by N (and only growth; a minimum can be set)', () => {
    const a = host('healthy', 1);
    expect(changesOf([a], [withAudit(a, { backlog: 900 })])).toEqual([{ kind: 'backlog-grew', by: 900, from: 0, to: 900 }]);
    expect(changesOf([withAudit(a, { backlog: 900 })], [a])).toEqual([]);
    const d = computeDrift(stored('A', [a]), stored('B', [withAudit(a, { backlog: 5 })]), { backlogGrowthMin: 10 });
    expect(d.changed).toBe(false);
  });

  it('limit changed a → b', () => {
    const a = host('healthy', 1);
    const c = changesOf([a], [withAudit(a, { backlog_limit: 16384 })]);
    expect(c).toEqual([{ kind: 'limit-changed', from: 8192, to: 16384 }]);
    expect(renderDriftText(computeDrift(stored('A', [a]), stored('B', [withAudit(a, { backlog_limit: 16384 })])))).toContain(
      'backlog limit changed 8192 → 16384 (+8192)',
    );
  });

  it('host became unreachable (with the error) and reachable again (with the state it came back in)', () => {
    const up = host('auditd-not-running', 1);
    const down = { ...host('unreachable', 1), host: up.host };
    expect(changesOf([up], [down])).toEqual([
      { kind: 'became-unreachable', error_code: 'E_CONNECT_TIMEOUT', error: expect.stringContaining('timed out') },
    ]);
    expect(changesOf([down], [down])).toEqual([]);
    expect(changesOf([down], [up])).toEqual([{ kind: 'reachable-again', state: 'auditd-not-running', findings: ['auditd-not-running'] }]);
  });

  it('a host that failed (answered, commands failed) is a status change, not a state change or resolved findings', () => {
    const ok = host('records-lost', 1);
    const failed = { ...host('failed', 1), host: ok.host };
    const c = changesOf([ok], [failed]);
    expect(c).toEqual([{ kind: 'status-changed', from: 'ok', to: 'failed', error_code: 'E_BECOME' }]);
  });

  it('hosts added to and removed from the inventory', () => {
    const d = computeDrift(stored('A', [host('healthy', 1), host('healthy', 2)]), stored('B', [host('healthy', 2), host('healthy', 3)]));
    expect(d.hosts).toEqual([
      { host: 'web003', changes: [{ kind: 'host-added' }] },
      { host: 'web001', changes: [{ kind: 'host-removed' }] },
    ]);
    expect(d.counts).toEqual({ 'host-added': 1, 'host-removed': 1 });
  });

  it('does not call hosts added/removed when the runs used different --limit patterns', () => {
    const d = computeDrift(stored('A', [host('healthy', 1)], { limit: 'web001' }), stored('B', [host('healthy', 2)], { limit: 'web002' }));
    expect(d.changed).toBe(false);
    expect(d.notes.join()).toMatch(/--limit differs/);
  });

  it('skips hosts that were pending or interrupted in an interrupted run, and says so', () => {
    const a = host('healthy', 1);
    const b = host('healthy', 2);
    const interrupted = { ...structuredClone(b), status: 'interrupted' as const };
    const d = computeDrift(stored('A', [a, b]), stored('B', [interrupted], { status: 'interrupted', pending: ['web001'] }));
    expect(d.changed).toBe(false);
    expect(d.notes.join()).toMatch(/2 host\(s\) not compared/);
  });

  it('renders one line per change under the host name, escaping control characters', () => {
    const a = host('healthy', 1);
    const evil = { ...withAudit(a, { backlog: 3 }), host: 'x\u001b[2Jy' };
    const d = computeDrift(stored('A', [{ ...a, host: evil.host }]), stored('B', [evil]));
    const text = renderDriftText(d);
    expect(text).toContain('x\\x1b[2Jy  backlog grew by 3 (0 → 3)');
    expect(text).not.toContain('\u001b');
  });
});

describe('driftNotification', () => {
  it('is a documented JSON summary with counts, hosts, text and exit code, and no secret-named keys', () => {
    const a = host('healthy', 1);
    const cur = withAudit(a, { lost: 5 });
    (cur as unknown as Record<string, unknown>)['vars'] = { ansible_become_password: 'hunter2' };
    const drift = computeDrift(stored('A', [a]), stored('B', [cur]));
    (drift.hosts[0]!.changes[0] as unknown as Record<string, unknown>)['api_token'] = 'hunter2';
    const n = driftNotification(drift, { exitCode: 2, summary: summarize([cur]) });
    expect(n).toMatchObject({
      schema: 'fleetmend.drift/v1', event: 'drift', changed: true, inventory: 'inventory/prod.yml',
      run: { id: 'B', mode: 'sweep', exit_code: 2, status: 'finished' }, previous_run: { id: 'A' },
      hosts_changed: 1, counts: { 'lost-increased': 1 }, hosts_omitted: 0, error: null,
    });
    expect(n.text).toContain('lost increased by 5');
    expect(JSON.stringify(n)).not.toContain('hunter2');
  });

  it('caps the listed hosts and says how many were left out', () => {
    const prev = Array.from({ length: 5 }, (_, i) => host('healthy', i + 1));
    const cur = prev.map((h) => withAudit(h, { backlog: 7 }));
    const n = driftNotification(computeDrift(stored('A', prev), stored('B', cur)), { exitCode: 0, maxHosts: 2 });
    expect(n.hosts).toHaveLength(2);
    expect(n.hosts_changed).toBe(5);
    expect(n.hosts_omitted).toBe(3);
  });

  it('names baseline and no-change events, and failed runs', () => {
    const a = [host('healthy', 1)];
    expect(driftNotification(computeDrift(undefined, stored('B', a)), { exitCode: 0 }).event).toBe('baseline');
    expect(driftNotification(computeDrift(stored('A', a), stored('B', a)), { exitCode: 0 }).event).toBe('no-change');
    expect(runFailedNotification('inv.yml', 1, 'E_LOCKED_RUN')).toMatchObject({ event: 'run-failed', run: null, error: 'E_LOCKED_RUN' });
  });
});
