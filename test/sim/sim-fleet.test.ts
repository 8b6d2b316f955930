import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import ssh2 from 'ssh2';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFactsScript, splitSections, SECTION_NAMES, MAX_PROGRAMS_PER_SAMPLE } from '../../src/facts/script.js';
import { programLog } from '../../src/sim/shell.js';
import { startFleet, type Fleet, type SimHost } from '../../src/sim/index.js';

interface Exec {
  stdout: string;
  stderr: string;
  code: number | null;
}

/** Connects with the fleet's key, verifying the host key against the written known_hosts. */
function connect(fleet: Fleet, host: SimHost, opts: { username?: string; timeoutMs?: number } = {}): Promise<ssh2.Client> {
  const known = readFileSync(fleet.knownHostsPath, 'utf8').split('\n');
  const line = known.find((l) => l.startsWith(`[${host.address}]:${host.port} `));
  const expected = line ? Buffer.from(line.split(' ')[2] ?? '', 'base64') : null;
  return new Promise((resolve, reject) => {
    const c = new ssh2.Client();
    c.on('ready', () => resolve(c));
    c.on('error', reject);
    c.connect({
      host: host.address,
      port: host.port,
      username: opts.username ?? host.machine.spec.user,
      privateKey: readFileSync(fleet.clientKeyPath),
      readyTimeout: opts.timeoutMs ?? 10_000,
      hostVerifier: (key: Buffer) => expected !== null && key.equals(expected),
    });
  });
}

function run(c: ssh2.Client, command: string, stdin?: string): Promise<Exec> {
  return new Promise((resolve, reject) => {
    c.exec(command, (err, ch) => {
      if (err) return reject(err);
      let stdout = '';
      let stderr = '';
      let code: number | null = null;
      ch.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
      ch.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
      ch.on('exit', (c2: number | null) => (code = c2));
      ch.on('close', () => resolve({ stdout, stderr, code }));
      if (stdin !== undefined) ch.end(stdin);
      else ch.end();
    });
  });
}

