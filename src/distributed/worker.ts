/**
 * `fleetmend worker`: takes host jobs from the queue and sweeps each host, or runs one play of
 * a playbook on it, with this machine's own SSH setup (its inventory copy, key files, agent, known_hosts, ssh config, and secrets from
 * its environment). A job names the host; everything needed to reach it is resolved here. A job
 * runs only if a coordinator key this worker trusts signed it (`--trust`); every result is signed
 * with its own key (`--signing-key`), and a play never gets more become than this worker allows.
 *
 * A worker consumes its own queue (where the coordinator places the hosts whose warm connection
 * it holds, placement.ts) and the shared one, and announces itself with a signed heartbeat.
 * Delivery is at least once: a worker that dies holds a job's lock until it expires; then the
 * coordinator takes the jobs of its queue over (no heartbeat), or, in the shared queue, another
 * worker's stalled-job check puts the job back, and someone else sweeps the host. A worker that
 * stalls past its lock (SIGSTOP) and wakes up cannot complete the job any more: its result is
 * written only under the lock (SET_IF_LOCKED) and BullMQ refuses a completion without it, so the
 * late result is rejected (logged here), and the coordinator's store refuses a second result for
 * a host in any case.
 */
import { hostname } from 'node:os';
import type { Job, Worker } from 'bullmq';
import { FleetmendError } from '../errors.js';
import type { Clock } from '../executor/clock.js';
import { isoNow } from '../executor/clock.js';
import type { HostResult, TaskResult } from '../results/index.js';
import { failedResult, type HostTarget } from '../results/index.js';
import { installInterrupt, type Interrupt } from '../executor/interrupt.js';
import type { Inventory } from '../inventory/index.js';
import { resolveTargets, type AskSecret, type ConnectionOptions } from '../run/index.js';
import { factsProbe, sweepHost } from '../sweep/index.js';
import { TransportFactory, type ConnectionPool } from '../transport/index.js';
import type { ConnectionSpec } from '../transport/types.js';
import { maskerFor, redact, wireState, wireValue } from '../secrets/index.js';
import type { Playbook } from '../playbook/types.js';
import type { Vars } from '../playbook/vars.js';
import { terminalLine } from '../util/terminal.js';
import {
  QUEUE_NAME,
  QUEUE_PREFIX,
  bullConnection,
  preflightRedis,
  RESULT_TTL_MS,
  resultKeyOf,
  runKeyOf,
  type HostJobData,
  type HostJobResult,
  type PlayJobData,
  type PlayJobResult,
  type PlayRunData,
  type SignedResult,
  type SweepJobData,
} from './queue.js';
import { openJob, sha256Hex, SignatureRefused, signJson, type SignedEnvelope, type SigningKey, type TrustStore } from './signing.js';
import { openRedis, type RedisTarget } from './connection.js';
import { startHeartbeat, workerQueueOf, type Announcer } from './placement.js';
import type { Redis } from 'ioredis';
import pLimit from 'p-limit';

export interface WorkerOptions extends ConnectionOptions {
  /** The Redis, resolved (credentials, TLS): every connection of the worker is made from it. */
  redis: RedisTarget;
  concurrency: number;
  name?: string;
  /** ms a job's lock lasts without renewal; a dead worker's hosts are redelivered after it. */
  lockDurationMs: number;
  verbose?: boolean;
  /** `-e`: this worker's own extra vars (the secret ones a coordinator never sends), over the run's. */
  extraVars?: string[];
  /** The coordinator keys whose jobs this worker runs (`--trust`). */
  trust: TrustStore;
  /** This worker's own key: every result is signed with it (`--signing-key`). */
  signer: SigningKey;
  /**
   * Warm connections kept across jobs (issue 25); closed when the worker stops. Without it every
   * job logs in (cold).
   */
  pool?: ConnectionPool;
}

/**
 * A result is written only while this worker still holds the job's lock (BullMQ's lock key
 * holds the token it gave the job), in one script: a worker that stalled past its lock (SIGSTOP)
 * and wakes up can neither overwrite the result of the worker the job went to next, which the
 * coordinator may be reading, nor leave host data in Redis for a run that already ended.
 */
