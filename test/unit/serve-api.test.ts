/**
 * `fleetmend serve` over a generated store (serve-fixture.ts): what each page and its /api twin
 * answer, pagination and filters, host data escaped, and the server's safety rules.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStoreReader } from '../../src/store/index.js';
import { authorized, checkExposure, CSP, ReadModel, readToken, startServe, type RunningServer } from '../../src/serve/index.js';
import { HOSTILE } from '../fixtures/results/build.js';
import { HOSTS, PLAY_ID, SWEEPS, sweepId, writeFixtureStore } from './serve-fixture.js';

const TOKEN = 'correct-horse-battery-staple-42';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw request, so the Host header and the method are the test's to choose. */
function send(base: string, path: string, opts: { method?: string; host?: string; auth?: string } = {}): Promise<Reply> {
  const u = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: u.hostname, port: u.port, path: u.pathname + u.search, method: opts.method ?? 'GET', headers: { ...(opts.host ? { host: opts.host } : {}), ...(opts.auth ? { authorization: opts.auth } : {}) } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('serve: pages and API over a generated store', () => {
  let dir: string;
  let server: RunningServer;
  let reader: ReturnType<typeof openStoreReader>;
  const api = async <T>(path: string): Promise<T> => {
    const r = await send(server.url, path);
    expect(r.status, `${path}: ${r.body}`).toBe(200);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    return JSON.parse(r.body) as T;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fleetmend-serve-'));
    writeFixtureStore(dir);
    reader = openStoreReader(dir);
    server = await startServe({ listen: { host: '127.0.0.1', port: 0 }, model: new ReadModel(reader.db) });
  });

  afterAll(async () => {
    await server?.close();
    reader?.db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fleet: states and compliance of the latest sweep, a trend of every sweep, lost records per hour from the rollups', async () => {
    type Fleet = { latest: { id: string }; states: { state: string; hosts: number }[]; compliance: { non_compliant: number }; trend: { lost_new: number; lost_per_hour: number | null }[]; worst: { items: { host: string; state: string }[] }; groups: { items: { grp: string; hosts: number }[] } };
    const f = await api<Fleet>('/api/fleet');
    expect(f.latest.id).toBe(sweepId(SWEEPS - 1));
    const states = Object.fromEntries(f.states.map((s) => [s.state, s.hosts]));
    // 6 records-lost hosts of the pattern, web001 regressed, plus the hostile host
    expect(states['records-lost']).toBe(8);
    expect(states['backlog-growing']).toBe(2);
    expect(f.trend).toHaveLength(SWEEPS);
    // the first sweep has no baseline; then the 6 pattern hosts lose 100 each per day, and in
    // the last one web001's counter starts at 8191 (7881 + 10 + 300): all of it is new loss
    expect(f.trend.map((t) => t.lost_new)).toEqual([0, 600, 600, 600 + 8191]);
    expect(f.trend.map((t) => t.lost_per_hour)).toEqual([null, 25, 25, Math.round(8791 / 24)]);
    expect(f.worst.items[0]!.state).toBe('panic-mode');
    expect(f.groups.items.map((g) => [g.grp, g.hosts]).sort()).toEqual([['dc-a', 30], ['dc-b', 30], ['web', 61]]);
  });

  it('host: per-sweep history, findings appeared in the timeline, the playbook change with its diff', async () => {
    type Host = { history: { state: string }[]; timeline: { items: { code: string; change: string; run_id: string }[] }; changes: { items: { task: string; diff: { after: string }[] }[] }; latest: { facts: { key: string; value: string }[] } };
    const h = await api<Host>('/api/host/web001');
    expect(h.history.map((x) => x.state)).toEqual(['healthy', 'healthy', 'healthy', 'records-lost']);
    expect(h.timeline.items.filter((e) => e.change === 'appeared').map((e) => e.code).sort()).toEqual(['backlog-limit-default', 'records-lost']);
    expect(h.timeline.items.every((e) => e.run_id === sweepId(SWEEPS - 1))).toBe(true);
    const persist = h.changes.items.find((c) => c.task === 'persist backlog limit');
    expect(persist?.diff[0]?.after).toBe('-b 8192\n');
    expect(h.latest.facts.some((f) => f.key === 'audit.backlog_limit')).toBe(true);
    expect((await send(server.url, '/host/nosuchhost')).status).toBe(404);
  });

  it('run: paginated 50 a page, filtered by state and glob; a playbook run folds hosts by identical outcome', async () => {
    type Hosts = { hosts: { items: { host: string; state: string }[]; total: number; pages: number; pager: { next?: string } } };
    const all = await api<Hosts>(`/api/run/${sweepId(SWEEPS - 1)}`);
    expect(all.hosts.total).toBe(HOSTS + 1);
    expect(all.hosts.items).toHaveLength(50);
    expect(all.hosts.pages).toBe(2);
    const second = await api<Hosts>(`/api${all.hosts.pager.next!}`);
    expect(second.hosts.items).toHaveLength(HOSTS + 1 - 50);
    const lost = await api<Hosts>(`/api/run/${sweepId(SWEEPS - 1)}?state=records-lost&glob=web00*`);
    expect(lost.hosts.items.map((h) => h.host)).toEqual(['web001', 'web007', 'web008']);
    type Play = { matrix: { tasks: { name: string }[]; groups: { items: { hosts: number; folded: string; outcomes: { status: string }[] }[] } } };
    const p = await api<Play>(`/api/run/${PLAY_ID}`);
    expect(p.matrix.tasks.map((t) => t.name)).toEqual(['gather audit facts', 'persist backlog limit', 'restart auditd']);
    expect(p.matrix.groups.items.map((g) => [g.hosts, g.folded, g.outcomes.map((o) => o.status).join(',')])).toEqual([
      [15, 'web[002-004,006-008,010-012,014-016,018-020]', 'ok'],
      [5, 'web[001,005,009,013,017]', 'ok,changed,changed'],
    ]);
  });

  it('compare: hosts that changed between two sweeps, regressions first', async () => {
    type Cmp = { rows: { items: { host: string; verdict: string; appeared: string[]; resolved: string[] }[] }; counts: Record<string, number> };
    const c = await api<Cmp>(`/api/compare?a=${sweepId(SWEEPS - 2)}&b=${sweepId(SWEEPS - 1)}`);
    expect(c.rows.items.map((r) => [r.host, r.verdict])).toEqual([['web001', 'regressed'], ['web003', 'improved']]);
    expect(c.rows.items[0]!.appeared).toEqual(['backlog-limit-default', 'records-lost']);
    expect(c.rows.items[1]!.resolved).toEqual(['backlog-growing']);
    // the order of a and b does not matter: the older run is the baseline
    const swapped = await api<Cmp>(`/api/compare?b=${sweepId(SWEEPS - 2)}&a=${sweepId(SWEEPS - 1)}`);
    expect(swapped.counts).toEqual(c.counts);
  });

  it('search: by glob, regex, group, state, finding code and failed control in the latest sweep', async () => {
    type S = { hosts: { items: { host: string }[]; total: number } };
    const names = async (q: string) => (await api<S>(`/api/search?${q}`)).hosts.items.map((h) => h.host);
    // worst state first, then by name
    expect(await names('regex=' + encodeURIComponent('^web00[1-3]$'))).toEqual(['web001', 'web002', 'web003']);
    expect((await api<S>('/api/search?group=dc-b')).hosts.total).toBe(30);
    expect(await names('code=backlog-growing')).toEqual(['web023', 'web043']);
    expect(await names('control=audit-3.1&group=dc-a')).toEqual(['web016']);
    expect(await names('state=panic-mode&glob=web0[0-3]*')).toEqual(['web016', 'web036']);
    expect((await send(server.url, '/api/search?regex=' + encodeURIComponent('('))).status).toBe(400);
    // the linear-time engine: a backreference is refused (400), and a pattern that backtracks
    // exponentially elsewhere answers at once on every host name
    expect((await send(server.url, '/api/search?regex=' + encodeURIComponent('(web)\\1'))).status).toBe(400);
    expect(await names('regex=' + encodeURIComponent('^(a+)+$'))).toEqual([]);
  });

  it('escapes host-originated text on every page that shows it', async () => {
    const pages = ['/fleet', `/run/${sweepId(SWEEPS - 1)}?state=records-lost`, '/search?code=records-lost', `/host/${encodeURIComponent('evil<script>window.__pwned=1</script>|x]]>`../../etc/passwd')}`];
    for (const p of pages) {
      const r = await send(server.url, p);
      expect(r.status, p).toBe(200);
      expect(r.body, p).not.toContain(HOSTILE.script);
      expect(r.body, p).toContain('evil&lt;script&gt;window.__pwned&#x3D;1&lt;/script&gt;');
    }
  });

  it('sends a strict CSP and no inline script; only GET and HEAD', async () => {
    const r = await send(server.url, '/fleet');
    expect(r.headers['content-security-policy']).toBe(CSP);
    expect(CSP).toContain("script-src 'self'");
    expect(r.body).not.toMatch(/<script(?![^>]*\bsrc=)/);
    expect(r.body).not.toMatch(/\sstyle=/);
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const w = await send(server.url, '/fleet', { method });
      expect(w.status, method).toBe(405);
      expect(w.headers['allow']).toBe('GET, HEAD');
    }
    const head = await send(server.url, '/api/fleet', { method: 'HEAD' });
    expect([head.status, head.body]).toEqual([200, '']);
  });

  it('refuses a Host header that is not this server (DNS rebinding)', async () => {
    expect((await send(server.url, '/fleet', { host: 'evil.example' })).status).toBe(421);
    expect((await send(server.url, '/fleet', { host: `localhost:${server.address.port}` })).status).toBe(200);
  });
});

