/**
 * The pages: a URL pattern, its query parameters, and the view the template (or /api) gets.
 * Stable URLs: every state of a page (inventory, filters, page numbers) is in its query string.
 */
import { FleetmendError } from '../errors.js';
import { STATE_PRECEDENCE } from '../diagnosis/severity.js';
import { lineChart } from './charts.js';
import type { HostFilter, Page, ReadModel, RunView } from './queries.js';

/** A page that cannot be shown, with its HTTP status (404: no such run or host). */
export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export interface Routed {
  template: string;
  title: string;
  view: object;
}

interface Route {
  pattern: RegExp;
  handle(params: string[], q: URLSearchParams, model: ReadModel): Routed;
}

/** A page number from `?NAME=`: 1 when absent, refused when not a positive integer. */
function pageParam(q: URLSearchParams, name: string): number {
  const v = q.get(name);
  if (v === null || v === '') return 1;
  if (!/^\d{1,6}$/.test(v) || Number(v) < 1) throw new FleetmendError('E_USAGE', `?${name}= must be a page number`);
  return Number(v);
}

function countParam(q: URLSearchParams, name: string, dflt: number, max: number): number {
  const v = q.get(name);
  if (v === null || v === '') return dflt;
  if (!/^\d{1,4}$/.test(v) || Number(v) < 1) throw new FleetmendError('E_USAGE', `?${name}= must be a number`);
  return Math.min(max, Number(v));
}

/** Previous/next links of a paginated list: the page's own URL with one parameter changed. */
export interface Pager {
  page: number;
  pages: number;
  total: number;
  prev?: string;
  next?: string;
}

function pager<T>(p: Page<T>, path: string, q: URLSearchParams, name: string): Page<T> & { pager: Pager } {
  const link = (n: number) => {
    const u = new URLSearchParams(q);
    u.set(name, String(n));
    return `${path}?${u.toString()}`;
  };
  return {
    ...p,
    pager: { page: p.page, pages: p.pages, total: p.total, ...(p.page > 1 ? { prev: link(p.page - 1) } : {}), ...(p.page < p.pages ? { next: link(p.page + 1) } : {}) },
  };
}

const opt = (q: URLSearchParams, k: string) => q.get(k) ?? undefined;

function filterOf(q: URLSearchParams): HostFilter {
  const f: HostFilter = {};
  for (const k of ['state', 'status', 'glob', 'regex', 'group', 'code', 'control', 'severity'] as const) {
    const v = q.get(k);
    if (v) f[k] = v;
  }
  return f;
}

const fleet: Route = {
  pattern: /^\/fleet$/,
  handle(_p, q, model) {
    const inventory = q.has('inventory') ? q.get('inventory') || null : undefined;
    const v = model.fleet({ inventory, n: countParam(q, 'n', 30, 500), worstPage: pageParam(q, 'worst'), groupPage: pageParam(q, 'groups') });
    const labels = v.trend.map((t) => t.started_at.slice(0, 16).replace('T', ' '));
    const states = STATE_PRECEDENCE.filter((s) => v.trend.some((t) => (t.by_state[s] ?? 0) > 0));
    return {
      template: 'fleet',
      title: `fleet ${v.inventory ?? ''}`,
      view: {
        ...v,
        worst: pager(v.worst, '/fleet', q, 'worst'),
        groups: pager(v.groups, '/fleet', q, 'groups'),
        charts: v.trend.length
          ? [
              lineChart('hosts per state', labels, states.map((s) => ({ name: s, cls: `st-${s}`, values: v.trend.map((t) => t.by_state[s] ?? 0) }))),
              lineChart('compliance', labels, [
                { name: 'compliant', cls: 'ok', values: v.trend.map((t) => t.compliant) },
                { name: 'non-compliant', cls: 'bad', values: v.trend.map((t) => t.non_compliant) },
              ]),
              lineChart('records lost per hour, fleet', labels, [{ name: 'lost/h', cls: 'bad', values: v.trend.map((t) => t.lost_per_hour) }]),
            ]
          : [],
      },
    };
  },
};