const SET_IF_LOCKED = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3]) end return nil`;

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
  // job data (host names, run ids) and errors come from Redis: shown, never obeyed by the terminal
  const log = (line: string) => io.stderr.write(`${terminalLine(`worker ${name}: ${line}`)}\n`);
  // Everything is checked before the first job is taken: inventory, key files, Redis.
  const { inventory, specs, targets } = await resolveTargets(opts, io.env, io.ask);
  const byName = new Map(targets.map((t) => [t.name, t]));
  const server = await preflightRedis(opts.redis);
  const interrupt = io.interrupt ? io.interrupt() : installInterrupt();
  // the same factory as a local run's (RunSession), with the worker's pool and its become rule:
  // a job's `become: true` never goes beyond what this worker's own settings allow
  const factory = new TransportFactory({ abortSignal: interrupt.abortInFlight, clock: io.clock, ownBecomeOnly: true, ...(opts.pool ? { pool: opts.pool } : {}) });
  let done = 0;
  const plays = await playRunner({ redis: opts.redis, inventory, specs, clock: io.clock, factory, extraVars: opts.extraVars ?? [] });

  const sweepJob = async (data: SweepJobData, target: HostTarget, spec: ConnectionSpec): Promise<HostResult> => {
    const started = isoNow(io.clock);
    try {
      return await sweepHost(target, factory.create(spec), {
        samples: data.samples,
        intervalMs: data.intervalMs,
        clock: io.clock,
        signal: interrupt.abortInFlight,
        probe: factsProbe(data.nonce),
        ...(data.policy ? { policy: data.policy } : {}),
      });
    } catch (err) {
      return failedResult(target, err, started, io.clock);
    }
  };

  /**
   * Nothing in a job is read before its signature is checked: a job that is unsigned, signed by
   * a key this worker does not trust, altered, expired or replayed under another id fails (the
   * coordinator reports the host E_SIGNATURE with this reason), and nothing runs on the host.
   */
  const signedJob = async (job: Job<unknown>): Promise<SignedEnvelope> => {
    try {
      const { job: signed } = openJob(job.data, job.id ?? '', opts.trust, io.clock.now());
      // a play job's run data is checked against the signed digest before it is parsed (playRunner)
      const out = await hostJob(signed.job, job.attemptsStarted, signed.runDigest);
      const result: SignedResult = { purpose: 'fleetmend-result', jobId: signed.jobId, run: signed.run, host: signed.job.host, ...out };
      return signJson(result, opts.signer);
    } catch (err) {
      if (!(err instanceof SignatureRefused)) throw err;
      log(`refused: ${terminalLine(err.message)}`);
      // the coordinator reads the code off the failure (coordinator.ts REFUSAL)
      throw new Error(`[E_SIGNATURE] ${err.message}`);
    }
  };

  const hostJob = async (data: HostJobData, attempt: number, runDigest: string | undefined): Promise<HostJobResult | PlayJobResult> => {
    const target = byName.get(data.host);
    const spec = specs.get(data.host);
    const what = data.kind === 'play' ? `, play ${data.playIndex + 1} batch ${data.batchIndex + 1}` : '';
    if (opts.verbose) log(`take ${data.host} (run ${data.run}${what}, attempt ${attempt})`);
    let out: HostJobResult | PlayJobResult;
    if (!target || !spec) {
      const err = new FleetmendError('E_INVENTORY', `worker ${name} has no host '${data.host}' in its inventory ${opts.inventory}`, { host: data.host });
      const result = failedResult({ name: data.host, address: '', port: 0 }, err, isoNow(io.clock), io.clock);
      out = data.kind === 'play' ? { result, state: data.state, emitted: [], worker: name } : { result, worker: name };
    } else if (data.kind === 'play') {
      out = { ...(await plays.run(data, runDigest!, target, spec)), worker: name };
    } else {
      // the same redaction as the store: nothing a module echoed back goes into Redis
      out = { result: redact(await sweepJob(data, target, spec)), worker: name };
    }
    done++;
    if (opts.verbose) log(`done ${data.host} ${out.result.status}${what}${opts.pool ? `; ${poolLine(opts.pool)}` : ''}`);
    return out;
  };

  const { Worker } = await import('bullmq');
  // the signed result goes to its own short-lived key, not into the completed event (resultKeyOf)
  const results = await openRedis(opts.redis, 'worker');
  const processJob = async (worker: Worker<unknown, null>, job: Job<unknown>, token?: string): Promise<null> => {
    const out = await signedJob(job);
    const lockKey = `${worker.toKey(job.id!)}:lock`;
    const written = await results.eval(SET_IF_LOCKED, 2, lockKey, resultKeyOf(job.id!), token ?? '', JSON.stringify(out), RESULT_TTL_MS);
    // BullMQ refuses the completion too (no lock): logged by the error handler below
    if (written === null) log(`late result rejected for job ${job.id}: the job's lock is lost, its result is not written`);
    return null;
  };
  // --concurrency is this worker's bound across both of its queues (placement.ts: its own, where
  // the coordinator places the hosts it holds warm, and the shared one, used when none is live)
  const slots = pLimit(opts.concurrency);
  const consume = (queue: string): Worker<unknown, null> => {
    const w: Worker<unknown, null> = new Worker(queue, (job, token) => slots(() => processJob(w, job, token)), {
      connection: bullConnection(opts.redis),
      prefix: QUEUE_PREFIX,
      concurrency: opts.concurrency,
      name,
      lockDuration: opts.lockDurationMs,
      stalledInterval: Math.max(500, Math.floor(opts.lockDurationMs / 2)),
      // a host whose workers keep dying is failed after 3 redeliveries, not retried forever
      maxStalledCount: 3,
    });
    w.on('error', onWorkerError);
    return w;
  };
  const lockLost = new Set<string>();
  const onWorkerError = (err: Error) => {
    const renew = /could not renew lock for job (\S+)/.exec(err.message);
    if (renew) {
      // stalled past the lock (SIGSTOP, a frozen VM): the job went back to the queue
      if (!lockLost.has(renew[1]!)) log(`lock lost for job ${renew[1]} (stalled past --lock-duration); another worker will sweep the host`);
      lockLost.add(renew[1]!);
    } else if (/Missing (key|lock) for job .*moveTo(Finished|Completed|Failed)/.test(err.message)) {
      // BullMQ refuses a completion without the lock: the late result goes nowhere
      log(`late result rejected: ${err.message}`);
    } else log(`error: ${err.message}`);
  };
  const workers = [consume(QUEUE_NAME)];
  await workers[0]!.waitUntilReady();
  const own = await ownQueue(name, opts, io.clock, results, consume, log);
  if (own) workers.push(own.worker);
  log(`ready: ${opts.redis.url} (Redis ${server.version}), queues ${[...(own ? [own.queue] : []), QUEUE_NAME].map((q) => `${QUEUE_PREFIX}:${q}`).join(' + ')}, concurrency ${opts.concurrency}, ${targets.length} host(s) in ${opts.inventory}, key ${opts.signer.id}, trusting ${[...opts.trust.values()].map((k) => `${k.id} (${k.name})`).join(', ')}`);

  await new Promise<void>((resolve) => {
    if (interrupt.stopStarting.aborted) return resolve();
    interrupt.stopStarting.addEventListener('abort', () => resolve(), { once: true });
  });
  log('stopping: finishing the hosts in flight (again to hand them back)');
  // no heartbeat: the coordinator places the hosts still waiting in our queue on the other workers now
  await own?.heartbeat.stop();
  const force = new Promise<void>((resolve) => interrupt.abortInFlight.addEventListener('abort', () => resolve(), { once: true }));
  const closeAll = (hard?: boolean) => Promise.all(workers.map((w) => w.close(hard)));
  await Promise.race([closeAll(), force.then(() => closeAll(true))]);
  interrupt.dispose();
  plays.close();
  results.disconnect();
  await opts.pool?.close();
  log(`stopped after ${done} host(s)${opts.pool ? `; ${poolLine(opts.pool)}` : ''}`);
  return 0;
}

