/**
 * `schedule --metrics-listen ADDR:PORT`: GET /metrics serves the latest completed sweep, in
 * OpenMetrics when the scraper asks for it (Prometheus does by default), else text 0.0.4.
 * Loopback unless the operator opts in: the page names every host and its audit weaknesses
 * (audit disabled, records lost) and has no authentication. Requests must name this server in
 * their Host header (hostAllowed), so a web page cannot read it through DNS rebinding.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { FleetmendError } from '../errors.js';
import type { StoredRun } from '../store/index.js';
import { CONTENT_TYPES, family, negotiate, render, type MetricFamily } from './exposition.js';
import { sweepFamilies } from './sweep-metrics.js';

export interface ListenAddress {
  host: string;
  port: number;
}

const ALLOW_REMOTE = '--metrics-allow-remote';

/**
 * `PORT`, `:PORT`, `ADDR:PORT` or `[IPv6]:PORT`; ADDR is an IP literal or `localhost` (no DNS:
 * what is bound must be what was checked). Without an address: 127.0.0.1.
 */
export function parseListen(spec: string, opts: { allowRemote?: boolean } = {}): ListenAddress {
  const bad = (why: string) => new FleetmendError('E_USAGE', `--metrics-listen '${spec}': ${why}`);
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d+)$/.exec(spec) ?? /^()()(\d+)$/.exec(spec);
  if (!m) throw bad('expected ADDR:PORT, [IPv6]:PORT or PORT (e.g. 127.0.0.1:9464)');
  const port = Number(m[3]);
  if (!Number.isInteger(port) || port > 65535) throw bad('the port must be 0-65535');
  let host = m[1] || m[2] || '127.0.0.1';
  if (host === 'localhost') host = '127.0.0.1';
  if (!isIP(host)) throw bad(`'${host}' is not an IP address (give 127.0.0.1, ::1 or the interface's address)`);
  if (!isLoopback(host) && !opts.allowRemote) {
    throw bad(`${host} is not a loopback address; the metrics name every host and its audit state, without authentication. Add ${ALLOW_REMOTE} to serve them there anyway (or keep loopback behind a proxy with TLS and auth)`);
  }
  return { host, port };
}

export function isLoopback(ip: string): boolean {
  if (isIP(ip) === 4) return ip.startsWith('127.');
  // the URL parser writes IPv6 in its canonical compressed form: ::1, and ::ffff:7fxx:xxxx for 127/8
  const canonical = new URL(`http://[${ip}]/`).hostname;
  return canonical === '[::1]' || /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(canonical);
}

/** The families of the newest completed sweep; an interrupted run or a playbook run keeps the last one. */
export class LatestSweep {
  private current: MetricFamily[] | undefined;

  update(stored: Pick<StoredRun, 'run' | 'status' | 'hosts'>): boolean {
    if (stored.run.mode !== 'sweep' || stored.status !== 'finished' || stored.run.interrupted) return false;
    this.current = sweepFamilies(stored.run, stored.hosts);
    return true;
  }

  get(): readonly MetricFamily[] | undefined {
    return this.current;
  }
}

export interface MetricsServer {
  /** `http://ADDR:PORT/metrics`, with the port actually bound (PORT 0 picks a free one). */
  readonly url: string;
  readonly address: ListenAddress;
  close(): Promise<void>;
}

/**
 * Always on the page: before the first sweep finishes it is the only series, so a scrape (or an
 * operator's curl) sees the scheduler is up rather than an empty body.
 */
const UP: MetricFamily = family({
  name: 'fleetmend_up',
  help: 'The fleetmend scheduler is running (the sweep series appear once its first sweep is recorded).',
  type: 'gauge',
  samples: [{ labels: {}, value: 1 }],
});

/** Before the first sweep finishes the page holds fleetmend_up alone: the scrape succeeds, no sweep series yet. */
export async function startMetricsServer(listen: ListenAddress, getLatest: () => readonly MetricFamily[] | undefined): Promise<MetricsServer> {
  const server = createServer((req, res) => handle(req, res, getLatest));
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) =>
      reject(new FleetmendError('E_USAGE', `--metrics-listen ${formatHost(listen.host)}:${listen.port}: ${err.code === 'EADDRINUSE' ? 'address already in use' : err.message}`, { cause: err }));
    server.once('error', onError);
    server.listen(listen.port, listen.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  const address = { host: listen.host, port: bound.port };
  return {
    url: `http://${formatHost(address.host)}:${address.port}/metrics`,
    address,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function formatHost(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}

function handle(req: IncomingMessage, res: ServerResponse, getLatest: () => readonly MetricFamily[] | undefined): void {
  if (!hostAllowed(req.headers.host, req.socket.localAddress)) {
    res.writeHead(421, { 'content-type': 'text/plain; charset=utf-8' }).end('misdirected request: use this server\'s address or localhost in the URL\n');
    return;
  }
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
    return;
  }
  if (path !== '/metrics') {
    res.writeHead(path === '/' ? 200 : 404, { 'content-type': 'text/plain; charset=utf-8' }).end(path === '/' ? 'fleetmend scheduler: see /metrics\n' : 'not found; see /metrics\n');
    return;
  }
  const format = negotiate(req.headers.accept);
  const body = render([UP, ...(getLatest() ?? [])], format);
  res.writeHead(200, { 'content-type': CONTENT_TYPES[format], 'cache-control': 'no-store', vary: 'Accept', 'content-length': Buffer.byteLength(body) });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/**
 * DNS rebinding: a page on evil.example re-points its own name at this address and then reads
 * /metrics from the victim's browser, same-origin; the request still says `Host: evil.example`.
 * So only a name this server is reached under passes (the port is not checked: a tunnel or a
 * port forward changes it): `localhost`, a loopback address, the address the connection came in
 * on (the bound address, or the interface's for a wildcard bind: what a scraper configured with
 * that target sends), or this machine's host name, none of which the attacker's page can carry.
 */
export function hostAllowed(hostHeader: string | undefined, localAddress: string | undefined): boolean {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+))(?::\d{1,5})?$/.exec(hostHeader ?? '');
  if (!m) return false;
  const name = (m[1] ?? m[2]!).toLowerCase();
  if (name === 'localhost' || name === hostname().toLowerCase()) return true;
  if (!isIP(name)) return false;
  return isLoopback(name) || (localAddress !== undefined && sameAddress(name, localAddress));
}

/** Equal IP addresses, whatever the spelling (`::ffff:10.0.0.5` is 10.0.0.5 on a dual-stack socket). */
function sameAddress(a: string, b: string): boolean {
  const canonical = (ip: string) => {
    const plain = ip.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
    return isIP(plain) === 6 ? new URL(`http://[${plain}]/`).hostname : plain;
  };
  return canonical(a) === canonical(b);
}

/**
 * What `schedule --metrics-listen` runs: the server, fed by the scheduler with each recorded run
 * (`update`). One object so the caller wires two lines: start it, hand `update` to the run loop.
 */
export async function serveSweepMetrics(spec: string, opts: { allowRemote?: boolean } = {}): Promise<MetricsServer & { update(stored: StoredRun): boolean }> {
  const latest = new LatestSweep();
  const server = await startMetricsServer(parseListen(spec, opts), () => latest.get());
  return Object.assign(server, { update: (stored: StoredRun) => latest.update(stored) });
}
