/**
 * Where a host's job goes (issue 25 §5): to the worker that holds its warm connection. Each
 * worker announces itself with a signed heartbeat (a key with a TTL) and consumes its own queue
 * besides the shared one; the coordinator places each host on one live worker by rendezvous
 * (highest-random-weight) hashing of the host's name over the live workers' names, so a host
 * lands on the same worker sweep after sweep, and a worker that joins or leaves moves only the
 * hosts it wins or held. With no live worker, jobs go to the shared queue (`fleetmend:hosts`).
 *
 * A heartbeat is a SignedEnvelope by the worker's own key: a Redis writer without a worker key
 * the coordinator trusts cannot announce a worker (one that no process serves would strand the
 * hosts hashed to it); replaying a real worker's heartbeat works only until its signed expiry,
 * so the worst it does is delay or misplace work, which deleting jobs does too. Liveness itself
 * is the key's TTL on the Redis server (one clock); the signed expiry only bounds a replay, with
 * room for clock skew between machines.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Redis } from 'ioredis';
import type { Clock } from '../executor/clock.js';
import { QUEUE_NAME, QUEUE_PREFIX } from './queue.js';
import { openSigned, signJson, type SigningKey, type TrustStore } from './signing.js';

/** A sorted set of announced worker names (score: the heartbeat's expiry), so no SCAN is needed. */
export const WORKERS_KEY = `${QUEUE_PREFIX}:workers`;

/** How far a signed heartbeat may be replayed past its TTL: clock skew between machines. */
export const HEARTBEAT_SKEW_MS = 30_000;

/** A worker name announced and not refreshed for a day leaves the index (a worker that is gone for good). */
const STALE_INDEX_MS = 24 * 3_600_000;

export function heartbeatKeyOf(worker: string): string {
  return `${WORKERS_KEY}:${worker}`;
}

/**
 * A worker's own queue. BullMQ's keys are `prefix:queue:...`, so a name with a `:` or anything
 * unusual becomes a digest (a name of letters, digits, `.`, `_`, `-` stays readable); the two
 * forms cannot collide (`.` vs `#`).
 */
export function workerQueueOf(worker: string): string {
  if (/^[A-Za-z0-9._-]{1,100}$/.test(worker)) return `${QUEUE_NAME}.${worker}`;
  return `${QUEUE_NAME}#${createHash('sha256').update(worker, 'utf8').digest('hex').slice(0, 32)}`;
}

/** A host's weight on a worker: the first 64 bits of SHA-256(worker NUL host). */
function weight(worker: string, host: string): bigint {
  return createHash('sha256').update(`${worker}\0${host}`, 'utf8').digest().readBigUInt64BE(0);
}

/**
 * The worker a host goes to: the one with the highest weight for it (ties by name). Removing a
 * worker moves only the hosts it won; adding one takes only the hosts it now wins.
 */
export function ownerOf(host: string, workers: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestWeight = -1n;
  for (const w of workers) {
    const wt = weight(w, host);
    if (wt > bestWeight || (wt === bestWeight && best !== undefined && w < best)) {
      best = w;
      bestWeight = wt;
    }
  }
  return best;
}

export interface Heartbeat {
  purpose: 'fleetmend-worker';
  worker: string;
  queue: string;
  /** ms since the epoch (the worker's clock): a copy read later is not believed. */
  expiresAt: number;
}

const heartbeatSchema = z.object({
  purpose: z.literal('fleetmend-worker'),
  worker: z.string().min(1).max(200),
  queue: z.string(),
  expiresAt: z.number(),
}) as z.ZodType<Heartbeat>;

/** One announcement: the key (TTL `ttlMs`) and the index entry, in one transaction. */
async function announce(client: Redis, worker: string, ttlMs: number, signer: SigningKey, clock: Clock): Promise<void> {
  const expiresAt = clock.now() + ttlMs + HEARTBEAT_SKEW_MS;
  const beat: Heartbeat = { purpose: 'fleetmend-worker', worker, queue: workerQueueOf(worker), expiresAt };
  await client.multi().set(heartbeatKeyOf(worker), JSON.stringify(signJson(beat, signer)), 'PX', ttlMs).zadd(WORKERS_KEY, expiresAt, worker).exec();
}

export interface Announcer {
  /** Says this worker is gone (its key deleted): the coordinator moves its waiting hosts at once. */
  stop(): Promise<void>;
}

/**
 * Announces `worker` now and every third of `ttlMs` until stopped. A refresh that fails (Redis
 * blip) is retried at the next tick; past the TTL the coordinator sends this worker's hosts
 * elsewhere, which costs them a login and nothing else.
 */
export async function startHeartbeat(client: Redis, worker: string, ttlMs: number, signer: SigningKey, clock: Clock, onError: (e: Error) => void): Promise<Announcer> {
  await announce(client, worker, ttlMs, signer, clock);
  const timer = setInterval(() => void announce(client, worker, ttlMs, signer, clock).catch(onError), Math.max(100, Math.floor(ttlMs / 3)));
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await client.del(heartbeatKeyOf(worker)).catch(onError);
    },
  };
}

/**
 * The workers alive now, sorted: announced in the index, their key still there (its TTL is
 * liveness), signed by a key in `trust` for that very name, and not past the signed expiry.
 * Anything else is ignored, and said once through `ignored`.
 */
export async function liveWorkers(client: Redis, trust: TrustStore, now: number, ignored: (worker: string, why: string) => void = () => {}): Promise<string[]> {
  await client.zremrangebyscore(WORKERS_KEY, '-inf', now - STALE_INDEX_MS);
  const names = await client.zrange(WORKERS_KEY, 0, -1);
  if (!names.length) return [];
  const values = await client.mget(...names.map(heartbeatKeyOf));
  const live: string[] = [];
  names.forEach((name, i) => {
    const text = values[i];
    if (typeof text !== 'string') return; // expired: not alive
    const why = heartbeatProblem(name, text, trust, now);
    if (why) ignored(name, why);
    else live.push(name);
  });
  return live.sort();
}

/** Why a heartbeat is not believed, or undefined when it is. */
export function heartbeatProblem(name: string, text: string, trust: TrustStore, now: number): string | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return 'its heartbeat is not JSON';
  }
  try {
    const { value } = openSigned(raw, trust, heartbeatSchema, `heartbeat of worker ${name.slice(0, 200)}`);
    if (value.worker !== name) return `its heartbeat was signed for worker ${value.worker.slice(0, 200)}`;
    if (value.queue !== workerQueueOf(name)) return `its heartbeat names queue ${value.queue.slice(0, 200)}, not ${workerQueueOf(name)}`;
    if (now > value.expiresAt) return `its heartbeat expired at ${new Date(value.expiresAt).toISOString()} (replayed?)`;
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}
