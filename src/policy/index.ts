/** Policy: load (validated, conditions compiled) and evaluate against a host's facts + diagnosis. */
export * from './types.js';
export { loadPolicy, policyFromYaml, compiledCondition } from './load.js';
export { evaluatePolicy } from './evaluate.js';
export { policyScope, whyUnknown, type PolicyScope } from './scope.js';
