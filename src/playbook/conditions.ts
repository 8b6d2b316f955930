/**
 * Conditions (`when`, `changed_when`, `failed_when`, `assert.that`) use the safe expression
 * language of src/expr — the same form as the policy conditions; never `eval`. Compiled at
 * load time so a syntax error is reported at file:line:column before any host is contacted.
 */
import { compileExpr, truthy } from '../expr/index.js';
import { FleetmendError, toFleetmendError, type SourcePosition } from '../errors.js';
import type { Condition } from '../modules/types.js';

export function compileCondition(source: string, position?: SourcePosition): Condition {
  try {
    const compiled = compileExpr(source, position);
    return { source, evaluate: (scope) => compiled.evaluate(scope) };
  } catch (err) {
    const e = toFleetmendError(err);
    if (e.position || !position) throw e;
    throw new FleetmendError(e.code === 'E_INTERNAL' ? 'E_EXPR' : e.code, e.message, { position });
  }
}


/** All conditions must hold (a `when:` list is an AND, as in Ansible). */
export function allHold(conditions: readonly Condition[], scope: Record<string, unknown>): { ok: boolean; failed?: string } {
  for (const c of conditions) {
    let v: unknown;
    try {
      v = c.evaluate(scope);
    } catch (err) {
      throw new FleetmendError('E_EXPR', `cannot evaluate ${JSON.stringify(c.source)}: ${(err as Error).message}`);
    }
    if (!truthy(v)) return { ok: false, failed: c.source };
  }
  return { ok: true };
}
