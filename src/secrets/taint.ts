/**
 * Secrets keep their taint. A value derived from a secret (a `set_fact` copying it, the
 * register of a task that templated it, a template putting it into another var) stays a secret
 * for the rest of the run, on this host and, by name, in the state a distributed run sends.
 *
 * How: the templater reports every `{{ }}` it evaluates (Templater.observing). A hole is
 * tainted when one of the paths it reads goes through a secret-named or tainted name, through a
 * known secret value, or ends on a value holding one (so `vars[name]`, `[pw][0]` and
 * `(pw + '')[0]` are seen too: every value an expression reads comes from a name in the scope).
 * A task with a tainted hole taints its `register` and the `set_fact` names whose template held
 * the hole; those names are kept in the host state (`tainted`), and their values are masked like
 * the values of secret-named vars.
 *
 * A secret taken apart cannot be found in the output by value: one character is not maskable.
 * Two ways to take it apart, and one answer to both: the task's output (msg, stdout, stderr,
 * diff, warnings, the error message) is masked as a whole, with a warning that names the
 * expression and file:line. The task still runs (`command: useradd -p {{ pw_hash }}` is fine).
 * - In the template (`{{ pw[0] }} {{ pw[1] }}`, `{{ pw == 'a' }}`, `{{ len(pw) }}`): a tainted
 *   hole must produce a secret whole (the value, `| quote`d, as a number), so that masking by
 *   value finds it wherever it lands; any other tainted hole takes it apart.
 * - On the host: a command a secret was templated into (`shell: echo {{ pw }} | fold -w1`, `|
 *   rev`, `base64`) prints whatever the host makes of it, which no mask can recognise; so the
 *   output of a command that carried a secret is masked whole.
 * A template that uses the secret whole outside a command (`debug`, `fail`, `set_fact`, a file's
 * content) keeps its output, with the secret masked by value.
 *
 * Not covered: a condition (`when: pw[0] == 'a'`) decides a task's status, one bit per task,
 * as in Ansible; conditions are not templates and are not watched.
 */
import type { SourcePosition } from '../errors.js';
import { shlexQuote, stringOf } from '../expr/index.js';
import { isSecretName } from './names.js';
import { MIN_SECRET_LENGTH, SECRET_MASK, SecretValues, secretVarValues } from './values.js';

/** One `{{ expr }}` as the templater evaluated it (playbook/template.ts HoleRead). */
export interface TemplateRead {
  /** The whole template string the hole is in. */
  text: string;
  source: string;
  /** Dotted paths the expression reads (expr pathsOf). */
  paths: readonly string[];
  scope: Readonly<Record<string, unknown>>;
  value: unknown;
  position?: SourcePosition;
}

/** What a host's state says about taint (playbook HostState, structurally). */
export interface TaintedState {
  registered: Record<string, unknown>;
  setFacts: Record<string, unknown>;
  /** Names of set_facts and registered results that hold a value derived from a secret. */
  tainted?: string[];
}

interface TaintedRead {
  read: TemplateRead;
  /** The path through which it read a secret. */
  via: string;
  whole: boolean;
}

/**
 * The secrets one task on one host knows, and what its templates did with them. Made per task
 * from the task's vars (inventory, play, set_fact, -e) and the host state's tainted names.
 */
export class TaintWatch {
  readonly values: SecretValues;
  private readonly tainted: ReadonlySet<string>;
  private readonly known: ReadonlySet<string>;
  private readonly reads: TaintedRead[] = [];

  constructor(vars: Readonly<Record<string, unknown>>, state: Pick<TaintedState, 'tainted'>) {
    this.tainted = new Set(state.tainted ?? []);
    // a value that arrived masked (wire.ts) is the mask, not a secret
    const list = secretVarValues(vars, this.isSecret).filter((v) => v !== SECRET_MASK);
    this.values = new SecretValues(list);
    this.known = new Set(list);
  }

  /** A secret name by the rule, or one this host's run learnt holds a derived value. */
  readonly isSecret = (name: string): boolean => isSecretName(name) || this.tainted.has(name);

  /** The templater's observer. */
  readonly onRead = (r: TemplateRead): void => {
    const via = r.paths.map((p) => this.secretIn(r.scope, p)).find((v) => v !== undefined);
    if (via !== undefined) this.reads.push({ read: r, via, whole: this.isWhole(r.value) });
  };

  get isTainted(): boolean {
    return this.reads.length > 0;
  }

  /** Top-level keys of `args` (set_fact names, a module's `cmd`) whose templates held a tainted hole. */
  taintedKeys(args: Readonly<Record<string, unknown>>): string[] {
    const texts = new Set(this.reads.map((x) => x.read.text));
    return Object.keys(args).filter((k) => stringsOf(args[k]).some((s) => texts.has(s)));
  }

