/**
 * The real-sshd fleet harness itself: each host answers with its own audit state through the
 * real OpenSSH client, become keeps the fakes, the bastion is the only way into the namespace,
 * and stop() leaves no sshd and no account behind.
 */
import { existsSync } from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive } from '../helpers/sshd-fleet/system.js';
import { run, sshdUnavailableReason, startSshdFleet, type SshdFleet } from '../helpers/sshd-fleet.js';

const skip = sshdUnavailableReason();
if (skip) console.warn(`[test/sshd] skipped: ${skip}`);

function userExists(name: string): Promise<boolean> {
  return run(['id', '-u', name]).then((r) => r.code === 0);
}

function connectOutcome(address: string, port: number): Promise<'connected' | 'refused' | 'timeout'> {
  return new Promise((resolve) => {
    const s = net.connect({ host: address, port });
    const t = setTimeout(() => (s.destroy(), resolve('timeout')), 2000);
    s.on('connect', () => (clearTimeout(t), s.destroy(), resolve('connected')));
    s.on('error', () => (clearTimeout(t), resolve('refused')));
  });
}

describe.skipIf(skip !== null)('sshd fleet harness, loopback mode (root namespace)', () => {
  let fleet: SshdFleet;
  let stoppedPids: number[] = [];

  beforeAll(async () => {
    fleet = await startSshdFleet({
      hosts: 20,
      state: ({ index }) => ({ backlogLimit: 1000 + index, lost: index * 7, auditctlNeedsRoot: index === 19 }),
    });
  });
  afterAll(async () => {
    stoppedPids = fleet?.sshdPids ?? [];
    await fleet?.stop();
  });

  it('spreads 20 hosts over two sshd processes (16 listen addresses at most each)', () => {
    expect(fleet.sshdPids).toHaveLength(2);
    expect(new Set(fleet.hosts.map((h) => h.address)).size).toBe(20);
    expect(fleet.hosts.every((h) => h.address.startsWith('127.'))).toBe(true);
  });

  it('answers auditctl -s with each host’s own state through the real ssh client', async () => {
    const results = await Promise.all(
      fleet.hosts.slice(0, 19).map(async (h) => {
        const r = await run([
          'ssh', '-F', '/dev/null', '-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${fleet.knownHostsPath}`,
          '-o', 'StrictHostKeyChecking=yes', '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'IdentitiesOnly=yes',
          '-i', fleet.clientKeyPath, '-p', String(h.port), `${fleet.userName}@${h.address}`, 'auditctl -s',
        ], { timeoutMs: 20_000 });
        return { h, r };
      }),
    );
    for (const { h, r } of results) {
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`backlog_limit ${1000 + h.index}\n`);
      expect(r.stdout).toContain(`lost ${h.index * 7}\n`);
    }
  });

  it('refuses a non-root auditctl where the host says so, like the real tool (rc 4)', async () => {
    const h = fleet.hosts[19]!;
    const r = await run(fleet.sshArgv(h, 'auditctl -s'));
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('You must be root');
    const root = await run(fleet.sshArgv(h, 'sudo -n auditctl -s'));
    expect(root.code).toBe(0);
    expect(root.stdout).toContain('backlog_limit 1019');
  });

  it('keeps the fakes and the host identity under sudo, and changes state only as root', async () => {
    const h = fleet.hosts[3]!;
    const denied = await run(fleet.sshArgv(h, 'auditctl -b 9000'));
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain('Operation not permitted');
    const r = await run(fleet.sshArgv(h, 'sudo -n auditctl -b 9000'));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('backlog_limit 9000');
    expect((await fleet.readState(h)).backlogLimit).toBe(9000);
    expect((await fleet.readState(fleet.hosts[4]!)).backlogLimit).toBe(1004);
  });

  it('answers every command of the fact script (paths shown as the host’s own)', async () => {
    const h = fleet.hosts[0]!;
    await fleet.setState(h, {
      kernelLog: [{ uptime: 12.5, message: 'audit: backlog limit exceeded' }],
      files: { '/etc/audit/rules.d/10-base.rules': '-b 320\n' },
    });
    const script = [
      'auditctl -l 2>&1 | head -n 5000',
      'journalctl -k -q --no-pager -b 2>/dev/null | grep -F audit | tail -n 400',
      'dmesg 2>/dev/null | grep -F audit | tail -n 400',
      'ps -C auditd -o pid=,stat= 2>&1',
      'systemctl show auditd -p ActiveState -p SubState -p MainPID -p RefuseManualStop 2>&1',
      'grep -H -e -b /etc/audit/rules.d/*.rules /etc/audit/audit.rules 2>/dev/null',
      'cat /etc/audit/auditd.conf 2>&1 | grep -F q_depth',
      'df -Pk /var/log/audit 2>&1 | tail -n 1 | grep -c /',
      'cat /etc/audit/nope 2>&1; echo "rc=$?"',
      'grep -hF audit /var/log/messages /var/log/kern.log 2>/dev/null; echo "rc=$?"',
    ].join('\n');
    const r = await run(fleet.sshArgv(h, script));
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')).toEqual([
      'No rules',
      'May 05 08:00:12 h001 kernel: audit: backlog limit exceeded',
      '[   12.500000] audit: backlog limit exceeded',
      `${String(fleet.hosts[0]!.index + 800).padStart(7)} Ss`,
      'ActiveState=active',
      'SubState=running',
      'MainPID=800',
      'RefuseManualStop=yes',
      '/etc/audit/rules.d/10-base.rules:-b 320',
      '/etc/audit/rules.d/audit.rules:-b 8192',
      '/etc/audit/rules.d/audit.rules:--backlog_wait_time 60000',
      '/etc/audit/audit.rules:-b 8192',
      '/etc/audit/audit.rules:--backlog_wait_time 60000',
      'q_depth = 2000',
      '1',
      'cat: /etc/audit/nope: No such file or directory',
      'rc=1',
      'rc=2',
      '',
    ]);
  });

  it('loads rules into the fake kernel with augenrules, and refuses systemctl restart auditd', async () => {
    const h = fleet.hosts[5]!;
    // rules.d sorts 99-* before the stock audit.rules, so the stock -b wins, as on a real host.
    const shadowed = await run(fleet.sshArgv(h, "echo '-b 16384' | sudo -n tee /etc/audit/rules.d/99-fleetmend.rules >/dev/null && sudo -n augenrules --load >/dev/null && auditctl -s"));
    expect(shadowed.stdout).toContain('backlog_limit 8192');
    expect(await fleet.readHostFile(h, '/etc/audit/rules.d/99-fleetmend.rules')).toBe('-b 16384\n');
    const r = await run(fleet.sshArgv(h, "sudo -n sed -i 's/^-b .*/-b 32768/' /etc/audit/rules.d/audit.rules && sudo -n augenrules --load >/dev/null && auditctl -s"));
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('backlog_limit 32768');
    const refused = await run(fleet.sshArgv(h, 'sudo -n systemctl restart auditd'));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('refuse manual start/stop');
  });

  it('stop() ends every sshd by PID and removes the account', async () => {
    const pids = [...fleet.sshdPids];
    expect(pids.every(isAlive)).toBe(true);
    await fleet.stop();
    expect(pids.filter(isAlive)).toEqual([]);
    expect(await userExists(fleet.userName)).toBe(false);
    expect(existsSync(`/etc/sudoers.d/fleetmend-test-${fleet.userName}`)).toBe(false);
    expect(existsSync(fleet.dir)).toBe(false);
  });

  afterAll(() => {
    expect(stoppedPids.filter(isAlive)).toEqual([]);
  });
});

