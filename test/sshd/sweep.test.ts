/**
 * The sweep and a check-mode playbook against the real-sshd fleet, driven the way an operator
 * drives them: the harness's Ansible-style YAML inventory and known_hosts file.
 *  - in-process through the CLI's own command definitions (sweep/run), so this runs whenever the
 *    source compiles;
 *  - and, when the CLI is built, `node dist/.../main.js sweep -i INV --known-hosts FILE --json` as
 *    a child process.
 */
import { existsSync } from 'node:fs';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/executor/clock.js';
import { noInterrupt } from '../../src/executor/interrupt.js';
import { runCommand } from '../../src/cli/run.js';
import { sweepCommand, type CliIO } from '../../src/cli/sweep.js';
import { run, startSshdFleet, type SshdFleet } from '../helpers/sshd-fleet.js';
import { skipReason } from './util.js';
import { CLI_BIN as CLI } from '../helpers/cli.js';

const PLAYBOOK = join(process.cwd(), 'playbooks/raise-backlog-limit.yml');

interface JsonHost {
  host: string;
  address: string;
  port: number;
  status: string;
  audit: Record<string, unknown> | null;
  error: { code?: string; message?: string } | null;
}

/** Runs the CLI's own commander definitions in-process; returns exit code and output. */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const sink = (add: (s: string) => void) => new Writable({ write: (c: Buffer | string, _e, cb) => (add(String(c)), cb()) });
  const io: CliIO = {
    stdout: sink((s) => (stdout += s)),
    stderr: sink((s) => (stderr += s)),
    env: { ...process.env, FLEETMEND_KEY_PASSPHRASE: '' },
    clock: systemClock,
    exitCode: 0,
    interrupt: noInterrupt,
  };
  const program = new Command('fleetmend').exitOverride();
  sweepCommand(program, io);
  runCommand(program, io);
  await program.parseAsync(args, { from: 'user' });
  return { code: io.exitCode, stdout, stderr };
}

