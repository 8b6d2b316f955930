/**
 * `fleetmend worker`: takes host jobs from the queue and sweeps each host with this machine's
 * own SSH setup (its inventory copy, key files, agent, known_hosts, ssh config, and secrets from
 * its environment). A job names the host; everything needed to reach it is resolved here.
 *
 * Delivery is at least once: a worker that dies holds a job's lock until it expires, then another
 * worker's stalled-job check puts the job back and someone else sweeps the host. A worker that
 * stalls past its lock (SIGSTOP) and wakes up cannot complete the job any more: BullMQ refuses a
 * completion without the lock, so the late result is rejected (logged here), and the coordinator's
 * store refuses a second result for a host in any case.
 */
import { hostname } from 'node:os';
import type { Job, Worker } from 'bullmq';
import { FleetmendError } from '../errors.js';
import type { Clock } from '../executor/clock.js';
import { isoNow } from '../executor/clock.js';
import { failedResult } from '../executor/run-hosts.js';
import { installInterrupt, type Interrupt } from '../executor/interrupt.js';
import { resolveTargets, type AskSecret, type ConnectionOptions } from '../run/index.js';
import { redact } from '../store/redact.js';
import { factsProbe, sweepHost } from '../sweep/index.js';
import { TransportFactory } from '../transport/index.js';
import { QUEUE_NAME, QUEUE_PREFIX, bullConnection, maskRedisUrl, preflightRedis, type HostJobData, type HostJobResult } from './queue.js';

export interface WorkerOptions extends ConnectionOptions {
  redisUrl: string;
  concurrency: number;
  name?: string;
  /** ms a job's lock lasts without renewal; a dead worker's hosts are redelivered after it. */
  lockDurationMs: number;
  verbose?: boolean;
}

export interface WorkerIO {
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  clock: Clock;
  interrupt?: () => Interrupt;
  ask?: AskSecret;
}

/** Runs until SIGINT/SIGTERM: the first finishes the hosts it holds, then exits 0; a second abandons them (redelivered). */
export async function runWorker(opts: WorkerOptions, io: WorkerIO): Promise<number> {
  const name = opts.name ?? `${hostname()}-${process.pid}`;
  const log = (line: string) => io.stderr.write(`worker ${name}: ${line}\n`);
  // Everything is checked before the first job is taken: inventory, key files, Redis.
  const { specs, targets } = await resolveTargets(opts, io.env, io.ask);
  const byName = new Map(targets.map((t) => [t.name, t]));
  const server = await preflightRedis(opts.redisUrl);
  const interrupt = io.interrupt ? io.interrupt() : installInterrupt();
  const factory = new TransportFactory({ abortSignal: interrupt.abortInFlight });
  let done = 0;

  const sweepJob = async (job: Job<HostJobData>): Promise<HostJobResult> => {
    const data = job.data;
    const started = isoNow(io.clock);
    const target = byName.get(data.host);
    const spec = specs.get(data.host);
    if (opts.verbose) log(`take ${data.host} (run ${data.run}, attempt ${job.attemptsStarted})`);
    let result;
    if (!target || !spec) {
      const err = new FleetmendError('E_INVENTORY', `worker ${name} has no host '${data.host}' in its inventory ${opts.inventory}`, { host: data.host });
      result = failedResult({ name: data.host, address: '', port: 0 }, err, started, io.clock);
    } else {
      try {
        result = await sweepHost(target, factory.create(spec), {
          samples: data.samples,
          intervalMs: data.intervalMs,
          clock: io.clock,
          signal: interrupt.abortInFlight,
          probe: factsProbe(data.nonce),
          ...(data.policy ? { policy: data.policy } : {}),
        });
      } catch (err) {
        result = failedResult(target, err, started, io.clock);
      }
    }
    done++;
    if (opts.verbose) log(`done ${data.host} ${result.status}`);
    // the same redaction as the store: nothing a module echoed back goes into Redis
    return { result: redact(result), worker: name };
  };

  const { Worker } = await import('bullmq');
  const worker: Worker<HostJobData, HostJobResult> = new Worker(QUEUE_NAME, sweepJob, {
    connection: bullConnection(opts.redisUrl),
    prefix: QUEUE_PREFIX,
    concurrency: opts.concurrency,
    name,
    lockDuration: opts.lockDurationMs,
    stalledInterval: Math.max(500, Math.floor(opts.lockDurationMs / 2)),
    // a host whose workers keep dying is failed after 3 redeliveries, not retried forever
    maxStalledCount: 3,
  });
  const lockLost = new Set<string>();
  worker.on('error', (err) => {
    const renew = /could not renew lock for job (\S+)/.exec(err.message);
    if (renew) {
      // stalled past the lock (SIGSTOP, a frozen VM): the job went back to the queue
      if (!lockLost.has(renew[1]!)) log(`lock lost for job ${renew[1]} (stalled past --lock-duration); another worker will sweep the host`);
      lockLost.add(renew[1]!);
    } else if (/Missing (key|lock) for job .*moveTo(Finished|Completed|Failed)/.test(err.message)) {
      // BullMQ refuses a completion without the lock: the late result goes nowhere
      log(`late result rejected: ${err.message}`);
    } else log(`error: ${err.message}`);
  });
  await worker.waitUntilReady();
  log(`ready: ${maskRedisUrl(opts.redisUrl)} (Redis ${server.version}), concurrency ${opts.concurrency}, ${targets.length} host(s) in ${opts.inventory}`);

  await new Promise<void>((resolve) => {
    if (interrupt.stopStarting.aborted) return resolve();
    interrupt.stopStarting.addEventListener('abort', () => resolve(), { once: true });
  });
  log('stopping: finishing the hosts in flight (again to hand them back)');
  const force = new Promise<void>((resolve) => interrupt.abortInFlight.addEventListener('abort', () => resolve(), { once: true }));
  await Promise.race([worker.close(), force.then(() => worker.close(true))]);
  interrupt.dispose();
  log(`stopped after ${done} host(s)`);
  return 0;
}
