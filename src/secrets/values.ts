/**
 * Known secret values (login password, key passphrase, become password) masked out of text.
 * Key-name redaction (redact.ts) cannot catch a password a host echoed back or a command
 * printed: the value itself has to be looked for. The transport masks every command's output
 * and its own errors with the secrets of its connection, so nothing above it (parsers, modules,
 * events, the store, reports, --json) ever holds them. The values of secret-named vars (an `-e
 * db_password`, an inventory `vault_token`, and values derived from them: taint.ts) are masked
 * out of each task's result by the playbook runner, after the module has parsed the real output.
 */
import { isSecretName } from './names.js';

/** What a secret is shown as, everywhere (task output, `fleetmend inventory`, messages). */
export const SECRET_MASK = '********';

/**
 * Shorter values are not masked: masking every "0" or "ab" would garble the output the
 * diagnosis parses, and a secret that short is not protected by anything anyway.
 */
export const MIN_SECRET_LENGTH = 4;

export class SecretValues {
  private readonly values: string[];

  constructor(values: Iterable<string | undefined>) {
    const set = new Set<string>();
    // the mask itself is not a secret: a value masked on the wire (wire.ts) arrives as the mask
    for (const v of values) if (v !== undefined && v.length >= MIN_SECRET_LENGTH && v !== SECRET_MASK) set.add(v);
    // longest first, so a secret containing another is masked whole
    this.values = [...set].sort((a, b) => b.length - a.length);
  }

  get size(): number {
    return this.values.length;
  }

  /**
   * Every occurrence masked; also a trailing start of a secret (at least MIN_SECRET_LENGTH
   * characters): output cut by the cap, `head -c` or a dropped connection can end mid-secret.
   */
  mask(text: string): string {
    if (this.values.length === 0 || text === '') return text;
    let out = text;
    for (const v of this.values) if (out.includes(v)) out = out.split(v).join(SECRET_MASK);
    for (const v of this.values) {
      for (let n = v.length - 1; n >= MIN_SECRET_LENGTH; n--) {
        if (out.endsWith(v.slice(0, n))) {
          out = out.slice(0, out.length - n) + SECRET_MASK;
          break;
        }
      }
    }
    return out;
  }

  /** A copy of `value` with every string in it masked (objects and arrays walked). */
  maskDeep<T>(value: T): T {
    if (this.values.length === 0) return value;
    return this.walk(value) as T;
  }

  private walk(v: unknown): unknown {
    if (typeof v === 'string') return this.mask(v);
    if (Array.isArray(v)) return v.map((x) => this.walk(x));
    if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = this.walk(x);
      return out;
    }
    return v;
  }
}

/**
 * The values of secret-named vars (`db_password`, `vault_api_token`: names.ts), at any depth,
 * strings and numbers: fleetmend drops these keys from what it stores and prints, so their
 * values are known secrets too, to be masked where a task templates them into output.
 * `isSecret` widens the rule with the names a run learnt hold secrets (taint.ts).
 */
export function secretVarValues(vars: Readonly<Record<string, unknown>>, isSecret: (name: string) => boolean = isSecretName): string[] {
  const out: string[] = [];
  const leaves = (v: unknown): void => {
    if (typeof v === 'string') out.push(v);
    else if (typeof v === 'number' && Number.isFinite(v)) out.push(String(v));
    else if (Array.isArray(v)) v.forEach(leaves);
    else if (v !== null && typeof v === 'object') Object.values(v).forEach(leaves);
  };
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (isSecret(k)) leaves(x);
        else walk(x);
      }
    }
  };
  walk(vars);
  return out;
}

/** The secret parts of a connection (structurally a transport ConnectionSpec). */
export interface SecretHolder {
  auth: { password?: string; passphrase?: string };
  become: { enabled?: boolean; password?: string };
  jump?: SecretHolder;
}

/** Every secret value a set of connections holds (login and become passwords, passphrases), their bastions' too. */
export function connectionSecrets(specs: SecretHolder | Iterable<SecretHolder>): string[] {
  const out: string[] = [];
  const walk = (s: SecretHolder): void => {
    for (const v of [s.auth.password, s.auth.passphrase, s.become.password]) if (v !== undefined) out.push(v);
    if (s.jump) walk(s.jump);
  };
  if (Symbol.iterator in specs) for (const s of specs) walk(s);
  else walk(specs);
  return out;
}

/**
 * The masker for text that leaves through these connections or for another process: every
 * secret the connections hold (and their bastions'), and the values of secret-named vars in each
 * of `varsSources` (a worker's own `-e`, its inventory's host vars) that a task could template
 * into its output. The transports, the coordinator and the worker all build their masker here.
 */
export function maskerFor(specs: SecretHolder | Iterable<SecretHolder>, varsSources: Iterable<Readonly<Record<string, unknown>>> = []): SecretValues {
  const values = connectionSecrets(specs);
  for (const vars of varsSources) values.push(...secretVarValues(vars));
  return new SecretValues(values);
}
