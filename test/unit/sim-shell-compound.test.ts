/**
 * The simulator shell's builtin subset that the lean fact script needs (read, while, for, if,
 * case, globs with [..], redirection from files), checked against what dash does, and the
 * per-machine program counter: one sample of the fact script starts at most 3 programs.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildFactsScript, JOURNAL_MATCH, MAX_PROGRAMS_PER_SAMPLE, parseSample, splitSections } from '../../src/facts/index.js';
import { diagnose } from '../../src/diagnosis/index.js';
import { BufferOutput, FakeClock, Shell, SimMachine, StringInput, debianSpec, defaultRegistry, rhelSpec, type MachineSpec } from '../../src/sim/index.js';
import { programLog } from '../../src/sim/shell.js';
import { Rng } from '../../src/sim/rng.js';
import { DEBIAN_RULES } from '../../src/sim/machine.js';
import { slowPluginSpec } from '../../src/sim/scenarios.js';

const registry = defaultRegistry();

function machine(spec: Partial<MachineSpec> = {}, rhel = false, clock = new FakeClock()): SimMachine {
  const base = rhel ? rhelSpec('h', new Rng(2), { downtimeMs: 1000 }) : debianSpec('h', new Rng(2), { downtimeMs: 1000 });
  return new SimMachine({ ...base, ...spec }, clock, 's');
}

/** A stuck auditd at -b 128 with a steady load: after a few kauditd passes tasks sleep on the queue (T04). */
function stalledMachine(): SimMachine {
  const clock = new FakeClock();
  const m = machine({ auditd: 'stuck', eventRate: 300, lost: 10, rulesD: { 'audit.rules': DEBIAN_RULES.replace('-b 8192', '-b 128') } }, false, clock);
  clock.advance(5000);
  return m;
}

async function sh(script: string, m: SimMachine = machine(), uid = 0) {
  const out = new BufferOutput();
  const err = new BufferOutput();
  const code = await new Shell(m, registry).run(script, { stdin: new StringInput(''), stdout: out, stderr: err, uid, user: uid === 0 ? 'root' : m.spec.user });
  return { out: out.text(), err: err.text(), code };
}

const dash = existsSync('/usr/bin/dash') ? '/usr/bin/dash' : null;

/** The same script under the real dash, for scripts that only touch /tmp files they create. */
function realDash(script: string): string {
  return execFileSync(dash as string, ['-c', script], { encoding: 'utf8' });
}

const SAMPLES = [
  `printf 'a b  c\\nlast' > /tmp/fm-sim-r; while read -r x y; do echo "[$x|$y]"; done < /tmp/fm-sim-r; echo "rc=$?"`,
  `printf 'a b  c\\nlast' > /tmp/fm-sim-r; while IFS= read -r l || [ -n "$l" ]; do echo "<$l>"; done < /tmp/fm-sim-r`,
  `printf '  lead  \\n' > /tmp/fm-sim-r; read -r v < /tmp/fm-sim-r; echo "<$v>"; IFS= read -r w < /tmp/fm-sim-r; echo "<$w>"`,
  `for i in a b c; do case $i in b) echo "B:$i";; a|c) echo "AC:$i";; esac; done`,
  `s='enabled 1\nlost 0\nbacklog 3'; case $s in *"lost 0"*) echo zero;; *lost*) echo some;; *) echo none;; esac`,
  `s='lost 12'; case $s in *"lost 0"*|*"lost=0"*) echo zero;; *lost*) echo some;; esac`,
  `case -b8192 in -b*) echo yes;; esac; case "x*" in x\\*) echo lit;; esac; case "xy" in "x*") echo no;; *) echo q;; esac`,
  `if [ -r /tmp/nope-fm ]; then echo r; elif true; then echo elif; else echo e; fi; if false; then :; else echo else; fi`,
  `for f in a b c; do if [ $f = b ]; then break; fi; echo $f; done; echo after`,
  `x=$(false); echo "rc=$?"; y=$(echo hi); echo "rc=$? $y"; z=1; echo "rc=$?"`,
  `for d in /nonexistent-fm/[0-9]*; do echo "$d"; done`,
  `set -f; s='pid 12
lost 0 *
backlog_wait_time_actual 3'; k=; for w in $s; do case $k in pid) p=$w;; lost) l=$w;; esac; k=$w; echo "<$w>"; done; set +f; echo "$p $l"`,
  `if [ "" -le 5 ]; then echo y; else echo n; fi 2>/dev/null; [ x -gt 1 ] 2>/dev/null; echo "rc=$?"; [ 3 -le 5 ] && echo le`,
];

