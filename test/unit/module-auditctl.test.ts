import { describe, expect, it } from 'vitest';
import { auditctlModule, auditctlArgs, panicRisks } from '../../src/modules/auditctl.js';
import type { ModuleContext, ModuleOutcome } from '../../src/modules/types.js';
import type { AuditStatus } from '../../src/facts/types.js';
import { FakeHost, FakeTransport, sessionOver } from '../fixtures/playbooks/fake-host.js';

function clock() {
  let t = 1_700_000_000_000;
  return { now: () => t, sleep: async (ms: number) => void (t += ms) };
}

function ctxFor(host: FakeHost, over: Partial<ModuleContext> = {}): ModuleContext {
  const c = clock();
  return {
    host: 'fake1',
    session: sessionOver(new FakeTransport(host), c),
    check: false,
    diff: true,
    become: true,
    clock: c,
    play: { hostsInPlay: 1, batchSize: 1, memoryShare: 0.1, allowParallelReboot: false },
    scope: {},
    guardSampleMs: 2000,
    reconnect: async () => new FakeTransport(host),
    ...over,
  };
}

async function runModule(ctx: ModuleContext, raw: Record<string, unknown>): Promise<ModuleOutcome> {
  const args = auditctlArgs.parse(raw);
  const checked = await auditctlModule.check(ctx, args);
  if (ctx.check || checked.status !== 'changed' || !checked.plan) return checked;
  return auditctlModule.apply(ctx, args, checked.plan, checked);
}

const mutating = (h: FakeHost) => h.commands.filter((c) => /^auditctl (-b|-f|-e|--backlog)|^tee |^augenrules/.test(c));

