import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { readStore } from '../helpers/store.js';
import { runCli } from '../helpers/cli.js';
import { retryFilePath } from '../../src/run/index.js';
import { jobIdOf, resultKeyOf } from '../../src/distributed/queue.js';
import { distributedTestbed, dumpRedis, loseRedisMidRun, startRedis, stopChild, takenBy, waitFor, workersReady, type TestWorker } from '../helpers/redis.js';

/**
 * Distributed sweeps with a real redis-server, real `fleetmend worker` processes (the built
 * binary) and the simulated fleet over real SSH. Every wait is bounded; every process started
 * here is stopped by PID in afterAll.
 */
const bed = distributedTestbed('fm-dist-', 200);

const common = () => bed.common();

const started: TestWorker[] = [];
function worker(name: string, extra: string[] = [], env: NodeJS.ProcessEnv = process.env, inventory?: string): TestWorker {
  const args = inventory ? ['-i', inventory, '--known-hosts', bed.fleet.knownHostsPath] : common();
  const w = bed.worker(name, [...args, '--concurrency', '20', '--lock-duration', '2', '-v', ...extra], { env });
  started.push(w);
  return w;
}

const ready = workersReady;

const taken = (w: TestWorker) => takenBy(w);
const finished = (w: TestWorker) => [...w.stderr().matchAll(/done (\S+) /g)].map((m) => m[1]!);

interface Doc {
  run: { id: string };
  summary: Record<string, number>;
  hosts: { host: string; status: string }[];
}

const storedRun = (stateDir: string, id: string) => readStore(stateDir, (store) => store.getRun(id));

