/**
 * Evaluation of the AST against a plain scope object.
 *
 * Semantics, chosen so that conditions over missing facts are safe:
 * - an unknown name or a missing key is `undefined` (so `defined(x)` works);
 * - every comparison (`== != < <= > >= in`, `not in`) with an undefined operand is false —
 *   like SQL NULL: `x != 1` is false when x is unknown, so `not (x == 1)` differs on purpose;
 * - arithmetic with undefined/null gives undefined (which then compares false);
 *   arithmetic on other non-numbers is a type error (E_EXPR at evaluation);
 * - `and`/`or`/`not` use truthiness (0, '', [], {}, null, undefined are false) and return booleans;
 * - only own properties of plain objects/arrays are read: no prototype, no getters invoked by name
 *   (`constructor`, `__proto__` are just missing keys); an own accessor the caller defined is
 *   read like a value (the playbook scope's variables that are templated when read).
 *
 * Playbooks evaluate with `strict` on, Ansible's semantics instead: a missing name or key is an
 * `Undefined` value that only `default`/`d`, the tests `defined`/`undefined`/`none`, `defined()`
 * and further member access (`x.y.z is defined`: Ansible's chained undefined) accept; any other
 * use of it (a comparison, `not`, `and`/`or` reaching it, a filter, arithmetic, the final value)
 * throws ExprUndefinedError naming the variable, as Ansible's "'x' is undefined".
 */
import type { BinaryOp, Node } from './parse.js';

export class ExprEvalError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

/** A use of an undefined variable in strict mode (Ansible: AnsibleUndefinedVariable). */
export class ExprUndefinedError extends ExprEvalError {}

/** What a missing name or key evaluates to in strict mode; the message says which one. */
export class Undefined {
  constructor(readonly message: string) {}
}

export function isUndefined(v: unknown): boolean {
  return v === undefined || v instanceof Undefined;
}

/** The value, or ExprUndefinedError if it is an Undefined (strict mode's "using" a value). */
function use(v: unknown, at: number): unknown {
  if (v instanceof Undefined) throw new ExprUndefinedError(v.message, at);
  return v;
}

interface Ctx {
  scope: unknown;
  strict: boolean;
}

export function truthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (v !== null && typeof v === 'object') return Object.keys(v).length > 0;
  return Boolean(v);
}

function lookup(obj: unknown, key: unknown): unknown {
  if (obj === null || obj === undefined) return undefined;
  if (Array.isArray(obj)) {
    return typeof key === 'number' && Number.isInteger(key) && key >= 0 && key < obj.length ? obj[key] : undefined;
  }
  if (typeof obj === 'string') {
    return typeof key === 'number' && Number.isInteger(key) && key >= 0 ? obj[key] : undefined;
  }
  if (typeof obj !== 'object' || (typeof key !== 'string' && typeof key !== 'number')) return undefined;
  if (obj instanceof Map) return obj.get(key);
  const k = String(key);
  return Object.prototype.hasOwnProperty.call(obj, k) ? (obj as Record<string, unknown>)[k] : undefined;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  return false;
}

function compare(op: BinaryOp, a: unknown, b: unknown): boolean {
  if (a === undefined || b === undefined) return false;
  if (op === '==') return deepEqual(a, b);
  if (op === '!=') return !deepEqual(a, b);
  if (op === 'in' || op === 'not in') {
    const found = contains(b, a);
    if (found === undefined) return false;
    return op === 'in' ? found : !found;
  }
  const comparable = (typeof a === 'number' && typeof b === 'number') || (typeof a === 'string' && typeof b === 'string');
  if (!comparable) return false;
  const x = a as number | string;
  const y = b as number | string;
  return op === '<' ? x < y : op === '<=' ? x <= y : op === '>' ? x > y : x >= y;
}

/** `needle in haystack`: list element, substring, or own key; undefined when not applicable. */
function contains(haystack: unknown, needle: unknown): boolean | undefined {
  if (Array.isArray(haystack)) return haystack.some((x) => deepEqual(x, needle));
  if (typeof haystack === 'string') return typeof needle === 'string' ? haystack.includes(needle) : undefined;
  if (haystack !== null && typeof haystack === 'object' && typeof needle === 'string') {
    return Object.prototype.hasOwnProperty.call(haystack, needle);
  }
  return undefined;
}

