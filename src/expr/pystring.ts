/**
 * Python's str methods as Jinja templates call them (directly, `x.split(',')`, or through a
 * filter, `x | split(',')`, `x | replace('a', 'b')`): one implementation for both.
 */
import { ExprEvalError, boundedString } from './values.js';

const PY_SPACE = /[ \t\n\r\x0b\x0c\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;

/** str.split(sep=None, maxsplit=-1). */
export function pySplit(s: string, sep: unknown, maxsplit: unknown, at: number): string[] {
  const max = maxsplit === undefined || maxsplit === null ? -1 : Number(maxsplit);
  if (sep === undefined || sep === null) {
    const out: string[] = [];
    let i = 0;
    while (i < s.length) {
      while (i < s.length && PY_SPACE.test(s[i]!)) i++;
      if (i >= s.length) break;
      if (max >= 0 && out.length === max) {
        out.push(pyStrip(s.slice(i), undefined, 'right'));
        break;
      }
      let j = i;
      while (j < s.length && !PY_SPACE.test(s[j]!)) j++;
      out.push(s.slice(i, j));
      i = j;
    }
    return out;
  }
  if (typeof sep !== 'string') throw new ExprEvalError('split: the separator must be a string', at);
  if (sep === '') throw new ExprEvalError('split: empty separator', at);
  const parts = s.split(sep);
  if (max < 0 || parts.length <= max + 1) return parts;
  return [...parts.slice(0, max), parts.slice(max).join(sep)];
}

/** str.rsplit(sep=None, maxsplit=-1). */
export function pyRsplit(s: string, sep: unknown, maxsplit: unknown, at: number): string[] {
  const max = maxsplit === undefined || maxsplit === null ? -1 : Number(maxsplit);
  if (max < 0) return pySplit(s, sep, -1, at);
  if (sep === undefined || sep === null) {
    const rev = pySplit([...s].reverse().join(''), sep, max, at);
    return rev.map((p) => [...p].reverse().join('')).reverse();
  }
  if (typeof sep !== 'string' || sep === '') throw new ExprEvalError('rsplit: the separator must be a non-empty string', at);
  const parts = s.split(sep);
  if (parts.length <= max + 1) return parts;
  return [parts.slice(0, parts.length - max).join(sep), ...parts.slice(parts.length - max)];
}

/** str.strip(chars) / lstrip / rstrip. */
export function pyStrip(s: string, chars: unknown, side: 'both' | 'left' | 'right'): string {
  const strip = (c: string) => (chars === undefined || chars === null ? PY_SPACE.test(c) : String(chars).includes(c));
  let a = 0;
  let b = s.length;
  if (side !== 'right') while (a < b && strip(s[a]!)) a++;
  if (side !== 'left') while (b > a && strip(s[b - 1]!)) b--;
  return s.slice(a, b);
}

/** str.replace(old, new, count=-1), including Python's rule for an empty `old`. */
export function pyReplace(s: string, old: string, repl: string, count: unknown, at: number): string {
  const max = count === undefined || count === null || Number(count) < 0 ? Infinity : Number(count);
  if (old === '') {
    const chars = [...s];
    let out = '';
    let n = 0;
    for (let i = 0; i <= chars.length; i++) {
      if (n < max) {
        out += repl;
        n++;
      }
      out += chars[i] ?? '';
      if (out.length > 2_000_000) boundedString(out, at);
    }
    return boundedString(out, at);
  }
  let out = '';
  let from = 0;
  for (let n = 0; n < max; n++) {
    const i = s.indexOf(old, from);
    if (i < 0) break;
    out += s.slice(from, i) + repl;
    from = i + old.length;
    if (out.length > 2_000_000) boundedString(out, at);
  }
  return boundedString(out + s.slice(from), at);
}

/** str.capitalize(): first character upper case, the rest lower. */
export function pyCapitalize(s: string): string {
  return s.slice(0, 1).toUpperCase() + s.slice(1).toLowerCase();
}

/** Jinja's title filter: each piece between `-`, whitespace, `(`, `{`, `[`, `<` capitalized. */
export function pyTitle(s: string): string {
  return s
    .split(/([-\s({[<]+)/)
    .map((piece) => piece.slice(0, 1).toUpperCase() + piece.slice(1).toLowerCase())
    .join('');
}

/** str.format with `{}`, `{0}`, `{name}` and `{{`/`}}`; format specs are refused. */
export function pyFormat(s: string, args: unknown[], kw: Map<string, unknown>, str: (v: unknown) => string, at: number): string {
  let auto = 0;
  const out = s.replace(/\{\{|\}\}|\{([^{}]*)\}/g, (all, field: string | undefined) => {
    if (all === '{{') return '{';
    if (all === '}}') return '}';
    const f = field ?? '';
    if (/[:!]/.test(f)) throw new ExprEvalError('format(): format specs and conversions are not supported', at);
    if (f === '') return str(args[auto++]);
    if (/^\d+$/.test(f)) {
      if (Number(f) >= args.length) throw new ExprEvalError(`format(): no argument ${f}`, at);
      return str(args[Number(f)]);
    }
    if (!kw.has(f)) throw new ExprEvalError(`format(): no argument '${f}'`, at);
    return str(kw.get(f));
  });
  return boundedString(out, at);
}

/** posixpath.basename / dirname. */
export function basename(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

export function dirname(p: string): string {
  const head = p.slice(0, p.lastIndexOf('/') + 1);
  return head && !/^\/+$/.test(head) ? pyStrip(head, '/', 'right') : head;
}
