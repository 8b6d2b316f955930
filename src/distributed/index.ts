/** Distributed mode on BullMQ/Redis: the coordinator's placement of hosts, and the worker. */
export { queuePlacement, type CoordinatorOptions } from './coordinator.js';
export { runWorker, type WorkerOptions, type WorkerIO } from './worker.js';
export { QUEUE_NAME, QUEUE_PREFIX, jobIdOf, maskRedisUrl, parseRedisUrl, preflightRedis, type SweepJobData, type HostJobResult } from './queue.js';
