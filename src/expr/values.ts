/**
 * Values as the expressions see them (JSON-like data: null, booleans, numbers, strings, arrays,
 * plain objects) and how Python/Jinja would print them, plus the errors and the work budget
 * that every evaluation shares. One home for these so the filters, tests, methods and the
 * template renderer agree.
 */

import type { BinaryOp } from './parse.js';

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
export function use(v: unknown, at: number): unknown {
  if (v instanceof Undefined) throw new ExprUndefinedError(v.message, at);
  return v;
}

/**
 * Bounds on what one evaluation (or one template render) may do, so a playbook cannot make the
 * runner spin or allocate without limit: evaluation steps (every node, every item a filter
 * walks, every loop iteration), the length of any string and of any list built.
 */
export const LIMITS = { steps: 2_000_000, string: 1_048_576, items: 100_000 } as const;

export class Budget {
  private steps = 0;
  /** Counts `n` units of work; past the limit the evaluation stops with an error at `at`. */
  spend(n: number, at: number): void {
    this.steps += n;
    if (this.steps > LIMITS.steps) throw new ExprEvalError(`evaluation stopped after ${LIMITS.steps} steps (a loop or filter chain too large)`, at);
  }
}

/** A string result, refused past the size bound. */
export function boundedString(s: string, at: number): string {
  if (s.length > LIMITS.string) throw new ExprEvalError(`a string longer than ${LIMITS.string} characters`, at);
  return s;
}

/** A list result, refused past the size bound. */
export function boundedList<T>(xs: T[], at: number): T[] {
  if (xs.length > LIMITS.items) throw new ExprEvalError(`a list longer than ${LIMITS.items} items`, at);
  return xs;
}

export function truthy(v: unknown): boolean {
  if (v instanceof Undefined) return false;
  if (Array.isArray(v)) return v.length > 0;
  if (v !== null && typeof v === 'object') return Object.keys(v).length > 0;
  return Boolean(v);
}

export function isMapping(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Undefined);
}

export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'list';
  return typeof v === 'object' ? 'mapping' : typeof v;
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isMapping(a) && isMapping(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

/** The own property of a plain object (never one inherited: no prototype reaches an expression). */
export function own(obj: Record<string, unknown>, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(obj, key) ? obj[key] : undefined;
}

/** A mapping built from entries without any prototype (so a key `__proto__` is just a key). */
export function mappingOf(entries: Iterable<readonly [string, unknown]>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of entries) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  return out;
}

/** A Python tuple (`(1, 2)`, `d.items()`' pairs, regex_findall's groups): a list that prints as a tuple. */
export class Tuple extends Array<unknown> {
  static override get [Symbol.species](): ArrayConstructor {
    return Array;
  }
}

export function tupleOf(...items: unknown[]): Tuple {
  const t = new Tuple();
  t.push(...items);
  return t;
}

/** Python's repr() of a str. */
function reprString(s: string): string {
  const q = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = q;
  for (const c of s) {
    const code = c.codePointAt(0) as number;
    if (c === q || c === '\\') out += `\\${c}`;
    else if (c === '\n') out += '\\n';
    else if (c === '\r') out += '\\r';
    else if (c === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += c;
  }
  return out + q;
}

/** Python's repr(): how Jinja prints a list or dict (`['a', 1, True, None]`). */
export function pyRepr(v: unknown, depth = 0): string {
  if (depth > 100) return '...';
  if (typeof v === 'string') return reprString(v);
  if (v instanceof Tuple) return v.length === 1 ? `(${pyRepr(v[0], depth + 1)},)` : `(${v.map((x) => pyRepr(x, depth + 1)).join(', ')})`;
  if (Array.isArray(v)) return `[${v.map((x) => pyRepr(x, depth + 1)).join(', ')}]`;
  if (isMapping(v)) return `{${Object.entries(v).map(([k, x]) => `${reprString(k)}: ${pyRepr(x, depth + 1)}`).join(', ')}}`;
  return pyStr(v);
}

/** Python's str(): what `~`, `string`, `join` and template output make of a value. */
export function pyStr(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === null || v === undefined || v instanceof Undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'number') return pyNumber(v);
  return pyRepr(v);
}

