import { describe, expect, it } from 'vitest';
import {
  SEVERITY_ORDER,
  STATE_PRECEDENCE,
  compareDiagnoses,
  diagnose,
  diagnoseFleet,
  type Diagnosis,
  type Finding,
} from '../../src/diagnosis/index.js';
import type { HostFacts } from '../../src/facts/index.js';
import { HEALTHY, STUCK, real, sample, status, type HostShape } from '../fixtures/facts/samples.js';

const facts = (...samples: [HostShape, number][]): HostFacts => ({ samples: samples.map(([s, at]) => sample(s, at)) });
const codes = (d: Diagnosis): string[] => d.findings.map((f) => f.code);
const find = (d: Diagnosis, code: string): Finding => {
  const f = d.findings.find((x) => x.code === code);
  if (!f) throw new Error(`no ${code} in ${codes(d).join(',')}`);
  return f;
};
/** No action may recommend raising the limit, except to say not to. */
const recommendsRaising = (d: Diagnosis): boolean =>
  d.findings.some((f) => f.action_code === 'tune-rules-or-limit' || (/raise/i.test(f.action) && !/do not raise/i.test(f.action)));

/** The incident: auditd SIGSTOPped, limit 64, lost growing (fixture + transcript 02 ps). */
const stuckFacts = (ps = '    226 T<sl'): HostFacts =>
  facts(
    [{ auditctl: STUCK, ps, journal: real('journalctl-k.backlog-exceeded.txt') }, 0],
    [{ auditctl: status(STUCK, { lost: 10990 }), ps, journal: real('journalctl-k.backlog-exceeded.txt') }, 10_000],
  );

describe('diagnose: the stuck auditd of the fixtures', () => {
  it('two samples, stopped auditd: backlog-growing + records-lost, restart recommended, never raise the limit', () => {
    const d = diagnose(stuckFacts());
    expect(['backlog-growing', 'records-lost']).toContain(d.state);
    expect(codes(d)).toEqual(expect.arrayContaining(['backlog-growing', 'records-lost', 'auditd-not-running']));
    const growing = find(d, 'backlog-growing');
    expect(growing.severity).toBe('critical');
    expect(growing.action_code).toBe('restart-auditd');
    expect(growing.action).toMatch(/systemctl restart auditd/);
    expect(growing.evidence).toMatchObject({ backlog: 65, backlog_limit: 64, lost_delta: 660 });
    expect(find(d, 'records-lost')).toMatchObject({ action_code: 'restart-auditd', evidence: { lost_delta: 660, lost_per_s: 66 } });
    expect(find(d, 'auditd-not-running')).toMatchObject({ action_code: 'resume-auditd', evidence: { process_state: 'T' } });
    expect(recommendsRaising(d)).toBe(false);
  });

  it('a registered, running-looking pid does not mean it drains: backlog at limit+1 while lost grows', () => {
    const d = diagnose(stuckFacts('    226 S<sl'));
    expect(codes(d)).not.toContain('auditd-not-running');
    expect(find(d, 'backlog-growing').message).toMatch(/although its pid is registered/);
    expect(recommendsRaising(d)).toBe(false);
  });

  it('the restart command follows RefuseManualStop (RHEL family)', () => {
    const shape = { auditctl: STUCK, systemd: 'ActiveState=active\nSubState=running\nMainPID=226\nRefuseManualStop=yes' };
    const d = diagnose(facts([shape, 0]));
    expect(find(d, 'backlog-growing').action).toMatch(/service auditd restart/);
  });

  it('records-lost counts in words: 660 records, 1 record', () => {
    expect(find(diagnose(stuckFacts()), 'records-lost').message).toMatch(/^660 audit records lost in 10s /);
    const ps = '    226 T<sl';
    const one = facts(
      [{ auditctl: STUCK, ps, journal: real('journalctl-k.backlog-exceeded.txt') }, 0],
      [{ auditctl: status(STUCK, { lost: 10331 }), ps, journal: real('journalctl-k.backlog-exceeded.txt') }, 10_000],
    );
    expect(find(diagnose(one), 'records-lost').message).toMatch(/^1 audit record lost in 10s /);
  });

  it('one sample with kernel loss messages: records-lost as weaker (medium) evidence, resample', () => {
    const d = diagnose(facts([{ auditctl: STUCK, journal: real('journalctl-k.backlog-exceeded.txt') }, 0]));
    expect(find(d, 'records-lost')).toMatchObject({ severity: 'medium', action_code: 'resample' });
    // the full queue is enough on its own for backlog-growing
    expect(find(d, 'backlog-growing').severity).toBe('high');
  });

  it('one sample, lost > 0 but no kernel messages: history, low, host stays healthy', () => {
    const d = diagnose(facts([{ auditctl: status(HEALTHY, { lost: 2815 }) }, 0]));
    expect(find(d, 'records-lost').severity).toBe('low');
    expect(d.state).toBe('healthy');
  });
});

