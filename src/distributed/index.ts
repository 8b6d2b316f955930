/** Distributed mode on BullMQ/Redis: the coordinator's placement of hosts (sweeps, plays) on the worker holding them warm, and the worker. */
export { queuePlacement, playbookPlacement, wireExtraVars, type CoordinatorOptions } from './coordinator.js';
export { runWorker, type WorkerOptions, type WorkerIO } from './worker.js';
export { QUEUE_NAME, QUEUE_PREFIX, jobIdOf, preflightRedis, playJobIdOf, runKeyOf, type SweepJobData, type PlayJobData, type PlayRunData, type HostJobResult, type PlayJobResult } from './queue.js';
export { maskRedisUrl, parseRedisUrl, redisInputFrom, resolveRedisTarget, REDIS_ENV, type RedisCliOptions, type RedisInput, type RedisTarget } from './connection.js';
export { coordinatorKeys, workerKeys, writeKeyPair, keyIdOf, type SigningKey, type TrustStore } from './signing.js';
export { ownerOf, workerQueueOf, liveWorkers, heartbeatKeyOf, WORKERS_KEY } from './placement.js';
