/**
 * The coordinator side of distributed mode: the run layer validates, locks, records and reports
 * exactly as for a local run; only where a host's work happens changes (a placement). One
 * placement core queues one job per host (sweeps) or per host and play (playbooks), with ids
 * made of the run and the host, and settles each host once: the first completion wins, a late
 * or second one is dropped here (and the store refuses it). Each job goes to the own queue of
 * the live worker its host hashes to (placement.ts), or to the shared queue when no worker is
 * live, and is taken over when that worker dies. `-f/--forks` bounds the hosts queued or
 * running across all workers together (the run layer queues a host when a slot is free). Redis is not
 * trusted: every job is signed with the coordinator's key, and a completion counts only as a
 * result signed by a trusted worker key for that job and host (signing.ts).
 */
import type { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { FleetmendError, type ErrorCode } from '../errors.js';
import { isoNow, type Clock } from '../executor/clock.js';
import { hostResult, type HostResult, type HostTarget } from '../results/index.js';
import type { RemotePlayReply, RemotePlayRequest } from '../playbook/protocol.js';
import type { Vars } from '../playbook/vars.js';
import type { PlaybookPlacement, PreparedPlaybook, PreparedSweep, RunSession, SweepPlacement } from '../run/index.js';
import { newNonce } from '../sweep/index.js';
import type { ConnectionSpec } from '../transport/types.js';
import { openResult, sha256Hex, signJson, SignatureRefused, type SignedEnvelope, type SigningKey, type TrustStore } from './signing.js';
import { isSecretName, maskerFor, type SecretValues, wireState, wireValue } from '../secrets/index.js';
import {
  QUEUE_NAME,
  QUEUE_PREFIX,
  bullConnection,
  jobIdOf,
  playJobIdOf,
  preflightRedis,
  resultKeyOf,
  runKeyOf,
  runKeyTtlMs,
  type HostJobData,
  type PlayJobData,
  type PlayRunData,
  type SignedResult,
  type SweepJobData,
} from './queue.js';
import { openRedis, type RedisTarget } from './connection.js';
import { liveWorkers, ownerOf, workerQueueOf } from './placement.js';
import type { RedisOptions as BullRedisOptions } from 'bullmq';

export interface CoordinatorOptions {
  /** The Redis, resolved (credentials, TLS): every connection of the run is made from it. */
  redis: RedisTarget;
  clock: Clock;
  log: (line: string) => void;
  /** Redis unreachable this long mid-run: the run ends interrupted (default 10 s). */
  lostAfterMs?: number;
  /** Signs every job (its public key is what workers `--trust`). */
  signer: SigningKey;
  /** The worker keys whose results are believed (`--trust-workers`). */
  trustWorkers: TrustStore;
  /** No worker took any job this long: the run ends, its hosts not started (`--no-worker-timeout`). */
  noWorkerTimeoutMs?: number;
  /** After this long without a worker the coordinator says so (default 10 s). */
  noWorkerNoticeMs?: number;
  /** How to start a worker, for that message (the command line after `fleetmend worker`). */
  workerHint?: string;
}

/** How a job ended for the coordinator: a worker's verified result, or a result made here. */
type Settled = { kind: 'done'; value: SignedResult } | { kind: 'lost'; result: HostResult };

interface Waiting {
  host: HostTarget;
  run: string;
  resolve: (s: Settled) => void;
  /** The job is still waiting in the queue (no worker took it yet). */
  queued: boolean;
  /** The queue it is in: the shared one, or a worker's own (placement.ts). */
  lane: string;
  /** The signed job, as queued: a takeover queues the very same bytes elsewhere. */
  job: ToAdd;
  /** Times it was taken over from a worker that died; a host whose workers keep dying fails. */
  moves: number;
}

interface ToAdd {
  name: string;
  data: SignedEnvelope;
  opts: { jobId: string };
}

/** One BullMQ queue this run places jobs on, and the events stream its completions come through. */
interface Lane {
  name: string;
  /** The worker whose own queue it is; none for the shared queue. */
  worker?: string;
  queue: Queue;
  events: QueueEvents;
}

/** A job taken over this many times (its workers died each time) fails its host, as BullMQ's maxStalledCount does. */
const MAX_MOVES = 3;

/** How often the coordinator looks for workers that died with jobs in their queues. */
const TAKEOVER_EVERY_MS = 1000;

/**
 * A signed job is good this long after it is queued (plus, for a sweep, the time its place in
 * the queue may take): long enough for any real wait in the queue, short enough that a job
 * copied out of Redis cannot be replayed days later.
 */
const JOB_TTL_MS = 60 * 60_000;

/** A worker refusing a job says why in its failure, `[CODE] reason` (worker.ts signedJob); a forged failure can only fail a host, which anyone who can delete the job can do too. */
const REFUSAL = /^\[(E_SIGNATURE)\] ([^]*)$/;

/**
 * The placement core: queue, completion events, one pending promise per job, the interrupt
 * (take back what no worker holds), and Redis going away mid-run.
 */
class JobPlacement {
  private readonly waiting = new Map<string, Waiting>();
  /** By queue name: the shared queue always, a worker's own once a job goes there. */
  private readonly lanes = new Map<string, Promise<Lane>>();
  private takeoverTimer: NodeJS.Timeout | undefined;
  private takingOver = false;
  /** Heartbeats refused (not signed by a trusted worker key...), said once each. */
  private readonly ignoredSaid = new Set<string>();
  private readonly connection: BullRedisOptions;
  /** The live workers at the last look (live()). */
  private liveNow: readonly string[] = [];
  private toAdd: ToAdd[] = [];
  private addScheduled = false;
  private watching = false;
  private session: RunSession | undefined;
  private lostTimer: NodeJS.Timeout | undefined;
  private probe: { disconnect(): void } | undefined;
  private lostRun = false;
  /** Some worker took some job of this placement (its `active` event). */
  private taken = false;
  private noWorkerTimers: NodeJS.Timeout[] = [];
  /** Every job id of this run: what close() takes out of Redis again (events, results). */
  private readonly placed = new Set<string>();
  private keepAliveTimer: NodeJS.Timeout | undefined;

  /** Called after validation, before the lock, the store and any job: Redis unreachable is exit 1. */
  static async open(opts: CoordinatorOptions, forks: number): Promise<JobPlacement> {
    const server = await preflightRedis(opts.redis);
    if (server.evictionPolicy && server.evictionPolicy !== 'noeviction') {
      opts.log(`warning: Redis at ${opts.redis.url} has maxmemory-policy ${server.evictionPolicy}; use noeviction, or queued hosts may vanish`);
    }
    const core = new JobPlacement(await openRedis(opts.redis, 'client'), opts);
    const shared = await core.lane(QUEUE_NAME);
    await shared.queue.setGlobalConcurrency(forks);
    await core.watchConnection();
    core.takeoverTimer = setInterval(() => void core.takeOver(), TAKEOVER_EVERY_MS);
    core.takeoverTimer.unref();
    return core;
  }

  private constructor(
    /** Results, run keys and heartbeats: bounded retries, so a Redis gone at the end cannot hang close. */
    private readonly client: Redis,
    private readonly opts: CoordinatorOptions,
  ) {
    this.connection = bullConnection(opts.redis);
  }

  /** A queue and its events stream, opened once; listening before its first job exists, so no completion is missed. */
  private lane(name: string, worker?: string): Promise<Lane> {
    let lane = this.lanes.get(name);
    if (!lane) {
      lane = this.openLane(name, worker);
      this.lanes.set(name, lane);
      lane.catch(() => this.lanes.delete(name));
    }
    return lane;
  }

  private async openLane(name: string, worker: string | undefined): Promise<Lane> {
    const { Queue, QueueEvents } = await import('bullmq');
    const queue: Queue = new Queue(name, { connection: this.connection, prefix: QUEUE_PREFIX });
    const events: QueueEvents = new QueueEvents(name, { connection: this.connection, prefix: QUEUE_PREFIX });
    queue.on('error', (e) => this.opts.log(`queue ${name}: ${e.message}`));
    events.on('error', (e) => this.opts.log(`queue ${name} events: ${e.message}`));
    // BullMQ's events loop parses a completion's value as JSON and stops for good on one that is
    // not: anyone who can write to Redis can add such an event. Its results would never arrive,
    // so the run ends now (hosts interrupted, retry file) instead of waiting forever.
    events.on('error', (e) => {
      if (e instanceof SyntaxError) this.eventsBroken(e.message, name);
    });
    this.listen(events);
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
    return { name, ...(worker ? { worker } : {}), queue, events };
  }

  /** The same handlers on every lane: a job id is the run's and the host's, whichever queue it is in. */
  private listen(events: QueueEvents): void {
    events.on('active', ({ jobId }) => {
      const w = this.waiting.get(jobId);
      if (w) {
        w.queued = false;
        this.taken = true;
      }
    });
    events.on('completed', ({ jobId }) => {
      // the event carries nothing: the result is read from its own key, then verified
      const w = this.waiting.get(jobId);
      if (w) void this.takeResult(jobId, w).then((s) => this.settle(jobId, s));
    });
    events.on('failed', ({ jobId, failedReason }) => {
      const w = this.waiting.get(jobId);
      if (!w) return;
      const refused = REFUSAL.exec(failedReason ?? '');
      // a worker refused the job (signature), or no worker could finish it (it stalled on every worker that took it)
      if (refused) this.settle(jobId, this.lost(w.host, 'failed', refused[1] as ErrorCode, `a worker refused the job: ${refused[2]!.slice(0, 500)}`));
      else this.settle(jobId, this.lost(w.host, 'failed', 'E_INTERNAL', `no worker finished this host: ${failedReason}`));
    });
  }

  /**
   * A completion is believed only as a result a trusted worker signed for this very job, run
   * and host: the events stream and the result key are writable by anyone who can write to
   * Redis, so neither the event nor the key proves anything. Anything else fails the host with E_RESULT_REJECTED and the reason.
   */
  private verified(jobId: string, w: Waiting, text: string): Settled {
    try {
      return { kind: 'done', value: openResult(text, { jobId, run: w.run, host: w.host.name }, this.opts.trustWorkers).result };
    } catch (err) {
      const why = err instanceof SignatureRefused ? err.message : `unreadable result: ${err instanceof Error ? err.message : String(err)}`;
      this.opts.log(`result for ${w.host.name} rejected: ${why}`);
      return this.lost(w.host, 'failed', 'E_RESULT_REJECTED', `result rejected: ${why}`);
    }
  }

  /** Signs one job, queues it and waits for the host to be settled, once. */
  place(jobId: string, name: string, data: HostJobData, host: HostTarget, session: RunSession, sign: { ttlMs: number; runDigest?: string }): Promise<Settled> {
    this.session = session;
    this.watchInterrupt(session);
    this.watchForWorkers();
    const signed = signJson(
      { purpose: 'fleetmend-job', jobId, run: data.run, expiresAt: this.opts.clock.now() + sign.ttlMs, job: data, ...(sign.runDigest ? { runDigest: sign.runDigest } : {}) },
      this.opts.signer,
    );
    return new Promise<Settled>((resolve) => {
      const job: ToAdd = { name, data: signed, opts: { jobId } };
      this.placed.add(jobId);
      this.waiting.set(jobId, { host, run: data.run, resolve, queued: true, lane: QUEUE_NAME, job, moves: 0 });
      this.toAdd.push(job);
      this.scheduleAdd();
    });
  }

  /**
   * No worker at all is said within noWorkerNoticeMs, naming the queue and how to start one;
   * with --no-worker-timeout the run ends then, its queued hosts taken back as not started
   * (recorded interrupted, in the retry file), instead of a silent wait.
   */
  private watchForWorkers(): void {
    if (this.noWorkerTimers.length || this.taken) return;
    const notice = this.opts.noWorkerNoticeMs ?? 10_000;
    const queue = `${QUEUE_PREFIX}:${QUEUE_NAME}`;
    const hint = `fleetmend worker --redis ${this.opts.redis.url} ${this.opts.workerHint ?? '--trust COORDINATOR.pub --signing-key WORKER.key -i INVENTORY'}`;
    const timer = (ms: number, fn: () => void) => {
      const t = setTimeout(() => !this.taken && this.waiting.size && fn(), ms);
      t.unref();
      this.noWorkerTimers.push(t);
    };
    timer(notice, () => this.opts.log(`no worker has taken a job from queue ${queue} in ${Math.round(notice / 1000)} s; start one: ${hint}`));
    const limit = this.opts.noWorkerTimeoutMs;
    if (limit !== undefined) timer(limit, () => void this.noWorker(limit, queue));
  }

  private async noWorker(limitMs: number, queue: string): Promise<void> {
    const why = `no worker took a job from queue ${queue} within ${limitMs / 1000} s (--no-worker-timeout)`;
    this.opts.log(`${why}: the run ends; its hosts were not started (retry file)`);
    this.session?.markInterrupted();
    await this.takeBackQueued('E_NO_WORKER', `not started: ${why}`);
  }

  /**
   * Redis gone mid-run (its connection closed and not back within lostAfterMs): every host not
   * yet answered is recorded interrupted and the run ends as an interrupted one (exit 130; the
   * retry file names those hosts), instead of waiting forever.
   */
  private async watchConnection(): Promise<void> {
    // our own small connection: BullMQ's clients retry forever by design and say nothing
    const probe = await openRedis(this.opts.redis, 'probe');
    this.probe = probe;
    const after = this.opts.lostAfterMs ?? 10_000;
    let lastOk = this.opts.clock.now();
    this.lostTimer = setInterval(() => {
      probe.ping().then(
        () => (lastOk = this.opts.clock.now()),
        () => {
          if (this.opts.clock.now() - lastOk >= after && this.waiting.size) this.redisLost(after);
        },
      );
    }, Math.min(1000, after / 2));
    this.lostTimer.unref();
  }

  /** The events stream cannot be read any more (a malformed event in it): every host still waiting is interrupted. */
  eventsBroken(why: string, lane: string): void {
    if (!this.waiting.size) return;
    const what = `the queue's events stream ${QUEUE_PREFIX}:${lane}:events holds a malformed event (${why}); results can no longer be read`;
    this.opts.log(`${what}: the run ends interrupted (${this.waiting.size} host(s) without a result)`);
    this.session?.markInterrupted();
    // not left for a worker that comes later: nobody would read what it does
    for (const [jobId, w] of this.waiting) if (w.queued) void this.removeJob(jobId, w).catch(() => 0);
    for (const [jobId, w] of this.waiting) this.settle(jobId, this.lost(w.host, 'interrupted', 'E_QUEUE', what));
  }

  private redisLost(after: number): void {
    if (!this.waiting.size) return;
    const why = `Redis at ${this.opts.redis.url} unreachable for ${Math.round(after / 1000)} s`;
    this.opts.log(`${why}: the run ends interrupted (${this.waiting.size} host(s) without a result)`);
    this.lostRun = true;
    this.session?.markInterrupted();
    for (const [jobId, w] of this.waiting) this.settle(jobId, this.lost(w.host, 'interrupted', 'E_INTERRUPTED', `${why} before a result came back`));
  }

  /** Hosts asked for in the same turn are queued in one round trip per 500. */
  private scheduleAdd(): void {
    if (this.addScheduled) return;
    this.addScheduled = true;
    setImmediate(() => {
      this.addScheduled = false;
      const batch = this.toAdd;
      this.toAdd = [];
      void this.addJobs(batch);
    });
  }

  /**
   * Each job goes to the queue of the live worker its host hashes to (placement.ts ownerOf), so
   * it finds its warm connection there; with no live worker, to the shared queue.
   */
  private async addJobs(batch: ToAdd[]): Promise<void> {
    const live = await this.live();
    const byLane = new Map<string, ToAdd[]>();
    for (const j of batch) {
      const w = this.waiting.get(j.opts.jobId);
      if (!w) continue;
      const owner = ownerOf(w.host.name, live);
      w.lane = owner ? workerQueueOf(owner) : QUEUE_NAME;
      w.queued = true;
      byLane.set(w.lane, [...(byLane.get(w.lane) ?? []), j]);
    }
    for (const [name, jobs] of byLane) await this.addToLane(name, jobs);
  }

  private async addToLane(name: string, jobs: ToAdd[]): Promise<void> {
    for (let i = 0; i < jobs.length; i += 500) {
      const chunk = jobs.slice(i, i + 500);
      try {
        const lane = await this.lane(name, this.workerOfLane(name));
        await lane.queue.addBulk(chunk.map((j) => ({ ...j, opts: { ...j.opts, removeOnComplete: true, removeOnFail: true } })));
      } catch (err) {
        const msg = `could not queue the host: ${err instanceof Error ? err.message : String(err)}`;
        for (const j of chunk) {
          const w = this.waiting.get(j.opts.jobId);
          if (w) this.settle(j.opts.jobId, this.lost(w.host, 'interrupted', 'E_INTERRUPTED', msg));
        }
      }
    }
  }

  /** The worker a lane is opened for (a live one: its hosts' owner), for the takeover's messages. */
  private workerOfLane(name: string): string | undefined {
    return this.liveNow.find((w) => workerQueueOf(w) === name);
  }

  /**
   * The workers alive now (signed heartbeats, placement.ts). Redis not answering, or an ACL
   * without the workers' keys, means the shared queue: today's placement, never a lost host.
   */
  private async live(): Promise<readonly string[]> {
    try {
      this.liveNow = await liveWorkers(this.client, this.opts.trustWorkers, this.opts.clock.now(), (worker, why) => {
        if (this.ignoredSaid.has(worker)) return;
        this.ignoredSaid.add(worker);
        this.opts.log(`worker ${worker} ignored for placement: ${why}`);
      });
    } catch (err) {
      if (!this.ignoredSaid.has('')) this.opts.log(`cannot read the workers' heartbeats (${err instanceof Error ? err.message : String(err)}); hosts go to the shared queue`);
      this.ignoredSaid.add('');
      this.liveNow = [];
    }
    return this.liveNow;
  }

  /**
   * Takeover: jobs waiting in the queue of a worker whose heartbeat is gone (it died, or stopped)
   * are taken out of that queue and placed again over the live workers (or the shared queue),
   * the same signed bytes under the same job id. A job the dead worker had taken is moved once
   * its lock has expired (`--lock-duration`); while a worker holds the lock, BullMQ's remove
   * refuses, so a job is in one queue at a time and a live worker's job is never moved.
   */
  private async takeOver(): Promise<void> {
    const onWorkers = [...this.waiting].filter(([, w]) => w.lane !== QUEUE_NAME);
    if (this.takingOver || !onWorkers.length) return;
    this.takingOver = true;
    try {
      const live = new Set((await this.live()).map(workerQueueOf));
      const moved = new Map<string, ToAdd[]>();
      for (const [jobId, w] of onWorkers) {
        if (live.has(w.lane) || !(await this.removeIfWaiting(jobId, w))) continue;
        const from = (await this.lanes.get(w.lane))?.worker ?? w.lane;
        if (++w.moves > MAX_MOVES) {
          this.settle(jobId, this.lost(w.host, 'failed', 'E_INTERNAL', `no worker finished this host: ${MAX_MOVES} workers died holding it (last ${from})`));
          continue;
        }
        moved.set(from, [...(moved.get(from) ?? []), w.job]);
      }
      for (const [from, jobs] of moved) {
        this.opts.log(`worker ${from}: no heartbeat; ${jobs.length} host(s) of its queue placed again`);
        await this.addJobs(jobs);
      }
    } catch (err) {
      this.opts.log(`takeover: ${err instanceof Error ? err.message : String(err)} (tried again in ${TAKEOVER_EVERY_MS / 1000} s)`);
    } finally {
      this.takingOver = false;
    }
  }

  /**
   * Removes a job still in its queue (waiting, or taken by a worker whose lock has expired);
   * false when it is finished or gone (its events settle it) or a worker holds its lock.
   */
  private async removeIfWaiting(jobId: string, w: Waiting): Promise<boolean> {
    const lane = await this.lanes.get(w.lane);
    if (!lane) return false;
    // BullMQ's remove answers 1 for a job that is not there at all: a job that finished is not queued again
    const state = await lane.queue.getJobState(jobId);
    if (state === 'completed' || state === 'failed' || state === 'unknown') return false;
    return (await lane.queue.remove(jobId)) === 1;
  }

  private async removeJob(jobId: string, w: Waiting): Promise<number> {
    const lane = await this.lanes.get(w.lane);
    return lane ? lane.queue.remove(jobId) : 0;
  }

  /**
   * First signal: hosts still waiting in the queue are taken back (recorded `interrupted`, as a
   * local run records hosts it did not start); hosts on a worker finish. Second signal: stop
   * waiting for them too.
   */
  private watchInterrupt(session: RunSession): void {
    if (this.watching) return;
    this.watching = true;
    const { stopStarting, abortInFlight } = session.interrupt;
    stopStarting.addEventListener('abort', () => void this.takeBackQueued('E_INTERRUPTED', 'not started: the run was interrupted'), { once: true });
    abortInFlight.addEventListener(
      'abort',
      () => {
        for (const [jobId, w] of this.waiting) this.settle(jobId, this.lost(w.host, 'interrupted', 'E_INTERRUPTED', 'aborted while a worker had it'));
      },
      { once: true },
    );
  }

  private async takeBackQueued(code: ErrorCode, message: string): Promise<void> {
    for (const [jobId, w] of [...this.waiting]) {
      if (!w.queued) continue;
      // 1: removed while waiting; 0: a worker holds its lock, it will finish
      const removed = await this.removeJob(jobId, w).catch(() => 0);
      if (removed === 1) this.settle(jobId, this.lost(w.host, 'interrupted', code, message));
    }
  }

  /** The result the worker left for a completed job, read and deleted in one transaction. */
  private async takeResult(jobId: string, w: Waiting): Promise<Settled> {
    const key = resultKeyOf(jobId);
    try {
      const [[, text] = []] = (await this.client.multi().get(key).del(key).exec()) ?? [];
      if (typeof text !== 'string') return this.lost(w.host, 'failed', 'E_INTERNAL', `the worker's result is not in Redis (${key} expired or removed)`);
      return this.verified(jobId, w, text);
    } catch (err) {
      return this.lost(w.host, 'interrupted', 'E_INTERRUPTED', `the worker's result could not be read from Redis: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** A run key lives while the coordinator does: written with a short TTL, refreshed every third of it, deleted by close(). */
  async writeRunKey(key: string, value: string): Promise<void> {
    const ttl = runKeyTtlMs(this.opts.lostAfterMs ?? 10_000);
    await this.client.set(key, value, 'PX', ttl);
    this.keepAliveTimer = setInterval(() => void this.client.pexpire(key, ttl).catch(() => undefined), ttl / 3);
    this.keepAliveTimer.unref();
  }

  /**
   * Nothing of the run stays in Redis: its entries in the queue's events stream (job ids,
   * reasons; BullMQ keeps up to 10,000), results no one read (a host taken back while a worker
   * had it), and `keys` (the run key). Jobs remove themselves (removeOnComplete/removeOnFail).
   */
  private async forgetRun(keys: string[], lanes: readonly Lane[]): Promise<void> {
    for (const lane of lanes) await this.forgetEvents(lane.queue.keys.events!);
    const toDelete = [...[...this.placed].map(resultKeyOf), ...keys];
    for (let i = 0; i < toDelete.length; i += 500) await this.client.del(...toDelete.slice(i, i + 500));
  }

  private async forgetEvents(stream: string): Promise<void> {
    for (let start = '-'; ; ) {
      const page = await this.client.xrange(stream, start, '+', 'COUNT', 1000);
      const ids = page.filter(([, f]) => this.placed.has(f[f.indexOf('jobId') + 1] ?? '')).map(([id]) => id);
      if (ids.length) await this.client.xdel(stream, ...ids);
      if (page.length < 1000) break;
      start = `(${page[page.length - 1]![0]}`;
    }
  }

  private settle(jobId: string, s: Settled): void {
    const w = this.waiting.get(jobId);
    if (!w) return; // already settled: a second delivery is dropped here, and by the store
    this.waiting.delete(jobId);
    w.resolve(s);
  }

  private lost(host: HostTarget, status: HostResult['status'], code: ErrorCode, message: string): Settled {
    const at = isoNow(this.opts.clock);
    const result = hostResult(host, { status, started: at, finished: at, error: { code, message } });
    return { kind: 'lost', result };
  }

  /** Bounded: with Redis gone, BullMQ's close waits for a connection that never comes. */
  within(p: Promise<unknown>, ms = 3000): Promise<unknown> {
    return Promise.race([p, new Promise((r) => setTimeout(r, ms).unref())]);
  }

  /** `keys`: the run's own keys besides jobs, results and events (its playbook). */
  async close(keys: string[] = []): Promise<void> {
    clearInterval(this.lostTimer);
    for (const t of this.noWorkerTimers) clearTimeout(t);
    clearInterval(this.keepAliveTimer);
    clearInterval(this.takeoverTimer);
    this.probe?.disconnect();
    const lanes = (await Promise.allSettled(this.lanes.values())).flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    if (this.lostRun) await this.within(Promise.allSettled(lanes.flatMap((l) => [l.events.disconnect(), l.queue.disconnect()])));
    else {
      await this.within(Promise.allSettled(lanes.flatMap((l) => [l.events.close(), l.queue.close()])));
      await this.within(this.forgetRun(keys, lanes).catch((err: Error) => this.opts.log(`could not remove the run's traces from Redis (they expire): ${err.message}`)));
    }
    this.client.disconnect();
  }
}

/** A distributed sweep: one job per host. */
export async function queuePlacement(prepared: PreparedSweep, opts: CoordinatorOptions): Promise<SweepPlacement> {
  const core = await JobPlacement.open(opts, prepared.options.forks);
  const nonce = newNonce();
  // a host is queued when one of the -f before it is settled: its job is signed then, so one wave is its wait
  const ttlMs = JOB_TTL_MS + prepared.options.samples * prepared.options.interval + 120_000;
  return {
    // -f bounds the hosts queued or running across all queues together: the workers' own queues
    // have no global concurrency between them (BullMQ's is per queue), so the limit is here
    inFlight: Math.max(1, prepared.options.forks),
    async sweepOne(host, session) {
      const data: SweepJobData = {
        v: 1,
        kind: 'sweep',
        run: prepared.run.id,
        host: host.name,
        samples: prepared.options.samples,
        intervalMs: prepared.options.interval,
        nonce,
        ...(prepared.policy ? { policy: prepared.policy } : {}),
      };
      const s = await core.place(jobIdOf(prepared.run.id, host.name), 'sweep', data, host, session, { ttlMs });
      if (s.kind === 'lost') return s.result;
      return fromWorker(s.value, host);
    },
    close: () => core.close(),
  };
}

/**
 * A verified worker result as the run records it: the coordinator's own name, address and
 * groups for the host it queued (the worker's say only its outcome), and the worker's name.
 */
function fromWorker(value: SignedResult, host: HostTarget): HostResult {
  const { groups: _g, ...rest } = value.result;
  return { ...rest, host: host.name, address: host.address, port: host.port, ...(host.groups ? { groups: host.groups } : {}), worker: value.worker };
}

/**
 * The extra vars a worker may see: secret-named ones (`-e ansible_become_password=...`, any
 * depth) are dropped with a warning, and any value equal to a connection secret is masked. A
 * worker that needs such a var is given it on its own command line (`fleetmend worker -e`).
 */
export function wireExtraVars(extraVars: Vars, specs: Iterable<ConnectionSpec>, log: (line: string) => void): Vars {
  const dropped = Object.keys(extraVars).filter(isSecretName);
  if (dropped.length) log(`warning: extra var(s) ${dropped.join(', ')} not sent to the workers (secret-named; give them to each worker: fleetmend worker -e)`);
  return wireValue(extraVars, maskerFor(specs));
}

/** A play job: the host's state in its wire form (src/secrets wireState: no secret name, value or taint). */
export function playJobData(runId: string, req: RemotePlayRequest, masker: SecretValues): PlayJobData {
  return {
    v: 1,
    kind: 'play',
    run: runId,
    host: req.host.name,
    playIndex: req.playIndex,
    batchIndex: req.batchIndex,
    batch: req.batch,
    state: wireState(req.state, masker),
  };
}

/**
 * A distributed playbook run: the coordinator keeps the plays, the batches and the rollout
 * rules; each host's play is one job, and the next batch is queued only after the last one is
 * decided. The playbook text goes to Redis once per run (its own key); workers parse it with
 * the same loader.
 */
export async function playbookPlacement(prepared: PreparedPlaybook, opts: CoordinatorOptions): Promise<PlaybookPlacement> {
  const runId = prepared.run.id;
  const runData: PlayRunData = {
    v: 1,
    file: prepared.playbook.file,
    source: prepared.source,
    extraVars: wireExtraVars(prepared.extraVars, prepared.specs.values(), opts.log),
    check: !!prepared.options.check,
    diff: !!prepared.options.diff,
    ...(prepared.options.watch !== undefined ? { watch: prepared.options.watch } : {}),
    ...(prepared.options.tags ? { tags: prepared.options.tags.split(',') } : {}),
    ...(prepared.options.skipTags ? { skipTags: prepared.options.skipTags.split(',') } : {}),
    nonce: newNonce(),
  };
  const masker = maskerFor(prepared.specs.values());
  // the exact text stored under the run key; every play job carries its digest, signed
  const runText = JSON.stringify(runData);
  const runDigest = sha256Hex(runText);
  const core = await JobPlacement.open(opts, prepared.options.forks);
  try {
    await core.writeRunKey(runKeyOf(runId), runText);
  } catch (err) {
    await core.close();
    throw new FleetmendError('E_QUEUE', `cannot write the run's playbook to Redis at ${opts.redis.url}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return {
    async playOnHost(req: RemotePlayRequest, session: RunSession): Promise<RemotePlayReply> {
      const data = playJobData(runId, req, masker);
      const s = await core.place(playJobIdOf(runId, req.playIndex, req.batchIndex, req.host.name), 'play', data, req.host, session, { ttlMs: JOB_TTL_MS, runDigest });
      if (s.kind === 'lost') return { result: s.result, state: req.state };
      const value = s.value;
      const result = fromWorker(value, req.host);
      // the task events the worker's run emitted, here, before the host's result (as locally)
      for (const i of value.emitted ?? []) {
        const task = result.tasks?.[i];
        if (task) session.emit({ type: 'task', host: result.host, result: task });
      }
      return { result, state: value.state ?? req.state };
    },
    close: () => core.close([runKeyOf(runId)]),
  };
}