describe.skipIf(skip !== null)('sshd fleet harness, network namespace with a bastion', () => {
  let fleet: SshdFleet;

  beforeAll(async () => {
    fleet = await startSshdFleet({ hosts: 3, jump: true, state: ({ index }) => ({ backlogLimit: 64 * (index + 1) }) });
  });
  afterAll(async () => {
    await fleet?.stop();
  });

  it('serves the hosts from one sshd inside the namespace, reachable with fleet.exec()', async () => {
    expect(fleet.netns).toMatch(/^fm-/);
    expect(fleet.sshdPids).toHaveLength(1);
    const h = fleet.hosts[2]!;
    const direct = await fleet.exec(
      `ssh -F /dev/null -o BatchMode=yes -o UserKnownHostsFile=${fleet.knownHostsPath} -o StrictHostKeyChecking=yes -i ${fleet.clientKeyPath} ${fleet.userName}@${h.address} auditctl -s`,
      { timeoutMs: 20_000 },
    );
    expect(direct.stderr).toBe('');
    expect(direct.stdout).toContain('backlog_limit 192');
  });

  it('reaches the hosts from the root namespace only through the bastion', async () => {
    const h = fleet.hosts[0]!;
    expect(await connectOutcome(h.address, h.port)).not.toBe('connected');
    const r = await run(fleet.sshArgv(h, 'auditctl -s'), { timeoutMs: 20_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('backlog_limit 64');
  });
});