  /** Why the task's output cannot be masked by value: a hole that took a secret apart, or a command that carried one. */
  private taken(commands: Readonly<Record<string, unknown>>): string | undefined {
    const where = (p?: SourcePosition) => (p ? ` at ${p.file}${p.line !== undefined ? `:${p.line}` : ''}` : '');
    const piece = this.reads.find((x) => !x.whole);
    if (piece) return `{{ ${piece.read.source.slice(0, 200)} }}${where(piece.read.position)} uses the secret '${piece.via}' in a form masking by value cannot find (a piece of it, a value computed from it, or shorter than ${MIN_SECRET_LENGTH} characters)`;
    const texts = new Set(this.taintedKeys(commands).flatMap((k) => stringsOf(commands[k])));
    const sent = this.reads.find((x) => texts.has(x.read.text));
    if (sent) return `the command${where(sent.read.position)} carries the secret '${sent.via}' to the host, and what the host prints of it cannot be recognised`;
    return undefined;
  }

  /**
   * The task's result as it may be shown: every known secret value masked and, if a secret was
   * taken apart (in a template, or by a command that carried it: `commands` are the task's
   * command arguments), every output field masked whole, with a warning that says why.
   */
  maskResult<T extends MaskableResult>(result: T, commands: Readonly<Record<string, unknown>> = {}): T {
    const masked = this.values.maskDeep(result);
    const why = this.taken(commands);
    if (!why) return masked;
    const out: T = { ...masked };
    for (const k of ['msg', 'stdout', 'stderr'] as const) if (out[k] !== undefined) out[k] = SECRET_MASK;
    if (out.diff) out.diff = out.diff.map((d) => ({ ...d, before: SECRET_MASK, after: SECRET_MASK }));
    if (out.error) out.error = { ...out.error, message: SECRET_MASK };
    out.warnings = [`output masked: ${why}`];
    return out;
  }

  /** The start of `path` that is, or holds, a secret (`copied` of `copied.0`), if any. */
  private secretIn(scope: Readonly<Record<string, unknown>>, path: string): string | undefined {
    let cur: unknown = scope;
    const parts = path.split('.');
    for (const [i, part] of parts.entries()) {
      cur = step(cur, part);
      // a secret name, indexing into a secret string (`copy.0`), or a path ending on a value holding one
      const last = i === parts.length - 1;
      if (this.isSecret(part) || (last ? this.holdsSecret(cur) : this.isKnownScalar(cur))) return parts.slice(0, i + 1).join('.');
    }
    return undefined;
  }

  private isKnownScalar(v: unknown): boolean {
    return (typeof v === 'string' || typeof v === 'number') && this.known.has(String(v));
  }

  private holdsSecret(v: unknown): boolean {
    if (typeof v === 'string') return this.values.mask(v) !== v;
    if (typeof v === 'number') return this.known.has(String(v));
    if (Array.isArray(v)) return v.some((x) => this.holdsSecret(x));
    if (v !== null && typeof v === 'object') return Object.entries(v).some(([k, x]) => this.isSecret(k) || this.holdsSecret(x));
    return false;
  }

  /**
   * The secret itself, as text, as a number or shell-quoted: masking by value finds it. A secret
   * too short to mask by value (values.ts MIN_SECRET_LENGTH) is never whole: its task's output is masked.
   */
  private isWhole(v: unknown): boolean {
    if (typeof v !== 'string' && typeof v !== 'number') return false;
    const s = stringOf(v);
    const maskable = [...this.known].filter((k) => k.length >= MIN_SECRET_LENGTH);
    return maskable.some((k) => k === s || shlexQuote(k) === s);
  }
}

/** The fields of a task result that carry text (executor TaskResult, structurally). */
export interface MaskableResult {
  msg?: string;
  stdout?: string;
  stderr?: string;
  diff?: { before: string; after: string; path?: string }[];
  warnings?: string[];
  error?: { code: string; message: string };
}

function step(v: unknown, key: string): unknown {
  if (typeof v === 'string') return /^\d+$/.test(key) ? v[Number(key)] : undefined;
  if (v === null || typeof v !== 'object') return undefined;
  return Object.prototype.hasOwnProperty.call(v, key) ? (v as Record<string, unknown>)[key] : undefined;
}

function stringsOf(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.flatMap(stringsOf);
  if (v !== null && typeof v === 'object') return Object.values(v).flatMap(stringsOf);
  return [];
}

/** The state after a task: `names` now hold values derived from a secret. */
export function taint(state: TaintedState, names: readonly string[]): void {
  if (!names.length) return;
  state.tainted = [...new Set([...(state.tainted ?? []), ...names])];
}
