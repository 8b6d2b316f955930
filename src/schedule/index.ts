export { runScheduler } from './scheduler.js';
export type { ScheduleConfig, SchedulerIO, RunIO, ScheduleOutcome, NotifyWhen } from './scheduler.js';
export { prepareCommand, optionValue, SCHEDULABLE } from './command.js';
export type { ScheduledCommand } from './command.js';
export { acquireInventoryLock, liveLockHolder, lockFile, isAlive, LOCK_TOKEN_ENV } from './lock.js';
export type { LockHolder, LockKind, LockOptions } from './lock.js';
export { postWebhook, runNotifyCommand, maskUrl } from './notify.js';
export type { WebhookOptions, DeliveryResult, CommandOptions, CommandResult } from './notify.js';
