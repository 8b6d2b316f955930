/**
 * A run store of fleet scale for the serve bench: HOSTS x SWEEPS sweeps (two samples per host,
 * findings, compliance, groups) and a few playbook runs, written with direct inserts in one
 * transaction (the store's own recordHosts would take an hour for 5,000,000 host results).
 * Secondary indexes are dropped during the load and built afterwards (a sort beats 5,000,000
 * random B-tree inserts), then the per-sweep rollups are computed by the store's writeRollup.
 *
 * Results are full HostResult JSON (about 3 KB) for the newest FULL_SWEEPS sweeps, and a
 * 100-byte stand-in for older ones: no page reads an old result (the host page's facts come
 * from its newest), and 5,000,000 full results would be 15 GB on this machine's disk. The
 * measured growth per host and sweep of a real store is in bench/serve.ts (growthPerHostSweep).
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { DB_FILE, openStore, writeRollup } from '../src/store/index.js';
import type { HostResult } from '../src/results/index.js';

export interface StoreShape {
  hosts: number;
  sweeps: number;
  playbookRuns: number;
}

const FULL_SWEEPS = 5;
const T0 = Date.parse('2026-01-01T00:00:00Z');
const SWEEP_EVERY_MS = 3_600_000;

/** mulberry32: a deterministic stream, so two bench runs measure the same store. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const hostName = (i: number) => `node${String(i).padStart(5, '0')}.dc${i % 4}.example`;
export const sweepRunId = (k: number) => `2026${String(k).padStart(6, '0')}T000000Z-sweep`;
export const playRunId = (p: number) => `2026${String(p).padStart(6, '0')}T300000Z-play`;

type State = 'healthy' | 'records-lost' | 'backlog-growing' | 'panic-mode' | 'auditd-not-running' | 'degraded' | 'unknown';

const FINDINGS: Record<State, [string, string, string][]> = {
  healthy: [],
  'records-lost': [
    ['records-lost', 'critical', 'audit records are being dropped: lost +40 in 5 s'],
    ['backlog-limit-default', 'medium', 'backlog limit is the kernel default 64 (no -b rule loaded)'],
  ],
  'backlog-growing': [['backlog-growing', 'high', 'backlog grew from 3100 to 5400 in 5 s; auditd is registered but not draining']],
  'panic-mode': [['panic-mode', 'high', 'failure mode is panic (-f 2): a full backlog will panic this host']],
  'auditd-not-running': [['auditd-not-running', 'high', 'no audit daemon registered (pid 0)']],
  degraded: [['backlog-limit-default', 'medium', 'backlog limit is the kernel default 64 (no -b rule loaded)']],
  unknown: [],
};
const CONTROLS: Record<State, string[]> = {
  healthy: [], 'records-lost': ['audit-1.2', 'audit-2.1'], 'backlog-growing': ['audit-1.1'], 'panic-mode': ['audit-3.1'],
  'auditd-not-running': ['audit-1.1'], degraded: ['audit-2.1'], unknown: [],
};

/** A host's state in a sweep: a fixed character per host, plus episodes of 20 sweeps. */
function stateOf(i: number, k: number, episode: number): State {
  if (i % 50 === 7) return 'panic-mode';
  if (i % 40 === 3) return 'degraded';
  if (episode < 0.03) return 'records-lost';
  if (episode < 0.05) return 'backlog-growing';
  if (episode < 0.055) return 'auditd-not-running';
  return (i + k) % 997 === 0 ? 'unknown' : 'healthy';
}

function fullResult(name: string, i: number, state: State, lost: number, limit: number): string {
  return JSON.stringify({
    host: name, address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, port: 22, status: 'ok',
    started_at: '2026-01-01T00:00:00.000Z', finished_at: '2026-01-01T00:00:06.200Z',
    audit: { enabled: 1, failure: state === 'panic-mode' ? 2 : 1, pid: state === 'auditd-not-running' ? 0 : 731, rate_limit: 0, backlog_limit: limit, lost, backlog: 0, backlog_wait_time: 60000, backlog_wait_time_actual: 0 },
    facts: { samples: [0, 1].map((s) => ({ taken_at: T0 + s * 5000, auditctl: { kind: 'ok', status: { enabled: 1, failure: 1, pid: 731, backlog_limit: limit, lost, backlog: 0 } }, system: { kernel: '6.1.0-28-amd64', boot_id: `b${i}`, uptime_s: 86_400 + s * 5, os: 'Debian GNU/Linux 12 (bookworm)', audit_version: '3.0.9' }, kernel_log: { recent_lines: [] }, parse_errors: [] })) },
    diagnosis: { state, findings: FINDINGS[state].map(([code, severity, message]) => ({ code, severity, message, evidence: { backlog_limit: limit }, action: 'see the runbook' })) },
    compliance: { compliant: CONTROLS[state].length === 0, failed_controls: CONTROLS[state].map((id) => ({ id, title: id, impact: 0.9, passed: false })), controls: [], score: 1 },
    groups: groupsOf(i),
  });
}

