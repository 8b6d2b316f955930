/**
 * The real-sshd fleet harness itself: each host answers with its own audit state through the
 * real OpenSSH client, become keeps the fakes, the bastion is the only way into the namespace,
 * and stop() leaves no sshd and no account behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive } from '../helpers/sshd-fleet/system.js';
import { run, sshdUnavailableReason, startSshdFleet, type FleetHost, type SshdFleet } from '../helpers/sshd-fleet.js';
import { runCli } from '../helpers/cli.js';
import { buildFactsScript, MAX_PROGRAMS_PER_SAMPLE, parseSample, splitSections } from '../../src/facts/index.js';
import { buildBecomeCommand, shellQuote } from '../../src/transport/become.js';
import { setTimeout as sleep } from 'node:timers/promises';

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

  it('gives each of the 20 hosts its own sshd and address', () => {
    expect(fleet.sshdPids).toHaveLength(20);
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

  it('a login costs the host what it costs on a real one: no harness program between sshd and the command', async () => {
    // strace on the host's own sshd: every program its sessions start, for a baseline's command
    // and for fleetmend's become-wrapped sample (the command text the transport sends).
    const programsOf = async (h: FleetHost, command: string, status: string): Promise<string[]> => {
      const out = join(mkdtempSync(join(tmpdir(), 'fm-login-')), 'trace');
      const st = spawn('strace', ['-f', '-qq', '-o', out, '-e', 'trace=execve', '-e', 'signal=none', '-p', String(h.sshdPid)], { stdio: 'ignore' });
      try {
        await sleep(500); // strace attaches
        const r = await run(fleet.sshArgv(h, command), { timeoutMs: 20_000 });
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toContain(status);
        await sleep(300);
      } finally {
        st.kill('SIGINT');
        await new Promise((r) => st.once('close', r));
      }
      const text = readFileSync(out, 'utf8');
      rmSync(join(out, '..'), { recursive: true, force: true });
      return [...text.matchAll(/execve\("([^"]+)".*= 0$/gm)].map((m) => m[1]!.split('/').pop()!).filter((p) => p !== 'sshd');
    };
    const [healthy, lossy] = [fleet.hosts[0]!, fleet.hosts[6]!]; // lost 0 and lost 42
    expect(await programsOf(healthy, 'sudo -n auditctl -s', 'backlog_limit 1000')).toEqual(['bash', 'sudo', 'auditctl']);
    const sample = buildBecomeCommand(buildFactsScript('loginN0nce123', { root: true }), fleet.userName, { enabled: true }).command;
    expect(await programsOf(healthy, sample, 'backlog_limit 1000')).toEqual(['bash', 'sudo', 'sh', 'auditctl']);
    // lost > 0: the probe's other two programs (the rule list and the log reader: journalctl
    // where it exists, as here), and nothing the fakes would start inside them
    expect(await programsOf(lossy, sample, 'backlog_limit 1006')).toEqual(['bash', 'sudo', 'sh', 'auditctl', 'auditctl', 'journalctl']);
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

  it('serves each host from its own sshd inside the namespace, reachable with fleet.exec()', async () => {
    expect(fleet.netns).toMatch(/^fm-/);
    expect(fleet.sshdPids).toHaveLength(3);
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

/**
 * The lean fact script on real OpenSSH test hosts, with a decoy of the machine's own audit setup
 * present (an operator's machine often has Debian's stock /etc/audit and a running auditd): every
 * fact comes from the test host, none from the machine, and one sample starts at most 3 programs.
 */
