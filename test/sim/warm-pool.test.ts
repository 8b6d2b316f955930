import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetmendError } from '../../src/errors.js';
import { startFleet, type Fleet, type SimHost } from '../../src/sim/index.js';
import { generateHostKey } from '../../src/sim/server.js';
import { ConnectionPool, fdBudget, KnownHostsCache, PooledTransport, readNofileLimit, type ConnectionSpec, type RunLinks } from '../../src/transport/index.js';
import { FD_RESERVE } from '../../src/transport/fd-budget.js';
import { simSpec } from '../helpers/sim-spec.js';

/**
 * The connection pool against simulated hosts over real SSH: what a warm connection may and may
 * not be reused for (issue 25.1-2). Logins are counted by the hosts themselves.
 */
let fleet: Fleet;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fleetmend-warm-pool-'));
  fleet = await startFleet({ dir: join(dir, 'fleet'), scenario: 'healthy', hosts: 6, loginDelayScale: 0 });
});
afterAll(async () => {
  await fleet?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const specOf = (h: SimHost, over: Partial<ConnectionSpec> = {}): ConnectionSpec => simSpec(fleet, h, over);

/** A run's links: its own known_hosts cache (each run reads known_hosts afresh). */
const run = (): RunLinks => ({ knownHosts: new KnownHostsCache() });

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !cond(); i++) await new Promise((r) => setTimeout(r, 20));
  expect(cond()).toBe(true);
}

async function once(pool: ConnectionPool, spec: ConnectionSpec, command = 'echo ok', links = run()) {
  const t = pool.lease(spec, links);
  try {
    return await t.exec(command);
  } finally {
    await t.close();
  }
}

