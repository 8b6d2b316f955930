/**
 * Jinja templates with statements, as Ansible renders them (the `template` module, multi-line
 * strings): `{{ expr }}`, `{% if %}/{% elif %}/{% else %}/{% endif %}`, `{% for x in xs %}` (also
 * `for k, v in d.items()`, `{% else %}` for an empty loop, `loop.index`/`index0`/`first`/`last`/
 * `length`/`revindex`/`revindex0`), `{% set x = expr %}` (scoped to the loop iteration, as in
 * Jinja), `{% raw %}`, `{# comments #}`, whitespace control `{%- -%}`/`{{- -}}` and Ansible's
 * trim_blocks (the newline after a block or comment tag is dropped; lstrip_blocks stays off).
 * Other statements (include, import, macro, block, extends...) are refused when compiled.
 *
 * Bounds (besides each expression's, values.ts LIMITS): the template text, the nesting of blocks,
 * every loop iteration spends the render's one Budget, and the output's length.
 */
import { FleetmendError, type SourcePosition } from '../errors.js';
import { compileExpr, positionAt, type CompiledExpr } from './index.js';
import { parseExpr } from './parse.js';
import { Budget, ExprEvalError, LIMITS, isMapping, pyStr, truthy, typeName } from './values.js';

export const MAX_TEMPLATE_TEXT = 1_048_576;
const MAX_NESTING = 32;

type TNode =
  | { k: 'text'; text: string }
  | { k: 'out'; expr: CompiledExpr; at: number }
  | { k: 'if'; branches: { cond: CompiledExpr; body: TNode[]; at: number }[]; otherwise: TNode[] }
  | { k: 'for'; targets: string[]; iter: CompiledExpr; body: TNode[]; otherwise: TNode[]; at: number }
  | { k: 'set'; name: string; expr: CompiledExpr; at: number };

export interface CompiledTemplate {
  readonly text: string;
  readonly nodes: TNode[];
  /** Newlines at the end of the source: Ansible keeps that many (Templar preserve_trailing_newlines). */
  readonly trailingNewlines: number;
}

export interface TemplateOptions {
  /** A playbook string, not a template file: `{{ }}` string literals keep backslashes (compileExpr rawStrings). */
  argStrings?: boolean;
}

/** One expression a render evaluated (the templater reports these to the secret taint watch). */
export interface ExprRead {
  source: string;
  paths: readonly string[];
  scope: Record<string, unknown>;
  value: unknown;
  offset: number;
}

interface Tag {
  kind: 'var' | 'block' | 'comment';
  body: string;
  at: number;
  end: number;
  /** `{%-`: strip the whitespace before; `-%}`: strip after. */
  stripBefore: boolean;
  stripAfter: boolean;
  keepAfter: boolean;
}

type Piece = string | Tag;

function templateError(text: string, message: string, offset: number, position?: SourcePosition): FleetmendError {
  const p = positionAt(text, offset, position);
  return new FleetmendError('E_TEMPLATE', message, p ? { position: p } : {});
}

/**
 * The end of a `{{ }}` or `{% %}` tag starting at `from`: the closer outside string literals and
 * outside `{ }` of dict literals (Jinja's lexer balances braces the same way); -1 if none.
 */
export function tagEnd(text: string, from: number, closer: '}}' | '%}'): number {
  let quote: string | undefined;
  let depth = 0;
  for (let i = from; i < text.length - 1; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (depth === 0 && text.startsWith(closer, i)) return i;
    else if (c === '{') depth++;
    else if (c === '}' && depth > 0) depth--;
  }
  return -1;
}

