/**
 * Issue 23 §4 on the simulated fleet, through the built CLI (dist/bin/main.js: `npm run build`
 * first): `gather_facts: true` fills `ansible_facts` and the `ansible_*` variables hardening
 * roles read (os_family, distribution_major_version, cmdline, mounts, …) from the probe's one
 * round trip; `setup` honours `gather_subset`; `package_facts` reads dpkg's status file or rpm,
 * `service_facts` systemd's listings; the facts last for the rest of the playbook.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet, type Fleet } from '../../src/sim/index.js';
import { programLog } from '../../src/sim/shell.js';
import { spawnCli } from '../helpers/cli.js';
import { scenarioOf } from '../fixtures/playbooks/sim-harness.js';

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}
interface JsonHost {
  host: string;
  status: string;
  tasks: { task: string; status: string; msg?: string; error?: { code: string; message: string } }[];
}

let dir: string;
let fleet: Fleet;

function playbook(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

const run = (pb: string, ...more: string[]): Promise<Ran> =>
  spawnCli(['run', pb, '-i', fleet.inventoryPath, '--known-hosts', fleet.knownHostsPath, '--no-store', '--json', '-q', ...more], { cwd: dir, env: { ...process.env, HOME: dir } });

/** Per host: [task, status, msg] of every task. */
function tasksOf(r: Ran): Record<string, [string, string, string][]> {
  const hosts = (JSON.parse(r.stdout) as { hosts: JsonHost[] }).hosts;
  return Object.fromEntries(hosts.map((h) => [h.host, h.tasks.map((t): [string, string, string] => [t.task, t.status, t.msg ?? ''])]));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fm-facts-'));
  const scenario = scenarioOf('ansible-facts', (mk) => [{ spec: mk.debian('f-deb') }, { spec: mk.rhel('f-rhel') }]);
  fleet = await startFleet({ scenario, dir: join(dir, 'fleet'), loginDelayScale: 0 });
}, 60_000);

