/**
 * Issue 24.3: `fleetmend runs` shows what a run did: check or apply, the changed count, the
 * exit code, how long it took and the --limit; `runs --json` carries the same.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostResult, RunInfo } from '../../src/results/index.js';
import { summarize } from '../../src/results/index.js';
import { openStore } from '../../src/store/index.js';
import { buildHost } from '../fixtures/results/build.js';
import { runCli } from '../helpers/cli.js';

const T0 = Date.parse('2026-01-05T10:00:00.000Z');
let dir: string;

function record(store: ReturnType<typeof openStore>, run: RunInfo, hosts: HostResult[], opts: { interrupted?: boolean } = {}): void {
  store.startRun(run, hosts.map((h) => h.host));
  for (const h of hosts) store.recordHost(run.id, h);
  store.finishRun(run.id, summarize(hosts), { finished_at: run.finished_at!, ...opts });
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'fm-runs-'));
  const store = openStore(dir);
  const changed = (name: string): HostResult => ({ ...buildHost('healthy', { name }), status: 'changed' });
  const at = (s: number) => new Date(T0 + s * 1000).toISOString();
  const base = { forks: 5, inventory: 'hosts.ini', playbook: 'pb.yml', limit: 'app-*' };
  record(store, { ...base, id: 'r1-check', mode: 'run', check: true, started_at: at(0), finished_at: at(2.5) }, [changed('app-01'), buildHost('healthy', { name: 'app-02' })]);
  record(store, { ...base, id: 'r2-apply', mode: 'run', check: false, started_at: at(60), finished_at: at(64) }, [changed('app-01'), buildHost('unreachable', { name: 'app-02' })]);
  store.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('fleetmend runs (issue 24.3)', () => {
  it('the table: check/apply, changed, exit code, duration and limit', async () => {
    const r = await runCli(['runs', '--state-dir', dir]);
    expect(r.code, r.stderr).toBe(0);
    const [head, apply, check] = r.stdout.trimEnd().split('\n').map((l) => l.split(/ {2,}/));
    expect(head).toEqual(['RUN', 'MODE', 'STARTED', 'TOOK', 'STATUS', 'EXIT', 'HOSTS', 'OK', 'CHANGED', 'FAILED', 'UNREACHABLE', 'LIMIT', 'INVENTORY/PLAYBOOK']);
    expect(apply).toEqual(['r2-apply', 'apply', '2026-01-05T10:01:00.000Z', '4.0s', 'finished', '4', '2', '0', '1', '0', '1', 'app-*', 'pb.yml']);
    expect(check).toEqual(['r1-check', 'check', '2026-01-05T10:00:00.000Z', '2.5s', 'finished', '0', '2', '1', '1', '0', '0', 'app-*', 'pb.yml']);
  });

  it('--json carries the same', async () => {
    const r = await runCli(['runs', '--state-dir', dir, '--json']);
    const runs = JSON.parse(r.stdout) as Record<string, unknown>[];
    expect(runs.map((x) => [x.id, x.check, x.exit_code, x.duration_ms, x.limit, (x.summary as { changed: number }).changed])).toEqual([
      ['r2-apply', false, 4, 4000, 'app-*', 1],
      ['r1-check', true, 0, 2500, 'app-*', 1],
    ]);
  });
});
