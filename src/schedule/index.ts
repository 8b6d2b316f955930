export { runScheduler } from './scheduler.js';
export type { ScheduleConfig, SchedulerIO, RunIO, ScheduledRunResult, ScheduleOutcome, NotifyWhen } from './scheduler.js';
export { prepareCommand, optionValue, SCHEDULABLE } from './command.js';
export type { ScheduledCommand } from './command.js';
export { postWebhook, runNotifyCommand, maskUrl } from './notify.js';
export type { WebhookOptions, DeliveryResult, CommandOptions, CommandResult } from './notify.js';
