/**
 * The form of a value that leaves this process for Redis (distributed mode): secret-named keys
 * dropped at any depth (redact.ts), every secret value this side knows masked.
 */
import { redact } from './redact.js';
import type { TaintedState } from './taint.js';
import { SECRET_MASK, type SecretValues } from './values.js';

export function wireValue<T>(value: T, secrets: SecretValues): T {
  return secrets.maskDeep(redact(value));
}

/**
 * A host's state (registered results, set_facts) as a play job carries it. A name that holds a
 * value derived from a secret (taint.ts) cannot be masked by value (a piece of a secret, a
 * command's output made from one), so each string and number in it is SECRET_MASK: the shape
 * travels (a later play's `{{ r.stdout }}` is defined, and masked), the content does not;
 * booleans (`r.changed`) keep their meaning. The names travel too: they are not secret.
 */
export function wireState<S extends TaintedState>(state: S, secrets: SecretValues): S {
  const tainted = new Set(state.tainted ?? []);
  const hide = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, tainted.has(k) ? maskLeaves(v) : v]));
  return wireValue({ ...state, registered: hide(state.registered), setFacts: hide(state.setFacts) }, secrets);
}

function maskLeaves(v: unknown): unknown {
  if (typeof v === 'string' || typeof v === 'number') return SECRET_MASK;
  if (Array.isArray(v)) return v.map(maskLeaves);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, maskLeaves(x)]));
  return v;
}
