/**
 * Regular expressions from playbooks (`regex_replace`, `regex_search`, `is match`, ...), written
 * in Python's `re` syntax, run without ReDoS: every one is compiled for V8's linear-time engine
 * (the `l` flag, enabled once with --enable-experimental-regexp-engine), so `(a+)+$` on a long
 * input takes linear time instead of hours. What that engine cannot run in linear time
 * (backreferences, lookahead/lookbehind, `\p{..}`, large counted repetitions such as `{2,30}`)
 * is refused with E_EXPR naming the pattern. Node 20's linear engine has no case-insensitive
 * mode, so `ignorecase`/`(?i)` rewrites ASCII letters to classes (`a` → `[aA]`); non-ASCII
 * letters then match their own case only. Inputs are bounded by the string limit (values.ts).
 *
 * Python syntax translated: `(?P<name>...)` groups, leading inline flags `(?i)`, `(?m)`, `(?s)`,
 * `\A`/`\Z` (outside multiline mode); replacements `\1`, `\g<1>`, `\g<name>`.
 */
import v8 from 'node:v8';
import { ExprEvalError } from './values.js';

export interface RegexOptions {
  ignorecase?: boolean;
  multiline?: boolean;
}

let engineReady: boolean | undefined;

/** Enables V8's linear engine once; false if this V8 does not have it (then no regex runs). */
function linearEngine(): boolean {
  if (engineReady === undefined) {
    try {
      v8.setFlagsFromString('--enable-experimental-regexp-engine');
      new RegExp('a', 'l');
      engineReady = true;
    } catch {
      engineReady = false;
    }
  }
  return engineReady;
}

/**
 * A JavaScript-syntax regex on the linear-time engine (a user's search in `serve`): never a
 * ReDoS; a construct that engine cannot run (backreference, lookaround) is an Error saying so.
 */
export function linearRegExp(source: string, flags = ''): RegExp {
  if (!linearEngine()) throw new Error('regular expressions need V8 with the linear-time engine (Node 20+)');
  try {
    return new RegExp(source, `${flags}l`);
  } catch (err) {
    const msg = (err as Error).message;
    if (/linear time/.test(msg)) throw new Error(`${JSON.stringify(source)} uses a construct that cannot run in linear time (backreference, lookaround, \\p{..}, a large {m,n})`);
    throw err;
  }
}

const MAX_PATTERN = 2048;
const cache = new Map<string, RegExp>();

/** `a` → `[aA]` outside classes, `[a-f]` → `[a-fA-F]` inside: ignorecase for an engine without `i`. */
export function foldAsciiCase(p: string): string {
  let out = '';
  let cls: string | undefined;
  const swap = (c: string) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase());
  const isLetter = (c: string | undefined) => c !== undefined && /^[A-Za-z]$/.test(c);
  for (let i = 0; i < p.length; i++) {
    const c = p[i] as string;
    if (c === '\\') {
      // an escape is copied whole: \x41, \u0041, \cA, \k<name>, \p{L}, \d
      const m = /^\\(x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}|c[A-Za-z]|k<\w+>|[pP]\{[^}]*\}|[\s\S])/.exec(p.slice(i));
      const esc = m ? m[0] : c;
      if (cls !== undefined) cls += esc;
      else out += esc;
      i += esc.length - 1;
    } else if (cls !== undefined) {
      if (c === ']' && cls.length > (cls.startsWith('^') ? 1 : 0)) {
        out += `[${cls}${extraCase(cls)}]`;
        cls = undefined;
      } else cls += c;
    } else if (c === '[') cls = '';
    else if (c === '(' && p.startsWith('(?<', i) && /^\(\?<\w+>/.test(p.slice(i))) {
      const name = /^\(\?<\w+>/.exec(p.slice(i))![0];
      out += name;
      i += name.length - 1;
    } else out += isLetter(c) ? `[${c}${swap(c)}]` : c;
  }
  return cls === undefined ? out : `${out}[${cls}`;
}

/** The other case of every letter and letter range in a class body. */
function extraCase(body: string): string {
  let extra = '';
  const swap = (c: string) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase());
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (c === '\\') {
      i++;
      continue;
    }
    if (!/[A-Za-z]/.test(c)) continue;
    const to = body[i + 2];
    if (body[i + 1] === '-' && to !== undefined && /[A-Za-z]/.test(to) && (c <= 'Z') === (to <= 'Z')) {
      extra += `${swap(c)}-${swap(to)}`;
      i += 2;
    } else extra += swap(c);
  }
  return extra;
}