afterAll(async () => {
  await fleet?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('Ansible facts on the simulated fleet', () => {
  it('gather_facts: true gives os_family, distribution_major_version, ansible_cmdline and mounts, with no program beyond the probe’s', async () => {
    const pb = playbook(
      'gather.yml',
      `- hosts: all
  gather_facts: true
  tasks:
    - name: identity
      debug: { msg: "{{ ansible_facts.os_family }} {{ ansible_distribution }} {{ ansible_facts.distribution_major_version }} {{ ansible_distribution_release }} {{ ansible_architecture }} {{ ansible_hostname }} {{ ansible_fqdn }} {{ ansible_service_mgr }} {{ ansible_virtualization_type }}/{{ ansible_virtualization_role }}" }
    - name: cmdline
      debug: { msg: "root={{ ansible_cmdline.root }}" }
      when: ansible_proc_cmdline.quiet and ansible_cmdline.ro
    - name: mounts
      debug: { msg: "{{ ansible_mounts[4].mount }} {{ ansible_facts.mounts[4].fstype }}" }
    - name: Debian only
      debug: { msg: debian }
      when: ansible_facts.os_family == "Debian" and ansible_distribution_major_version | int >= 12
`,
    );
    /** Programs each host's sessions started while `f` ran. */
    const programs = async <T>(f: () => Promise<T>): Promise<{ r: T; started: string[][] }> => {
      const before = fleet.hosts.map((h) => programLog(h.machine).names.length);
      const r = await f();
      return { r, started: fleet.hosts.map((h, i) => programLog(h.machine).names.slice(before[i])) };
    };
    const probeOnly = await programs(() => run(playbook('probe.yml', '- hosts: all\n  tasks:\n    - audit_status:\n'), '--check'));
    const { r, started } = await programs(() => run(pb, '--check'));
    expect(r.code, r.stderr).toBe(0);
    const byHost = tasksOf(r);
    expect(byHost['f-deb']).toEqual([
      ['Gathering Facts', 'ok', expect.stringMatching(/facts gathered/)],
      ['identity', 'ok', 'Debian Debian 12 bookworm x86_64 f-deb f-deb.fleet.example systemd kvm/guest'],
      ['cmdline', 'ok', 'root=/dev/vda1'],
      ['mounts', 'ok', '/ ext4'],
      ['Debian only', 'ok', 'debian'],
    ]);
    expect(byHost['f-rhel']!.slice(1)).toEqual([
      ['identity', 'ok', 'RedHat RedHat 9 Plow x86_64 f-rhel f-rhel.fleet.example systemd kvm/guest'],
      ['cmdline', 'ok', 'root=/dev/mapper/rhel-root'],
      ['mounts', 'ok', '/ xfs'],
      ['Debian only', 'skipped', expect.stringMatching(/is false/)],
    ]);
    // gathering is the probe: the programs one sample starts (auditctl -s on a healthy host, sudo
    // and sh where the login needs become), nothing per fact
    console.log(`[playbook-facts] programs per host: audit_status ${probeOnly.started.map((p) => p.join(' ')).join(' | ')}; gather_facts + 4 tasks ${started.map((p) => p.join(' ')).join(' | ')}`);
    expect(started).toEqual(probeOnly.started);
    expect(started.flat().filter((p) => p !== 'auditctl' && p !== 'sudo' && p !== 'sh')).toEqual([]);
  }, 60_000);

  it('setup with gather_subset: min leaves mounts and virtualization undefined; an unknown subset is refused at load', async () => {
    const pb = playbook(
      'subset.yml',
      `- hosts: all
  tasks:
    - name: min
      setup: { gather_subset: ['!all'] }
    - name: min facts
      debug: { msg: "{{ ansible_distribution }} {{ ansible_facts.gather_subset[0] }}" }
      when: ansible_mounts is undefined and ansible_virtualization_type is undefined
    - name: virtual too
      ansible.builtin.setup:
        gather_subset: [virtual]
    - name: now
      debug: { msg: "{{ ansible_virtualization_type }}" }
      when: ansible_mounts is undefined
`,
    );
    const r = await run(pb, '--check');
    expect(r.code, r.stderr).toBe(0);
    for (const tasks of Object.values(tasksOf(r))) {
      expect(tasks[1]).toEqual(['min facts', 'ok', expect.stringMatching(/^(Debian|RedHat) !all$/)]);
      expect(tasks[3]).toEqual(['now', 'ok', 'kvm']);
    }
    const bad = await run(playbook('bad.yml', `- hosts: all\n  tasks:\n    - setup: { gather_subset: [hardwre] }\n`), '--check');
    expect(bad.code).toBe(1);
    expect(bad.stdout + bad.stderr).toMatch(/bad\.yml:3:\d+: Bad subset 'hardwre' given to Ansible/);
  }, 60_000);

  it('package_facts (dpkg status / rpm) and service_facts fill ansible_facts.packages and .services', async () => {
    const pb = playbook(
      'pkgs.yml',
      `- hosts: all
  tasks:
    - package_facts:
    - service_facts:
    - name: audit package
      debug: { msg: "{{ ansible_facts.packages[audit_pkg][0].version }} {{ ansible_facts.packages[audit_pkg][0].source }}" }
    - name: auditd service
      debug: { msg: "{{ ansible_facts.services['auditd.service'].state }} {{ ansible_facts.services['auditd.service'].status }}" }
`,
    );
    const r = await run(pb, '--check', '-e', 'audit_pkg=auditd', '--limit', 'f-deb');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const byHost = tasksOf(r);
    expect(byHost['f-deb']![2]).toEqual(['audit package', 'ok', '1:3.0.9-1 apt']);
    expect(byHost['f-deb']![3]).toEqual(['auditd service', 'ok', 'running enabled']);
    // the RHEL host has no dpkg status: rpm, and its package is named audit
    const rhel = await run(pb, '--check', '-e', 'audit_pkg=audit', '--limit', 'f-rhel');
    expect(tasksOf(rhel)['f-rhel']![2]).toEqual(['audit package', 'ok', '3.1.2 rpm']);
  }, 60_000);
});