describe.skipIf(skip !== null)('sshd fleet harness: the lean probe never sees the machine’s own audit setup', () => {
  let fleet: SshdFleet;
  const created: string[] = [];
  let decoy: ChildProcess | undefined;
  const NONCE = 'decoyN0nce1234';

  /** Creates path (and missing parents, recorded) only if absent; returns whether it did. */
  const makeIfAbsent = (path: string, content: string | null): void => {
    const parts = path.split('/').filter(Boolean);
    for (let i = 1; i <= parts.length; i++) {
      const p = `/${parts.slice(0, i).join('/')}`;
      if (existsSync(p)) continue;
      if (i === parts.length && content !== null) writeFileSync(p, content);
      else mkdirSync(p);
      created.push(p);
    }
  };

  beforeAll(async () => {
    // the decoy: what the machine itself might have (only what is absent is created, and removed after)
    makeIfAbsent('/etc/audit/rules.d/audit.rules', '-D\n-b 4242\n--backlog_wait_time 1\n');
    makeIfAbsent('/etc/audit/auditd.conf', 'disk_full_action = HALT\n');
    makeIfAbsent('/etc/audit/audit.rules', '-b 4343\n');
    makeIfAbsent('/lib/systemd/system/auditd.service', '[Unit]\nRefuseManualStop=no\n');
    // a real process named auditd on the machine (its comm is the file name)
    const bin = join(tmpdir(), `fm-decoy-${process.pid}`);
    mkdirSync(bin, { recursive: true });
    copyFileSync('/usr/bin/sleep', join(bin, 'auditd'));
    decoy = spawn(join(bin, 'auditd'), ['600'], { stdio: 'ignore' });
    created.push(bin);
    fleet = await startSshdFleet({
      hosts: 2,
      state: ({ index }) => ({
        lost: index === 1 ? 5 : 0,
        auditd: { active: true, pid: 900 + index, refuseManualStop: true, stopped: index === 1 },
        stalledTasks: index === 1 ? 3 : 0,
        files: { '/etc/audit/rules.d/10-base.rules': `-b ${320 + index}\n` },
      }),
    });
  });
  afterAll(async () => {
    await fleet?.stop();
    if (decoy?.pid) process.kill(decoy.pid, 'SIGKILL');
    for (const p of created.reverse()) rmSync(p, { recursive: true, force: true });
  });

  /** A directory the test user may write its strace files to (removed after). */
  const traceDir = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'fm-strace-'));
    chmodSync(d, 0o777);
    created.push(d);
    return d;
  };
  const traced = (dir: string, script: string) => `strace -f -ff -qq -o ${dir}/t -e trace=execve,clone,clone3,fork,vfork -e signal=none sh -c ${shellQuote(script)}`;

  const sample = async (h: FleetHost, command: string) => {
    const r = await run(fleet.sshArgv(h, command), { timeoutMs: 30_000 });
    return { r, s: parseSample(splitSections(r.stdout, NONCE), 0) };
  };

  it('every fact is the test host’s own: rules, auditd.conf, unit, auditd process, /proc', async () => {
    expect(existsSync('/etc/audit/rules.d/audit.rules')).toBe(true);
    const { r, s } = await sample(fleet.hosts[0]!, buildFactsScript(NONCE, { root: false }));
    expect(r.code).toBe(0);
    expect(s.parse_errors).toEqual([]);
    expect(s.persistent.rules_backlog_limits).toEqual([
      { file: '/etc/audit/rules.d/10-base.rules', value: 320 },
      { file: '/etc/audit/rules.d/audit.rules', value: 8192 },
      { file: '/etc/audit/audit.rules', value: 8192 },
    ]);
    expect(s.persistent.auditd_conf.disk_full_action).toBe('SUSPEND');
    expect(s.auditd.processes).toEqual([{ pid: 900, state: 'S' }]);
    expect(s.auditd.init).toEqual({ system: 'systemd', refuse_manual_stop: true });
    expect(s.stalled_tasks?.count).toBe(0);
    expect(r.stdout).not.toContain(fleet.dir);
    expect(s.memory?.mem_total_kb).toBeGreaterThan(0);
    expect(s.system.boot_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('an incident host: stopped auditd, stalled tasks; one sample starts at most 3 programs (strace)', async () => {
    const h = fleet.hosts[1]!;
    const script = buildFactsScript(NONCE, { root: false });
    const dir = traceDir();
    const { r, s } = await sample(h, traced(dir, script));
    expect(r.code).toBe(0);
    expect(s.auditd.registered_pid_exists).toBe(false); // registered pid (state `pid`) differs from auditd's 901
    expect(s.auditd.processes).toEqual([{ pid: 901, state: 'T' }]);
    expect(s.stalled_tasks).toEqual({ count: 3, by_wchan: { audit_log_start: 3 }, comms: ['sshd', 'cron'] });
    expect(s.kernel_log.source).toBe('journalctl');
    expect(s.persistent.rule_count).toBe(0);
    const programs = directPrograms(dir);
    expect(programs.map((p) => p.split('/').pop())).toEqual(['auditctl', 'auditctl', 'journalctl']);
    expect(programs.length).toBeLessThanOrEqual(MAX_PROGRAMS_PER_SAMPLE);
  });

  it('a healthy host: one sample starts auditctl -s only', async () => {
    const script = buildFactsScript(NONCE, { root: false });
    const dir = traceDir();
    const { r } = await sample(fleet.hosts[0]!, traced(dir, script));
    expect(r.code).toBe(0);
    expect(directPrograms(dir).map((p) => p.split('/').pop())).toEqual(['auditctl']);
  });

  it('no become: the sweep never runs sudo; a refused auditctl -s is one clear "needs root" error per host', async () => {
    // sudo now wants a password: an unrequested sudo would fail every host with "sudo requires a password"
    await fleet.setSudo('password');
    await fleet.setState(fleet.hosts[0]!, { auditctlNeedsRoot: true });
    try {
      const res = await runCli(['sweep', '-i', fleet.inventoryPath, '--known-hosts', fleet.knownHostsPath, '--samples', '1', '--json', '-q', '--state-dir', join(fleet.dir, 'state-nb')]);
      const doc = JSON.parse(res.stdout) as { hosts: { host: string; status: string; error?: { code: string; message: string }; audit?: unknown }[] };
      const byName = new Map(doc.hosts.map((h) => [h.host, h]));
      const refused = byName.get(fleet.hosts[0]!.name)!;
      expect(refused.status).toBe('failed');
      expect(refused.error?.code).toBe('E_BECOME');
      expect(refused.error?.message).toMatch(/^needs root: set become \(-b\) or log in as root/);
      expect(refused.error?.message).not.toMatch(/sudo/);
      const allowed = byName.get(fleet.hosts[1]!.name)!;
      expect(allowed.status, JSON.stringify(allowed.error)).toBe('ok');
      expect(allowed.audit).toBeDefined();
    } finally {
      await fleet.setSudo('nopasswd');
      await fleet.setState(fleet.hosts[0]!, { auditctlNeedsRoot: false });
    }
  });

  it('a hanging kernel-log reader: the sweep keeps auditctl -s facts and names the section', async () => {
    const h = fleet.hosts[1]!;
    await fleet.setState(h, { kernelLogHangs: true });
    const res = await runCli(['sweep', '-i', fleet.inventoryPath, '--known-hosts', fleet.knownHostsPath, '-l', h.name, '--samples', '1', '--json', '-q', '--command-timeout', '4', '--state-dir', join(fleet.dir, 'state')]);
    const doc = JSON.parse(res.stdout) as { hosts: { host: string; status: string; error?: { code: string; message: string }; audit?: { lost: number }; diagnosis?: { findings: { code: string }[] } }[] };
    const host = doc.hosts[0]!;
    expect(host.status).toBe('failed');
    expect(host.error?.code).toBe('E_CMD_TIMEOUT');
    expect(host.error?.message).toMatch(/section kernel_journal did not finish/);
    expect(host.audit?.lost).toBe(5);
    expect(host.diagnosis?.findings.map((f) => f.code)).toContain('tasks-stalled');
  });
});

/**
 * Programs the traced shell started itself (`strace -f -ff -o DIR/t sh -c SCRIPT`, one file per
 * pid): the first program each child of that shell executed. What a fake tool runs inside
 * itself is the harness's cost, not the probe's.
 */
function directPrograms(dir: string): string[] {
  const files = readdirSync(dir).filter((f) => /^t\.\d+$/.test(f));
  const text = new Map(files.map((f) => [f.slice(2), readFileSync(join(dir, f), 'utf8')]));
  const root = [...text].find(([, t]) => /^execve\("[^"]*\/sh", \["sh", "-c"/m.test(t))?.[0];
  const children = [...(text.get(root ?? '') ?? '').matchAll(/^(?:clone3?|v?fork)\(.*=\s+(\d+)$/gm)].map((m) => m[1] as string);
  return children.flatMap((pid) => {
    const m = /^execve\("([^"]+)".*=\s+0$/m.exec(text.get(pid) ?? '');
    return m?.[1] ? [m[1]] : [];
  });
}