/** Python pattern → JavaScript source and flags. */
function translate(pattern: string, opts: RegexOptions, at: number): { source: string; flags: string } {
  let p = pattern;
  let ignorecase = opts.ignorecase === true;
  let multiline = opts.multiline === true;
  let dotall = false;
  const inline = /^\(\?([imsx]+)\)/.exec(p);
  if (inline) {
    if (inline[1]!.includes('x')) throw new ExprEvalError('verbose regular expressions ((?x)) are not supported', at);
    ignorecase ||= inline[1]!.includes('i');
    multiline ||= inline[1]!.includes('m');
    dotall = inline[1]!.includes('s');
    p = p.slice(inline[0].length);
  }
  p = p.replace(/\(\?P<(\w+)>/g, '(?<$1>');
  if (/\\[AZ]/.test(p)) {
    if (multiline) throw new ExprEvalError('\\A and \\Z are not supported with multiline', at);
    p = p.replace(/(^|[^\\])((?:\\\\)*)\\A/g, '$1$2^').replace(/(^|[^\\])((?:\\\\)*)\\Z/g, '$1$2$');
  }
  if (ignorecase) p = foldAsciiCase(p);
  return { source: p, flags: `${multiline ? 'm' : ''}${dotall ? 's' : ''}` };
}

/**
 * The RegExp for a playbook pattern (cached), always global (callers reset lastIndex) and
 * linear-time. Throws ExprEvalError for a pattern the engine refuses.
 */
export function playbookRegex(pattern: unknown, opts: RegexOptions, at: number): RegExp {
  if (typeof pattern !== 'string') throw new ExprEvalError(`a regular expression must be a string, got ${typeof pattern}`, at);
  if (pattern.length > MAX_PATTERN) throw new ExprEvalError(`a regular expression longer than ${MAX_PATTERN} characters`, at);
  const key = `${opts.ignorecase ? 'i' : ''}${opts.multiline ? 'm' : ''}\u0000${pattern}`;
  const hit = cache.get(key);
  if (hit) return hit;
  if (!linearEngine()) throw new ExprEvalError('regular expressions need V8 with the linear-time engine (Node 20+)', at);
  const { source, flags } = translate(pattern, opts, at);
  let re: RegExp;
  try {
    re = new RegExp(source, `${flags}gl`);
  } catch (err) {
    const msg = (err as Error).message;
    if (/linear time/.test(msg)) {
      throw new ExprEvalError(`regular expression ${JSON.stringify(pattern)} uses a construct that cannot run in linear time (backreference, lookaround, \\p{..}, or a large {m,n}); refused to rule out ReDoS`, at);
    }
    throw new ExprEvalError(`bad regular expression ${JSON.stringify(pattern)}: ${msg.replace(/^Invalid regular expression: /, '')}`, at);
  }
  if (cache.size > 512) cache.clear();
  cache.set(key, re);
  return re;
}

/** Every match of `re` in `s` (the regex is global; zero-width matches advance by one). */
export function allMatches(re: RegExp, s: string): RegExpExecArray[] {
  const out: RegExpExecArray[] = [];
  re.lastIndex = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    out.push(m);
    if (m[0] === '') re.lastIndex++;
  }
  return out;
}

/** The first match (`anchored`: only one at offset 0, Python's re.match; the leftmost match is at 0 if any is). */
export function firstMatch(re: RegExp, s: string, anchored = false): RegExpExecArray | null {
  re.lastIndex = 0;
  const m = re.exec(s);
  return m && (!anchored || m.index === 0) ? m : null;
}

/** A group of a match by Python's reference: `1`, `name`. */
function group(m: RegExpExecArray, ref: string, at: number): string {
  const v = /^\d+$/.test(ref) ? m[Number(ref)] : m.groups?.[ref];
  if (/^\d+$/.test(ref) ? Number(ref) >= m.length : !m.groups || !Object.prototype.hasOwnProperty.call(m.groups, ref)) {
    throw new ExprEvalError(`invalid group reference ${ref}`, at);
  }
  return v ?? '';
}

/** Python's re.sub template: `\1`, `\g<1>`, `\g<name>`, `\n`, `\\`. */
export function expandReplacement(template: string, m: RegExpExecArray, at: number): string {
  const esc: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\' };
  return template.replace(/\\(g<(\w+)>|\d{1,2}|[\s\S])/g, (_all, what: string, name: string | undefined) => {
    if (name !== undefined) return group(m, name, at);
    if (/^\d/.test(what)) return group(m, what, at);
    return esc[what] ?? `\\${what}`;
  });
}
