/**
 * What keeps `fleetmend serve` safe to leave running: it binds loopback unless told otherwise,
 * and then only with a token and TLS (or an explicit reverse proxy); every request names this
 * server in its Host header (DNS rebinding, src/metrics hostAllowed); the pages load nothing but
 * their own script and stylesheet.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { FleetmendError } from '../errors.js';
import { hostAllowed, isLoopback, type ListenAddress } from '../metrics/index.js';

/** No inline script or style, nothing from elsewhere: the pages' own /static files only. */
export const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
};

export interface ExposureOptions {
  listen: ListenAddress;
  tokenFile?: string;
  tlsCert?: string;
  tlsKey?: string;
  behindProxy?: boolean;
}

/**
 * Refuses a non-loopback bind without authentication and transport security: the pages name
 * every host and its audit weaknesses. `--behind-proxy` says TLS ends at a proxy in front.
 */
export function checkExposure(o: ExposureOptions): void {
  if (isLoopback(o.listen.host)) return;
  const where = `--listen ${o.listen.host}:${o.listen.port} is not a loopback address`;
  if (!o.tokenFile) throw new FleetmendError('E_USAGE', `${where}: add --auth-token-file FILE (the pages name every host and its audit state)`);
  if (!(o.tlsCert && o.tlsKey) && !o.behindProxy) {
    throw new FleetmendError('E_USAGE', `${where}: add --tls-cert and --tls-key, or --behind-proxy when a reverse proxy in front ends TLS`);
  }
  if ((o.tlsCert === undefined) !== (o.tlsKey === undefined)) throw new FleetmendError('E_USAGE', '--tls-cert and --tls-key go together');
}

/** The token file's first line; an empty or short token is refused (a guessable one is no lock). */
export function readToken(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new FleetmendError('E_USAGE', `--auth-token-file ${file}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const token = text.split('\n')[0]!.trim();
  if (token.length < 16) throw new FleetmendError('E_USAGE', `--auth-token-file ${file}: the token must be at least 16 characters`);
  return token;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * `Authorization: Bearer TOKEN`, or Basic with TOKEN as the password (any user name: what a
 * browser's login prompt sends). Compared as SHA-256 digests with timingSafeEqual, so neither the
 * token's content nor its length shows in the response time.
 */
export function authorized(header: string | undefined, token: string): boolean {
  if (!header) return false;
  const m = /^(Bearer|Basic)\s+(\S+)$/i.exec(header);
  if (!m) return false;
  let given = m[2]!;
  if (m[1]!.toLowerCase() === 'basic') {
    const decoded = Buffer.from(given, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return false;
    given = decoded.slice(colon + 1);
  }
  return timingSafeEqual(digest(given), digest(token));
}

/** The Host header names this server (src/metrics), or one of the names given with --allowed-host. */
export function requestHostAllowed(req: IncomingMessage, extra: readonly string[]): boolean {
  if (hostAllowed(req.headers.host, req.socket.localAddress)) return true;
  const name = (req.headers.host ?? '').replace(/:\d{1,5}$/, '').toLowerCase();
  return extra.some((h) => h.toLowerCase() === name);
}
