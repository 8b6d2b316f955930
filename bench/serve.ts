/**
 * `npm run bench -- --serve [--serve-hosts 10000] [--serve-sweeps 500]` (or node dist-bench/bench/serve.js):
 * issue 26's target, every page of `fleetmend serve` within 300 ms p95 server time on a store of
 * 10,000 hosts x 500 sweeps. Builds the store (serve-store.ts), starts the server in this process,
 * requests each page ROUNDS times with varying parameters (hosts, runs, page numbers) and reads
 * the server's own time from its Server-Timing header. Also measures a real store's growth per
 * host and sweep (the store's own recordHosts with full results), for the README.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DB_FILE, openStore, openStoreReader } from '../src/store/index.js';
import { ReadModel, startServe } from '../src/serve/index.js';
import { summarize, type HostResult } from '../src/results/index.js';
import { buildServeStore, growthHost, hostName, playRunId, sweepRunId } from './serve-store.js';

const TARGET_MS = 300;
const ROUNDS = 20;
const log = (line: string) => process.stderr.write(`${line}\n`);

function arg(argv: readonly string[], name: string, dflt: number): number {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : dflt;
}

function get(base: string, path: string): Promise<{ status: number; serverMs: number }> {
  const u = new URL(path, base);
  return new Promise((ok, fail) => {
    request({ host: u.hostname, port: u.port, path: u.pathname + u.search }, (res) => {
      res.resume();
      res.on('end', () => {
        const m = /total;dur=([\d.]+)/.exec(String(res.headers['server-timing'] ?? ''));
        ok({ status: res.statusCode ?? 0, serverMs: m ? Number(m[1]) : NaN });
      });
    }).on('error', fail).end();
  });
}

export const p95 = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(s.length * 0.95) - 1)] ?? NaN;
};

/** Each page with a parameter that varies per round (r), so no answer is a cached repeat. */
function pages(hosts: number, sweeps: number, plays: number): Record<string, (r: number) => string> {
  const last = sweepRunId(sweeps - 1);
  const host = (r: number) => hostName((r * 7919) % hosts);
  return {
    fleet: () => '/fleet',
    'fleet worst p' : (r) => `/fleet?worst=${1 + (r % 5)}&groups=${1 + (r % 2)}`,
    host: (r) => `/host/${encodeURIComponent(host(r))}`,
    'run sweep': (r) => `/run/${sweepRunId(sweeps - 1 - (r % 10))}?page=${1 + ((r * 37) % Math.ceil(hosts / 50))}`,
    'run filtered': (r) => `/run/${last}?state=${r % 2 ? 'records-lost' : 'backlog-growing'}&glob=node0${r % 10}*`,
    'run playbook': (r) => `/run/${playRunId(r % plays)}`,
    'compare adjacent': (r) => `/compare?a=${sweepRunId(sweeps - 2 - (r % 10))}&b=${sweepRunId(sweeps - 1 - (r % 10))}`,
    'compare far': (r) => `/compare?a=${sweepRunId(r % 10)}&b=${last}`,
    'search glob': (r) => `/search?glob=node${r % 10}*`,
    'search regex': (r) => `/search?regex=${encodeURIComponent(`^node0${r % 10}[0-9]+\\.dc1`)}`,
    'search group+state': (r) => `/search?group=rack${String(r % 100).padStart(2, '0')}&state=healthy`,
    'search finding': (r) => `/search?code=${r % 2 ? 'records-lost' : 'panic-mode'}&page=${1 + (r % 3)}`,
    'search control': () => `/search?control=audit-2.1`,
    runs: (r) => `/runs?page=${1 + (r % 10)}`,
    'api fleet': () => '/api/fleet',
    'api host': (r) => `/api/host/${encodeURIComponent(host(r + 1))}`,
  };
}

