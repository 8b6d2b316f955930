/**
 * Handlebars interpolation of task arguments. A value interpolated into a shell context (a
 * module's `shellArgs`, e.g. `shell: cmd`) is shell-quoted automatically — inventory, facts or
 * `-e` values can never inject commands — unless the author writes `{{ raw var }}`. We rewrite
 * the template's AST so every `{{ expr }}` in a shell context becomes `{{ shq (expr) }}`: the
 * quoting does not depend on authors remembering a helper. Own Handlebars instance, templates
 * compiled once per run (per Templater), strict (an undefined variable is an error).
 */
import Handlebars from 'handlebars';
import { FleetmendError, type SourcePosition } from '../errors.js';
import { shellQuote } from '../transport/become.js';

type AST = hbs.AST.Program;
type Statement = hbs.AST.Statement;

const WHOLE_VAR = /^\s*\{\{\s*([A-Za-z_][\w]*(?:\.[A-Za-z_0-9][\w]*)*)\s*\}\}\s*$/;

function stringify(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function rewriteShell(node: AST): AST {
  node.body = node.body.map(rewriteStatement);
  return node;
}

function rewriteStatement(s: Statement): Statement {
  if (s.type === 'BlockStatement') {
    const b = s as hbs.AST.BlockStatement;
    if (b.program) rewriteShell(b.program);
    if (b.inverse) rewriteShell(b.inverse);
    return b;
  }
  if (s.type !== 'MustacheStatement') return s;
  const m = s as hbs.AST.MustacheStatement;
  if (m.path.type === 'PathExpression' && (m.path as hbs.AST.PathExpression).original === 'raw') return m;
  const inner: hbs.AST.Expression =
    m.params.length || (m.hash && m.hash.pairs.length)
      ? ({ type: 'SubExpression', path: m.path, params: m.params, hash: m.hash, loc: m.loc } as hbs.AST.SubExpression)
      : (m.path as hbs.AST.Expression);
  const shq: hbs.AST.PathExpression = { type: 'PathExpression', data: false, depth: 0, parts: ['shq'], original: 'shq', loc: m.loc };
  // The expression's text travels along so an undefined value can be named in the error.
  const text = m.path.type === 'PathExpression' ? (m.path as hbs.AST.PathExpression).original : 'expression';
  const exprLiteral = { type: 'StringLiteral', value: text, original: text, loc: m.loc } as hbs.AST.StringLiteral;
  const hash = { type: 'Hash', pairs: [{ type: 'HashPair', key: 'expr', value: exprLiteral, loc: m.loc }], loc: m.loc } as hbs.AST.Hash;
  return { ...m, path: shq, params: [inner], hash } as hbs.AST.MustacheStatement;
}

function lookup(scope: Record<string, unknown>, path: string): unknown {
  let cur: unknown = scope;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || !(part in (cur as object))) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

export class Templater {
  private readonly hb = Handlebars.create();
  private readonly cache = new Map<string, HandlebarsTemplateDelegate>();

  constructor() {
    // Strict mode does not cover helper parameters: an undefined value is refused here.
    const defined = (v: unknown, what: string): unknown => {
      if (v === undefined) throw new Error(`"${what}" is not defined`);
      return v;
    };
    this.hb.registerHelper('shq', (v: unknown, options: Handlebars.HelperOptions) =>
      shellQuote(stringify(defined(v, String(options.hash?.expr ?? 'value')))),
    );
    this.hb.registerHelper('raw', (v: unknown) => stringify(defined(v, 'raw argument')));
  }

  /** Parse only (load time): a template syntax error is reported before any host is contacted. */
  validate(text: string, position?: SourcePosition): void {
    if (!text.includes('{{')) return;
    try {
      this.hb.parse(text);
    } catch (err) {
      throw new FleetmendError('E_TEMPLATE', `bad template ${JSON.stringify(text)}: ${(err as Error).message.split('\n')[0]}`, {
        ...(position ? { position } : {}),
      });
    }
  }

  /**
   * Renders one string. Outside shell contexts a string that is exactly `{{ var }}` keeps the
   * variable's type (so `backlog_limit: "{{ limit }}"` stays a number).
   */
  render(text: string, scope: Record<string, unknown>, shell: boolean, position?: SourcePosition): unknown {
    if (!text.includes('{{')) return text;
    const where = position ? { position } : {};
    if (!shell) {
      const whole = WHOLE_VAR.exec(text);
      if (whole) {
        const v = lookup(scope, whole[1] as string);
        if (v === undefined) throw new FleetmendError('E_TEMPLATE', `undefined variable '${whole[1]}' in ${JSON.stringify(text)}`, where);
        return v;
      }
    }
    const key = `${shell ? 'sh' : 'str'}\u0000${text}`;
    let tpl = this.cache.get(key);
    try {
      if (!tpl) {
        const ast = this.hb.parse(text);
        tpl = this.hb.compile(shell ? rewriteShell(ast) : ast, { noEscape: true, strict: true });
        this.cache.set(key, tpl);
      }
      return tpl(scope);
    } catch (err) {
      throw new FleetmendError('E_TEMPLATE', `cannot render ${JSON.stringify(text)}: ${(err as Error).message.split('\n')[0]}`, where);
    }
  }

  /** Renders every string in an argument tree; top-level keys in `shellArgs` are shell contexts. */
  renderArgs(
    args: Record<string, unknown>,
    scope: Record<string, unknown>,
    shellArgs: readonly string[],
    noTemplate: readonly string[] = [],
    position?: SourcePosition,
  ): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(args)) {
      out[k] = noTemplate.includes(k) ? v : this.renderValue(v, scope, shellArgs.includes(k), position);
    }
    return out;
  }

  private renderValue(v: unknown, scope: Record<string, unknown>, shell: boolean, position?: SourcePosition): unknown {
    if (typeof v === 'string') return this.render(v, scope, shell, position);
    if (Array.isArray(v)) return v.map((x) => this.renderValue(x, scope, shell, position));
    if (v && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, this.renderValue(x, scope, shell, position)]));
    }
    return v;
  }
}
