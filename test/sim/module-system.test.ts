/**
 * package, service (any unit), mount and the load-command guard on the simulated fleet, through
 * the real SSH path: check mode reports and changes nothing, apply changes and verifies, a second
 * run is ok. And the simulator's fidelity the guards rely on: `augenrules --load` of a rules
 * file with -f 2 on a host losing records panics it exactly as `auditctl -f 2` does.
 */
import { describe, expect, it } from 'vitest';
import { DEBIAN_RULES } from '../../src/sim/machine.js';
import { packageState } from '../../src/sim/commands/packages.js';
import { unitStates } from '../../src/sim/commands/units.js';
import { scenarioOf, simHarnessForFile } from '../fixtures/playbooks/sim-harness.js';

const losing = (mk: { debian(n: string): import('../../src/sim/machine.js').MachineSpec }, name: string) => ({
  ...mk.debian(name),
  eventRate: 500,
  auditd: 'stuck' as const,
  lost: 120_000,
  rulesD: { 'audit.rules': DEBIAN_RULES.replace('--backlog_wait_time 60000', '--backlog_wait_time 0').replace('-b 8192', '-b 256') },
  historyMs: 120_000,
});
const scenario = scenarioOf('module-system', (mk) => [
  { spec: { ...mk.debian('s-deb'), eventRate: 20 } },
  { spec: { ...mk.rhel('s-rhel'), eventRate: 20 } },
  { spec: losing(mk, 's-losing') },
  { spec: losing(mk, 's-blind') },
]);
const sim = simHarnessForFile(scenario, { downtimeMs: 60_000 });
const play = (hosts: string, tasks: string) => `- name: system\n  hosts: ${hosts}\n  become: true\n  tasks:\n${tasks}`;
const task = (r: Awaited<ReturnType<typeof sim.runText>>, host: string, i = 0) => r.hosts.find((h) => h.host === host)!.tasks![i]!;