describe('the warm connection pool', () => {
  it('a connection found dead at exec time is replaced once and counted; a command cut by a drop is not run again', async () => {
    const h = fleet.hosts[0]!;
    const pool = new ConnectionPool({ maxWarm: 10, idleTimeoutMs: 60_000 });
    try {
      const t = pool.lease(specOf(h), run()) as PooledTransport;
      expect((await t.exec('echo one')).stdout).toBe('one\n');
      const logins = h.server.stats.logins;
      h.dropConnections();
      await until(() => t.used?.transport.alive === false);
      expect((await t.exec('echo two')).stdout).toBe('two\n');
      expect(pool.stats.deadRetries).toBe(1);
      expect(h.server.stats.logins).toBe(logins + 1);

      // mid-command: the command may have run, so the error is the cold path's, not a retry
      h.faults.push({ kind: 'drop-mid-command', match: 'drop-me' });
      const err = await t.exec('echo drop-me').catch((e: unknown) => e);
      h.faults.pop();
      expect(err).toBeInstanceOf(FleetmendError);
      expect((err as FleetmendError).code).toBe('E_DISCONNECTED');
      expect(pool.stats.deadRetries).toBe(1);
      await t.close();
    } finally {
      await pool.close();
    }
  });

  it("the server's MaxSessions refusing a channel makes commands wait, never fail", async () => {
    const h = fleet.hosts[1]!;
    h.faults.push({ kind: 'max-sessions', sessions: 1 });
    const pool = new ConnectionPool({ maxWarm: 10, idleTimeoutMs: 60_000 });
    try {
      const logins = h.server.stats.logins;
      const t = pool.lease(specOf(h), run());
      const outs = await Promise.all([1, 2, 3, 4].map((i) => t.exec(`sleep 0.1; echo ${i}`)));
      await t.close();
      expect(outs.map((o) => o.stdout)).toEqual(['1\n', '2\n', '3\n', '4\n']);
      expect(pool.stats.refusedChannels).toBeGreaterThan(0);
      expect(h.server.stats.logins).toBe(logins + 1);
    } finally {
      h.faults.pop();
      await pool.close();
    }
  });

  it('a changed inventory entry (become user, port, key) never reuses the old connection', async () => {
    const h = fleet.hosts[2]!;
    const pool = new ConnectionPool({ maxWarm: 10, idleTimeoutMs: 60_000 });
    try {
      const logins = h.server.stats.logins;
      await once(pool, specOf(h));
      await once(pool, specOf(h));
      expect(h.server.stats.logins).toBe(logins + 1);
      await once(pool, specOf(h, { become: { enabled: true, user: 'auditor' } }));
      expect(h.server.stats.logins).toBe(logins + 2);
      // the old entry's connection was closed, not kept beside the new one
      expect(pool.connections).toBe(1);
      expect(pool.stats.retired).toBe(1);
    } finally {
      await pool.close();
    }
  });

  it('a host that reported a second boot_id on its connection gets a new login', async () => {
    const h = fleet.hosts[3]!;
    const pool = new ConnectionPool({ maxWarm: 10, idleTimeoutMs: 60_000 });
    try {
      const logins = h.server.stats.logins;
      const t = pool.lease(specOf(h), run());
      await t.exec('echo a');
      t.observeBootId!('11111111-1111-4111-8111-111111111111');
      t.observeBootId!('11111111-1111-4111-8111-111111111111');
      await t.close();
      await once(pool, specOf(h));
      expect(h.server.stats.logins).toBe(logins + 1);
      const t2 = pool.lease(specOf(h), run());
      await t2.exec('echo b');
      t2.observeBootId!('11111111-1111-4111-8111-111111111111');
      t2.observeBootId!('22222222-2222-4222-8222-222222222222');
      await t2.close();
      await once(pool, specOf(h));
      expect(h.server.stats.logins).toBe(logins + 2);
      expect(pool.stats.retired).toBe(1);
    } finally {
      await pool.close();
    }
  });

  it('a warm connection whose host key known_hosts no longer accepts is refused, without a login', async () => {
    const h = fleet.hosts[4]!;
    const known = join(dir, 'known_hosts.rewritten');
    writeFileSync(known, readFileSync(fleet.knownHostsPath));
    const pool = new ConnectionPool({ maxWarm: 10, idleTimeoutMs: 60_000 });
    try {
      await once(pool, specOf(h, { knownHostsFile: known }));
      const logins = h.server.stats.logins;
      // the operator replaces the host's line (a reinstalled host's key, or an attacker's edit)
      const other = generateHostKey().public;
      const lines = readFileSync(known, 'utf8').split('\n').map((l) => (l.startsWith(`[${h.address}]:${h.port} `) ? `[${h.address}]:${h.port} ${other}` : l));
      writeFileSync(known, lines.join('\n'));
      const err = await once(pool, specOf(h, { knownHostsFile: known })).catch((e: unknown) => e);
      expect((err as FleetmendError).code).toBe('E_HOSTKEY_CHANGED');
      expect(h.server.stats.logins).toBe(logins);
      expect(pool.size).toBe(0);
    } finally {
      await pool.close();
    }
  });

  it('keeps no become password or login secret between runs: each run brings its own', async () => {
    const h = fleet.hosts.find((x) => x.machine.spec.user !== 'root')!;
    const sudo = h.machine.spec.sudo as { password: string; nopasswd: boolean };
    const saved = { ...sudo };
    Object.assign(sudo, { password: 'sudo-secret-42', nopasswd: false });
    const pool = new ConnectionPool({ maxWarm: 10, idleTimeoutMs: 60_000 });
    try {
      const withPassword = (password: string) => specOf(h, { become: { enabled: true, password }, auth: { privateKeyFile: fleet.clientKeyPath, useAgent: false, passphrase: 'unused-passphrase' } });
      const ok = await once(pool, withPassword('sudo-secret-42'), 'id -u');
      expect(ok.stdout.trim()).toBe('0');
      const logins = h.server.stats.logins;
      const held = JSON.stringify(pool.heldSpecs());
      expect(held).not.toContain('sudo-secret-42');
      expect(held).not.toContain('unused-passphrase');
      expect(pool.heldSpecs().every((s) => s.secrets === 0)).toBe(true);
      // the next run's wrong password is its own: refused as sudo refuses it, on the same connection
      const err = await once(pool, withPassword('wrong-password'), 'id -u').catch((e: unknown) => e);
      expect((err as FleetmendError).code).toBe('E_BECOME');
      expect(h.server.stats.logins).toBe(logins);
    } finally {
      Object.assign(sudo, saved);
      await pool.close();
    }
  });

  it('two runs leasing the same host at once share one login', async () => {
    const h = fleet.hosts[5]!;
    const pool = new ConnectionPool({ maxWarm: 10, idleTimeoutMs: 60_000 });
    try {
      const logins = h.server.stats.logins;
      const outs = await Promise.all([once(pool, specOf(h), 'echo x'), once(pool, specOf(h), 'echo y')]);
      expect(outs.map((o) => o.stdout)).toEqual(['x\n', 'y\n']);
      expect(h.server.stats.logins).toBe(logins + 1);
      expect(pool.connections).toBe(1);
    } finally {
      await pool.close();
    }
  });

  it('--max-warm evicts the least recently used idle host; the idle timeout closes the rest', async () => {
    const [a, b, c] = fleet.hosts;
    const pool = new ConnectionPool({ maxWarm: 2, idleTimeoutMs: 400 });
    try {
      await once(pool, specOf(a!));
      await once(pool, specOf(b!));
      await once(pool, specOf(a!)); // a is now the most recent
      await once(pool, specOf(c!));
      expect(pool.size).toBe(2);
      expect(pool.stats.evicted).toBe(1);
      const logins = b!.server.stats.logins;
      await once(pool, specOf(b!)); // b was evicted: a login
      expect(b!.server.stats.logins).toBe(logins + 1);
      await until(() => pool.size === 0);
    } finally {
      await pool.close();
    }
  });
});

describe('the file descriptor budget of a warm fleet', () => {
  const limits = (soft: string, hard: string) => `Limit                     Soft Limit           Hard Limit           Units\nMax open files            ${soft}                 ${hard}                 files\n`;

  it('reads RLIMIT_NOFILE from /proc/self/limits text', () => {
    expect(readNofileLimit(limits('1024', '524288'))).toEqual({ soft: 1024, hard: 524288 });
    expect(readNofileLimit(limits('unlimited', 'unlimited'))).toEqual({ soft: Infinity, hard: Infinity });
    expect(readNofileLimit('nothing here')).toBeUndefined();
  });

  it('a fleet that does not fit is bounded, with a warning naming the limit', () => {
    const fits = fdBudget(500, { soft: 20000, hard: 20000 }, 40);
    expect(fits).toMatchObject({ maxWarm: 500 });
    expect(fits.warning).toBeUndefined();
    // soft == hard: nothing to raise; 1024 - 40 open - the reserve
    const tight = fdBudget(10_000, { soft: 1024, hard: 1024 }, 40);
    expect(tight.maxWarm).toBe(1024 - 40 - FD_RESERVE);
    expect(tight.warning).toContain('RLIMIT_NOFILE (Max open files: soft 1024, hard 1024');
  });
});
