/**
 * The store under serve: migration 4 fills the new columns and rollups from rows written before
 * it, and `prune` keeps what drift needs (the newest finished run of each inventory), then
 * vacuums so the file shrinks.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { DB_FILE, migrate, openStore, SCHEMA_VERSION } from '../../src/store/index.js';
import { summarize } from '../../src/results/index.js';
import { buildHost, T0 } from '../fixtures/results/build.js';
import { DAY, SWEEPS, PLAY_ID, sweepId, writeFixtureStore } from './serve-fixture.js';
import { main } from '../../src/cli/program.js';
import { Writable } from 'node:stream';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'fleetmend-serve-store-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('store migration 4', () => {
  it('fills groups, failed controls and lost rollups for runs recorded before it', () => {
    const dir = tmp();
    const path = join(dir, DB_FILE);
    const db = new Database(path);
    migrate(db, 3);
    const sweep = (k: number, lost: number) => {
      const h = buildHost('records-lost', { index: 7 });
      const s = h.facts!.samples.at(-1)!;
      if (s.auditctl.kind === 'ok') s.auditctl.status.lost = lost;
      const id = `r${k}`;
      db.prepare(`INSERT INTO runs (id, mode, inventory, started_at, status, info, summary) VALUES (?, 'sweep', 'inv', ?, 'finished', '{}', ?)`)
        .run(id, new Date(T0 + k * DAY).toISOString(), JSON.stringify(summarize([h])));
      db.prepare(`INSERT INTO run_hosts (run_id, host, status, state, result) VALUES (?, ?, 'ok', ?, ?)`).run(id, h.host, h.diagnosis!.state, JSON.stringify(h));
      db.prepare(`INSERT INTO samples (run_id, host, seq, taken_at, lost) VALUES (?, ?, 0, 0, ?)`).run(id, h.host, lost);
    };
    sweep(0, 100);
    sweep(1, 250);
    sweep(2, 40); // a reboot reset the counter: 40 lost since
    expect(migrate(db)).toBe(SCHEMA_VERSION);
    const row = db.prepare(`SELECT groups, failed_controls FROM run_hosts WHERE run_id = 'r1'`).get() as { groups: string; failed_controls: string };
    expect(JSON.parse(row.groups)).toEqual(['web']);
    expect(JSON.parse(row.failed_controls)).toEqual(['audit-1.2', 'audit-2.1']);
    const rollups = db.prepare(`SELECT run_id, prev_run_id, lost_total, lost_new FROM run_rollups ORDER BY run_id`).all();
    expect(rollups).toEqual([
      { run_id: 'r0', prev_run_id: null, lost_total: 100, lost_new: 0 },
      { run_id: 'r1', prev_run_id: 'r0', lost_total: 250, lost_new: 150 },
      { run_id: 'r2', prev_run_id: 'r1', lost_total: 40, lost_new: 40 },
    ]);
    db.close();
  });
});

describe('prune', () => {
  const runIds = (dir: string) => {
    const db = new Database(join(dir, DB_FILE), { readonly: true });
    try {
      return (db.prepare(`SELECT id FROM runs ORDER BY started_at`).all() as { id: string }[]).map((r) => r.id);
    } finally {
      db.close();
    }
  };

  it('--keep-runs keeps the newest N of each inventory and mode, with their rows, and the file shrinks', () => {
    const dir = tmp();
    writeFixtureStore(dir);
    const store = openStore(dir);
    const r = store.prune({ keepRuns: 2, now: T0 + 10 * DAY });
    store.close();
    expect(r.deleted_runs).toBe(SWEEPS - 2);
    expect(runIds(dir)).toEqual([sweepId(SWEEPS - 2), sweepId(SWEEPS - 1), PLAY_ID]);
    expect(r.bytes_after).toBeLessThan(r.bytes_before);
    const db = new Database(join(dir, DB_FILE), { readonly: true });
    // the cascade took every row of the deleted runs
    for (const t of ['run_hosts', 'samples', 'findings', 'task_results', 'run_rollups']) {
      const orphans = db.prepare(`SELECT COUNT(*) AS n FROM ${t} WHERE run_id NOT IN (SELECT id FROM runs)`).get() as { n: number };
      expect(orphans.n, t).toBe(0);
    }
    db.close();
  });

  it('--keep-days keeps young runs; with both, a run goes only when it is old and beyond N', () => {
    const dir = tmp();
    writeFixtureStore(dir);
    const store = openStore(dir);
    // now = a day after the last sweep: sweeps 2 and 3 are younger than 2 days
    expect(store.prune({ keepDays: 2, now: T0 + SWEEPS * DAY }).deleted_runs).toBe(2);
    // sweep 2 is old (2 days > 1) but among the newest 2; then beyond the newest 1 but young (< 3 days)
    expect(store.prune({ keepRuns: 2, keepDays: 1, now: T0 + SWEEPS * DAY }).deleted_runs).toBe(0);
    expect(store.prune({ keepRuns: 1, keepDays: 3, now: T0 + SWEEPS * DAY }).deleted_runs).toBe(0);
    store.close();
    expect(runIds(dir)).toEqual([sweepId(2), sweepId(3), PLAY_ID]);
  });

  it('never deletes the newest finished run of an inventory, however old', () => {
    const dir = tmp();
    writeFixtureStore(dir);
    const store = openStore(dir);
    store.prune({ keepDays: 1, now: T0 + 1000 * DAY });
    store.close();
    expect(runIds(dir)).toEqual([sweepId(SWEEPS - 1), PLAY_ID]);
  });

  it('the CLI refuses prune without a bound and reports what it did', async () => {
    const dir = tmp();
    writeFixtureStore(dir);
    let out = '';
    let err = '';
    const sink = (f: (s: string) => void) => new Writable({ write: (c, _e, done) => (f(String(c)), done()) });
    expect(await main(['prune', '--state-dir', dir], { stderr: sink((s) => (err += s)) })).toBe(1);
    expect(err).toContain('--keep-runs N and/or --keep-days D');
    expect(await main(['prune', '--state-dir', dir, '--keep-runs', '3', '--json'], { stdout: sink((s) => (out += s)) })).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ deleted_runs: 1, kept_runs: 4 });
  });
});
