/**
 * A small run store for serve's tests, written through the store's own API (startRun,
 * recordHosts, finishRun): four daily sweeps of 60 hosts (plus a hostile one) and one playbook
 * run. Between the third and the fourth sweep web001 regresses (healthy -> records-lost) and
 * web003 recovers (backlog-growing -> healthy); records-lost hosts lose 100 more records a sweep.
 */
import { openStore } from '../../src/store/index.js';
import { summarize, type HostResult, type RunInfo } from '../../src/results/index.js';
import { buildHost, hostileHost, kindFor, T0, type HostKind } from '../fixtures/results/build.js';

export const HOSTS = 60;
export const SWEEPS = 4;
export const DAY = 86_400_000;
export const INVENTORY = 'inventory/prod.yml';
export const sweepId = (k: number) => `2025112${5 + k}T100000Z-sw${k}`;
export const PLAY_ID = '20251128T120000Z-play';

function kindAt(i: number, k: number): HostKind {
  if (k === SWEEPS - 1 && i === 1) return 'records-lost';
  if (k === SWEEPS - 1 && i === 3) return 'healthy';
  return kindFor(i);
}

function hostAt(i: number, k: number): HostResult {
  const h = buildHost(kindAt(i, k), { index: i });
  h.groups = ['web', i <= 30 ? 'dc-a' : 'dc-b'];
  const last = h.facts?.samples.at(-1);
  if (last?.auditctl.kind === 'ok' && h.diagnosis?.state === 'records-lost') last.auditctl.status.lost += k * 100;
  return h;
}

export function writeFixtureStore(stateDir: string): void {
  const store = openStore(stateDir);
  try {
    for (let k = 0; k < SWEEPS; k++) {
      const hosts = Array.from({ length: HOSTS }, (_, j) => hostAt(j + 1, k));
      hosts.push(hostileHost(HOSTS + 1));
      const run: RunInfo = {
        id: sweepId(k), mode: 'sweep', forks: 50, inventory: INVENTORY,
        started_at: new Date(T0 + k * DAY).toISOString(),
      };
      store.startRun(run, hosts.map((h) => h.host));
      store.recordHosts(run.id, hosts);
      store.finishRun(run.id, summarize(hosts), { finished_at: new Date(T0 + k * DAY + 9_000).toISOString() });
    }
    // a playbook run: remediated hosts changed two tasks; the others ran the first task only
    const play: RunInfo = { id: PLAY_ID, mode: 'run', forks: 10, inventory: INVENTORY, playbook: 'playbooks/remediate.yml', started_at: new Date(T0 + 3.1 * DAY).toISOString() };
    const hosts = Array.from({ length: 20 }, (_, j) => {
      const h = buildHost(j % 4 === 0 ? 'remediated' : 'healthy', { index: j + 1 });
      if (!h.tasks) h.tasks = [{ play: 'remediate audit backlog', task: 'gather audit facts', module: 'audit_facts', status: 'ok', changed: false, duration_ms: 700 }];
      return h;
    });
    store.startRun(play, hosts.map((h) => h.host));
    store.recordHosts(play.id, hosts);
    store.finishRun(play.id, summarize(hosts), { finished_at: new Date(T0 + 3.1 * DAY + 60_000).toISOString() });
  } finally {
    store.close();
  }
}
