import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scheduledRunner } from '../../src/cli/schedule.js';
import { systemClock } from '../../src/executor/clock.js';
import type { Interrupt } from '../../src/executor/interrupt.js';
import type { HostResult } from '../../src/results/index.js';
import type { RunIO, ScheduledRunResult } from '../../src/schedule/index.js';
import { startFleet, type Fleet } from '../../src/sim/index.js';
import { LOGIN_RECORD_TYPES, LOGOUT_RECORD_TYPES } from '../../src/sim/kernel.js';
import { ConnectionPool } from '../../src/transport/index.js';
import { textSink } from '../helpers/cli.js';
import { storedRuns } from '../helpers/store.js';

/**
 * A warm fleet (issue 25) on the simulated fleet over real SSH: the scheduler's per-tick runner
 * (the same one `schedule` calls on each cron tick) with a pool kept between ticks. Logins and
 * the audit records they add are counted by the simulator, per host.
 */
let fleet: Fleet;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fleetmend-warm-sim-'));
  // the incident scenario: healthy hosts, a stuck-auditd host, a locked one and one that is down
  fleet = await startFleet({ dir: join(dir, 'fleet'), scenario: 'incident', hosts: 8, loginDelayScale: 0, downtimeMs: 0 });
});
afterAll(async () => {
  await fleet?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function never(): Interrupt {
  return { stopStarting: new AbortController().signal, abortInFlight: new AbortController().signal, interrupted: false, dispose() {} };
}

const sweepArgs = () => ['sweep', '-i', fleet.inventoryPath, '--known-hosts', fleet.knownHostsPath, '--json', '-q', '--samples', '1'];

/** The scheduler's runner for one tick after another, warm (with `pool`) or cold. */
async function ticks(stateDir: string, pool: ConnectionPool | undefined) {
  const err = textSink();
  const io = { stdout: textSink().stream, stderr: err.stream, env: process.env, clock: systemClock };
  const execute = await scheduledRunner(sweepArgs(), stateDir, { ...io, exitCode: 0 }, pool);
  const runIo: RunIO = { ...io, interrupt: never };
  return { tick: (): Promise<ScheduledRunResult> => execute(runIo), log: err.text };
}

const logins = () => new Map(fleet.hosts.map((h) => [h.name, h.server.stats.logins]));
const loginRecords = () => fleet.hosts.reduce((n, h) => n + h.model.sshAudit.loginRecords, 0);
function loginsSince(before: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const h of fleet.hosts) {
    const d = h.server.stats.logins - before.get(h.name)!;
    if (d) out[h.name] = d;
  }
  return out;
}

/** What a run decided about a host: everything but timings and counters that move by themselves. */
function verdict(r: HostResult) {
  return {
    host: r.host,
    status: r.status,
    error: r.error?.code,
    state: r.diagnosis?.state,
    findings: r.diagnosis?.findings.map((f) => f.code).sort(),
    enabled: r.audit?.enabled,
    failure: r.audit?.failure,
    backlogLimit: r.audit?.backlog_limit,
    compliance: r.compliance?.controls.map((c) => `${c.id}:${c.passed}`).sort(),
  };
}

describe('warm scheduled sweeps on the simulated fleet', () => {
  const reachable = () => fleet.hosts.filter((h) => !h.faults.some((f) => f.kind === 'down'));

  it('the first sweep logs in once per host; the second and third log in nowhere and add no login records', async () => {
    const pool = new ConnectionPool({ maxWarm: 100, idleTimeoutMs: 60_000 });
    try {
      const { tick, log } = await ticks(join(dir, 'warm'), pool);
      const before = logins();
      const first = await tick();
      expect(loginsSince(before)).toEqual(Object.fromEntries(reachable().map((h) => [h.name, 1])));
      for (const n of [2, 3]) {
        const b = logins();
        const records = loginRecords();
        const execs = fleet.hosts.reduce((k, h) => k + h.model.sshAudit.execs, 0);
        const inShell = pool.stats.shellProbes;
        const again = await tick();
        expect(loginsSince(b), `sweep ${n}`).toEqual({});
        expect(loginRecords(), `sweep ${n}`).toBe(records);
        // each reachable host still ran its probe, in the shell kept on its warm connection:
        // no session channel opened at all (transport/kept-shell.ts)
        expect(pool.stats.shellProbes - inShell, `sweep ${n}`).toBe(reachable().length);
        expect(fleet.hosts.reduce((k, h) => k + h.model.sshAudit.execs, 0) - execs, `sweep ${n}`).toBe(0);
        expect(again.exitCode).toBe(first.exitCode);
      }
      // one probe shell per host, opened by the first sweep (its probe ran in it too)
      expect(pool.stats).toMatchObject({ logins: reachable().length, reused: 2 * reachable().length, deadRetries: 0, shellsOpened: reachable().length, shellProbes: 3 * reachable().length });
      expect(log()).toMatch(/warm: \d+ host\(s\) held, \d+ login\(s\)/);
    } finally {
      await pool.close();
    }
  });

  it('a cold tick adds each host the records of a login (PAM, LOGIN, logout) that a warm tick does not', async () => {
    const host = fleet.hosts.find((h) => h.name.startsWith('app-0') && !h.faults.length)!;
    const { tick } = await ticks(join(dir, 'cold-records'), undefined);
    // the earlier tests' pools are closed: their logouts reach the host shortly after
    const settled = async () => {
      for (let i = 0; i < 50 && host.model.sshAudit.logouts < host.model.sshAudit.logins; i++) await new Promise((r) => setTimeout(r, 20));
    };
    await settled();
    const before = { ...host.model.sshAudit };
    await tick();
    await settled();
    const after = host.model.sshAudit;
    expect(after.logins - before.logins).toBe(1);
    // login and logout records (the connection is closed at the end of a cold run)
    const perExec = host.model.recordsPerExec();
    expect(after.loginRecords - before.loginRecords).toBe(LOGIN_RECORD_TYPES.length + LOGOUT_RECORD_TYPES.length + 2 * perExec);
  });

  it('warm and cold sweeps of the same fleet record the same results and exit codes', async () => {
    const pool = new ConnectionPool({ maxWarm: 100, idleTimeoutMs: 60_000 });
    try {
      const warmDir = join(dir, 'cmp-warm');
      const coldDir = join(dir, 'cmp-cold');
      const warm = await ticks(warmDir, pool);
      const cold = await ticks(coldDir, undefined);
      const codes: number[][] = [[], []];
      for (let i = 0; i < 2; i++) {
        codes[0]!.push((await warm.tick()).exitCode);
        codes[1]!.push((await cold.tick()).exitCode);
      }
      expect(codes[0]).toEqual(codes[1]);
      expect(codes[0]![0]).not.toBe(0); // the incident fleet: a down host, a stuck auditd
      const w = storedRuns(warmDir);
      const c = storedRuns(coldDir);
      expect(w).toHaveLength(2);
      for (let i = 0; i < 2; i++) {
        expect(w[i]!.summary).toEqual(c[i]!.summary);
        // app-03's auditd is stopped: its backlog grows by itself and by every cold login's records
        // (which is the point of a warm sweep), so its backlog-based controls may differ
        const byHost = (rs: HostResult[]) =>
          rs.map((r) => (r.host === 'app-03' ? { ...verdict(r), compliance: undefined, findings: undefined } : verdict(r))).sort((a, b) => a.host.localeCompare(b.host));
        expect(byHost(w[i]!.hosts)).toEqual(byHost(c[i]!.hosts));
      }
      expect(w[1]!.hosts.some((h) => h.status === 'unreachable')).toBe(true);
    } finally {
      await pool.close();
    }
  });

  it('after the reboot module ran, the host is warm on its post-reboot connection: the next sweeps log in nowhere', async () => {
    const pool = new ConnectionPool({ maxWarm: 100, idleTimeoutMs: 60_000 });
    const stateDir = join(dir, 'reboot-module');
    try {
      const host = reachable().filter((h) => !h.faults.length && h.name !== 'app-03').at(-1)!;
      const bootBefore = host.model.bootId;
      const err = textSink();
      const io = { stdout: textSink().stream, stderr: err.stream, env: process.env, clock: systemClock };
      const play = await scheduledRunner(
        ['run', join(process.cwd(), 'playbooks/schedule-reboot.yml'), '-i', fleet.inventoryPath, '--known-hosts', fleet.knownHostsPath, '--limit', host.name, '-e', 'min_uptime_seconds=0', '-e', 'reboot_timeout=60', '-q'],
        stateDir,
        { ...io, exitCode: 0 },
        pool,
      );
      const b = logins();
      const played = await play({ ...io, interrupt: never });
      expect(played.exitCode, err.text()).toBe(0);
      expect(host.model.bootId).not.toBe(bootBefore);
      // one login before the reboot, one after it (the module's reconnect): a new boot is a new login
      expect(loginsSince(b)).toEqual({ [host.name]: 2 });
      const { tick } = await ticks(stateDir, pool);
      await tick();
      const b2 = logins();
      await tick();
      expect(loginsSince(b2)).toEqual({});
      // the first sweep logged in everywhere but on the rebooted host, whose new connection is warm
      expect(loginsSince(b)[host.name]).toBe(2);
    } finally {
      await pool.close();
    }
  }, 60_000);

  it('a rebooted host logs in exactly once, a host whose key changed is refused, the others stay warm', async () => {
    const pool = new ConnectionPool({ maxWarm: 100, idleTimeoutMs: 60_000 });
    try {
      const { tick } = await ticks(join(dir, 'reboot'), pool);
      await tick();
      const [rebooted, rekeyed] = reachable().filter((h) => !h.faults.length && h.name !== 'app-03');
      rebooted!.model.powerCycle();
      await new Promise((r) => setTimeout(r, 300)); // the host listens again (downtime 0)
      // a new host key and the connection gone (sshd restarted): the reconnect must be verified
      rekeyed!.rekey();
      rekeyed!.dropConnections();
      const b = logins();
      await tick();
      expect(loginsSince(b)).toEqual({ [rebooted!.name]: 1 });
      const run = storedRuns(join(dir, 'reboot')).at(-1)!;
      expect(run.hosts.find((h) => h.host === rekeyed!.name)).toMatchObject({ status: 'unreachable', error: { code: 'E_HOSTKEY_CHANGED' } });
      expect(run.hosts.find((h) => h.host === rebooted!.name)?.status).toBe('ok');
      // refused again the next time, with no login; the rebooted host is warm again
      const b2 = logins();
      await tick();
      expect(loginsSince(b2)).toEqual({});
      expect(storedRuns(join(dir, 'reboot')).at(-1)!.hosts.find((h) => h.host === rekeyed!.name)?.error?.code).toBe('E_HOSTKEY_CHANGED');
    } finally {
      await pool.close();
    }
  });
});
