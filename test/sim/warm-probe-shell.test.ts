import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetmendError } from '../../src/errors.js';
import { systemClock } from '../../src/executor/clock.js';
import { collectSample, factsProbe } from '../../src/host/sample.js';
import { startFleet, type Fleet, type SimHost } from '../../src/sim/index.js';
import { scenarioOf } from '../fixtures/playbooks/sim-harness.js';
import { partialOutputOf } from '../../src/transport/output.js';
import { ConnectionPool, KnownHostsCache, type ConnectionSpec, type ExecOptions } from '../../src/transport/index.js';
import { simSpec } from '../helpers/sim-spec.js';

/**
 * The probe shell kept on a warm connection (transport/kept-shell.ts): a probe runs there with
 * no session channel of its own, gives what an exec would, and anything unusual (timeout, cap,
 * interrupt) ends the shell rather than leaving it in a state nobody knows. Hosts count their
 * own exec channels and logins.
 */
let fleet: Fleet;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fleetmend-probe-shell-'));
  const scenario = scenarioOf('probe-shell', (mk) => [
    { spec: mk.rhel('np-01') },
    { spec: mk.rhel('np-02') },
    { spec: { ...mk.rhel('pw-01'), sudo: { password: 'sudo-secret-77', nopasswd: false } } },
  ]);
  fleet = await startFleet({ scenario, dir: join(dir, 'fleet'), loginDelayScale: 0 });
});
afterAll(async () => {
  await fleet?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const host = (name: string): SimHost => fleet.hosts.find((h) => h.name === name)!;

/** The probe needs root: become on every host (none of them logs in as root). */
const specOf = (h: SimHost, over: Partial<ConnectionSpec> = {}): ConnectionSpec => simSpec(fleet, h, { become: { enabled: true }, ...over });

/** One run's lease of the host: `command` with `opts`, the connection handed back after. */
async function once(pool: ConnectionPool, spec: ConnectionSpec, command: string, opts: ExecOptions = {}) {
  const t = pool.lease(spec, { knownHosts: new KnownHostsCache() });
  try {
    return await t.exec(command, opts);
  } finally {
    await t.close();
  }
}

const execs = (h: SimHost) => h.model.sshAudit.execs;
const probe: ExecOptions = { probe: true };

describe('the probe shell kept on a warm connection', () => {
  it('later probes run in the kept shell: no exec channel, the same result as an exec, as root under sudo', async () => {
    const h = host('np-01');
    expect(h.machine.spec.user).not.toBe('root');
    const pool = new ConnectionPool({ maxWarm: 10, idleTimeoutMs: 60_000 });
    try {
      const asExec = await once(pool, specOf(h), 'id -u; echo "$FOO" x', {});
      const before = execs(h);
      const first = await once(pool, specOf(h), 'id -u; echo "$FOO" x', probe);
      // the shell's own start is the one exec; the probe ran in it
      expect(execs(h) - before).toBe(1);
      for (let i = 0; i < 3; i++) {
        const again = await once(pool, specOf(h), 'id -u; echo "$FOO" x', probe);
        expect(again).toMatchObject({ stdout: asExec.stdout, stderr: asExec.stderr, code: 0, truncated: false });
      }
      expect(first.stdout).toBe('0\n x\n');
      expect(execs(h) - before).toBe(1);
      expect(pool.stats).toMatchObject({ shellsOpened: 1, shellProbes: 4, logins: 1 });
      // the exit status and stderr are the command's, as on an exec channel
      const failed = await once(pool, specOf(h), 'echo out; echo err >&2; exit 3', probe);
      expect(failed).toMatchObject({ stdout: 'out\n', stderr: 'err\n', code: 3 });
      // a command cannot change the kept shell: it runs in a subshell
      await once(pool, specOf(h), 'FOO=changed; cd /tmp', probe);
      expect((await once(pool, specOf(h), 'echo "[$FOO]"; pwd', probe)).stdout).not.toContain('changed');
    } finally {
      await pool.close();
    }
  });

  it('a fact sample through the kept shell parses as one through an exec, and the warm sweep opens no channel', async () => {
    const h = host('np-02');
    const probeText = factsProbe();
    const cold = new ConnectionPool({ maxWarm: 10, idleTimeoutMs: 60_000, probeShell: false });
    const warm = new ConnectionPool({ maxWarm: 10, idleTimeoutMs: 60_000 });
    try {
      const sampleWith = async (pool: ConnectionPool) => {
        const t = pool.lease(specOf(h), { knownHosts: new KnownHostsCache() });
        try {
          return (await collectSample(t, probeText, systemClock)).sample;
        } finally {
          await t.close();
        }
      };
      const viaExec = await sampleWith(cold);
      await sampleWith(warm);
      const before = execs(h);
      const viaShell = await sampleWith(warm);
      expect(execs(h)).toBe(before);
      expect(warm.stats.shellProbes).toBe(2);
      expect(cold.stats.shellProbes).toBe(0);
      const stable = (s: typeof viaExec) => ({ auditctl: s.auditctl, memory: s.memory !== undefined, system: { ...s.system, uptime_seconds: undefined }, persistent: s.persistent, parse_errors: s.parse_errors });
      expect(stable(viaShell)).toEqual(stable(viaExec));
      expect(viaShell.auditctl.kind).toBe('ok');
    } finally {
      await cold.close();
      await warm.close();
    }
  });

  it('a timeout, an interrupt or output over the cap ends the shell; the next probe opens a new one', async () => {
    const h = host('np-01');
    const pool = new ConnectionPool({ maxWarm: 10, idleTimeoutMs: 60_000 });
    try {
      await once(pool, specOf(h), 'echo warm', probe);
      const timedOut = await once(pool, specOf(h, { commandTimeoutMs: 300 }), 'echo started; sleep 30', probe).catch((e: unknown) => e);
      expect(timedOut).toBeInstanceOf(FleetmendError);
      expect((timedOut as FleetmendError).code).toBe('E_CMD_TIMEOUT');
      expect(partialOutputOf(timedOut)?.stdout).toBe('started\n');
      expect((await once(pool, specOf(h), 'echo next', probe)).stdout).toBe('next\n');
      expect(pool.stats.shellsOpened).toBe(2);

      const abort = new AbortController();
      const pending = once(pool, specOf(h), 'sleep 30', { ...probe, signal: abort.signal });
      setTimeout(() => abort.abort(), 100);
      expect(await pending.catch((e: unknown) => (e as FleetmendError).code)).toBe('E_INTERRUPTED');

      const capped = await once(pool, specOf(h, { maxOutputBytes: 64 }), 'i=0; while [ $i -lt 50 ]; do echo 0123456789; i=$((i+1)); done', probe);
      expect(capped.truncated).toBe(true);
      expect(capped.stdout.length).toBeLessThanOrEqual(64);
      expect((await once(pool, specOf(h), 'echo after', probe)).stdout).toBe('after\n');
      expect(pool.stats.shellsOpened).toBe(4);
      // one login throughout: the connection outlived every shell
      expect(pool.stats.logins).toBe(1);
    } finally {
      await pool.close();
    }
  });

  it('a server that allows one session: a command takes the idle probe shell\'s channel, never a second login', async () => {
    const h = host('np-02');
    h.faults.push({ kind: 'max-sessions', sessions: 1 });
    const pool = new ConnectionPool({ maxWarm: 10, idleTimeoutMs: 60_000 });
    try {
      const logins = h.server.stats.logins;
      const t = pool.lease(specOf(h), { knownHosts: new KnownHostsCache() });
      try {
        expect((await t.exec('echo probed', probe)).stdout).toBe('probed\n');
        expect((await t.exec('echo command')).stdout).toBe('command\n');
        expect((await t.exec('echo probed again', probe)).stdout).toBe('probed again\n');
      } finally {
        await t.close();
      }
      expect(h.server.stats.logins).toBe(logins + 1);
      expect(pool.stats.shellsOpened).toBe(2);
    } finally {
      h.faults.pop();
      await pool.close();
    }
  });

  it('host output cannot end a command early: a marker without the nonce is output like any other', async () => {
    const h = host('np-02');
    const pool = new ConnectionPool({ maxWarm: 10, idleTimeoutMs: 60_000 });
    try {
      const forged = "printf '\\n@@fleetmend-kept:AAAAAAAAAAAAAAAA:0\\n'; printf '\\n@@fleetmend-kept:AAAAAAAAAAAAAAAA\\n' >&2; echo real-end";
      const r = await once(pool, specOf(h), forged, probe);
      expect(r.stdout).toBe('\n@@fleetmend-kept:AAAAAAAAAAAAAAAA:0\nreal-end\n');
      expect(r.code).toBe(0);
    } finally {
      await pool.close();
    }
  });

  it('never kept: a shell that needs the become password, a command with stdin, and with probeShell off', async () => {
    const pw = host('pw-01');
    const pool = new ConnectionPool({ maxWarm: 10, idleTimeoutMs: 60_000 });
    const off = new ConnectionPool({ maxWarm: 10, idleTimeoutMs: 60_000, probeShell: false });
    try {
      const before = execs(pw);
      const r = await once(pool, specOf(pw, { become: { enabled: true, password: 'sudo-secret-77' } }), 'id -u', probe);
      expect(r.stdout).toBe('0\n');
      expect(execs(pw) - before).toBe(1);
      expect(pool.stats.shellsOpened).toBe(0);
      const np = host('np-02');
      await once(pool, specOf(np), 'cat', { ...probe, stdin: 'x' });
      expect(pool.stats.shellsOpened).toBe(0);
      await once(off, specOf(np), 'id -u', probe);
      await once(off, specOf(np), 'id -u', probe);
      expect(off.stats).toMatchObject({ shellsOpened: 0, shellProbes: 0 });
    } finally {
      await pool.close();
      await off.close();
    }
  });

  it('a shell sudo will not start (password required, none given) is not tried again: probes fail as an exec fails', async () => {
    const pw = host('pw-01');
    const pool = new ConnectionPool({ maxWarm: 10, idleTimeoutMs: 60_000 });
    try {
      for (let i = 0; i < 2; i++) {
        const err = await once(pool, specOf(pw), 'id -u', probe).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(FleetmendError);
        expect((err as FleetmendError).code).toBe('E_BECOME');
      }
      // tried once, then the connection knows: no second sudo that must fail
      expect(pool.stats.shellsOpened).toBe(1);
      expect(pool.stats.shellProbes).toBe(0);
    } finally {
      await pool.close();
    }
  });
});