function pyNumber(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (!Number.isFinite(n)) return n > 0 ? 'inf' : '-inf';
  return String(n);
}

/** One JSON string as Python's json.dumps writes it (ensure_ascii: non-ASCII as \uXXXX). */
function jsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    const code = s.charCodeAt(i);
    if (c === '"' || c === '\\') out += `\\${c}`;
    else if (c === '\n') out += '\\n';
    else if (c === '\r') out += '\\r';
    else if (c === '\t') out += '\\t';
    else if (c === '\b') out += '\\b';
    else if (c === '\f') out += '\\f';
    else if (code < 0x20 || code > 0x7e) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += c;
  }
  return out + '"';
}

/** Python's json.dumps (Ansible's to_json): `{"a": 1, "b": [1, 2]}`; with indent, one item a line. */
export function pyJson(v: unknown, indent?: number, sortKeys = false, depth = 0): string {
  if (depth > 100) throw new ExprEvalError('a value nested too deeply for JSON', 0);
  const nl = indent === undefined ? '' : `\n${' '.repeat(indent * (depth + 1))}`;
  const end = indent === undefined ? '' : `\n${' '.repeat(indent * depth)}`;
  const sep = indent === undefined ? ', ' : ',';
  if (typeof v === 'string') return jsonString(v);
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') return Number.isNaN(v) ? 'NaN' : Number.isFinite(v) ? String(v) : v > 0 ? 'Infinity' : '-Infinity';
  if (Array.isArray(v)) return v.length ? `[${nl}${v.map((x) => pyJson(x, indent, sortKeys, depth + 1)).join(sep + nl)}${end}]` : '[]';
  if (isMapping(v)) {
    const keys = Object.keys(v);
    if (sortKeys) keys.sort();
    if (!keys.length) return '{}';
    return `{${nl}${keys.map((k) => `${jsonString(k)}: ${pyJson(v[k], indent, sortKeys, depth + 1)}`).join(sep + nl)}${end}}`;
  }
  throw new ExprEvalError(`a ${typeof v} cannot be written as JSON`, 0);
}

/** What filters and tests get to call each other (`map('lower')`, `select('match', 're')`). */
export interface Env {
  strict: boolean;
  budget: Budget;
  filter(name: string, value: unknown, args: unknown[], kw: Map<string, unknown>, at: number): unknown;
  test(name: string, value: unknown, args: unknown[], kw: Map<string, unknown>, at: number): boolean;
}

/** One filter, test or method call's arguments. */
export interface Call {
  args: unknown[];
  kw: Map<string, unknown>;
  at: number;
  env: Env;
}

/** `x[i]` and `x.k`: list/string index (negative from the end, as Python), own key of a mapping. */
export function lookup(obj: unknown, key: unknown): unknown {
  if (obj === null || obj === undefined) return undefined;
  if (Array.isArray(obj) || typeof obj === 'string') {
    if (typeof key !== 'number' || !Number.isInteger(key)) return undefined;
    const i = key < 0 ? obj.length + key : key;
    return i >= 0 && i < obj.length ? obj[i] : undefined;
  }
  if (typeof obj !== 'object' || (typeof key !== 'string' && typeof key !== 'number')) return undefined;
  if (obj instanceof Map) return obj.get(key);
  if (obj instanceof Undefined) return undefined;
  const k = String(key);
  return Object.prototype.hasOwnProperty.call(obj, k) ? (obj as Record<string, unknown>)[k] : undefined;
}

/** Comparison as the policy language defines it (an undefined operand makes it false). */
export function compare(op: BinaryOp, a: unknown, b: unknown): boolean {
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
export function contains(haystack: unknown, needle: unknown): boolean | undefined {
  if (Array.isArray(haystack)) return haystack.some((x) => deepEqual(x, needle));
  if (typeof haystack === 'string') return typeof needle === 'string' ? haystack.includes(needle) : undefined;
  if (isMapping(haystack) && typeof needle === 'string') return Object.prototype.hasOwnProperty.call(haystack, needle);
  return undefined;
}

