/**
 * The shipped playbooks on the simulated fleet, through the real SSH path: check mode leaves
 * every host untouched, apply does the job, a second apply changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEBIAN_RULES } from '../../src/sim/machine.js';
import type { PlaybookRunResult } from '../../src/playbook/run.js';
import { scenarioOf, simHarness, type SimHarness } from '../fixtures/playbooks/sim-harness.js';

const scenario = scenarioOf('shipped', (mk) => [
  { spec: mk.debian('deb-ok') },
  { spec: mk.rhel('rhel-ok') },
  { spec: { ...mk.debian('deb-stuck'), eventRate: 60, auditd: 'stuck', backlog: 3000 } },
  { spec: { ...mk.debian('deb-locked'), rulesD: { 'audit.rules': DEBIAN_RULES, '99-finalize.rules': '-e 2\n' } } },
  { spec: { ...mk.debian('deb-smallmem'), memTotalKb: 1_000_000, memAvailableKb: 500_000 } },
]);

let sim: SimHarness;
const names = ['deb-ok', 'rhel-ok', 'deb-stuck', 'deb-locked', 'deb-smallmem'];
beforeAll(async () => {
  sim = await simHarness(scenario);
}, 60_000);
afterAll(async () => {
  await sim?.stop();
});

const snapshots = () => Object.fromEntries(names.map((n) => [n, sim.snapshot(n)]));
const statusOf = (r: PlaybookRunResult) => Object.fromEntries(r.hosts.map((h) => [h.host, h.status]));
const task = (r: PlaybookRunResult, host: string, name: string) => r.hosts.find((h) => h.host === host)!.tasks!.find((t) => t.task === name)!;
/** Comparable state: settings and files, but not the moving queue. */
const settled = () => Object.fromEntries(names.map((n) => [n, { ...(sim.snapshot(n) as object), auditd: undefined }]));

describe('audit-status.yml', () => {
  it('gathers and diagnoses; check mode and apply change nothing', async () => {
    const before = snapshots();
    for (const check of [true, false]) {
      const r = await sim.run('audit-status.yml', { check, extraVars: { interval: 1 } });
      expect(Object.values(statusOf(r)).every((s) => s === 'ok')).toBe(true);
      expect(r.hosts.find((h) => h.host === 'deb-stuck')!.diagnosis?.state).toBe('backlog-growing');
      expect(r.hosts.find((h) => h.host === 'deb-ok')!.diagnosis?.state).toBe('healthy');
    }
    expect(settled()).toEqual(Object.fromEntries(Object.entries(before).map(([k, v]) => [k, { ...(v as object), auditd: undefined }])));
  }, 60_000);
});

describe('raise-backlog-limit.yml', () => {
  const vars = { extraVars: { backlog_limit: 10240 }, diff: true };
  it('check mode predicts with a diff and leaves every host untouched', async () => {
    const before = settled();
    const r = await sim.run('raise-backlog-limit.yml', { ...vars, check: true });
    const t = task(r, 'deb-ok', 'Set and persist the backlog limit (never lowers a higher one)');
    expect(t.status).toBe('changed');
    expect(t.diff?.find((d) => d.path === '/etc/audit/rules.d/zz-fleetmend-backlog.rules')?.after).toMatch(/^-b 10240$/m);
    expect(t.diff?.find((d) => d.path === 'auditctl -s')).toEqual({ path: 'auditctl -s', before: 'backlog_limit 8192\n', after: 'backlog_limit 10240\n' });
    expect(settled()).toEqual(before);
  }, 60_000);

  it('applies with persistence, refuses the locked and the small-memory host, warns on the growing one, whose watch fails it', async () => {
    const r = await sim.run('raise-backlog-limit.yml', vars);
    // the raised limit does not make the stuck host drain: its watch (issue 27 §3) fails it
    expect(statusOf(r)).toEqual({ 'deb-ok': 'changed', 'rhel-ok': 'changed', 'deb-stuck': 'failed', 'deb-locked': 'failed', 'deb-smallmem': 'failed' });
    const watched = r.hosts.find((h) => h.host === 'deb-stuck')!.tasks!.find((t) => t.module === 'watch')!;
    expect(watched.error?.code).toBe('E_WATCH');
    expect(watched.msg).toMatch(/the fix did not hold: .*auditd/);
    for (const h of ['deb-ok', 'rhel-ok']) expect(r.hosts.find((x) => x.host === h)!.tasks!.find((t) => t.module === 'watch')!.status, h).toBe('ok');
    for (const h of ['deb-ok', 'rhel-ok', 'deb-stuck']) {
      const m = sim.machine(h);
      expect(m.kernel.settings.backlogLimit).toBe(10240);
      expect(m.fs.read('/etc/audit/rules.d/zz-fleetmend-backlog.rules', true)).toMatch(/^-b 10240$/m);
    }
    expect(task(r, 'deb-locked', 'Set and persist the backlog limit (never lowers a higher one)').msg).toMatch(/locked until reboot/);
    expect(task(r, 'deb-smallmem', 'Set and persist the backlog limit (never lowers a higher one)').msg).toMatch(/memory guard.*87\.6 MiB/);
    const stuck = task(r, 'deb-stuck', 'Set and persist the backlog limit (never lowers a higher one)');
    expect(stuck.warnings?.join()).toMatch(/only delays the failure/);
    expect(r.recap.find((x) => x.host === 'deb-stuck')).toMatchObject({ ignored: 1, failed: 1 });
    // persisted: survives a restart of auditd (rules reloaded)
    sim.machine('deb-ok').kernel.restartAuditd();
    expect(sim.machine('deb-ok').kernel.settings.backlogLimit).toBe(10240);
  }, 60_000);

  it('a second apply changes nothing', async () => {
    const r = await sim.run('raise-backlog-limit.yml', { ...vars, only: ['deb-ok', 'rhel-ok', 'deb-stuck'] });
    expect(r.recap.map((x) => x.changed)).toEqual([0, 0, 0]);
    expect(statusOf(r)).toEqual({ 'deb-ok': 'ok', 'rhel-ok': 'ok', 'deb-stuck': 'ok' });
  }, 60_000);
});

