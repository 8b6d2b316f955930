import { describe, expect, it } from 'vitest';
import { DEBIAN_RULES, FakeClock, SimMachine, debianSpec, type MachineSpec } from '../../src/sim/index.js';
import { Rng } from '../../src/sim/rng.js';

function machine(over: Partial<MachineSpec> = {}, clock = new FakeClock()): { m: SimMachine; clock: FakeClock } {
  const spec = { ...debianSpec('t1', new Rng(1), { downtimeMs: 5000 }), eventRate: 1000, ...over };
  return { m: new SimMachine(spec, clock, 'seed'), clock };
}

describe('audit kernel model (fake clock)', () => {
  it('a healthy daemon keeps the queue near zero; wait 0 and a stuck one: the queue fills to limit+1 between passes and every record over it is lost', () => {
    const { m, clock } = machine({ rulesD: { 'a.rules': DEBIAN_RULES.replace('-b 8192', '-b 64').replace('60000', '0') } });
    clock.advance(10_000);
    expect(m.kernel.backlog).toBe(4); // 1000 rec/s → a few in flight
    m.kernel.signalAuditd('STOP');
    clock.advance(30); // 30 records
    expect(m.kernel.backlog).toBe(30 + 4);
    clock.advance(60);
    expect(m.kernel.backlog).toBe(65);
    const lost0 = m.kernel.lost;
    expect(lost0).toBeGreaterThan(0);
    // T05: 2000 records, 1983 lost — kauditd admits at most limit per ≈0.6 s pass.
    const seen: number[] = [];
    for (let i = 0; i < 200; i++) {
      clock.advance(10);
      seen.push(m.kernel.backlog);
    }
    const lost = m.kernel.lost - lost0;
    expect(lost).toBeGreaterThan(2000 - 4 * 65);
    expect(lost).toBeLessThan(2000);
    expect(Math.max(...seen)).toBe(65);
    // every pass moves the main queue to the retry queue: backlog falls well below the limit
    expect(Math.min(...seen)).toBeLessThan(65);
    expect(m.kernel.hiddenQueues().retry).toBeGreaterThan(0);
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
    // One printk budget for all of audit: 10 lines per 5-s window, then "N callbacks suppressed".
    const suppressed = lines.filter((l) => /^(audit_log_start|kauditd_printk_skb): \d+ callbacks suppressed$/.test(l));
    expect(suppressed.length).toBe(2);
    expect(lines.length).toBe(32);
    expect(Number(/(\d+)/.exec(suppressed[0] ?? '')?.[1])).toBeGreaterThan(10_000);
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

  it('with the default wait, auditd stuck: kauditd passes every ≈0.6 s, backlog oscillates, lost trickles ≈1 per pass, tasks sleep FIFO (T04, T09, T27)', () => {
    const { m, clock } = machine({ rulesD: { 'a.rules': '-b 64\n--backlog_wait_time 60000\n-f 1\n' } });
    expect(m.kernel.settings.backlogWaitTime).toBe(60000);
    m.kernel.signalAuditd('STOP');
    expect(m.kernel.blockedTasks()).toBe(0);
    clock.advance(2000);
    const lost0 = m.kernel.lost;
    const wa0 = m.kernel.waitActual;
    const seen: number[] = [];
    for (let i = 0; i < 40; i++) {
      clock.advance(250);
      seen.push(m.kernel.backlog);
    }
    // 10 s: ≈16 passes; at most one record per pass overflows the retry queue; the rest vanish uncounted
    const lost = m.kernel.lost - lost0;
    expect(lost).toBeGreaterThanOrEqual(3);
    expect(lost).toBeLessThanOrEqual(20);
    expect(Math.min(...seen)).toBeLessThan(30);
    expect(Math.max(...seen)).toBe(65);
    expect(m.kernel.isStalled()).toBe(true);
    expect(m.kernel.blockedTasks()).toBeGreaterThan(0);
    // each sleeper adds HZ (250) ticks per second
    const waRate = (m.kernel.waitActual - wa0) / 10;
    expect(waRate).toBeGreaterThan(250);
    expect(waRate).toBeLessThanOrEqual(250 * 5);
    // a login waits once per burst, each ≈ FIFO position × pass time
    const login = m.kernel.loginDelayMs();
    expect(login).toBeGreaterThan(500);
    expect(login).toBeLessThan(60_000);
    const lines = m.kernel.kernelLines();
    expect(lines.some((l) => /^kauditd_printk_skb: \d+ callbacks suppressed$/.test(l))).toBe(true);
    expect(lines.some((l) => l.startsWith('audit: type=1300 '))).toBe(true);
    // audit=0 (Debian): no hold queue, so never "hold queue overflow"; no wait-0 lines
    expect(lines).not.toContain('audit: kauditd hold queue overflow');
    expect(lines).not.toContain('audit: backlog limit exceeded');
  });

  it('a load that fits in one pass does not stall: backlog far below the limit, lost flat, only ps shows T (st-tasks-stalled on a real kernel)', () => {
    const { m, clock } = machine({ eventRate: 300, rulesD: { 'a.rules': DEBIAN_RULES } });
    m.kernel.signalAuditd('STOP');
    clock.advance(1000);
    const before = m.kernel.status();
    const seen: number[] = [];
    for (let i = 0; i < 60; i++) {
      clock.advance(500);
      seen.push(m.kernel.backlog);
    }
    const after = m.kernel.status();
    expect(after.lost).toBe(before.lost);
    expect(after.backlogWaitTimeActual).toBe(before.backlogWaitTimeActual);
    expect(Math.max(...seen)).toBeLessThanOrEqual(200);
    expect(m.kernel.blockedTasks()).toBe(0);
    expect(m.kernel.loginDelayMs()).toBe(0);
    expect(m.kernel.auditdProcState()).toBe('T');
    expect(m.kernel.kernelLines().some((l) => l.startsWith('audit: type=1300 '))).toBe(true);
  });

  it('audit=1 on the command line: failed records go to the hold queue, which overflows at ≈ limit per pass (T28)', () => {
    const { m, clock } = machine({ cmdline: 'root=/dev/vda1 ro audit=1', rulesD: { 'a.rules': '-b 64\n--backlog_wait_time 60000\n-f 1\n' } });
    expect(m.kernel.kernelLines()).toContain('audit: initializing netlink subsys (enabled)');
    m.kernel.signalAuditd('STOP');
    clock.advance(5000);
    const l0 = m.kernel.lost;
    clock.advance(10_000);
    const rate = (m.kernel.lost - l0) / 10;
    expect(rate).toBeGreaterThan(30);
    expect(rate).toBeLessThan(120);
    expect(m.kernel.hiddenQueues().hold).toBe(64);
    expect(m.kernel.kernelLines().join('\n')).toMatch(/kauditd hold queue overflow|callbacks suppressed/);
  });

  it('without audit=1 the boot log says the subsystem is disabled until auditd enables it (T03)', () => {
    const { m } = machine();
    expect(m.kernel.kernelLines()).toContain('audit: initializing netlink subsys (disabled)');
    expect(m.kernel.kernelLines().some((l) => l.includes('audit_enabled=0'))).toBe(true);
  });

  it('HZ: the kernel default wait is 60*HZ ticks (15000 Debian, 60000 RHEL); more than 10 minutes is EINVAL', () => {
    const deb = machine({ rulesD: { 'a.rules': '-b 64\n' } }).m.kernel;
    expect(deb.hz).toBe(250);
    expect(deb.settings.backlogWaitTime).toBe(15000);
    expect(deb.setSetting('backlogWaitTime', 150_001)).toEqual({ ok: false, error: 'Error sending backlog limit request (Invalid argument)' });
    expect(deb.setSetting('backlogWaitTime', 150_000)).toEqual({ ok: true });
    const rh = machine({ flavour: 'rhel', rulesD: { 'a.rules': '-b 64\n' } }).m.kernel;
    expect(rh.hz).toBe(1000);
    expect(rh.settings.backlogWaitTime).toBe(60000);
  });

  it('rate_limit is enforced: drops beyond it count as lost with "rate limit exceeded", and panic with -f 2', () => {
    const { m, clock } = machine({ eventRate: 500, rulesD: { 'a.rules': '-b 8192\n-r 100\n-f 1\n' } });
    clock.advance(10_000);
    expect(m.kernel.lost).toBeGreaterThan(3500);
    expect(m.kernel.lost).toBeLessThanOrEqual(4001);
    expect(m.kernel.kernelLines()).toContain('audit: rate limit exceeded');
    expect(m.kernel.kernelLines().some((l) => l.startsWith('audit: audit_lost=') && l.includes('audit_rate_limit=100'))).toBe(true);
    m.kernel.setSetting('failure', 2);
    clock.advance(1000);
    m.kernel.sync();
    expect(m.kernel.power).toBe('hung');
    expect(m.kernel.console.join('\n')).toContain('Kernel panic - not syncing: audit: rate limit exceeded');
  });

  it('tasks already asleep stay asleep after SIGCONT when nothing else produces records (T10: 236 s at HZ 250)', () => {
    const { m, clock } = machine({ eventRate: 0, execsPerSec: 100, loadTasks: 2, rulesD: { 'a.rules': '-b 64\n--backlog_wait_time 60000\n-a always,exit -F arch=b64 -S execve\n' } });
    m.kernel.signalAuditd('STOP');
    clock.advance(5000);
    expect(m.kernel.blockedTasks()).toBeGreaterThan(0);
    // wait until both generators sleep at once, then resume auditd
    for (let i = 0; i < 200 && m.kernel.blockedTaskStates().filter((w) => w.load).length < 2; i++) clock.advance(50);
    expect(m.kernel.blockedTaskStates().filter((w) => w.load).length).toBe(2);
    m.kernel.signalAuditd('CONT');
    clock.advance(3000);
    expect(m.kernel.backlog).toBeLessThanOrEqual(4);
    expect(m.kernel.blockedTasks()).toBe(2);
    expect(m.kernel.loginDelayMs()).toBe(0); // the queue drained: new work is not slowed
    clock.advance(240_000);
    expect(m.kernel.blockedTasks()).toBe(0);
  });

  it('SIGKILL: systemd restarts auditd (Restart=on-failure) and the rules are reloaded', () => {
    const { m } = machine();
    const pid = m.kernel.auditd.pid;
    m.kernel.setSetting('backlogLimit', 100);
    m.kernel.signalAuditd('KILL');
    expect(m.kernel.auditd.state).toBe('running');
    expect(m.kernel.auditd.pid).not.toBe(pid);
    expect(m.kernel.settings.backlogLimit).toBe(8192);
  });

  it("RHEL's legacy `service auditd restart` leaves a SIGSTOPped auditd in place (TERM pending, same pid)", () => {
    const { m } = machine({ flavour: 'rhel' });
    m.kernel.signalAuditd('STOP');
    const pid = m.kernel.auditd.pid;
    m.kernel.legacyRestartAuditd();
    expect(m.kernel.auditd).toMatchObject({ state: 'stuck', pid, pendingTerm: true });
  });

  it('auditd blocked in D and a slow auditd: the kernel sees a socket that does not empty', () => {
    const d = machine({ auditd: 'blocked', eventRate: 1000, rulesD: { 'a.rules': '-b 64\n' } });
    d.clock.advance(10_000);
    expect(d.m.kernel.auditdProcState()).toBe('D');
    expect(d.m.kernel.blockedTasks()).toBeGreaterThan(0);
    const slow = machine({ auditd: 'slow', auditdReadRate: 100, eventRate: 1000, rulesD: { 'a.rules': '-b 64\n' } });
    slow.clock.advance(10_000);
    expect(slow.m.kernel.auditdProcState()).toBe('S');
    expect(slow.m.kernel.isLosing()).toBe(true);
    const ok = machine({ auditd: 'slow', auditdReadRate: 2000, eventRate: 1000, rulesD: { 'a.rules': '-b 64\n' } });
    ok.clock.advance(10_000);
    expect(ok.m.kernel.isLosing()).toBe(false);
    expect(ok.m.kernel.blockedTasks()).toBe(0);
  });

  it('-b N while stuck: once the load fits in a pass, lost stops growing while records keep vanishing (T07, T08)', () => {
    const { m, clock } = machine({ rulesD: { 'a.rules': '-b 64\n--backlog_wait_time 60000\n' }, eventRate: 1000 });
    m.kernel.signalAuditd('STOP');
    clock.advance(5000);
    const lost = m.kernel.lost;
    expect(lost).toBeGreaterThan(1);
    expect(m.kernel.setSetting('backlogLimit', 8192)).toEqual({ ok: true });
    clock.advance(5000);
    const lost2 = m.kernel.lost;
    clock.advance(10_000);
    expect(m.kernel.lost).toBe(lost2);
    expect(m.kernel.backlog).toBeLessThan(1000);
    expect(m.kernel.blockedTasks()).toBe(0);
    expect(m.kernel.kernelLines().some((l) => /^kauditd_printk_skb: \d+ callbacks suppressed$/.test(l))).toBe(true);
  });

  it('restarting auditd drains within 3 s, assigns a new pid and reloads the persistent settings', () => {
    const { m, clock } = machine();
    const pid = m.kernel.auditd.pid;
    m.kernel.setSetting('backlogLimit', 100);
    m.kernel.setSetting('failure', 0);
    m.kernel.signalAuditd('STOP');
    clock.advance(5000);
    expect(m.kernel.backlog).toBeLessThanOrEqual(101);
    expect(m.kernel.blockedTasks()).toBeGreaterThan(0);
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

    // kernel.panic = 5 (panic=5): "Rebooting in 5 seconds.." (T22)
    const { m, clock } = machine({ kernelPanic: 5, rulesD: { 'a.rules': '-b 64\n--backlog_wait_time 0\n' } });
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

  it('-f 2 with the default wait: auditctl sleeps and the next overflowing kauditd pass panics (T21, T22)', () => {
    const { m, clock } = machine({ rulesD: { 'a.rules': '-b 64\n--backlog_wait_time 60000\n' } });
    m.kernel.signalAuditd('STOP');
    clock.advance(3000);
    m.kernel.setSetting('failure', 2);
    expect(m.kernel.power).toBe('up');
    clock.advance(5000);
    m.kernel.sync();
    // Debian: kernel.panic = 0, the host hangs
    expect(m.kernel.power).toBe('hung');
    expect(m.kernel.console.join('\n')).toContain('Kernel panic - not syncing: audit: kauditd retry queue overflow');
  });

  it('failure 2 on a host whose daemon gets stuck panics when the first record is lost, not while the load fits in a pass', () => {
    const fits = machine({ rulesD: { 'a.rules': '-b 1000\n--backlog_wait_time 0\n-f 2\n' }, eventRate: 100 });
    fits.m.kernel.signalAuditd('STOP');
    fits.clock.advance(60_000);
    fits.m.kernel.sync();
    expect(fits.m.kernel.power).toBe('up');
    const { m, clock } = machine({ rulesD: { 'a.rules': '-b 64\n--backlog_wait_time 0\n-f 2\n' }, eventRate: 200 });
    m.kernel.signalAuditd('STOP');
    const at = m.kernel.nextEventAt();
    expect(at).not.toBeNull();
    clock.advance(200);
    m.kernel.sync();
    expect(m.kernel.power).toBe('up');
    clock.advance(400);
    m.kernel.sync();
    expect(m.kernel.power).toBe('hung');
  });

  it('kernel.panic = 0: a panic hangs the machine until power cycled', () => {
    // Debian 12's default kernel.panic is 0 (T19): the scenarios' hosts inherit it
    expect(machine().m.kernel.kernelPanic).toBe(0);
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

  it('MemAvailable shrinks with the buffers of the main, retry and hold queues (8970 bytes each)', () => {
    const { m, clock } = machine({ memAvailableKb: 2_000_000, rulesD: { 'a.rules': '-b 100000\n' }, eventRate: 1000 });
    m.kernel.signalAuditd('STOP');
    clock.advance(50_000);
    const q = m.kernel.hiddenQueues();
    const buffers = m.kernel.backlog + q.retry + q.hold;
    expect(q.retry).toBeGreaterThan(0);
    expect(Math.abs(m.kernel.memAvailableNowKb() - (2_000_000 - (buffers * 8970) / 1024))).toBeLessThan(10);
  });

  it('a long history replays only what the ring can hold (bounded work)', () => {
    const t0 = performance.now();
    const { m } = machine({ auditd: 'stuck', eventRate: 20_000, backlog: 8193, lost: 1_000_000, historyMs: 30 * 24 * 3600_000, rulesD: { 'a.rules': '-b 8192\n--backlog_wait_time 0\n' } });
    expect(performance.now() - t0).toBeLessThan(1500);
    // 20000 rec/s, ≈8192 admitted per 0.6 s pass: ≈ 6300 lost/s for 30 days
    expect(m.kernel.lost).toBeGreaterThan(1_000_000 + 0.9 * 6300 * 30 * 86400);
    expect(m.kernel.lost).toBeLessThan(1_000_000 + 20_000 * 30 * 86400);
    expect(m.kernel.kernelLines().length).toBeLessThanOrEqual(2000);
  });
});