describe('simulated /bin/sh: the compound subset agrees with dash', () => {
  it.each(SAMPLES)('%s', async (script) => {
    const sim = await sh(script);
    expect(sim.err).toBe('');
    if (dash) expect(sim.out).toBe(realDash(script));
  });

  it('globs with bracket expressions over /proc, and reads files without a trailing newline', async () => {
    const m = machine();
    const r = await sh('for d in /proc/[0-9]*; do read -r c < "$d/comm"; read -r w < "$d/wchan"; echo "$d $c $w"; done', m);
    expect(r.out).toContain(`/proc/${m.kernel.auditd.pid} auditd ep_poll`);
    expect(r.out).toContain('/proc/1 systemd ep_poll');
    expect(r.out).not.toContain('/proc/sys');
  });

  it('a syntax error in a compound command exits 2 like dash', async () => {
    expect((await sh('for x in a; echo x; done')).code).toBe(2);
    expect((await sh('case a in a) echo x')).code).toBe(2);
    expect((await sh('if true; then echo x')).code).toBe(2);
  });
});

async function sample(m: SimMachine, root: boolean) {
  const nonce = 'abcdef123456';
  const before = programLog(m).count;
  const names = programLog(m).names.length;
  const r = await sh(buildFactsScript(nonce, { root }), m, root ? 0 : 1000);
  return { r, started: programLog(m).count - before, names: programLog(m).names.slice(names), sections: splitSections(r.out, nonce) };
}

describe('the fact script on a simulated host', () => {
  it('starts only auditctl -s on a healthy host and still yields every fact', async () => {
    const m = machine();
    const { started, names, sections, r } = await sample(m, true);
    expect(r.err).toBe('');
    expect(names).toEqual(['auditctl']);
    expect(started).toBe(1);
    const s = parseSample(sections, 0);
    expect(s.parse_errors).toEqual([]);
    expect(s.auditctl.kind).toBe('ok');
    expect(s.auditd.registered_pid_exists).toBe(true);
    expect(s.auditd.registered_pid_state).toBe('S');
    expect(s.auditd.init).toEqual({ system: 'systemd', refuse_manual_stop: false });
    expect(s.persistent.effective_backlog_limit).toBe(8192);
    expect(s.persistent.auditd_conf.disk_full_action).toBe('SUSPEND');
    expect(s.system.distribution?.id).toBe('debian');
    expect(s.system.kernel_release).toBe(m.kernel.kernelRelease);
    expect(s.stalled_tasks).toEqual({ count: 0, by_wchan: {}, comms: [], scan_skipped: 'lost 0, backlog_wait_time_actual 0, backlog 0 <= limit 8192: no task can be asleep on the queue' });
    expect(s.kernel_log.source).toBe('none');
  });

  it('reads /proc of the registered auditd alone and no kernel config while the kernel rules a stall out, every process and CONFIG_HZ once it does not', async () => {
    const procDirsRead = async (m: SimMachine) => {
      const dirs = new Set<string>();
      const boot: string[] = [];
      const read = m.fs.read.bind(m.fs);
      m.fs.read = (path: string, asRoot: boolean) => {
        const d = /^\/proc\/(\d+)\//.exec(path);
        if (d) dirs.add(d[1] as string);
        if (path.startsWith('/boot/')) boot.push(path);
        return read(path, asRoot);
      };
      const { sections } = await sample(m, true);
      return { dirs, boot, s: parseSample(sections, 0) };
    };
    const healthy = machine();
    const h = await procDirsRead(healthy);
    expect([...h.dirs].sort()).toEqual([String(healthy.kernel.auditd.pid), '1'].sort());
    expect(h.s.auditd.registered_pid_state).toBe('S');
    expect(h.boot).toEqual([]);
    expect(h.s.system.kernel_hz).toBeUndefined();
    // One record lost since boot: the host passes over every process (the stall scan).
    const lossy = machine({ lost: 1 });
    const l = await procDirsRead(lossy);
    const all = (await sh('for d in /proc/[0-9]*; do echo "$d"; done', lossy)).out.split('\n').filter(Boolean).map((d) => d.slice('/proc/'.length));
    expect(all.length).toBeGreaterThan(2);
    expect([...l.dirs].sort()).toEqual(all.sort());
    expect(l.s.stalled_tasks?.scan_skipped).toBeUndefined();
    expect(l.s.stalled_tasks?.count).toBe(0);
    expect(l.boot).toEqual([`/boot/config-${lossy.kernel.kernelRelease}`]);
    expect(l.s.system.kernel_hz).toBeGreaterThan(0);
  });

  it('RHEL: the unit file says RefuseManualStop=yes', async () => {
    const s = parseSample((await sample(machine({}, true), true)).sections, 0);
    expect(s.auditd.init.refuse_manual_stop).toBe(true);
  });

  it(`a stalled incident host: at most ${MAX_PROGRAMS_PER_SAMPLE} programs, stalled tasks counted, tasks-stalled finding`, async () => {
    const m = stalledMachine();
    m.kernel.sync();
    expect(m.kernel.isStalled()).toBe(true);
    const { started, names, sections } = await sample(m, true);
    expect(started).toBeLessThanOrEqual(MAX_PROGRAMS_PER_SAMPLE);
    expect(names).toEqual(['auditctl', 'auditctl', 'journalctl']);
    const s = parseSample(sections, 0);
    expect(s.parse_errors).toEqual([]);
    expect(s.stalled_tasks?.count).toBe(m.kernel.blockedTasks());
    expect(m.kernel.blockedTasks()).toBeGreaterThan(0);
    expect(s.auditd.registered_pid_state).toBe('T');
    expect(s.auditd.registered_pid_wchan).toBe('do_signal_stop');
    const f = diagnose({ samples: [s] }).findings.find((x) => x.code === 'tasks-stalled');
    expect(f?.evidence.stalled_tasks).toBe(m.kernel.blockedTasks());
    expect(f?.message).toMatch(/every new process start, SSH login and sudo/);
    expect(s.kernel_log.source).toBe('journalctl');
    expect(s.persistent.rule_count).toBe(0);
  });

  it('as a non-root login the kernel log would come from journalctl; refused auditctl -s starts nothing more', async () => {
    const m = stalledMachine();
    expect(buildFactsScript('abcdef123456', { root: false })).toContain(`journalctl -b -q --no-pager -n 1000 ${JOURNAL_MATCH}`);
    const { names, sections } = await sample(m, false);
    expect(names).toEqual(['auditctl']);
    const s = parseSample(sections, 0);
    expect(s.auditctl.kind).toBe('not-permitted');
    expect(s.parse_errors.map((e) => e.section)).not.toContain('auditctl_l');
  });
});

