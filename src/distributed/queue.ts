/**
 * The queue between a coordinator (`sweep --redis`) and its workers (`fleetmend worker`): one
 * BullMQ job per host, its id made of run and host, so a host is queued once per run. A job
 * carries the host's name and the run's sweep settings only: connection details and every
 * secret (passwords, become passwords, passphrases, keys) come from the worker's own inventory,
 * environment and key files, so nothing secret is ever written to Redis. Nothing read from Redis
 * is trusted either: a job's data is the coordinator's SignedEnvelope of a SignedJob, a worker's
 * result (under resultKeyOf, not BullMQ's return value) its own SignedEnvelope of a SignedResult
 * (signing.ts).
 */
import { z } from 'zod';
import { FleetmendError } from '../errors.js';
import type { HostResult } from '../results/index.js';
import type { HostJobData, HostState } from '../host/jobs.js';
import type { RedisOptions as BullRedisOptions } from 'bullmq';
import { explainRedisError, openRedis, redisClientOptions, type RedisTarget } from './connection.js';

/** BullMQ's key prefix and queue name: keys are `fleetmend:hosts:*`. */
export const QUEUE_PREFIX = 'fleetmend';
export const QUEUE_NAME = 'hosts';

// the job types live with the rest of the job protocol (src/host/jobs.ts)
export type { SweepJobData, PlayJobData, PlayRunData, HostJobData, HostJobResult, PlayJobResult } from '../host/jobs.js';

/**
 * What the coordinator signs for one job (the BullMQ job's data is the SignedEnvelope of it):
 * the job itself, the job id it is queued under and its run (so it cannot be replayed under
 * another id or into another run), an expiry, and for a play job the SHA-256 of the run key's
 * text (so a rewritten playbook, check flag, tag or extra var is refused).
 */
export interface SignedJob {
  purpose: 'fleetmend-job';
  jobId: string;
  run: string;
  /** ms since the epoch; a job taken later is refused. */
  expiresAt: number;
  job: HostJobData;
  runDigest?: string;
}

/** What a worker signs for the job it did (its SignedEnvelope is what the job's result key holds). */
export interface SignedResult {
  purpose: 'fleetmend-result';
  jobId: string;
  run: string;
  host: string;
  worker: string;
  result: HostResult;
  state?: HostState;
  emitted?: number[];
}

const HOST_STATUSES = ['ok', 'changed', 'failed', 'unreachable', 'skipped', 'interrupted'] as const;

/** The coordinator checks the job's own fields; the rest is its own signed data. */
export const signedJobSchema = z.object({
  purpose: z.literal('fleetmend-job'),
  jobId: z.string(),
  run: z.string(),
  expiresAt: z.number(),
  job: z.looseObject({ kind: z.enum(['sweep', 'play']), run: z.string(), host: z.string() }),
  runDigest: z.string().regex(/^[0-9a-f]{64}$/).optional(),
}) as unknown as z.ZodType<SignedJob>;

/** A worker's result, validated before it is believed: status from the HostResult union, codes shaped as codes. */
export const signedResultSchema = z.object({
  purpose: z.literal('fleetmend-result'),
  jobId: z.string(),
  run: z.string(),
  host: z.string(),
  worker: z.string().max(200),
  result: z.looseObject({
    host: z.string(),
    address: z.string(),
    port: z.number(),
    status: z.enum(HOST_STATUSES),
    started_at: z.string(),
    finished_at: z.string(),
    error: z.looseObject({ code: z.string().regex(/^E_[A-Z0-9_]+$/), message: z.string() }).optional(),
    tasks: z.array(z.looseObject({ status: z.enum(['ok', 'changed', 'failed', 'skipped', 'unreachable']) })).optional(),
  }),
  state: z.looseObject({}).optional(),
  emitted: z.array(z.number().int().nonnegative()).optional(),
}) as unknown as z.ZodType<SignedResult>;

/** The run-level key of a playbook run (a plain string key beside BullMQ's). */
export function runKeyOf(runId: string): string {
  return `${QUEUE_PREFIX}:runs:${runId}:playbook`;
}

/**
 * Where a worker leaves one job's result for the coordinator. Not in the job's return value:
 * BullMQ copies that into the `completed` event of the queue's events stream, which it keeps
 * (up to 10,000 entries) after the run; a result key is read and deleted by the coordinator at
 * once, and expires on its own if no coordinator is there to read it.
 */
export function resultKeyOf(jobId: string): string {
  // the job id alone (it holds the run's): the worker need not read the job's data to name it
  return `${QUEUE_PREFIX}:results:${jobId}`;
}

/** A result key outlives a coordinator that died before reading it by this much, no more. */
export const RESULT_TTL_MS = 30_000;

/**
 * A run key lives this long after the coordinator's last refresh (it refreshes every third of
 * it): a coordinator that dies leaves no playbook behind for longer. Longer with a longer
 * --redis-timeout, so an outage the run survives does not expire its playbook.
 */
export function runKeyTtlMs(lostAfterMs: number): number {
  return Math.max(30_000, 3 * lostAfterMs);
}

/** A play job's id: run, play, batch and host (a host is queued once per play of a run). */
export function playJobIdOf(runId: string, playIndex: number, batchIndex: number, host: string): string {
  return jobIdOf(runId, `p${playIndex}b${batchIndex}__${host}`);
}

/** BullMQ job ids may not contain ':' (its key separator). */
export function jobIdOf(runId: string, host: string): string {
  return `${runId}__${host}`.replace(/:/g, '_');
}

/** The connection options BullMQ gets (its blocking commands need maxRetriesPerRequest null). */
export function bullConnection(target: RedisTarget): BullRedisOptions {
  const { retryStrategy, ...options } = redisClientOptions(target, 'queue');
  return { ...options, ...(retryStrategy ? { retryStrategy } : {}) };
}

/**
 * Connect once, ping, and check the server before anything is queued: an unreachable Redis, a
 * refused password or an untrusted certificate is exit 1 naming the URL, not a run that hangs.
 * Returns the server version.
 */
export async function preflightRedis(target: RedisTarget): Promise<{ version: string; evictionPolicy?: string }> {
  // connect() rejects with 'Connection is closed'; the socket's own error says why (ECONNREFUSED, WRONGPASS...)
  let cause: Error | undefined;
  const client = await openRedis(target, 'preflight', (e) => (cause ??= e));
  try {
    await client.connect();
    await client.ping();
    // INFO, not CONFIG GET: an ACL user for fleetmend needs no admin commands (README: Redis connection)
    const info = await client.info();
    const version = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
    const evictionPolicy = /maxmemory_policy:(\S+)/.exec(info)?.[1];
    return { version, ...(evictionPolicy ? { evictionPolicy } : {}) };
  } catch (err) {
    const why = cause?.message ?? (err instanceof Error ? err.message : String(err));
    throw new FleetmendError('E_QUEUE', `cannot reach Redis at ${target.url}: ${explainRedisError(why, target)}`);
  } finally {
    client.disconnect();
  }
}
