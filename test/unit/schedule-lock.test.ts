import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync, mkdirSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FleetmendError } from '../../src/errors.js';
import { acquireInventoryLock, liveLockHolder, lockFile, manualRunWaiting, waitForInventoryLock } from '../../src/store/index.js';
import { runCli } from '../helpers/cli.js';

let dir: string;
const children: ChildProcess[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fleetmend-lock-'));
});
afterEach(() => {
  for (const c of children.splice(0)) if (c.pid && c.exitCode === null) process.kill(c.pid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function lockedBy(fn: () => unknown): FleetmendError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FleetmendError);
    return err as FleetmendError;
  }
  throw new Error('expected E_LOCKED_RUN');
}

/** A lock file as another process would leave it. */
function plant(pid: number, over: Record<string, unknown> = {}): string {
  const path = lockFile(dir, 'inv.yml');
  mkdirSync(join(dir, 'locks'), { recursive: true });
  writeFileSync(path, JSON.stringify({ pid, hostname: hostname(), kind: 'run', inventory: '/x/inv.yml', acquired_at: '2025-11-25T10:00:00.000Z', nonce: 'n1', ...over }));
  return path;
}

async function deadPid(): Promise<number> {
  const c = spawn('true');
  await new Promise((r) => c.on('exit', r));
  return c.pid!;
}

describe('acquireInventoryLock', () => {
  it('creates an owner-only lock file with the pid inside, keyed by the absolute inventory path', () => {
    const release = acquireInventoryLock(dir, 'inv.yml');
    const path = lockFile(dir, join(process.cwd(), 'inv.yml'));
    expect(path).toBe(lockFile(dir, 'inv.yml'));
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ pid: process.pid, kind: 'run', inventory: join(process.cwd(), 'inv.yml') });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    release();
    expect(existsSync(path)).toBe(false);
    release(); // idempotent
  });

  it('a second acquire fails with E_LOCKED_RUN naming the holder pid, until the first is released', () => {
    const release = acquireInventoryLock(dir, 'inv.yml');
    const err = lockedBy(() => acquireInventoryLock(dir, 'inv.yml'));
    expect(err.code).toBe('E_LOCKED_RUN');
    expect(err.message).toContain(`pid ${process.pid}`);
    // other inventories and the other kind are separate locks
    acquireInventoryLock(dir, 'other.yml')();
    acquireInventoryLock(dir, 'inv.yml', { kind: 'scheduler' })();
    release();
    acquireInventoryLock(dir, 'inv.yml')();
  });

  it('is held against a live process that is not us', () => {
    const c = spawn('sleep', ['30']);
    children.push(c);
    plant(c.pid!);
    const err = lockedBy(() => acquireInventoryLock(dir, 'inv.yml'));
    expect(err.message).toMatch(new RegExp(`locked by pid ${c.pid} \\(a sweep or run since 2025-11-25T10:00:00.000Z\\)`));
    expect(liveLockHolder(dir, 'inv.yml')?.pid).toBe(c.pid);
  });

  it('takes over a stale lock (its pid is gone) with a warning', async () => {
    const pid = await deadPid();
    plant(pid);
    expect(liveLockHolder(dir, 'inv.yml')).toBeUndefined();
    const warnings: string[] = [];
    const release = acquireInventoryLock(dir, 'inv.yml', { onWarning: (w) => warnings.push(w) });
    expect(warnings).toEqual([expect.stringContaining(`stale run lock`)]);
    expect(warnings[0]).toContain(`pid ${pid}`);
    expect(JSON.parse(readFileSync(lockFile(dir, 'inv.yml'), 'utf8')).pid).toBe(process.pid);
    release();
  });

  it('takes over a lock whose pid was reused by an unrelated process (start time differs)', () => {
    plant(process.pid, { start_ticks: 1, nonce: 'old' });
    const warnings: string[] = [];
    acquireInventoryLock(dir, 'inv.yml', { onWarning: (w) => warnings.push(w) })();
    expect(warnings).toHaveLength(1);
  });

  it('treats an unreadable lock as being written unless it is old', () => {
    const path = plant(1);
    writeFileSync(path, '');
    expect(lockedBy(() => acquireInventoryLock(dir, 'inv.yml')).code).toBe('E_LOCKED_RUN');
    const old = new Date(Date.now() - 60_000);
    utimesSync(path, old, old);
    acquireInventoryLock(dir, 'inv.yml')();
  });

  it('counts a holder on another machine (shared state dir) as alive', () => {
    plant(999_999, { hostname: 'elsewhere.example' });
    expect(lockedBy(() => acquireInventoryLock(dir, 'inv.yml')).message).toContain('pid 999999 on elsewhere.example');
  });

  it('release does not remove a lock that is no longer ours', () => {
    const release = acquireInventoryLock(dir, 'inv.yml');
    plant(process.pid, { nonce: 'someone-else' });
    release();
    expect(existsSync(lockFile(dir, 'inv.yml'))).toBe(true);
  });
});

