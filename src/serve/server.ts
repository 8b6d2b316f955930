/**
 * `fleetmend serve`: the run store as pages and a JSON API, read-only. Node's http: five pages
 * and their /api twins need a router of a dozen lines, not a framework (and no new dependency).
 * Each page is one view from the read model (queries.ts), rendered by Handlebars, or returned as
 * JSON under /api with the same query parameters: a page's URL is its API's URL minus `/api`.
 */
import { createServer as createHttp, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import { createServer as createHttps } from 'node:https';
import { readFileSync } from 'node:fs';
import { isIP, type AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { FleetmendError } from '../errors.js';
import { escapeJsonControls } from '../util/terminal.js';
import type { ListenAddress } from '../metrics/index.js';
import { ReadModel } from './queries.js';
import { createPageRenderer, type PageRenderer } from './render.js';
import { authorized, requestHostAllowed, SECURITY_HEADERS } from './security.js';
import { HttpError, ROUTES, type Routed } from './routes.js';

export interface ServeOptions {
  listen: ListenAddress;
  model: ReadModel;
  /** Required for a non-loopback bind (checkExposure). */
  token?: string;
  tls?: { cert: string; key: string };
  /** Host header names allowed besides this server's own (a reverse proxy's public name). */
  allowedHosts?: string[];
  /** Extra GET endpoints served as they are (the scheduler's /metrics). */
  extra?: Record<string, (req: IncomingMessage, res: ServerResponse) => void>;
}

export interface RunningServer {
  readonly url: string;
  readonly address: ListenAddress;
  close(): Promise<void>;
}

export async function startServe(opts: ServeOptions): Promise<RunningServer> {
  const pages = createPageRenderer();
  const handler = (req: IncomingMessage, res: ServerResponse) => handle(req, res, opts, pages);
  const server: Server = opts.tls
    ? createHttps({ cert: readFileSync(opts.tls.cert), key: readFileSync(opts.tls.key) }, handler)
    : createHttp(handler);
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) =>
      reject(new FleetmendError('E_USAGE', `--listen ${opts.listen.host}:${opts.listen.port}: ${err.code === 'EADDRINUSE' ? 'address already in use' : err.message}`, { cause: err }));
    server.once('error', onError);
    server.listen(opts.listen.port, opts.listen.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = isIP(opts.listen.host) === 6 ? `[${opts.listen.host}]` : opts.listen.host;
  return {
    url: `${opts.tls ? 'https' : 'http'}://${host}:${port}/`,
    address: { host: opts.listen.host, port },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function plain(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8', ...headers }).end(text + '\n');
}

function handle(req: IncomingMessage, res: ServerResponse, opts: ServeOptions, pages: PageRenderer): void {
  const t0 = performance.now();
  if (!requestHostAllowed(req, opts.allowedHosts ?? [])) return plain(res, 421, "misdirected request: use this server's address or localhost in the URL");
  // read-only: nothing on this server changes the store or a host
  if (req.method !== 'GET' && req.method !== 'HEAD') return plain(res, 405, 'method not allowed', { allow: 'GET, HEAD' });
  if (opts.token !== undefined && !authorized(req.headers.authorization, opts.token)) {
    return plain(res, 401, 'authentication required', { 'www-authenticate': 'Basic realm="fleetmend", charset="UTF-8"' });
  }
  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'http://serve.invalid');
  } catch {
    return plain(res, 400, 'bad request');
  }
  const extra = opts.extra?.[url.pathname];
  if (extra) return extra(req, res);
  if (url.pathname.startsWith('/static/')) return asset(res, pages, url.pathname.slice('/static/'.length), req.method === 'HEAD');
  if (url.pathname === '/') return void res.writeHead(302, { ...SECURITY_HEADERS, location: '/fleet' }).end();
  const api = url.pathname.startsWith('/api/');
  const path = api ? url.pathname.slice(4) : url.pathname;
  try {
    const routed = route(path, url.searchParams, opts.model);
    const ms = (performance.now() - t0).toFixed(1);
    // JSON as `--json` writes it: control characters (C1, bidi) as \uXXXX, so a terminal piping the API shows them inert
    const body = api ? escapeJsonControls(JSON.stringify(routed.view)) : pages.page(routed.template, routed.title, routed.view);
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': api ? 'application/json; charset=utf-8' : 'text/html; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      // the query time, for the bench and the browser's devtools
      'server-timing': `db;dur=${ms}, total;dur=${(performance.now() - t0).toFixed(1)}`,
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  } catch (err) {
    if (err instanceof HttpError) return plain(res, err.status, err.message);
    if (err instanceof FleetmendError && err.code === 'E_USAGE') return plain(res, /^no run /.test(err.message) ? 404 : 400, err.message);
    plain(res, 500, 'internal error');
    process.emitWarning(`serve: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  }
}

function route(path: string, query: URLSearchParams, model: ReadModel): Routed {
  for (const r of ROUTES) {
    const m = r.pattern.exec(path);
    if (!m) continue;
    let params: string[];
    try {
      params = m.slice(1).map((p) => decodeURIComponent(p));
    } catch {
      throw new HttpError(400, 'bad URL encoding');
    }
    return r.handle(params, query, model);
  }
  throw new HttpError(404, 'not found: see /fleet');
}

function asset(res: ServerResponse, pages: PageRenderer, name: string, head: boolean): void {
  const a = pages.assets.get(name);
  if (!a) return plain(res, 404, 'not found');
  res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': a.type, 'content-length': a.body.length, 'cache-control': 'max-age=300' });
  res.end(head ? undefined : a.body);
}