function arithmetic(node: Extract<Node, { type: 'binary' }>, a: unknown, b: unknown): unknown {
  if (a === undefined || b === undefined || a === null || b === null) return undefined;
  if (node.op === '+' && typeof a === 'string' && typeof b === 'string') return a + b;
  if (node.op === '+' && Array.isArray(a) && Array.isArray(b)) return [...a, ...b];
  if (typeof a !== 'number' || typeof b !== 'number') {
    throw new ExprEvalError(`'${node.op}' needs numbers, got ${typeName(a)} and ${typeName(b)}`, node.at);
  }
  switch (node.op) {
    case '+':
      return a + b;
    case '-':
      return a - b;
    case '*':
      return a * b;
    default:
      return b === 0 ? undefined : a / b;
  }
}

export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'list';
  return typeof v === 'object' ? 'mapping' : typeof v;
}

function numbersOf(fn: string, args: unknown[], at: number): number[] | undefined {
  const list = args.length === 1 && Array.isArray(args[0]) ? (args[0] as unknown[]) : args;
  if (list.some((x) => x === undefined || x === null)) return undefined;
  if (list.some((x) => typeof x !== 'number')) throw new ExprEvalError(`${fn}() needs numbers`, at);
  return list as number[];
}

function call(node: Extract<Node, { type: 'call' }>, ctx: Ctx): unknown {
  if (node.fn === 'defined') return !isUndefined(evaluate(node.args[0] as Node, ctx));
  const args = node.args.map((a) => use(evaluate(a, ctx), a.at));
  const x = args[0];
  switch (node.fn) {
    case 'len':
      if (typeof x === 'string' || Array.isArray(x)) return x.length;
      if (x !== null && typeof x === 'object') return Object.keys(x).length;
      if (x === undefined || x === null) return undefined;
      throw new ExprEvalError(`len() of a ${typeName(x)}`, node.at);
    case 'int':
      if (typeof x === 'number') return Number.isFinite(x) ? Math.trunc(x) : undefined;
      if (typeof x === 'boolean') return x ? 1 : 0;
      if (typeof x === 'string' && /^\s*[+-]?\d+\s*$/.test(x)) return Number.parseInt(x, 10);
      return undefined;
    case 'abs': {
      const n = numbersOf('abs', args, node.at);
      return n ? Math.abs(n[0] as number) : undefined;
    }
    case 'min':
    case 'max': {
      const n = numbersOf(node.fn, args, node.at);
      if (!n || n.length === 0) return undefined;
      return node.fn === 'min' ? Math.min(...n) : Math.max(...n);
    }
  }
  throw new ExprEvalError(`unknown function ${node.fn}`, node.at);
}

/** Python's shlex.quote (what Ansible's `quote` filter returns). */
export function shlexQuote(s: string): string {
  if (s === '') return "''";
  if (/^[\w@%+=:,./-]+$/.test(s) && /^[\x00-\x7f]*$/.test(s)) return s;
  return `'${s.replace(/'/g, `'"'"'`)}'`;
}

/** Jinja's int(): numbers truncated, numeric strings parsed, anything else the default (0). */
function toInt(x: unknown, fallback: unknown): unknown {
  if (x === undefined) return undefined;
  if (typeof x === 'boolean') return x ? 1 : 0;
  if (typeof x === 'number') return Number.isFinite(x) ? Math.trunc(x) : fallback;
  if (typeof x === 'string') {
    if (/^\s*[+-]?\d+\s*$/.test(x)) return Number.parseInt(x, 10);
    if (/^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/.test(x)) return Math.trunc(Number(x));
  }
  return fallback;
}

/** Ansible's bool filter: true for true, 1, 'yes', 'on', '1', 'true' (any case); else false. */
function toBool(x: unknown): unknown {
  if (x === undefined) return undefined;
  if (typeof x === 'boolean') return x;
  if (typeof x === 'number') return x === 1;
  if (typeof x === 'string') return ['yes', 'on', '1', 'true'].includes(x.trim().toLowerCase());
  return false;
}

