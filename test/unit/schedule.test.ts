import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { hostname, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FleetmendError } from '../../src/errors.js';
import { systemClock } from '../../src/executor/clock.js';
import type { HostResult, RunInfo } from '../../src/results/index.js';
import type { Interrupt } from '../../src/executor/interrupt.js';
import { prepareCommand, runScheduler } from '../../src/schedule/index.js';
import type { RunIO, ScheduleConfig, ScheduledRunResult } from '../../src/schedule/index.js';
import { acquireInventoryLock, liveLockHolder, lockFile, openStore } from '../../src/store/index.js';
import type { DriftNotification } from '../../src/drift/index.js';
import { buildHost, summarize } from '../fixtures/results/build.js';
import { startWebhookReceiver } from '../helpers/webhook.js';

let dir: string;
let server: Server | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fleetmend-schedule-'));
});
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** A controllable two-stage interrupt (what SIGTERM would do). */
function testInterrupt() {
  const first = new AbortController();
  const second = new AbortController();
  const it: Interrupt = {
    stopStarting: first.signal,
    abortInFlight: second.signal,
    get interrupted() { return first.signal.aborted; },
    dispose() {},
  };
  return { it, signal: () => (first.signal.aborted ? second.abort() : first.abort()) };
}

/**
 * A stand-in for the run layer's sweep that records a run in the real store, the way it does:
 * startRun, one host result per host, finishRun, the outcome; the fleet is mutable. It checks
 * that the scheduler holds the inventory's run lock around it.
 */
function fakeSweep(opts: { fleet: () => HostResult[]; durationMs?: number | (() => number) }) {
  const calls: { started: number; io: RunIO; lockHolder: number | undefined }[] = [];
  const execute = async (io: RunIO): Promise<ScheduledRunResult> => {
    const stateDir = join(dir, 'state');
    const inventory = resolve(join(dir, 'inv.yml'));
    calls.push({ started: Date.now(), io, lockHolder: liveLockHolder(stateDir, inventory)?.pid });
    const store = openStore(stateDir);
    const interrupt = io.interrupt();
    try {
      const run: RunInfo = { id: `R${calls.length}-${Date.now()}`, mode: 'sweep', started_at: new Date().toISOString(), forks: 5, inventory };
      const hosts = opts.fleet();
      store.startRun(run, hosts.map((h) => h.host));
      const d = typeof opts.durationMs === 'function' ? opts.durationMs() : (opts.durationMs ?? 0);
      await systemClock.sleep(d, interrupt.stopStarting);
      // stopped early: the first host is recorded, the rest stay pending
      const done = interrupt.interrupted ? hosts.slice(0, 1) : hosts;
      for (const h of done) store.recordHost(run.id, h);
      const summary = summarize(done);
      const finished = { ...run, finished_at: new Date().toISOString() };
      store.finishRun(run.id, summary, { interrupted: interrupt.interrupted, finished_at: finished.finished_at });
      interrupt.dispose();
      return { exitCode: interrupt.interrupted ? 130 : summary.failed || summary.non_compliant ? 2 : 0, run: finished, summary };
    } finally {
      store.close();
    }
  };
  return { calls, execute };
}

function sink() {
  const s = new PassThrough();
  let text = '';
  s.on('data', (d: Buffer) => (text += d.toString()));
  return { stream: s, text: () => text };
}

function config(over: Partial<ScheduleConfig> = {}): ScheduleConfig {
  return { cron: '* * * * * *', command: ['sweep', '-i', join(dir, 'inv.yml'), '--samples', '1'], stateDir: join(dir, 'state'), notify: 'changes', ...over };
}

async function webhookReceiver(): Promise<{ url: string; got: DriftNotification[] }> {
  const r = await startWebhookReceiver<DriftNotification>();
  server = r.server;
  return r;
}

