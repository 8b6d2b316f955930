import { describe, expect, it } from 'vitest';
import { DEBIAN_RULES, FakeClock, SimMachine, debianSpec, type MachineSpec } from '../../src/sim/index.js';
import { Rng } from '../../src/sim/rng.js';

function machine(over: Partial<MachineSpec> = {}, clock = new FakeClock()): { m: SimMachine; clock: FakeClock } {
  const spec = { ...debianSpec('t1', new Rng(1), { downtimeMs: 5000 }), eventRate: 1000, ...over };
  return { m: new SimMachine(spec, clock, 'seed'), clock };
}

describe('audit kernel model (fake clock)', () => {
  it('a healthy daemon keeps the queue near zero; a stuck one grows at the event rate up to limit+1', () => {
    const { m, clock } = machine({ rulesD: { 'a.rules': DEBIAN_RULES.replace('-b 8192', '-b 64').replace('60000', '0') } });
    clock.advance(10_000);
    expect(m.kernel.backlog).toBe(4); // 1000 rec/s → a few in flight
    m.kernel.signalAuditd('STOP');
    clock.advance(30); // 30 records
    expect(m.kernel.backlog).toBe(34);
    clock.advance(1000);
    expect(m.kernel.backlog).toBe(65);
    expect(m.kernel.lost).toBeGreaterThan(900);
    const lost1 = m.kernel.lost;
    clock.advance(2000);
    expect(m.kernel.lost).toBe(lost1 + 2000);
    expect(m.kernel.backlog).toBe(65);
  });

  it('prints the three loss lines rate limited to 10 per 5 s, with the exact fixture formats', () => {
    const { m, clock } = machine({ rulesD: { 'a.rules': '-b 64\n--backlog_wait_time 0\n-f 1\n' } });
    m.kernel.kernelLines();
    m.kernel.klog.clear();
    m.kernel.signalAuditd('STOP');
    clock.advance(12_000);
    const lines = m.kernel.kernelLines();
    expect(lines.slice(0, 4)).toEqual([
      'audit: audit_backlog=65 > audit_backlog_limit=64',
      'audit: audit_lost=1 audit_rate_limit=0 audit_backlog_limit=64',
      'audit: backlog limit exceeded',
      'audit: audit_backlog=65 > audit_backlog_limit=64',
    ]);
    expect(lines[4]).toBe('audit: audit_lost=2 audit_rate_limit=0 audit_backlog_limit=64');
    // Three windows (t≈0.065, 5.065, 10.065 s): 10 lines each, plus two "suppressed" lines.
    expect(lines.length).toBe(32);
    const suppressed = lines.filter((l) => /^audit_log_start: \d+ callbacks suppressed$/.test(l));
    expect(suppressed.length).toBe(2);
    expect(Number(/(\d+)/.exec(suppressed[0] ?? '')?.[1])).toBeGreaterThan(14_000);
    expect(m.dmesgText()).toMatch(/^\[\s*\d+\.\d{6}\] audit: backlog limit exceeded$/m);
  });

  it('-f 0 drops only the "backlog limit exceeded" line; the loss goes on', () => {
    const { m, clock } = machine({ rulesD: { 'a.rules': '-b 64\n--backlog_wait_time 0\n-f 0\n' } });
    m.kernel.signalAuditd('STOP');
    clock.advance(3000);
    const lines = m.kernel.kernelLines().filter((l) => l.startsWith('audit: audit_') || l.includes('exceeded'));
    expect(lines.some((l) => l.includes('backlog limit exceeded'))).toBe(false);
    expect(lines.filter((l) => l.startsWith('audit: audit_lost=')).length).toBe(5);
    expect(m.kernel.lost).toBeGreaterThan(2000);
  });

  it('with a wait time, tasks stall: retry/hold queue overflow lines, wait_time_actual grows, logins slow', () => {
    const { m, clock } = machine({ rulesD: { 'a.rules': '-b 64\n--backlog_wait_time 60000\n-f 1\n' }, stalledLoginDelayMs: 4000 });
    m.kernel.signalAuditd('STOP');
    expect(m.kernel.loginDelayMs()).toBe(0);
    clock.advance(20_000);
    expect(m.kernel.isStalled()).toBe(true);
    expect(m.kernel.loginDelayMs()).toBe(4000);
    expect(m.kernel.waitActual).toBeGreaterThan(9000);
    expect(m.kernel.lost).toBeLessThan(20 * 61); // limited by the sleeping tasks
    const lines = m.kernel.kernelLines();
    expect(lines).toContain('audit: kauditd retry queue overflow');
    expect(lines).toContain('audit: kauditd hold queue overflow');
    expect(lines.some((l) => /^kauditd_printk_skb: \d+ callbacks suppressed$/.test(l))).toBe(true);
    expect(lines).not.toContain('audit: backlog limit exceeded');
  });

  it('-b N while stuck only moves where the loss starts', () => {
    const { m, clock } = machine({ rulesD: { 'a.rules': '-b 64\n--backlog_wait_time 0\n' }, eventRate: 100 });
    m.kernel.signalAuditd('STOP');
    clock.advance(5000);
    const lost = m.kernel.lost;
    expect(lost).toBeGreaterThan(400);
    expect(m.kernel.setSetting('backlogLimit', 8192)).toEqual({ ok: true });
    clock.advance(10_000);
    expect(m.kernel.lost).toBe(lost);
    expect(m.kernel.backlog).toBe(65 + 1000);
    clock.advance(100_000);
    expect(m.kernel.backlog).toBe(8193);
    expect(m.kernel.lost).toBeGreaterThan(lost);
  });

  it('restarting auditd drains within 3 s, assigns a new pid and reloads the persistent settings', () => {
    const { m, clock } = machine();
    const pid = m.kernel.auditd.pid;
    m.kernel.setSetting('backlogLimit', 100);
    m.kernel.setSetting('failure', 0);
    m.kernel.signalAuditd('STOP');
    clock.advance(5000);
    expect(m.kernel.backlog).toBe(101);
    m.kernel.restartAuditd();
    expect(m.kernel.auditd.pid).not.toBe(pid);
    expect(m.kernel.settings).toMatchObject({ backlogLimit: 8192, failure: 1, backlogWaitTime: 60000 });
    clock.advance(3000);
    expect(m.kernel.backlog).toBeLessThanOrEqual(4);
  });

  it('SIGCONT resumes draining; SIGTERM to a stopped daemon waits for SIGCONT', () => {
    const { m, clock } = machine();
    m.kernel.signalAuditd('STOP');
    m.kernel.signalAuditd('TERM');
    expect(m.kernel.auditd.state).toBe('stuck');
    m.kernel.signalAuditd('CONT');
    expect(m.kernel.auditd).toMatchObject({ state: 'stopped', pid: 0 });
    clock.advance(1000);
    expect(m.kernel.status().pid).toBe(0);
  });

  it('enabled 2 locks -b/-f/-e/--backlog_wait_time with the exact errors; rules are refused', () => {
    const { m } = machine({ rulesD: { 'a.rules': DEBIAN_RULES, 'z.rules': '-e 2\n' } });
    expect(m.kernel.settings.enabled).toBe(2);
    expect(m.kernel.setSetting('backlogLimit', 100)).toEqual({ ok: false, error: 'Error sending backlog limit request (Operation not permitted)' });
    expect(m.kernel.setSetting('failure', 0)).toEqual({ ok: false, error: 'Error sending failure mode request (Operation not permitted)' });
    expect(m.kernel.setSetting('enabled', 1)).toEqual({ ok: false, error: 'Error sending enable request (Operation not permitted)' });
    expect(m.kernel.setSetting('backlogWaitTime', 0)).toEqual({ ok: false, error: 'Error sending backlog limit request (Operation not permitted)' });
    expect(m.kernel.addRule('-w /tmp/x -p w')).toEqual({ ok: false, message: 'The audit system is in immutable mode, no rule changes allowed' });
  });

  it('-f 2 panics only a host that is losing records', () => {
    const healthy = machine().m;
    expect(healthy.kernel.setSetting('failure', 2)).toEqual({ ok: true });
    expect(healthy.kernel.power).toBe('up');

    const { m, clock } = machine({ rulesD: { 'a.rules': '-b 64\n--backlog_wait_time 0\n' } });
    const events: string[] = [];
    m.kernel.onPower((e) => events.push(`${e.kind}:${e.reason}`));
    const boot = m.kernel.bootId;
    m.kernel.signalAuditd('STOP');
    clock.advance(2000);
    m.kernel.setSetting('failure', 2);
    expect(m.kernel.power).toBe('down');
    expect(m.kernel.console).toContain('---[ end Kernel panic - not syncing: audit: backlog limit exceeded ]---');
    clock.advance(4999);
    m.kernel.sync();
    expect(m.kernel.power).toBe('down');
    clock.advance(1);
    m.kernel.sync();
    expect(events).toEqual(['down:panic', 'up:reboot']);
    expect(m.kernel.bootId).not.toBe(boot);
    expect(m.kernel.status()).toMatchObject({ lost: 0, backlog: 0, failure: 1, backlogLimit: 64 });
    expect(m.kernel.auditd.state).toBe('running');
    expect(m.kernel.uptimeMs()).toBe(0);
  });

  it('failure 2 on a host whose daemon gets stuck panics when the first record is lost', () => {
    const { m, clock } = machine({ rulesD: { 'a.rules': '-b 1000\n--backlog_wait_time 0\n-f 2\n' }, eventRate: 100 });
    m.kernel.signalAuditd('STOP');
    const at = m.kernel.nextEventAt();
    expect(at).not.toBeNull();
    clock.advance(9000);
    m.kernel.sync();
    expect(m.kernel.power).toBe('up');
    clock.advance(2000);
    m.kernel.sync();
    expect(m.kernel.power).toBe('down');
  });

  it('kernel.panic = 0: a panic hangs the machine until power cycled', () => {
    const { m, clock } = machine({ kernelPanic: 0, rulesD: { 'a.rules': '-b 64\n--backlog_wait_time 0\n' } });
    m.kernel.signalAuditd('STOP');
    clock.advance(1000);
    m.kernel.setSetting('failure', 2);
    clock.advance(60_000);
    m.kernel.sync();
    expect(m.kernel.power).toBe('hung');
    m.kernel.powerCycle();
    expect(m.kernel.power).toBe('up');
  });

  it('scheduled reboot happens at its time, can be cancelled, and reverts runtime changes', () => {
    const { m, clock } = machine();
    m.kernel.setSetting('backlogLimit', 20000);
    const boot = m.kernel.bootId;
    m.kernel.scheduleReboot(5 * 60_000, 'fleetmend: audit backlog remediation');
    expect(m.kernel.wallMessages).toContain('fleetmend: audit backlog remediation');
    m.kernel.cancelReboot();
    clock.advance(6 * 60_000);
    m.kernel.sync();
    expect(m.kernel.bootId).toBe(boot);
    m.kernel.scheduleReboot(60_000, '');
    clock.advance(60_000);
    m.kernel.sync();
    expect(m.kernel.power).toBe('down');
    clock.advance(5000);
    m.kernel.sync();
    expect(m.kernel.bootId).not.toBe(boot);
    expect(m.kernel.settings.backlogLimit).toBe(8192);
  });

  it('MemAvailable shrinks with the queued buffers (8970 bytes each)', () => {
    const { m, clock } = machine({ memAvailableKb: 2_000_000, rulesD: { 'a.rules': '-b 100000\n' }, eventRate: 1000 });
    m.kernel.signalAuditd('STOP');
    clock.advance(50_000);
    expect(m.kernel.backlog).toBe(50_000);
    expect(m.kernel.memAvailableNowKb()).toBe(Math.round(2_000_000 - (50_000 * 8970) / 1024));
  });

  it('a long history replays only what the ring can hold (bounded work)', () => {
    const t0 = performance.now();
    const { m } = machine({ auditd: 'stuck', backlog: 8193, lost: 1_000_000, historyMs: 30 * 24 * 3600_000, rulesD: { 'a.rules': '-b 8192\n--backlog_wait_time 0\n' } });
    expect(performance.now() - t0).toBeLessThan(500);
    expect(m.kernel.lost).toBeGreaterThan(1_000_000 + 2_500_000_000);
    expect(m.kernel.kernelLines().length).toBeLessThanOrEqual(2000);
  });
});
