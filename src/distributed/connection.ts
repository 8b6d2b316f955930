/**
 * The one way to Redis. The command line (or the environment) names a Redis once; that becomes a
 * `RedisTarget` here (URL checked, password and TLS files read, the loopback rule applied), and
 * every connection distributed mode opens (BullMQ's queue, events and worker, the coordinator's
 * probe and run-key client, the worker's run-key client, the preflight) gets its ioredis options
 * from `redisClientOptions`: credentials and TLS cannot be forgotten on one of them.
 */
import { stat } from 'node:fs/promises';
import { isIP } from 'node:net';
import type { RedisOptions } from 'ioredis';
import { FleetmendError } from '../errors.js';
import { readInputFile } from '../util/input-file.js';

/** A Redis as resolved from the command line and the environment: nothing left to read. */
export interface RedisTarget {
  /** The URL with its password masked (`***`): safe to print and log. */
  url: string;
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  /** Where the password came from (said in messages; the value never is). */
  passwordFrom?: 'url' | 'file' | 'env';
  /** `rediss://`: the server's certificate is checked against `ca` (else the system's roots). */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
}

/** What the operator gave: `--redis*` options, or the FLEETMEND_REDIS_* environment. */
export interface RedisInput {
  url: string;
  /** The URL came from argv (visible in `ps`), not from FLEETMEND_REDIS_URL. */
  urlOnArgv: boolean;
  passwordFile?: string;
  ca?: string;
  cert?: string;
  key?: string;
  /** `--redis-insecure`: a plain `redis://` to another machine without a password is meant. */
  insecure?: boolean;
}

/** The environment variables distributed mode reads (besides FLEETMEND_REDIS_URL). */
export const REDIS_ENV = {
  url: 'FLEETMEND_REDIS_URL',
  password: 'FLEETMEND_REDIS_PASSWORD',
  passwordFile: 'FLEETMEND_REDIS_PASSWORD_FILE',
  ca: 'FLEETMEND_REDIS_CA',
  cert: 'FLEETMEND_REDIS_CERT',
  key: 'FLEETMEND_REDIS_KEY',
} as const;

/** The `--redis*` options as commander parses them (sweep, run, schedule's command, worker). */
export interface RedisCliOptions {
  redis?: string;
  redisPasswordFile?: string;
  redisCa?: string;
  redisCert?: string;
  redisKey?: string;
  redisInsecure?: boolean;
}

/** The options over the environment; undefined when neither names a Redis (a local run). */
export function redisInputFrom(opts: RedisCliOptions, env: NodeJS.ProcessEnv): RedisInput | undefined {
  const url = opts.redis ?? (env[REDIS_ENV.url] || undefined);
  if (!url) return undefined;
  const pick = (given: string | undefined, name: string): string | undefined => given ?? (env[name] || undefined);
  const passwordFile = pick(opts.redisPasswordFile, REDIS_ENV.passwordFile);
  const ca = pick(opts.redisCa, REDIS_ENV.ca);
  const cert = pick(opts.redisCert, REDIS_ENV.cert);
  const key = pick(opts.redisKey, REDIS_ENV.key);
  return {
    url,
    urlOnArgv: opts.redis !== undefined,
    ...(passwordFile ? { passwordFile } : {}),
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    ...(opts.redisInsecure ? { insecure: true } : {}),
  };
}

/** `redis://user:secret@h:6379/0` → `redis://user:***@h:6379/0`, for messages and logs. */
export function maskRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//***@');
  }
}

export function parseRedisUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new FleetmendError('E_USAGE', `--redis: not a URL: '${maskRedisUrl(url)}' (redis://HOST:PORT[/DB])`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new FleetmendError('E_USAGE', `--redis must be a redis:// or rediss:// URL, got '${maskRedisUrl(url)}'`);
  }
  return u;
}

/** 127.0.0.0/8, ::1 and `localhost`: a name is not resolved (it could point anywhere). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h === '::1' || h === '::ffff:127.0.0.1';
}

/**
 * Reads the password and TLS files and checks the combination. The password comes from
 * exactly one place: the URL, `--redis-password-file`, or FLEETMEND_REDIS_PASSWORD (used only
 * when the other two say nothing). `warn` hears about a password on the command line.
 */