describe('simulated fleet over real SSH (incident scenario)', () => {
  let fleet: Fleet;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'fleetmend-sim-'));
    fleet = await startFleet({ dir, scenario: 'incident', loginDelayScale: 0.01, downtimeMs: 500 });
  });
  afterAll(async () => {
    await fleet?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes an inventory, known_hosts and a 0600 client key that match the hosts', () => {
    expect(fleet.hosts.length).toBe(20);
    const inv = parse(readFileSync(fleet.inventoryPath, 'utf8')) as { all: { hosts: Record<string, Record<string, unknown>>; children: Record<string, { hosts: Record<string, null> }> } };
    const incident = fleet.host('app-03');
    expect(inv.all.hosts['app-03']).toMatchObject({ ansible_host: incident.address, ansible_port: incident.port, ansible_user: 'root', ansible_ssh_private_key_file: fleet.clientKeyPath });
    expect(Object.keys(inv.all.children.debian?.hosts ?? {})).toContain('app-03');
    expect(Object.keys(inv.all.children.rhel?.hosts ?? {}).length).toBeGreaterThan(0);
    expect(statSync(fleet.clientKeyPath).mode & 0o777).toBe(0o600);
    const line = readFileSync(fleet.knownHostsPath, 'utf8').split('\n').find((l) => l.startsWith(`[127.0.0.1]:${incident.port} ssh-ed25519 `));
    expect(line).toBeDefined();
    const fp = 'SHA256:' + createHash('sha256').update(Buffer.from(line?.split(' ')[2] ?? '', 'base64')).digest('base64').replace(/=+$/, '');
    expect(fp).toBe(incident.hostKeyFingerprint);
    // Every host has its own key.
    expect(new Set(fleet.hosts.map((h) => h.hostKeyFingerprint)).size).toBe(fleet.hosts.length);
  });

  it('runs the full fact script on the incident host and every section matches the model', async () => {
    const host = fleet.host('app-03');
    const c = await connect(fleet, host);
    try {
      const nonce = 'abcDEF123456';
      const before = programLog(host.machine).names.length;
      const res = await run(c, buildFactsScript(nonce, { root: true }));
      expect(res.code).toBe(0);
      // one sample over real SSH: auditctl -s, and (lost > 0) auditctl -l and the journal
      // (kernel + auditd lines; dmesg only without journalctl); nothing else
      const started = programLog(host.machine).names.slice(before);
      expect(started).toEqual(['auditctl', 'auditctl', 'journalctl']);
      expect(started.length).toBeLessThanOrEqual(MAX_PROGRAMS_PER_SAMPLE);
      const sections = splitSections(res.stdout, nonce);
      for (const name of SECTION_NAMES.filter((n) => n !== 'skipped' && n !== 'kernel_dmesg')) expect(sections[name], name).toBeDefined();
      const st = host.model.status();
      const auditctl = sections.auditctl_s?.text ?? '';
      // Debian's default wait (the real incident): backlog reads anywhere up to limit+1 (kauditd
      // empties the main queue every pass) and tasks have waited
      expect(auditctl).toMatch(/^enabled 1\nfailure 1\npid \d+\nrate_limit 0\nbacklog_limit 8192\nlost \d+\nbacklog \d+\nbacklog_wait_time 60000\nbacklog_wait_time_actual [1-9]\d*\nloginuid_immutable 0 unlocked$/);
      expect(Number(/backlog (\d+)/.exec(auditctl)?.[1])).toBeLessThanOrEqual(8193 + 2);
      expect(Number(/pid (\d+)/.exec(auditctl)?.[1])).toBe(st.pid);
      const lost = Number(/lost (\d+)/.exec(auditctl)?.[1]);
      expect(lost).toBeGreaterThan(4_000_000);
      expect(lost).toBeLessThanOrEqual(host.model.lost);
      expect(sections.auditctl_s?.rc).toBe(0);
      expect(sections.procs?.text).toMatch(new RegExp(`^auditd wchan=do_signal_stop stat=${st.pid} \\(auditd\\) T `, 'm'));
      expect(sections.procs?.text).toMatch(/^init comm=systemd$/m);
      expect(sections.auditd_unit?.text).toBe('/lib/systemd/system/auditd.service:RefuseManualStop=no');
      const journal = sections.kernel_journal?.text ?? '';
      // With the default wait the printk budget goes to the records kauditd could not deliver
      // (T27): `audit: type=...` lines and `kauditd_printk_skb: N callbacks suppressed`.
      expect(journal).toMatch(/^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d app-03 kernel: audit: type=1300 audit\(/m);
      expect(journal).toMatch(/^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d app-03 kernel: kauditd_printk_skb: \d+ callbacks suppressed$/m);
      expect(journal).not.toMatch(/hold queue overflow/);
      expect(sections.meminfo?.text).toMatch(/^MemTotal:\s+4013000 kB$/m);
      // only lines starting with -b (the parser keeps `-b N`)
      expect(sections.rules_b?.text).toBe('/etc/audit/rules.d/audit.rules:-b 8192\n/etc/audit/audit.rules:-b 8192');
      expect(sections.cmdline?.text).toContain('root=/dev/vda1');
      expect(sections.auditd_conf?.text).toContain('disk_full_action = SUSPEND');
      expect(sections.uname_r?.text).toBe('6.1.0-50-amd64');
      expect(sections.kernel_hz).toEqual({ text: 'CONFIG_HZ=250', rc: 0 });
      expect(sections.os_release?.text).toContain('ID=debian');
      expect(sections.boot_id?.text).toBe(host.model.bootId);
      expect(sections.uptime?.text).toMatch(/^\d+\.\d\d \d+\.\d\d$/);
    } finally {
      c.end();
    }
  });

  it('delivers stdin, stderr and exit codes; unknown commands exit 127', async () => {
    const host = fleet.host('web-01');
    const c = await connect(fleet, host);
    try {
      expect(await run(c, 'cat', 'hello\nworld\n')).toEqual({ stdout: 'hello\nworld\n', stderr: '', code: 0 });
      expect(await run(c, 'nosuchcmd')).toEqual({ stdout: '', stderr: 'sh: 1: nosuchcmd: not found\n', code: 127 });
      expect(await run(c, 'false || echo $?')).toEqual({ stdout: '1\n', stderr: '', code: 0 });
      expect(await run(c, "echo 'unterminated")).toMatchObject({ code: 2 });
    } finally {
      c.end();
    }
  });

  it('locked host refuses -b with the exact error and exit 255', async () => {
    const host = fleet.host('mon-01');
    const c = await connect(fleet, host);
    try {
      const res = await run(c, 'auditctl -b 100');
      expect(res).toEqual({ stdout: '', stderr: 'Error sending backlog limit request (Operation not permitted)\n', code: 255 });
      expect(host.model.status().enabled).toBe(2);
    } finally {
      c.end();
    }
  });

  it('the down host refuses connections', async () => {
    await expect(connect(fleet, fleet.host('mon-02'), { timeoutMs: 3000 })).rejects.toThrow(/ECONNREFUSED/);
  });

  it('restarting auditd on the incident host drains the queue and assigns a new pid', async () => {
    const host = fleet.host('app-03');
    const c = await connect(fleet, host);
    try {
      const before = host.model.status();
      expect((await run(c, 'systemctl restart auditd')).code).toBe(0);
      await new Promise((r) => setTimeout(r, 2200));
      const after = (await run(c, 'auditctl -s')).stdout;
      // 20 000 rec/s in flight with a reading daemon: a few dozen queued at any moment
      expect(after).toMatch(/^backlog [0-9]{1,2}$/m);
      expect(after).not.toMatch(new RegExp(`^pid ${before.pid}$`, 'm'));
      expect((await run(c, 'ps -C auditd -o pid=,stat=')).stdout).toMatch(/^\s+\d+ S<sl\n$/);
    } finally {
      c.end();
    }
  });

  it('-f 2 on a host losing records panics it: connection cut, back with a new boot_id', async () => {
    const host = fleet.host('web-02');
    const bootBefore = host.model.bootId;
    host.model.eventRate = 2000;
    // as in the reproduction (T19: kernel.panic=1); Debian's default 0 would hang the host
    host.model.kernelPanic = 1;
    host.model.signalAuditd('STOP');
    host.model.setSetting('backlogWaitTime', 0);
    host.model.setSetting('backlogLimit', 64);
    await new Promise((r) => setTimeout(r, 100));
    expect(host.model.isLosing()).toBe(true);
    const c = await connect(fleet, host);
    const closed = new Promise<void>((resolve) => c.on('close', () => resolve()));
    c.exec('auditctl -f 2', () => undefined);
    await closed;
    expect(host.model.power).toBe('down');
    await expect(connect(fleet, host, { timeoutMs: 2000 })).rejects.toThrow(/ECONNREFUSED/);
    await new Promise((r) => setTimeout(r, 900));
    const c2 = await connect(fleet, host);
    try {
      const id = (await run(c2, 'cat /proc/sys/kernel/random/boot_id')).stdout.trim();
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(id).not.toBe(bootBefore);
      const st = (await run(c2, 'auditctl -s')).stdout;
      expect(st).toMatch(/^lost 0$/m);
      expect(st).toMatch(/^backlog_limit 8192$/m);
      expect(st).toMatch(/^failure 1$/m);
      expect(host.model.console.join('\n')).toContain('Kernel panic - not syncing: audit: backlog limit exceeded');
    } finally {
      c2.end();
    }
  });
});
