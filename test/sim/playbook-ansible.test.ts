/**
 * Issue 15 §2: an Ansible user's playbook, unchanged (examples/ansible/audit-backlog-floor.yml:
 * FQCN modules, `become: yes`, `loop`, `register`/`when`, `set_fact`, `fail`, `debug`, a handler
 * flushed by `meta`, `wait_for_connection`), runs on the simulated fleet through the real SSH
 * path; the same file passes Debian's `ansible-playbook --syntax-check`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEBIAN_RULES } from '../../src/sim/machine.js';
import type { PlaybookRunResult } from '../../src/playbook/run.js';
import { scenarioOf, simHarnessForFile } from '../fixtures/playbooks/sim-harness.js';

const PLAYBOOK = join(process.cwd(), 'examples/ansible/audit-backlog-floor.yml');
const ANSIBLE_PLAYBOOK = '/usr/bin/ansible-playbook';

const scenario = scenarioOf('ansible', (mk) => [
  // a host whose persisted rules set a limit below the floor, reached as a sudo user
  { spec: { ...mk.debian('deb-low'), user: 'deploy', rulesD: { 'audit.rules': DEBIAN_RULES.replace('-b 8192', '-b 320') } } },
  { spec: mk.rhel('rhel-ok') },
]);

const sim = simHarnessForFile(scenario);

const host = (r: PlaybookRunResult, name: string) => r.hosts.find((h) => h.host === name)!;
const task = (r: PlaybookRunResult, h: string, name: string) => host(r, h).tasks!.find((t) => t.task === name)!;

describe('an Ansible playbook on the simulated fleet', () => {
  it('raises and persists the limit where it is low, restarts auditd there only, and asserts the result', async () => {
    expect(sim.machine('deb-low').kernel.settings.backlogLimit).toBe(320);
    const r = await sim.run(PLAYBOOK);
    expect(Object.fromEntries(r.hosts.map((h) => [h.host, h.status]))).toEqual({ 'deb-low': 'changed', 'rhel-ok': 'ok' });
    expect(sim.machine('deb-low').kernel.settings.backlogLimit).toBe(8192);
    expect(sim.machine('deb-low').fs.read('/etc/audit/rules.d/zz-backlog-floor.rules', true)).toBe('-b 8192\n');
    // the handler ran where notified, at the flush (before the later tasks), not elsewhere
    const names = host(r, 'deb-low').tasks!.map((t) => t.task);
    expect(names.indexOf('Restart auditd')).toBe(names.indexOf('Restart auditd now if the limit changed') + 1);
    expect(task(r, 'deb-low', 'Restart auditd').status).toBe('changed');
    expect(host(r, 'rhel-ok').tasks!.some((t) => t.task === 'Restart auditd')).toBe(false);
    expect(task(r, 'rhel-ok', 'Raise the backlog limit and persist it')).toMatchObject({ status: 'skipped', msg: 'when: limit_check.rc != 0 is false' });
    // loop: one run per item, each item's output
    const counters = task(r, 'deb-low', 'Read each counter we watch');
    expect(counters.status).toBe('ok');
    expect(counters.stdout).toMatch(/^lost \d+\nbacklog_wait_time \d+\n$/);
    expect(task(r, 'deb-low', 'Show it').msg).toMatch(/^audit_status\.stdout_lines: \[.*"backlog_limit 320"/);
    expect(task(r, 'deb-low', 'Stop on hosts where auditing is off').status).toBe('skipped');
    expect(task(r, 'deb-low', 'The limit is at the floor').status).toBe('ok');
    expect(task(r, 'deb-low', 'Wait until the host answers').status).toBe('ok');
  }, 90_000);

  it('a second run changes nothing', async () => {
    const r = await sim.run(PLAYBOOK);
    expect(r.recap.map((x) => [x.host, x.changed, x.failed])).toEqual([
      ['deb-low', 0, 0],
      ['rhel-ok', 0, 0],
    ]);
  }, 90_000);

  it('-e overrides the play vars (and the fail task stops a host, later tasks skipped)', async () => {
    const r = await sim.run(PLAYBOOK, { extraVars: { backlog_floor: '9216' }, only: ['rhel-ok'] });
    expect(host(r, 'rhel-ok').status).toBe('changed');
    expect(sim.machine('rhel-ok').kernel.settings.backlogLimit).toBe(9216);
    sim.machine('rhel-ok').kernel.settings.enabled = 0;
    const off = await sim.run(PLAYBOOK, { only: ['rhel-ok'] });
    expect(host(off, 'rhel-ok').status).toBe('failed');
    expect(task(off, 'rhel-ok', 'Stop on hosts where auditing is off').msg).toBe('auditing is disabled on rhel-ok');
    expect(task(off, 'rhel-ok', 'Raise the backlog limit and persist it').msg).toBe('host failed earlier in the play');
  }, 90_000);
});

describe('the same file is valid Ansible', () => {
  const reason = existsSync(ANSIBLE_PLAYBOOK) ? null : `${ANSIBLE_PLAYBOOK} is missing (apt-get install -y ansible-core)`;
  if (reason) console.warn(`[playbook-ansible] syntax check skipped: ${reason}`);
  it.skipIf(reason !== null)('ansible-playbook --syntax-check accepts it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fm-ansible-'));
    try {
      writeFileSync(join(dir, 'inventory.ini'), 'localhost ansible_connection=local\n');
      const r = spawnSync(ANSIBLE_PLAYBOOK, ['--syntax-check', '-i', join(dir, 'inventory.ini'), PLAYBOOK], {
        encoding: 'utf8',
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, ANSIBLE_LOCAL_TEMP: join(dir, 'tmp'), ANSIBLE_NOCOLOR: '1' },
        timeout: 60_000,
      });
      expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
      expect(r.stdout).toContain('playbook: ');
      // and it can fail: a typo in a keyword is rejected by the same check
      const bad = join(dir, 'bad.yml');
      writeFileSync(bad, '- hosts: all\n  becom: yes\n  tasks: []\n');
      const rb = spawnSync(ANSIBLE_PLAYBOOK, ['--syntax-check', '-i', join(dir, 'inventory.ini'), bad], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: dir }, timeout: 60_000 });
      expect(rb.status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