export async function resolveRedisTarget(input: RedisInput, env: NodeJS.ProcessEnv, warn: (line: string) => void): Promise<RedisTarget> {
  const u = parseRedisUrl(input.url);
  const shown = maskRedisUrl(input.url);
  const tlsOn = u.protocol === 'rediss:';
  if (!tlsOn && (input.ca || input.cert || input.key)) {
    throw new FleetmendError('E_USAGE', `--redis-ca/--redis-cert/--redis-key need a rediss:// URL (TLS), got '${shown}'`);
  }
  if (!!input.cert !== !!input.key) throw new FleetmendError('E_USAGE', '--redis-cert and --redis-key go together (the client certificate and its key)');
  const password = await resolvePassword(u, input, env, warn);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  if (!tlsOn && !isLoopbackHost(host)) refuseOrWarnPlain(shown, !!password.password, !!input.insecure, warn);
  return {
    url: shown,
    host,
    port: u.port ? Number(u.port) : 6379,
    db: dbOf(u, shown),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...password,
    ...(tlsOn ? { tls: await tlsFiles(input) } : {}),
  };
}

async function resolvePassword(u: URL, input: RedisInput, env: NodeJS.ProcessEnv, warn: (line: string) => void): Promise<Pick<RedisTarget, 'password' | 'passwordFrom'>> {
  if (!u.password) return passwordFromFileOrEnv(input.passwordFile, env, warn);
  if (input.passwordFile) {
    throw new FleetmendError('E_USAGE', `two Redis passwords: one in '${maskRedisUrl(input.url)}' and --redis-password-file ${input.passwordFile}; give one`);
  }
  if (input.urlOnArgv) warn(`warning: the Redis password is on the command line (any user sees it in ps); use --redis-password-file FILE or ${REDIS_ENV.password}`);
  return { password: decodeURIComponent(u.password), passwordFrom: 'url' };
}

async function passwordFromFileOrEnv(file: string | undefined, env: NodeJS.ProcessEnv, warn: (line: string) => void): Promise<Pick<RedisTarget, 'password' | 'passwordFrom'>> {
  if (file) {
    // as ssh says of a private key: a secret other users can read is no longer only yours
    const mode = (await stat(file).catch(() => undefined))?.mode;
    if (mode !== undefined && mode & 0o077) warn(`warning: Redis password file ${file} is readable by other users (mode ${(mode & 0o777).toString(8)}); chmod 600 it`);
    // one trailing newline is the editor's, not the password's
    const text = (await readInputFile(file, { code: 'E_USAGE', what: 'Redis password file' })).toString('utf8').replace(/\r?\n$/, '');
    if (!text) throw new FleetmendError('E_USAGE', `Redis password file ${file} is empty`);
    return { password: text, passwordFrom: 'file' };
  }
  const fromEnv = env[REDIS_ENV.password];
  return fromEnv ? { password: fromEnv, passwordFrom: 'env' } : {};
}

/**
 * Plain TCP to another machine: without a password anyone on the path (or the network) can
 * queue jobs, so it takes `--redis-insecure`; with one, the password itself crosses in clear.
 */
function refuseOrWarnPlain(shown: string, hasPassword: boolean, insecure: boolean, warn: (line: string) => void): void {
  if (!hasPassword && !insecure) {
    throw new FleetmendError(
      'E_USAGE',
      `refusing plain redis:// without a password to a non-loopback address (${shown}): anyone who reaches it can queue jobs for the workers. Use rediss:// and a password (an ACL user), or say --redis-insecure`,
    );
  }
  if (!insecure) warn(`warning: ${shown} is plain TCP to another machine: the Redis password and the jobs cross the network in clear; use rediss://`);
}

