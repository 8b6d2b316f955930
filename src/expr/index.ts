/**
 * Safe expressions for playbook `when:` and policy conditions (see parse.ts for the grammar,
 * evaluate.ts for the semantics). Compile once at load time, so a bad expression is an
 * E_EXPR with file:line:column before any host is contacted.
 */
import { FleetmendError, type SourcePosition } from '../errors.js';
import { ExprEvalError, ExprUndefinedError, Undefined, evaluateNode, isUndefined, pathsOf, shlexQuote, stringOf, truthy, typeName } from './evaluate.js';
import { ExprSyntaxError, FILTERS, FUNCTIONS, MAX_SOURCE, parseExpr, type Node } from './parse.js';
import { Budget, pyStr } from './values.js';

export { truthy, typeName, shlexQuote, stringOf, pyStr, isUndefined, Undefined, Budget, FILTERS, FUNCTIONS, MAX_SOURCE, type Node };

export interface CompileOptions {
  /**
   * Ansible's semantics (playbooks): using an undefined variable is E_UNDEFINED naming it.
   * Off (policy conditions): a missing fact is `undefined` and every comparison with it is false.
   */
  strictUndefined?: boolean;
  /**
   * Backslashes in string literals are literal: `{{ }}` in a playbook string, where Ansible
   * doubles them before Jinja reads the literal (Templar's _escape_backslashes), so
   * `regex_replace('(\d+)', '\1')` works as written there. Template files decode escapes.
   */
  rawStrings?: boolean;
}

export interface CompiledExpr {
  readonly source: string;
  /**
   * Evaluates against a scope object; throws E_EXPR (with position) on a type error, and in
   * strict mode E_UNDEFINED when an undefined variable is used or is the result.
   */
  evaluate(scope: unknown, budget?: Budget): unknown;
  /** Dotted paths the expression reads, e.g. `audit.backlog_limit`. */
  readonly paths: string[];
}

/**
 * Where the character at `offset` of the expression is in the file. `position` is where the
 * expression's first character is (for a quoted YAML scalar, one after the quote): on the
 * first line the column is shifted by the position's column, on later lines it is the column
 * within the expression's own line (block scalars are approximated).
 */
export function positionAt(source: string, offset: number, position?: SourcePosition): SourcePosition | undefined {
  if (!position) return undefined;
  const before = source.slice(0, Math.max(0, offset));
  const lines = before.split('\n');
  const lineInExpr = lines.length - 1;
  const col = (lines[lines.length - 1] ?? '').length;
  const out: SourcePosition = { file: position.file };
  if (position.line !== undefined) out.line = position.line + lineInExpr;
  if (lineInExpr === 0) {
    if (position.column !== undefined) out.column = position.column + col;
    else out.column = col + 1;
  } else out.column = col + 1;
  return out;
}

function exprError(source: string, message: string, offset: number, position?: SourcePosition): FleetmendError {
  const where = positionAt(source, offset, position);
  return new FleetmendError('E_EXPR', `${message} in expression ${JSON.stringify(source.slice(0, 200))} (column ${offset + 1})`, {
    ...(where ? { position: where } : {}),
    details: { source, offset },
  });
}

function undefinedError(source: string, message: string, offset: number, position?: SourcePosition): FleetmendError {
  const where = positionAt(source, offset, position);
  return new FleetmendError('E_UNDEFINED', `${message} in ${JSON.stringify(source.slice(0, 200))}`, {
    ...(where ? { position: where } : {}),
    details: { source, offset, reason: message },
  });
}

/** Parses and checks an expression. Throws FleetmendError E_EXPR with file:line:column. */
export function compileExpr(source: string, position?: SourcePosition, opts: CompileOptions = {}): CompiledExpr {
  if (typeof source !== 'string') throw exprError(String(source), 'expression must be a string', 0, position);
  let ast: Node;
  try {
    ast = parseExpr(source, opts.rawStrings === true);
  } catch (err) {
    if (err instanceof ExprSyntaxError) throw exprError(source, err.message, err.offset, position);
    throw err;
  }
  const paths = pathsOf(ast);
  return {
    source,
    paths,
    evaluate(scope: unknown, budget?: Budget): unknown {
      try {
        const v = evaluateNode(ast, scope, opts.strictUndefined === true, budget);
        if (v instanceof Undefined) throw new ExprUndefinedError(v.message, 0);
        return v;
      } catch (err) {
        if (err instanceof ExprUndefinedError) throw undefinedError(source, err.message, err.offset, position);
        if (err instanceof ExprEvalError) throw exprError(source, err.message, err.offset, position);
        if (err instanceof RangeError) throw exprError(source, 'expression too deep to evaluate', 0, position);
        throw err;
      }
    },
  };
}

/** Compiles and evaluates to a boolean by truthiness (for `when:`). */
export function evaluateCondition(expr: CompiledExpr, scope: unknown): boolean {
  return truthy(expr.evaluate(scope));
}

/** The value at a dotted path of a scope (own properties only), as the expressions see it. */
export function valueAtPath(scope: unknown, path: string): unknown {
  let cur: unknown = scope;
  for (const part of path.split('.')) {
    if (cur === null || cur === undefined || typeof cur !== 'object') return undefined;
    if (Array.isArray(cur)) {
      const i = /^\d+$/.test(part) ? Number(part) : -1;
      cur = i >= 0 && i < cur.length ? cur[i] : undefined;
    } else {
      cur = Object.prototype.hasOwnProperty.call(cur, part) ? (cur as Record<string, unknown>)[part] : undefined;
    }
  }
  return cur;
}
