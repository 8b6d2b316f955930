/**
 * Tests (`x is defined`, `r is changed`, `v is version('2.0', '>=')`): Jinja2's builtin tests
 * and Ansible's (plugins/test/core.py, files.py, mathstuff.py), after their documentation.
 */
import { argReader } from './methods.js';
import { firstMatch, playbookRegex } from './regex.js';
import { ExprEvalError, compare, contains, deepEqual, isMapping, isUndefined, pyStr, truthy, typeName, use, type Call } from './values.js';

/** Tests that take an undefined value as it is (all others make using it an E_UNDEFINED). */
export const RAW_TESTS: ReadonlySet<string> = new Set(['defined', 'undefined', 'none']);

type Read = (name: string) => unknown;

function flag(x: unknown, k: string): boolean {
  return isMapping(x) && x[k] === true;
}

/** Ansible's regex test: search (default), match (anchored at the start) or fullmatch. */
function regex(x: unknown, a: Read, c: Call, matchType?: string): boolean {
  const type = matchType ?? String(a('match_type') ?? 'search');
  const flags = { ignorecase: truthy(a('ignorecase')), multiline: truthy(a('multiline')) };
  const s = pyStr(x);
  if (type === 'fullmatch') {
    if (flags.multiline) throw new ExprEvalError('regex: fullmatch with multiline is not supported', c.at);
    return firstMatch(playbookRegex(`^(?:${String(a('pattern'))})$`, flags, c.at), s) !== null;
  }
  if (type !== 'search' && type !== 'match') throw new ExprEvalError(`regex: unknown match_type '${type}'`, c.at);
  return firstMatch(playbookRegex(a('pattern'), flags, c.at), s, type === 'match') !== null;
}

/** distutils LooseVersion: numbers and letter runs, compared part by part. */
function looseVersion(v: string): (number | string)[] {
  return (v.match(/\d+|[a-z]+|\./gi) ?? []).filter((p) => p !== '.').map((p) => (/^\d+$/.test(p) ? Number(p) : p));
}

/** distutils StrictVersion: `1.2`, `1.2.3`, `1.2a1`, `1.2b3`; anything else is an error. */
function strictVersion(v: string, at: number): (number | string)[] {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?(?:([ab])(\d+))?$/.exec(v);
  if (!m) throw new ExprEvalError(`invalid version number '${v}'`, at);
  // a release sorts after its pre-releases: 'z' > 'a' > 'b'... (as StrictVersion's prerelease rule)
  return [Number(m[1]), Number(m[2]), Number(m[3] ?? 0), m[4] ?? 'z', Number(m[5] ?? 0)];
}

function versionOrder(a: (number | string)[], b: (number | string)[], at: number): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const [x, y] = [a[i], b[i]];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    if (typeof x !== typeof y) throw new ExprEvalError(`version comparison failed: cannot compare ${JSON.stringify(x)} with ${JSON.stringify(y)}`, at);
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

const VERSION_OPS: Record<string, (o: number) => boolean> = {
  '==': (o) => o === 0, '=': (o) => o === 0, eq: (o) => o === 0,
  '<': (o) => o < 0, lt: (o) => o < 0, '<=': (o) => o <= 0, le: (o) => o <= 0,
  '>': (o) => o > 0, gt: (o) => o > 0, '>=': (o) => o >= 0, ge: (o) => o >= 0,
  '!=': (o) => o !== 0, '<>': (o) => o !== 0, ne: (o) => o !== 0,
};

/** Ansible's version test (version_compare): loose (the default) or strict. */
function version(x: unknown, a: Read, c: Call): boolean {
  const op = String(a('operator') ?? 'eq');
  const cmp = Object.prototype.hasOwnProperty.call(VERSION_OPS, op) ? VERSION_OPS[op] : undefined;
  if (!cmp) throw new ExprEvalError(`version: invalid operator '${op}'`, c.at);
  const type = String(a('version_type') ?? (truthy(a('strict')) ? 'strict' : 'loose'));
  if (type !== 'loose' && type !== 'strict') throw new ExprEvalError(`version: version_type '${type}' is not supported (loose, strict)`, c.at);
  if (a('version') === undefined || a('version') === null || a('version') === '') throw new ExprEvalError('version: a version to compare with is required', c.at);
  const parse = (v: unknown) => (type === 'strict' ? strictVersion(pyStr(v), c.at) : looseVersion(pyStr(v)));
  return cmp(versionOrder(parse(x), parse(a('version')), c.at));
}

function cmpTest(op: '==' | '!=' | '<' | '<=' | '>' | '>='): (x: unknown, a: Read) => boolean {
  return (x, a) => compare(op, x, a('other'));
}

function integer(x: unknown): boolean {
  return typeof x === 'number' && Number.isInteger(x);
}

function asList(x: unknown, what: string, at: number): unknown[] {
  if (!Array.isArray(x)) throw new ExprEvalError(`${what} needs a list, got ${typeName(x)}`, at);
  return x;
}

