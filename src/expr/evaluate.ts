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
 *   read like a value (the playbook scope's variables that are templated when read). Methods are
 *   an allow-list per type (methods.ts), never a JavaScript property that is called.
 *
 * Playbooks evaluate with `strict` on, Ansible's semantics instead: a missing name or key is an
 * `Undefined` value that only `default`/`d`, the tests `defined`/`undefined`/`none`, `defined()`
 * and further member access (`x.y.z is defined`: Ansible's chained undefined) accept; any other
 * use of it (a comparison, `not`, `and`/`or` reaching it, a filter, arithmetic, the final value)
 * throws ExprUndefinedError naming the variable, as Ansible's "'x' is undefined".
 *
 * Every node evaluated and every item a filter walks spends from one Budget (values.ts), so no
 * expression can run unbounded.
 */
import type { BinaryOp, KwArg, Node } from './parse.js';
import { applyFilter } from './filters.js';
import { applyTest, RAW_TESTS } from './tests.js';
import { callMethod } from './methods.js';
import {
  Budget,
  tupleOf,
  compare,
  lookup,
  type Call,
  type Env,
  ExprEvalError,
  ExprUndefinedError,
  LIMITS,
  Undefined,
  boundedList,
  boundedString,
  isUndefined,
  mappingOf,
  pyStr,
  truthy,
  typeName,
  use,
} from './values.js';
import { shlexQuote } from './shell.js';

export { ExprEvalError, ExprUndefinedError, Undefined, isUndefined, truthy, typeName, shlexQuote, lookup, compare, use, type Call, type Env };

interface Ctx {
  scope: unknown;
  strict: boolean;
  budget: Budget;
}

function repeat(seq: unknown, n: number, at: number): unknown {
  if (!Number.isInteger(n)) throw new ExprEvalError('a sequence can only be repeated an integer number of times', at);
  const times = Math.max(0, n);
  if (typeof seq === 'string') {
    boundedString(seq.length * times > LIMITS.string ? ' '.repeat(LIMITS.string + 1) : '', at);
    return seq.repeat(times);
  }
  const list = seq as unknown[];
  if (list.length * times > LIMITS.items) boundedList(new Array(LIMITS.items + 1), at);
  return Array.from({ length: list.length * times }, (_, i) => list[i % list.length]);
}

function arithmetic(node: Extract<Node, { type: 'binary' }>, a: unknown, b: unknown): unknown {
  if (node.op === '~') return boundedString(pyStr(a) + pyStr(b), node.at);
  if (a === undefined || b === undefined || a === null || b === null) return undefined;
  if (node.op === '+' && typeof a === 'string' && typeof b === 'string') return boundedString(a + b, node.at);
  if (node.op === '+' && Array.isArray(a) && Array.isArray(b)) return boundedList([...a, ...b], node.at);
  if (node.op === '*' && (typeof a === 'string' || Array.isArray(a)) && typeof b === 'number') return repeat(a, b, node.at);
  if (node.op === '*' && (typeof b === 'string' || Array.isArray(b)) && typeof a === 'number') return repeat(b, a, node.at);
  if (node.op === '%' && typeof a === 'string') throw new ExprEvalError("string formatting with '%' is not supported; use '~' or format()", node.at);
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
    case '**':
      return a ** b;
    case '//':
      return b === 0 ? undefined : Math.floor(a / b);
    case '%':
      // Python's modulo takes the sign of the divisor
      return b === 0 ? undefined : ((a % b) + b) % b;
    default:
      return b === 0 ? undefined : a / b;
  }
}

function numbersOf(fn: string, args: unknown[], at: number): number[] | undefined {
  const list = args.length === 1 && Array.isArray(args[0]) ? (args[0] as unknown[]) : args;
  if (list.some((x) => x === undefined || x === null)) return undefined;
  if (list.some((x) => typeof x !== 'number')) throw new ExprEvalError(`${fn}() needs numbers`, at);
  return list as number[];
}

/** Python's range(), bounded like every list. */
function range(args: unknown[], at: number): number[] {
  if (args.some((x) => typeof x !== 'number' || !Number.isInteger(x))) throw new ExprEvalError('range() needs integers', at);
  const [start, stop, step] = args.length === 1 ? [0, args[0] as number, 1] : [args[0] as number, args[1] as number, (args[2] as number | undefined) ?? 1];
  if (step === 0) throw new ExprEvalError('range() step must not be zero', at);
  const n = Math.max(0, Math.ceil((stop - start) / step));
  if (n > LIMITS.items) boundedList(new Array(LIMITS.items + 1), at);
  return Array.from({ length: n }, (_, i) => start + i * step);
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
    case 'range':
      return range(args, node.at);
  }
  throw new ExprEvalError(`unknown function ${node.fn}`, node.at);
}

