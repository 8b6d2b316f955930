/**
 * The filters (Jinja2's builtins and Ansible's plugins/filter/core.py, mathstuff.py), each after
 * its documented behaviour; `default`/`d` and `mandatory` are in evaluate.ts because they take an
 * undefined value. Positional and keyword arguments are read by the parameter names the Python
 * function declares (`regex_replace(pattern, replacement, ignorecase=True)`). Every filter that
 * walks a collection spends the shared budget per item; every string and list it builds is
 * bounded (values.ts LIMITS).
 */
import { randomInt } from 'node:crypto';
import YAML from 'yaml';
import { argReader } from './methods.js';
import { basename, dirname, pyCapitalize, pyReplace, pySplit, pyStrip, pyTitle } from './pystring.js';
import { allMatches, expandReplacement, firstMatch, playbookRegex } from './regex.js';
import { shlexQuote } from './shell.js';
import {
  ExprEvalError,
  tupleOf,
  Undefined,
  boundedList,
  boundedString,
  deepEqual,
  isMapping,
  lookup,
  mappingOf,
  pyJson,
  pyStr,
  truthy,
  typeName,
  use,
  type Call,
} from './values.js';

type Read = (name: string) => unknown;
interface Spec {
  params: readonly string[];
  fn: (x: unknown, a: Read, c: Call) => unknown;
}

/** A collection's items as Jinja iterates it: a list, a string's characters, a mapping's keys. */
export function itemsOf(x: unknown, what: string, c: Call): unknown[] {
  const items = Array.isArray(x) ? x : typeof x === 'string' ? [...x] : isMapping(x) ? Object.keys(x) : undefined;
  if (!items) throw new ExprEvalError(`${what} needs a list, got ${typeName(x)}`, c.at);
  c.env.budget.spend(items.length, c.at);
  return items;
}

/** Jinja's make_attrgetter: `a.b.0` reads key a, key b, index 0; a missing part is Undefined. */
function attrOf(item: unknown, attribute: unknown): unknown {
  let cur = item;
  for (const part of String(attribute).split('.')) {
    const v = lookup(cur, /^\d+$/.test(part) ? Number(part) : part);
    if (v === undefined) return new Undefined(`${typeName(cur)} object has no attribute '${part}'`);
    cur = v;
  }
  return cur;
}

const text = (x: unknown): string => pyStr(x);

function str(x: unknown, what: string, at: number): string {
  if (typeof x !== 'string') throw new ExprEvalError(`${what} needs a string, got ${typeName(x)}`, at);
  return x;
}

/** Python's ordering for sort/min/max: numbers with numbers, strings with strings, lists item by item. */
function order(a: unknown, b: unknown, at: number): number {
  if ((typeof a === 'number' || typeof a === 'boolean') && (typeof b === 'number' || typeof b === 'boolean')) return Number(a) - Number(b);
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      const o = order(a[i], b[i], at);
      if (o) return o;
    }
    return a.length - b.length;
  }
  throw new ExprEvalError(`cannot compare a ${typeName(a)} with a ${typeName(b)}`, at);
}

/** The sort key Jinja uses: the attribute (comma-separated for several), lower-cased unless case_sensitive. */
function keyOf(attribute: unknown, caseSensitive: unknown, c: Call): (x: unknown) => unknown {
  const fold = (v: unknown) => (typeof v === 'string' && caseSensitive !== true ? v.toLowerCase() : v);
  if (attribute === undefined || attribute === null) return fold;
  const attrs = String(attribute).split(',').map((s) => s.trim());
  const one = (x: unknown, a: string) => fold(use(attrOf(x, a), c.at));
  return attrs.length > 1 ? (x) => attrs.map((a) => one(x, a)) : (x) => one(x, attrs[0]!);
}