interface Spec {
  params: readonly string[];
  fn: (x: unknown, a: Read, c: Call) => boolean;
}

const TESTS: Record<string, Spec> = {
  defined: { params: [], fn: (x) => !isUndefined(x) },
  undefined: { params: [], fn: (x) => isUndefined(x) },
  none: { params: [], fn: (x) => x === null },
  changed: { params: [], fn: (x) => flag(x, 'changed') },
  failed: { params: [], fn: (x) => flag(x, 'failed') },
  succeeded: { params: [], fn: (x) => isMapping(x) && !flag(x, 'failed') },
  skipped: { params: [], fn: (x) => flag(x, 'skipped') },
  match: { params: ['pattern', 'ignorecase', 'multiline'], fn: (x, a, c) => regex(x, a, c, 'match') },
  search: { params: ['pattern', 'ignorecase', 'multiline'], fn: (x, a, c) => regex(x, a, c, 'search') },
  regex: { params: ['pattern', 'ignorecase', 'multiline', 'match_type'], fn: (x, a, c) => regex(x, a, c) },
  string: { params: [], fn: (x) => typeof x === 'string' },
  // Python: a bool is a number (Jinja's test_number is isinstance(value, Number))
  number: { params: [], fn: (x) => typeof x === 'number' || typeof x === 'boolean' },
  integer: { params: [], fn: integer },
  float: { params: [], fn: (x) => typeof x === 'number' && !Number.isInteger(x) },
  boolean: { params: [], fn: (x) => typeof x === 'boolean' },
  mapping: { params: [], fn: (x) => isMapping(x) },
  sequence: { params: [], fn: (x) => typeof x === 'string' || Array.isArray(x) || isMapping(x) },
  iterable: { params: [], fn: (x) => typeof x === 'string' || Array.isArray(x) || isMapping(x) },
  in: { params: ['seq'], fn: (x, a) => contains(a('seq'), x) === true },
  contains: { params: ['value'], fn: (x, a) => contains(x, a('value')) === true },
  version: { params: ['version', 'operator', 'strict', 'version_type'], fn: version },
  eq: { params: ['other'], fn: cmpTest('==') },
  ne: { params: ['other'], fn: cmpTest('!=') },
  lt: { params: ['other'], fn: cmpTest('<') },
  le: { params: ['other'], fn: cmpTest('<=') },
  gt: { params: ['other'], fn: cmpTest('>') },
  ge: { params: ['other'], fn: cmpTest('>=') },
  sameas: { params: ['other'], fn: (x, a) => x === a('other') },
  divisibleby: {
    params: ['num'],
    fn: (x, a, c) => {
      if (typeof x !== 'number' || typeof a('num') !== 'number') throw new ExprEvalError('divisibleby needs numbers', c.at);
      return x % (a('num') as number) === 0;
    },
  },
  odd: { params: [], fn: (x, _a, c) => { if (!integer(x)) throw new ExprEvalError('odd needs an integer', c.at); return Math.abs(x as number) % 2 === 1; } },
  even: { params: [], fn: (x, _a, c) => { if (!integer(x)) throw new ExprEvalError('even needs an integer', c.at); return (x as number) % 2 === 0; } },
  lower: { params: [], fn: (x) => pyStr(x) === pyStr(x).toLowerCase() && /[a-z]/.test(pyStr(x)) },
  upper: { params: [], fn: (x) => pyStr(x) === pyStr(x).toUpperCase() && /[A-Z]/.test(pyStr(x)) },
  true: { params: [], fn: (x) => x === true },
  false: { params: [], fn: (x) => x === false },
  truthy: { params: ['convert_bool'], fn: (x) => truthy(x) },
  falsy: { params: ['convert_bool'], fn: (x) => !truthy(x) },
  subset: { params: ['b'], fn: (x, a, c) => asList(x, 'subset', c.at).every((i) => asList(a('b'), 'subset', c.at).some((j) => deepEqual(i, j))) },
  superset: { params: ['b'], fn: (x, a, c) => asList(a('b'), 'superset', c.at).every((i) => asList(x, 'superset', c.at).some((j) => deepEqual(i, j))) },
};

const ALIASES: Record<string, string> = {
  failure: 'failed', success: 'succeeded', version_compare: 'version', equalto: 'eq',
  '==': 'eq', '!=': 'ne', '<': 'lt', '<=': 'le', '>': 'gt', '>=': 'ge',
};

export function applyTest(name: string, x: unknown, c: Call): boolean {
  const real = Object.prototype.hasOwnProperty.call(ALIASES, name) ? ALIASES[name]! : name;
  const spec = Object.prototype.hasOwnProperty.call(TESTS, real) ? TESTS[real] : undefined;
  if (!spec) throw new ExprEvalError(`unsupported test '${name}'`, c.at);
  c.env.budget.spend(1, c.at);
  return spec.fn(RAW_TESTS.has(real) ? x : use(x, c.at), argReader(`test ${name}`, spec.params, c), c);
}
