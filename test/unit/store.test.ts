import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DB_FILE, MIGRATIONS, SCHEMA_VERSION, defaultStateDir, migrate, openStore } from '../../src/store/index.js';
import { redact } from '../../src/secrets/index.js';
import type { RunStore } from '../../src/store/index.js';
import type { HostResult } from '../../src/results/index.js';
import { FleetmendError } from '../../src/errors.js';
import { buildFleet, buildHost, summarize } from '../fixtures/results/build.js';

let dir: string;
let store: RunStore | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fleetmend-store-'));
});
afterEach(() => {
  store?.close();
  store = undefined;
  rmSync(dir, { recursive: true, force: true });
});

describe('openStore', () => {
  it('creates the state dir 0700 and the db file 0600, in WAL mode, at the latest schema', () => {
    const stateDir = join(dir, 'state', 'fleetmend');
    store = openStore(stateDir);
    expect(statSync(stateDir).mode & 0o777).toBe(0o700);
    expect(statSync(join(stateDir, DB_FILE)).mode & 0o777).toBe(0o600);
    store.close();
    const db = new Database(join(stateDir, DB_FILE), { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    db.close();
  });

  it('migrates a version-1 database and keeps its runs', () => {
    const stateDir = join(dir, 'old');
    store = openStore(stateDir); // create the file with the right mode, then rebuild it at v1
    store.close();
    rmSync(join(stateDir, DB_FILE));
    const db = new Database(join(stateDir, DB_FILE));
    expect(migrate(db, 1)).toBe(1);
    db.prepare(`INSERT INTO runs (id, mode, inventory, started_at, status, info) VALUES (?, ?, ?, ?, ?, ?)`)
      .run('old-run', 'sweep', 'inv.yml', '2025-01-01T00:00:00.000Z', 'interrupted',
        JSON.stringify({ id: 'old-run', mode: 'sweep', started_at: '2025-01-01T00:00:00.000Z', forks: 5 }));
    db.prepare(`INSERT INTO run_hosts (run_id, host, status, result) VALUES (?, ?, ?, ?)`)
      .run('old-run', 'db01', 'ok', JSON.stringify(buildHost('healthy', { name: 'db01' })));
    expect(() => db.prepare('SELECT * FROM samples').all()).toThrow(/no such table/);
    db.close();

    store = openStore(stateDir);
    const old = store.getRun('old-run');
    expect(old.status).toBe('interrupted');
    expect(old.hosts.map((h) => h.host)).toEqual(['db01']);
    store.close();
    const after = new Database(join(stateDir, DB_FILE), { readonly: true });
    expect(after.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    expect(after.prepare('SELECT interrupted FROM runs WHERE id = ?').get('old-run')).toEqual({ interrupted: 1 });
    after.close();
  });

  it('refuses a database from a newer fleetmend', () => {
    const stateDir = join(dir, 'new');
    store = openStore(stateDir);
    store.close();
    const db = new Database(join(stateDir, DB_FILE));
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => openStore(stateDir)).toThrow(/newer than this fleetmend/);
    store = undefined;
  });
});

describe('defaultStateDir', () => {
  it('uses $XDG_STATE_HOME when absolute, else ~/.local/state', () => {
    expect(defaultStateDir({ XDG_STATE_HOME: '/x/state', HOME: '/home/a' })).toBe('/x/state/fleetmend');
    expect(defaultStateDir({ XDG_STATE_HOME: 'relative', HOME: '/home/a' })).toBe('/home/a/.local/state/fleetmend');
    expect(defaultStateDir({ HOME: '/home/b' })).toBe('/home/b/.local/state/fleetmend');
  });
});

describe('run lifecycle', () => {
  it('round-trips a finished run with facts, diagnosis, compliance and tasks', () => {
    store = openStore(dir);
    const fleet = buildFleet(20);
    store.startRun(fleet.run, fleet.hosts.map((h) => h.host));
    for (const h of fleet.hosts) store.recordHost(fleet.run.id, h);
    store.finishRun(fleet.run.id, fleet.summary, { finished_at: '2025-11-25T10:00:09.000Z' });

    const got = store.getRun(fleet.run.id);
    expect(got.finished).toBe(true);
    expect(got.status).toBe('finished');
    expect(got.pending).toEqual([]);
    expect(got.summary).toEqual(fleet.summary);
    expect(got.run.finished_at).toBe('2025-11-25T10:00:09.000Z');
    expect(got.hosts).toEqual(fleet.hosts);
    expect(store.getRun('latest').run.id).toBe(fleet.run.id);
    expect(store.getRun(fleet.run.id.slice(0, 8)).run.id).toBe(fleet.run.id);
  });

  it("a host's findings read back most severe first, fleet outliers included", () => {
    store = openStore(dir);
    const fleet = buildFleet(1);
    const host: HostResult = { ...fleet.hosts[0]!, diagnosis: { state: 'healthy', findings: [{ code: 'auditd-disk-action', severity: 'low', message: 'disk_full_action = SUSPEND', evidence: {}, action: 'review', action_code: 'review-disk-actions' }] } };
    store.startRun(fleet.run, [host.host]);
    store.recordHost(fleet.run.id, host);
    store.recordFleetFindings(fleet.run.id, { [host.host]: [{ code: 'fleet-outlier', severity: 'medium', message: 'far above the fleet', evidence: {}, action: 'look', action_code: 'investigate-outlier' }] });
    expect(store.getRun(fleet.run.id).hosts[0]!.diagnosis!.findings.map((f) => f.severity)).toEqual(['medium', 'low']);
  });

  it('keeps every recorded host after a crash mid-run (no finishRun, reopen)', () => {
    store = openStore(dir);
    const fleet = buildFleet(5);
    store.startRun(fleet.run, fleet.hosts.map((h) => h.host));
    for (const h of fleet.hosts.slice(0, 3)) store.recordHost(fleet.run.id, h);
    // simulate the crash: drop the handle without finishing the run
    store.close();

    store = openStore(dir);
    const got = store.getRun(fleet.run.id);
    expect(got.finished).toBe(false);
    expect(got.status).toBe('running');
    expect(got.hosts).toEqual(fleet.hosts.slice(0, 3));
    expect(got.pending).toEqual(fleet.hosts.slice(3).map((h) => h.host));
    expect(store.listRuns()[0]).toMatchObject({ id: fleet.run.id, status: 'running', host_count: 5 });
  });

  it('refuses a second result for the same run and host (recordHostsOnce), keeping the first', () => {
    store = openStore(dir);
    const { run } = buildFleet(0, { id: 'r-once' });
    store.startRun(run, ['a', 'b']);
    const first = { ...buildHost('healthy', { name: 'a' }), worker: 'w1' };
    const again = { ...buildHost('failed', { name: 'a' }), worker: 'w2' };
    expect(store.recordHostsOnce(run.id, [first])).toEqual([]);
    expect(store.recordHostsOnce(run.id, [again, buildHost('healthy', { name: 'b' })]).map((r) => r.host)).toEqual(['a']);
    const got = store.getRun('r-once');
    expect(got.hosts.map((h) => [h.host, h.status, h.worker])).toEqual([['a', 'ok', 'w1'], ['b', 'ok', undefined]]);
    expect(got.pending).toEqual([]);
  });

  it('marks an interrupted run and tells --resume which hosts are done', () => {
    store = openStore(dir);
    const hosts: HostResult[] = [
      buildHost('healthy', { name: 'a' }),
      buildHost('failed', { name: 'b' }),
      { ...buildHost('healthy', { name: 'c' }), status: 'interrupted' },
      { ...buildHost('healthy', { name: 'd' }), status: 'skipped' },
      buildHost('unreachable', { name: 'e' }),
    ];
    const { run } = buildFleet(0, { id: 'r-int' });
    store.startRun(run, [...hosts.map((h) => h.host), 'f']);
    for (const h of hosts) store.recordHost(run.id, h);
    store.finishRun(run.id, summarize(hosts), { interrupted: true });
    const got = store.getRun('r-int');
    expect(got.status).toBe('interrupted');
    expect(got.run.interrupted).toBe(true);
    expect(got.pending).toEqual(['f']);
  });

  it('stores tasks recorded one by one before the host finishes', () => {
    store = openStore(dir);
    const h = buildHost('remediated', { name: 'fixme' });
    const { run } = buildFleet(0, { id: 'r-tasks' });
    store.startRun(run, ['fixme']);
    h.tasks!.forEach((t, seq) => store!.recordTask(run.id, 'fixme', seq, t));
    store.recordHost(run.id, h); // same seqs: replaced, not duplicated
    expect(store.getRun(run.id).hosts[0]!.tasks).toEqual(h.tasks);
  });

  it('recording the same host twice replaces its samples and findings', () => {
    store = openStore(dir);
    const { run } = buildFleet(0, { id: 'r-twice' });
    store.startRun(run, ['x']);
    store.recordHost(run.id, buildHost('records-lost', { name: 'x' }));
    store.recordHost(run.id, buildHost('records-lost', { name: 'x' }));
    store.close();
    const db = new Database(join(dir, DB_FILE), { readonly: true });
    expect(db.prepare('SELECT COUNT(*) n FROM samples WHERE run_id = ?').get(run.id)).toEqual({ n: 2 });
    expect(db.prepare('SELECT COUNT(*) n FROM findings WHERE run_id = ?').get(run.id)).toEqual({ n: 2 });
    db.close();
  });

  it('throws E_USAGE for an unknown run', () => {
    store = openStore(dir);
    const err = (() => { try { store!.getRun('nope'); } catch (e) { return e; } })();
    expect(err).toBeInstanceOf(FleetmendError);
    expect((err as FleetmendError).code).toBe('E_USAGE');
  });
});

describe('secrets', () => {
  it('redact drops secret-named keys at any depth but keeps `passed`', () => {
    const v = { a: 1, become_password: 'x', nested: [{ ansible_ssh_pass: 'y', passphrase: 'z', passed: true, key_passwd: 'w' }] };
    expect(redact(v)).toEqual({ a: 1, nested: [{ passed: true }] });
    expect(v.become_password).toBe('x'); // input untouched
  });

  it('a HostResult with secrets in vars is stored redacted', () => {
    store = openStore(dir);
    const { run } = buildFleet(0, { id: 'r-secret' });
    const h = { ...buildHost('healthy', { name: 's1' }), vars: { ansible_user: 'ops', become_password: 'hunter2', ssh: { passphrase: 'p4ss' } } };
    store.startRun({ ...run, ...({ options: { become_password: 'hunter3' } } as object) } as typeof run, ['s1']);
    store.recordHost(run.id, h as HostResult);
    store.recordTask(run.id, 's1', 9, { play: 'p', task: 't', module: 'm', status: 'ok', changed: false, duration_ms: 1, ...({ args: { password: 'hunter4' } } as object) });
    const got = store.getRun(run.id).hosts[0] as HostResult & { vars: Record<string, unknown> };
    expect(got.vars).toEqual({ ansible_user: 'ops', ssh: {} });
    store.close();
    store = undefined;
    // Nothing secret anywhere in the file, WAL included.
    const db = new Database(join(dir, DB_FILE));
    const dump = ['runs', 'run_hosts', 'task_results'].map((t) => JSON.stringify(db.prepare(`SELECT * FROM ${t}`).all())).join('\n');
    db.close();
    for (const s of ['hunter2', 'hunter3', 'hunter4', 'p4ss']) expect(dump).not.toContain(s);
  });
});

describe('history queries', () => {
  function sweep(s: RunStore, id: string, at: string, hosts: HostResult[], inventory = 'inventory/prod.yml', mode: 'sweep' | 'run' = 'sweep'): void {
    const { run } = buildFleet(0, { id });
    const r = { ...run, started_at: at, inventory, mode };
    s.startRun(r, hosts.map((h) => h.host));
    for (const h of hosts) s.recordHost(id, h);
    s.finishRun(id, summarize(hosts));
  }

  it('hostHistory returns one row per run, oldest first, limited to the most recent', () => {
    store = openStore(dir);
    sweep(store, 'r1', '2025-11-20T00:00:00.000Z', [buildHost('healthy', { name: 'h' })]);
    sweep(store, 'r2', '2025-11-21T00:00:00.000Z', [buildHost('records-lost', { name: 'h', index: 2 })]);
    sweep(store, 'r3', '2025-11-22T00:00:00.000Z', [buildHost('unreachable', { name: 'h' })]);
    sweep(store, 'r4', '2025-11-23T00:00:00.000Z', [buildHost('backlog-growing', { name: 'h', index: 4 })]);
    const rows = store.hostHistory('h', { limit: 3 });
    expect(rows.map((r) => r.run_id)).toEqual(['r2', 'r3', 'r4']);
    expect(rows[0]).toMatchObject({ state: 'records-lost', backlog: 65, backlog_limit: 64, lost: 7901, reachable: true });
    expect(rows[1]).toMatchObject({ backlog: null, lost: null, reachable: false });
    expect(rows[2]).toMatchObject({ state: 'backlog-growing', backlog: 5404, enabled: 1, failure: 1 });
    expect(store.hostHistory('nobody')).toEqual([]);
  });

  it('previousRun finds the last finished run of the same inventory', () => {
    store = openStore(dir);
    const h = [buildHost('healthy', { name: 'h' })];
    sweep(store, 'a', '2025-11-20T00:00:00.000Z', h);
    sweep(store, 'other', '2025-11-21T00:00:00.000Z', h, 'inventory/lab.yml');
    sweep(store, 'b', '2025-11-22T00:00:00.000Z', h);
    sweep(store, 'c', '2025-11-23T00:00:00.000Z', h);
    expect(store.previousRun('inventory/prod.yml', 'c')?.run.id).toBe('b');
    expect(store.previousRun('inventory/prod.yml', 'b')?.run.id).toBe('a');
    expect(store.previousRun('inventory/prod.yml', 'a')).toBeUndefined();
    expect(store.previousRun('inventory/lab.yml', 'c')?.run.id).toBe('other');
    expect(store.listRuns({ inventory: 'inventory/prod.yml', limit: 2 }).map((r) => r.id)).toEqual(['c', 'b']);
    expect(store.listRuns({ mode: 'run' })).toEqual([]);
  });

  it('previousRun of a sweep is the previous sweep: a playbook run in between is not its baseline', () => {
    store = openStore(dir);
    const h = [buildHost('healthy', { name: 'h' })];
    sweep(store, 's1', '2025-11-20T00:00:00.000Z', h);
    sweep(store, 'apply', '2025-11-21T00:00:00.000Z', h, 'inventory/prod.yml', 'run');
    sweep(store, 's2', '2025-11-22T00:00:00.000Z', h);
    sweep(store, 'apply2', '2025-11-23T00:00:00.000Z', h, 'inventory/prod.yml', 'run');
    expect(store.previousRun('inventory/prod.yml', 's2')?.run.id).toBe('s1');
    expect(store.previousRun('inventory/prod.yml', 'apply2')?.run.id).toBe('apply');
    expect(store.previousRun('inventory/prod.yml', 'apply')).toBeUndefined();
  });
});