/** Splits the text into literal text and tags, with `{% raw %}` kept as text. */
function lex(text: string, position?: SourcePosition): Piece[] {
  const out: Piece[] = [];
  let last = 0;
  const open = /\{([{%#])/g;
  for (let m = open.exec(text); m; m = open.exec(text)) {
    const at = m.index;
    const kind = m[1] === '{' ? 'var' : m[1] === '%' ? 'block' : 'comment';
    const closer = kind === 'var' ? '}}' : kind === 'block' ? '%}' : '#}';
    const end = kind === 'comment' ? text.indexOf('#}', at + 2) : tagEnd(text, at + 2, closer as '}}' | '%}');
    if (end < 0) throw templateError(text, `unclosed ${m[0]} (no ${closer})`, at, position);
    out.push(text.slice(last, at));
    let body = text.slice(at + 2, end);
    const stripBefore = body.startsWith('-');
    if (stripBefore || body.startsWith('+')) body = body.slice(1);
    const stripAfter = body.endsWith('-');
    const keepAfter = body.endsWith('+');
    if (stripAfter || keepAfter) body = body.slice(0, -1);
    const tag: Tag = { kind, body: body.trim(), at, end: end + 2, stripBefore, stripAfter, keepAfter };
    last = end + 2;
    if (kind === 'block' && tag.body === 'raw') {
      const close = /\{%([-+]?)\s*endraw\s*([-+]?)%\}/g;
      close.lastIndex = last;
      const c = close.exec(text);
      if (!c) throw templateError(text, '{% raw %} without {% endraw %}', at, position);
      // the raw tags print nothing; Jinja keeps the newline after {% raw %}, trims the one after {% endraw %}
      out.push({ ...tag, kind: 'comment', keepAfter: !tag.stripAfter }, text.slice(last, c.index), { ...tag, kind: 'comment', body: '', at: c.index, end: c.index + c[0].length, stripBefore: c[1] === '-', stripAfter: c[2] === '-', keepAfter: c[2] === '+' });
      last = c.index + c[0].length;
    } else out.push(tag);
    open.lastIndex = last;
  }
  out.push(text.slice(last));
  return applyWhitespaceControl(out);
}

/** `-` strips the whitespace next to a tag (trimStart/trimEnd: linear, unlike a `\s+$` regex); trim_blocks drops one newline after a block or comment tag. */
function applyWhitespaceControl(pieces: Piece[]): Piece[] {
  return pieces.map((p, i) => {
    if (typeof p !== 'string') return p;
    let s = p;
    const before = pieces[i - 1];
    const after = pieces[i + 1];
    if (typeof before === 'object') {
      if (before.stripAfter) s = s.trimStart();
      else if (before.kind !== 'var' && !before.keepAfter) s = s.replace(/^\r?\n/, '');
    }
    if (typeof after === 'object' && after.stripBefore) s = s.trimEnd();
    return s;
  });
}

interface Frame {
  /** The open block: its tag name and where its body is collected. */
  tag: string;
  at: number;
  node: Extract<TNode, { k: 'if' | 'for' }> | undefined;
  body: TNode[];
}

class TemplateParser {
  private readonly stack: Frame[] = [];
  constructor(
    private readonly text: string,
    private readonly position?: SourcePosition,
    private readonly opts: TemplateOptions = {},
  ) {}

  private expr(source: string, offset: number, inOutput = false): CompiledExpr {
    try {
      return compileExpr(source, positionAt(this.text, offset, this.position), { strictUndefined: true, rawStrings: inOutput && this.opts.argStrings === true });
    } catch (err) {
      if (!(err instanceof FleetmendError) || err.code !== 'E_EXPR') throw err;
      throw new FleetmendError('E_TEMPLATE', `bad template: ${err.message}`, err.position ? { position: err.position } : {});
    }
  }

  private fail(message: string, at: number): never {
    throw templateError(this.text, message, at, this.position);
  }

  parse(): TNode[] {
    const root: Frame = { tag: '', at: 0, node: undefined, body: [] };
    this.stack.push(root);
    for (const p of lex(this.text, this.position)) {
      const top = this.stack[this.stack.length - 1]!;
      if (typeof p === 'string') {
        if (p) top.body.push({ k: 'text', text: p });
      } else if (p.kind === 'var') {
        if (!p.body) this.fail('empty {{ }}', p.at);
        top.body.push({ k: 'out', expr: this.expr(p.body, this.bodyOffset(p), true), at: p.at });
      } else if (p.kind === 'block') this.statement(p);
    }
    const open = this.stack[this.stack.length - 1]!;
    if (open !== root) this.fail(`{% ${open.tag} %} is not closed (no {% end${open.tag} %})`, open.at);
    return root.body;
  }

  /** Where the tag's body starts in the text (for positions inside it). */
  private bodyOffset(t: Tag): number {
    const raw = this.text.slice(t.at + 2, t.end - 2);
    return t.at + 2 + raw.indexOf(t.body);
  }

  private statement(t: Tag): void {
    const m = /^(\w+)\s*([\s\S]*)$/.exec(t.body);
    if (!m) this.fail(`bad statement {% ${t.body.slice(0, 40)} %}`, t.at);
    const [, word, rest] = m as unknown as [string, string, string];
    const restAt = this.bodyOffset(t) + t.body.length - rest.length;
    const top = this.stack[this.stack.length - 1]!;
    switch (word) {
      case 'if':
        return this.open('if', t.at, { k: 'if', branches: [{ cond: this.expr(rest, restAt), body: [], at: t.at }], otherwise: [] });
      case 'for':
        return this.open('for', t.at, this.forNode(rest, restAt, t.at));
      case 'elif':
        if (top.tag !== 'if' || top.node?.k !== 'if' || top.body === top.node.otherwise) this.fail('{% elif %} outside an {% if %}', t.at);
        top.node.branches.push({ cond: this.expr(rest, restAt), body: [], at: t.at });
        top.body = top.node.branches[top.node.branches.length - 1]!.body;
        return;
      case 'else':
        if (!top.node || top.body === top.node.otherwise) this.fail('{% else %} outside an {% if %} or {% for %}', t.at);
        top.body = top.node.otherwise;
        return;
      case 'endif':
      case 'endfor':
        if (top.tag !== word.slice(3)) this.fail(`{% ${word} %} without its {% ${word.slice(3)} %}`, t.at);
        this.stack.pop();
        return;
      case 'set': {
        const s = /^([A-Za-z_]\w*)\s*=\s*([\s\S]+)$/.exec(rest);
        if (!s) this.fail('{% set %} takes one name and an expression: {% set x = expr %}', t.at);
        top.body.push({ k: 'set', name: s[1]!, expr: this.expr(s[2]!, restAt + rest.indexOf(s[2]!)), at: t.at });
        return;
      }
      default:
        this.fail(`the Jinja statement {% ${word} %} is not supported (supported: if/elif/else/endif, for/else/endfor, set, raw, comments)`, t.at);
    }
  }

  private forNode(rest: string, restAt: number, at: number): Extract<TNode, { k: 'for' }> {
    const f = /^([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s+in\s+([\s\S]+)$/.exec(rest);
    if (!f) this.fail('{% for %} reads {% for x in expr %} or {% for k, v in expr %}', at);
    if (/\brecursive\s*$/.test(f[2]!)) this.fail('recursive loops are not supported', at);
    if (isFilteredLoop(f[2]!)) this.fail('loop filtering ({% for x in xs if cond %}) is not supported; filter the list with select/selectattr/rejectattr', at);
    const targets = f[1]!.split(',').map((s) => s.trim());
    if (targets.includes('loop')) this.fail("'loop' is the loop variable; name the item otherwise", at);
    return { k: 'for', targets, iter: this.expr(f[2]!, restAt + rest.indexOf(f[2]!, f[1]!.length)), body: [], otherwise: [], at };
  }

  private open(tag: string, at: number, node: Extract<TNode, { k: 'if' | 'for' }>): void {
    if (this.stack.length > MAX_NESTING) this.fail(`blocks nested deeper than ${MAX_NESTING}`, at);
    this.stack[this.stack.length - 1]!.body.push(node);
    this.stack.push({ tag, at, node, body: node.k === 'if' ? node.branches[0]!.body : node.body });
  }
}

/**
 * Parses a template once (E_TEMPLATE / E_EXPR with file:line:column for any error in it). As
 * Jinja's lexer: newlines normalized to `\n`, and one trailing newline dropped
 * (keep_trailing_newline is off); renderCompiled then restores the source's count of trailing
 * newlines, as Ansible's Templar does.
 */
export function compileTemplate(text: string, position?: SourcePosition, opts: TemplateOptions = {}): CompiledTemplate {
  if (text.length > MAX_TEMPLATE_TEXT) throw templateError(text, `template longer than ${MAX_TEMPLATE_TEXT} characters`, 0, position);
  const normalized = text.replace(/\r\n?/g, '\n');
  const source = normalized.endsWith('\n') ? normalized.slice(0, -1) : normalized;
  return { text: source, nodes: new TemplateParser(source, position, opts).parse(), trailingNewlines: trailingNewlines(normalized) };
}

/** `xs if cond` without else: Jinja's loop filter, which the expression grammar would read as an inline if. */
function isFilteredLoop(source: string): boolean {
  try {
    const ast = parseExpr(source);
    return ast.type === 'cond' && ast.else === undefined;
  } catch {
    return false;
  }
}

/** Counted by a loop: a `\n+$` regex is quadratic on a long run of newlines followed by text. */
function trailingNewlines(s: string): number {
  let n = 0;
  while (n < s.length && s[s.length - 1 - n] === '\n') n++;
  return n;
}

/**
 * A scope with local variables (loop items, `set`) in front of it. The locals are own
 * properties of the view; the scope's own properties are read through (its accessors included,
 * the playbook's lazily templated variables), and nothing else is.
 */
function withLocals(scope: Record<string, unknown>, locals: Map<string, unknown>): Record<string, unknown> {
  const own = (k: string | symbol) => typeof k === 'string' && Object.prototype.hasOwnProperty.call(scope, k);
  return new Proxy(Object.create(null) as Record<string, unknown>, {
    get: (_t, k) => (typeof k === 'string' && locals.has(k) ? locals.get(k) : own(k) ? Reflect.get(scope, k) : undefined),
    has: (_t, k) => (typeof k === 'string' && locals.has(k)) || own(k),
    getOwnPropertyDescriptor: (_t, k) => {
      if (typeof k === 'string' && locals.has(k)) return { value: locals.get(k), enumerable: true, configurable: true, writable: false };
      const d = own(k) ? Reflect.getOwnPropertyDescriptor(scope, k) : undefined;
      return d ? { ...d, configurable: true } : undefined;
    },
    ownKeys: () => [...new Set([...Object.keys(scope), ...locals.keys()])],
  });
}

interface RenderState {
  budget: Budget;
  out: string[];
  length: number;
  onRead?: (r: ExprRead) => void;
  text: string;
}

function evalIn(state: RenderState, expr: CompiledExpr, scope: Record<string, unknown>, offset: number, report: (v: unknown) => unknown = (v) => v): unknown {
  const value = expr.evaluate(scope, state.budget);
  state.onRead?.({ source: expr.source, paths: expr.paths, scope, value: report(value), offset });
  return value;
}

/** What a `for` iterates: a list, a mapping's keys, a string's characters. */
function iterable(v: unknown, at: number): unknown[] {
  if (Array.isArray(v)) return v;
  if (isMapping(v)) return Object.keys(v);
  if (typeof v === 'string') return [...v];
  throw new ExprEvalError(`a ${typeName(v)} cannot be iterated in {% for %}`, at);
}

function emit(state: RenderState, s: string, at: number): void {
  state.length += s.length;
  if (state.length > LIMITS.string) throw templateError(state.text, `template output longer than ${LIMITS.string} characters`, at);
  state.out.push(s);
}

function renderNodes(nodes: TNode[], scope: Record<string, unknown>, locals: Map<string, unknown>, state: RenderState): void {
  const view = () => withLocals(scope, locals);
  for (const n of nodes) {
    switch (n.k) {
      case 'text':
        emit(state, n.text, 0);
        break;
      case 'out': {
        const v = evalIn(state, n.expr, view(), n.at);
        // Ansible's finalize: None prints as the empty string
        emit(state, v === null || v === undefined ? '' : pyStr(v), n.at);
        break;
      }
      case 'set':
        locals.set(n.name, evalIn(state, n.expr, view(), n.at));
        break;
      case 'if': {
        const hit = n.branches.find((b) => truthy(evalIn(state, b.cond, view(), b.at)));
        renderNodes(hit ? hit.body : n.otherwise, scope, locals, state);
        break;
      }
      case 'for':
        renderFor(n, scope, locals, state, view());
        break;
    }
  }
}

function renderFor(n: Extract<TNode, { k: 'for' }>, scope: Record<string, unknown>, locals: Map<string, unknown>, state: RenderState, view: Record<string, unknown>): void {
  // reported as a list of its items: a secret iterated is a secret taken apart
  const items = iterable(evalIn(state, n.iter, view, n.at, (v) => (typeof v === 'string' ? [...v] : v)), n.at);
  if (!items.length) return renderNodes(n.otherwise, scope, locals, state);
  items.forEach((item, i) => {
    state.budget.spend(1, n.at);
    const inner = new Map(locals);
    if (n.targets.length === 1) inner.set(n.targets[0]!, item);
    else {
      if (!Array.isArray(item) || item.length !== n.targets.length) throw new ExprEvalError(`cannot unpack a ${typeName(item)} into ${n.targets.length} names`, n.at);
      n.targets.forEach((t, j) => inner.set(t, item[j]));
    }
    const len = items.length;
    inner.set('loop', { index: i + 1, index0: i, first: i === 0, last: i === len - 1, length: len, revindex: len - i, revindex0: len - i - 1, ...(i > 0 ? { previtem: items[i - 1] } : {}), ...(i < len - 1 ? { nextitem: items[i + 1] } : {}) });
    renderNodes(n.body, scope, inner, state);
  });
}

/** Renders a compiled template against a scope; every expression spends one shared budget. */
export function renderCompiled(t: CompiledTemplate, scope: Record<string, unknown>, position?: SourcePosition, onRead?: (r: ExprRead) => void): string {
  const state: RenderState = { budget: new Budget(), out: [], length: 0, text: t.text, ...(onRead ? { onRead } : {}) };
  try {
    renderNodes(t.nodes, scope, new Map(), state);
  } catch (err) {
    if (err instanceof FleetmendError) throw err.position || !position ? err : new FleetmendError(err.code, err.message, { position: positionAt(t.text, 0, position)! });
    if (err instanceof ExprEvalError) throw templateError(t.text, err.message, err.offset, position);
    throw err;
  }
  const out = state.out.join('');
  return out + '\n'.repeat(Math.max(0, t.trailingNewlines - trailingNewlines(out)));
}