describe('the fact script on a host whose audit plugin is slow (auditd alive but slow)', () => {
  it(`≤ ${MAX_PROGRAMS_PER_SAMPLE} programs; plugin files, q_depth and auditd's "queue to plugins is full" lines reach plugin-backpressure`, async () => {
    const clock = new FakeClock();
    const m = new SimMachine(slowPluginSpec(debianSpec('h', new Rng(2), { downtimeMs: 1000 })), clock, 's');
    clock.advance(5000);
    m.kernel.sync();
    expect(m.kernel.auditd.state).toBe('slow');
    expect(m.kernel.auditdProcState()).toBe('S');
    const { started, names, sections } = await sample(m, true);
    expect(started).toBeLessThanOrEqual(MAX_PROGRAMS_PER_SAMPLE);
    expect(names).toEqual(['auditctl', 'auditctl', 'journalctl']);
    const s = parseSample(sections, 0);
    expect(s.parse_errors).toEqual([]);
    expect(s.persistent.plugins?.filter((p) => p.active)).toEqual([{ file: '/etc/audit/plugins.d/au-remote.conf', active: true, path: '/sbin/audisp-remote' }]);
    expect(s.persistent.auditd_conf).toMatchObject({ q_depth: 2000, overflow_action: 'SYSLOG' });
    expect(s.kernel_log).toMatchObject({ source: 'journalctl', plugin_queue_full_count: 5, plugin_queue_reporting_ended: true });
    const d = diagnose({ samples: [s] });
    expect(d.findings.find((f) => f.code === 'plugin-backpressure')).toMatchObject({ severity: 'high', evidence: { plugins: '/sbin/audisp-remote', auditd_state: 'S' } });
  });

  it('a host with only inactive plugins and lost 0 starts auditctl -s alone', async () => {
    const { names } = await sample(machine(), true);
    expect(names).toEqual(['auditctl']);
  });
});