describe('diagnose: other states', () => {
  it('healthy busy host with a few queued records is healthy', () => {
    const d = diagnose(facts([{ auditctl: status(HEALTHY, { backlog: 3 }) }, 0], [{ auditctl: status(HEALTHY, { backlog: 7 }) }, 5000]));
    expect(d.state).toBe('healthy');
    expect(d.findings.every((f) => f.severity === 'low' || f.severity === 'info')).toBe(true);
    // Debian's SUSPEND defaults are reported, at low severity
    expect(codes(d)).toEqual(['auditd-disk-action']);
  });

  it('locked configuration (auditctl -e 2 fixture)', () => {
    const locked = real('auditctl-locked-errors.txt').split('\n').slice(1, 10).join('\n');
    const d = diagnose(facts([{ auditctl: locked, ps: '   1241 S<sl' }, 0]));
    expect(d.state).toBe('config-locked');
    expect(find(d, 'config-locked').action_code).toBe('reboot-to-unlock');
  });

  it('panic mode: medium when calm, critical while losing', () => {
    const calm = diagnose(facts([{ auditctl: status(HEALTHY, { failure: 2 }) }, 0]));
    expect(calm.state).toBe('panic-mode');
    expect(find(calm, 'panic-mode').severity).toBe('medium');
    const losing = diagnose(
      facts([{ auditctl: status(HEALTHY, { failure: 2, lost: 5 }) }, 0], [{ auditctl: status(HEALTHY, { failure: 2, lost: 9 }) }, 1000]),
    );
    expect(losing.state).toBe('panic-mode');
    expect(find(losing, 'panic-mode')).toMatchObject({ severity: 'critical', action_code: 'drain-before-changing-failure' });
  });

  it('tasks stalled: backlog_wait_time_actual grew (README: 0 → 11105)', () => {
    const d = diagnose(
      facts(
        [{ auditctl: status(HEALTHY, { backlog: 10 }) }, 0],
        [{ auditctl: status(HEALTHY, { backlog: 12, backlog_wait_time_actual: 11105 }) }, 60_000],
      ),
    );
    expect(d.state).toBe('tasks-stalled');
    expect(find(d, 'tasks-stalled')).toMatchObject({ severity: 'high', evidence: { wait_actual_delta: 11105 } });
    expect(find(d, 'tasks-stalled').message).toMatch(/SSH logins/);
  });

  it('auditd stopped (transcript 13: pid 0, inactive)', () => {
    const after = real('transcripts/13-stop-debian-default.txt').split('# auditctl -s\n')[1]?.split('[rc=')[0] ?? '';
    const d = diagnose(facts([{ auditctl: after, ps: '', systemd: 'ActiveState=inactive\nSubState=dead\nMainPID=0\nRefuseManualStop=no' }, 0]));
    expect(d.state).toBe('auditd-not-running');
    expect(find(d, 'auditd-not-running')).toMatchObject({ action_code: 'start-auditd', evidence: { registered_pid: 0 } });
  });

  it('registered pid that no longer exists', () => {
    const d = diagnose(facts([{ auditctl: HEALTHY, ps: '   1173 S<sl' }, 0]));
    expect(find(d, 'auditd-not-running').action_code).toBe('restart-auditd');
  });

  it('ps unavailable does not make auditd look dead', () => {
    const d = diagnose(facts([{ auditctl: HEALTHY, ps: 'sh: ps: not found' }, 0]));
    expect(codes(d)).not.toContain('auditd-not-running');
  });

  it('audit disabled (transcript 15: enabled 0)', () => {
    const d = diagnose(facts([{ auditctl: status(HEALTHY, { enabled: 0, failure: 0 }) }, 0]));
    expect(d.state).toBe('audit-disabled');
  });

  it('limit drift: runtime 64 vs rules 8192 reverts at the next auditd restart (transcript 11)', () => {
    const d = diagnose(facts([{ auditctl: status(HEALTHY, { backlog_limit: 64 }) }, 0]));
    expect(d.state).toBe('degraded');
    expect(find(d, 'limit-drift')).toMatchObject({
      severity: 'medium',
      evidence: { runtime_backlog_limit: 64, persistent_backlog_limit: 8192, source: 'rules' },
    });
    expect(find(d, 'limit-drift').message).toMatch(/auditd restart/);
  });

  it('limit drift without -b in the rules: the boot value (cmdline) is what comes back, at reboot', () => {
    const shape = { rulesGrep: '', rulesRc: 1, cmdline: 'ro audit=1 audit_backlog_limit=64' };
    const d = diagnose(facts([shape, 0]));
    expect(find(d, 'limit-drift')).toMatchObject({ evidence: { persistent_backlog_limit: 64, source: 'cmdline' } });
    expect(find(d, 'limit-drift').message).toMatch(/at reboot/);
    // transcript 28: cmdline 64 but rules 8192 → rules win, runtime 8192: no drift
    expect(codes(diagnose(facts([{ cmdline: 'audit=1 audit_backlog_limit=64' }, 0])))).not.toContain('limit-drift');
    // rule files not readable: unknown, no claim
    expect(codes(diagnose(facts([{ rulesGrep: '', rulesRc: 2 }, 0])))).not.toContain('limit-drift');
  });

  it('memory headroom: 65536 buffers may pin ~560 MiB of 763 MiB available', () => {
    const d = diagnose(facts([{ auditctl: status(HEALTHY, { backlog_limit: 65536 }), rulesGrep: '/etc/audit/audit.rules:-b 65536' }, 0]));
    const f = find(d, 'memory-headroom');
    expect(f.severity).toBe('medium');
    expect(f.evidence).toMatchObject({ backlog_limit: 65536, limit_mib: 560.6 });
    expect(f.message).toMatch(/560\.6 MiB/);
    expect(codes(diagnose(facts([{}, 0])))).not.toContain('memory-headroom');
    expect(codes(diagnose(facts([{}, 0]), { memoryShare: 0.05 }))).toContain('memory-headroom');
  });

  it('SUSPEND is never a cause of a full queue: auditd keeps reading and discards, the trail loses uncounted records', () => {
    const f = find(diagnose(stuckFacts()), 'auditd-disk-action');
    expect(f.severity).toBe('low');
    expect(f.message).not.toMatch(/likely cause|stops draining/);
    expect(f.message).toBe(
      'disk_full_action = SUSPEND, admin_space_left_action = SUSPEND: when /var/log/audit runs out of space auditd stops writing but keeps reading the kernel queue and discards the records: they are missing from the trail without being counted in lost, and the queue stays small (this never fills the queue)',
    );
  });

  it('kernel 6.1, auditd SIGSTOPped with the default wait: backlog reads low and lost is flat, still "not drained" (T07/T09: backlog 0 with auditd stopped)', () => {
    const t = (lost: number, backlog: number, wa: number) =>
      status(HEALTHY, { backlog_limit: 8192, backlog, lost, backlog_wait_time: 60000, backlog_wait_time_actual: wa });
    const d = diagnose(facts([{ auditctl: t(2364, 140, 0), ps: '    226 T<sl' }, 0], [{ auditctl: t(2364, 0, 0), ps: '    226 T<sl' }, 16_000]));
    expect(d.state).toBe('backlog-growing');
    expect(find(d, 'backlog-growing').message).toBe(
      'the audit queue is not drained: auditd (pid 226) is stopped (state T); kauditd moves it to its retry queue and drops it about every 0.6 s, so backlog (0 of 8192 now) rises and falls while records are lost, mostly without a count',
    );
    expect(find(d, 'backlog-growing').action_code).toBe('restart-auditd');
    expect(recommendsRaising(d)).toBe(false);
  });

  it('auditd blocked in uninterruptible I/O (D) is not healthy: not drained, with its own reason and action', () => {
    const d = diagnose(facts([{ auditctl: status(HEALTHY, { backlog: 3 }), ps: '    226 D' }, 0], [{ auditctl: status(HEALTHY, { backlog: 9 }), ps: '    226 D' }, 5000]));
    expect(d.state).not.toBe('healthy');
    expect(find(d, 'auditd-not-running').message).toMatch(/^auditd \(pid 226\) is blocked in uninterruptible I\/O \(state D\)/);
    expect(find(d, 'auditd-not-running').action).toMatch(/wchan/);
    expect(codes(d)).toContain('backlog-growing');
  });

  it('a registered pid that is not an auditd names the other consumers', () => {
    const d = diagnose(facts([{ auditctl: status(HEALTHY, { pid: 4242 }), ps: '' }, 0]));
    expect(find(d, 'auditd-not-running').message).toMatch(/registered pid 4242 is not a running auditd \(gone, or another audit consumer such as auditbeat, go-audit or osquery\)/);
  });

  it('config-locked: resuming or restarting auditd still works under -e 2; only -b/-f/-e and rules need the reboot', () => {
    const locked = real('auditctl-locked-errors.txt').split('\n').slice(1, 10).join('\n');
    const f = find(diagnose(facts([{ auditctl: locked, ps: '   1241 S<sl' }, 0])), 'config-locked');
    expect(f.message).toMatch(/resuming or restarting auditd still works/);
    expect(f.action).toMatch(/^to drain a stuck queue, resume \(kill -CONT\) or restart auditd now/);
  });

  it('boot-time losses: audit=1 without audit_backlog_limit= on the command line (T28)', () => {
    const d = diagnose(facts([{ cmdline: 'console=ttyS0,115200 root=/dev/vda rw net.ifnames=0 audit=1' }, 0]));
    expect(find(d, 'boot-backlog-limit')).toMatchObject({ severity: 'low', action_code: 'set-boot-backlog-limit' });
    expect(codes(diagnose(facts([{ cmdline: 'root=/dev/vda rw audit=1 audit_backlog_limit=8192' }, 0])))).not.toContain('boot-backlog-limit');
    expect(codes(diagnose(facts([{}, 0])))).not.toContain('boot-backlog-limit');
  });

  it('wait times in seconds with the host HZ (Debian -amd64: 250)', () => {
    const w = (wa: number) => status(HEALTHY, { backlog_wait_time: 60000, backlog_wait_time_actual: wa });
    const f = find(diagnose(facts([{ auditctl: w(11105) }, 0], [{ auditctl: w(40157) }, 60_000])), 'tasks-stalled');
    expect(f.message).toBe('processes waited 29052 ticks (116 s at HZ 250) for the audit queue in 60s: the host feels frozen, SSH logins may take tens of seconds');
    expect(f.evidence).toMatchObject({ hz: 250, backlog_wait_time_s: 240 });
    expect(f.action).toMatch(/backlog_wait_time 60000 ticks \(240 s at HZ 250\)/);
  });

  it("wait times with the host's own CONFIG_HZ when the facts read it, over the release's stock value", () => {
    const w = (wa: number) => status(HEALTHY, { backlog_wait_time: 60000, backlog_wait_time_actual: wa });
    const fx = facts([{ auditctl: w(11105) }, 0], [{ auditctl: w(40157) }, 60_000]);
    for (const s of fx.samples) s.system.kernel_hz = 1000;
    const f = find(diagnose(fx), 'tasks-stalled');
    expect(f.message).toMatch(/^processes waited 29052 ticks \(29 s at HZ 1000\) /);
    expect(f.evidence).toMatchObject({ hz: 1000, backlog_wait_time_s: 60 });
    // neither CONFIG_HZ nor a known release: ticks, no seconds
    for (const s of fx.samples) s.system = { ...s.system, kernel_release: '6.12.1-custom', kernel_hz: undefined };
    expect(find(diagnose(fx), 'tasks-stalled').message).toMatch(/^processes waited 29052 ticks for the audit queue/);
  });

  it.each([
    ['bash: auditctl: command not found', 127, 'auditctl-missing'],
    ['Error sending status request (Operation not permitted)', 255, 'auditctl-not-permitted'],
    ['Error - audit support not in kernel', 1, 'audit-unsupported'],
    ['???', 0, 'auditctl-unparseable'],
  ])('auditctl outcome %j → %s', (text, rc, code) => {
    const d = diagnose(facts([{ auditctl: text, auditctlRc: rc }, 0]));
    expect(codes(d)).toContain(code);
    expect(d.state).toBe(code === 'audit-unsupported' ? 'healthy' : 'unknown');
  });

  it('a reboot between samples: counters restarted, said so (info), no loss claimed', () => {
    const d = diagnose(
      facts([{ auditctl: status(HEALTHY, { lost: 900 }) }, 0], [{ auditctl: HEALTHY, boot: 'aaaaaaaa-94e4-4a5c-9d0b-1f0e6c2b8d11' }, 60_000]),
    );
    expect(find(d, 'host-rebooted').severity).toBe('info');
    expect(codes(d)).not.toContain('records-lost');
    expect(d.state).toBe('healthy');
  });

  it('no samples at all', () => {
    expect(diagnose({ samples: [] }).state).toBe('unknown');
  });
});