export function stringOf(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function kwargs(list: KwArg[], ctx: Ctx): Map<string, unknown> {
  return new Map(list.map((k) => [k.name, use(evaluate(k.value, ctx), k.value.at)]));
}

function envOf(ctx: Ctx): Env {
  const env: Env = {
    strict: ctx.strict,
    budget: ctx.budget,
    filter: (name, value, args, kw, at) => applyFilter(name, value, { args, kw, at, env }),
    test: (name, value, args, kw, at) => applyTest(name, value, { args, kw, at, env }),
  };
  return env;
}

/** Ansible's default/d (raw undefined allowed) and mandatory; every other filter gets a used value. */
function filter(node: Extract<Node, { type: 'filter' }>, ctx: Ctx): unknown {
  const raw = evaluate(node.value, ctx);
  const args = node.args.map((a) => use(evaluate(a, ctx), a.at));
  const kw = kwargs(node.kwargs, ctx);
  if (node.name === 'default' || node.name === 'd') {
    const fallback = kw.has('default_value') ? kw.get('default_value') : args.length ? args[0] : '';
    const orFalsy = kw.has('boolean') ? kw.get('boolean') : args[1];
    // default(value, true) also replaces falsy values, as in Jinja
    return isUndefined(raw) || (orFalsy === true && !truthy(raw)) ? fallback : raw;
  }
  if (node.name === 'mandatory' && isUndefined(raw)) {
    const msg = args[0] ?? kw.get('msg');
    throw new ExprUndefinedError(typeof msg === 'string' ? msg : raw instanceof Undefined ? `mandatory variable: ${raw.message}` : 'mandatory variable not defined', node.value.at);
  }
  const x = use(raw, node.value.at);
  if (x === undefined) return undefined;
  return applyFilter(node.name, x, { args, kw, at: node.at, env: envOf(ctx) });
}

function test(node: Extract<Node, { type: 'test' }>, ctx: Ctx): boolean {
  const raw = evaluate(node.value, ctx);
  // defined/undefined/none take an undefined value (Jinja: `x is none` is false for it)
  const x = RAW_TESTS.has(node.name) ? raw : use(raw, node.value.at);
  const args = node.args.map((a) => use(evaluate(a, ctx), a.at));
  const r = applyTest(node.name, x, { args, kw: kwargs(node.kwargs, ctx), at: node.at, env: envOf(ctx) });
  return node.negate ? !r : r;
}

/**
 * Evaluates against a scope. `strict`: Ansible's undefined semantics (see the header); the result
 * may be an Undefined, which the caller decides about (compileExpr throws for it). `budget` is
 * shared by the evaluations of one template render.
 */
export function evaluateNode(node: Node, scope: unknown, strict = false, budget = new Budget()): unknown {
  return evaluate(node, { scope, strict, budget });
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

/** Python's slice of a list or string: `x[1:]`, `x[:-1]`, `x[::-1]`. */
function slice(node: Extract<Node, { type: 'slice' }>, ctx: Ctx): unknown {
  const obj = use(evaluate(node.object, ctx), node.object.at);
  const part = (n: Node | undefined): number | undefined => {
    const v = n ? use(evaluate(n, ctx), n.at) : undefined;
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v)) throw new ExprEvalError(`slice indices must be integers, got ${typeName(v)}`, n!.at);
    return v;
  };
  const [start, stop, step] = [part(node.start), part(node.stop), part(node.step) ?? 1];
  if (obj === undefined || obj === null) return undefined;
  if (typeof obj !== 'string' && !Array.isArray(obj)) throw new ExprEvalError(`a ${typeName(obj)} cannot be sliced`, node.at);
  if (step === 0) throw new ExprEvalError('slice step cannot be zero', node.at);
  const len = obj.length;
  const norm = (i: number | undefined, dflt: number, lo: number, hi: number) => (i === undefined ? dflt : Math.min(hi, Math.max(lo, i < 0 ? i + len : i)));
  const from = step > 0 ? norm(start, 0, 0, len) : norm(start, len - 1, -1, len - 1);
  const to = step > 0 ? norm(stop, len, 0, len) : norm(stop, -1, -1, len - 1);
  const idx: number[] = [];
  for (let i = from; step > 0 ? i < to : i > to; i += step) idx.push(i);
  ctx.budget.spend(idx.length, node.at);
  return typeof obj === 'string' ? idx.map((i) => obj[i]).join('') : idx.map((i) => obj[i]);
}

