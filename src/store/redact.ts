/**
 * Secrets never reach the store or a report: any object key that names a secret is dropped,
 * at any depth, before a value is serialised. The pattern matches `password`, `passwd`,
 * `passphrase`, `become_password`, `ansible_ssh_pass`, `private_key`, `secret`, `token`…
 * but not `passed` (a control result) or `pass_count`-style counters.
 *
 * Names only: a secret VALUE inside text (a host printing the become password back) is masked
 * where all host text enters, in the transport (util/secrets.ts, Ssh2Transport), so results
 * reach this point already clean.
 */
const SECRET_KEY = /pass(?:word|wd|phrase)|(?:^|_)pass$|secret|private_?key|api_?key|token/i;

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

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
      if (isSecretKey(k)) continue;
      const r = redactInner(v, seen);
      if (r !== undefined) out[k] = r;
    }
    return out;
  } finally {
    seen.delete(value);
  }
}
