/**
 * The subset of Python's `ast.literal_eval` that Ansible's INI inventory applies to every value
 * (ansible/plugins/inventory/ini.py `_parse_value`): strings, numbers, True/False/None, lists,
 * tuples, dicts and sets, with `# comments` ignored. Anything literal_eval would reject stays the
 * raw string, exactly as Ansible does — so `yes`, `true` and `web01` are strings, `True` is a
 * boolean and `2222` is a number. Deliberate narrowing: integers beyond 2^53 and triple-quoted
 * strings are not parsed and stay strings.
 */

export type LiteralResult = { ok: true; value: unknown } | { ok: false };

class NotALiteral extends Error {}

export function parsePythonLiteral(text: string): LiteralResult {
  const p = new LiteralParser(text);
  try {
    const value = p.value();
    p.skipSpace();
    if (!p.atEnd()) return { ok: false };
    return { ok: true, value };
  } catch (err) {
    if (err instanceof NotALiteral) return { ok: false };
    throw err;
  }
}

/** Ansible's INI value rule: the literal if literal_eval accepts it, else the text itself. */
export function parseIniValue(text: string): unknown {
  const r = parsePythonLiteral(text);
  return r.ok ? r.value : text;
}

const INT = /^[+-]?(?:0(?:_?0)*|[1-9](?:_?[0-9])*)$/;
const RADIX_INT = /^[+-]?0(?:[xX](?:_?[0-9a-fA-F])+|[oO](?:_?[0-7])+|[bB](?:_?[01])+)$/;
const FLOAT = /^[+-]?(?:(?:[0-9](?:_?[0-9])*\.(?:[0-9](?:_?[0-9])*)?|\.[0-9](?:_?[0-9])*)(?:[eE][+-]?[0-9](?:_?[0-9])*)?|[0-9](?:_?[0-9])*[eE][+-]?[0-9](?:_?[0-9])*)$/;

class LiteralParser {
  private i = 0;
  constructor(private readonly s: string) {}

  atEnd(): boolean {
    return this.i >= this.s.length;
  }

  skipSpace(): void {
    for (;;) {
      const c = this.s[this.i];
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r') this.i++;
      else if (c === '#') this.i = this.s.length;
      else return;
    }
  }

  value(): unknown {
    this.skipSpace();
    const c = this.s[this.i];
    if (c === '[') return this.sequence('[', ']');
    if (c === '(') return this.sequence('(', ')');
    if (c === '{') return this.braces();
    if (c === "'" || c === '"' || (c !== undefined && /[rRuU]/.test(c) && /['"]/.test(this.s[this.i + 1] ?? ''))) {
      return this.strings();
    }
    return this.atom();
  }

  private sequence(open: string, close: string): unknown[] {
    this.i++;
    const out: unknown[] = [];
    for (;;) {
      this.skipSpace();
      if (this.s[this.i] === close) {
        this.i++;
        return out;
      }
      out.push(this.value());
      this.skipSpace();
      if (this.s[this.i] === ',') this.i++;
      else if (this.s[this.i] !== close) throw new NotALiteral(open);
    }
  }

  /** `{}` and `{k: v}` are dicts; `{a, b}` is a set, which Ansible turns into a list. */
  private braces(): unknown {
    this.i++;
    const dict: Record<string, unknown> = {};
    const set: unknown[] = [];
    let kind: 'dict' | 'set' | undefined;
    for (;;) {
      this.skipSpace();
      if (this.s[this.i] === '}') {
        this.i++;
        return kind === 'set' ? set : dict;
      }
      const key = this.value();
      this.skipSpace();
      if (this.s[this.i] === ':' && kind !== 'set') {
        kind = 'dict';
        this.i++;
        dict[pythonKey(key)] = this.value();
      } else if (kind !== 'dict') {
        kind = 'set';
        set.push(key);
      } else throw new NotALiteral('{');
      this.skipSpace();
      if (this.s[this.i] === ',') this.i++;
      else if (this.s[this.i] !== '}') throw new NotALiteral('{');
    }
  }

  /** Adjacent string literals concatenate, as in Python. */
  private strings(): string {
    let out = this.string();
    for (;;) {
      const save = this.i;
      this.skipSpace();
      const c = this.s[this.i];
      if (c === "'" || c === '"') out += this.string();
      else {
        this.i = save;
        return out;
      }
    }
  }

  private string(): string {
    let raw = false;
    while (/[rRuU]/.test(this.s[this.i] ?? '')) {
      if (/[rR]/.test(this.s[this.i] as string)) raw = true;
      this.i++;
    }
    const quote = this.s[this.i] as string;
    if (this.s.startsWith(quote.repeat(3), this.i)) throw new NotALiteral('triple-quoted');
    this.i++;
    let out = '';
    for (;;) {
      const c = this.s[this.i++];
      if (c === undefined || c === '\n') throw new NotALiteral('unterminated string');
      if (c === quote) return out;
      if (c !== '\\') {
        out += c;
        continue;
      }
      const n = this.s[this.i++];
      if (n === undefined) throw new NotALiteral('unterminated string');
      out += raw ? `\\${n}` : this.escape(n);
    }
  }

  private escape(n: string): string {
    const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '0': '\0', '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', v: '\v' };
    if (n in simple) return simple[n] as string;
    const width = n === 'x' ? 2 : n === 'u' ? 4 : n === 'U' ? 8 : 0;
    if (width === 0) return `\\${n}`; // Python keeps unknown escapes verbatim
    const hex = this.s.slice(this.i, this.i + width);
    if (!new RegExp(`^[0-9a-fA-F]{${width}}$`).test(hex)) throw new NotALiteral('bad escape');
    this.i += width;
    return String.fromCodePoint(parseInt(hex, 16));
  }

  private atom(): unknown {
    const m = /^[^\s,:)\]}#]+/.exec(this.s.slice(this.i));
    if (!m) throw new NotALiteral('empty');
    const word = m[0];
    this.i += word.length;
    if (word === 'True') return true;
    if (word === 'False') return false;
    if (word === 'None') return null;
    return number(word);
  }
}

function number(word: string): number {
  const clean = word.replace(/_/g, '');
  let n: number;
  if (INT.test(word)) n = Number(clean);
  else if (RADIX_INT.test(word)) {
    const neg = clean.startsWith('-');
    const body = clean.replace(/^[+-]/, '');
    n = Number(body) * (neg ? -1 : 1);
  } else if (FLOAT.test(word)) return Number(clean);
  else throw new NotALiteral(word);
  if (!Number.isSafeInteger(n)) throw new NotALiteral('integer too large');
  return n;
}

function pythonKey(key: unknown): string {
  if (key === true) return 'True';
  if (key === false) return 'False';
  if (key === null) return 'None';
  if (typeof key === 'string' || typeof key === 'number') return String(key);
  throw new NotALiteral('unhashable key');
}
