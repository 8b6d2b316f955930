import { createHash, randomBytes } from 'node:crypto';
import { linkSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { FleetmendError } from '../errors.js';
import { openStateSubdir } from './state-dir.js';

/**
 * Inventory locks: one file per (kind, inventory) in `<state-dir>/locks/`, named by a hash of the
 * inventory's absolute path. `run` locks keep two sweeps/runs of one inventory apart (a scheduled
 * one and a manual one); the `scheduler` lock keeps a second scheduler of it from starting. The
 * scheduler holds the run lock around each of its runs and tells the run layer so (RunContext
 * `lockHeld`): nothing is passed through the environment.
 */
export type LockKind = 'run' | 'scheduler';

export interface LockHolder {
  pid: number;
  hostname: string;
  kind: LockKind;
  inventory: string;
  acquired_at: string;
  /** Linux process start time (clock ticks since boot): tells a reused pid from the holder. */
  start_ticks?: number;
  nonce: string;
}

export interface LockOptions {
  kind?: LockKind;
  /** Called when a stale lock (its process is gone) is taken over. */
  onWarning?: (message: string) => void;
  /** For tests: the pid to record (default: this process). */
  pid?: number;
}

/** A half-finished takeover older than this was abandoned by a crashed process. */
const TAKEOVER_GUARD_STALE_MS = 10_000;

export function lockFile(stateDir: string, inventoryPath: string, kind: LockKind = 'run'): string {
  const key = createHash('sha256').update(resolve(inventoryPath)).digest('hex').slice(0, 16);
  return join(stateDir, 'locks', `${kind}-${key}.lock`);
}

/**
 * Take the lock or throw E_LOCKED_RUN naming the holder. Returns the release function (idempotent;
 * it removes the file only while it is still ours).
 */
export function acquireInventoryLock(stateDir: string, inventoryPath: string, opts: LockOptions = {}): () => void {
  const kind = opts.kind ?? 'run';
  const path = lockFile(stateDir, inventoryPath, kind);
  // the lock files are made with O_EXCL and link(2), which follow no link; the directory is checked
  openStateSubdir(stateDir, 'locks');
  const pid = opts.pid ?? process.pid;
  const me: LockHolder = {
    pid,
    hostname: hostname(),
    kind,
    inventory: resolve(inventoryPath),
    acquired_at: new Date().toISOString(),
    ...(startTicks(pid) !== undefined ? { start_ticks: startTicks(pid)! } : {}),
    nonce: randomBytes(8).toString('hex'),
  };
  // Two attempts: the second follows the removal of a stale lock.
  for (let attempt = 0; attempt < 2; attempt++) {
    if (createExclusive(path, me)) return () => releaseIfOurs(path, me.nonce);
    const holder = readHolder(path);
    if (holder && isAlive(holder)) throw lockedError(holder, path);
    if (!holder && !isOldEnough(path)) throw lockedError(undefined, path); // being written right now
    if (!takeOverStale(path, holder)) continue; // someone else took it over first: look again
    opts.onWarning?.(
      `took over a stale ${kind} lock for ${me.inventory}` +
        (holder ? ` (pid ${holder.pid} from ${holder.acquired_at} is gone)` : ' (unreadable lock file)'),
    );
  }
  const holder = readHolder(path);
  throw lockedError(holder, path);
}

export interface WaitLockOptions extends LockOptions {
  /** How long to wait for the holder to finish; 0 fails at once. */
  waitMs: number;
  /** Called once when the lock is busy and the wait begins. */
  onWaiting?: (holder: LockHolder | undefined) => void;
  /** Between attempts (default 200 ms: a scheduled sweep's release is picked up at once). */
  pollMs?: number;
}

/**
 * Take the run lock, waiting up to `waitMs` for its holder to release it. While waiting, a waiter
 * file beside the lock says so: a scheduler skips its next tick rather than take the lock from a
 * manual run that is queued for it (`manualRunWaiting`). Still busy at the end: E_LOCKED_RUN.
 */
export async function waitForInventoryLock(stateDir: string, inventoryPath: string, opts: WaitLockOptions): Promise<() => void> {
  const deadline = Date.now() + opts.waitMs;
  let removeWaiter: (() => void) | undefined;
  try {
    for (;;) {
      try {
        return acquireInventoryLock(stateDir, inventoryPath, opts);
      } catch (err) {
        if (!(err instanceof FleetmendError) || err.code !== 'E_LOCKED_RUN' || Date.now() >= deadline) throw err;
      }
      if (!removeWaiter) {
        removeWaiter = announceWaiter(stateDir, inventoryPath, opts.pid ?? process.pid);
        opts.onWaiting?.(readHolder(lockFile(stateDir, inventoryPath, opts.kind ?? 'run')));
      }
      await new Promise((r) => setTimeout(r, Math.min(opts.pollMs ?? 200, Math.max(1, deadline - Date.now()))));
    }
  } finally {
    removeWaiter?.();
  }
}

/** `<lock>.waiter-<pid>`: who is waiting, in the lock's own format (its liveness is checked the same way). */
function announceWaiter(stateDir: string, inventoryPath: string, pid: number): () => void {
  const path = `${lockFile(stateDir, inventoryPath, 'run')}.waiter-${pid}`;
  const me: LockHolder = { pid, hostname: hostname(), kind: 'run', inventory: resolve(inventoryPath), acquired_at: new Date().toISOString(), nonce: randomBytes(8).toString('hex') };
  const ticks = startTicks(pid);
  if (ticks !== undefined) me.start_ticks = ticks;
  unlinkQuiet(path); // a crashed waiter's file under a reused pid
  writeFileSync(path, JSON.stringify(me) + '\n', { mode: 0o600, flag: 'wx' });
  return () => unlinkQuiet(path);
}

/** A live process waiting for this inventory's run lock (a manual sweep or run), if any. */
export function manualRunWaiting(stateDir: string, inventoryPath: string): LockHolder | undefined {
  const lock = lockFile(stateDir, inventoryPath, 'run');
  let names: string[];
  try {
    names = readdirSync(dirname(lock));
  } catch {
    return undefined;
  }
  const prefix = `${basename(lock)}.waiter-`;
  for (const name of names.filter((n) => n.startsWith(prefix))) {
    const waiter = readHolder(join(dirname(lock), name));
    if (waiter && isAlive(waiter)) return waiter;
  }
  return undefined;
}

/** The recorded holder when it is still alive, else undefined (no lock, or a stale one). */
export function liveLockHolder(stateDir: string, inventoryPath: string, kind: LockKind = 'run'): LockHolder | undefined {
  const h = readHolder(lockFile(stateDir, inventoryPath, kind));
  return h && isAlive(h) ? h : undefined;
}

function lockedError(holder: LockHolder | undefined, path: string): FleetmendError {
  const who = holder
    ? `pid ${holder.pid}${holder.hostname !== hostname() ? ` on ${holder.hostname}` : ''} (a ${holder.kind === 'scheduler' ? 'scheduler' : 'sweep or run'} since ${holder.acquired_at})`
    : 'another process';
  return new FleetmendError('E_LOCKED_RUN', `${holder?.inventory ?? 'the inventory'} is locked by ${who}; lock file ${path}`, {
    details: { lock: path, ...(holder ? { pid: holder.pid } : {}) },
  });
}

/** link(2) publishes the file with its content in one step: nobody reads a half-written pid. */
function createExclusive(path: string, me: LockHolder): boolean {
  const tmp = `${path}.${me.nonce}.tmp`;
  writeFileSync(tmp, JSON.stringify(me) + '\n', { mode: 0o600, flag: 'wx' });
  try {
    linkSync(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    unlinkQuiet(tmp);
  }
}

function readHolder(path: string): LockHolder | undefined {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockHolder>;
    return typeof v.pid === 'number' && typeof v.nonce === 'string' ? (v as LockHolder) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A holder on another machine (a shared state dir) cannot be checked, so it counts as alive.
 * Signal 0 checks existence; EPERM means it exists under another user.
 */
export function isAlive(h: LockHolder): boolean {
  if (h.hostname !== hostname()) return true;
  try {
    process.kill(h.pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  const now = startTicks(h.pid);
  return h.start_ticks === undefined || now === undefined || now === h.start_ticks;
}

/** Field 22 of /proc/PID/stat (proc(5)): the process start time, which a reused pid does not share. */
function startTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm (field 2) may contain spaces and parentheses: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const v = Number(fields[19]);
    return Number.isFinite(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

function isOldEnough(path: string): boolean {
  try {
    return Date.now() - statSync(path).mtimeMs > TAKEOVER_GUARD_STALE_MS;
  } catch {
    return true; // gone already
  }
}

/**
 * Remove a stale lock under a guard file, re-reading it inside the guard: two processes that both
 * saw the same stale lock must not both remove it (the second would remove the first's new lock).
 */
function takeOverStale(path: string, seen: LockHolder | undefined): boolean {
  const guard = `${path}.takeover`;
  try {
    writeFileSync(guard, String(process.pid), { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    if (isOldEnough(guard)) unlinkQuiet(guard);
    return false;
  }
  try {
    const now = readHolder(path);
    if (now?.nonce !== seen?.nonce) return false;
    unlinkQuiet(path);
    return true;
  } finally {
    unlinkQuiet(guard);
  }
}

function releaseIfOurs(path: string, nonce: string): void {
  if (readHolder(path)?.nonce === nonce) unlinkQuiet(path);
}

function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
