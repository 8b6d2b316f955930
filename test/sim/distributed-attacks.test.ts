import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { parse, stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { readStore } from '../helpers/store.js';
import { retryFilePath } from '../../src/run/index.js';
import { distributedTestbed, stopChild, takenBy, waitFor, workersReady, type TestRedis, type TestWorker } from '../helpers/redis.js';
import { jobIdOf, playJobIdOf, resultKeyOf, runKeyOf, type SignedResult } from '../../src/distributed/queue.js';
import { loadSigningKey, signJson, writeKeyPair } from '../../src/distributed/signing.js';

/**
 * Issue 21: an attacker who can write to the Redis that a coordinator and its workers share
 * (their own ioredis / BullMQ client, no coordinator key, no worker key unless said) must not
 * be able to run anything on the fleet, nor make the coordinator report a broken fleet healthy.
 * Real redis-server, real `fleetmend worker` processes, the simulated fleet over real SSH.
 */
const bed = distributedTestbed('fm-dist-atk-', 10);
const common = () => bed.common();
const QUEUE = { name: 'hosts', prefix: 'fleetmend' };
const EVENTS = 'fleetmend:hosts:events';

interface Host {
  host: string;
  status: string;
  worker?: string;
  tasks?: { task: string; status: string; stdout?: string; error?: { code: string; message: string } }[];
  error?: { code: string; message: string };
}
interface Doc {
  run: { id: string; interrupted?: boolean };
  hosts: Host[];
}

function worker(name: string, url: string, extra: string[] = [], opts: { keys?: boolean; inventory?: string } = {}): TestWorker {
  const inv = opts.inventory ? ['-i', opts.inventory, '--known-hosts', bed.fleet.knownHostsPath] : common();
  return bed.worker(name, [...inv, '--concurrency', '4', '--lock-duration', '2', '-v', ...extra], { url, ...(opts.keys === false ? { keys: false } : {}) });
}

const connections = (host: string) => bed.fleet.host(host).server.stats.connections;

/** The attacker's tools: a BullMQ queue handle and a plain client on the same Redis, nothing else. */
function attacker(url: string) {
  const queue = new Queue(QUEUE.name, { connection: { url }, prefix: QUEUE.prefix });
  const redis = new Redis(url);
  return {
    queue,
    redis,
    async failedReason(jobId: string): Promise<string> {
      let reason = '';
      await waitFor(`job ${jobId} to fail`, () => {
        void queue.getJob(jobId).then((j) => (reason = j?.failedReason ?? ''));
        return reason !== '';
      });
      return reason;
    },
    /** Job ids of the run now waiting in the queue (the coordinator queued them; read as anyone can). */
    async queuedIds(n: number): Promise<string[]> {
      let ids: string[] = [];
      await waitFor(`${n} job(s) queued`, () => {
        void redis.lrange('fleetmend:hosts:wait', 0, -1).then((x) => (ids = x));
        return ids.length >= n;
      });
      return ids;
    },
    forgeCompleted: (jobId: string, returnvalue: unknown) => redis.xadd(EVENTS, '*', 'event', 'completed', 'jobId', jobId, 'returnvalue', JSON.stringify(returnvalue), 'prev', 'active'),
    /** What a worker does when it completes a job: the result under the job's result key, then a `completed` event carrying nothing. */
    async forgeResult(jobId: string, result: unknown): Promise<void> {
      await redis.set(resultKeyOf(jobId), JSON.stringify(result), 'PX', 60_000);
      await redis.xadd(EVENTS, '*', 'event', 'completed', 'jobId', jobId, 'returnvalue', 'null', 'prev', 'active');
    },
    async close() {
      await queue.close();
      redis.disconnect();
    },
  };
}

describe('distributed mode under an attacker with write access to Redis', () => {
  it('an injected job (run key + job, unsigned or signed by the attacker\'s key) is refused by the worker: nothing runs on the host', async () => {
    const w = worker('honest', bed.redis.url);
    await workersReady(w);
    const a = attacker(bed.redis.url);
    try {
      const host = 'node-03';
      const before = connections(host);
      const run = 'evil-run';
      const source = '- hosts: all\n  become: true\n  tasks:\n    - shell: { cmd: "id -u" }\n';
      await a.redis.set(runKeyOf(run), JSON.stringify({ v: 1, file: 'evil.yml', source, extraVars: {}, check: false, diff: false, nonce: 'n' }));
      const job = { v: 1, kind: 'play', run, host, playIndex: 0, batchIndex: 0, batch: { size: 1, hostsInPlay: 1 }, state: { registered: {}, setFacts: {} } };
      const unsignedId = playJobIdOf(run, 0, 0, host);
      await a.queue.add('play', job, { jobId: unsignedId });
      // the same job signed with a key of the attacker's own: well-formed, but not a key the worker trusts
      const rogue = loadSigningKey(writeKeyPair(join(bed.dir, 'attacker')).keyFile);
      const run2 = 'evil-run-2';
      const signedId = playJobIdOf(run2, 0, 0, host);
      await a.queue.add('play', signJson({ purpose: 'fleetmend-job', jobId: signedId, run: run2, expiresAt: Date.now() + 600_000, job: { ...job, run: run2 }, runDigest: '0'.repeat(64) }, rogue), { jobId: signedId });
      expect(await a.failedReason(unsignedId)).toMatch(/^\[E_SIGNATURE\] job .* is not signed/);
      expect(await a.failedReason(signedId)).toMatch(/^\[E_SIGNATURE\] job .* is signed by an untrusted key/);
      expect(w.stderr()).toMatch(/refused: job evil-run__p0b0__node-03 is not signed/);
      expect(takenBy(w)).toEqual([]);
      expect(connections(host)).toBe(before);
    } finally {
      await a.close();
      await stopChild(w.child);
    }
  }, 60_000);

  it('a legitimate check run whose run key is rewritten (check -> false, a task added) is refused: the host is not changed', async () => {
    const own = await bed.ownRedis('redis-tamper');
    const a = attacker(own.url);
    try {
      const host = 'node-01';
      expect(bed.fleet.host(host).machine.kernel.settings.backlogLimit).toBe(8192);
      const stateDir = join(bed.dir, 'state-tamper');
      const run = runCli(['run', join(process.cwd(), 'playbooks/raise-backlog-limit.yml'), ...common(), '-l', host, '-e', 'backlog_limit=16384', '--check', '--diff', '--json', '-q', ...bed.coord(own.url), '--state-dir', stateDir]);
      // no worker yet: the attacker rewrites the run key before any worker reads it
      let key = '';
      await waitFor('the run key', () => {
        void a.redis.keys('fleetmend:runs:*:playbook').then((k) => (key = k[0] ?? ''));
        return key !== '';
      });
      const data = JSON.parse((await a.redis.get(key))!) as { check: boolean; source: string };
      expect(data.check).toBe(true);
      data.check = false;
      data.source += '\n    - name: Added by the attacker\n      command: { cmd: "id -u" }\n';
      await a.redis.set(key, JSON.stringify(data));
      const w = worker('tamper-w', own.url);
      const r = await run;
      expect(r.code, r.stderr).toBe(2);
      const h = (JSON.parse(r.stdout) as Doc).hosts.find((x) => x.host === host)!;
      expect(h.status).toBe('failed');
      expect(h.error?.code).toBe('E_SIGNATURE');
      expect(h.error?.message).toMatch(/is not what the coordinator signed \(altered\)/);
      expect(h.tasks ?? []).toEqual([]);
      expect(bed.fleet.host(host).machine.kernel.settings.backlogLimit).toBe(8192);
      expect(w.stderr()).toContain('refused: run ');
      await stopChild(w.child);
    } finally {
      await a.close();
    }
  }, 60_000);

  it('a signed job replayed into another run is refused; the real run completes', async () => {
    const own = await bed.ownRedis('redis-replay');
    const a = attacker(own.url);
    try {
      const stateDir = join(bed.dir, 'state-replay');
      const run = runCli(['sweep', ...common(), '-l', 'node-01:node-02', ...bed.coord(own.url), '--samples', '1', '--json', '-q', '--state-dir', stateDir, '--no-worker-timeout', '60']);
      const [id] = (await a.queuedIds(2)).filter((j) => j.endsWith('__node-01'));
      const captured = JSON.parse((await a.redis.hget(`fleetmend:hosts:${id}`, 'data'))!) as unknown;
      const replayedId = jobIdOf('20991231T000000-other', 'node-01');
      await a.queue.add('sweep', captured, { jobId: replayedId });
      const w = worker('replay-w', own.url);
      const r = await run;
      expect(r.code, r.stderr).toBe(0);
      const doc = JSON.parse(r.stdout) as Doc;
      expect(doc.hosts.map((h) => h.status)).toEqual(['ok', 'ok']);
      expect(await a.failedReason(replayedId)).toMatch(/^\[E_SIGNATURE\] .*signed for job .*__node-01.*replayed under another id or run/);
      // node-01 was swept once, for the real run only
      expect(takenBy(w).filter((h) => h === 'node-01')).toHaveLength(1);
      expect(takenBy(w, doc.run.id)).toContain('node-01');
      await stopChild(w.child);
    } finally {
      await a.close();
    }
  }, 60_000);

  it('forged results and `completed` events with no worker running: no host reads ok unless a trusted worker signed its own result for that job and host', async () => {
    const own = await bed.ownRedis('redis-forge');
    const a = attacker(own.url);
    try {
      const stateDir = join(bed.dir, 'state-forge');
      const run = runCli(['sweep', ...common(), '-l', '~^node-0[1-7]$', ...bed.coord(own.url), '--samples', '1', '--json', '-q', '--state-dir', stateDir, '--no-worker-timeout', '60']);
      const ids = await a.queuedIds(7);
      const idOf = (h: string) => ids.find((j) => j.endsWith(`__${h}`))!;
      const runId = idOf('node-01').replace(/__node-01$/, '');
      const at = new Date().toISOString();
      const healthy = (host: string) => ({ host, address: '127.0.0.1', port: 22, status: 'ok' as const, started_at: at, finished_at: at, diagnosis: { state: 'healthy', findings: [] } });
      const signed = (host: string, over: Partial<SignedResult> = {}): SignedResult => ({ purpose: 'fleetmend-result', jobId: idOf(host), run: runId, host, worker: 'w', result: healthy(host) as SignedResult['result'], ...over });
      // a compromised worker holds a trusted key; the attacker of the other lines holds only their own
      const trusted = loadSigningKey(bed.keys.worker.keyFile);
      const rogue = loadSigningKey(writeKeyPair(join(bed.dir, 'attacker-w')).keyFile);
      await a.forgeResult(idOf('node-01'), { result: healthy('node-01'), worker: 'evil' }); // the old, unsigned return value
      await a.forgeResult(idOf('node-02'), signJson(signed('node-02'), rogue));
      await a.forgeResult(idOf('node-03'), signJson(signed('node-03', { host: 'node-04', result: healthy('node-04') as SignedResult['result'] }), trusted));
      await a.forgeResult(idOf('node-04'), signJson(signed('node-05'), trusted)); // node-05's result under node-04's job
      await a.forgeResult(idOf('node-05'), signJson(signed('node-05', { result: { ...healthy('node-05'), status: 'healthy' as 'ok' } }), trusted));
      await a.forgeResult(idOf('node-06'), signJson(signed('node-06'), trusted)); // a trusted worker's own result for its own host
      // a good signed result in the event itself, no result key: the event's payload is never read
      await a.forgeCompleted(idOf('node-07'), signJson(signed('node-07'), trusted));
      const r = await run;
      expect(r.code, r.stderr).toBe(2);
      const hosts = new Map((JSON.parse(r.stdout) as Doc).hosts.map((h) => [h.host, h]));
      const reasons: Record<string, [string, RegExp]> = {
        'node-01': ['E_RESULT_REJECTED', /not signed/],
        'node-02': ['E_RESULT_REJECTED', /untrusted key/],
        'node-03': ['E_RESULT_REJECTED', /names host node-04, not node-03/],
        'node-04': ['E_RESULT_REJECTED', /signed for job .*__node-05/],
        'node-05': ['E_RESULT_REJECTED', /schema/],
        'node-07': ['E_INTERNAL', /result is not in Redis/],
      };
      for (const [host, [code, why]] of Object.entries(reasons)) {
        const h = hosts.get(host)!;
        expect(h.status, host).toBe('failed');
        expect(h.error?.code, host).toBe(code);
        expect(h.error?.message, host).toMatch(why);
      }
      expect(hosts.get('node-06')!.status).toBe('ok');
      expect([...hosts.keys()].sort()).toEqual(['node-01', 'node-02', 'node-03', 'node-04', 'node-05', 'node-06', 'node-07']);
      expect(r.stderr).toContain('result for node-01 rejected: the result is not signed');
      // every result key was taken (read and deleted) by the coordinator
      expect(await a.redis.exists(...ids.map(resultKeyOf))).toBe(0);
    } finally {
      await a.close();
    }
  }, 60_000);

  it('a malformed `completed` event (BullMQ\'s events loop stops on it): the run ends at once, hosts interrupted with E_QUEUE, not a hang', async () => {
    const own = await bed.ownRedis('redis-poison');
    const a = attacker(own.url);
    try {
      const stateDir = join(bed.dir, 'state-poison');
      const t0 = Date.now();
      const run = runCli(['sweep', ...common(), '-l', 'node-01:node-02', ...bed.coord(own.url), '--samples', '1', '--json', '-q', '--state-dir', stateDir]);
      const [id] = await a.queuedIds(2);
      await a.redis.xadd(EVENTS, '*', 'event', 'completed', 'jobId', id!, 'returnvalue', '{not json', 'prev', 'active');
      const r = await run;
      expect(Date.now() - t0).toBeLessThan(9_000); // before even the no-worker notice
      expect(r.code, r.stderr).toBe(130);
      expect(r.stderr).toContain('holds a malformed event');
      const doc = JSON.parse(r.stdout) as Doc;
      expect(doc.hosts.map((h) => [h.status, h.error?.code])).toEqual([
        ['interrupted', 'E_QUEUE'],
        ['interrupted', 'E_QUEUE'],
      ]);
      expect(await a.redis.llen('fleetmend:hosts:wait')).toBe(0);
    } finally {
      await a.close();
    }
  }, 60_000);

  it('a real worker whose key the coordinator does not trust: its results are rejected (E_RESULT_REJECTED)', async () => {
    const own = await bed.ownRedis('redis-rogue');
    const rogue = writeKeyPair(join(bed.dir, 'rogue-worker'));
    const w = worker('rogue', own.url, ['--trust', bed.keys.coordinator.pubFile, '--signing-key', rogue.keyFile], { keys: false });
    await workersReady(w);
    const r = await runCli(['sweep', ...common(), '-l', 'node-07', ...bed.coord(own.url), '--samples', '1', '--json', '-q', '--state-dir', join(bed.dir, 'state-rogue')]);
    expect(r.code, r.stderr).toBe(2);
    const h = (JSON.parse(r.stdout) as Doc).hosts[0]!;
    expect(h.status).toBe('failed');
    expect(h.error?.code).toBe('E_RESULT_REJECTED');
    expect(h.error?.message).toMatch(/signed by an untrusted key/);
    expect(takenBy(w)).toEqual(['node-07']); // it did the work; its word is not taken
    await stopChild(w.child);
  }, 60_000);

  it('become: true in a signed playbook gets no sudo where the worker\'s own inventory does not allow become', async () => {
    const own = await bed.ownRedis('redis-become');
    const host = 'node-03'; // a sudo user (fleet), ansible_become in the fleet's inventory
    const inv = parse(readFileSync(bed.fleet.inventoryPath, 'utf8')) as { all: { hosts: Record<string, Record<string, unknown>> } };
    expect(inv.all.hosts[host]!['ansible_become']).toBe(true);
    delete inv.all.hosts[host]!['ansible_become'];
    const noBecome = join(bed.dir, 'inventory-no-become.yml');
    writeFileSync(noBecome, stringify(inv));
    const w = worker('nobecome', own.url, [], { inventory: noBecome });
    await workersReady(w);
    const file = join(bed.dir, 'root.yml');
    writeFileSync(file, '- hosts: all\n  become: true\n  tasks:\n    - name: who\n      shell: { cmd: "id -u" }\n');
    const r = await runCli(['run', file, ...common(), '-l', host, ...bed.coord(own.url), '--json', '-q', '--state-dir', join(bed.dir, 'state-become')]);
    const h = (JSON.parse(r.stdout) as Doc).hosts[0]!;
    expect(h.status, r.stderr).toBe('failed');
    const task = h.tasks!.find((t) => t.task === 'who')!;
    expect(task.error?.code).toBe('E_BECOME');
    expect(task.error?.message).toContain('this worker does not allow become');
    expect(task.stdout ?? '').not.toMatch(/^0$/m);
    await stopChild(w.child);
  }, 60_000);

  it('no worker: said within 10 s naming the queue and how to start one; --no-worker-timeout ends the run, hosts not started and in the retry file', async () => {
    const own: TestRedis = await bed.ownRedis('redis-none');
    const stateDir = join(bed.dir, 'state-none');
    const t0 = Date.now();
    const r = await runCli(['sweep', ...common(), '-l', '~^node-0[1-3]$', ...bed.coord(own.url), '--samples', '1', '--json', '-q', '--state-dir', stateDir, '--no-worker-timeout', '11']);
    const took = Date.now() - t0;
    expect(took).toBeLessThan(30_000); // not the silent 240 s wait
    expect(r.stderr).toContain(`no worker has taken a job from queue fleetmend:hosts in 10 s; start one: fleetmend worker --redis ${own.url} --trust ${bed.keys.coordinator.pubFile} --signing-key WORKER.key -i ${bed.fleet.inventoryPath}`);
    expect(r.stderr).toContain('no worker took a job from queue fleetmend:hosts within 11 s (--no-worker-timeout): the run ends');
    expect(r.stderr.indexOf('no worker has taken')).toBeLessThan(r.stderr.indexOf('no worker took'));
    expect(r.code).toBe(130);
    const doc = JSON.parse(r.stdout) as Doc;
    expect(doc.run.interrupted).toBe(true);
    expect(doc.hosts.map((h) => [h.status, h.error?.code])).toEqual([
      ['interrupted', 'E_NO_WORKER'],
      ['interrupted', 'E_NO_WORKER'],
      ['interrupted', 'E_NO_WORKER'],
    ]);
    expect(readFileSync(retryFilePath(stateDir, readStore(stateDir, (store) => store.getRun(doc.run.id)).run), 'utf8').trim().split('\n').sort()).toEqual(['node-01', 'node-02', 'node-03']);
    // nothing left waiting for a worker that comes later
    const c = new Redis(own.url);
    expect(await c.llen('fleetmend:hosts:wait')).toBe(0);
    c.disconnect();
  }, 60_000);
});
