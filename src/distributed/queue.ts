/**
 * The queue between a coordinator (`sweep --redis`) and its workers (`fleetmend worker`): one
 * BullMQ job per host, its id made of run and host, so a host is queued once per run. A job
 * carries the host's name and the run's sweep settings only: connection details and every
 * secret (passwords, become passwords, passphrases, keys) come from the worker's own inventory,
 * environment and key files, so nothing secret is ever written to Redis. Nothing read from Redis
 * is trusted either: a job's data is the coordinator's SignedEnvelope of a SignedJob, a worker's
 * return value its own SignedEnvelope of a SignedResult (signing.ts).
 */
import { z } from 'zod';
import { FleetmendError } from '../errors.js';
import type { HostResult } from '../executor/events.js';
import type { HostState } from '../playbook/run.js';
import type { Vars } from '../playbook/vars.js';
import type { Policy } from '../policy/types.js';

/** BullMQ's key prefix and queue name: keys are `fleetmend:hosts:*`. */
export const QUEUE_PREFIX = 'fleetmend';
export const QUEUE_NAME = 'hosts';

export interface SweepJobData {
  v: 1;
  kind: 'sweep';
  run: string;
  host: string;
  samples: number;
  intervalMs: number;
  /** The run's fact-script nonce (not a secret: it only keeps host output from forging sections). */
  nonce: string;
  policy?: Policy;
}

/**
 * One play of a playbook run on one host. The playbook itself is in the run's key (runKeyOf),
 * written once per run; the host's state (registered vars, set_facts, facts) travels with each
 * job, redacted like the store and masked of every secret the worker knows.
 */
export interface PlayJobData {
  v: 1;
  kind: 'play';
  run: string;
  host: string;
  playIndex: number;
  batchIndex: number;
  batch: { size: number; hostsInPlay: number };
  state: HostState;
}

/** What every play job of a run shares, under runKeyOf(run): nothing secret. */
export interface PlayRunData {
  v: 1;
  /** The playbook's path as the coordinator named it (positions say file:line) and its text. */
  file: string;
  source: string;
  /** Extra vars without secret-named ones (a worker adds its own `-e`). */
  extraVars: Vars;
  check: boolean;
  diff: boolean;
  tags?: string[];
  skipTags?: string[];
  nonce: string;
}

export type HostJobData = SweepJobData | PlayJobData;

export interface HostJobResult {
  result: HostResult;
  worker: string;
}

export interface PlayJobResult extends HostJobResult {
  state: HostState;
  /** Indexes into result.tasks of the tasks that ran (the coordinator emits their events). */
  emitted: number[];
}

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

/** What a worker signs for the job it did (the BullMQ return value is its SignedEnvelope). */
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

/** A play job's id: run, play, batch and host (a host is queued once per play of a run). */
export function playJobIdOf(runId: string, playIndex: number, batchIndex: number, host: string): string {
  return jobIdOf(runId, `p${playIndex}b${batchIndex}__${host}`);
}

/** BullMQ job ids may not contain ':' (its key separator). */
export function jobIdOf(runId: string, host: string): string {
  return `${runId}__${host}`.replace(/:/g, '_');
}

/** `redis://user:secret@h:6379/0` → `redis://user:***@h:6379/0`, for messages and logs. */
export function maskRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//***@');
  }
}

export function parseRedisUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new FleetmendError('E_USAGE', `--redis: not a URL: '${maskRedisUrl(url)}' (redis://HOST:PORT[/DB])`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new FleetmendError('E_USAGE', `--redis must be a redis:// or rediss:// URL, got '${maskRedisUrl(url)}'`);
  }
  return u;
}

/** The connection options BullMQ gets (its blocking commands need maxRetriesPerRequest null). */
export function bullConnection(url: string): { url: string; maxRetriesPerRequest: null } {
  return { url, maxRetriesPerRequest: null };
}

/**
 * Connect once, ping, and check the server before anything is queued: an unreachable Redis is
 * exit 1 naming the URL, not a run that hangs. Returns the server version.
 */
export async function preflightRedis(url: string, timeoutMs = 5000): Promise<{ version: string; evictionPolicy?: string }> {
  parseRedisUrl(url);
  const { Redis } = await import('ioredis');
  const client = new Redis(url, { lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  // connect() rejects with 'Connection is closed'; the socket's own error says why (ECONNREFUSED...)
  let cause: Error | undefined;
  client.on('error', (e: Error) => (cause ??= e));
  try {
    await client.connect();
    await client.ping();
    const info = await client.info('server');
    const version = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
    let evictionPolicy: string | undefined;
    try {
      const got = (await client.config('GET', 'maxmemory-policy')) as string[];
      evictionPolicy = got[1];
    } catch {
      /* CONFIG may be disabled on managed Redis */
    }
    return { version, ...(evictionPolicy ? { evictionPolicy } : {}) };
  } catch (err) {
    const why = cause?.message ?? (err instanceof Error ? err.message : String(err));
    throw new FleetmendError('E_QUEUE', `cannot reach Redis at ${maskRedisUrl(url)}: ${why}`);
  } finally {
    client.disconnect();
  }
}
