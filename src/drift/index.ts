export { computeDrift, hostChanges } from './compute.js';
export { renderDriftText, describeChange, printable } from './render.js';
export { driftNotification, runFailedNotification, NOTIFICATION_SCHEMA } from './payload.js';
export type { DriftNotification, NotificationContext } from './payload.js';
export { driftSinceLast, sinceLastReport } from './since-last.js';
export type { Drift, DriftOptions, HostChange, HostChangeKind, HostDrift, RunRef } from './types.js';
