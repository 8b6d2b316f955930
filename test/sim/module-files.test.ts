/**
 * The file modules on the simulated fleet through the real SSH path (root on Debian, sudo on
 * RHEL): check mode changes nothing and shows the diff; apply writes atomically with the old
 * mode and owner kept; a second run is ok. Then the guards on what a file task writes
 * (issue 23 item 7): -f 2 into rules.d on a host losing records, -e 2, -b over memory, a lower
 * grub audit_backlog_limit=.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEBIAN_RULES } from '../../src/sim/machine.js';
import { scenarioOf, simHarnessForFile } from '../fixtures/playbooks/sim-harness.js';

const scenario = scenarioOf('module-files', (mk) => [
  { spec: { ...mk.debian('f-deb'), eventRate: 20 } },
  { spec: { ...mk.rhel('f-rhel'), eventRate: 20 } },
  // the incident host of guard.test.ts: auditd stuck, wait 0, losing records (reference §3)
  {
    spec: {
      ...mk.debian('f-losing'),
      eventRate: 500,
      auditd: 'stuck',
      lost: 120_000,
      rulesD: { 'audit.rules': DEBIAN_RULES.replace('--backlog_wait_time 60000', '--backlog_wait_time 0').replace('-b 8192', '-b 256') },
      historyMs: 120_000,
    },
  },
  { spec: { ...mk.debian('f-smallmem'), memTotalKb: 1_000_000, memAvailableKb: 400_000 } },
]);
const sim = simHarnessForFile(scenario);
const tmp = mkdtempSync(join(tmpdir(), 'fm-module-files-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const play = (hosts: string, tasks: string) => `- name: files\n  hosts: ${hosts}\n  become: true\n  tasks:\n${tasks}`;
const read = (host: string, path: string) => sim.machine(host).fs.read(path, true);
const task = (r: Awaited<ReturnType<typeof sim.runText>>, host: string, i = 0) => r.hosts.find((h) => h.host === host)!.tasks![i]!;

describe('lineinfile on the fleet', () => {
  const LINE = play('f-deb:f-rhel', "    - lineinfile: { path: /etc/audit/rules.d/audit.rules, regexp: '^-b ', line: '-b 16384' }\n");
  it('check mode predicts with a diff and changes nothing; apply writes, keeps mode and owner; a second run is ok', async () => {
    for (const h of ['f-deb', 'f-rhel']) sim.machine(h).fs.setMeta('/etc/audit/rules.d/audit.rules', { mode: 0o640, group: 'adm' }, true);
    const before = read('f-deb', '/etc/audit/rules.d/audit.rules');
    const dry = await sim.runText(LINE, { check: true, diff: true });
    for (const h of ['f-deb', 'f-rhel']) {
      const t = task(dry, h);
      expect(t.status, `${h}: ${t.msg}`).toBe('changed');
      expect(t.diff?.[0]?.before).toMatch(/^-b 8192$/m);
      expect(t.diff?.[0]?.after).toMatch(/^-b 16384$/m);
    }
    expect(read('f-deb', '/etc/audit/rules.d/audit.rules')).toBe(before);
    const r = await sim.runText(LINE);
    for (const h of ['f-deb', 'f-rhel']) {
      expect(task(r, h).status, `${h}: ${task(r, h).msg}`).toBe('changed');
      expect(read(h, '/etc/audit/rules.d/audit.rules')).toMatch(/^-b 16384$/m);
      expect(sim.machine(h).fs.meta('/etc/audit/rules.d/audit.rules')).toEqual({ mode: 0o640, owner: 'root', group: 'adm' });
      // no temporary file left next to it (augenrules would skip *.tmp, but none should stay)
      expect(sim.machine(h).fs.list('/etc/audit/rules.d')).toEqual(['audit.rules']);
    }
    expect(read('f-deb', '/etc/audit/rules.d/audit.rules')).toBe(before.replace('-b 8192', '-b 16384'));
    const again = await sim.runText(LINE);
    for (const h of ['f-deb', 'f-rhel']) expect(task(again, h).status).toBe('ok');
  }, 60_000);
});

describe('copy, blockinfile, replace, template, file, stat', () => {
  it('copy content with mode and owner; blockinfile; replace; idempotent; file and stat', async () => {
    const tasks = [
      "    - copy: { content: \"-a always,exit -F arch=b64 -S execve -k exec\\n\", dest: /etc/audit/rules.d/50-exec.rules, mode: '0600' }",
      "    - blockinfile: { path: /etc/audit/auditd.conf, block: \"## site\\nname_format = HOSTNAME\\n\" }",
      "    - replace: { path: /etc/fstab, regexp: 'defaults(?!,nodev)', replace: 'defaults,nodev' }",
      '    - file: { path: /var/log/audit/archive, state: directory, mode: "0750" }',
      '    - stat: { path: /etc/audit/rules.d/50-exec.rules }',
      '      register: st',
      '    - assert: { that: ["st.stat.exists", "st.stat.mode == \'0600\'", "st.stat.isreg"] }',
    ].join('\n') + '\n';
    const dry = await sim.runText(play('f-deb', tasks), { check: true, diff: true });
    const statuses = dry.hosts[0]!.tasks!.map((t) => `${t.status}`);
    expect(statuses.slice(0, 4)).toEqual(['changed', 'changed', 'changed', 'changed']);
    expect(sim.machine('f-deb').fs.stat('/etc/audit/rules.d/50-exec.rules')).toBeNull();
    expect(sim.machine('f-deb').fs.stat('/var/log/audit/archive')).toBeNull();
    const r = await sim.runText(play('f-deb', tasks));
    expect(r.hosts[0]!.tasks!.map((t) => `${t.status}:${t.msg}`).join('\n')).not.toMatch(/^failed/m);
    const fs = sim.machine('f-deb').fs;
    expect(fs.read('/etc/audit/rules.d/50-exec.rules', true)).toBe('-a always,exit -F arch=b64 -S execve -k exec\n');
    expect(fs.meta('/etc/audit/rules.d/50-exec.rules')?.mode).toBe(0o600);
    expect(fs.read('/etc/audit/auditd.conf', true)).toMatch(/# BEGIN ANSIBLE MANAGED BLOCK\n## site\nname_format = HOSTNAME\n# END ANSIBLE MANAGED BLOCK\n$/);
    expect(fs.read('/etc/fstab', true)).toMatch(/ defaults,nodev 0 1/);
    expect(fs.meta('/var/log/audit/archive')).toMatchObject({ mode: 0o750 });
    const again = await sim.runText(play('f-deb', tasks));
    expect(again.hosts[0]!.tasks!.map((t) => t.status)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'ok']);
  }, 60_000);

  it('template renders a file found next to the playbook (templates/), per host', async () => {
    mkdirSync(join(tmp, 'templates'), { recursive: true });
    writeFileSync(join(tmp, 'templates', 'site.rules.j2'), '## {{ inventory_hostname }}\n-b {{ limit }}\n');
    const pb = join(tmp, 'tpl.yml');
    writeFileSync(pb, play('f-deb:f-rhel', '    - template: { src: site.rules.j2, dest: /etc/audit/rules.d/60-site.rules }\n').replace('  tasks:', '  vars: { limit: 8192 }\n  tasks:'));
    const r = await sim.run(pb);
    for (const h of ['f-deb', 'f-rhel']) {
      expect(task(r, h).status, task(r, h).msg).toBe('changed');
      expect(read(h, '/etc/audit/rules.d/60-site.rules')).toBe(`## ${h}\n-b 8192\n`);
    }
    expect(task(await sim.run(pb), 'f-deb').status).toBe('ok');
  }, 60_000);
});

describe('guards on what a file task writes (issue 23 item 7)', () => {
  it('-f 2 into rules.d on a host losing records is refused in check mode and apply; the host does not panic', async () => {
    const k = sim.machine('f-losing').kernel;
    const boot = k.bootId;
    const before = read('f-losing', '/etc/audit/rules.d/audit.rules');
    const pb = play('f-losing', "    - lineinfile: { path: /etc/audit/rules.d/audit.rules, regexp: '^-f ', line: '-f 2' }\n      notify: load rules\n  handlers:\n    - name: load rules\n      command: augenrules --load\n");
    for (const check of [true, false]) {
      const t = task(await sim.runText(pb, { check }), 'f-losing');
      expect(t.status).toBe('failed');
      expect(t.error?.code).toBe('E_GUARD');
      expect(t.msg).toMatch(/panic guard: refusing -f 2 in \/etc\/audit\/rules\.d\/audit\.rules/);
      expect(t.msg).toMatch(/records are being lost/);
    }
    expect(read('f-losing', '/etc/audit/rules.d/audit.rules')).toBe(before);
    k.sync();
    expect(k.power).toBe('up');
    expect(k.bootId).toBe(boot);
  }, 60_000);

  it('-e 2 is flagged on a healthy host and refused on one that needs a fix first', async () => {
    const pb = (h: string) => play(h, "    - lineinfile: { path: /etc/audit/rules.d/99-finalize.rules, line: '-e 2', create: true }\n");
    const healthy = task(await sim.runText(pb('f-rhel'), { check: true }), 'f-rhel');
    expect(healthy.status).toBe('changed');
    expect(healthy.warnings?.join('\n')).toMatch(/-e 2 locks the audit configuration until reboot/);
    const losing = task(await sim.runText(pb('f-losing')), 'f-losing');
    expect(losing.error?.code).toBe('E_GUARD');
    expect(losing.msg).toMatch(/lock guard: refusing -e 2 .* needs a fix first/);
    expect(sim.machine('f-losing').fs.stat('/etc/audit/rules.d/99-finalize.rules')).toBeNull();
  }, 60_000);

  it('-b over the memory share is refused with the numbers, in a blockinfile too', async () => {
    const pb = play('f-smallmem', '    - blockinfile: { path: /etc/audit/rules.d/audit.rules, block: "-b 16384" }\n');
    for (const check of [true, false]) {
      const t = task(await sim.runText(pb, { check }), 'f-smallmem');
      expect(t.error?.code).toBe('E_GUARD');
      expect(t.msg).toMatch(/memory guard: backlog_limit 16384 may pin 140\.2 MiB/);
    }
    expect(read('f-smallmem', '/etc/audit/rules.d/audit.rules')).not.toMatch(/16384/);
  }, 60_000);

  it('a grub audit_backlog_limit= lower than the runtime limit is reported (check and apply)', async () => {
    const pb = play('f-deb', "    - lineinfile: { path: /etc/default/grub, regexp: '^GRUB_CMDLINE_LINUX=', line: 'GRUB_CMDLINE_LINUX=\"audit=1 audit_backlog_limit=1024\"' }\n");
    for (const check of [true, false]) {
      const t = task(await sim.runText(pb, { check }), 'f-deb');
      expect(t.status).toBe(check ? 'changed' : 'changed');
      expect(t.warnings?.join('\n')).toMatch(/audit_backlog_limit=1024 is lower than the runtime backlog_limit \d+/);
    }
    expect(read('f-deb', '/etc/default/grub')).toMatch(/audit_backlog_limit=1024/);
  }, 60_000);
});
