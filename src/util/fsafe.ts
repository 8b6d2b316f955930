/**
 * Creating files where somebody else may have planted a link: a shared report directory, a state
 * directory on a shared disk. Three rules (README "Security"):
 *  - a file is never opened through a symlink: new content goes to a temp file in the same
 *    directory, created O_CREAT|O_EXCL|O_NOFOLLOW, fsynced, then renamed over the target
 *    (rename(2) replaces a planted link itself, never its target);
 *  - nothing is chmodded by path, and only what this process just created is chmodded at all
 *    (through its descriptor);
 *  - a directory fleetmend writes into must be the user's own (a symlink to it too): lstat, then
 *    a uid check; anything else is refused with E_UNSAFE_PATH before a byte is written.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync, constants, createWriteStream, fchmodSync, fstatSync, fsyncSync, lstatSync, mkdirSync,
  openSync, renameSync, statSync, unlinkSync, writeSync, type Stats,
} from 'node:fs';
import { once } from 'node:events';
import { basename, dirname, join } from 'node:path';
import type { Writable } from 'node:stream';
import { FleetmendError } from '../errors.js';

const { O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_RDONLY, O_WRONLY } = constants;

const myUid = (): number => process.getuid?.() ?? -1;

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw unusable(path, 'path', err);
  }
}

function unsafe(path: string, message: string): FleetmendError {
  return new FleetmendError('E_UNSAFE_PATH', message, { position: { file: path } });
}

function unusable(path: string, what: string, err: unknown): FleetmendError {
  const e = err as NodeJS.ErrnoException;
  return new FleetmendError('E_UNSAFE_PATH', `cannot use ${what} ${path}: ${e.code ?? e.message}`, { position: { file: path }, cause: err });
}

const owner = (uid: number): string => (uid === 0 ? 'root' : `uid ${uid}`);

export interface DirPolicy {
  /**
   * Also accept a directory owned by root, unless others may write to it without the sticky bit
   * (then they could rename what fleetmend creates inside it). For the directory a user names with
   * `-o` (say /tmp or /srv/reports), not for the directories fleetmend writes its files into.
   */
  rootOwnedOk?: boolean;
  /**
   * Also refuse a directory of the user's own that group or others may write (mode & 0o022),
   * sticky bit or not: for the state directory, where another user could delete the store or
   * plant its side files (`-wal`, `-shm`, a lock) before fleetmend opens them by path.
   */
  noGroupOrOtherWrite?: boolean;
}

/**
 * Refuse `dir` unless it is a directory owned by the current user, or a symlink owned by the
 * user (or root) that leads to one. Returns false when it does not exist.
 */
export function checkOwnedDir(dir: string, what: string, policy: DirPolicy = {}): boolean {
  const l = lstatOrUndefined(dir);
  if (!l) return false;
  const uid = myUid();
  // a link root made is as trustworthy as anything root made; another user's link is not
  if (l.isSymbolicLink() && l.uid !== uid && l.uid !== 0) {
    throw unsafe(dir, `${what} ${dir} is a symbolic link owned by ${owner(l.uid)}, not by you (uid ${uid}); refusing to write through it`);
  }
  let st: Stats;
  try {
    st = l.isSymbolicLink() ? statSync(dir) : l;
  } catch (err) {
    throw unusable(dir, what, err);
  }
  if (!st.isDirectory()) throw unsafe(dir, `${what} ${dir} is not a directory`);
  const mineOrRoot = st.uid === uid || (policy.rootOwnedOk === true && st.uid === 0);
  if (!mineOrRoot) {
    throw unsafe(dir, `${what} ${dir}${l.isSymbolicLink() ? ' (a symbolic link)' : ''} is owned by ${owner(st.uid)}, not by you (uid ${uid}); refusing to write into it`);
  }
  const othersWrite = (st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0;
  if (st.uid !== uid && othersWrite) {
    throw unsafe(dir, `${what} ${dir} is writable by others without the sticky bit; refusing to write into it`);
  }
  if (policy.noGroupOrOtherWrite === true && (st.mode & 0o022) !== 0) {
    const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
    throw unsafe(dir, `${what} ${dir} is writable by group or others (mode ${mode}): another user could delete the run store or plant its side files; fix it with: chmod go-w ${dir}`);
  }
  return true;
}

/**
 * Make sure `dir` is a directory of the user's own, creating it (and missing parents) 0700 if
 * absent. A directory that already existed keeps its mode: it is checked, never chmodded.
 */
export function ensurePrivateDir(dir: string, what: string, policy: DirPolicy = {}): void {
  if (checkOwnedDir(dir, what, policy)) return;
  let first: string | undefined;
  try {
    first = mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw unusable(dir, what, err);
  }
  checkOwnedDir(dir, what, policy);
  // the umask may have narrowed the mode; tighten through a descriptor what we just made
  if (first !== undefined) tightenOwnDir(dir);
}

function tightenOwnDir(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  } catch (err) {
    // ELOOP: replaced by a link since we made it; leave it alone (a symlink of ours was accepted above)
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') return;
    throw unusable(dir, 'directory', err);
  }
  try {
    if (fstatSync(fd).uid === myUid()) fchmodSync(fd, 0o700);
  } finally {
    closeSync(fd);
  }
}

function tempNameFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
}

/** O_EXCL|O_NOFOLLOW: fails on anything already at `path`, a dangling link included. */
function createExclusive(path: string): number {
  try {
    // ours: created just now; the umask may have narrowed the mode, so it is set on the descriptor
    return createExclusiveRaw(path);
  } catch (err) {
    throw unusable(path, 'file', err);
  }
}

function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, O_RDONLY | O_DIRECTORY);
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // durability of the rename only; the content itself was fsynced
  }
}

function commitTemp(fd: number, tmp: string, path: string): void {
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(tmp, path);
  } catch (err) {
    unlinkQuiet(tmp);
    throw unusable(path, 'file', err);
  }
  syncDir(dirname(path));
}

function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

/** Replace `path` with `data`, owner-only (0600), without ever following a link at `path`. */
export function writeFileReplacing(path: string, data: string | Uint8Array): void {
  const tmp = tempNameFor(path);
  const fd = createExclusive(tmp);
  try {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off, buf.length - off);
  } catch (err) {
    closeSync(fd);
    unlinkQuiet(tmp);
    throw err;
  }
  commitTemp(fd, tmp, path);
}

/** A stream to a temp file that replaces `path` on `commit()` (see writeFileReplacing). */
export interface ReplacingFile {
  readonly stream: Writable;
  commit(): Promise<void>;
  /** Drop the temp file (after a failure); the target is left as it was. */
  discard(): void;
}

export function openFileReplacing(path: string): ReplacingFile {
  const tmp = tempNameFor(path);
  const fd = createExclusive(tmp);
  const stream = createWriteStream(tmp, { fd, autoClose: false });
  let failure: unknown;
  stream.on('error', (err) => (failure ??= err));
  let done = false;
  return {
    stream,
    async commit() {
      if (done) return;
      done = true;
      if (!stream.writableFinished) {
        stream.end();
        if (failure === undefined) await Promise.race([once(stream, 'finish'), once(stream, 'error')]).catch(() => undefined);
      }
      if (failure !== undefined) {
        closeSync(fd);
        unlinkQuiet(tmp);
        throw unusable(path, 'file', failure);
      }
      commitTemp(fd, tmp, path);
    },
    discard() {
      if (done) return;
      done = true;
      stream.destroy();
      closeSync(fd);
      unlinkQuiet(tmp);
    },
  };
}

/**
 * For files another library opens by path (SQLite): create `path` exclusively, 0600, if it is
 * absent; otherwise require a regular file of the user's own with a single link. Either way the
 * caller may then open the path: what is there is ours, and in a directory of ours it stays so.
 */
export function ensurePrivateFile(path: string, what: string, opts: { create: boolean } = { create: true }): void {
  if (opts.create) {
    try {
      closeSync(createExclusiveRaw(path));
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw unusable(path, what, err);
    }
  }
  const l = lstatOrUndefined(path);
  if (!l) return;
  if (l.isSymbolicLink()) throw unsafe(path, `${what} ${path} is a symbolic link; refusing to open it (remove it, or use another state directory)`);
  if (!l.isFile()) throw unsafe(path, `${what} ${path} is not a regular file`);
  if (l.uid !== myUid()) throw unsafe(path, `${what} ${path} is owned by ${owner(l.uid)}, not by you (uid ${myUid()}); refusing to open it`);
  if (l.nlink !== 1) throw unsafe(path, `${what} ${path} has ${l.nlink} hard links; refusing to open it`);
}

function createExclusiveRaw(path: string): number {
  const fd = openSync(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
  try {
    fchmodSync(fd, 0o600);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return fd;
}
