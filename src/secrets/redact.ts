/**
 * Secrets never reach the store, a report or the queue: any object key that names a secret
 * (names.ts) is dropped, at any depth, before a value is serialised.
 *
 * Names only: a secret VALUE inside text (a host printing the become password back) is masked
 * where all host text enters, in the transport (values.ts, Ssh2Transport), and by the playbook
 * runner for secret vars a task templated (taint.ts), so results reach this point already clean.
 */
import { isSecretName } from './names.js';
import { SECRET_MASK } from './values.js';

/** A deep copy of `value` without secret-named keys. Cycles are cut (replaced by undefined). */
export function redact<T>(value: T): T {
  return redactInner(value, new WeakSet<object>()) as T;
}

function redactInner(value: unknown, seen: WeakSet<object>): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return undefined;
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((v) => redactInner(v, seen));
    if (value instanceof Date) return new Date(value.getTime());
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (isSecretName(k)) continue;
      const r = redactInner(v, seen);
      if (r !== undefined) out[k] = r;
    }
    return out;
  } finally {
    seen.delete(value);
  }
}

/**
 * A copy of `vars` with every secret-named value (at any depth) shown as SECRET_MASK, the key
 * kept: what `fleetmend inventory` prints, so an operator sees that the var is set.
 */
export function maskSecretVars(vars: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(vars)) out[k] = isSecretName(k) ? SECRET_MASK : maskInner(v);
  return out;
}

function maskInner(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(maskInner);
  if (v !== null && typeof v === 'object') return maskSecretVars(v as Record<string, unknown>);
  return v;
}
