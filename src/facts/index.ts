/** Facts: the collection script and pure parsers of its output (STYLE: facts/ knows no SSH, files or time). */
export * from './types.js';
export * from './script.js';
export { FACTS, factScope, gatheredFact, parseFact, FactValues } from './registry.js';
export type { Fact, FactExposure } from './fact.js';
export { parseAuditctlStatus, parseAuditctlError, type AuditctlError, MAX_UNKNOWN_LINES } from './auditctl.js';
export {
  parseKernelLog,
  chooseKernelLog,
  emptyKernelLog,
  kernelLogShowsLoss,
  splitKernelLine,
  type KernelLogSource,
} from './kernel-log.js';
export { parseProcs, parseAuditdUnit, auditdFromProcs, combineAuditd, type PsProcesses, type ProcScan } from './auditd.js';
export {
  parseMeminfo,
  parseRulesBacklog,
  parsePlugins,
  effectiveBacklogLimit,
  parseCmdline,
  parseAuditdConf,
  parseRuleCount,
  parseUname,
  parseKernelHz,
  parseOsRelease,
  parseBootId,
  parseUptime,
  AUDIT_RULES,
  type RulesBacklog,
} from './system.js';
export type { Parsed } from './text.js';
export { parseSample } from './sample.js';
export { sampleDeltas, type SampleDeltas } from './rates.js';