function minMax(x: unknown, a: Read, c: Call, sign: 1 | -1): unknown {
  const items = itemsOf(x, 'min/max', c);
  if (!items.length) return new Undefined('no aggregated item, the sequence was empty');
  const key = keyOf(a('attribute'), a('case_sensitive'), c);
  return items.reduce((best, v) => (sign * order(key(v), key(best), c.at) < 0 ? v : best));
}

function toInt(x: unknown, fallback: unknown, base: unknown, at: number): unknown {
  if (typeof x === 'boolean') return x ? 1 : 0;
  if (typeof x === 'number') return Number.isFinite(x) ? Math.trunc(x) : fallback;
  if (typeof x !== 'string') return fallback;
  const b = base === undefined || base === null ? 10 : Number(base);
  const s = x.trim();
  if (b === 10) {
    if (/^[+-]?\d+$/.test(s)) return Number.parseInt(s, 10);
    const f = toFloat(s, undefined);
    return typeof f === 'number' && Number.isFinite(f) ? Math.trunc(f) : fallback;
  }
  const prefix: Record<number, RegExp> = { 2: /^0b/i, 8: /^0o/i, 16: /^0x/i };
  const m = /^([+-]?)(.*)$/.exec(s)!;
  const body = m[2]!.replace(prefix[b] ?? /^$/, '');
  if (!Number.isInteger(b) || b < 2 || b > 36) throw new ExprEvalError(`int: base ${b} is not supported`, at);
  const digits = '0123456789abcdefghijklmnopqrstuvwxyz'.slice(0, b);
  if (!body || ![...body.toLowerCase()].every((d) => digits.includes(d))) return fallback;
  return (m[1] === '-' ? -1 : 1) * Number.parseInt(body, b);
}

