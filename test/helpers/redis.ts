/** A real redis-server for a test: loopback, a free port, its own dir, stopped by PID. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { freePort } from '../../src/distributed/cluster.js';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { systemClock } from '../../src/executor/clock.js';
import { afterAll, beforeAll } from 'vitest';
import { startFleet, type Fleet } from '../../src/sim/index.js';
import { writeKeyPair } from '../../src/distributed/signing.js';
import { CLI_BIN } from './cli.js';

export interface TestRedis {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export { freePort };

export async function startRedis(dir: string): Promise<TestRedis> {
  const port = await freePort();
  const data = join(dir, 'redis');
  mkdirSync(data, { recursive: true });
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', data, '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const deadline = Date.now() + 10_000;
  while (!out.includes('Ready to accept connections') && Date.now() < deadline && child.exitCode === null) await systemClock.sleep(50);
  if (!out.includes('Ready to accept connections')) {
    child.kill('SIGKILL');
    throw new Error(`redis-server did not start: ${out}`);
  }
  return { url: `redis://127.0.0.1:${port}/0`, pid: child.pid!, stop: () => stopChild(child) };
}

export async function stopChild(child: ChildProcess, timeoutMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || !child.pid) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  process.kill(child.pid, 'SIGCONT'); // a stopped process cannot act on SIGTERM
  process.kill(child.pid, 'SIGTERM');
  const t = setTimeout(() => child.pid && child.exitCode === null && process.kill(child.pid, 'SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(t);
}

export interface TestWorker {
  name: string;
  child: ChildProcess;
  stderr: () => string;
}

/** A real `fleetmend worker` process (the built binary). */
export function startWorker(name: string, args: string[], env: NodeJS.ProcessEnv = process.env): TestWorker {
  const child = spawn(process.execPath, [CLI_BIN, 'worker', '--name', name, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return { name, child, stderr: () => err };
}

export async function waitFor(what: string, cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await systemClock.sleep(50);
  }
}

/** Every key and every value in Redis, whatever its type, as one string. */
export async function dumpRedis(url: string): Promise<{ keys: number; text: string }> {
  const c = new Redis(url);
  try {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await c.scan(cursor, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    const parts: string[] = [];
    for (const k of keys) {
      parts.push(k);
      const type = await c.type(k);
      if (type === 'string') parts.push((await c.get(k)) ?? '');
      else if (type === 'hash') parts.push(JSON.stringify(await c.hgetall(k)));
      else if (type === 'list') parts.push(JSON.stringify(await c.lrange(k, 0, -1)));
      else if (type === 'set') parts.push(JSON.stringify(await c.smembers(k)));
      else if (type === 'zset') parts.push(JSON.stringify(await c.zrange(k, 0, -1, 'WITHSCORES')));
      else if (type === 'stream') parts.push(JSON.stringify(await c.xrange(k, '-', '+')));
      else parts.push(`<${type}>`);
    }
    return { keys: keys.length, text: parts.join('\n') };
  } finally {
    c.disconnect();
  }
}

/** Waits (bounded) until each worker has said it is ready. */
export async function workersReady(...ws: TestWorker[]): Promise<void> {
  for (const w of ws) await waitFor(`${w.name} ready`, () => w.stderr().includes('ready:'), 20_000);
}

/** Hosts a worker took (its `-v` log), for one run or for all. */
export function takenBy(w: TestWorker, run?: string): string[] {
  const re = new RegExp(`take (\\S+) \\(run ${run ?? '\\S+'}`, 'g');
  return [...w.stderr().matchAll(re)].map((m) => m[1]!);
}

/** The keys of a testbed: a coordinator's, and a worker key the coordinator trusts (`keys/workers/`). */
export interface TestKeys {
  coordinator: { keyFile: string; pubFile: string };
  worker: { keyFile: string; pubFile: string };
  /** The directory the coordinator's --trust-workers names. */
  workersDir: string;
}

/** A coordinator key and a worker key in `dir/keys`, made with the CLI's own keygen. */
export function makeTestKeys(dir: string): TestKeys {
  const keys = join(dir, 'keys');
  mkdirSync(join(keys, 'workers'), { recursive: true });
  return { coordinator: writeKeyPair(join(keys, 'coordinator')), worker: writeKeyPair(join(keys, 'workers', 'worker')), workersDir: join(keys, 'workers') };
}

export interface DistributedTestbed {
  readonly dir: string;
  readonly redis: TestRedis;
  readonly fleet: Fleet;
  readonly keys: TestKeys;
  /** The fleet's inventory and known_hosts, as CLI arguments. */
  common(): string[];
  /** A coordinator's distributed flags: --redis (the testbed's, or `url`), its signing key, the trusted worker keys. */
  coord(url?: string): string[];
  /** A worker on the testbed's Redis (or `url`) with the testbed's keys (unless `keys: false`), stopped in afterAll. */
  worker(name: string, args: string[], opts?: { url?: string; env?: NodeJS.ProcessEnv; keys?: boolean }): TestWorker;
  /** Another redis-server in the testbed's dir, stopped in afterAll. */
  ownRedis(name: string): Promise<TestRedis>;
}

/**
 * A temp dir, a redis-server and a healthy simulated fleet of `hosts` for one distributed test
 * file: set up in beforeAll, and every process it started stopped by PID in afterAll.
 */
export function distributedTestbed(prefix: string, hosts: number): DistributedTestbed {
  let dir = '';
  let redis: TestRedis | undefined;
  let fleet: Fleet | undefined;
  let keys: TestKeys | undefined;
  const workers: TestWorker[] = [];
  const extra: TestRedis[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), prefix));
    redis = await startRedis(dir);
    keys = makeTestKeys(dir);
    fleet = await startFleet({ scenario: 'healthy', hosts, dir: join(dir, 'fleet'), loginDelayScale: 0 });
  }, 60_000);
  afterAll(async () => {
    await Promise.all(workers.map((w) => stopChild(w.child)));
    await fleet?.stop();
    await Promise.all(extra.map((r) => r.stop()));
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);
  return {
    get dir() {
      return dir;
    },
    get redis() {
      return redis!;
    },
    get fleet() {
      return fleet!;
    },
    get keys() {
      return keys!;
    },
    common: () => ['-i', fleet!.inventoryPath, '--known-hosts', fleet!.knownHostsPath],
    coord: (url) => ['--redis', url ?? redis!.url, '--signing-key', keys!.coordinator.keyFile, '--trust-workers', keys!.workersDir],
    worker(name, args, opts = {}) {
      const signed = opts.keys === false ? [] : ['--trust', keys!.coordinator.pubFile, '--signing-key', keys!.worker.keyFile];
      const w = startWorker(name, ['--redis', opts.url ?? redis!.url, ...signed, ...args], opts.env ?? process.env);
      workers.push(w);
      return w;
    },
    async ownRedis(name) {
      const r = await startRedis(join(dir, name));
      extra.push(r);
      return r;
    },
  };
}

/**
 * Redis going away mid-run: waits (bounded) until a worker took a host, SIGKILLs `redis`, and
 * returns the run's result with how long after the kill it ended.
 */
export async function loseRedisMidRun<T>(redis: TestRedis, tookHost: () => boolean, run: Promise<T>): Promise<{ result: T; endedAfterMs: number }> {
  await waitFor('a worker to take a host', tookHost, 20_000);
  process.kill(redis.pid, 'SIGKILL');
  const t0 = Date.now();
  const result = await run;
  return { result, endedAfterMs: Date.now() - t0 };
}
