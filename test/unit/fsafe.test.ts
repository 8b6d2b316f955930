/**
 * util/fsafe (issue 16 §3): files are created without following a planted link, nothing that
 * fleetmend did not create is chmodded, and directories another user controls are refused.
 * "Another user" is uid 65534 (nobody): the tests chown what they plant to it.
 */
import {
  chmodSync, existsSync, linkSync, lchownSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync,
  statSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetmendError } from '../../src/errors.js';
import { checkOwnedDir, ensurePrivateDir, ensurePrivateFile, openFileReplacing, writeFileReplacing } from '../../src/util/fsafe.js';
import { openStateDir, openStateSubdir } from '../../src/store/state-dir.js';

const NOBODY = 65534;
const mode = (p: string) => statSync(p).mode & 0o7777;

function refusal(fn: () => unknown): FleetmendError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FleetmendError);
    expect((err as FleetmendError).code).toBe('E_UNSAFE_PATH');
    return err as FleetmendError;
  }
  throw new Error('expected E_UNSAFE_PATH, nothing was thrown');
}

describe('util/fsafe', () => {
  let dir: string;
  let n = 0;
  const fresh = () => {
    const d = join(dir, `case-${n++}`);
    mkdirSync(d, { mode: 0o700 });
    return d;
  };
  /** A file someone cares about, 0644 with known content: it must come out exactly so. */
  const precious = (d: string) => {
    const p = join(d, 'precious.txt');
    writeFileSync(p, 'do not touch\n');
    chmodSync(p, 0o644);
    return p;
  };
  const untouched = (p: string) => {
    expect(readFileSync(p, 'utf8')).toBe('do not touch\n');
    expect(mode(p)).toBe(0o644);
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fm-fsafe-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  describe('replacing a file', () => {
    it('writeFileReplacing replaces a planted symlink itself; its target keeps content and mode', () => {
      const d = fresh();
      const target = precious(d);
      const link = join(d, 'report.md');
      symlinkSync(target, link);
      writeFileReplacing(link, 'new report\n');
      untouched(target);
      expect(lstatSync(link).isSymbolicLink()).toBe(false);
      expect(readFileSync(link, 'utf8')).toBe('new report\n');
      expect(mode(link)).toBe(0o600);
      expect(readdirSync(d).sort()).toEqual(['precious.txt', 'report.md']); // no temp file left behind
    });

    it('a dangling planted link is replaced, and nothing is created where it pointed', () => {
      const d = fresh();
      const link = join(d, 'x.retry');
      symlinkSync(join(d, 'would-be-created'), link);
      writeFileReplacing(link, 'h1\n');
      expect(existsSync(join(d, 'would-be-created'))).toBe(false);
      expect(readFileSync(link, 'utf8')).toBe('h1\n');
    });

    it('an existing file of ours is replaced by a new 0600 one (the old 0644 inode is not chmodded)', () => {
      const d = fresh();
      const p = join(d, 'report.html');
      writeFileSync(p, 'old');
      chmodSync(p, 0o644);
      const keep = join(d, 'hardlink-to-old');
      linkSync(p, keep); // the old inode, seen through another name
      writeFileReplacing(p, 'new');
      expect(readFileSync(p, 'utf8')).toBe('new');
      expect(mode(p)).toBe(0o600);
      expect(readFileSync(keep, 'utf8')).toBe('old');
      expect(mode(keep)).toBe(0o644);
    });

    it('openFileReplacing streams into a temp file and renames it over the link on commit only', async () => {
      const d = fresh();
      const target = precious(d);
      const link = join(d, 'report.json');
      symlinkSync(target, link);
      const f = openFileReplacing(link);
      f.stream.write('{"a":');
      expect(lstatSync(link).isSymbolicLink()).toBe(true); // nothing replaced before commit
      f.stream.write('1}\n');
      await f.commit();
      untouched(target);
      expect(readFileSync(link, 'utf8')).toBe('{"a":1}\n');
      expect(mode(link)).toBe(0o600);
      expect(readdirSync(d).sort()).toEqual(['precious.txt', 'report.json']);
    });

    it('discard leaves the target as it was and removes the temp file', () => {
      const d = fresh();
      const p = join(d, 'report.md');
      writeFileSync(p, 'previous');
      const f = openFileReplacing(p);
      f.stream.write('half a report');
      f.discard();
      expect(readFileSync(p, 'utf8')).toBe('previous');
      expect(readdirSync(d)).toEqual(['report.md']);
    });
  });

  describe('directories', () => {
    it('creates a missing directory (and parents) 0700 even under umask 000', () => {
      const d = fresh();
      const old = process.umask(0);
      try {
        ensurePrivateDir(join(d, 'a', 'b'), 'state directory');
      } finally {
        process.umask(old);
      }
      expect(mode(join(d, 'a'))).toBe(0o700);
      expect(mode(join(d, 'a', 'b'))).toBe(0o700);
    });

    it('a directory of ours that already exists is accepted and not chmodded', () => {
      const d = fresh();
      chmodSync(d, 0o755);
      ensurePrivateDir(d, 'report directory');
      expect(mode(d)).toBe(0o755);
    });

    it("accepts our own symlink to our own directory (a dotfile setup), refuses another user's link", () => {
      const d = fresh();
      const real = join(d, 'real');
      mkdirSync(real, { mode: 0o700 });
      const mine = join(d, 'mine');
      symlinkSync(real, mine);
      expect(checkOwnedDir(mine, 'state directory')).toBe(true);
      const theirs = join(d, 'theirs');
      symlinkSync(real, theirs);
      lchownSync(theirs, NOBODY, NOBODY);
      const e = refusal(() => ensurePrivateDir(theirs, 'state directory'));
      expect(e.message).toMatch(/symbolic link owned by uid 65534/);
      expect(e.position?.file).toBe(theirs);
    });

    it("refuses our own link that leads into another user's directory, and another user's directory", () => {
      const d = fresh();
      const foreign = join(d, 'foreign');
      mkdirSync(foreign, { mode: 0o777 });
      chmodSync(foreign, 0o777);
      lchownSync(foreign, NOBODY, NOBODY);
      const link = join(d, 'link');
      symlinkSync(foreign, link);
      expect(refusal(() => ensurePrivateDir(link, 'run report directory')).message).toMatch(/owned by uid 65534/);
      expect(refusal(() => ensurePrivateDir(foreign, 'run report directory')).message).toMatch(/owned by uid 65534/);
      // -o naming another user's directory is refused too (root's would be accepted)
      expect(() => checkOwnedDir(foreign, 'report directory', { rootOwnedOk: true })).toThrow(/owned by uid 65534/);
      expect(readdirSync(foreign)).toEqual([]);
    });

    it('a file where a directory belongs is refused', () => {
      const d = fresh();
      writeFileSync(join(d, 'f'), '');
      expect(refusal(() => ensurePrivateDir(join(d, 'f'), 'state directory')).message).toMatch(/not a directory/);
    });
  });

  describe('the state directory (issue 21 §8: another user could delete the store or race its side files)', () => {
    it('a state directory of ours that group or others may write is refused, naming it and the fix, sticky bit or not', () => {
      for (const m of [0o775, 0o757, 0o1777, 0o770]) {
        const d = fresh();
        chmodSync(d, m);
        const e = refusal(() => openStateDir(d));
        expect(e.message).toContain(`state directory ${d} is writable by group or others (mode ${m.toString(8).padStart(4, '0')})`);
        expect(e.message).toContain(`chmod go-w ${d}`);
        expect(e.position?.file).toBe(d);
        expect(mode(d), 'it is never chmodded for the user').toBe(m);
        expect(readdirSync(d)).toEqual([]);
      }
    });

    it('our own symlink to a group-writable directory of ours, and a group-writable locks/ or retry/, are refused', () => {
      const d = fresh();
      const real = join(d, 'real');
      mkdirSync(real);
      chmodSync(real, 0o777);
      const link = join(d, 'state');
      symlinkSync(real, link);
      expect(refusal(() => openStateDir(link)).message).toContain(`chmod go-w ${link}`);
      const s = fresh();
      mkdirSync(join(s, 'locks'));
      chmodSync(join(s, 'locks'), 0o775);
      expect(refusal(() => openStateSubdir(s, 'locks')).message).toContain(`chmod go-w ${join(s, 'locks')}`);
      expect(openStateSubdir(s, 'retry')).toBe(join(s, 'retry'));
      expect(mode(join(s, 'retry'))).toBe(0o700);
    });

    it("0755 and 0700 are accepted as they are; another user's directory is refused", () => {
      for (const m of [0o755, 0o700]) {
        const d = fresh();
        chmodSync(d, m);
        expect(openStateDir(d)).toBe(d);
        expect(mode(d)).toBe(m);
      }
      const theirs = fresh();
      chmodSync(theirs, 0o700);
      lchownSync(theirs, NOBODY, NOBODY);
      expect(refusal(() => openStateDir(theirs)).message).toMatch(/owned by uid 65534, not by you/);
    });
  });

  describe('a file another library opens by path (the SQLite database)', () => {
    it('is created exclusively, 0600, when absent', () => {
      const d = fresh();
      const old = process.umask(0);
      try {
        ensurePrivateFile(join(d, 'fleetmend.db'), 'run store');
      } finally {
        process.umask(old);
      }
      expect(mode(join(d, 'fleetmend.db'))).toBe(0o600);
    });

    it('a planted symlink (dangling or not), a hard link, a foreign file and a directory are refused, untouched', () => {
      const d = fresh();
      const target = precious(d);
      const link = join(d, 'fleetmend.db');
      symlinkSync(target, link);
      expect(refusal(() => ensurePrivateFile(link, 'run store')).message).toMatch(/symbolic link/);
      untouched(target);
      const dangling = join(d, 'dangling.db');
      symlinkSync(join(d, 'nowhere'), dangling);
      refusal(() => ensurePrivateFile(dangling, 'run store'));
      expect(existsSync(join(d, 'nowhere'))).toBe(false);
      const hard = join(d, 'hard.db');
      linkSync(target, hard);
      expect(refusal(() => ensurePrivateFile(hard, 'run store')).message).toMatch(/2 hard links/);
      untouched(target);
      const foreign = join(d, 'foreign.db');
      writeFileSync(foreign, '');
      lchownSync(foreign, NOBODY, NOBODY);
      expect(refusal(() => ensurePrivateFile(foreign, 'run store')).message).toMatch(/owned by uid 65534/);
      mkdirSync(join(d, 'adir.db'));
      expect(refusal(() => ensurePrivateFile(join(d, 'adir.db'), 'run store')).message).toMatch(/not a regular file/);
      // create: false (the -wal/-shm siblings): absent is fine and stays absent
      ensurePrivateFile(join(d, 'absent-wal'), 'run store file', { create: false });
      expect(existsSync(join(d, 'absent-wal'))).toBe(false);
    });
  });
});
