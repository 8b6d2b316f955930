/**
 * A playbook guard check on a stalled host starts no program beyond the probe's: on such a host
 * every execve waits for the full audit queue (kernel-6.1-queue §0), so a guard reads the facts
 * of the probe's round trip (src/host/session.ts) instead of starting `cat`, `grep` or `ps`.
 * Counted with strace on the host's own sshd: every program its sessions start, by name.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { sshdUnavailableReason, startSshdFleet, type SshdFleet } from '../helpers/sshd-fleet.js';
import { runCli } from '../helpers/cli.js';

const skip = sshdUnavailableReason();

/** What one probe round trip starts under become on a host with lost > 0 (harness.test.ts). */
const PROBE = ['bash', 'sudo', 'sh', 'auditctl', 'auditctl', 'journalctl'];
/** Any round trip under become: the login shell, sudo and the shell it runs. */
const SHELLS = ['bash', 'sudo', 'sh'];

describe.skipIf(skip !== null)('guards on a stalled host start no program beyond the probe’s (strace)', () => {
  let fleet: SshdFleet;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fm-guard-'));
    fleet = await startSshdFleet({
      hosts: 1,
      become: true,
      // auditd stopped (T), the queue at its limit, records lost, tasks asleep in audit_log_start
      state: () => ({ backlog: 8190, lost: 420, backlogWaitTimeActual: 1500, stalledTasks: 3, auditd: { active: true, pid: 800, refuseManualStop: true, stopped: true } }),
    });
  });
  afterAll(async () => {
    await fleet?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Program names the host's sshd sessions started while `argv` ran the CLI. */
  const programsOf = async (argv: string[]): Promise<{ names: string[]; stdout: string }> => {
    const out = join(dir, `trace-${Date.now()}`);
    const st = spawn('strace', ['-f', '-qq', '-o', out, '-e', 'trace=execve', '-e', 'signal=none', '-p', String(fleet.sshdPids[0])], { stdio: 'ignore' });
    let stdout = '';
    try {
      await sleep(500); // strace attaches
      const r = await runCli([...argv, '-i', fleet.inventoryPath, '--known-hosts', fleet.knownHostsPath, '--no-store', '--json', '-q', '--command-timeout', '30']);
      stdout = r.stdout;
      await sleep(300);
    } finally {
      st.kill('SIGINT');
      await new Promise((r) => st.once('close', r));
    }
    const text = readFileSync(out, 'utf8');
    const names = [...text.matchAll(/execve\("([^"]+)".*= 0$/gm)].map((m) => m[1]!.split('/').pop()!).filter((p) => p !== 'sshd');
    return { names, stdout };
  };

  /** The programs split into sessions (each starts with the login shell). */
  const sessions = (names: string[]): string[][] =>
    names.reduce<string[][]>((acc, n) => (n === 'bash' ? [...acc, [n]] : (acc[acc.length - 1]?.push(n), acc)), []);

  it('auditctl guards (memory, growth) in check mode: every session is a probe round trip', async () => {
    const pb = join(dir, 'guard.yml');
    writeFileSync(pb, stringify([{ name: 'guard', hosts: 'all', become: true, tasks: [{ name: 'raise', auditctl: { backlog_limit: 16384 } }] }]));
    const { names, stdout } = await programsOf(['run', pb, '--check']);
    console.log(`[guard-programs] guard check: ${names.length} programs: ${names.join(' ')}`);
    const doc = JSON.parse(stdout) as { hosts: { tasks: { status: string; warnings?: string[] }[] }[] };
    const task = doc.hosts[0]!.tasks[0]!;
    expect(task.status, stdout.slice(0, 2000)).toBe('changed');
    // auditd is stopped: the growth guard's warning came from the probe's /proc/PID/stat
    expect(task.warnings?.join('\n')).toMatch(/auditd is not draining/);
    // two samples, two probes (the guard compares them, reference §4), nothing else
    expect(sessions(names)).toEqual([PROBE, PROBE]);
  });

  it('playbooks/raise-backlog-limit.yml --check: no program beyond the probe’s', async () => {
    const { names, stdout } = await programsOf(['run', 'playbooks/raise-backlog-limit.yml', '--check', '-e', 'backlog_limit=16384']);
    const doc = JSON.parse(stdout) as { hosts: { tasks: { task: string; status: string }[] }[] };
    expect(doc.hosts[0]!.tasks.map((t) => t.status), stdout.slice(0, 2000)).toEqual(['ok', 'changed', 'failed']);
    console.log(`[guard-programs] raise-backlog-limit --check: ${names.length} programs: ${names.join(' ')}`);
    expect(names.filter((n) => !PROBE.includes(n))).toEqual([]);
  });

  it('service restart of auditd in check mode: its state is the probe’s, no systemctl of the module’s own', async () => {
    const pb = join(dir, 'restart.yml');
    writeFileSync(pb, stringify([{ name: 'restart', hosts: 'all', become: true, tasks: [{ name: 'restart', service: { name: 'auditd', state: 'restarted' } }] }]));
    const { names, stdout } = await programsOf(['run', pb, '--check']);
    console.log(`[guard-programs] service restart --check: ${names.length} programs: ${names.join(' ')}`);
    const doc = JSON.parse(stdout) as { hosts: { tasks: { status: string; msg?: string }[] }[] };
    const task = doc.hosts[0]!.tasks[0]!;
    expect(task.status, stdout.slice(0, 2000)).toBe('changed');
    // RefuseManualStop=yes came from the unit file the probe read (auditd_unit)
    expect(task.msg).toMatch(/via service auditd restart/);
    // the probe, then the start guards' builtin read of rules.d (no program beyond the shells)
    expect(sessions(names)).toEqual([PROBE, SHELLS]);
  });

  it('gather_facts and setup: each is one probe round trip, with no program per fact', async () => {
    const pb = join(dir, 'gather.yml');
    const tasks = [
      { name: 'again, every subset', setup: { gather_subset: ['all'] } },
      { name: 'facts', debug: { msg: '{{ ansible_os_family }} {{ ansible_hostname }} {{ ansible_service_mgr }}' } },
    ];
    writeFileSync(pb, stringify([{ name: 'gather', hosts: 'all', become: true, gather_facts: true, tasks }]));
    const { names, stdout } = await programsOf(['run', pb, '--check']);
    console.log(`[guard-programs] gather_facts + setup --check: ${names.length} programs: ${names.join(' ')}`);
    const doc = JSON.parse(stdout) as { hosts: { tasks: { status: string; msg?: string }[] }[] };
    expect(doc.hosts[0]!.tasks.map((t) => t.status), stdout.slice(0, 2000)).toEqual(['ok', 'ok', 'ok']);
    expect(doc.hosts[0]!.tasks[2]!.msg).toMatch(/^\S+ \S+ \S+$/);
    // Gathering Facts and setup: two probes, each the programs of an audit sample, none per fact
    expect(sessions(names)).toEqual([PROBE, PROBE]);
  });

  // last: it raises the host's limit, which the checks above expect unchanged
  it('auditctl raising backlog_limit, applied: the probe’s programs plus the module’s own auditctl -b', async () => {
    const pb = join(dir, 'apply.yml');
    writeFileSync(pb, stringify([{ name: 'apply', hosts: 'all', become: true, tasks: [{ name: 'raise', auditctl: { backlog_limit: 16384 } }] }]));
    const { names, stdout } = await programsOf(['run', pb]);
    console.log(`[guard-programs] guard + apply: ${names.length} programs: ${names.join(' ')}`);
    const doc = JSON.parse(stdout) as { hosts: { tasks: { status: string; msg?: string }[] }[] };
    const task = doc.hosts[0]!.tasks[0]!;
    // "changed" only after the verification's sample read the new limit back
    expect(task.status, stdout.slice(0, 2000)).toBe('changed');
    expect(task.msg).toBe('changed: -b 16384');
    // the guard's two samples, the action, and the verification's recheck (the probe without the
    // rule list and the kernel log): no auditctl -s of its own (`mv` is the harness's fake
    // auditctl saving its state file, not the module's)
    expect(sessions(names)).toEqual([PROBE, PROBE, [...SHELLS, 'auditctl', 'mv'], [...SHELLS, 'auditctl']]);
  });
});
