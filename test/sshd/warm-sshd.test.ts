import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scheduledRunner } from '../../src/cli/schedule.js';
import { systemClock } from '../../src/executor/clock.js';
import type { Interrupt } from '../../src/executor/interrupt.js';
import { ConnectionPool, TransportFactory } from '../../src/transport/index.js';
import { startSshdFleet, type SshdFleet } from '../helpers/sshd-fleet.js';
import { textSink } from '../helpers/cli.js';
import { storedRuns } from '../helpers/store.js';
import { skipReason, specFor } from './util.js';

/**
 * The warm pool against real OpenSSH sshd (issue 25): the client's source port, as sshd reports
 * it in $SSH_CONNECTION, tells one TCP connection from another, so "the same connection" is
 * read from the server's side; sudo and auditctl are the harness's real sudo and fake auditctl.
 */
describe.skipIf(skipReason !== null)('warm connections on real sshd', () => {
  let fleet: SshdFleet;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fm-warm-sshd-'));
    fleet = await startSshdFleet({ hosts: 3, become: true });
  }, 120_000);
  afterAll(async () => {
    await fleet?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const clientPort = (text: string) => text.trim().split(/\s+/)[1];

  it('a second run execs on the first run\'s connection (same client port); a cold run does not', async () => {
    const host = fleet.hosts[0]!;
    const spec = specFor(fleet, host, { become: { enabled: true } });
    const pool = new ConnectionPool({ maxWarm: 10, idleTimeoutMs: 60_000 });
    try {
      const ports: string[] = [];
      for (let i = 0; i < 2; i++) {
        const t = new TransportFactory({ pool }).create(spec); // a run's own factory, as RunSession makes it
        ports.push(clientPort((await t.exec('echo $SSH_CONNECTION', { become: false })).stdout)!);
        expect((await t.exec('auditctl -s')).stdout).toContain('backlog_limit');
        await t.close();
      }
      expect(ports[1]).toBe(ports[0]);
      expect(pool.stats.logins).toBe(1);
      const cold = new TransportFactory().create(spec);
      const coldPort = clientPort((await cold.exec('echo $SSH_CONNECTION', { become: false })).stdout);
      await cold.close();
      expect(coldPort).not.toBe(ports[0]);
    } finally {
      await pool.close();
    }
  });

  it('three scheduled sweeps: one login per host, then none; every sweep reads every status', async () => {
    const pool = new ConnectionPool({ maxWarm: 10, idleTimeoutMs: 60_000 });
    const stateDir = join(dir, 'state');
    try {
      const io = { stdout: textSink().stream, stderr: textSink().stream, env: { ...process.env, FLEETMEND_KEY_PASSPHRASE: '' }, clock: systemClock };
      const never = (): Interrupt => ({ stopStarting: new AbortController().signal, abortInFlight: new AbortController().signal, interrupted: false, dispose() {} });
      const execute = await scheduledRunner(['sweep', '-i', fleet.inventoryPath, '--known-hosts', fleet.knownHostsPath, '--samples', '1', '-q'], stateDir, { ...io, exitCode: 0 }, pool);
      const logins: number[] = [];
      const exits: number[] = [];
      for (let i = 0; i < 3; i++) {
        exits.push((await execute({ ...io, interrupt: never })).exitCode);
        logins.push(pool.stats.logins);
      }
      expect(logins).toEqual([3, 3, 3]);
      expect(new Set(exits).size).toBe(1);
      // every probe ran in the shell kept on its connection: real OpenSSH, sudo and dash fed one
      // probe after another (transport/kept-shell.ts), one shell per host for the three sweeps
      expect(pool.stats).toMatchObject({ shellsOpened: 3, shellProbes: 9 });
      const runs = storedRuns(stateDir);
      expect(runs).toHaveLength(3);
      for (const run of runs) {
        expect(run.hosts.map((h) => h.status)).toEqual(['ok', 'ok', 'ok']);
        expect(run.hosts.every((h) => h.audit?.backlog_limit !== undefined)).toBe(true);
      }
    } finally {
      await pool.close();
    }
  }, 120_000);
});