/** A full host result as a sweep records it (for the growth measurement through recordHosts). */
export function growthHost(i: number, k: number): HostResult {
  const state: State = i % 10 === 3 ? 'records-lost' : i % 25 === 1 ? 'backlog-growing' : 'healthy';
  return JSON.parse(fullResult(hostName(i), i, state, state === 'records-lost' ? 100 * k : 0, state === 'records-lost' ? 64 : 8192)) as HostResult;
}

const groupsOf = (i: number) => ['all', `dc${i % 4}`, `rack${String(i % 100).padStart(2, '0')}`];

/** Build the store in `dir`; returns the number of host results written. */
export function buildServeStore(dir: string, shape: StoreShape, log: (s: string) => void = () => {}): number {
  openStore(dir).close(); // schema and migrations, as a real store has them
  const db = new Database(join(dir, DB_FILE));
  db.pragma('journal_mode = OFF');
  db.pragma('synchronous = OFF');
  db.pragma('foreign_keys = OFF'); // the runs row follows its hosts (its summary counts them)
  db.pragma('cache_size = -262144');
  const indexes = db.prepare(`SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL`).all() as { name: string; sql: string }[];
  for (const ix of indexes) db.exec(`DROP INDEX ${ix.name}`);
  const ins = {
    run: db.prepare(`INSERT INTO runs (id, mode, inventory, playbook, started_at, finished_at, status, summary, info) VALUES (?, ?, 'inventory/fleet.yml', ?, ?, ?, 'finished', ?, ?)`),
    host: db.prepare(`INSERT INTO run_hosts (run_id, host, address, port, status, started_at, finished_at, state, compliant, result, groups, failed_controls) VALUES (?, ?, NULL, 22, ?, NULL, NULL, ?, ?, ?, ?, ?)`),
    sample: db.prepare(`INSERT INTO samples (run_id, host, seq, taken_at, enabled, failure, pid, backlog_limit, backlog, lost, wait_actual) VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?)`),
    finding: db.prepare(`INSERT INTO findings (run_id, host, code, severity, message) VALUES (?, ?, ?, ?, ?)`),
    task: db.prepare(`INSERT INTO task_results (run_id, host, seq, play, task, module, status, changed, rc, duration_ms, json) VALUES (?, ?, ?, 'remediate', ?, ?, ?, ?, 0, 900, ?)`),
  };
  const lost = new Float64Array(shape.hosts);
  const episodes = rng(42);
  const ep = new Float64Array(shape.hosts);
  let written = 0;
  db.transaction(() => {
    for (let k = 0; k < shape.sweeps; k++) {
      if (k % 20 === 0) for (let i = 0; i < shape.hosts; i++) ep[i] = episodes();
      const id = sweepRunId(k);
      const at = T0 + k * SWEEP_EVERY_MS;
      const byState: Record<string, number> = {};
      let nonCompliant = 0;
      let unreachable = 0;
      for (let i = 0; i < shape.hosts; i++) {
        const name = hostName(i);
        const state = stateOf(i, k, ep[i]!);
        if (state === 'unknown') {
          unreachable++;
          ins.host.run(id, name, 'unreachable', null, null, `{"host":"${name}","status":"unreachable"}`, JSON.stringify(groupsOf(i)), null);
          continue;
        }
        byState[state] = (byState[state] ?? 0) + 1;
        if (state === 'records-lost') lost[i]! += 40 + (i % 7) * 10;
        const limit = state === 'records-lost' || state === 'degraded' ? 64 : 8192;
        const compliant = CONTROLS[state].length === 0 ? 1 : 0;
        if (!compliant) nonCompliant++;
        const result = k >= shape.sweeps - FULL_SWEEPS ? fullResult(name, i, state, lost[i]!, limit) : `{"host":"${name}","status":"ok","diagnosis":{"state":"${state}"}}`;
        ins.host.run(id, name, 'ok', state, compliant, result, JSON.stringify(groupsOf(i)), JSON.stringify(CONTROLS[state]));
        const backlog = state === 'backlog-growing' ? 3100 : i % 5;
        ins.sample.run(id, name, 0, at, state === 'panic-mode' ? 2 : 1, state === 'auditd-not-running' ? 0 : 731, limit, backlog, Math.max(0, lost[i]! - 40), 0);
        ins.sample.run(id, name, 1, at + 5000, state === 'panic-mode' ? 2 : 1, state === 'auditd-not-running' ? 0 : 731, limit, state === 'backlog-growing' ? 5400 : backlog, lost[i]!, state === 'backlog-growing' ? 12_000 : 0);
        for (const [code, severity, message] of FINDINGS[state]) ins.finding.run(id, name, code, severity, message);
        written++;
      }
      const summary = { hosts: shape.hosts, ok: shape.hosts - unreachable, changed: 0, failed: 0, unreachable, skipped: 0, interrupted: 0, by_state: byState, non_compliant: nonCompliant };
      ins.run.run(id, 'sweep', null, new Date(at).toISOString(), new Date(at + 60_000).toISOString(), JSON.stringify(summary), JSON.stringify({ id, mode: 'sweep', started_at: new Date(at).toISOString(), forks: 200, inventory: 'inventory/fleet.yml' }));
      if (k % 50 === 49) log(`  store: ${k + 1} of ${shape.sweeps} sweeps`);
    }
    for (let p = 0; p < shape.playbookRuns; p++) writePlaybookRun(p, shape, ins);
  })();
  log('  store: building indexes');
  for (const ix of indexes) db.exec(ix.sql);
  log('  store: rollups');
  db.transaction(() => {
    for (let k = 0; k < shape.sweeps; k++) writeRollup(db, sweepRunId(k));
  })();
  db.exec('ANALYZE');
  db.close();
  return written;
}