describe('sweep --redis across fleetmend workers', () => {
  it('Redis unreachable: exit 1 naming the URL, nothing queued, nothing recorded', async () => {
    const stateDir = join(bed.dir, 'state-down');
    const r = await runCli(['sweep', ...common(), ...bed.coord('redis://127.0.0.1:1/0'), '--state-dir', stateDir, '-q']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('cannot reach Redis at redis://127.0.0.1:1/0');
    expect(r.stderr).toContain('[E_QUEUE]');
    expect(readStore(stateDir, (store) => store.listRuns())).toHaveLength(0);
  });

  it('200 hosts, 3 workers, one SIGKILLed mid-run: every host recorded exactly once, the dead worker\'s hosts finished by the others', async () => {
    const [w1, w2, w3] = [worker('w1'), worker('w2'), worker('w3')];
    await ready(w1, w2, w3);
    const stateDir = join(bed.dir, 'state-kill');
    const run = runCli(['sweep', ...common(), ...bed.coord(), '-f', '30', '--samples', '2', '--interval', '0.3', '--json', '-q', '--state-dir', stateDir]);
    // killed with hosts in flight: the takeover of a dead worker's taken hosts is what is tested
    // (with placement w1 can be between hosts for a moment; a kill then would test only its queue)
    const inFlight = () => taken(w1).filter((h) => !finished(w1).includes(h)).length;
    await waitFor('w1 to finish 10 hosts with more in flight', () => finished(w1).length >= 10 && inFlight() > 0, 60_000);
    process.kill(w1.child.pid!, 'SIGKILL');
    try {
      await checkKilledRun(await run, stateDir, w1);
    } finally {
      await Promise.all([stopChild(w2.child), stopChild(w3.child)]);
    }
  }, 120_000);

  async function checkKilledRun(r: Awaited<ReturnType<typeof runCli>>, stateDir: string, w1: ReturnType<typeof worker>): Promise<void> {
    expect([0, 2], r.stderr).toContain(r.code);
    const doc = JSON.parse(r.stdout) as Doc;
    expect(doc.hosts).toHaveLength(200);
    expect(new Set(doc.hosts.map((h) => h.host)).size).toBe(200);
    expect(doc.hosts.every((h) => h.status === 'ok')).toBe(true);
    expect(r.stderr).not.toContain('was refused');
    const stored = storedRun(stateDir, doc.run.id);
    expect(stored.pending).toEqual([]);
    expect(stored.hosts).toHaveLength(200);
    const byWorker = new Map(stored.hosts.map((h) => [h.host, h.worker]));
    // hosts w1 took but never finished (in flight at the kill) were swept by w2 or w3
    const lost = taken(w1).filter((h) => !finished(w1).includes(h));
    expect(lost.length).toBeGreaterThan(0);
    for (const h of lost) expect(['w2', 'w3']).toContain(byWorker.get(h));
    // every result came from a worker that finished it
    for (const [h, w] of byWorker) expect(finished(started.find((x) => x.name === w)!)).toContain(h);
    const counts = ['w1', 'w2', 'w3'].map((n) => stored.hosts.filter((h) => h.worker === n).length);
    expect(counts.reduce((a, b) => a + b)).toBe(200);
    expect(counts[1]! + counts[2]!).toBeGreaterThan(counts[0]!);
  }

  it('a worker stopped past its lock (SIGSTOP, then SIGCONT) has its late result rejected; the host is recorded once, from the other worker', async () => {
    const a = worker('stall-a', ['--concurrency', '1']);
    await ready(a);
    const stateDir = join(bed.dir, 'state-stall');
    const limit = '~^node-0*[1-4]$';
    const run = runCli(['sweep', ...common(), '-l', limit, ...bed.coord(), '-f', '4', '--samples', '2', '--interval', '4', '--json', '-q', '--state-dir', stateDir]);
    await waitFor('stall-a to take a host', () => taken(a).length >= 1, 20_000);
    process.kill(a.child.pid!, 'SIGSTOP');
    const stalledHost = taken(a)[0]!;
    const b = worker('stall-b', ['--concurrency', '10']);
    await ready(b);
    // lock 2 s: b's stalled-job check gives the host back and b sweeps it (4 s between samples)
    await waitFor(`stall-b to finish ${stalledHost}`, () => finished(b).includes(stalledHost), 40_000);
    process.kill(a.child.pid!, 'SIGCONT');
    const r = await run;
    const doc = JSON.parse(r.stdout) as Doc;
    // it does finish the host, too late: the completion is refused
    await waitFor('stall-a to finish its host', () => finished(a).includes(stalledHost), 20_000);
    await waitFor('stall-a to report its late result rejected', () => /rejected/.test(a.stderr().slice(a.stderr().indexOf(`done ${stalledHost}`))), 20_000).catch((e: Error) => {
      throw new Error(`${e.message}\n${a.stderr()}`);
    });
    // nor did its late result reach Redis: a result key outliving the run would keep host data there
    const c = new Redis(bed.redis.url);
    try {
      expect(await c.exists(resultKeyOf(jobIdOf(doc.run.id, stalledHost)))).toBe(0);
    } finally {
      c.disconnect();
    }
    const stored = storedRun(stateDir, doc.run.id);
    expect(stored.hosts.filter((h) => h.host === stalledHost)).toHaveLength(1);
    expect(stored.hosts.find((h) => h.host === stalledHost)!.worker).toBe('stall-b');
    expect(new Set(stored.hosts.map((h) => h.host)).size).toBe(stored.hosts.length);
    expect(stored.pending).toEqual([]);
    await Promise.all([stopChild(a.child), stopChild(b.child)]);
  }, 120_000);

  it('Redis going away mid-run: the run ends interrupted (exit 130), recorded, with a retry file', async () => {
    const own = await startRedis(join(bed.dir, 'redis-lost'));
    try {
      const w = bed.worker('lost-w', [...common(), '--concurrency', '2', '--lock-duration', '2', '-v'], { url: own.url });
      await ready(w);
      const stateDir = join(bed.dir, 'state-lost');
      const run = runCli(['sweep', ...common(), '-l', '~^node-0*[1-6]$', ...bed.coord(own.url), '--redis-timeout', '2', '--samples', '2', '--interval', '5', '--json', '-q', '--state-dir', stateDir]);
      const { result: r, endedAfterMs } = await loseRedisMidRun(own, () => taken(w).length >= 1, run);
      expect(endedAfterMs).toBeLessThan(15_000);
      expect(r.code, r.stderr).toBe(130);
      expect(r.stderr).toMatch(/Redis at redis:\/\/127\.0\.0\.1:\d+\/0 unreachable for 2 s: the run ends interrupted/);
      const doc = JSON.parse(r.stdout) as Doc & { run: { interrupted?: boolean } };
      expect(doc.run.interrupted).toBe(true);
      expect(doc.hosts.every((h) => h.status === 'interrupted')).toBe(true);
      const stored = storedRun(stateDir, doc.run.id);
      expect(stored.status).toBe('interrupted');
      expect(readFileSync(retryFilePath(stateDir, stored.run), 'utf8').trim().split('\n')).toHaveLength(6);
      await stopChild(w.child);
    } finally {
      await own.stop();
    }
  }, 60_000);

  it('no secret reaches Redis: passwords, become passwords and key material stay on the workers', async () => {
    const secrets = { ssh: 'Ssh-Pw-7f3a9e1c', become: 'Become-Pw-2b8d4c6e', env: 'Env-Become-9a1f5d3b', passphrase: 'Key-Pass-4c7e2a9f' };
    // the inventory copy with secrets in it (what the coordinator and the workers both read)
    const inv = join(bed.dir, 'inventory-secrets.yml');
    const text = readFileSync(bed.fleet.inventoryPath, 'utf8').replace(/(\n\s+)ansible_user: (\S+)/g, `$1ansible_user: $2$1ansible_password: '${secrets.ssh}'$1ansible_become_password: '${secrets.become}'`);
    expect(text).toContain(secrets.ssh);
    writeFileSync(inv, text);
    const env = { ...process.env, FLEETMEND_BECOME_PASSWORD: secrets.env, FLEETMEND_KEY_PASSPHRASE: secrets.passphrase };
    const w = worker('sec', [], env, inv);
    await ready(w);
    const stateDir = join(bed.dir, 'state-secrets');
    const from = w.stderr().length;
    // two samples a second apart: Redis is scanned while the run's jobs are there
    const running = runCli(['sweep', '-i', inv, '--known-hosts', bed.fleet.knownHostsPath, '-l', '~^node-0*1[0-9]$', ...bed.coord(), '--samples', '2', '--interval', '1', '--json', '-q', '--state-dir', stateDir], env);
    await waitFor('the worker to take a host', () => /take node-/.test(w.stderr().slice(from)), 20_000);
    const during = await dumpRedis(bed.redis.url);
    const r = await running;
    expect([0, 2], r.stderr).toContain(r.code);
    const doc = JSON.parse(r.stdout) as Doc;
    expect(doc.hosts.length).toBe(10);
    expect(doc.hosts.every((h) => h.status === 'ok')).toBe(true);
    const key = readFileSync(/ansible_ssh_private_key_file: (\S+)/.exec(text)![1]!, 'utf8');
    const keyLines = key.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----'));
    expect(keyLines.length).toBeGreaterThan(0);
    const after = await dumpRedis(bed.redis.url);
    expect(during.text).toMatch(/node-0*1\d/); // the scan sees the run's jobs
    for (const dump of [during, after]) {
      for (const s of Object.values(secrets)) expect(dump.text).not.toContain(s);
      for (const l of keyLines) expect(dump.text).not.toContain(l);
      expect(dump.text).not.toContain('PRIVATE KEY');
    }
    await stopChild(w.child);
  }, 120_000);
});