describe('prepareCommand', () => {
  it('forwards the command with the scheduler state dir and finds the inventory', () => {
    expect(prepareCommand(['sweep', '-i', 'inv.yml', '--json'], '/s')).toEqual({
      argv: ['sweep', '-i', 'inv.yml', '--json', '--state-dir', '/s'], inventory: 'inv.yml', inventoryAbs: resolve('inv.yml'),
    });
    expect(prepareCommand(['run', 'pb.yml', '--inventory=a.yml', '--state-dir', '/s'], '/s').argv).toEqual(['run', 'pb.yml', '--inventory=a.yml', '--state-dir', '/s']);
    expect(prepareCommand(['sweep', '-ia.yml'], '/s').inventory).toBe('a.yml');
  });

  it.each([
    [['report', 'latest'], /'sweep' or 'run'/],
    [[], /got nothing/],
    [['sweep', '--samples', '1'], /needs -i INVENTORY/],
    [['sweep', '-i', 'a.yml', '--no-store'], /must be recorded/],
    [['sweep', '-i', 'a.yml', '--state-dir', '/other'], /--state-dir differs/],
  ])('refuses %j', (cmd, msg) => {
    expect(() => prepareCommand(cmd, '/s')).toThrow(msg);
  });
});

describe('runScheduler', () => {
  it('refuses a bad cron expression, time zone or webhook before anything runs', async () => {
    const { execute, calls } = fakeSweep({ fleet: () => [] });
    const io = { stdout: sink().stream, stderr: sink().stream, env: {}, clock: systemClock, execute, interrupt: () => testInterrupt().it };
    await expect(runScheduler(config({ cron: '61 * * * * *' }), io)).rejects.toThrow(/--cron '61 \* \* \* \* \*'/);
    await expect(runScheduler(config({ timezone: 'Mars/Olympus' }), io)).rejects.toThrow(/unknown time zone/);
    await expect(runScheduler(config({ webhook: 'ftp://x/y' }), io)).rejects.toThrow(/http\(s\) URL/);
    expect(calls).toHaveLength(0);
  });

  it('runs on each tick, records every run, computes drift against the previous run and notifies changes', async () => {
    const hookd = await webhookReceiver();
    const healthy = buildHost('healthy', { index: 1 });
    const lost = { ...buildHost('auditd-not-running', { index: 1 }) };
    let state = [healthy];
    const { execute, calls } = fakeSweep({ fleet: () => state });
    const err = sink();
    const stdout = sink();
    const out = await runScheduler(config({ maxRuns: 3, webhook: hookd.url }), {
      stdout: stdout.stream, stderr: err.stream, env: {}, clock: systemClock, interrupt: () => testInterrupt().it,
      execute: async (io) => {
        const code = await execute(io);
        if (calls.length === 2) state = [lost]; // the fleet changes between run 2 and run 3
        return code;
      },
    });
    expect(out).toEqual({ exitCode: 0, runs: 3, skipped: 0 });
    // every run ran inside the scheduler's hold of the inventory's run lock
    expect(calls.map((c) => c.lockHolder)).toEqual(Array(3).fill(process.pid));
    // ticks are a second apart (the cron has a seconds field)
    expect(calls[1]!.started - calls[0]!.started).toBeGreaterThanOrEqual(900);
    const store = openStore(join(dir, 'state'));
    try {
      expect(store.listRuns().map((r) => r.status)).toEqual(['finished', 'finished', 'finished']);
    } finally {
      store.close();
    }
    const log = err.text();
    // stdout: one line per run, then its drift
    const printed = stdout.text();
    expect(printed.split('\n').filter((l) => / run \d /.test(l))).toEqual([
      expect.stringMatching(/^\S+Z run 1 R1-\d+: exit 0; 1 host: 1 ok$/),
      expect.stringMatching(/^\S+Z run 2 R2-\d+: exit 0; 1 host: 1 ok$/),
      expect.stringMatching(/^\S+Z run 3 R3-\d+: exit 2; 1 host: 1 ok, 1 non-compliant$/),
    ]);
    expect(printed).toContain('no previous run');
    expect(printed).toContain('drift: no change since run R1');
    expect(printed).toMatch(/drift: 1 host changed since run R2[^\n]*\n\s+web001\s+state healthy → auditd-not-running/);
    // --notify changes: only the run with drift was posted
    expect(hookd.got).toHaveLength(1);
    expect(hookd.got[0]).toMatchObject({ event: 'drift', changed: true, run: { id: expect.stringMatching(/^R3-/), exit_code: 2 }, previous_run: { id: expect.stringMatching(/^R2-/) } });
    expect(hookd.got[0]!.hosts[0]!.changes).toContainEqual({ kind: 'new-finding', code: 'auditd-not-running', severity: 'high', message: expect.any(String) });
    expect(log).toContain('notified http://127.0.0.1:');
  });

  it('never starts a run while the previous one is going: the tick is skipped and logged with its time', async () => {
    const { execute, calls } = fakeSweep({ fleet: () => [buildHost('healthy', { index: 1 })], durationMs: () => (calls.length === 1 ? 2_300 : 0) });
    const err = sink();
    const out = await runScheduler(config({ maxRuns: 2 }), { stdout: sink().stream, stderr: err.stream, env: {}, clock: systemClock, execute, interrupt: () => testInterrupt().it });
    expect(out.runs).toBe(2);
    expect(out.skipped).toBeGreaterThanOrEqual(2);
    expect(err.text()).toMatch(/tick \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z skipped: the run started at \S+ is still in progress/);
    expect(calls[1]!.started - calls[0]!.started).toBeGreaterThanOrEqual(2_300);
  });

  it('on a signal during a run: no new runs, the run is recorded (interrupted), exit 130', async () => {
    const ctl = testInterrupt();
    const { execute, calls } = fakeSweep({ fleet: () => [buildHost('healthy', { index: 1 }), buildHost('healthy', { index: 2 })], durationMs: 10_000 });
    const err = sink();
    const done = runScheduler(config(), {
      stdout: sink().stream, stderr: err.stream, env: {}, clock: systemClock, interrupt: () => ctl.it,
      execute: (io) => {
        setTimeout(ctl.signal, 300);
        return execute(io);
      },
    });
    const t0 = Date.now();
    const out = await done;
    expect(out).toEqual({ exitCode: 130, runs: 1, skipped: 0 });
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(calls).toHaveLength(1);
    const store = openStore(join(dir, 'state'));
    try {
      const run = store.getRun('latest');
      expect(run).toMatchObject({ status: 'interrupted', finished: true, pending: ['web002'] });
      expect(run.hosts.map((h) => h.host)).toEqual(['web001']);
    } finally {
      store.close();
    }
  });

  it('on a signal between runs exits 0 without starting one', async () => {
    const ctl = testInterrupt();
    const { execute, calls } = fakeSweep({ fleet: () => [] });
    setTimeout(ctl.signal, 100);
    const out = await runScheduler(config({ cron: '0 0 1 1 *' }), { stdout: sink().stream, stderr: sink().stream, env: {}, clock: systemClock, execute, interrupt: () => ctl.it });
    expect(out).toEqual({ exitCode: 0, runs: 0, skipped: 0 });
    expect(calls).toHaveLength(0);
  });

  it('holds the run lock around each run (the run is told so) and refuses a second scheduler', async () => {
    const inv = join(dir, 'inv.yml');
    const { execute } = fakeSweep({ fleet: () => [] });
    let insideLocked = '';
    const first = runScheduler(config({ maxRuns: 1 }), {
      stdout: sink().stream, stderr: sink().stream, env: {}, clock: systemClock, interrupt: () => testInterrupt().it,
      execute: async (io) => {
        // a manual sweep is refused while the scheduled one runs
        try {
          acquireInventoryLock(join(dir, 'state'), inv);
        } catch (err) {
          insideLocked = (err as FleetmendError).code;
        }
        return execute(io);
      },
    });
    await expect(runScheduler(config(), { stdout: sink().stream, stderr: sink().stream, env: {}, clock: systemClock, execute, interrupt: () => testInterrupt().it }))
      .rejects.toMatchObject({ code: 'E_LOCKED_RUN', message: expect.stringContaining(`pid ${process.pid} (a scheduler`) });
    expect((await first).runs).toBe(1);
    expect(insideLocked).toBe('E_LOCKED_RUN');
    acquireInventoryLock(join(dir, 'state'), inv)(); // all released
    acquireInventoryLock(join(dir, 'state'), inv, { kind: 'scheduler' })();
  });

  it('skips a tick while another process runs the inventory', async () => {
    const { execute, calls } = fakeSweep({ fleet: () => [] });
    const release = acquireInventoryLock(join(dir, 'state'), join(dir, 'inv.yml'), { pid: process.ppid });
    const err = sink();
    const ctl = testInterrupt();
    setTimeout(ctl.signal, 1_500);
    const out = await runScheduler(config(), { stdout: sink().stream, stderr: err.stream, env: {}, clock: systemClock, execute, interrupt: () => ctl.it });
    release();
    expect(calls).toHaveLength(0);
    expect(out.skipped).toBeGreaterThanOrEqual(1);
    expect(err.text()).toContain(`is locked by pid ${process.ppid}`);
  });

  it('yields its tick to a manual run waiting for the lock (--wait-lock), and logs why', async () => {
    const { execute, calls } = fakeSweep({ fleet: () => [] });
    // a manual sweep of another process, waiting: its waiter file beside the run lock
    const lock = lockFile(join(dir, 'state'), join(dir, 'inv.yml'));
    mkdirSync(dirname(lock), { recursive: true, mode: 0o700 });
    writeFileSync(`${lock}.waiter-${process.ppid}`, JSON.stringify({ pid: process.ppid, hostname: hostname(), kind: 'run', inventory: join(dir, 'inv.yml'), acquired_at: new Date().toISOString(), nonce: 'w' }));
    const err = sink();
    const ctl = testInterrupt();
    setTimeout(ctl.signal, 1_500);
    const out = await runScheduler(config(), { stdout: sink().stream, stderr: err.stream, env: {}, clock: systemClock, execute, interrupt: () => ctl.it });
    expect(calls).toHaveLength(0);
    expect(out.skipped).toBeGreaterThanOrEqual(1);
    expect(err.text()).toContain(`skipped: a manual run (pid ${process.ppid}) is waiting for`);
  });

  it('a run that records nothing (bad input) is notified once with --notify changes, and the loop goes on', async () => {
    const got: string[] = [];
    const err = sink();
    const out = await runScheduler(config({ maxRuns: 2, notifyCommand: `cat >> '${join(dir, 'n.jsonl')}'` }), {
      stdout: sink().stream, stderr: err.stream, env: {}, clock: systemClock, interrupt: () => testInterrupt().it,
      execute: async (io) => {
        io.stderr.write('fleetmend: inv.yml: no such file [E_INVENTORY]\n');
        got.push('x');
        return { exitCode: 1, error: 'inv.yml: no such file [E_INVENTORY]' };
      },
    });
    expect(out.runs).toBe(2);
    const { readFileSync } = await import('node:fs');
    const lines = readFileSync(join(dir, 'n.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as DriftNotification);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ event: 'run-failed', error: 'inv.yml: no such file [E_INVENTORY]' });
    expect(err.text()).toContain('finished: exit 1, nothing recorded');
  });

  it('--notify always posts every run, including the baseline', async () => {
    const hookd = await webhookReceiver();
    const { execute } = fakeSweep({ fleet: () => [buildHost('healthy', { index: 1 })] });
    await runScheduler(config({ maxRuns: 2, notify: 'always', webhook: hookd.url }), { stdout: sink().stream, stderr: sink().stream, env: {}, clock: systemClock, execute, interrupt: () => testInterrupt().it });
    expect(hookd.got.map((n) => n.event)).toEqual(['baseline', 'no-change']);
  });
});