/** Bytes per host and sweep of a real store: full results through recordHosts, then measured. */
export function growthPerHostSweep(hostResults: (i: number, k: number) => HostResult, hosts = 200, sweeps = 5): number {
  const dir = mkdtempSync(join(tmpdir(), 'fleetmend-growth-'));
  try {
    const store = openStore(dir);
    const size = () => statSync(join(dir, DB_FILE)).size + (statSync(join(dir, DB_FILE + '-wal'), { throwIfNoEntry: false })?.size ?? 0);
    const before = size();
    for (let k = 0; k < sweeps; k++) {
      const rs = Array.from({ length: hosts }, (_, i) => hostResults(i, k));
      const id = `g${k}`;
      store.startRun({ id, mode: 'sweep', forks: 50, inventory: 'inv', started_at: new Date(Date.UTC(2026, 0, 1, k)).toISOString() }, rs.map((r) => r.host));
      store.recordHosts(id, rs);
      store.finishRun(id, summarize(rs));
    }
    store.prune({ keepRuns: 1000, now: Date.now() }); // VACUUM + checkpoint: the settled size
    store.close();
    return (size() - before) / (hosts * sweeps);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runServeBench(argv: readonly string[]): Promise<void> {
  const hosts = arg(argv, '--serve-hosts', 10_000);
  const sweeps = arg(argv, '--serve-sweeps', 500);
  const plays = 20;
  const dir = mkdtempSync(join(tmpdir(), 'fleetmend-serve-bench-'));
  try {
    log(`serve bench: building a store of ${hosts} hosts x ${sweeps} sweeps + ${plays} playbook runs`);
    const t0 = Date.now();
    buildServeStore(dir, { hosts, sweeps, playbookRuns: plays }, log);
    const buildS = (Date.now() - t0) / 1000;
    const bytes = statSync(join(dir, DB_FILE)).size;
    log(`  built in ${buildS.toFixed(0)} s, ${(bytes / 1e9).toFixed(2)} GB`);
    const reader = openStoreReader(dir);
    const server = await startServe({ listen: { host: '127.0.0.1', port: 0 }, model: new ReadModel(reader.db) });
    const rows: { page: string; p50: number; p95: number; max: number; pass: boolean }[] = [];
    try {
      for (const [page, url] of Object.entries(pages(hosts, sweeps, plays))) {
        await get(server.url, url(ROUNDS)); // warm: templates compiled, pages in the cache
        const times: number[] = [];
        for (let r = 0; r < ROUNDS; r++) {
          const res = await get(server.url, url(r));
          if (res.status !== 200) throw new Error(`${url(r)}: HTTP ${res.status}`);
          times.push(res.serverMs);
        }
        const sorted = [...times].sort((a, b) => a - b);
        const row = { page, p50: sorted[Math.floor(sorted.length / 2)]!, p95: p95(times), max: sorted.at(-1)!, pass: p95(times) <= TARGET_MS };
        rows.push(row);
        log(`  ${page.padEnd(20)} p50 ${row.p50.toFixed(1).padStart(7)} ms  p95 ${row.p95.toFixed(1).padStart(7)} ms  max ${row.max.toFixed(1).padStart(7)} ms  ${row.pass ? 'PASS' : 'FAIL'}`);
      }
    } finally {
      await server.close();
      reader.db.close();
    }
    const perHostSweep = growthPerHostSweep(growthHost);
    log(`  store growth: ${perHostSweep.toFixed(0)} bytes per host and sweep (full results, 2 samples, findings, indexes)`);
    const out = join(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'results'), `serve-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, JSON.stringify({ hosts, sweeps, plays, build_s: buildS, store_bytes: bytes, target_ms: TARGET_MS, rounds: ROUNDS, pages: rows, growth_bytes_per_host_sweep: perHostSweep }, null, 2));
    log(`serve bench: ${rows.every((r) => r.pass) ? 'PASS' : 'FAIL'} (every page p95 <= ${TARGET_MS} ms); ${out}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  runServeBench(process.argv.slice(2)).catch((e: unknown) => {
    log(`serve bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(1);
  });
}
