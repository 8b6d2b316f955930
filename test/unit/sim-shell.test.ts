import { describe, expect, it } from 'vitest';
import { BufferOutput, FakeClock, Shell, SimMachine, StringInput, debianSpec, defaultRegistry, rhelSpec, type MachineSpec } from '../../src/sim/index.js';
import { Rng } from '../../src/sim/rng.js';

const registry = defaultRegistry();

async function sh(script: string, opts: { spec?: Partial<MachineSpec>; rhel?: boolean; stdin?: string; uid?: number; machine?: SimMachine } = {}) {
  const base = opts.rhel ? rhelSpec('h', new Rng(2), { downtimeMs: 1000 }) : debianSpec('h', new Rng(2), { downtimeMs: 1000 });
  const m = opts.machine ?? new SimMachine({ ...base, ...opts.spec }, new FakeClock(), 's');
  const out = new BufferOutput();
  const err = new BufferOutput();
  const uid = opts.uid ?? m.loginUid;
  const code = await new Shell(m, registry).run(script, { stdin: new StringInput(opts.stdin ?? ''), stdout: out, stderr: err, uid, user: uid === 0 ? 'root' : m.spec.user });
  return { out: out.text(), err: err.text(), code, m };
}

describe('simulated /bin/sh', () => {
  it('pipes, &&, ||, $? and exit status of the last pipeline element', async () => {
    expect(await sh('printf "a\\nb\\nc\\n" | tail -n 2 | head -n 1')).toMatchObject({ out: 'b\n', code: 0 });
    expect(await sh('false && echo no || echo yes')).toMatchObject({ out: 'yes\n', code: 0 });
    expect(await sh('grep -q x /etc/hostname; echo "rc=$?"')).toMatchObject({ out: 'rc=1\n' });
    expect(await sh('true | false')).toMatchObject({ code: 1 });
    expect(await sh('! false')).toMatchObject({ code: 0 });
  });

  it('quoting, variables, export and command substitution', async () => {
    expect((await sh(`A='x  y'; B="$A z"; echo "$B" '$A' $A`)).out).toBe('x  y z $A x y\n');
    expect((await sh('LC_ALL=C\nexport LC_ALL\nsh -c \'echo $LC_ALL\'')).out).toBe('C\n');
    expect((await sh('echo "pid=$(pidof auditd)"')).out).toMatch(/^pid=\d+\n$/);
    expect((await sh('echo a\\ b "c\\"d"')).out).toBe('a b c"d\n');
  });

  it('redirections: 2>&1, 2>/dev/null, > file, >> file', async () => {
    expect(await sh('cat /nope 2>&1')).toMatchObject({ out: 'cat: /nope: No such file or directory\n', err: '', code: 1 });
    expect(await sh('cat /nope 2>/dev/null')).toMatchObject({ out: '', err: '', code: 1 });
    const r = await sh('echo one > /tmp/f; echo two >> /tmp/f; cat /tmp/f; echo hidden >/dev/null');
    expect(r.out).toBe('one\ntwo\n');
    expect(await sh('echo x > /etc/audit/rules.d/x.rules', { uid: 1000 })).toMatchObject({ code: 2, err: 'sh: 1: cannot create /etc/audit/rules.d/x.rules: Permission denied\n' });
  });

  it('globs in the last path component, sorted; unmatched globs stay literal', async () => {
    const r = await sh('grep -H -e -b /etc/audit/rules.d/*.rules /etc/audit/audit.rules 2>/dev/null', { spec: { rulesD: { '10-base.rules': '-b 100\n', '20-x.rules': '-b 200\n' } } });
    expect(r.out).toBe('/etc/audit/rules.d/10-base.rules:-b 100\n/etc/audit/rules.d/20-x.rules:-b 200\n/etc/audit/audit.rules:-b 100\n/etc/audit/audit.rules:-b 200\n');
    expect(await sh('cat /etc/none/*.rules')).toMatchObject({ err: 'cat: /etc/none/*.rules: No such file or directory\n', code: 1 });
    expect((await sh("echo '/etc/*'")).out).toBe('/etc/*\n');
  });

  it('unknown commands exit 127; parse errors exit 2 without throwing', async () => {
    expect(await sh('frobnicate --now')).toMatchObject({ err: 'sh: 1: frobnicate: not found\n', code: 127 });
    expect(await sh('echo ok\n/opt/x')).toMatchObject({ err: 'sh: 2: /opt/x: not found\n', code: 127 });
    expect((await sh('echo "open')).code).toBe(2);
    expect((await sh('echo a &&')).code).toBe(2);
    expect((await sh('| cat')).code).toBe(2);
    expect((await sh('auditctl -s', { spec: { auditctl: 'missing' } }))).toMatchObject({ err: 'sh: 1: auditctl: not found\n', code: 127 });
  });

  it('test/[ and command -v', async () => {
    expect((await sh('[ -f /etc/os-release ] && echo f; [ -d /etc ] && echo d; test 3 -gt 2 && echo gt')).out).toBe('f\nd\ngt\n');
    expect((await sh('command -v auditctl; command -v nope; echo $?')).out).toBe('/usr/sbin/auditctl\n1\n');
  });

  it('sudo: password on stdin (-S), wrong password, -n without NOPASSWD, NOPASSWD', async () => {
    const spec = { user: 'ops', sudo: { password: 's3cret', nopasswd: false } };
    expect(await sh("sudo -S -p '' auditctl -s | head -n 1", { spec, stdin: 's3cret\n' })).toMatchObject({ out: 'enabled 1\n', code: 0 });
    expect(await sh("sudo -S -p '' id -u", { spec, stdin: 'wrong\n' })).toMatchObject({ out: '', err: 'sudo: 1 incorrect password attempt\n', code: 1 });
    expect(await sh('sudo -n id -u', { spec })).toMatchObject({ err: 'sudo: a password is required\n', code: 1 });
    expect(await sh('sudo -n id -u', { spec: { user: 'ops', sudo: { password: '', nopasswd: true } } })).toMatchObject({ out: '0\n', code: 0 });
    // The rest of stdin goes to the command.
    expect((await sh("sudo -S -p '' sh", { spec, stdin: 's3cret\necho from-stdin; id -u\n' })).out).toBe('from-stdin\n0\n');
    expect((await sh("echo '-b 9000' | sudo -S -p '' tee /etc/audit/rules.d/50-b.rules >/dev/null; sudo -S -p '' cat /etc/audit/rules.d/50-b.rules", { spec, stdin: 's3cret\n' })).code).toBe(1);
  });

  it('non-root auditctl: "You must be root", exit 4', async () => {
    expect(await sh('auditctl -s', { spec: { user: 'ops' } })).toMatchObject({ err: 'You must be root to run this program.\n', code: 4 });
  });
});

