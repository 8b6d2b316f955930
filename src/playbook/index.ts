/** Playbooks: load + validate, variables, templating, conditions, batches, the runner, the recap. */
export * from './types.js';
export { loadPlaybook, parsePlaybook, playbookFromYaml, type LoadOptions } from './load.js';
export { parseExtraVars, mergeVars, VAR_NAME, type Vars } from './vars.js';
export { planBatches, batchSize, type Serial, type SerialItem } from '../executor/batches.js';
export { Templater } from './template.js';
export { buildScope, extendScope } from './scope.js';
export { runPlaybook, type RunHostsHook, type RunPlaybookOptions, type PlaybookRunResult, type PlayRunResult, type RolloutStop } from './run.js';
export { rolloutDecision } from './rollout.js';
export { playOneHost } from './host-play.js';
export type { PlayHostOptions } from './env.js';
export type { PlaybookHost, HostState, RemotePlayRequest, RemotePlayReply } from './protocol.js';
export { recapOf, recapHost, formatRecap, formatRecapLine, isIgnored, IGNORED_WARNING, type HostRecap } from './recap.js';