describe('serve: authentication and exposure', () => {
  it('binds loopback freely; anything else needs a token and TLS or --behind-proxy', () => {
    const listen = { host: '0.0.0.0', port: 8080 };
    expect(() => checkExposure({ listen: { host: '127.0.0.1', port: 8080 } })).not.toThrow();
    expect(() => checkExposure({ listen })).toThrow(/--auth-token-file/);
    expect(() => checkExposure({ listen, tokenFile: 't' })).toThrow(/--tls-cert and --tls-key, or --behind-proxy/);
    expect(() => checkExposure({ listen, tokenFile: 't', behindProxy: true })).not.toThrow();
    expect(() => checkExposure({ listen, tokenFile: 't', tlsCert: 'c', tlsKey: 'k' })).not.toThrow();
  });

  it('accepts the token as bearer or as the basic-auth password, nothing else', () => {
    expect(authorized(`Bearer ${TOKEN}`, TOKEN)).toBe(true);
    expect(authorized(`Basic ${Buffer.from(`ops:${TOKEN}`).toString('base64')}`, TOKEN)).toBe(true);
    expect(authorized(`Bearer ${TOKEN}x`, TOKEN)).toBe(false);
    expect(authorized(`Bearer ${TOKEN.slice(0, -1)}`, TOKEN)).toBe(false);
    expect(authorized(`Basic ${Buffer.from(TOKEN).toString('base64')}`, TOKEN)).toBe(false);
    expect(authorized(undefined, TOKEN)).toBe(false);
  });

  it('answers 401 without the token, the page with it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fleetmend-serve-auth-'));
    writeFileSync(join(dir, 'token'), `${TOKEN}\n`);
    writeFileSync(join(dir, 'short'), 'abc\n');
    expect(() => readToken(join(dir, 'short'))).toThrow(/at least 16/);
    writeFixtureStore(dir);
    const reader = openStoreReader(dir);
    const server = await startServe({ listen: { host: '127.0.0.1', port: 0 }, model: new ReadModel(reader.db), token: readToken(join(dir, 'token')) });
    try {
      const none = await send(server.url, '/api/fleet');
      expect(none.status).toBe(401);
      expect(none.headers['www-authenticate']).toMatch(/^Basic realm="fleetmend"/);
      expect((await send(server.url, '/api/fleet', { auth: 'Bearer wrong-token-wrong-token' })).status).toBe(401);
      expect((await send(server.url, '/api/fleet', { auth: `Bearer ${TOKEN}` })).status).toBe(200);
    } finally {
      await server.close();
      reader.db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