function dbOf(u: URL, shown: string): number {
  const path = u.pathname.replace(/^\//, '');
  if (!path) return 0;
  if (!/^\d+$/.test(path)) throw new FleetmendError('E_USAGE', `--redis: the path of '${shown}' must be a database number`);
  return Number(path);
}

async function tlsFiles(input: RedisInput): Promise<NonNullable<RedisTarget['tls']>> {
  const read = (path: string, what: string) => readInputFile(path, { code: 'E_USAGE', what });
  return {
    ...(input.ca ? { ca: await read(input.ca, 'Redis CA file') } : {}),
    ...(input.cert ? { cert: await read(input.cert, 'Redis client certificate') } : {}),
    ...(input.key ? { key: await read(input.key, 'Redis client key') } : {}),
  };
}

/**
 * What a connection is for decides how it retries. BullMQ's own clients retry forever and need
 * `maxRetriesPerRequest: null` (blocking commands); the coordinator's probe and run-key client
 * are bounded, so a Redis gone at the end cannot hang a close; the preflight tries once; a
 * worker's own client (run keys, results) rides out a short blip, as its BullMQ worker does.
 */
export type RedisRole = 'queue' | 'preflight' | 'probe' | 'client' | 'worker';

const ROLE_OPTIONS: Record<RedisRole, RedisOptions> = {
  queue: { maxRetriesPerRequest: null },
  preflight: { lazyConnect: true, connectTimeout: 5000, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null },
  probe: { maxRetriesPerRequest: 1, connectTimeout: 2000, enableOfflineQueue: false, retryStrategy: () => 500 },
  client: { maxRetriesPerRequest: 1, connectTimeout: 2000 },
  worker: { maxRetriesPerRequest: 3, lazyConnect: true },
};

/** The ioredis options of every connection to `target` (BullMQ's `connection` too). */
export function redisClientOptions(target: RedisTarget, role: RedisRole): RedisOptions {
  return {
    host: target.host,
    port: target.port,
    db: target.db,
    ...(target.username ? { username: target.username } : {}),
    ...(target.password !== undefined ? { password: target.password } : {}),
    ...(target.tls ? { tls: { ...target.tls, servername: isIP(target.host) ? undefined : target.host } } : {}),
    ...ROLE_OPTIONS[role],
  };
}

/** An ioredis client for `role`; its errors go to `onError` (unhandled, they would crash). */
export async function openRedis(target: RedisTarget, role: RedisRole, onError: (e: Error) => void = () => {}) {
  const { Redis } = await import('ioredis');
  const client = new Redis(redisClientOptions(target, role));
  client.on('error', onError);
  return client;
}

/**
 * A connection error in words an operator acts on: Redis's own reply or the TLS check names the
 * cause, this says what to change.
 */
export function explainRedisError(message: string, target: RedisTarget): string {
  if (/WRONGPASS/.test(message)) return `authentication failed: the server refused user '${target.username ?? 'default'}' with the password from ${passwordSource(target)} (${message.trim()})`;
  if (/NOAUTH/.test(message)) return `the server requires a password and none was given (--redis-password-file FILE or ${REDIS_ENV.password})`;
  if (/NOPERM/.test(message)) return `the ACL user '${target.username ?? 'default'}' may not do this (${message.trim()}); see README: Redis connection`;
  if (/altnames|Hostname\/IP does not match/i.test(message)) return `TLS: the server's certificate is not for ${target.host} (${message.trim()})`;
  // a TLS alert is the server refusing our side (no client certificate, or one it does not
  // trust); with TLS 1.3 it may arrive instead of a reset, and it names a "certificate" too
  const serverAlert = /alert (certificate required|bad certificate|unknown ca|certificate unknown)/i.test(message);
  if (!serverAlert && /self[- ]signed|unable to (verify|get local issuer)|certificate/i.test(message)) {
    return `TLS: the server's certificate is not trusted (${message.trim()}); give its CA with --redis-ca FILE`;
  }
  if ((serverAlert || /before secure TLS connection|wrong version number|ECONNRESET/i.test(message)) && target.tls) return `TLS handshake failed (${message.trim()}): is this port TLS, and does it want a client certificate (--redis-cert, --redis-key)?`;
  return message;
}

function passwordSource(t: RedisTarget): string {
  switch (t.passwordFrom) {
    case 'url':
      return 'the URL';
    case 'file':
      return '--redis-password-file';
    case 'env':
      return REDIS_ENV.password;
    default:
      return 'nowhere (none given)';
  }
}