const host: Route = {
  pattern: /^\/host\/([^/]+)$/,
  handle([name], q, model) {
    const v = model.host(name!, { n: countParam(q, 'n', 100, 500), timelinePage: pageParam(q, 'timeline'), changesPage: pageParam(q, 'changes') });
    if (!v.history.length && !v.latest) throw new HttpError(404, `no host "${name}" in the store`);
    const path = `/host/${encodeURIComponent(name!)}`;
    const labels = v.history.map((h) => h.started_at.slice(0, 16).replace('T', ' '));
    return {
      template: 'host',
      title: `host ${name}`,
      view: {
        ...v,
        timeline: pager(v.timeline, path, q, 'timeline'),
        changes: pager(v.changes, path, q, 'changes'),
        charts: v.history.length
          ? [
              lineChart('backlog vs limit', labels, [
                { name: 'backlog', cls: 'warn', values: v.history.map((h) => h.backlog) },
                { name: 'limit', cls: 'ok', values: v.history.map((h) => h.backlog_limit) },
              ]),
              lineChart('records lost (counter)', labels, [{ name: 'lost', cls: 'bad', values: v.history.map((h) => h.lost) }]),
              lineChart('backlog wait time (actual)', labels, [{ name: 'wait', cls: 'warn', values: v.history.map((h) => h.wait_actual) }]),
            ]
          : [],
      },
    };
  },
};

const runs: Route = {
  pattern: /^\/runs$/,
  handle(_p, q, model) {
    const v = model.listRuns({ page: pageParam(q, 'page'), ...(opt(q, 'inventory') ? { inventory: q.get('inventory')! } : {}), ...(opt(q, 'mode') ? { mode: q.get('mode')! } : {}) });
    return { template: 'runs', title: 'runs', view: { runs: pager(v, '/runs', q, 'page'), mode: opt(q, 'mode'), inventory: opt(q, 'inventory') } };
  },
};

const run: Route = {
  pattern: /^\/run\/([^/]+)$/,
  handle([id], q, model) {
    const filter = filterOf(q);
    const v = model.runView(id!, filter, pageParam(q, 'page'), pageParam(q, 'matrix'));
    const path = `/run/${encodeURIComponent(id!)}`;
    return {
      template: 'run',
      title: `run ${id}`,
      view: {
        ...v,
        filter,
        states: STATE_PRECEDENCE,
        hosts: pager(v.hosts, path, q, 'page'),
        statuses: ['ok', 'changed', 'failed', 'unreachable', 'skipped', 'interrupted', 'held'],
        ...(v.matrix ? { matrix: { ...v.matrix, rows: matrixRows(v.matrix), groups: pager(v.matrix.groups, path, q, 'matrix') } } : {}),
      },
    };
  },
};

/** One row per task, one cell per outcome group: a host group that never reached a task shows –. */
function matrixRows(m: NonNullable<RunView['matrix']>) {
  return m.tasks.map((t) => ({
    name: t.name,
    cells: m.groups.items.map((g) => g.outcomes.find((o) => o.seq === t.seq) ?? { seq: t.seq, status: '–', changed: false }),
  }));
}

const compare: Route = {
  pattern: /^\/compare$/,
  handle(_p, q, model) {
    const a = q.get('a');
    const b = q.get('b');
    const inventory = q.get('inventory');
    if (!a || !b) {
      // the form: pick two runs of an inventory (the newest 50 sweeps)
      const list = model.listRuns({ page: 1, mode: 'sweep', ...(inventory ? { inventory } : {}) });
      return { template: 'compare', title: 'compare runs', view: { choose: list.items, a, b } };
    }
    const v = model.compare(a, b, pageParam(q, 'page'));
    return { template: 'compare', title: `compare ${v.a.id} ${v.b.id}`, view: { ...v, rows: pager(v.rows, '/compare', q, 'page') } };
  },
};

const search: Route = {
  pattern: /^\/search$/,
  handle(_p, q, model) {
    const filter = filterOf(q);
    const runIds = q.get('run') ? [model.run(q.get('run')!).id] : model.latestSweeps();
    const asked = Object.keys(filter).length > 0;
    const hosts = asked ? pager(model.hostPage(runIds, filter, pageParam(q, 'page')), '/search', q, 'page') : undefined;
    return { template: 'search', title: 'search', view: { filter, hosts, runs: runIds, states: STATE_PRECEDENCE, asked } };
  },
};

export const ROUTES: readonly Route[] = [fleet, host, runs, run, compare, search];
