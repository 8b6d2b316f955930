/** Diagnosis: pure functions from facts to state, findings and fleet outliers. */
export * from './types.js';
export {
  diagnose,
  KERNEL_DEFAULT_BACKLOG_LIMIT,
  type DiagnoseContext,
} from './diagnose.js';
export { BYTES_PER_BUFFER, MEMORY_SHARE, backlogGrowing, handful, hostHz, limitBytes } from './concepts.js';
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
export { watchProblems } from './watch.js';
