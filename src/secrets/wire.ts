/**
 * The form of a value that leaves this process for Redis (distributed mode): secret-named keys
 * dropped at any depth (redact.ts), every secret value this side knows masked.
 */
import { redact } from './redact.js';
import type { TaintedState } from './taint.js';
import type { SecretValues } from './values.js';

export function wireValue<T>(value: T, secrets: SecretValues): T {
  return secrets.maskDeep(redact(value));
}

/**
 * A host's state (registered results, set_facts) as a play job carries it: also without the
 * names that hold a value derived from a secret (taint.ts). Their values cannot be masked
 * reliably (a piece of a secret is not findable by value), so they do not travel at all: a
 * later play on another worker sees them undefined. The names travel, they are not secret.
 */
export function wireState<S extends TaintedState>(state: S, secrets: SecretValues): S {
  const tainted = new Set(state.tainted ?? []);
  const keep = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([k]) => !tainted.has(k)));
  return wireValue({ ...state, registered: keep(state.registered), setFacts: keep(state.setFacts) }, secrets);
}
