/**
 * Templating of task arguments and template files: Jinja as Ansible renders it. `{{ expr }}`
 * where expr is the safe expression language of src/expr (Jinja's grammar, filters, tests and
 * methods, no lookups); in strings that are not shell arguments also Jinja statements (`{% if %}`,
 * `{% for %}`, `{% set %}`, `{# #}`, whitespace control, trim_blocks) through src/expr/jinja.ts.
 * `renderTemplateText` is the one entry point for a whole template file (the `template` module).
 *
 * A value interpolated into a shell argument (a module's `shellArgs`, e.g. `shell: cmd`, or
 * `wordArgs`, `command: cmd`) is quoted for the context it lands in (shell-context.ts: outside
 * quotes, inside the author's "..." or '...', a heredoc, a comment), so inventory vars, facts
 * and `-e` values can never inject commands; a position that cannot be proven safe is refused at
 * load time (E_SHELL_QUOTE). A trailing `| quote` there is that same quoting (applied once).
 * `{{ raw expr }}` opts out: the value is inserted as the author's own shell text. Statements
 * are refused in shell arguments: what a statement would print is not a value the context
 * quoting can see (compute it in `vars` or `set_fact` and interpolate that).
 *
 * Undefined is Ansible's: a hole whose value uses an undefined variable is E_UNDEFINED naming
 * it ("'x' is undefined"), except through `default`/`d`; `default(omit)` drops the argument.
 */
import { FleetmendError, type SourcePosition } from '../errors.js';
import { compileExpr, positionAt, stringOf, type CompiledExpr } from '../expr/index.js';
import { compileTemplate, renderCompiled, tagEnd, type CompiledTemplate, type ExprRead } from '../expr/jinja.js';
import { HOLE, RAW_HOLE, Unsafe, heredocProblem, planShell, planWords, quoteForSlot, type ShellPlan } from './shell-context.js';
import { clipMessage } from '../util/terminal.js';

/** How a string argument is interpreted on the host: by `sh -c`, by fleetmend's word splitter, or not at all. */
export type Dialect = 'sh' | 'words' | 'none';

interface Hole {
  expr: CompiledExpr;
  source: string;
  raw: boolean;
  /** A trailing `| quote`: in shell dialects the context quoting replaces it. */
  shellExpr: CompiledExpr;
  /** Offsets of `{{` and just after `}}` in the template. */
  offset: number;
  end: number;
}

interface Parsed {
  texts: string[];
  holes: Hole[];
}

const MAX_TEMPLATE = 65_536;

/**
 * The value of the `omit` variable: an argument whose rendered value is exactly this is dropped
 * (Ansible's omit placeholder; its remove_omit also cleans mappings nested in the arguments).
 */
export const OMIT = '__omit_place_holder__fleetmend__';

function at(text: string, offset: number, position?: SourcePosition): { position?: SourcePosition } {
  const p = positionAt(text, offset, position);
  return p ? { position: p } : {};
}

/** The template quoted in a message, cut the way every message quotes a long value (util/terminal). */
function short(text: string): string {
  return clipMessage(JSON.stringify(text));
}

/** An expression syntax error inside {{ }} is a template error (same message and position). */
function compileHole(source: string, position: SourcePosition | undefined, text: string): CompiledExpr {
  try {
    return compileExpr(source, position, { strictUndefined: true, rawStrings: true });
  } catch (err) {
    if (!(err instanceof FleetmendError) || err.code !== 'E_EXPR') throw err;
    throw new FleetmendError('E_TEMPLATE', `bad template ${short(text)}: ${err.message}`, err.position ? { position: err.position } : {});
  }
}