describe('waitForInventoryLock (--wait-lock)', () => {
  it('waits for the holder to release, announcing itself in a waiter file the scheduler sees', async () => {
    const release = acquireInventoryLock(dir, 'inv.yml', { pid: process.ppid });
    const seen: (number | undefined)[] = [];
    let waitingFor: number | undefined;
    setTimeout(() => {
      seen.push(manualRunWaiting(dir, 'inv.yml')?.pid);
      release();
    }, 300);
    const mine = await waitForInventoryLock(dir, 'inv.yml', { waitMs: 5_000, pollMs: 50, onWaiting: (h) => (waitingFor = h?.pid) });
    expect(waitingFor).toBe(process.ppid);
    expect(seen).toEqual([process.pid]);
    expect(liveLockHolder(dir, 'inv.yml')?.pid).toBe(process.pid);
    expect(manualRunWaiting(dir, 'inv.yml')).toBeUndefined(); // the waiter file is gone once the lock is ours
    mine();
  });

  it('gives up after waitMs with E_LOCKED_RUN, removing its waiter file', async () => {
    const release = acquireInventoryLock(dir, 'inv.yml', { pid: process.ppid });
    try {
      await expect(waitForInventoryLock(dir, 'inv.yml', { waitMs: 200, pollMs: 50 })).rejects.toMatchObject({ code: 'E_LOCKED_RUN' });
      expect(manualRunWaiting(dir, 'inv.yml')).toBeUndefined();
    } finally {
      release();
    }
  });

  it("ignores a dead waiter's file", async () => {
    acquireInventoryLock(dir, 'inv.yml')();
    writeFileSync(`${lockFile(dir, 'inv.yml')}.waiter-1`, JSON.stringify({ pid: await deadPid(), hostname: hostname(), kind: 'run', inventory: '/x', acquired_at: '', nonce: 'n' }));
    expect(manualRunWaiting(dir, 'inv.yml')).toBeUndefined();
  });
});

describe('a sweep against a busy inventory', () => {
  it('waits --wait-lock seconds, then exits 75 (not 1, bad input) without contacting a host', async () => {
    const inv = join(dir, 'hosts.ini');
    writeFileSync(inv, 'h1 ansible_host=127.0.0.1 ansible_port=1\n');
    const state = join(dir, 'state');
    const release = acquireInventoryLock(state, inv, { pid: process.ppid });
    try {
      const r = await runCli(['sweep', '-i', inv, '--state-dir', state, '--wait-lock', '0.3', '-q']);
      expect(r.code).toBe(75);
      expect(r.stderr).toContain('waiting up to 0.3 s for the lock');
      expect(r.stderr).toContain(`pid ${process.ppid}`);
      expect(r.stderr).toContain('[E_LOCKED_RUN]');
      expect(r.stdout).toBe('');
    } finally {
      release();
    }
  });
});
