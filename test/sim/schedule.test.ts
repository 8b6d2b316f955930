import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scheduledRunner } from '../../src/cli/schedule.js';
import { systemClock } from '../../src/executor/clock.js';
import type { Interrupt } from '../../src/executor/interrupt.js';
import type { DriftNotification } from '../../src/drift/index.js';
import { runScheduler, type ScheduleConfig, type SchedulerIO } from '../../src/schedule/index.js';
import { startFleet, type Fleet } from '../../src/sim/index.js';
import { startWebhookReceiver } from '../helpers/webhook.js';
import { CLI_BIN, textSink } from '../helpers/cli.js';
import { storedRuns } from '../helpers/store.js';

/**
 * The scheduler against the simulated fleet over real SSH: real sweeps (the run layer, in-process)
 * on a seconds-level cron, recorded in a real store. Every wait is bounded.
 */
let fleet: Fleet;
let dir: string;
let server: Server | undefined;
const children: ChildProcess[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fleetmend-sched-sim-'));
  fleet = await startFleet({ dir: join(dir, 'fleet'), scenario: 'healthy', hosts: 3, loginDelayScale: 0 });
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null && c.pid) process.kill(c.pid, 'SIGKILL');
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  await fleet?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function never(): Interrupt {
  const a = new AbortController();
  return { stopStarting: a.signal, abortInFlight: new AbortController().signal, interrupted: false, dispose() {} };
}

const sweepArgs = (extra: string[] = []) =>
  ['sweep', '-i', fleet.inventoryPath, '--known-hosts', fleet.knownHostsPath, '--json', '-q', ...(extra.includes('--samples') ? [] : ['--samples', '1']), ...extra];

type Execute = SchedulerIO['execute'];

function schedule(stateDir: string, over: Partial<ScheduleConfig>, wrap: (run: Execute) => Execute = (run) => run) {
  const err = textSink();
  const out = textSink();
  const cfg: ScheduleConfig = { cron: '*/2 * * * * *', command: sweepArgs(), stateDir, notify: 'changes', ...over };
  const io = { stdout: out.stream, stderr: err.stream, env: process.env, clock: systemClock };
  // the CLI's runner: the scheduled command parsed once, each run through the run layer in-process
  const done = scheduledRunner(cfg.command, stateDir, { ...io, exitCode: 0 }).then((execute) =>
    runScheduler(cfg, { ...io, interrupt: never, execute: wrap(execute) }),
  );
  return { done, log: err.text, stdout: out.text };
}