/**
 * This worker's own queue, consumed, and its heartbeat, announced once the queue is (a host
 * placed here is taken at once). An ACL user that may not write the workers' keys or this
 * queue's (README: Redis connection) leaves the worker on the shared queue, as before placement.
 */
async function ownQueue(
  name: string,
  opts: WorkerOptions,
  clock: Clock,
  client: Redis,
  consume: (queue: string) => Worker<unknown, null>,
  log: (line: string) => void,
): Promise<{ queue: string; worker: Worker<unknown, null>; heartbeat: Announcer } | undefined> {
  const queue = workerQueueOf(name);
  let worker: Worker<unknown, null> | undefined;
  try {
    // a write to a key of the queue that creates nothing: refused (NOPERM) if the ACL keeps us out
    await client.pexpire(`${QUEUE_PREFIX}:${queue}:probe`, 1);
    worker = consume(queue);
    await worker.waitUntilReady();
    return { queue, worker, heartbeat: await startHeartbeat(client, name, opts.lockDurationMs, opts.signer, clock, (e) => log(`heartbeat: ${e.message}`)) };
  } catch (err) {
    await worker?.close(true);
    log(`warning: no placement for this worker (${err instanceof Error ? err.message : String(err)}): it takes hosts from the shared queue only, cold wherever another worker swept them last`);
    return undefined;
  }
}

