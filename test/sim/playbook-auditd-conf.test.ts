/**
 * fix-auditd-conf.yml (the auditd_conf module) on the simulated fleet through the real SSH
 * path: check mode shows the diff and changes nothing, apply writes only the differing keys
 * and has auditd re-read them (SIGHUP, same pid), a second apply changes nothing.
 */
import { describe, expect, it } from 'vitest';
import { scenarioOf, simHarnessForFile } from '../fixtures/playbooks/sim-harness.js';

const scenario = scenarioOf('auditd-conf', (mk) => [{ spec: mk.debian('c-deb') }, { spec: mk.rhel('c-rhel') }]);

const sim = simHarnessForFile(scenario);

const conf = (h: string) => sim.machine(h).fs.read('/etc/audit/auditd.conf', true);

describe('fix-auditd-conf.yml', () => {
  it('check: diff, untouched; apply: keys set, auditd reloaded (same pid); second apply: ok', async () => {
    const before = { deb: conf('c-deb'), rhel: conf('c-rhel') };
    const pids = { deb: sim.machine('c-deb').kernel.auditd.pid, rhel: sim.machine('c-rhel').kernel.auditd.pid };
    const dry = await sim.run('fix-auditd-conf.yml', { check: true, diff: true });
    for (const h of dry.hosts) {
      const t = h.tasks![0]!;
      expect(t.status, h.host).toBe('changed');
      expect(t.diff?.[0]?.after, h.host).toMatch(/^disk_full_action = ROTATE$/m);
      expect(t.diff?.[0]?.before, h.host).toMatch(/^disk_full_action = SUSPEND$/m);
    }
    expect(conf('c-deb')).toBe(before.deb);
    expect(conf('c-rhel')).toBe(before.rhel);

    const r = await sim.run('fix-auditd-conf.yml');
    for (const h of r.hosts) expect(h.tasks![0]!.status, h.host).toBe('changed');
    for (const h of ['c-deb', 'c-rhel']) {
      const text = conf(h);
      expect(text).toMatch(/^disk_full_action = ROTATE$/m);
      expect(text).toMatch(/^admin_space_left_action = ROTATE$/m);
      expect(text).toMatch(/^q_depth = 8192$/m);
      expect(text).toMatch(/^overflow_action = SYSLOG$/m);
      // other keys untouched, in their order
      expect(text.split('\n').filter((l) => !/^(disk_full_action|admin_space_left_action|q_depth) /.test(l))).toEqual(
        (h === 'c-deb' ? before.deb : before.rhel).split('\n').filter((l) => !/^(disk_full_action|admin_space_left_action|q_depth) /.test(l)),
      );
    }
    // SIGHUP reconfigures in place: same daemon
    expect(sim.machine('c-deb').kernel.auditd.pid).toBe(pids.deb);
    expect(sim.machine('c-rhel').kernel.auditd.pid).toBe(pids.rhel);

    const again = await sim.run('fix-auditd-conf.yml');
    for (const h of again.hosts) expect(h.tasks![0]!.status, h.host).toBe('ok');
  }, 60_000);

  it('an unknown key is refused before any host is contacted', async () => {
    await expect(sim.runText('- name: x\n  hosts: all\n  tasks:\n    - auditd_conf: { settings: { disk_ful_action: ROTATE } }\n')).rejects.toThrow(/unknown auditd.conf key "disk_ful_action"/);
  });
});