function evaluate(node: Node, ctx: Ctx): unknown {
  ctx.budget.spend(1, node.at);
  switch (node.type) {
    case 'literal':
      return node.value;
    case 'name': {
      const v = lookup(ctx.scope, node.name);
      return v === undefined && ctx.strict ? new Undefined(`'${node.name}' is undefined`) : v;
    }
    case 'member':
      return member(node, ctx);
    case 'slice':
      return slice(node, ctx);
    case 'list': {
      const items = node.items.map((i) => use(evaluate(i, ctx), i.at));
      return node.tuple ? tupleOf(...items) : items;
    }
    case 'dict':
      return mappingOf(node.entries.map(([k, v]) => [pyStr(use(evaluate(k, ctx), k.at)), use(evaluate(v, ctx), v.at)] as const));
    case 'call':
      return call(node, ctx);
    case 'method': {
      const obj = use(evaluate(node.object, ctx), node.object.at);
      const args = node.args.map((a) => use(evaluate(a, ctx), a.at));
      return callMethod(node.name, obj, { args, kw: kwargs(node.kwargs, ctx), at: node.at, env: envOf(ctx) });
    }
    case 'filter':
      return filter(node, ctx);
    case 'test':
      return test(node, ctx);
    case 'cond': {
      if (truthy(use(evaluate(node.test, ctx), node.test.at))) return evaluate(node.then, ctx);
      if (node.else) return evaluate(node.else, ctx);
      return ctx.strict ? new Undefined('the inline if has no else and its condition is false') : undefined;
    }
    case 'unary': {
      const v = use(evaluate(node.arg, ctx), node.arg.at);
      if (node.op === 'not') return !truthy(v);
      if (v === undefined || v === null) return undefined;
      if (typeof v !== 'number') throw new ExprEvalError(`unary '${node.op}' needs a number, got ${typeName(v)}`, node.at);
      return node.op === '-' ? -v : v;
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
      if (['==', '!=', '<', '<=', '>', '>=', 'in', 'not in'].includes(node.op)) return compare(node.op, a, b);
      return arithmetic(node, a, b);
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
    for (const child of childrenOf(n)) walk(child);
  };
  walk(root);
  return [...out];
}

function childrenOf(n: Node): Node[] {
  switch (n.type) {
    case 'member':
      return [n.object, n.key];
    case 'slice':
      return [n.object, n.start, n.stop, n.step].filter((x): x is Node => x !== undefined);
    case 'call':
      return [...n.args, ...n.kwargs.map((k) => k.value)];
    case 'method':
    case 'filter':
    case 'test':
      return [n.type === 'method' ? n.object : n.value, ...n.args, ...n.kwargs.map((k) => k.value)];
    case 'list':
      return n.items;
    case 'dict':
      return n.entries.flat();
    case 'cond':
      return [n.test, n.then, ...(n.else ? [n.else] : [])];
    case 'unary':
      return [n.arg];
    case 'logical':
    case 'binary':
      return [n.left, n.right];
    default:
      return [];
  }
}
