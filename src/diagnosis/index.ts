/** Diagnosis: pure functions from facts to state, findings and fleet outliers. */
export * from './types.js';
export {
  diagnose,
  BYTES_PER_BUFFER,
  KERNEL_DEFAULT_BACKLOG_LIMIT,
  DEFAULT_MEMORY_SHARE,
  type DiagnoseContext,
} from './diagnose.js';
export { MEMORY_SHARE, backlogGrowing, handful, hostHz, limitBytes } from './concepts.js';
export { diagnoseFleet, median, MIN_GROUP_SIZE, OUTLIER_K, type FleetHost } from './fleet.js';
export {
  SEVERITY_ORDER,
  STATE_PRECEDENCE,
  compareDiagnoses,
  compareFindings,
  withMoreFindings,
  severityRank,
  stateOf,
  stateOfFinding,
  worstSeverity,
} from './severity.js';
