/**
 * The coordinator side of a distributed sweep: the run layer validates, locks, records and
 * reports exactly as for a local sweep; only where a host is swept changes (a SweepPlacement).
 * Every host becomes one job (id from run and host); `-f/--forks` is the queue's global
 * concurrency, so it bounds the hosts in flight across all workers together.
 */
import type { Queue, QueueEvents } from 'bullmq';
import { isoNow, type Clock } from '../executor/clock.js';
import type { HostResult } from '../executor/events.js';
import type { HostTarget } from '../executor/run-hosts.js';
import type { PreparedSweep, RunSession, SweepPlacement } from '../run/index.js';
import { newNonce } from '../sweep/index.js';
import { QUEUE_NAME, QUEUE_PREFIX, bullConnection, jobIdOf, maskRedisUrl, preflightRedis, type HostJobResult, type SweepJobData } from './queue.js';

interface Waiting {
  host: HostTarget;
  resolve: (r: HostResult) => void;
  /** The job is still waiting in the queue (no worker took it yet). */
  queued: boolean;
}

export interface CoordinatorOptions {
  redisUrl: string;
  clock: Clock;
  log: (line: string) => void;
  /** Redis unreachable this long mid-run: the run ends interrupted (default 10 s). */
  lostAfterMs?: number;
}

/** Called after validation, before the lock, the store and any job: Redis unreachable is exit 1. */
export async function queuePlacement(prepared: PreparedSweep, opts: CoordinatorOptions): Promise<SweepPlacement> {
  const server = await preflightRedis(opts.redisUrl);
  if (server.evictionPolicy && server.evictionPolicy !== 'noeviction') {
    opts.log(`warning: Redis at ${maskRedisUrl(opts.redisUrl)} has maxmemory-policy ${server.evictionPolicy}; use noeviction, or queued hosts may vanish`);
  }
  const { Queue, QueueEvents } = await import('bullmq');
  const connection = bullConnection(opts.redisUrl);
  const queue: Queue = new Queue(QUEUE_NAME, { connection, prefix: QUEUE_PREFIX });
  const events: QueueEvents = new QueueEvents(QUEUE_NAME, { connection, prefix: QUEUE_PREFIX });
  queue.on('error', (e) => opts.log(`queue: ${e.message}`));
  events.on('error', (e) => opts.log(`queue events: ${e.message}`));
  // Listen before the first job exists: a completion is never missed.
  await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
  await queue.setGlobalConcurrency(prepared.options.forks);
  const placement = new QueuePlacement(prepared, queue, events, opts);
  await placement.watchConnection();
  return placement;
}

class QueuePlacement implements SweepPlacement {
  readonly inFlight: number;
  private readonly waiting = new Map<string, Waiting>();
  private toAdd: { name: string; data: SweepJobData; opts: { jobId: string } }[] = [];
  private addScheduled = false;
  private readonly nonce = newNonce();
  private watching = false;
  private session: RunSession | undefined;
  private lostTimer: NodeJS.Timeout | undefined;
  private probe: { disconnect(): void } | undefined;
  private lostRun = false;

  constructor(
    private readonly prepared: PreparedSweep,
    private readonly queue: Queue,
    private readonly events: QueueEvents,
    private readonly opts: CoordinatorOptions,
  ) {
    // every host is queued at once; the queue's global concurrency is the real limit
    this.inFlight = Math.max(1, prepared.targets.length);
    events.on('active', ({ jobId }) => {
      const w = this.waiting.get(jobId);
      if (w) w.queued = false;
    });
    events.on('completed', ({ jobId, returnvalue }) => {
      const w = this.waiting.get(jobId);
      if (!w) return;
      const value = (typeof returnvalue === 'string' ? JSON.parse(returnvalue) : returnvalue) as HostJobResult;
      this.settle(jobId, { ...value.result, worker: value.worker });
    });
    events.on('failed', ({ jobId, failedReason }) => {
      const w = this.waiting.get(jobId);
      if (!w) return;
      // only a job that no worker could finish (it stalled on every worker that took it)
      this.settle(jobId, this.hostResult(w.host, 'failed', 'E_INTERNAL', `no worker finished this host: ${failedReason}`));
    });
  }