function toFloat(x: unknown, fallback: unknown): unknown {
  if (typeof x === 'boolean') return x ? 1 : 0;
  if (typeof x === 'number') return x;
  if (typeof x !== 'string') return fallback;
  const s = x.trim().toLowerCase();
  // unambiguous (`\d+(\.\d*)?`, not `\d+\.?\d*`), so a long digit string is matched in linear time
  if (/^[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/.test(s)) return Number(s);
  if (/^[+-]?(inf|infinity)$/.test(s)) return s.startsWith('-') ? -Infinity : Infinity;
  if (/^[+-]?nan$/.test(s)) return Number.NaN;
  return fallback;
}

/** Ansible's bool filter: true for true, 1, 'yes', 'on', '1', 'true' (any case); else false. */
function toBool(x: unknown): unknown {
  if (typeof x === 'boolean') return x;
  if (typeof x === 'number') return x === 1;
  if (typeof x === 'string') return ['yes', 'on', '1', 'true'].includes(x.trim().toLowerCase());
  return false;
}

/** select/reject(test, *args): by a test, or by truthiness without one. */
function selectBy(x: unknown, c: Call, keep: boolean, attribute?: unknown): unknown[] {
  const [test, ...rest] = attribute === undefined ? c.args : c.args.slice(1);
  const items = itemsOf(x, 'select', c);
  return items.filter((item) => {
    const v = attribute === undefined ? item : attrOf(item, attribute);
    const ok = test === undefined ? truthy(use(v, c.at)) : c.env.test(str(test, 'the test name', c.at), v, rest, c.kw, c.at);
    return ok === keep;
  });
}

function mapItems(x: unknown, c: Call): unknown[] {
  const items = itemsOf(x, 'map', c);
  if (c.kw.has('attribute')) {
    const dflt = c.kw.get('default');
    return items.map((i) => {
      const v = attrOf(i, c.kw.get('attribute'));
      return v instanceof Undefined && c.kw.has('default') ? dflt : v;
    });
  }
  const [name, ...rest] = c.args;
  if (typeof name !== 'string') throw new ExprEvalError("map needs a filter name or attribute='...'", c.at);
  return items.map((i) => c.env.filter(name, i, rest, c.kw, c.at));
}

/** Ansible's combine: later mappings win; recursive merges nested mappings; list_merge for lists. */
function merge(a: Record<string, unknown>, b: Record<string, unknown>, recursive: boolean, listMerge: string, c: Call): Record<string, unknown> {
  const out = mappingOf(Object.entries(a));
  for (const [k, v] of Object.entries(b)) {
    c.env.budget.spend(1, c.at);
    const old = Object.prototype.hasOwnProperty.call(out, k) ? out[k] : undefined;
    let next = v;
    if (recursive && isMapping(old) && isMapping(v)) next = merge(old, v, true, listMerge, c);
    else if (Array.isArray(old) && Array.isArray(v)) {
      if (listMerge === 'keep') next = old;
      else if (listMerge === 'append') next = [...old, ...v];
      else if (listMerge === 'prepend') next = [...v, ...old];
      else if (listMerge === 'append_rp') next = [...old.filter((x) => !v.some((y) => deepEqual(x, y))), ...v];
      else if (listMerge === 'prepend_rp') next = [...v, ...old.filter((x) => !v.some((y) => deepEqual(x, y)))];
    }
    Object.defineProperty(out, k, { value: next, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function combine(x: unknown, c: Call): unknown {
  for (const k of c.kw.keys()) if (!['recursive', 'list_merge'].includes(k)) throw new ExprEvalError(`combine: unexpected keyword argument '${k}'`, c.at);
  const listMerge = String(c.kw.get('list_merge') ?? 'replace');
  if (!['replace', 'keep', 'append', 'prepend', 'append_rp', 'prepend_rp'].includes(listMerge)) throw new ExprEvalError(`combine: unknown list_merge '${listMerge}'`, c.at);
  const all = [x, ...c.args].flatMap((d) => (Array.isArray(d) ? d : [d]));
  if (!all.every(isMapping)) throw new ExprEvalError('combine needs mappings', c.at);
  return all.reduce((acc: Record<string, unknown>, d) => merge(acc, d as Record<string, unknown>, c.kw.get('recursive') === true, listMerge, c), mappingOf([]));
}

function regexFlags(a: Read): { ignorecase: boolean; multiline: boolean } {
  return { ignorecase: truthy(a('ignorecase')), multiline: truthy(a('multiline')) };
}

function regexReplace(x: unknown, a: Read, c: Call): string {
  const s = text(x);
  const re = playbookRegex(a('pattern') ?? '', regexFlags(a), c.at);
  const repl = String(a('replacement') ?? '');
  const count = Number(a('count') ?? 0);
  const matches = allMatches(re, s).slice(0, count > 0 ? count : undefined);
  c.env.budget.spend(matches.length, c.at);
  const mandatory = Number(a('mandatory_count') ?? 0);
  if (mandatory && mandatory !== matches.length) throw new ExprEvalError(`regex_replace: ${mandatory} substitution(s) required, ${matches.length} made`, c.at);
  let out = '';
  let from = 0;
  for (const m of matches) {
    out += s.slice(from, m.index) + expandReplacement(repl, m, c.at);
    from = m.index + m[0].length;
    boundedString(out, c.at);
  }
  return boundedString(out + s.slice(from), c.at);
}

/** Ansible's regex_search: the match, or the groups named by '\\1' / '\\g<name>' arguments; None if no match. */
function regexSearch(x: unknown, c: Call): unknown {
  const a = argReader('regex_search', ['regex', 'ignorecase', 'multiline'], { ...c, args: c.args.slice(0, 1) });
  const refs = c.args.slice(1).map((g) => {
    const m = /^\\(?:g<(\S+)>|(\d+))$/.exec(String(g));
    if (!m) throw new ExprEvalError(`regex_search: unknown argument ${JSON.stringify(g)} (use '\\\\1' or '\\\\g<name>')`, c.at);
    return m[1] ?? m[2]!;
  });
  const m = firstMatch(playbookRegex(a('regex'), regexFlags(a), c.at), text(x));
  if (!m) return null;
  if (!refs.length) return m[0];
  return refs.map((r) => (/^\d+$/.test(r) ? m[Number(r)] : m.groups?.[r]) ?? null);
}

function regexFindall(x: unknown, a: Read, c: Call): unknown[] {
  const matches = allMatches(playbookRegex(a('regex'), regexFlags(a), c.at), text(x));
  c.env.budget.spend(matches.length, c.at);
  return boundedList(
    matches.map((m) => (m.length === 1 ? m[0] : m.length === 2 ? (m[1] ?? '') : tupleOf(...m.slice(1).map((g) => g ?? '')))),
    c.at,
  );
}

function flatten(x: unknown, levels: unknown, c: Call, depth = 0): unknown[] {
  const out: unknown[] = [];
  for (const item of itemsOf(x, 'flatten', c)) {
    if (item === null) continue;
    if (Array.isArray(item) && (levels === undefined || levels === null || depth < Number(levels))) out.push(...flatten(item, levels, c, depth + 1));
    else out.push(item);
  }
  return boundedList(out, c.at);
}

/** PyYAML's default_flow_style=None (Ansible's to_yaml): collections of scalars in flow style. */
function toYaml(x: unknown, nice: boolean, indent: unknown): string {
  const doc = new YAML.Document(x);
  if (!nice) {
    YAML.visit(doc, {
      Collection(_k, node) {
        if (node.items.every((i) => !YAML.isCollection(YAML.isPair(i) ? i.value : i))) node.flow = true;
      },
    });
  }
  return doc.toString({ indent: nice ? Number(indent ?? 4) : 2, indentSeq: false, lineWidth: 0, flowCollectionPadding: false });
}

function random(x: unknown, a: Read, c: Call): unknown {
  if (a('seed') !== undefined && a('seed') !== null) throw new ExprEvalError('random: seed= is not supported', c.at);
  if (typeof x === 'number') {
    const start = Number(a('start') ?? 0);
    const step = Number(a('step') ?? 1);
    const n = Math.ceil((x - start) / step);
    if (!Number.isInteger(start) || !Number.isInteger(step) || step <= 0 || n <= 0) throw new ExprEvalError('random: empty range', c.at);
    return start + randomInt(n) * step;
  }
  const items = itemsOf(x, 'random', c);
  if (!items.length) throw new ExprEvalError('random: the sequence is empty', c.at);
  return items[randomInt(items.length)];
}

const FILTERS: Record<string, Spec> = {
  ternary: {
    params: ['true_val', 'false_val', 'none_val'],
    fn: (x, a) => (x === null && a('none_val') !== undefined ? a('none_val') : truthy(x) ? a('true_val') : (a('false_val') ?? null)),
  },
  mandatory: { params: ['msg'], fn: (x) => x },
  default: { params: ['default_value', 'boolean'], fn: (x, a) => (a('boolean') === true && !truthy(x) ? (a('default_value') ?? '') : x) },
  int: { params: ['default', 'base'], fn: (x, a, c) => toInt(x, a('default') ?? 0, a('base'), c.at) },
  float: { params: ['default'], fn: (x, a) => toFloat(x, a('default') ?? 0) },
  bool: { params: [], fn: (x) => toBool(x) },
  string: { params: [], fn: (x) => text(x) },
  list: { params: [], fn: (x, _a, c) => [...itemsOf(x, 'list', c)] },
  abs: { params: [], fn: (x, _a, c) => Math.abs(typeof x === 'number' ? x : Number(str(x, 'abs', c.at))) },
  lower: { params: [], fn: (x) => text(x).toLowerCase() },
  upper: { params: [], fn: (x) => text(x).toUpperCase() },
  capitalize: { params: [], fn: (x) => pyCapitalize(text(x)) },
  title: { params: [], fn: (x) => pyTitle(text(x)) },
  trim: { params: ['chars'], fn: (x, a) => pyStrip(text(x), a('chars'), 'both') },
  length: { params: [], fn: (x, _a, c) => (typeof x === 'string' ? [...x].length : isMapping(x) ? Object.keys(x).length : itemsOf(x, 'length', c).length) },
  join: {
    params: ['d', 'attribute'],
    fn: (x, a, c) => boundedString(itemsOf(x, 'join', c).map((i) => text(a('attribute') === undefined ? i : use(attrOf(i, a('attribute')), c.at))).join(text(a('d') ?? '')), c.at),
  },
  split: { params: ['sep', 'maxsplit'], fn: (x, a, c) => pySplit(str(x, 'split', c.at), a('sep'), a('maxsplit'), c.at) },
  replace: { params: ['old', 'new', 'count'], fn: (x, a, c) => pyReplace(text(x), text(a('old')), text(a('new')), a('count'), c.at) },
  regex_replace: { params: ['pattern', 'replacement', 'ignorecase', 'multiline', 'count', 'mandatory_count'], fn: regexReplace },
  regex_findall: { params: ['regex', 'multiline', 'ignorecase'], fn: regexFindall },
  regex_escape: { params: ['re_type'], fn: (x) => text(x).replace(/[()[\]{}?*+\-|^$\\.&~# \t\n\r\v\f]/g, '\\$&') },
  quote: { params: [], fn: (x) => shlexQuote(stringOfArg(x)) },
  basename: { params: [], fn: (x) => basename(text(x)) },
  dirname: { params: [], fn: (x) => dirname(text(x)) },
  first: { params: [], fn: (x, _a, c) => { const i = itemsOf(x, 'first', c); return i.length ? i[0] : new Undefined('no first item, the sequence was empty'); } },
  last: { params: [], fn: (x, _a, c) => { const i = itemsOf(x, 'last', c); return i.length ? i[i.length - 1] : new Undefined('no last item, the sequence was empty'); } },
  min: { params: ['case_sensitive', 'attribute'], fn: (x, a, c) => minMax(x, a, c, 1) },
  max: { params: ['case_sensitive', 'attribute'], fn: (x, a, c) => minMax(x, a, c, -1) },
  sum: {
    params: ['attribute', 'start'],
    fn: (x, a, c) => itemsOf(x, 'sum', c).reduce((acc: number, i) => {
      const v = a('attribute') === undefined ? i : use(attrOf(i, a('attribute')), c.at);
      if (typeof v !== 'number') throw new ExprEvalError(`sum needs numbers, got ${typeName(v)}`, c.at);
      return acc + v;
    }, Number(a('start') ?? 0)),
  },
  unique: {
    params: ['case_sensitive', 'attribute'],
    fn: (x, a, c) => {
      const key = keyOf(a('attribute'), a('case_sensitive'), c);
      const seen: unknown[] = [];
      return itemsOf(x, 'unique', c).filter((i) => {
        const k = key(i);
        if (seen.some((s) => deepEqual(s, k))) return false;
        seen.push(k);
        return true;
      });
    },
  },
  sort: {
    params: ['reverse', 'case_sensitive', 'attribute'],
    fn: (x, a, c) => {
      const key = keyOf(a('attribute'), a('case_sensitive'), c);
      const sign = truthy(a('reverse')) ? -1 : 1;
      return [...itemsOf(x, 'sort', c)].sort((p, q) => sign * order(key(p), key(q), c.at));
    },
  },
  reverse: { params: [], fn: (x, _a, c) => (typeof x === 'string' ? [...x].reverse().join('') : [...itemsOf(x, 'reverse', c)].reverse()) },
  flatten: { params: ['levels', 'skip_nulls'], fn: (x, a, c) => flatten(x, a('levels'), c) },
  dict2items: {
    params: ['key_name', 'value_name'],
    fn: (x, a, c) => {
      if (!isMapping(x)) throw new ExprEvalError(`dict2items requires a dictionary, got ${typeName(x)}`, c.at);
      const [k, v] = [text(a('key_name') ?? 'key'), text(a('value_name') ?? 'value')];
      return Object.entries(x).map(([kk, vv]) => mappingOf([[k, kk], [v, vv]]));
    },
  },
  items2dict: {
    params: ['key_name', 'value_name'],
    fn: (x, a, c) => {
      const [k, v] = [text(a('key_name') ?? 'key'), text(a('value_name') ?? 'value')];
      return mappingOf(itemsOf(x, 'items2dict', c).map((i) => {
        if (!isMapping(i)) throw new ExprEvalError(`items2dict requires a list of dictionaries, got a ${typeName(i)} item`, c.at);
        return [text(use(attrOf(i, k), c.at)), use(attrOf(i, v), c.at)] as const;
      }));
    },
  },
  to_json: { params: ['indent', 'sort_keys'], fn: (x, a) => pyJson(x, a('indent') as number | undefined, truthy(a('sort_keys'))) },
  to_nice_json: { params: ['indent', 'sort_keys'], fn: (x, a) => pyJson(x, Number(a('indent') ?? 4), a('sort_keys') === undefined ? true : truthy(a('sort_keys'))) },
  from_json: {
    params: [],
    fn: (x, _a, c) => {
      try {
        return JSON.parse(str(x, 'from_json', c.at)) as unknown;
      } catch (err) {
        throw new ExprEvalError(`from_json: ${(err as Error).message}`, c.at);
      }
    },
  },
  to_yaml: { params: ['indent'], fn: (x) => toYaml(x, false, undefined) },
  to_nice_yaml: { params: ['indent'], fn: (x, a) => toYaml(x, true, a('indent')) },
  difference: { params: ['b'], fn: (x, a, c) => uniq(itemsOf(x, 'difference', c).filter((i) => !itemsOf(a('b'), 'difference', c).some((j) => deepEqual(i, j)))) },
  intersect: { params: ['b'], fn: (x, a, c) => uniq(itemsOf(x, 'intersect', c).filter((i) => itemsOf(a('b'), 'intersect', c).some((j) => deepEqual(i, j)))) },
  union: { params: ['b'], fn: (x, a, c) => uniq([...itemsOf(x, 'union', c), ...itemsOf(a('b'), 'union', c)]) },
  random: { params: ['start', 'step', 'seed'], fn: random },
};

function uniq(items: unknown[]): unknown[] {
  return items.filter((x, i) => items.findIndex((y) => deepEqual(x, y)) === i);
}

/** `quote` keeps the argument rendering's text of a value (booleans lower case), as before. */
function stringOfArg(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** Filters whose arguments are variadic (a test or filter name and its arguments). */
const VARIADIC: Record<string, (x: unknown, c: Call) => unknown> = {
  select: (x, c) => selectBy(x, c, true),
  reject: (x, c) => selectBy(x, c, false),
  selectattr: (x, c) => selectBy(x, c, true, c.args[0]),
  rejectattr: (x, c) => selectBy(x, c, false, c.args[0]),
  map: mapItems,
  combine,
  regex_search: regexSearch,
};

export function applyFilter(name: string, x: unknown, c: Call): unknown {
  const alias = name === 'count' ? 'length' : name === 'd' ? 'default' : name;
  const variadic = Object.prototype.hasOwnProperty.call(VARIADIC, alias) ? VARIADIC[alias] : undefined;
  if (variadic) return variadic(x, c);
  const spec = Object.prototype.hasOwnProperty.call(FILTERS, alias) ? FILTERS[alias] : undefined;
  if (!spec) throw new ExprEvalError(`unsupported filter '${name}'`, c.at);
  c.env.budget.spend(1, c.at);
  return spec.fn(x, argReader(`filter ${name}`, spec.params, c), c);
}
