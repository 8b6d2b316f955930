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
 *   (`constructor`, `__proto__` are just missing keys).
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

function call(node: Extract<Node, { type: 'call' }>, scope: unknown): unknown {
  if (node.fn === 'defined') return evaluateNode(node.args[0] as Node, scope) !== undefined;
  const args = node.args.map((a) => evaluateNode(a, scope));
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

function filter(node: Extract<Node, { type: 'filter' }>, scope: unknown): unknown {
  const x = evaluateNode(node.value, scope);
  const args = node.args.map((a) => evaluateNode(a, scope));
  switch (node.name) {
    case 'default':
    case 'd':
      // default(value, true) also replaces falsy values, as in Jinja
      return x === undefined || (args[1] === true && !truthy(x)) ? (args.length ? args[0] : '') : x;
    case 'int':
      return toInt(x, args.length ? args[0] : 0);
    case 'bool':
      return toBool(x);
    case 'quote':
      return x === undefined ? undefined : shlexQuote(stringOf(x));
  }
}

function test(node: Extract<Node, { type: 'test' }>, scope: unknown): boolean {
  const x = evaluateNode(node.value, scope);
  const flag = (k: string) => x !== null && typeof x === 'object' && (x as Record<string, unknown>)[k] === true;
  let r: boolean;
  switch (node.name) {
    case 'defined':
      r = x !== undefined;
      break;
    case 'undefined':
      r = x === undefined;
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

export function evaluateNode(node: Node, scope: unknown): unknown {
  switch (node.type) {
    case 'literal':
      return node.value;
    case 'name':
      return lookup(scope, node.name);
    case 'member':
      return lookup(evaluateNode(node.object, scope), evaluateNode(node.key, scope));
    case 'list':
      return node.items.map((i) => evaluateNode(i, scope));
    case 'call':
      return call(node, scope);
    case 'filter':
      return filter(node, scope);
    case 'test':
      return test(node, scope);
    case 'unary': {
      const v = evaluateNode(node.arg, scope);
      if (node.op === 'not') return !truthy(v);
      if (v === undefined || v === null) return undefined;
      if (typeof v !== 'number') throw new ExprEvalError(`unary '-' needs a number, got ${typeName(v)}`, node.at);
      return -v;
    }
    case 'logical': {
      const left = truthy(evaluateNode(node.left, scope));
      if (node.op === 'and') return left && truthy(evaluateNode(node.right, scope));
      return left || truthy(evaluateNode(node.right, scope));
    }
    case 'binary': {
      const a = evaluateNode(node.left, scope);
      const b = evaluateNode(node.right, scope);
      if (['+', '-', '*', '/'].includes(node.op)) return arithmetic(node, a, b);
      return compare(node.op, a, b);
    }
  }
}

/** Dotted paths read by the expression: `a.b`, `a["k"]` → `a.k`, `a[0]` → `a.0`; a dynamic index stops the path. */
export function pathsOf(root: Node): string[] {
  const out = new Set<string>();
  const pathOf = (n: Node): string | undefined => {
    if (n.type === 'name') return n.name;
    if (n.type === 'member' && n.key.type === 'literal' && (typeof n.key.value === 'string' || typeof n.key.value === 'number')) {
      const base = pathOf(n.object);
      return base === undefined ? undefined : `${base}.${n.key.value}`;
    }
    return undefined;
  };
  const walk = (n: Node): void => {
    const p = pathOf(n);
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