  /**
   * Redis gone mid-run (its connection closed and not back within lostAfterMs): every host not
   * yet answered is recorded interrupted and the run ends as an interrupted one (exit 130; the
   * retry file names those hosts), instead of waiting forever.
   */
  async watchConnection(): Promise<void> {
    // our own small connection: BullMQ's clients retry forever by design and say nothing
    const { Redis } = await import('ioredis');
    const probe = new Redis(this.opts.redisUrl, { maxRetriesPerRequest: 1, connectTimeout: 2000, enableOfflineQueue: false, retryStrategy: () => 500 });
    probe.on('error', () => {});
    this.probe = probe;
    const after = this.opts.lostAfterMs ?? 10_000;
    let lastOk = Date.now();
    this.lostTimer = setInterval(() => {
      probe.ping().then(
        () => (lastOk = Date.now()),
        () => {
          if (Date.now() - lastOk >= after && this.waiting.size) this.redisLost(after);
        },
      );
    }, Math.min(1000, after / 2));
    this.lostTimer.unref();
  }

  private redisLost(after: number): void {
    if (!this.waiting.size) return;
    const why = `Redis at ${maskRedisUrl(this.opts.redisUrl)} unreachable for ${Math.round(after / 1000)} s`;
    this.opts.log(`${why}: the run ends interrupted (${this.waiting.size} host(s) without a result)`);
    this.lostRun = true;
    this.session?.markInterrupted();
    for (const [jobId, w] of this.waiting) this.settle(jobId, this.hostResult(w.host, 'interrupted', 'E_INTERRUPTED', `${why} before a result came back`));
  }

  sweepOne(host: HostTarget, session: RunSession): Promise<HostResult> {
    this.session = session;
    this.watchInterrupt(session);
    const jobId = jobIdOf(this.prepared.run.id, host.name);
    const data: SweepJobData = {
      v: 1,
      kind: 'sweep',
      run: this.prepared.run.id,
      host: host.name,
      samples: this.prepared.options.samples,
      intervalMs: this.prepared.options.interval,
      nonce: this.nonce,
      ...(this.prepared.policy ? { policy: this.prepared.policy } : {}),
    };
    return new Promise<HostResult>((resolve) => {
      this.waiting.set(jobId, { host, resolve, queued: true });
      this.toAdd.push({ name: 'sweep', data, opts: { jobId } });
      this.scheduleAdd();
    });
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

  private async addJobs(batch: { name: string; data: SweepJobData; opts: { jobId: string } }[]): Promise<void> {
    for (let i = 0; i < batch.length; i += 500) {
      const chunk = batch.slice(i, i + 500);
      try {
        await this.queue.addBulk(chunk.map((j) => ({ ...j, opts: { ...j.opts, removeOnComplete: true, removeOnFail: true } })));
      } catch (err) {
        const msg = `could not queue the host: ${err instanceof Error ? err.message : String(err)}`;
        for (const j of chunk) {
          const w = this.waiting.get(j.opts.jobId);
          if (w) this.settle(j.opts.jobId, this.hostResult(w.host, 'interrupted', 'E_INTERRUPTED', msg));
        }
      }
    }
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
    stopStarting.addEventListener('abort', () => void this.takeBackQueued(), { once: true });
    abortInFlight.addEventListener(
      'abort',
      () => {
        for (const [jobId, w] of this.waiting) this.settle(jobId, this.hostResult(w.host, 'interrupted', 'E_INTERRUPTED', 'aborted while a worker had it'));
      },
      { once: true },
    );
  }

  private async takeBackQueued(): Promise<void> {
    for (const [jobId, w] of [...this.waiting]) {
      if (!w.queued) continue;
      // 1: removed while waiting; 0: a worker holds its lock, it will finish
      const removed = await this.queue.remove(jobId).catch(() => 0);
      if (removed === 1) this.settle(jobId, this.hostResult(w.host, 'interrupted', 'E_INTERRUPTED', 'not started: the run was interrupted'));
    }
  }

  private settle(jobId: string, r: HostResult): void {
    const w = this.waiting.get(jobId);
    if (!w) return; // already settled: a second delivery is dropped here, and by the store
    this.waiting.delete(jobId);
    w.resolve(r);
  }

  private hostResult(host: HostTarget, status: HostResult['status'], code: 'E_INTERNAL' | 'E_INTERRUPTED', message: string): HostResult {
    const at = isoNow(this.opts.clock);
    return {
      host: host.name,
      address: host.address,
      port: host.port,
      status,
      started_at: at,
      finished_at: at,
      error: { code, message },
      ...(host.groups ? { groups: host.groups } : {}),
    };
  }

  async close(): Promise<void> {
    clearInterval(this.lostTimer);
    this.probe?.disconnect();
    // with Redis gone, BullMQ's close waits for a connection that never comes: bounded
    const within = (p: Promise<unknown>) => Promise.race([p, new Promise((r) => setTimeout(r, 3000))]);
    if (this.lostRun) await within(Promise.allSettled([this.events.disconnect(), this.queue.disconnect()]));
    else await within(Promise.allSettled([this.events.close(), this.queue.close()]));
  }
}