describe.skipIf(skipReason !== null)('sweep and check-mode playbook against the real-sshd fleet', () => {
  let fleet: SshdFleet;
  const limits = (i: number) => [64, 8192, 320, 8192, 1024, 8192][i % 6]!;

  beforeAll(async () => {
    fleet = await startSshdFleet({
      hosts: 6,
      become: true,
      state: ({ index }) => ({
        backlogLimit: limits(index),
        lost: index === 0 ? 123456 : 0,
        backlog: index === 0 ? 64 : 0,
        auditctlNeedsRoot: true,
        kernelLog: index === 0 ? [{ uptime: 100.25, message: 'audit: backlog limit exceeded' }, { uptime: 101.5, message: 'audit: audit_lost=123456 audit_rate_limit=0 audit_backlog_limit=64' }] : [],
      }),
    });
  });
  afterAll(async () => {
    await fleet?.stop();
  });

  const common = () => ['-i', fleet.inventoryPath, '--known-hosts', fleet.knownHostsPath, '--json', '--no-store', '-q', '--connect-timeout', '20', '--command-timeout', '20'];

  it('sweeps every host (with become) and reports each host’s own audit state', async () => {
    const r = await cli(['sweep', ...common(), '--samples', '1', '--no-policy']);
    const doc = JSON.parse(r.stdout) as { hosts: JsonHost[] };
    expect(doc.hosts).toHaveLength(fleet.hosts.length);
    for (const h of fleet.hosts) {
      const got = doc.hosts.find((x) => x.host === h.name);
      expect(got, r.stderr).toBeDefined();
      expect(got!.error, JSON.stringify(got!.error)).toBeNull();
      expect(got!.address).toBe(h.address);
      expect(got!.port).toBe(h.port);
      expect(got!.audit).toMatchObject({ backlog_limit: limits(h.index) });
    }
    const stuck = doc.hosts.find((x) => x.host === fleet.hosts[0]!.name)!;
    expect(stuck.audit).toMatchObject({ lost: 123456 });
  });

  it('a host with a changed key is unreachable with E_HOSTKEY_CHANGED; the rest still complete', async () => {
    const broken = join(fleet.dir, 'known_hosts_one_changed');
    const [first, ...rest] = fleet.hosts;
    const lines = rest.map((h) => `${h.knownHostsName} ${h.hostKey.type} ${h.hostKey.base64}`);
    // Host 1 is answered by another host's key: every host shares a key in loopback mode with
    // up to 16 hosts per sshd, so take the bastion-less trick: a freshly generated key.
    const other = join(fleet.dir, 'otherkey');
    await run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const pub = (await run(['cat', `${other}.pub`])).stdout.split(' ').slice(0, 2).join(' ');
    lines.push(`${first!.knownHostsName} ${pub}`);
    await (await import('node:fs/promises')).writeFile(broken, lines.join('\n') + '\n');
    const args = common();
    args[args.indexOf('--known-hosts') + 1] = broken;
    const r = await cli(['sweep', ...args, '--samples', '1', '--no-policy']);
    const doc = JSON.parse(r.stdout) as { hosts: JsonHost[] };
    const bad = doc.hosts.find((x) => x.host === first!.name)!;
    expect(bad.status).toBe('unreachable');
    expect(bad.error?.code).toBe('E_HOSTKEY_CHANGED');
    for (const h of rest) expect(doc.hosts.find((x) => x.host === h.name)!.error).toBeNull();
    expect(r.code).not.toBe(0);
  });

  it.skipIf(!existsSync(PLAYBOOK))('raise-backlog-limit.yml in check mode runs green and changes nothing', async () => {
    const before = await Promise.all(fleet.hosts.map((h) => fleet.readState(h)));
    const r = await cli(['run', PLAYBOOK, ...common(), '--check']);
    expect(r.code, `${r.stderr}\n${r.stdout.slice(0, 4000)}`).toBe(0);
    const doc = JSON.parse(r.stdout) as { hosts: JsonHost[] };
    for (const h of doc.hosts) expect(['ok', 'changed', 'skipped'], JSON.stringify(h)).toContain(h.status);
    // The host at 64 is predicted to get the runtime change; nothing was changed anywhere.
    expect(JSON.stringify(doc.hosts.find((x) => x.host === fleet.hosts[0]!.name))).toContain('-b 8192');
    const after = await Promise.all(fleet.hosts.map((h) => fleet.readState(h)));
    expect(after).toEqual(before);
    for (const h of fleet.hosts) expect(await fleet.readHostFile(h, '/etc/audit/rules.d/zz-fleetmend-backlog.rules')).toBeNull();
  });

  it.skipIf(!existsSync(PLAYBOOK))('raise-backlog-limit.yml applied: runtime limit raised and persisted through augenrules', async () => {
    const h = fleet.hosts[2]!;
    // A rules.d without a stock -b (see the next test for the stock Debian layout).
    await fleet.setState(h, { files: { '/etc/audit/rules.d/audit.rules': '-D\n-f 1\n' } });
    const r = await cli(['run', PLAYBOOK, ...common(), '--limit', h.name, '-e', 'backlog_limit=16384', '--watch', '2']);
    expect(r.code, `${r.stderr}\n${r.stdout.slice(0, 4000)}`).toBe(0);
    expect((await fleet.readState(h)).backlogLimit).toBe(16384);
    expect(await fleet.readHostFile(h, '/etc/audit/rules.d/zz-fleetmend-backlog.rules')).toContain('-b 16384');
    // What a reboot or auditd restart would load: the persisted value.
    await fleet.setState(h, { backlogLimit: 64 });
    const reload = await run(fleet.sshArgv(h, 'sudo -n augenrules --load >/dev/null && sudo -n auditctl -s'));
    expect(reload.stdout).toContain('backlog_limit 16384');
  });

  // On Debian's stock layout rules.d/audit.rules carries `-b 8192`; augenrules loads in `ls -v`
  // order and the last -b wins, so the module's file is named to sort after it (zz-...).
  it('raise-backlog-limit.yml applied on the stock Debian rules.d layout persists the raise', async () => {
    if (!existsSync(PLAYBOOK)) throw new Error('no playbook');
    const h = fleet.hosts[4]!;
    const r = await cli(['run', PLAYBOOK, ...common(), '--limit', h.name, '-e', 'backlog_limit=16384', '--watch', '2']);
    expect(r.code, r.stdout.slice(0, 2000)).toBe(0);
    expect((await fleet.readState(h)).backlogLimit).toBe(16384);
  });

  it('the built CLI: node main.js sweep -i INV --known-hosts FILE --json', async () => {
    const r = await run(['node', CLI, 'sweep', ...common(), '--samples', '1', '--no-policy'], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { hosts: JsonHost[] };
    // earlier tests raised some limits: compare with each host's state now
    const now = await Promise.all(fleet.hosts.map(async (h) => [h.name, (await fleet.readState(h)).backlogLimit]));
    expect(doc.hosts.map((h) => [h.host, h.audit?.backlog_limit])).toEqual(now);
  });
});
