/**
 * Security (issue 16 §3) through the CLI on the simulated fleet: report files and the run store
 * are created without following planted links, the target of a planted link keeps its content
 * and mode, and a report or state directory another user controls is refused with
 * E_UNSAFE_PATH (exit 1, no stack trace, no host contacted when the run has not started).
 * "Another user" is uid 65534: what the tests plant for it is chowned to it.
 */
import {
  chmodSync, existsSync, lchownSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync,
  symlinkSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFleet, type Fleet } from '../../src/sim/index.js';
import { runCli, type CliResult } from '../helpers/cli.js';

const NOBODY = 65534;
const mode = (p: string) => statSync(p).mode & 0o7777;

describe('files: no planted link is followed, no foreign directory is written into', () => {
  let fleet: Fleet;
  let dir: string;
  let stateDir: string;
  let runId: string;
  let n = 0;
  const fresh = (name: string) => {
    const d = join(dir, `${name}-${n++}`);
    mkdirSync(d, { mode: 0o700 });
    return d;
  };
  const connections = () => fleet.hosts.reduce((k, h) => k + h.server.stats.connections, 0);
  const cli = (argv: string[]) => runCli(argv, { HOME: dir });
  const conn = () => ['-i', fleet.inventoryPath, '--known-hosts', fleet.knownHostsPath, '-q'];
  /** A file somebody cares about (0644, known content); it must come out exactly so. */
  const precious = (d: string, name = 'precious.txt') => {
    const p = join(d, name);
    writeFileSync(p, 'do not touch\n');
    chmodSync(p, 0o644);
    return p;
  };
  const untouched = (p: string) => {
    expect(readFileSync(p, 'utf8'), p).toBe('do not touch\n');
    expect(mode(p), p).toBe(0o644);
  };
  const unsafe = (r: CliResult, path: string) => {
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain('[E_UNSAFE_PATH]');
    expect(r.stderr).toContain(path);
    expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fm-secfiles-'));
    fleet = await startFleet({ scenario: 'healthy', hosts: 2, dir: join(dir, 'fleet'), loginDelayScale: 0 });
    stateDir = join(dir, 'state');
    const r = await cli(['sweep', ...conn(), '--state-dir', stateDir, '--samples', '1', '--no-policy']);
    expect(r.code, r.stderr).toBe(0);
    const runs = JSON.parse((await cli(['runs', '--state-dir', stateDir, '--json'])).stdout) as { id: string }[];
    runId = runs[0]!.id;
  }, 60_000);
  afterAll(async () => {
    await fleet?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe('report files', () => {
    it('`report RUN -o DIR` with DIR/<run-id>/report.md (and a per-host file) planted as symlinks: the targets are untouched', async () => {
      const out = fresh('out');
      const victim = fresh('victim');
      const runDir = join(out, runId);
      mkdirSync(join(runDir, 'hosts'), { recursive: true, mode: 0o700 });
      const target = precious(victim, 'authorized_keys');
      const hostTarget = precious(victim, 'host-target');
      symlinkSync(target, join(runDir, 'report.md'));
      const hostFile = join(runDir, 'hosts', `${fleet.hosts[0]!.name}.md`);
      symlinkSync(hostTarget, hostFile);
      const r = await cli(['report', runId, '--state-dir', stateDir, '-o', out, '--format', 'md,json', '--per-host']);
      expect(r.code, r.stderr).toBe(0);
      untouched(target);
      untouched(hostTarget);
      for (const f of [join(runDir, 'report.md'), hostFile]) {
        expect(lstatSync(f).isSymbolicLink(), f).toBe(false);
        expect(mode(f)).toBe(0o600);
        expect(readFileSync(f, 'utf8')).toContain(fleet.hosts[0]!.name);
      }
      expect(readdirSync(victim).sort()).toEqual(['authorized_keys', 'host-target']);
      // no temp file left beside the reports
      expect(readdirSync(runDir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    });

    it("DIR/<run-id> planted as another user's symlink, or as another user's directory, is refused; nothing is written", async () => {
      const out = fresh('out');
      const victim = fresh('victim');
      chmodSync(victim, 0o777);
      const link = join(out, runId);
      symlinkSync(victim, link);
      lchownSync(link, NOBODY, NOBODY);
      unsafe(await cli(['report', runId, '--state-dir', stateDir, '-o', out]), link);
      expect(readdirSync(victim)).toEqual([]);

      const out2 = fresh('out');
      const theirs = join(out2, runId);
      mkdirSync(theirs, { mode: 0o777 });
      chmodSync(theirs, 0o777);
      lchownSync(theirs, NOBODY, NOBODY);
      unsafe(await cli(['report', runId, '--state-dir', stateDir, '-o', out2]), theirs);
      expect(readdirSync(theirs)).toEqual([]);
    });

    it("`sweep -o DIR` with DIR another user's symlink is refused before any host is contacted", async () => {
      const victim = fresh('victim');
      const link = join(fresh('parent'), 'reports');
      symlinkSync(victim, link);
      lchownSync(link, NOBODY, NOBODY);
      const before = connections();
      unsafe(await cli(['sweep', ...conn(), '--no-store', '--samples', '1', '-o', link]), link);
      expect(connections(), 'a host was contacted').toBe(before);
      expect(readdirSync(victim)).toEqual([]);
    });

    it('`sweep -o DIR` with DIR our own symlink to our own directory writes there, 0600 files in a 0700 run directory', async () => {
      const real = fresh('real');
      const link = join(fresh('parent'), 'reports');
      symlinkSync(real, link);
      const r = await cli(['sweep', ...conn(), '--no-store', '--samples', '1', '--no-policy', '-o', link, '--format', 'md']);
      expect(r.code, r.stderr).toBe(0);
      const [runDir] = readdirSync(real);
      expect(runDir).toBeDefined();
      expect(mode(join(real, runDir!))).toBe(0o700);
      expect(mode(join(real, runDir!, 'report.md'))).toBe(0o600);
    }, 30_000);
  });

  describe('the run store', () => {
    it('a planted fleetmend.db symlink: a clear E_UNSAFE_PATH, the target neither chmodded nor written', async () => {
      const s = fresh('state');
      const target = precious(fresh('victim'), 'bashrc');
      const db = join(s, 'fleetmend.db');
      symlinkSync(target, db);
      unsafe(await cli(['runs', '--state-dir', s]), db);
      const before = connections();
      unsafe(await cli(['sweep', ...conn(), '--state-dir', s, '--samples', '1']), db);
      expect(connections(), 'a host was contacted').toBe(before);
      untouched(target);
      expect(lstatSync(db).isSymbolicLink()).toBe(true);
    });

    it('a planted -wal or -shm symlink beside a good database is refused too (SQLite would follow it)', async () => {
      for (const side of ['-wal', '-shm']) {
        const s = fresh('state');
        const target = precious(fresh('victim'), 'target');
        const r0 = await cli(['runs', '--state-dir', s]);
        expect(r0.code, r0.stderr).toBe(0); // creates the database
        const sib = join(s, `fleetmend.db${side}`);
        rmSync(sib, { force: true });
        symlinkSync(target, sib);
        unsafe(await cli(['runs', '--state-dir', s]), sib);
        untouched(target);
      }
    });

    it("a state directory that is another user's symlink, or another user's directory, is refused", async () => {
      const victim = fresh('victim');
      const link = join(fresh('parent'), 'state');
      symlinkSync(victim, link);
      lchownSync(link, NOBODY, NOBODY);
      unsafe(await cli(['runs', '--state-dir', link]), link);
      const before = connections();
      unsafe(await cli(['sweep', ...conn(), '--state-dir', link, '--samples', '1']), link);
      expect(connections()).toBe(before);
      expect(readdirSync(victim)).toEqual([]);

      const theirs = fresh('theirs');
      chmodSync(theirs, 0o777);
      lchownSync(theirs, NOBODY, NOBODY);
      unsafe(await cli(['runs', '--state-dir', theirs]), theirs);
      expect(readdirSync(theirs)).toEqual([]);
    });

    it('a state directory of ours that group or others may write is refused before any host is contacted, naming the fix', async () => {
      const s = fresh('state');
      chmodSync(s, 0o775);
      const before = connections();
      const r = await cli(['sweep', ...conn(), '--state-dir', s, '--samples', '1']);
      unsafe(r, s);
      expect(r.stderr).toContain(`chmod go-w ${s}`);
      expect(connections(), 'a host was contacted').toBe(before);
      unsafe(await cli(['runs', '--state-dir', s]), s);
      expect(readdirSync(s), 'no store, lock or retry directory was made in it').toEqual([]);
      expect(mode(s)).toBe(0o775);
    });

    it('a fresh store is created 0600 in a 0700 directory; a database that is not SQLite is E_STORE, not a stack trace', async () => {
      const s = join(fresh('parent'), 'state');
      const r = await cli(['runs', '--state-dir', s]);
      expect(r.code, r.stderr).toBe(0);
      expect(mode(s)).toBe(0o700);
      expect(mode(join(s, 'fleetmend.db'))).toBe(0o600);
      const junk = fresh('state');
      writeFileSync(join(junk, 'fleetmend.db'), 'this is not a database, just text long enough to be read as one\n'.repeat(20));
      const bad = await cli(['runs', '--state-dir', junk]);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/cannot open the run store .*fleetmend\.db: .*\[E_STORE\]/);
      expect(bad.stderr).not.toMatch(/internal error|\n\s+at /);
      expect(existsSync(join(junk, 'fleetmend.db'))).toBe(true);
    });
  });
});
