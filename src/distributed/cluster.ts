/**
 * A local cluster for the demo: a redis-server on a free loopback port with its own directory,
 * and N `fleetmend worker` processes of this same binary, with the keys of a real set-up made
 * in `dir` (a coordinator key the workers trust, one key per worker the coordinator trusts).
 * Everything is stopped by PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { FleetmendError } from '../errors.js';
import { systemClock } from '../executor/clock.js';
import { writeKeyPair } from './signing.js';

export interface LocalCluster {
  redisUrl: string;
  /** What `sweep` / `run` add to queue to this cluster: --redis, --signing-key, --trust-workers. */
  coordinatorArgs: string[];
  workers: string[];
  workerPids: number[];
  stop(): Promise<void>;
}

/** A free loopback TCP port (the local cluster's redis-server; also the tests'). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function waitForText(child: ChildProcess, text: () => string, want: string, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!text().includes(want)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new FleetmendError('E_USAGE', `${what} did not start: ${text().slice(-500)}`);
    await systemClock.sleep(50);
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || !child.pid) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(t);
}

export async function startLocalCluster(opts: { dir: string; workers: number; inventory: string; knownHosts: string; cliPath: string }): Promise<LocalCluster> {
  const port = await freePort();
  const data = join(opts.dir, 'redis');
  mkdirSync(data, { recursive: true });
  const children: ChildProcess[] = [];
  const stopAll = async () => {
    await Promise.all(children.slice(1).map(stop));
    if (children[0]) await stop(children[0]);
  };
  try {
    const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', data, '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(redis);
    let out = '';
    redis.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    redis.once('error', (e) => (out += `\n${e.message} (is redis-server installed? apt-get install redis-server)`));
    await waitForText(redis, () => out, 'Ready to accept connections', 'redis-server', 10_000);
    const redisUrl = `redis://127.0.0.1:${port}/0`;
    const keys = join(opts.dir, 'keys');
    mkdirSync(join(keys, 'workers'), { recursive: true, mode: 0o700 });
    const coordinator = writeKeyPair(join(keys, 'coordinator'));
    const names: string[] = [];
    for (let i = 1; i <= opts.workers; i++) {
      const name = `worker-${i}`;
      const key = writeKeyPair(join(keys, 'workers', name));
      const args = ['worker', '--redis', redisUrl, '-i', opts.inventory, '--known-hosts', opts.knownHosts, '--name', name, '--trust', coordinator.pubFile, '--signing-key', key.keyFile];
      const w = spawn(process.execPath, [opts.cliPath, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      children.push(w);
      let err = '';
      w.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      await waitForText(w, () => err, 'ready:', name, 20_000);
      names.push(name);
    }
    const coordinatorArgs = ['--redis', redisUrl, '--signing-key', coordinator.keyFile, '--trust-workers', join(keys, 'workers')];
    return { redisUrl, coordinatorArgs, workers: names, workerPids: children.slice(1).map((c) => c.pid!), stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