describe('severity ordering', () => {
  it('exports the orders', () => {
    expect(SEVERITY_ORDER).toEqual(['critical', 'high', 'medium', 'low', 'info']);
    expect(STATE_PRECEDENCE[0]).toBe('panic-mode');
    expect(STATE_PRECEDENCE.at(-1)).toBe('healthy');
  });

  it('findings are sorted most severe first; hosts sort worst first', () => {
    const stuck = diagnose(stuckFacts());
    const ranks = stuck.findings.map((f) => SEVERITY_ORDER.indexOf(f.severity));
    expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
    const healthy = diagnose(facts([{}, 0]));
    const drift = diagnose(facts([{ auditctl: status(HEALTHY, { backlog_limit: 64 }) }, 0]));
    const sorted = [healthy, stuck, drift].sort(compareDiagnoses);
    expect(sorted.map((d) => d.state)).toEqual([stuck.state, 'degraded', 'healthy']);
  });
});

describe('diagnoseFleet', () => {
  const quiet = (lost: number): HostFacts =>
    facts([{ auditctl: status(HEALTHY, { lost }) }, 0], [{ auditctl: status(HEALTHY, { lost }) }, 10_000]);

  it('flags the host that loses while its group loses nothing', () => {
    const hosts = [
      { host: 'a', group: 'web', facts: quiet(0) },
      { host: 'b', group: 'web', facts: quiet(0) },
      { host: 'c', group: 'web', facts: quiet(3) },
      { host: 'd', group: 'web', facts: stuckFacts() },
      { host: 'x', group: 'db', facts: quiet(0) },
    ];
    const out = diagnoseFleet(hosts);
    expect([...out.keys()]).toEqual(['d']);
    const metrics = (out.get('d') ?? []).map((f) => f.evidence['metric']);
    expect(metrics).toEqual(['lost_per_s', 'backlog_ratio']);
    expect(out.get('d')?.[0]).toMatchObject({ code: 'fleet-outlier', evidence: { value: 66, group_median: 0, group: 'web' } });
  });

  it('needs at least three comparable hosts, and does not flag a uniformly busy group', () => {
    expect(diagnoseFleet([{ host: 'a', facts: quiet(0) }, { host: 'd', facts: stuckFacts() }]).size).toBe(0);
    const busy = ['a', 'b', 'c', 'd'].map((host) => ({ host, facts: stuckFacts() }));
    expect(diagnoseFleet(busy).size).toBe(0);
    expect(diagnoseFleet([{ host: 'a' }, { host: 'b' }, { host: 'c' }]).size).toBe(0);
  });
});