function parseTemplate(text: string, position?: SourcePosition): Parsed {
  if (text.length > MAX_TEMPLATE) throw new FleetmendError('E_TEMPLATE', `template longer than ${MAX_TEMPLATE} characters`, at(text, 0, position));
  const texts: string[] = [];
  const holes: Hole[] = [];
  let last = 0;
  const open = /\{[{%#]/g;
  for (let m = open.exec(text); m; m = open.exec(text)) {
    const start = m.index;
    if (m[0] !== '{{') {
      // without its closer it is shell text, e.g. `${#var}` (Jinja would refuse it; no need to)
      if (text.indexOf(m[0] === '{%' ? '%}' : '#}', start + 2) < 0) continue;
      const what = m[0] === '{%' ? 'Jinja statements ({% ... %}: if, for, set...)' : 'Jinja comments ({# ... #})';
      throw new FleetmendError('E_TEMPLATE', `${what} are not supported in command/shell arguments (${short(text)}): compute the value in vars or set_fact and interpolate it with {{ }}`, at(text, start, position));
    }
    if (text[start + 2] === '{') {
      throw new FleetmendError('E_TEMPLATE', `'{{{' is not a template; write {{ expression }} in ${short(text)}`, at(text, start, position));
    }
    const end = tagEnd(text, start + 2, '}}');
    if (end < 0) throw new FleetmendError('E_TEMPLATE', `unterminated {{ in ${short(text)}`, at(text, start, position));
    const inner = text.slice(start + 2, end);
    const rawMatch = /^\s*raw\s+(?=\S)(?![=!<>+\-*/|.[)]|and\b|or\b|in\b|is\b|not\s+in\b)/.exec(inner);
    const source = rawMatch ? inner.slice(rawMatch[0].length) : inner;
    if (/^\s*[#/]/.test(inner)) {
      throw new FleetmendError('E_TEMPLATE', `Handlebars blocks ({{#if}}, {{/if}}) are not supported in ${short(text)}; fleetmend templates are {{ expression }}`, at(text, start, position));
    }
    const exprAt = positionAt(text, start + 2 + (rawMatch ? rawMatch[0].length : 0), position);
    const expr = compileHole(source, exprAt, text);
    const stripped = /^([\s\S]*?)\|\s*quote\s*$/.exec(source);
    const shellExpr = stripped && !rawMatch ? compileHole(stripped[1] as string, exprAt, text) : expr;
    texts.push(text.slice(last, start));
    holes.push({ expr, shellExpr, source: source.trim(), raw: Boolean(rawMatch), offset: start, end: end + 2 });
    last = end + 2;
    open.lastIndex = last;
  }
  texts.push(text.slice(last));
  return { texts, holes };
}

/** The template text with holes marked (HOLE, or RAW_HOLE for `raw`), and the map back to template offsets. */
function marked(p: Parsed): { text: string; toTemplate(offset: number): number } {
  let text = '';
  const starts: { markedAt: number; templateAt: number }[] = [];
  let templateAt = 0;
  p.texts.forEach((t, k) => {
    starts.push({ markedAt: text.length, templateAt });
    text += t;
    templateAt += t.length;
    const h = p.holes[k];
    if (h) {
      starts.push({ markedAt: text.length, templateAt: h.offset });
      text += h.raw ? RAW_HOLE : HOLE;
      templateAt = h.end;
    }
  });
  return {
    text,
    toTemplate(offset: number): number {
      let best = starts[0]!;
      for (const s of starts) if (s.markedAt <= offset) best = s;
      return best.templateAt + (offset - best.markedAt);
    },
  };
}

interface Compiled {
  parsed?: Parsed;
  plan?: ShellPlan;
  /** A string with statements or comments outside shell arguments: rendered by src/expr/jinja.ts. */
  template?: CompiledTemplate;
}

/** Statements or comments with their closers (a lone `{#` is shell text, e.g. `${#var}`); linear in the text. */
function hasStatements(text: string): boolean {
  const closed = (open: string, close: string) => {
    const i = text.indexOf(open);
    return i >= 0 && text.indexOf(close, i + 2) >= 0;
  };
  return closed('{%', '%}') || closed('{#', '#}');
}

/** A template's expression read as the taint watch wants it: `text` is the whole template. */
function holeRead(text: string, r: ExprRead, position?: SourcePosition): HoleRead {
  return { text, source: r.source, paths: r.paths, scope: r.scope, value: r.value, ...at(text, r.offset, position) };
}

/**
 * Renders a whole template text (a `template` module source file, a multi-line string) against
 * a scope: `{{ }}`, statements, comments, whitespace control, trim_blocks. Values print as
 * Jinja prints them (Python's str: `True`, `['a', 1]`; None as the empty string). Errors:
 * E_TEMPLATE / E_EXPR / E_UNDEFINED with file:line:column inside the template. `onRead` sees
 * every expression evaluated (the secret taint watch: Templater.observing).
 */
export function renderTemplateText(text: string, scope: Record<string, unknown>, position?: SourcePosition, onRead?: (read: HoleRead) => void): string {
  return renderCompiled(compileTemplate(text, position), scope, position, onRead && ((r) => onRead(holeRead(text, r, position))));
}

/** One `{{ expr }}` as evaluated: src/secrets (TaintWatch) watches these for secrets read. */
export interface HoleRead {
  text: string;
  source: string;
  paths: readonly string[];
  scope: Record<string, unknown>;
  value: unknown;
  position?: SourcePosition;
}

export class Templater {
  constructor(
    private readonly cache = new Map<string, Compiled>(),
    private readonly onRead?: (read: HoleRead) => void,
  ) {}

  /** The same templater (and its cache), reporting each evaluated hole to `onRead`: one per task. */
  observing(onRead: (read: HoleRead) => void): Templater {
    return new Templater(this.cache, onRead);
  }

  /** Parses (and for a shell dialect, checks every value position) once per text. */
  private compile(text: string, dialect: Dialect, position?: SourcePosition): Compiled {
    const key = `${dialect}\u0000${text}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    if (dialect === 'none' && hasStatements(text)) {
      if (text.length > MAX_TEMPLATE) throw new FleetmendError('E_TEMPLATE', `template longer than ${MAX_TEMPLATE} characters`, at(text, 0, position));
      const out: Compiled = { template: compileTemplate(text, position, { argStrings: true }) };
      this.cache.set(key, out);
      return out;
    }
    const parsed = parseTemplate(text, position);
    const out: Compiled = { parsed };
    if (dialect !== 'none' && parsed.holes.length) {
      if (text.includes(HOLE) || text.includes(RAW_HOLE)) {
        throw new FleetmendError('E_SHELL_QUOTE', `a control character (NUL or SOH) in a command template ${short(text)}`, at(text, 0, position));
      }
      const m = marked(parsed);
      try {
        out.plan = dialect === 'sh' ? planShell(m.text) : planWords(m.text);
      } catch (err) {
        if (!(err instanceof Unsafe)) throw err;
        const offset = m.toTemplate(err.offset);
        throw new FleetmendError('E_SHELL_QUOTE', `${err.message}: ${short(text)} (column ${offset + 1} of the command)`, at(text, offset, position));
      }
    }
    this.cache.set(key, out);
    return out;
  }

  /** An argument a module evaluates as an expression itself (`debug: var:`), reported like a hole. */
  observeExpression(source: string, scope: Record<string, unknown>, position?: SourcePosition): void {
    if (!this.onRead) return;
    const expr = compileExpr(source, position);
    let value: unknown;
    try {
      value = expr.evaluate(scope);
    } catch {
      value = undefined;
    }
    this.onRead({ text: source, source, paths: expr.paths, scope, value, ...(position ? { position } : {}) });
  }

  /** Load time: syntax, filters, and (for shell arguments) every value position is safe. */
  validate(text: string, position?: SourcePosition, dialect: Dialect = 'none'): void {
    if (!/\{[{%#]/.test(text)) return;
    this.compile(text, dialect, position);
  }

  private value(h: Hole, scope: Record<string, unknown>, text: string, shell: boolean, position?: SourcePosition): unknown {
    let v: unknown;
    try {
      v = (shell ? h.shellExpr : h.expr).evaluate(scope);
    } catch (err) {
      // the compiled hole is cached per text: the position is the one this render is for
      if (!(err instanceof FleetmendError) || err.code !== 'E_UNDEFINED') throw err;
      const reason = typeof err.details?.reason === 'string' ? err.details.reason : err.message;
      const whole = !text.slice(0, h.offset).trim() && !text.slice(h.end).trim();
      const where = whole ? '' : ` (in ${short(text)})`;
      throw new FleetmendError('E_UNDEFINED', `${reason} in {{ ${h.source.slice(0, 200)} }}${where}`, { ...at(text, h.offset, position), details: { reason } });
    }
    if (v === undefined) {
      throw new FleetmendError('E_TEMPLATE', `{{ ${h.source.slice(0, 200)} }} has no value (in ${short(text)})`, at(text, h.offset, position));
    }
    this.onRead?.({ text, source: h.source, paths: (shell ? h.shellExpr : h.expr).paths, scope, value: v, ...at(text, h.offset, position) });
    return v;
  }

  /** A whole template file (the `template` module): Jinja's file semantics, reads watched as every render's. */
  renderFile(text: string, scope: Record<string, unknown>, position?: SourcePosition): string {
    return renderTemplateText(text, scope, position, this.onRead);
  }

  /**
   * Renders one string. Outside shell arguments a string that is exactly `{{ expr }}` keeps the
   * value's type (so `backlog_limit: "{{ limit }}"` stays a number).
   */
  render(text: string, scope: Record<string, unknown>, dialect: Dialect | boolean, position?: SourcePosition): unknown {
    if (!/\{[{%#]/.test(text)) return text;
    const d: Dialect = dialect === true ? 'sh' : dialect === false ? 'none' : dialect;
    const { parsed, plan, template } = this.compile(text, d, position);
    if (template) return renderCompiled(template, scope, position, this.onRead && ((r) => this.onRead!(holeRead(text, r, position))));
    const { texts, holes } = parsed!;
    if (d === 'none') {
      if (holes.length === 1 && !texts[0]!.trim() && !texts[1]!.trim()) return this.value(holes[0]!, scope, text, false, position);
      return texts.reduce((acc, t, k) => acc + t + (holes[k] ? stringOf(this.value(holes[k]!, scope, text, false, position)) : ''), '');
    }
    const values = holes.map((h) => stringOf(this.value(h, scope, text, !h.raw, position)));
    const bad = values.findIndex((v) => v.includes('\u0000'));
    if (bad >= 0) throw new FleetmendError('E_SHELL_QUOTE', `the value of {{ ${holes[bad]!.source} }} contains a NUL character`, at(text, holes[bad]!.offset, position));
    let slot = 0;
    const quoted = values.map((v, k) => (holes[k]!.raw ? v : quoteForSlot(plan!.slots[slot++]!, v)));
    const safeIndex: number[] = [];
    holes.forEach((h, k) => {
      if (!h.raw) safeIndex.push(k);
    });
    const problem = plan ? heredocProblem(plan, safeIndex.map((k) => quoted[k]!), safeIndex.map((k) => values[k]!)) : undefined;
    if (problem) throw new FleetmendError('E_SHELL_QUOTE', `${problem} in ${short(text)}; refused`, at(text, 0, position));
    return texts.reduce((acc, t, k) => acc + t + (k < quoted.length ? quoted[k] : ''), '');
  }

  /** Renders every string in an argument tree; a top-level key's dialect comes from `dialects`. */
  renderArgs(
    args: Record<string, unknown>,
    scope: Record<string, unknown>,
    dialects: Readonly<Record<string, Dialect>>,
    noTemplate: readonly string[] = [],
    position?: SourcePosition,
  ): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(args)) {
      const r = noTemplate.includes(k) ? v : this.renderValue(v, scope, dialects[k] ?? 'none', position);
      if (r !== OMIT) out[k] = withoutOmit(r);
    }
    return out;
  }

  /** Renders every string of a value tree (no shell dialect): loop lists. */
  renderTree(v: unknown, scope: Record<string, unknown>, position?: SourcePosition): unknown {
    return this.renderValue(v, scope, 'none', position);
  }

  private renderValue(v: unknown, scope: Record<string, unknown>, dialect: Dialect, position?: SourcePosition): unknown {
    if (typeof v === 'string') return this.render(v, scope, dialect, position);
    if (Array.isArray(v)) return v.map((x) => this.renderValue(x, scope, dialect, position));
    if (v && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, this.renderValue(x, scope, dialect, position)]));
    }
    return v;
  }
}

/** Ansible's remove_omit below the top level: omitted keys of mappings, also mappings in lists. */
function withoutOmit(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutOmit);
  if (!v || typeof v !== 'object') return v;
  return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== OMIT).map(([k, x]) => [k, withoutOmit(x)]));
}

/** Each shell-interpreted argument of a module and its dialect. */
export function argDialects(mod: { shellArgs?: readonly string[]; wordArgs?: readonly string[] }): Record<string, Dialect> {
  const out: Record<string, Dialect> = {};
  for (const k of mod.shellArgs ?? []) out[k] = 'sh';
  for (const k of mod.wordArgs ?? []) out[k] = 'words';
  return out;
}
