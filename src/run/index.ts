/** Runs: a typed request in, the event stream out to subscribers (store, terminal, reports, drift). */
export * from './types.js';
export { executeRun, type ExecuteHooks } from './execute.js';
export { resolveTargets, type ResolvedTargets, type AskSecret } from './targets.js';
export { prepareRenderer, writeRunReports, historyFor } from './reports.js';
export { newRunId } from './ids.js';
export { retryFilePath } from './retry.js';
export type { SweepPlacement, PreparedSweep } from './sweep.js';
export type { PlaybookPlacement, PreparedPlaybook } from './playbook.js';
export { prepareRun, type PreparedRun } from './prepare.js';
export type { RunSession } from './session.js';