export function stringOf(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function filter(node: Extract<Node, { type: 'filter' }>, ctx: Ctx): unknown {
  const raw = evaluate(node.value, ctx);
  const args = node.args.map((a) => use(evaluate(a, ctx), a.at));
  if (node.name === 'default' || node.name === 'd') {
    // default(value, true) also replaces falsy values, as in Jinja
    return isUndefined(raw) || (args[1] === true && !truthy(raw)) ? (args.length ? args[0] : '') : raw;
  }
  const x = use(raw, node.value.at);
  switch (node.name) {
    case 'int':
      return toInt(x, args.length ? args[0] : 0);
    case 'bool':
      return toBool(x);
    case 'quote':
      return x === undefined ? undefined : shlexQuote(stringOf(x));
  }
}

function test(node: Extract<Node, { type: 'test' }>, ctx: Ctx): boolean {
  const raw = evaluate(node.value, ctx);
  // defined/undefined/none take an undefined value (Jinja: `x is none` is false for it)
  const x = ['defined', 'undefined', 'none'].includes(node.name) ? raw : use(raw, node.value.at);
  const flag = (k: string) => x !== null && typeof x === 'object' && (x as Record<string, unknown>)[k] === true;
  let r: boolean;
  switch (node.name) {
    case 'defined':
      r = !isUndefined(x);
      break;
    case 'undefined':
      r = isUndefined(x);
      break;
    case 'none':
      r = x === null;
      break;
    case 'changed':
      r = flag('changed');
      break;
    case 'failed':
    case 'failure':
      r = flag('failed');
      break;
    case 'succeeded':
    case 'success':
      r = x !== null && typeof x === 'object' && !flag('failed');
      break;
    case 'skipped':
      r = flag('skipped');
      break;
  }
  return node.negate ? !r : r;
}

/**
 * Evaluates against a scope. `strict`: Ansible's undefined semantics (see the header); the result
 * may be an Undefined, which the caller decides about (compileExpr throws for it).
 */
export function evaluateNode(node: Node, scope: unknown, strict = false): unknown {
  return evaluate(node, { scope, strict });
}

/** The dotted path a node reads: `a.b["c"]` → `a.b.c`, `a[0]` → `a.0`; a dynamic part → undefined. */
function pathName(n: Node): string | undefined {
  if (n.type === 'name') return n.name;
  if (n.type === 'member' && n.key.type === 'literal' && (typeof n.key.value === 'string' || typeof n.key.value === 'number')) {
    const base = pathName(n.object);
    return base === undefined ? undefined : `${base}.${n.key.value}`;
  }
  return undefined;
}

function member(node: Extract<Node, { type: 'member' }>, ctx: Ctx): unknown {
  const obj = evaluate(node.object, ctx);
  // Ansible's chained undefined: `x.y` of an undefined x is that same undefined
  if (obj instanceof Undefined) return obj;
  const key = use(evaluate(node.key, ctx), node.key.at);
  const v = lookup(obj, key);
  if (v !== undefined || !ctx.strict) return v;
  const base = pathName(node.object);
  const full = pathName(node);
  return new Undefined(full !== undefined ? `'${full}' is undefined` : `'${base ?? typeName(obj)}' has no attribute ${JSON.stringify(key)}`);
}

function evaluate(node: Node, ctx: Ctx): unknown {
  switch (node.type) {
    case 'literal':
      return node.value;
    case 'name': {
      const v = lookup(ctx.scope, node.name);
      return v === undefined && ctx.strict ? new Undefined(`'${node.name}' is undefined`) : v;
    }
    case 'member':
      return member(node, ctx);
    case 'list':
      return node.items.map((i) => use(evaluate(i, ctx), i.at));
    case 'call':
      return call(node, ctx);
    case 'filter':
      return filter(node, ctx);
    case 'test':
      return test(node, ctx);
    case 'unary': {
      const v = use(evaluate(node.arg, ctx), node.arg.at);
      if (node.op === 'not') return !truthy(v);
      if (v === undefined || v === null) return undefined;
      if (typeof v !== 'number') throw new ExprEvalError(`unary '-' needs a number, got ${typeName(v)}`, node.at);
      return -v;
    }
    case 'logical': {
      // short-circuit as Jinja: `true or x` and `false and x` never read x
      const left = truthy(use(evaluate(node.left, ctx), node.left.at));
      const right = () => truthy(use(evaluate(node.right, ctx), node.right.at));
      return node.op === 'and' ? left && right() : left || right();
    }
    case 'binary': {
      const a = use(evaluate(node.left, ctx), node.left.at);
      const b = use(evaluate(node.right, ctx), node.right.at);
      if (['+', '-', '*', '/'].includes(node.op)) return arithmetic(node, a, b);
      return compare(node.op, a, b);
    }
  }
}

/** Dotted paths read by the expression: `a.b`, `a["k"]` → `a.k`, `a[0]` → `a.0`; a dynamic index stops the path. */
export function pathsOf(root: Node): string[] {
  const out = new Set<string>();
  const walk = (n: Node): void => {
    const p = pathName(n);
    if (p !== undefined) {
      out.add(p);
      return;
    }
    switch (n.type) {
      case 'member':
        walk(n.object);
        walk(n.key);
        break;
      case 'call':
      case 'list':
        (n.type === 'call' ? n.args : n.items).forEach(walk);
        break;
      case 'filter':
        walk(n.value);
        n.args.forEach(walk);
        break;
      case 'test':
        walk(n.value);
        break;
      case 'unary':
        walk(n.arg);
        break;
      case 'logical':
      case 'binary':
        walk(n.left);
        walk(n.right);
        break;
      default:
        break;
    }
  };
  walk(root);
  return [...out];
}
