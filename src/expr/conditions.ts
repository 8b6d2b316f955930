/**
 * Conditions (`when`, `changed_when`, `failed_when`, `assert.that`) use the safe expression
 * language of this folder — the same form as the policy conditions; never `eval`. Compiled at
 * load time so a syntax error is reported at file:line:column before any host is contacted.
 * Unlike the policy's, they follow Ansible's undefined semantics: a condition that uses an
 * undefined variable is E_UNDEFINED (the task fails for that host), never silently false.
 */
import { compileExpr, truthy } from './index.js';
import { FleetmendError, toFleetmendError, type SourcePosition } from '../errors.js';

/** A values-only view of a boolean expression: what a task's conditions and `assert` evaluate. */
export interface Condition {
  source: string;
  evaluate(scope: Record<string, unknown>): unknown;
}

/** `keyword` (e.g. `when`) prefixes an evaluation error's message, so it says which condition. */
export function compileCondition(source: string, position?: SourcePosition, keyword?: string): Condition {
  let compiled;
  try {
    compiled = compileExpr(source, position, { strictUndefined: true });
  } catch (err) {
    const e = toFleetmendError(err);
    if (e.position || !position) throw e;
    throw new FleetmendError(e.code === 'E_INTERNAL' ? 'E_EXPR' : e.code, e.message, { position });
  }
  if (keyword === undefined) return { source, evaluate: (scope) => compiled.evaluate(scope) };
  return {
    source,
    evaluate(scope) {
      try {
        return compiled.evaluate(scope);
      } catch (err) {
        if (!(err instanceof FleetmendError)) throw err;
        throw new FleetmendError(err.code, `${keyword}: ${err.message}`, err.position ? { position: err.position } : {});
      }
    },
  };
}

/** All conditions must hold (a `when:` list is an AND, as in Ansible). */
export function allHold(conditions: readonly Condition[], scope: Record<string, unknown>): { ok: boolean; failed?: string } {
  for (const c of conditions) {
    let v: unknown;
    try {
      v = c.evaluate(scope);
    } catch (err) {
      // E_EXPR / E_UNDEFINED from the expression already name the source and where it is
      if (err instanceof FleetmendError) throw err;
      throw new FleetmendError('E_EXPR', `cannot evaluate ${JSON.stringify(c.source)}: ${(err as Error).message}`);
    }
    if (!truthy(v)) return { ok: false, failed: c.source };
  }
  return { ok: true };
}