interface PlayRunnerOptions {
  redis: RedisTarget;
  inventory: Inventory;
  specs: Map<string, ConnectionSpec>;
  clock: Clock;
  factory: TransportFactory;
  extraVars: string[];
}

interface LoadedRun {
  data: PlayRunData;
  playbook: Playbook;
}

/** Runs kept parsed at once (a worker serves one or a few runs at a time). */
const RUNS_CACHED = 8;

/**
 * The play jobs: the run's playbook is read from its key once per run and parsed with the same
 * loader as the coordinator's; one play runs on the host from the state the job carries, and
 * the result and the new state go back redacted (store rules) and masked of every secret this
 * worker knows (its connection secrets, its own `-e` secrets).
 */
async function playRunner(o: PlayRunnerOptions) {
  // the engine is loaded only by workers (sweeps need none of it); resolved once here
  const { parseExtraVars, parsePlaybook, playOneHost } = await import('../playbook/index.js');
  const ownVars: Vars = parseExtraVars(o.extraVars);
  // secret-named vars (ownVars, and inventory vars such as ansible_become_password) a task could template into its output
  const masker = maskerFor(o.specs.values(), [ownVars, ...[...o.inventory.hosts.values()].map((h) => h.vars)]);
  const client = await openRedis(o.redis, 'worker');
  // by run and digest: a run key rewritten after a good read cannot poison the cache, nor the reverse
  const runs = new Map<string, Promise<LoadedRun>>();

  /** The run's playbook data, only if its text is exactly what the signed job's digest names. */
  const load = (runId: string, digest: string): Promise<LoadedRun> => {
    const cacheKey = `${runId}/${digest}`;
    let p = runs.get(cacheKey);
    if (!p) {
      p = (async () => {
        const text = await client.get(runKeyOf(runId));
        if (!text) throw new FleetmendError('E_QUEUE', `run ${runId}: its playbook is not in Redis (${runKeyOf(runId)}); did the coordinator end?`);
        if (sha256Hex(text) !== digest) throw new SignatureRefused(`run ${runId}: the playbook data under ${runKeyOf(runId)} is not what the coordinator signed (altered)`);
        const data = JSON.parse(text) as PlayRunData;
        return { data, playbook: parsePlaybook(data.file, data.source) };
      })();
      runs.set(cacheKey, p);
      p.catch(() => runs.delete(cacheKey));
      if (runs.size > RUNS_CACHED) runs.delete(runs.keys().next().value!);
    }
    return p;
  };

  return {
    async run(job: PlayJobData, runDigest: string, target: HostTarget, spec: ConnectionSpec): Promise<Omit<PlayJobResult, 'worker'>> {
      const started = isoNow(o.clock);
      try {
        const { data, playbook } = await load(job.run, runDigest);
        const ran = new Set<TaskResult>();
        const reply = await playOneHost(playbook, job.playIndex, { ...target, vars: o.inventory.hosts.get(target.name)?.vars ?? {} }, job.batch, job.state, {
          connect: () => o.factory.connect(spec),
          extraVars: { ...data.extraVars, ...ownVars },
          check: data.check,
          diff: data.diff,
          ...(typeof data.watch === 'number' ? { watch: data.watch } : {}),
          ...(data.tags ? { tags: data.tags } : {}),
          ...(data.skipTags ? { skipTags: data.skipTags } : {}),
          clock: o.clock,
          nonce: data.nonce,
          onEvent: (e) => {
            if (e.type === 'task') ran.add(e.result);
          },
        });
        const emitted = (reply.result.tasks ?? []).flatMap((t, i) => (ran.has(t) ? [i] : []));
        return { result: wireValue(reply.result, masker), state: wireState(reply.state, masker), emitted };
      } catch (err) {
        if (err instanceof SignatureRefused) throw err; // the job fails (E_SIGNATURE), as an unsigned one does
        return { result: wireValue(failedResult(target, err, started, o.clock), masker), state: job.state, emitted: [] };
      }
    },
    close(): void {
      client.disconnect();
    },
  };
}

/** Kept where it was first defined: the rule lives with the transport factory now (ownBecomeOnly). */
export { withinOwnBecome } from '../transport/index.js';

function poolLine(pool: ConnectionPool): string {
  const s = pool.stats;
  return `warm ${pool.size} host(s), ${s.logins} login(s), ${s.reused} reuse(s), ${s.deadRetries} dead retried`;
}