describe('commands against the model', () => {
  it('auditctl -s formats: v3, -i, v2, v1 one-line', async () => {
    const v3 = await sh('auditctl -s');
    expect(v3.out).toMatch(/^enabled 1\nfailure 1\npid \d+\nrate_limit 0\nbacklog_limit 8192\nlost 0\nbacklog 0\nbacklog_wait_time 60000\nbacklog_wait_time_actual 0\nloginuid_immutable 0 unlocked\n$/);
    expect((await sh('auditctl -s -i')).out).toMatch(/^enabled enabled\nfailure printk\n/);
    expect((await sh('auditctl -s', { spec: { auditctl: 'v2' } })).out).not.toContain('backlog_wait_time_actual');
    expect((await sh('auditctl -s', { spec: { auditctl: 'v1', rulesD: { 'a.rules': '-b 320\n' } } })).out).toMatch(/^AUDIT_STATUS: enabled=1 flag=1 pid=\d+ rate_limit=0 backlog_limit=320 lost=0 backlog=0\n$/);
  });

  it('auditctl sets print the status without loginuid_immutable; rules and -D', async () => {
    const r = await sh('auditctl -b 64; auditctl -w /tmp/noise -p rwxa -k noise && auditctl -l; auditctl -a exit,always -F arch=b64 -S openat -k noise; auditctl -l; auditctl -D');
    expect(r.out).toContain('backlog_limit 64\nlost 0\nbacklog 0\nbacklog_wait_time 60000\nbacklog_wait_time_actual 0\n-w /tmp/noise');
    expect(r.out).toContain('-w /tmp/noise -p rwxa -k noise\n-a always,exit -F arch=b64 -S openat -F key=noise\nNo rules\n');
  });

  it('locked host: fixture errors and exit codes', async () => {
    const spec = { rulesD: { 'audit.rules': '-b 8192\n', '99-finalize.rules': '-e 2\n' } };
    const { m } = await sh('true', { spec });
    for (const [cmd, msg] of [
      ['auditctl -b 100', 'Error sending backlog limit request (Operation not permitted)\n'],
      ['auditctl -f 0', 'Error sending failure mode request (Operation not permitted)\n'],
      ['auditctl -e 1', 'Error sending enable request (Operation not permitted)\n'],
      ['auditctl --backlog_wait_time 0', 'Error sending backlog limit request (Operation not permitted)\n'],
    ] as const) {
      expect(await sh(cmd, { machine: m })).toMatchObject({ err: msg, code: 255, out: '' });
    }
    expect(await sh('auditctl -w /tmp/x -p w', { machine: m })).toMatchObject({ err: 'The audit system is in immutable mode, no rule changes allowed\n', code: 0 });
  });

  it('systemctl/service: Debian stops; RHEL refuses systemctl stop (rc 4) but service stop works', async () => {
    const deb = await sh('systemctl show auditd -p RefuseManualStop -p ActiveState; systemctl stop auditd; systemctl is-active auditd; echo $?; auditctl -s | grep ^pid');
    expect(deb.out).toBe('ActiveState=active\nRefuseManualStop=no\ninactive\n3\npid 0\n');
    const rhel = await sh('systemctl stop auditd; echo rc=$?; service auditd stop; systemctl is-active auditd', { rhel: true, uid: 0 });
    expect(rhel.err).toBe(
      "Failed to stop auditd.service: Operation refused, unit auditd.service may be requested by dependency only (it is configured to refuse manual start/stop).\nSee system logs and 'systemctl status auditd.service' for details.\n",
    );
    expect(rhel.out).toBe('rc=4\nStopping logging:                                          [  OK  ]\ninactive\n');
    expect((await sh('auditctl --signal stop; auditctl --signal TERM; ps -C auditd -o pid=,stat=; echo $?', { uid: 0 })).out).toBe('1\n');
  });

  it('kill -STOP makes auditd stuck (ps T), the queue grows; kill -CONT resumes', async () => {
    const r = await sh('kill -STOP $(pidof auditd); ps -o pid,stat,cmd -C auditd');
    expect(r.out).toMatch(/^    PID STAT CMD\n\s+\d+ T<sl \/sbin\/auditd\n$/);
    expect(r.m.kernel.auditd.state).toBe('stuck');
    expect((await sh('kill -CONT $(pidof auditd); ps -C auditd -o pid=,stat=', { machine: r.m })).out).toMatch(/^\s+\d+ S<sl\n$/);
  });

  it('augenrules uses C/version order: a 60-*.rules -b is overridden by audit.rules (real trap)', async () => {
    const r = await sh("echo '-b 16384' > /etc/audit/rules.d/60-b.rules; augenrules --load >/dev/null; auditctl -s | grep ^backlog_limit");
    expect(r.out).toBe('backlog_limit 8192\n');
  });

  it('augenrules --load applies a persisted -b; restart keeps it', async () => {
    const r = await sh("echo '-b 16384' > /etc/audit/rules.d/zz-fleetmend.rules; augenrules --load >/dev/null; auditctl -s | grep ^backlog_limit; systemctl restart auditd; auditctl -s | grep ^backlog_limit");
    expect(r.out).toBe('backlog_limit 16384\nbacklog_limit 16384\n');
  });

  it('dmesg and journalctl as non-root; /var/log/messages root-only on RHEL', async () => {
    expect(await sh('dmesg', { uid: 1000, spec: { user: 'ops' } })).toMatchObject({ err: 'dmesg: read kernel buffer failed: Operation not permitted\n', code: 1 });
    expect(await sh('grep -hF audit /var/log/messages', { rhel: true, uid: 1000 })).toMatchObject({ err: 'grep: /var/log/messages: Permission denied\n', code: 2 });
    expect((await sh("grep -hF 'kernel: audit' /var/log/messages /var/log/kern.log 2>/dev/null | tail -n 1", { rhel: true, uid: 0 })).out).toMatch(/^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d h kernel: audit: /);
  });

  it('shutdown -r +N schedules, -c cancels', async () => {
    const r = await sh('shutdown -r +5 "fleetmend reboot"; shutdown -c', { uid: 0 });
    expect(r.err).toMatch(/^Reboot scheduled for \w{3} \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, use 'shutdown -c' to cancel.\n$/);
    expect(r.m.kernel.scheduledRebootAt()).toBeNull();
  });
});