/** A playbook run over every 10th host: three tasks, the hosts that needed it changed. */
function writePlaybookRun(p: number, shape: StoreShape, ins: Record<'run' | 'host' | 'task', Database.Statement>): void {
  const id = playRunId(p);
  const at = new Date(T0 + (p * 25 + 0.5) * SWEEP_EVERY_MS).toISOString();
  let changed = 0;
  const hosts = [];
  for (let i = p % 10; i < shape.hosts; i += 10) hosts.push(i);
  for (const i of hosts) {
    const name = hostName(i);
    const needs = i % 40 === 3;
    if (needs) changed++;
    ins.host.run(id, name, needs ? 'changed' : 'ok', 'healthy', 1, `{"host":"${name}","status":"${needs ? 'changed' : 'ok'}"}`, JSON.stringify(groupsOf(i)), '[]');
    const tasks: [string, string, boolean][] = [['gather audit facts', 'audit_facts', false], ['persist backlog limit', 'audit_rules', needs], ['restart auditd', 'service', needs]];
    tasks.forEach(([task, module, ch], seq) => {
      const json = JSON.stringify({ play: 'remediate', task, module, status: ch ? 'changed' : 'ok', changed: ch, duration_ms: 900, ...(ch && seq === 1 ? { diff: [{ path: '/etc/audit/rules.d/10-backlog.rules', before: '-b 64\n', after: '-b 8192\n' }] } : {}) });
      ins.task.run(id, name, seq, task, module, ch ? 'changed' : 'ok', ch ? 1 : 0, json);
    });
  }
  const summary = { hosts: hosts.length, ok: hosts.length - changed, changed, failed: 0, unreachable: 0, skipped: 0, interrupted: 0 };
  ins.run.run(id, 'run', 'playbooks/remediate.yml', at, at, JSON.stringify(summary), JSON.stringify({ id, mode: 'run', started_at: at, forks: 50, inventory: 'inventory/fleet.yml', playbook: 'playbooks/remediate.yml' }));
}
