/**
 * Issue 23 §1 on the simulated fleet, through the built CLI (dist/bin/main.js: `npm run build`
 * first): an undefined variable fails the host (exit 2, the variable and pb.yml:line named)
 * instead of reading as false; the ComplianceAsCode-like play whose tasks are gated on role
 * variables and facts that nobody defined no longer "succeeds" with ok=0 skipped=4; facts the
 * probe reads (os_family) are defined after gather_facts; inventory group_vars are YAML 1.1 and
 * templated when used.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet, type Fleet } from '../../src/sim/index.js';
import { spawnCli } from '../helpers/cli.js';
import { scenarioOf } from '../fixtures/playbooks/sim-harness.js';

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}
interface JsonTask {
  task: string;
  status: string;
  msg?: string;
  error?: { code: string; message: string };
}
interface JsonHost {
  host: string;
  status: string;
  tasks: JsonTask[];
}

let dir: string;
let fleet: Fleet;
let inventory: string;

function cli(args: string[]): Promise<Ran> {
  return spawnCli(args, { cwd: dir, env: { ...process.env, HOME: dir } });
}

function playbook(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

const run = (pb: string, ...more: string[]) => cli(['run', pb, '-i', inventory, '--known-hosts', fleet.knownHostsPath, '--no-store', ...more]);

function hostsOf(r: Ran): JsonHost[] {
  return (JSON.parse(r.stdout) as { hosts: JsonHost[] }).hosts;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fm-undef-'));
  const scenario = scenarioOf('undefined-vars', (mk) => [{ spec: mk.debian('u-deb') }, { spec: mk.rhel('u-rhel') }]);
  fleet = await startFleet({ scenario, dir: join(dir, 'fleet'), loginDelayScale: 0 });
  // the fleet's inventory, beside a group_vars/ as an operator keeps it
  inventory = join(dir, 'inv', 'hosts.yml');
  mkdirSync(join(dir, 'inv', 'group_vars'), { recursive: true });
  writeFileSync(inventory, readFileSync(fleet.inventoryPath, 'utf8'));
  writeFileSync(join(dir, 'inv', 'group_vars', 'all.yml'), 'restart_enabled: no\nmotd: "managed on {{ inventory_hostname }}"\n');
}, 60_000);

afterAll(async () => {
  await fleet?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('an undefined variable through the CLI', () => {
  it('`when: undefined_flag` fails each host (exit 2), naming the variable and pb.yml:line', async () => {
    const pb = playbook('flag.yml', `- hosts: all\n  tasks:\n    - name: gated\n      command: auditctl -s\n      when: undefined_flag\n`);
    const r = await run(pb, '--check');
    expect(r.code, r.stdout + r.stderr).toBe(2);
    const out = r.stdout + r.stderr;
    for (const h of ['u-deb', 'u-rhel']) {
      expect(out).toContain(`TASK [gated] ${h}: failed - ${pb}:5:7: when: 'undefined_flag' is undefined in "undefined_flag" [E_UNDEFINED]`);
      expect(out).toMatch(new RegExp(`^${h} +: ok=0 changed=0 unreachable=0 failed=1 skipped=0`, 'm'));
    }
  }, 60_000);

  it('the ComplianceAsCode-like play gated on undefined vars no longer exits 0 with ok=0 skipped=4', async () => {
    // the shape of a ComplianceAsCode auditd remediation: each task gated on a profile
    // variable, a package fact and a virtualization fact that nothing here defines
    const pb = playbook(
      'ssg.yml',
      `- hosts: all
  gather_facts: true
  tasks:
    - name: Configure auditd Disk Full Action when Disk Is Full
      ansible.builtin.command: auditctl -s
      when:
        - DISA_STIG_RHEL_09_653040 | bool
        - '"audit" in ansible_facts.packages'
    - name: Configure auditd flush priority
      ansible.builtin.command: auditctl -s
      when: ansible_virtualization_type not in ["docker", "lxc", "openvz", "podman", "container"]
    - name: Set the audit backlog limit
      auditctl: { backlog_limit: 8192 }
      when: var_audit_backlog_limit is defined and var_audit_backlog_limit | int > 0
    - name: Make the auditd configuration immutable
      ansible.builtin.command: auditctl -s
      when: audit_rules_immutable | bool
`,
    );
    const r = await run(pb, '--check', '--json', '-q');
    expect(r.code, r.stderr).toBe(2);
    for (const h of hostsOf(r)) {
      expect(h.status, h.host).toBe('failed');
      const [gather, first, ...rest] = h.tasks;
      expect(gather!.status).toBe('ok');
      expect(first).toMatchObject({ status: 'failed', error: { code: 'E_UNDEFINED' } });
      expect(first!.error!.message).toMatch(/^when: 'DISA_STIG_RHEL_09_653040' is undefined/);
      expect(rest.map((t) => t.msg)).toEqual(Array(3).fill('host failed earlier in the play'));
    }
  }, 60_000);

  it('gather_facts fills ansible_facts.os_family (and ansible_os_family) from the probe; ansible_check_mode is set', async () => {
    const pb = playbook(
      'facts.yml',
      `- hosts: all
  gather_facts: true
  tasks:
    - name: RedHat only
      ansible.builtin.debug: { msg: "{{ ansible_facts.distribution }} {{ ansible_distribution_major_version }} {{ ansible_kernel != '' }}" }
      when: ansible_facts.os_family == "RedHat"
    - name: Debian only
      ansible.builtin.debug: { msg: "{{ ansible_distribution }} {{ ansible_facts.distribution_major_version }}" }
      when: ansible_os_family == "Debian"
    - name: not in check mode
      ansible.builtin.command: auditctl -s
      when: not ansible_check_mode
`,
    );
    const r = await run(pb, '--check', '--json', '-q');
    expect(r.code, r.stderr).toBe(0);
    const byHost = Object.fromEntries(hostsOf(r).map((h) => [h.host, h.tasks.slice(1).map((t) => [t.status, t.msg ?? ''])]));
    const notInCheck = ['skipped', 'when: not ansible_check_mode is false'];
    expect(byHost['u-rhel']).toEqual([['ok', 'RedHat 9 true'], ['skipped', 'when: ansible_os_family == "Debian" is false'], notInCheck]);
    expect(byHost['u-deb']).toEqual([['skipped', 'when: ansible_facts.os_family == "RedHat" is false'], ['ok', 'Debian 12'], notInCheck]);
  }, 60_000);

  it('group_vars are YAML 1.1 (`no` is false) and templated when used', async () => {
    const pb = playbook(
      'inv.yml',
      `- hosts: all
  tasks:
    - name: restart
      ansible.builtin.command: auditctl -s
      when: restart_enabled
    - name: motd
      ansible.builtin.debug: { msg: "{{ motd }}" }
`,
    );
    const r = await run(pb, '--check', '--json', '-q');
    expect(r.code, r.stderr).toBe(0);
    for (const h of hostsOf(r)) {
      expect(h.tasks.map((t) => [t.task, t.status, t.msg])).toEqual([
        ['restart', 'skipped', 'when: restart_enabled is false'],
        ['motd', 'ok', `managed on ${h.host}`],
      ]);
    }
  }, 60_000);
});