describe('package through the host\'s own manager', () => {
  it('present installs with apt-get on Debian and dnf on RHEL; check mode reports only; second run ok; latest upgrades; absent removes', async () => {
    const pb = play('s-deb:s-rhel', '    - package: { name: [aide, audispd-plugins], state: present }\n');
    const dry = await sim.runText(pb, { check: true, diff: true });
    for (const h of ['s-deb', 's-rhel']) {
      expect(task(dry, h).status).toBe('changed');
      expect(task(dry, h).msg).toMatch(/would install aide, install audispd-plugins \((apt|dnf)\)/);
      expect(packageState(sim.machine(h)).installed.has('aide')).toBe(false);
    }
    const r = await sim.runText(pb);
    expect(task(r, 's-deb').msg).toMatch(/aide 0\.18\.3-1\+deb12u3.*\(apt\)/);
    expect(task(r, 's-rhel').msg).toMatch(/aide 0\.16-101\.el9.*\(dnf\)/);
    for (const h of ['s-deb', 's-rhel']) expect(packageState(sim.machine(h)).installed.get('audispd-plugins')).toBeDefined();
    const again = await sim.runText(pb);
    for (const h of ['s-deb', 's-rhel']) expect(task(again, h).status).toBe('ok');
    // RHEL's repository has a newer audit: latest upgrades it (check first, then apply)
    const latest = play('s-rhel', '    - yum: { name: audit, state: latest }\n');
    expect(task(await sim.runText(latest, { check: true }), 's-rhel').msg).toMatch(/would upgrade audit to 3\.1\.5-1\.el9/);
    expect(packageState(sim.machine('s-rhel')).installed.get('audit')).toBe('3.1.2-2.el9');
    expect(task(await sim.runText(latest), 's-rhel').status).toBe('changed');
    expect(packageState(sim.machine('s-rhel')).installed.get('audit')).toBe('3.1.5-1.el9');
    const rm = await sim.runText(play('s-deb', '    - apt: { name: aide, state: absent }\n'));
    expect(task(rm, 's-deb').status).toBe('changed');
    expect(packageState(sim.machine('s-deb')).installed.has('aide')).toBe(false);
    // a forced manager the host does not have is an error, not a silent success
    expect(task(await sim.runText(play('s-deb', '    - dnf: { name: aide }\n')), 's-deb').msg).toMatch(/dnf is not this host's package manager/);
  }, 90_000);
});

describe('service for any unit', () => {
  it('enabled/stopped/started/reloaded on another unit; auditd.service is auditd; daemon_reload; idempotent', async () => {
    const pb = play('s-deb', '    - systemd: { name: cron.service, state: stopped, enabled: false, daemon_reload: true }\n');
    expect(task(await sim.runText(pb, { check: true }), 's-deb').status).toBe('changed');
    expect(unitStates(sim.machine('s-deb')).get('cron')).toMatchObject({ active: true, enabled: true });
    expect(task(await sim.runText(pb), 's-deb').status).toBe('changed');
    expect(unitStates(sim.machine('s-deb')).get('cron')).toMatchObject({ active: false, enabled: false, pid: 0 });
    expect(task(await sim.runText(pb), 's-deb').status).toBe('ok');
    const back = await sim.runText(play('s-deb', '    - service: { name: cron, state: started, enabled: true }\n    - service: { name: cron, state: reloaded }\n'));
    expect(back.hosts[0]!.tasks!.map((t) => t.status)).toEqual(['changed', 'changed']);
    expect(unitStates(sim.machine('s-deb')).get('cron')).toMatchObject({ active: true, enabled: true, reloads: 1 });
    // auditd.service is auditd: already running and enabled is ok; an unknown unit fails as Ansible's does
    const audit = await sim.runText(play('s-rhel', '    - systemd_service: { name: auditd.service, state: started, enabled: true }\n    - service: { name: nosuch, state: started }\n      ignore_errors: true\n'));
    expect(task(audit, 's-rhel', 0).status).toBe('ok');
    expect(task(audit, 's-rhel', 1).msg).toMatch(/Could not find the requested service nosuch/);
  }, 60_000);
});

describe('mount: /etc/fstab only, live state reported', () => {
  it('mounted writes the fstab entry and reports the live mount it did not touch; unmounted is refused', async () => {
    const pb = play('s-deb', '    - mount: { path: /var/log/audit, src: /dev/vdb1, fstype: ext4, opts: "defaults,nodev,noexec", state: mounted }\n');
    const dry = task(await sim.runText(pb, { check: true, diff: true }), 's-deb');
    expect(dry.status).toBe('changed');
    expect(dry.diff?.[0]?.after).toMatch(/^\/dev\/vdb1 \/var\/log\/audit ext4 defaults,nodev,noexec 0 0$/m);
    const r = task(await sim.runText(pb), 's-deb');
    expect(r.warnings?.join('\n')).toMatch(/\/var\/log\/audit is not mounted: fleetmend changed \/etc\/fstab only/);
    expect(sim.machine('s-deb').fs.read('/etc/fstab', true)).toMatch(/\/dev\/vdb1 \/var\/log\/audit ext4/);
    expect(sim.machine('s-deb').fs.read('/proc/mounts', true)).not.toMatch(/\/var\/log\/audit/);
    expect(task(await sim.runText(pb), 's-deb').status).toBe('ok');
    const un = task(await sim.runText(play('s-deb', '    - ansible.posix.mount: { path: /var/log/audit, state: unmounted }\n')), 's-deb');
    expect(un.status).toBe('failed');
    expect(un.msg).toMatch(/does not change live mounts/);
  }, 60_000);
});

describe('load commands meet the rules guards; the simulator panics like the kernel', () => {
  // zz-: augenrules concatenates in C-locale order and the last -f wins (Debian's own file is audit.rules)
  it('augenrules --load of rules.d with -f 2 on a losing host is refused in check mode and apply; no panic', async () => {
    const m = sim.machine('s-losing');
    m.fs.put('/etc/audit/rules.d/zz-panic.rules', '-f 2\n', { rootOnly: true });
    const boot = m.kernel.bootId;
    for (const check of [true, false]) {
      const t = task(await sim.runText(play('s-losing', '    - command: augenrules --load\n'), { check }), 's-losing');
      expect(t.error?.code).toBe('E_GUARD');
      expect(t.msg).toMatch(/panic guard: refusing -f 2 in augenrules --load/);
    }
    // an auditd restart loads rules.d too (ExecStartPost): the service module meets the same guard
    const restart = task(await sim.runText(play('s-losing', '    - systemd: { name: auditd.service, state: restarted }\n'), { check: true }), 's-losing');
    expect(restart.error?.code).toBe('E_GUARD');
    expect(restart.msg).toMatch(/refusing -f 2 in an auditd restart \(ExecStartPost: augenrules --load\)/);
    m.kernel.sync();
    expect([m.kernel.power, m.kernel.bootId]).toEqual(['up', boot]);
    expect(m.kernel.settings.failure).toBe(1);
  }, 60_000);

  it('control: the same load sent unguarded (through a script the guard cannot see) panics the host, as auditctl -f 2 does', async () => {
    const m = sim.machine('s-blind');
    m.fs.put('/etc/audit/rules.d/zz-panic.rules', '-f 2\n', { rootOnly: true });
    m.fs.put('/usr/local/sbin/load-rules', 'augenrules --load\n');
    const boot = m.kernel.bootId;
    const r = await sim.runText(play('s-blind', '    - command: sh /usr/local/sbin/load-rules\n'));
    // augenrules may return before the panic: the next pass that overflows (<= 0.6 s) panics (T22)
    expect(['unreachable', 'failed', 'changed']).toContain(r.hosts[0]!.status);
    await new Promise((done) => setTimeout(done, 1500));
    m.kernel.sync();
    expect(m.kernel.bootId === boot && m.kernel.power === 'up').toBe(false);
    expect(m.kernel.console.join('\n')).toMatch(/Kernel panic - not syncing: audit: backlog limit exceeded/);
  }, 60_000);
});
