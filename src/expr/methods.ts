/**
 * Methods templates call on values (`d.keys()`, `s.split(',')`, `d.get('k', 1)`): an allow-list
 * per type, each implemented here after Python's method of that name. Nothing is looked up on
 * the JavaScript object, so no method reaches a prototype, a function or a mutation.
 */
import { pyCapitalize, pyFormat, pyReplace, pyRsplit, pySplit, pyStrip, pyTitle } from './pystring.js';
import { ExprEvalError, tupleOf, boundedString, deepEqual, isMapping, own, pyStr, typeName, type Call } from './values.js';

type Method<T> = (self: T, a: (name: string) => unknown, c: Call) => unknown;
interface Spec<T> {
  params: readonly string[];
  fn: Method<T>;
}

const str = (v: unknown, what: string, at: number): string => {
  if (typeof v !== 'string') throw new ExprEvalError(`${what} must be a string, got ${typeName(v)}`, at);
  return v;
};

/** startswith/endswith take a string or a tuple (list) of them. */
function affix(self: string, x: unknown, at: number, f: (s: string) => boolean): boolean {
  const list = Array.isArray(x) ? x : [x];
  return list.some((p) => f(str(p, 'the prefix', at)));
}

const STRING: Record<string, Spec<string>> = {
  lower: { params: [], fn: (s) => s.toLowerCase() },
  upper: { params: [], fn: (s) => s.toUpperCase() },
  capitalize: { params: [], fn: (s) => pyCapitalize(s) },
  title: { params: [], fn: (s) => pyTitle(s) },
  strip: { params: ['chars'], fn: (s, a) => pyStrip(s, a('chars'), 'both') },
  lstrip: { params: ['chars'], fn: (s, a) => pyStrip(s, a('chars'), 'left') },
  rstrip: { params: ['chars'], fn: (s, a) => pyStrip(s, a('chars'), 'right') },
  split: { params: ['sep', 'maxsplit'], fn: (s, a, c) => pySplit(s, a('sep'), a('maxsplit'), c.at) },
  rsplit: { params: ['sep', 'maxsplit'], fn: (s, a, c) => pyRsplit(s, a('sep'), a('maxsplit'), c.at) },
  splitlines: { params: [], fn: (s) => s.split(/\r\n|\r|\n/).filter((l, i, all) => i < all.length - 1 || l !== '') },
  startswith: { params: ['prefix'], fn: (s, a, c) => affix(s, a('prefix'), c.at, (p) => s.startsWith(p)) },
  endswith: { params: ['suffix'], fn: (s, a, c) => affix(s, a('suffix'), c.at, (p) => s.endsWith(p)) },
  replace: { params: ['old', 'new', 'count'], fn: (s, a, c) => pyReplace(s, str(a('old'), 'replace: old', c.at), str(a('new'), 'replace: new', c.at), a('count'), c.at) },
  join: {
    params: ['iterable'],
    fn: (s, a, c) => {
      const it = a('iterable');
      const items = typeof it === 'string' ? [...it] : Array.isArray(it) ? it : isMapping(it) ? Object.keys(it) : undefined;
      if (!items) throw new ExprEvalError(`join() needs a list, got ${typeName(it)}`, c.at);
      return boundedString(items.map((x) => str(x, 'join: each item', c.at)).join(s), c.at);
    },
  },
  find: { params: ['sub'], fn: (s, a, c) => s.indexOf(str(a('sub'), 'find: the substring', c.at)) },
  index: {
    params: ['sub'],
    fn: (s, a, c) => {
      const i = s.indexOf(str(a('sub'), 'index: the substring', c.at));
      if (i < 0) throw new ExprEvalError('index(): substring not found', c.at);
      return i;
    },
  },
  count: { params: ['sub'], fn: (s, a, c) => { const sub = str(a('sub'), 'count: the substring', c.at); return sub === '' ? [...s].length + 1 : s.split(sub).length - 1; } },
  isdigit: { params: [], fn: (s) => /^\d+$/.test(s) },
  isalpha: { params: [], fn: (s) => /^\p{L}+$/u.test(s) },
  isalnum: { params: [], fn: (s) => /^[\p{L}\p{N}]+$/u.test(s) },
  isspace: { params: [], fn: (s) => /^\s+$/.test(s) },
  islower: { params: [], fn: (s) => /[a-z]/.test(s) && s === s.toLowerCase() },
  isupper: { params: [], fn: (s) => /[A-Z]/.test(s) && s === s.toUpperCase() },
  zfill: { params: ['width'], fn: (s, a) => { const w = Number(a('width')); const sign = /^[+-]/.test(s) ? s[0]! : ''; return sign + s.slice(sign.length).padStart(Math.min(w, 1_000_000) - sign.length, '0'); } },
  format: { params: [], fn: (s, _a, c) => pyFormat(s, c.args, c.kw, pyStr, c.at) },
};

const MAPPING: Record<string, Spec<Record<string, unknown>>> = {
  keys: { params: [], fn: (d) => Object.keys(d) },
  values: { params: [], fn: (d) => Object.values(d) },
  items: { params: [], fn: (d) => Object.entries(d).map(([k, v]) => tupleOf(k, v)) },
  get: { params: ['key', 'default'], fn: (d, a) => { const k = a('key'); const v = typeof k === 'string' || typeof k === 'number' ? own(d, String(k)) : undefined; return v === undefined ? (a('default') ?? null) : v; } },
};

const LIST: Record<string, Spec<unknown[]>> = {
  index: {
    params: ['value'],
    fn: (l, a, c) => {
      const i = l.findIndex((x) => deepEqual(x, a('value')));
      if (i < 0) throw new ExprEvalError('index(): the value is not in the list', c.at);
      return i;
    },
  },
  count: { params: ['value'], fn: (l, a) => l.filter((x) => deepEqual(x, a('value'))).length },
};

/** Reads argument `name` positionally or by keyword; an unknown keyword is an error. */
export function argReader(what: string, params: readonly string[], c: Call): (name: string) => unknown {
  for (const k of c.kw.keys()) if (!params.includes(k)) throw new ExprEvalError(`${what}: unexpected keyword argument '${k}'`, c.at);
  if (c.args.length > params.length) throw new ExprEvalError(`${what} takes at most ${params.length} argument(s), got ${c.args.length}`, c.at);
  return (name) => (c.kw.has(name) ? c.kw.get(name) : c.args[params.indexOf(name)]);
}

export function callMethod(name: string, self: unknown, c: Call): unknown {
  const table: Record<string, Spec<never>> | undefined = typeof self === 'string' ? STRING : Array.isArray(self) ? LIST : isMapping(self) ? MAPPING : undefined;
  const spec = table && Object.prototype.hasOwnProperty.call(table, name) ? table[name] : undefined;
  if (!spec) throw new ExprEvalError(`a ${typeName(self)} has no method ${name}()`, c.at);
  c.env.budget.spend(typeof self === 'string' ? self.length : Array.isArray(self) ? self.length : 1, c.at);
  const read = name === 'format' ? () => undefined : argReader(`${name}()`, spec.params, c);
  return (spec.fn as Method<unknown>)(self, read, c);
}
