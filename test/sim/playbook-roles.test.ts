/**
 * The auditd hardening role fixture (test/fixtures/playbooks/roles: a role shaped like the
 * RHEL9-CIS and dev-sec auditd tasks) on the simulated fleet through the real SSH path: its meta
 * dependency, imported task files, rule blocks, the rescue of a rejected setting (recap
 * `rescued`, host not failed), and its handlers reached through `notify` and `listen`.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scenarioOf, simHarnessForFile } from '../fixtures/playbooks/sim-harness.js';

const SITE = join(import.meta.dirname, '../fixtures/playbooks/roles/site.yml');
const scenario = scenarioOf('roles', (mk) => [{ spec: mk.debian('r-deb') }, { spec: mk.rhel('r-rhel') }]);
const sim = simHarnessForFile(scenario);
const conf = (h: string) => sim.machine(h).fs.read('/etc/audit/auditd.conf', true);
const HOSTS = ['r-deb', 'r-rhel'];

describe('an auditd hardening role on the simulated fleet', () => {
  it('check mode predicts the auditd.conf change and the handlers, and changes nothing', async () => {
    const before = HOSTS.map(conf);
    const pids = HOSTS.map((h) => sim.machine(h).kernel.auditd.pid);
    const r = await sim.run(SITE, { check: true, diff: true });
    for (const h of r.hosts) {
      const names = h.tasks!.map((t) => `${t.task}=${t.status}`);
      expect(names[0], h.host).toBe('Record that the baseline ran before the hardening role=ok');
      const write = h.tasks!.find((t) => t.module === 'auditd_conf')!;
      expect(write.status, h.host).toBe('changed');
      expect(write.diff?.[0]?.after, h.host).toMatch(/^max_log_file = 32$/m);
      expect(names, h.host).toContain('Restart auditd via service=changed');
      expect(names, h.host).toContain('Report the restart=ok');
      expect(h.status, h.host).toBe('changed');
    }
    expect(HOSTS.map(conf)).toEqual(before);
    expect(HOSTS.map((h) => sim.machine(h).kernel.auditd.pid)).toEqual(pids);
  }, 60_000);

  it('a setting auditd.conf would reject is rescued: the host is not failed, the recap says rescued, always ran', async () => {
    const before = HOSTS.map(conf);
    const r = await sim.run(SITE, { extraVars: { auditd_space_left_action: 'LOUDLY' } });
    for (const h of r.hosts) {
      const byName = new Map(h.tasks!.map((t) => [t.task, t]));
      expect(byName.get('6.3.2 | AUDIT | The space actions are ones auditd.conf accepts')?.status, h.host).toBe('failed');
      expect(byName.get('6.3.2 | AUDIT | Keep the current auditd.conf')?.msg, h.host).toMatch(/^6\.3\.2 \| AUDIT \| The space actions .*: space_left_action LOUDLY is not an auditd\.conf action/);
      expect(byName.get('6.3.2 | AUDIT | Data retention checked')?.status, h.host).toBe('ok');
      expect(byName.has('6.3.2.1-4 | PATCH | auditd.conf: log size, rotation and space actions'), h.host).toBe(false);
      expect(h.status, h.host).not.toBe('failed');
    }
    expect(r.recap.map((x) => [x.host, x.failed, x.rescued])).toEqual(HOSTS.map((h) => [h, 0, 1]));
    expect(HOSTS.map(conf)).toEqual(before);
  }, 60_000);

  it('apply writes the role settings (vars_files over role defaults) and restarts auditd through the listening handler', async () => {
    const pids = HOSTS.map((h) => sim.machine(h).kernel.auditd.pid);
    const r = await sim.run(SITE);
    for (const h of HOSTS) {
      const text = conf(h);
      expect(text, h).toMatch(/^max_log_file = 32$/m);
      expect(text, h).toMatch(/^max_log_file_action = KEEP_LOGS$/m);
      expect(text, h).toMatch(/^space_left_action = EMAIL$/m);
      expect(text, h).toMatch(/^disk_full_action = SINGLE$/m);
    }
    for (const h of r.hosts) {
      const restart = h.tasks!.find((t) => t.task === 'Restart auditd via service');
      expect(restart?.status, h.host).toBe('changed');
      expect(h.tasks!.find((t) => t.task === 'Report the restart')?.msg, h.host).toBe(`auditd restarted on ${h.host}`);
    }
    expect(HOSTS.map((h) => sim.machine(h).kernel.auditd.pid)).not.toEqual(pids);
    expect(r.recap.every((x) => x.failed === 0 && x.rescued === 0)).toBe(true);
    const again = await sim.run(SITE);
    for (const h of again.hosts) {
      expect(h.tasks!.find((t) => t.module === 'auditd_conf')?.status, h.host).toBe('ok');
      expect(h.tasks!.some((t) => t.task === 'Restart auditd via service'), h.host).toBe(false);
    }
  }, 90_000);
});
