import { describe, expect, it } from 'vitest';
import { serviceArgs, serviceModule } from '../../src/modules/service.js';
import { rebootArgs, rebootModule } from '../../src/modules/reboot.js';
import { commandArgs, commandModule, shellModule, splitWords } from '../../src/modules/command.js';
import { parseBootId } from '../../src/facts/index.js';
import type { Module, ModuleContext, ModuleOutcome } from '../../src/modules/types.js';
import { FleetmendError } from '../../src/errors.js';
import { FakeHost, FakeTransport, sessionOver } from '../fixtures/playbooks/fake-host.js';

function ctxFor(host: FakeHost, over: Partial<ModuleContext> = {}): ModuleContext {
  let t = 1_700_000_000_000;
  const clock = { now: () => t, sleep: async (ms: number) => void (t += ms) };
  return {
    host: 'fake1',
    session: sessionOver(new FakeTransport(host), clock),
    check: false,
    diff: true,
    become: true,
    clock,
    play: { hostsInPlay: 1, batchSize: 1, memoryShare: 0.1, allowParallelReboot: false },
    scope: {},
    guardSampleMs: 10,
    reconnect: async () => new FakeTransport(host),
    ...over,
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function runModule(mod: Module<any, any>, ctx: ModuleContext, raw: unknown): Promise<ModuleOutcome> {
  const args = mod.schema.parse(raw);
  const checked = await mod.check(ctx, args);
  if (ctx.check || checked.status !== 'changed' || checked.plan === undefined) return checked;
  return mod.apply(ctx, args, checked.plan, checked);
}

describe('service module', () => {
  it("a restart's diff shows what changes: the main pid (active stays active)", async () => {
    const h = new FakeHost();
    const pid = h.status.pid;
    expect(pid).toBeGreaterThan(0);
    const check = await runModule(serviceModule, ctxFor(h, { check: true }), { state: 'restarted' });
    expect(check.diff).toEqual([{ path: 'service auditd', before: `active, MainPID ${pid}\n`, after: `active, MainPID new (not ${pid})\n` }]);
    const applied = await runModule(serviceModule, ctxFor(h), { state: 'restarted' });
    expect(applied.status, applied.msg).toBe('changed');
    expect(h.status.pid).not.toBe(pid);
    expect(applied.diff).toEqual([{ path: 'service auditd', before: `active, MainPID ${pid}\n`, after: `active, MainPID ${h.status.pid}\n` }]);
    const stop = await runModule(serviceModule, ctxFor(h, { check: true }), { state: 'stopped' });
    expect(stop.diff?.[0]?.after).toBe('inactive, MainPID none\n');
  });

  it('detects RefuseManualStop in check mode and predicts the service path, changing nothing', async () => {
    const h = new FakeHost();
    h.refuseManualStop = true;
    const r = await runModule(serviceModule, ctxFor(h, { check: true }), { state: 'stopped' });
    expect(r.status).toBe('changed');
    expect(r.msg).toMatch(/via service auditd stop/);
    expect(r.warnings?.[0]).toMatch(/RefuseManualStop=yes/);
    expect(h.active).toBe(true);
    expect(h.commands.some((c) => /stop/.test(c))).toBe(false);
  });

  it('stops a refusing (RHEL) unit with service auditd stop and verifies pid 0 + inactive; second run ok', async () => {
    const h = new FakeHost();
    h.refuseManualStop = true;
    const r = await runModule(serviceModule, ctxFor(h), { state: 'stopped' });
    expect(r.status).toBe('changed');
    expect(h.commands).toContain("service 'auditd' stop 2>&1");
    expect(h.commands).not.toContain("systemctl stop 'auditd' 2>&1");
    expect(h.status.pid).toBe(0);
    expect((await runModule(serviceModule, ctxFor(h), { state: 'stopped' })).status).toBe('ok');
  });

  it('refuses to stop auditd on an audit=1 host in failure 2 (the hold queue would overflow and panic it); audit=0 is allowed', async () => {
    const h = new FakeHost();
    h.cmdline = 'BOOT_IMAGE=/boot/vmlinuz root=/dev/vda1 ro audit=1';
    h.status.failure = 2;
    const r = await runModule(serviceModule, ctxFor(h), { state: 'stopped' });
    expect(r.status).toBe('failed');
    expect(r.error?.code).toBe('E_GUARD');
    expect(r.msg).toMatch(/audit=1 in failure 2/);
    expect(h.commands.some((c) => /stop/.test(c))).toBe(false);
    const d = new FakeHost();
    d.status.failure = 2;
    expect((await runModule(serviceModule, ctxFor(d), { state: 'stopped' })).status).toBe('changed');
  });

  it('falls back to auditctl --signal TERM when service only forwards to a refusing systemctl', async () => {
    const h = new FakeHost();
    h.refuseManualStop = true;
    h.serviceLegacyActions = false;
    const r = await runModule(serviceModule, ctxFor(h), { state: 'stopped' });
    expect(r.status).toBe('changed');
    expect(h.commands).toContain('auditctl --signal TERM 2>&1');
    expect(h.active).toBe(false);
  });

  it('uses systemctl on a Debian unit; restart verifies a new pid and a drained backlog', async () => {
    const h = new FakeHost();
    h.stuck = true;
    h.status.backlog = 65;
    h.status.backlog_limit = 64;
    const before = h.status.pid;
    const r = await runModule(serviceModule, ctxFor(h), { state: 'restarted' });
    expect(r.status).toBe('changed');
    expect(h.commands).toContain("systemctl restart 'auditd' 2>&1");
    expect(h.status.pid).not.toBe(before);
    expect(h.status.backlog).toBe(0);
  });

  it("auditd's state before and after a restart comes from the probe: the module starts only its action", async () => {
    const h = new FakeHost();
    h.refuseManualStop = true; // read from the unit file by the probe's auditd_unit section
    const check = await runModule(serviceModule, ctxFor(h, { check: true }), { state: 'restarted' });
    expect(check.msg).toMatch(/via service auditd restart/);
    // besides the probe, only the start guards' builtin read of the rule files (audit-files.ts)
    const own = () => h.commands.filter((c) => !c.includes('@@fleetmend:') && !c.startsWith('fm_p='));
    expect(own()).toEqual([]);
    const probes = () => h.commands.filter((c) => c.includes('@@fleetmend:')).length;
    const beforeApply = probes();
    const r = await runModule(serviceModule, ctxFor(h), { state: 'restarted' });
    expect(r.status, r.msg).toBe('changed');
    // the verification looks at the sample it just took before it polls again: on this host (pid
    // registered, backlog drained at once) 3 probe round trips in all, where it took 5 (each
    // first poll repeated the sample just read, one more auditctl -s on a stalled host)
    expect(probes() - beforeApply).toBe(3);
    expect(own().filter((c) => !/^kill -CONT \d+ 2>&1$/.test(c))).toEqual(["service 'auditd' restart 2>&1"]);
  });

  it('restart on a refusing unit without a legacy service: TERM then start', async () => {
    const h = new FakeHost();
    h.refuseManualStop = true;
    h.serviceLegacyActions = false;
    const r = await runModule(serviceModule, ctxFor(h), { state: 'restarted' });
    expect(r.status).toBe('changed');
    // SIGCONT first: the legacy stop sends TERM without it, which a SIGSTOPped auditd would keep pending
    const tried = (r.data as { tried: string[] }).tried;
    expect(tried[0]).toMatch(/^kill -CONT \d+$/);
    expect(tried.slice(1)).toEqual(["service 'auditd' restart", 'auditctl --signal TERM', "systemctl start 'auditd'"]);
    expect(h.active).toBe(true);
  });

  it('any unit is accepted; auditd.service is auditd; a name that is not a unit name is not', () => {
    expect(serviceArgs.parse({ name: 'sshd', state: 'stopped' }).name).toBe('sshd');
    expect(serviceArgs.parse({ name: 'auditd.service', state: 'started' }).name).toBe('auditd');
    expect(serviceArgs.safeParse({ name: 'a; reboot', state: 'stopped' }).success).toBe(false);
    expect(serviceArgs.safeParse({ name: 'sshd' }).success).toBe(false);
  });
});

describe('reboot module', () => {
  it('parses boot_id strictly: a wall message is not a boot_id (ansible#78007)', () => {
    expect(parseBootId('0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0\n').value).toBe('0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0');
    expect(parseBootId('Broadcast message from root@host: The system is going down for reboot').value).toBeUndefined();
    expect(parseBootId('0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0 extra').value).toBeUndefined();
  });

  it('reboot guard: refuses all hosts at once unless serial or allow_parallel_reboot', async () => {
    const h = new FakeHost();
    const play = { hostsInPlay: 3, batchSize: 3, memoryShare: 0.1, allowParallelReboot: false };
    const r = await runModule(rebootModule, ctxFor(h, { play }), { schedule: '+10' });
    expect(r.error?.code).toBe('E_GUARD');
    expect(h.commands).toEqual([]);
    const serial = await runModule(rebootModule, ctxFor(h, { play: { ...play, batchSize: 1 } }), { schedule: '+10' });
    expect(serial.status).toBe('changed');
    const allowed = await runModule(rebootModule, ctxFor(h, { play: { ...play, allowParallelReboot: true } }), { schedule: '+10' });
    expect(allowed.status).toBe('changed');
  });

  it('schedules with shutdown -r and cancels with shutdown -c', async () => {
    const h = new FakeHost();
    expect((await runModule(rebootModule, ctxFor(h), { schedule: '+10', msg: "it's time" })).status).toBe('changed');
    expect(h.commands).toContain(`shutdown -r +10 'it'\\''s time' 2>&1`);
    expect((await runModule(rebootModule, ctxFor(h), { cancel: true })).status).toBe('changed');
    expect(h.files.has('/run/systemd/shutdown/scheduled')).toBe(false);
    expect(rebootArgs.safeParse({ schedule: '+10; rm -rf /' }).success).toBe(false);
  });

  it('now: waits for a new boot_id, keeps polling while the old one or a wall message answers', async () => {
    const h = new FakeHost();
    const old = h.bootId;
    let attempts = 0;
    const reconnect = async () => {
      attempts++;
      if (attempts === 1) throw new FleetmendError('E_CONNECT', 'connection refused');
      if (attempts === 2) h.down = false; // back, but not rebooted yet (old boot_id)
      if (attempts === 3) h.bootIdText = 'Broadcast message from root@fake1 (Tue 2026-11-24):\nThe system will reboot now!\n';
      if (attempts === 4) {
        h.bootIdText = undefined;
        h.reboot();
      }
      return new FakeTransport(h);
    };
    const r = await runModule(rebootModule, ctxFor(h, { reconnect }), { schedule: 'now', poll_interval: 1 });
    expect(r.status).toBe('changed');
    expect(attempts).toBe(4);
    expect(r.data).toMatchObject({ boot_id_before: old, boot_id_after: h.bootId });
    expect(r.transport).toBeInstanceOf(FakeTransport);
  });

  it('a host key change across the reboot is an error, never accepted', async () => {
    const h = new FakeHost();
    const reconnect = async () => {
      throw new FleetmendError('E_HOSTKEY_CHANGED', 'host key for fake1 changed');
    };
    const r = await runModule(rebootModule, ctxFor(h, { reconnect }), { schedule: 'now', poll_interval: 1 });
    expect(r.status).toBe('failed');
    expect(r.error?.code).toBe('E_HOSTKEY_CHANGED');
  });

  it('times out as unreachable when the host never returns with a new boot_id', async () => {
    const h = new FakeHost();
    const reconnect = async () => {
      throw new FleetmendError('E_CONNECT', 'connection refused');
    };
    const r = await runModule(rebootModule, ctxFor(h, { reconnect }), { schedule: 'now', poll_interval: 5, reboot_timeout: 30 });
    expect(r.status).toBe('unreachable');
    expect(r.error?.code).toBe('E_CONNECT_TIMEOUT');
  });
});

describe('command / shell modules', () => {
  it('command does not interpret shell syntax', async () => {
    expect(splitWords(`echo 'a b' "c;d" e\\ f`)).toEqual(['echo', 'a b', 'c;d', 'e f']);
    const h = new FakeHost();
    await runModule(commandModule, ctxFor(h), { cmd: 'echo hi; reboot' });
    expect(h.commands).toEqual([`'echo' 'hi;' 'reboot'`]);
  });

  it('is skipped in check mode unless check_safe', async () => {
    const h = new FakeHost();
    expect((await runModule(shellModule, ctxFor(h, { check: true }), { cmd: 'echo x' })).status).toBe('skipped');
    expect(h.commands).toEqual([]);
    expect((await runModule(shellModule, ctxFor(h, { check: true }), { cmd: 'echo x', check_safe: true })).status).toBe('changed');
    expect(h.commands).toEqual(['echo x']);
  });

  it('creates/removes make it idempotent', async () => {
    const h = new FakeHost();
    h.files.set('/etc/done', '');
    expect((await runModule(shellModule, ctxFor(h), { cmd: 'echo x', creates: '/etc/done' })).status).toBe('ok');
    expect((await runModule(shellModule, ctxFor(h), { cmd: 'echo x', removes: '/etc/nothing' })).status).toBe('ok');
    expect(h.commands.filter((c) => c === 'echo x')).toEqual([]);
  });

  it('a non-zero rc fails with rc and stderr', async () => {
    const r = await runModule(shellModule, ctxFor(new FakeHost()), { cmd: 'nosuchthing' });
    expect(r).toMatchObject({ status: 'failed', rc: 127 });
    expect(commandArgs.safeParse({ cmd: 'x', bogus: 1 }).success).toBe(false);
  });
});