describe('fleetmend schedule on the simulated fleet', () => {
  it('two ticks of */2 seconds produce two recorded sweeps, compared with each other', async () => {
    const stateDir = join(dir, 'two-ticks');
    const { done, log, stdout } = schedule(stateDir, { maxRuns: 2 });
    const out = await done;
    expect(out).toEqual({ exitCode: 0, runs: 2, skipped: 0 });
    const runs = storedRuns(stateDir);
    expect(runs).toHaveLength(2);
    for (const r of runs) {
      expect(r).toMatchObject({ status: 'finished', finished: true, pending: [] });
      expect(r.run.inventory).toBe(fleet.inventoryPath);
      expect(r.hosts.map((h) => h.status)).toEqual(['ok', 'ok', 'ok']);
    }
    const [a, b] = runs.map((r) => Date.parse(r.run.started_at));
    expect(b! - a!).toBeGreaterThanOrEqual(1_500);
    // stdout: one line per tick and the drift, never the run's table or JSON document
    expect(stdout().split('\n').filter((l) => / run \d+ /.test(l))).toEqual([
      expect.stringMatching(new RegExp(`^\\S+Z run 1 ${runs[0]!.run.id}: exit 0; 3 hosts: 3 ok$`)),
      expect.stringMatching(new RegExp(`^\\S+Z run 2 ${runs[1]!.run.id}: exit 0; 3 hosts: 3 ok$`)),
    ]);
    expect(stdout()).not.toContain('"hosts"');
    expect(stdout()).toContain('no previous run');
    expect(stdout()).toContain(`drift: no change since run ${runs[0]!.run.id}`);
    expect(log()).not.toContain('drift:');
  });

  it('a run slower than the tick makes the next tick skip (logged), and never overlaps', async () => {
    const stateDir = join(dir, 'slow');
    // two samples 3 s apart: each run outlasts the 2 s tick
    const { done, log } = schedule(stateDir, { maxRuns: 2, command: sweepArgs(['--samples', '2', '--interval', '3']) });
    const out = await done;
    expect(out.runs).toBe(2);
    expect(out.skipped).toBeGreaterThanOrEqual(1);
    expect(log()).toMatch(/tick \S+Z skipped: the run started at \S+Z is still in progress/);
    const runs = storedRuns(stateDir);
    expect(runs).toHaveLength(2);
    expect(Date.parse(runs[1]!.run.started_at)).toBeGreaterThanOrEqual(Date.parse(runs[0]!.run.finished_at!));
  });

  it('reports drift when the simulated fleet changes between runs, and posts it to the webhook', async () => {
    const hook = await startWebhookReceiver<DriftNotification>(204);
    server = hook.server;
    const { got, url } = hook;
    const victim = fleet.hosts[1]!;
    const stateDir = join(dir, 'drift');
    let calls = 0;
    const { done, stdout } = schedule(stateDir, { maxRuns: 2, webhook: url }, (run) => async (runIo) => {
      const result = await run(runIo);
      if (++calls === 1) victim.model.stopAuditd(); // between run 1 and run 2
      return result;
    });
    try {
      await done;
    } finally {
      victim.model.startAuditd();
    }
    const runs = storedRuns(stateDir);
    expect(runs).toHaveLength(2);
    expect(runs[1]!.hosts.find((h) => h.host === victim.name)?.diagnosis?.state).toBe('auditd-not-running');
    expect(stdout()).toMatch(new RegExp(`drift: 1 host changed since run ${runs[0]!.run.id}[^\\n]*\\n\\s+${victim.name}\\s+state healthy → auditd-not-running`));
    expect(got).toHaveLength(1); // --notify changes: the unchanged baseline is not posted
    expect(got[0]).toMatchObject({
      schema: 'fleetmend.drift/v1', event: 'drift', changed: true, inventory: fleet.inventoryPath,
      run: { id: runs[1]!.run.id, exit_code: 2, summary: { hosts: 3, ok: 3 } }, previous_run: { id: runs[0]!.run.id }, hosts_changed: 1,
    });
    expect(got[0]!.hosts[0]!.host).toBe(victim.name);
    expect(got[0]!.hosts[0]!.changes).toContainEqual({ kind: 'state-changed', from: 'healthy', to: 'auditd-not-running' });
    expect(got[0]!.hosts[0]!.changes.map((c) => c.kind)).toContain('new-finding');
  });
});

/** The built binary's schedule command. */
function cliEntry(): string[] {
  return [CLI_BIN, 'schedule'];
}

describe('fleetmend schedule as a process', () => {
  it('SIGTERM during a run: the run stops starting hosts, is recorded completely, exit 130', async () => {
    const stateDir = join(dir, 'sigterm');
    const entry = cliEntry();
    // one host at a time, 4 s between samples: SIGTERM lands in the first host's sampling
    const child = spawn(process.execPath, [...entry, '--cron', '* * * * * *', '--state-dir', stateDir, '--',
      ...sweepArgs(['--samples', '2', '--interval', '4', '-f', '1'])], { stdio: ['ignore', 'pipe', 'pipe'], cwd: process.cwd() });
    children.push(child);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout!.resume();
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const deadline = Date.now() + 20_000;
    while (!stderr.includes('run 1 started') && Date.now() < deadline && child.exitCode === null) await systemClock.sleep(50);
    expect(stderr, stderr).toContain('run 1 started');
    await systemClock.sleep(1_500); // inside the first host's 4 s interval
    child.kill('SIGTERM');
    const code = await Promise.race([exited, systemClock.sleep(20_000).then(() => 'timeout' as const)]);
    expect(code, stderr).toBe(130);
    expect(stderr).toMatch(/SIGTERM: no new runs/);
    const runs = storedRuns(stateDir);
    expect(runs).toHaveLength(1);
    const run = runs[0]!;
    expect(run).toMatchObject({ status: 'interrupted', finished: true });
    expect(run.run.finished_at).toBeDefined();
    expect(run.summary?.hosts).toBe(3);
    // every host is accounted for: the one in flight finished and was recorded, the rest were not started
    expect(run.hosts.length + run.pending.length).toBe(3);
    expect(run.hosts.find((h) => h.host === fleet.hosts[0]!.name)?.status).toBe('ok');
    // the scheduler's locks are gone
    expect(readdirSync(join(stateDir, 'locks'))).toEqual([]);
  });
});