describe('auditctl module', () => {
  it('changes only what differs, verifies, and a second apply is ok', async () => {
    const h = new FakeHost();
    h.status.backlog_limit = 64;
    const first = await runModule(ctxFor(h), { backlog_limit: 8192, failure: 1 });
    expect(first.status).toBe('changed');
    expect(mutating(h)).toEqual(['auditctl -b 8192']);
    expect(h.status.backlog_limit).toBe(8192);
    expect(first.diff?.[0]).toEqual({ path: 'auditctl -s', before: 'backlog_limit 64\n', after: 'backlog_limit 8192\n' });
    h.commands = [];
    const second = await runModule(ctxFor(h), { backlog_limit: 8192, failure: 1 });
    expect(second.status).toBe('ok');
    expect(mutating(h)).toEqual([]);
  });

  it('check mode predicts the change and runs nothing that changes the host', async () => {
    const h = new FakeHost();
    h.status.failure = 2;
    const r = await runModule(ctxFor(h, { check: true }), { failure: 0, persist: true });
    expect(r.status).toBe('changed');
    expect(r.msg).toMatch(/would run: -f 0, write \/etc\/audit\/rules.d\/zz-fleetmend.rules/);
    expect(mutating(h)).toEqual([]);
    expect(h.status.failure).toBe(2);
    expect(h.files.size).toBe(0);
  });

  it('persist writes the rules file with tee, loads it, and reports a diff of the file', async () => {
    const h = new FakeHost();
    h.status.backlog_limit = 64;
    h.files.set('/etc/audit/rules.d/zz-fleetmend.rules', '-b 64\n');
    const r = await runModule(ctxFor(h), { backlog_limit: 10240, persist: true });
    expect(r.status).toBe('changed');
    const file = h.files.get('/etc/audit/rules.d/zz-fleetmend.rules');
    expect(file).toMatch(/^-b 10240$/m);
    expect(mutating(h)).toEqual(['auditctl -b 10240', "tee '/etc/audit/rules.d/zz-fleetmend.rules' >/dev/null", 'augenrules --load 2>&1']);
    expect(r.diff?.find((d) => d.path === '/etc/audit/rules.d/zz-fleetmend.rules')).toMatchObject({ before: '-b 64\n', after: file });
    h.commands = [];
    expect((await runModule(ctxFor(h), { backlog_limit: 10240, persist: true })).status).toBe('ok');
    expect(mutating(h)).toEqual([]);
  });

  it('persist refuses a file that a later-sorting rules.d file would override (Debian audit.rules)', async () => {
    const h = new FakeHost();
    h.files.set('/etc/audit/rules.d/audit.rules', '-D\n-b 8192\n-f 1\n');
    const r = await runModule(ctxFor(h), { backlog_limit: 10240, persist: true, rules_file: '90-fleetmend.rules' });
    expect(r.status).toBe('failed');
    expect(r.msg).toMatch(/audit\.rules \(-b\) sorts after \/etc\/audit\/rules.d\/90-fleetmend.rules/);
    expect(mutating(h)).toEqual([]);
    // the default name sorts after it
    expect((await runModule(ctxFor(h), { backlog_limit: 10240, persist: true })).status).toBe('changed');
    expect(h.status.backlog_limit).toBe(10240);
  });

  it('lock guard: enabled 2 fails "locked until reboot" without attempting anything', async () => {
    const h = new FakeHost();
    h.status.enabled = 2;
    for (const check of [true, false]) {
      const r = await runModule(ctxFor(h, { check }), { backlog_limit: 16384 });
      expect(r.status).toBe('failed');
      expect(r.error?.code).toBe('E_GUARD');
      expect(r.msg).toMatch(/locked until reboot/);
    }
    expect(mutating(h)).toEqual([]);
  });

  it('memory guard: refuses a limit whose buffers exceed the share of MemAvailable, with the numbers', async () => {
    const h = new FakeHost();
    h.memAvailableKb = 1_000_000; // ~977 MiB: 10% is ~98 MiB
    const r = await runModule(ctxFor(h), { backlog_limit: 65536 });
    expect(r.status).toBe('failed');
    expect(r.error?.code).toBe('E_GUARD');
    expect(r.msg).toMatch(/65536 x 8970 bytes/);
    expect(r.msg).toMatch(/560\.\d MiB/);
    expect(mutating(h)).toEqual([]);
    // 10240 buffers = 87.6 MiB fits in 10% of ~977 MiB
    expect((await runModule(ctxFor(h), { backlog_limit: 10240 })).status).toBe('changed');
    // the play's memory_share is honoured
    const strict = await runModule(ctxFor(h, { play: { hostsInPlay: 1, batchSize: 1, memoryShare: 0.05, allowParallelReboot: false } }), {
      backlog_limit: 9000,
    });
    expect(strict.error?.code).toBe('E_GUARD');
  });

  it('panic guard: refuses failure 2 on a host whose auditd is stuck (check and apply), never sending -f 2', async () => {
    for (const check of [true, false]) {
      const h = new FakeHost();
      h.status.backlog_limit = 64;
      h.stuck = true;
      const r = await runModule(ctxFor(h, { check }), { failure: 2 });
      expect(r.status).toBe('failed');
      expect(r.error?.code).toBe('E_GUARD');
      expect(r.msg).toMatch(/panic guard/);
      expect(h.commands).not.toContain('auditctl -f 2');
      expect(h.panicked).toBe(false);
    }
  });

  it('panic guard: refuses failure 2 when the registered auditd is stopped (T) or in D, even with backlog low and lost flat (6.1 empties the queue every pass)', async () => {
    // the state as /proc/PID/stat shows it (the probe's procs section): T stopped, t traced, D in I/O
    for (const state of ['T', 't', 'D']) {
      const h = new FakeHost();
      h.procState = state;
      const r = await runModule(ctxFor(h), { failure: 2 });
      expect(r.status, state).toBe('failed');
      expect(r.error?.code).toBe('E_GUARD');
      expect(r.msg).toMatch(state === 'D' ? /blocked in I\/O \(state D\)/ : new RegExp(`is stopped \\(state ${state}\\)`));
      expect(h.commands).not.toContain('auditctl -f 2');
    }
  });

  it('the guards read their facts from the probe: two round trips, no cat, ps or auditctl -s of their own', async () => {
    const h = new FakeHost();
    h.procState = 'T';
    const r = await runModule(ctxFor(h, { check: true }), { backlog_limit: 16384, failure: 2 });
    expect(r.error?.code).toBe('E_GUARD');
    expect(r.msg).toMatch(/is stopped \(state T\)/);
    expect(h.probes).toBe(2);
    expect(h.commands.filter((c) => !c.includes('@@fleetmend:abcdefgh1234:begin:auditctl_s'))).toEqual([]);
  });

  it('apply verifies on a new probe sample, with no auditctl -s of its own', async () => {
    const h = new FakeHost();
    h.status.backlog_limit = 64;
    const r = await runModule(ctxFor(h), { backlog_limit: 8192 });
    expect(r.status, r.msg).toBe('changed');
    expect((r.data?.after as AuditStatus).backlog_limit).toBe(8192);
    // the growth guard's two samples (a raise), then the verification's after the change
    expect(h.probes).toBe(3);
    expect(h.commands.filter((c) => !c.includes('@@fleetmend:abcdefgh1234:begin:auditctl_s'))).toEqual(['auditctl -b 8192']);
    // a recheck: the status, memory and auditd's state, never the rule list or the kernel log
    const recheck = h.commands.at(-1) ?? '';
    expect(recheck).toContain('auditctl -s');
    expect(recheck).not.toMatch(/auditctl -l|journalctl -b|dmesg 2>/);
    expect(h.commands[0]).toMatch(/auditctl -l/);
  });

  it('the first guard sample reuses the fresh one a task before took; the second is always new', async () => {
    const h = new FakeHost();
    const ctx = ctxFor(h, { check: true });
    await ctx.session.takeSample(true); // what audit_status leaves behind
    const r = await runModule(ctx, { backlog_limit: 16384 });
    expect(r.status).toBe('changed');
    expect(h.probes).toBe(2);
    // a change (or a sample older than SAMPLE_FRESH_MS) costs a new round trip
    ctx.session.invalidate();
    await runModule(ctx, { backlog_limit: 16384 });
    expect(h.probes).toBe(4);
  });

  it('panic guard: on a failure-2 host, lowering -b or the wait is refused when a record could be dropped, allowed on a quiet host', async () => {
    const risky = new FakeHost();
    risky.status.failure = 2;
    risky.status.backlog = 60;
    risky.status.backlog_limit = 8192;
    const r = await runModule(ctxFor(risky), { backlog_limit: 64 });
    expect(r.status).toBe('failed');
    expect(r.error?.code).toBe('E_GUARD');
    expect(r.msg).toMatch(/refusing -b 64 on a host in failure 2/);
    expect(risky.commands).not.toContain('auditctl -b 64');
    const stuck = new FakeHost();
    stuck.status.failure = 2;
    stuck.procState = 'T';
    const w = await runModule(ctxFor(stuck), { backlog_wait_time: 0 });
    expect(w.status).toBe('failed');
    expect(w.msg).toMatch(/--backlog_wait_time 0/);
    const quiet = new FakeHost();
    quiet.status.failure = 2;
    const ok = await runModule(ctxFor(quiet), { backlog_limit: 4096 });
    expect(ok.status).toBe('changed');
  });

  it('panic guard: a handful of queued records on a healthy busy host does not block', async () => {
    const h = new FakeHost();
    h.busyJitter = [3, 7];
    const r = await runModule(ctxFor(h), { failure: 2 });
    expect(r.status).toBe('changed');
    expect(h.status.failure).toBe(2);
  });

  it('panic guard reasons: lost grew, above half the limit, growing, pid 0', () => {
    const base: AuditStatus = {
      enabled: 1, failure: 1, pid: 1, rate_limit: 0, backlog_limit: 8192, lost: 0, backlog: 5, format: 'multiline', unknown_lines: [],
    };
    expect(panicRisks(base, { ...base, backlog: 9 })).toEqual([]);
    expect(panicRisks(base, { ...base, lost: 1 })[0]).toMatch(/lost 0 -> 1/);
    expect(panicRisks(base, { ...base, backlog: 5000 }).join()).toMatch(/above half/);
    expect(panicRisks(base, { ...base, backlog: 500 }).join()).toMatch(/growing \(5 -> 500\)/);
    expect(panicRisks(base, { ...base, pid: 0 }).join()).toMatch(/pid 0/);
  });

  it('growth guard: raising the limit on a growing host is done but warns to restart auditd', async () => {
    const h = new FakeHost();
    h.status.backlog_limit = 64;
    h.stuck = true;
    const r = await runModule(ctxFor(h), { backlog_limit: 8192 });
    expect(r.status).toBe('changed');
    expect(r.warnings?.join('\n')).toMatch(/only delays the failure.*restart auditd/);
    expect(h.status.backlog_limit).toBe(8192);
  });

  it('rejects unknown arguments and out-of-range values', () => {
    expect(auditctlArgs.safeParse({ backlog_limit: 10, bogus: 1 }).success).toBe(false);
    expect(auditctlArgs.safeParse({ failure: 3 }).success).toBe(false);
    expect(auditctlArgs.safeParse({ persist: true }).success).toBe(false);
    expect(auditctlArgs.parse({ backlog_limit: '8192' }).backlog_limit).toBe(8192);
    expect(auditctlArgs.safeParse({ backlog_limit: 1, rules_file: '../x.rules' }).success).toBe(false);
  });
});

describe('auditd_conf: applySettings', () => {
  it('replaces the first occurrence in place, appends missing keys, keeps comments and order; idempotent', async () => {
    const { applySettings } = await import('../../src/modules/auditd_conf.js');
    const text = '# auditd.conf\nlog_file = /var/log/audit/audit.log\ndisk_full_action = SUSPEND\n#q_depth = 1\nadmin_space_left_action = SUSPEND\n';
    const r = applySettings(text, { disk_full_action: 'ROTATE', q_depth: '8192', log_file: '/var/log/audit/audit.log' });
    expect(r.changed).toEqual(['disk_full_action', 'q_depth']);
    expect(r.text).toBe('# auditd.conf\nlog_file = /var/log/audit/audit.log\ndisk_full_action = ROTATE\n#q_depth = 1\nadmin_space_left_action = SUSPEND\nq_depth = 8192\n');
    expect(applySettings(r.text, { disk_full_action: 'ROTATE', q_depth: '8192' }).changed).toEqual([]);
  });
});