describe('silence-failure-mode.yml', () => {
  const only = ['deb-ok', 'rhel-ok'];
  it('check: untouched; apply: failure 0 persisted; second apply: ok; an invalid mode fails the assert', async () => {
    const before = settled();
    const c = await sim.run('silence-failure-mode.yml', { only, check: true, extraVars: { failure_mode: 0 } });
    expect(Object.values(statusOf(c))).toEqual(['changed', 'changed']);
    expect(settled()).toEqual(before);
    const a = await sim.run('silence-failure-mode.yml', { only, extraVars: { failure_mode: 0 } });
    expect(Object.values(statusOf(a))).toEqual(['changed', 'changed']);
    for (const h of only) {
      expect(sim.machine(h).kernel.settings.failure).toBe(0);
      expect(sim.machine(h).fs.read('/etc/audit/rules.d/zz-fleetmend-failure.rules', true)).toMatch(/^-f 0$/m);
    }
    const again = await sim.run('silence-failure-mode.yml', { only, extraVars: { failure_mode: 0 } });
    expect(Object.values(statusOf(again))).toEqual(['ok', 'ok']);
    const bad = await sim.run('silence-failure-mode.yml', { only: ['deb-ok'], extraVars: { failure_mode: 2 } });
    expect(bad.hosts[0]!.tasks![0]!.msg).toMatch(/failure_mode must be 0 or 1/);
    expect(sim.machine('deb-ok').kernel.settings.failure).toBe(0);
  }, 60_000);
});

describe('restart-auditd.yml', () => {
  const only = ['deb-ok', 'deb-stuck'];
  it('check: untouched; apply: restarts only the stuck host and its backlog drains; second apply: nothing', async () => {
    const pidOk = sim.machine('deb-ok').kernel.auditd.pid;
    const pidStuck = sim.machine('deb-stuck').kernel.auditd.pid;
    const c = await sim.run('restart-auditd.yml', { only, check: true });
    expect(task(c, 'deb-stuck', 'Restart auditd').status).toBe('changed');
    expect(sim.machine('deb-stuck').kernel.auditd).toMatchObject({ state: 'stuck', pid: pidStuck });
    const a = await sim.run('restart-auditd.yml', { only });
    expect(statusOf(a)).toEqual({ 'deb-ok': 'ok', 'deb-stuck': 'changed' });
    expect(task(a, 'deb-ok', 'Restart auditd').status).toBe('skipped');
    expect(task(a, 'deb-stuck', 'Verify the backlog is back near zero and auditd runs').status).toBe('ok');
    expect(sim.machine('deb-ok').kernel.auditd.pid).toBe(pidOk);
    expect(sim.machine('deb-stuck').kernel.auditd.pid).not.toBe(pidStuck);
    expect(sim.machine('deb-stuck').kernel.backlog).toBeLessThanOrEqual(64);
    const again = await sim.run('restart-auditd.yml', { only });
    expect(again.recap.map((x) => x.changed)).toEqual([0, 0]);
  }, 90_000);
});

describe('stop-auditd.yml', () => {
  const only = ['deb-ok', 'rhel-ok'];
  it('check detects RefuseManualStop and changes nothing; apply stops both families; second apply: ok', async () => {
    const c = await sim.run('stop-auditd.yml', { only, check: true });
    expect(task(c, 'rhel-ok', 'Stop auditd').msg).toMatch(/via service auditd stop/);
    expect(task(c, 'deb-ok', 'Stop auditd').msg).toMatch(/via systemctl stop/);
    for (const h of only) expect(sim.machine(h).kernel.auditd.state).toBe('running');
    const a = await sim.run('stop-auditd.yml', { only });
    expect(statusOf(a)).toEqual({ 'deb-ok': 'changed', 'rhel-ok': 'changed' });
    for (const h of only) expect(sim.machine(h).kernel.auditd).toMatchObject({ state: 'stopped', pid: 0 });
    expect(sim.machine('rhel-ok').kernel.settings.enabled).toBe(1);
    const again = await sim.run('stop-auditd.yml', { only });
    expect(again.recap.map((x) => x.changed)).toEqual([0, 0]);
    // back to running for the tests that follow
    const start = await sim.runText(`- name: s\n  hosts: deb-ok:rhel-ok\n  become: true\n  tasks:\n    - service: { state: started }\n`);
    expect(statusOf(start)).toEqual({ 'deb-ok': 'changed', 'rhel-ok': 'changed' });
  }, 90_000);
});
