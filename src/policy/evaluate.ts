/**
 * Evaluates a policy's controls against a scope (see scope.ts). A control passes only when its
 * condition is truthy. When it is not, and a fact it reads is unknown, the message says the
 * control could not be evaluated and why (e.g. auditctl missing) instead of a plain "failed".
 */
import { FleetmendError } from '../errors.js';
import { compileExpr, truthy, valueAtPath, type CompiledExpr } from '../expr/index.js';
import { compiledCondition } from './load.js';
import { whyUnknown, type PolicyScope } from './scope.js';
import type { Compliance, Control, ControlResult, Policy } from './types.js';

function show(v: unknown): string {
  if (v === undefined) return 'unknown';
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 60)}…` : s;
}

function evaluateControl(control: Control, scope: PolicyScope): ControlResult {
  const base = { id: control.id, title: control.title, impact: control.impact };
  let expr: CompiledExpr;
  let value: unknown;
  try {
    expr = compiledCondition(control) ?? compileExpr(control.condition);
    value = expr.evaluate(scope);
  } catch (err) {
    const msg = err instanceof FleetmendError ? err.message : String(err);
    return { ...base, passed: false, message: `condition error: ${msg}` };
  }
  if (truthy(value)) return { ...base, passed: true };
  const unknown = expr.paths.filter((p) => valueAtPath(scope, p) === undefined);
  if (unknown.length) {
    const why = [...new Set(unknown.map((p) => `${p}: ${whyUnknown(p, scope)}`))].join('; ');
    return { ...base, passed: false, message: `cannot be evaluated: ${why}` };
  }
  const values = expr.paths.map((p) => `${p} = ${show(valueAtPath(scope, p))}`).join(', ');
  return { ...base, passed: false, message: `not satisfied: ${control.condition}${values ? ` (${values})` : ''}` };
}

/**
 * Compliant when no control with impact > 0 failed (impact 0 controls are informational, as in
 * InSpec). `score` is the impact-weighted share of passed controls (1 when all impacts are 0).
 */
export function evaluatePolicy(policy: Policy, hostScope: PolicyScope): Compliance {
  // the policy's parameters sit beside the host's facts: `persistent.disk_full_action in params.disk_full_actions`
  const scope: PolicyScope = { ...hostScope, params: policy.parameters ?? {} };
  const controls = policy.controls.map((c) => evaluateControl(c, scope));
  const failed = controls.filter((c) => !c.passed);
  const total = controls.reduce((s, c) => s + c.impact, 0);
  const passed = controls.reduce((s, c) => s + (c.passed ? c.impact : 0), 0);
  return {
    compliant: failed.every((c) => c.impact === 0),
    failed_controls: failed,
    controls,
    score: total > 0 ? passed / total : 1,
  };
}
