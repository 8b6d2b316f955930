/**
 * Where does a template value land in a shell command? A small lexer of POSIX sh quoting state
 * run over the template text with each `{{ }}` replaced by a hole, so every value is quoted for
 * the context it actually lands in (issue 16 §2: single quotes inside the author's double quotes
 * are literal, so `echo "t: {{ x }}"` with x = `$(cmd)` ran cmd).
 *
 * Contexts and how a value is made literal there (quoteForSlot):
 * - unquoted word: single-quoted, `'` as `'\''` (POSIX 2.2.2: nothing is special inside '');
 * - inside "...": `$`, backquote, `"` and `\` backslash-escaped (2.2.3: the only characters `\`
 *   escapes there; `!` is not special in sh);
 * - inside '...': close, single-quote, reopen;
 * - heredoc body: verbatim if the delimiter was quoted, else `$`, backquote and `\` escaped
 *   (2.7.4); the rendered line must not equal the delimiter (checked per value at render time,
 *   as is dash's mangling of a non-ASCII byte right after a partial delimiter match);
 * - comment: verbatim with newlines turned into spaces (a newline would end the comment).
 *
 * Refused (Unsafe, with the offset): a hole inside backquotes, `$(( ))`, `(( ))`, `$[ ]`, `${ }`,
 * `[[ ]]`, an array subscript, after `eval`/`let`/`declare`/`typeset` (bash evaluates these as
 * code or arithmetic, where `a[$(cmd)]` runs cmd whatever the quoting), right after `\` or `$`,
 * in a heredoc delimiter, and any hole when the template ends inside an unterminated construct.
 * After a construct whose quoting this lexer does not model exactly (`case` inside `$( )`, quotes inside `${ }` or arithmetic,
 * `$'...'`, line continuation in a heredoc) every later hole is refused: unsafe unless proven.
 *
 * The `words` dialect is fleetmend's own word splitter (src/util/shellwords.ts, the `command`
 * module): quotes and backslashes only, no expansion, so only three contexts exist there.
 */

/** The hole marker: NUL cannot occur in a shell command, so a template containing one is refused. */
export const HOLE = '\u0000';
/** A `{{ raw x }}` hole: the author's own shell text, lexed as an ordinary word character. */
export const RAW_HOLE = '\u0001';

export type Slot =
  | { kind: 'unquoted' | 'dq' | 'sq' | 'comment' }
  | { kind: 'heredoc'; quoted: boolean; delimiter: string; stripTabs: boolean; line: number };

/** A heredoc body line that holds values: its pieces (text, or the index of a hole). */
export interface HeredocLine {
  parts: (string | number)[];
  delimiter: string;
  stripTabs: boolean;
}

export interface ShellPlan {
  slots: Slot[];
  heredocLines: HeredocLine[];
}

export class Unsafe extends Error {
  constructor(
    message: string,
    /** Offset in the hole-marked text. */
    readonly offset: number,
  ) {
    super(message);
  }
}

const BLANK = new Set([' ', '\t']);
/** Characters after which a new word starts (blanks, newline, operators). */
const WORD_BREAK = new Set([' ', '\t', '\n', ';', '&', '|', '(', ')', '<', '>']);
/** Commands whose arguments bash evaluates as code or arithmetic (a quoted value is no protection). */
const CODE_ARGS = ['eval', 'let', 'declare', 'typeset'];
const DELIM_END = new Set([' ', '\t', '\n', ';', '&', '|', '(', ')', '<', '>']);

interface PendingHeredoc {
  quoted: boolean;
  delimiter: string;
  stripTabs: boolean;
  depth: number;
}

class ShLexer {
  private i = 0;
  private hole = 0;
  private poisoned: { reason: string; at: number } | undefined;
  private readonly pending: PendingHeredoc[] = [];
  readonly slots: Slot[] = [];
  readonly heredocLines: HeredocLine[] = [];

  constructor(private readonly s: string) {}

  run(): ShellPlan {
    this.commands(undefined, 0);
    if (this.pending.length) throw new Unsafe(`heredoc <<${this.pending[0]!.delimiter} is not terminated`, this.s.length);
    return { slots: this.slots, heredocLines: this.heredocLines };
  }

  /** A hole in context `slot`, unless a refusal applies. */
  private slot(slot: Slot, refuse?: string): void {
    if (refuse) throw new Unsafe(`a value ${refuse} cannot be quoted safely`, this.i);
    if (this.poisoned) {
      throw new Unsafe(`a value after ${this.poisoned.reason} (offset ${this.poisoned.at}) cannot be proven safe`, this.i);
    }
    this.slots[this.hole++] = slot;
    this.i++;
  }

  private poison(reason: string): void {
    this.poisoned ??= { reason, at: this.i };
  }

  private wordAt(word: string): boolean {
    if (!this.s.startsWith(word, this.i)) return false;
    const after = this.s[this.i + word.length];
    return after === undefined || WORD_BREAK.has(after);
  }

  /**
   * Commands (top level, or inside `$( )` when `closer` is ')'). `refuse` is set when any hole
   * here is refused (inside backquotes...). Returns after the closer.
   */
  private commands(closer: ')' | undefined, depth: number, refuse?: string): void {
    const s = this.s;
    let parens = 0;
    let wordStart = true;
    let untilCommandEnd: string | undefined;
    let untilDbracket: string | undefined;
    while (this.i < s.length) {
      const c = s[this.i]!;
      const why = refuse ?? untilCommandEnd ?? untilDbracket;
      if (c === HOLE) {
        this.slot({ kind: 'unquoted' }, why);
        wordStart = false;
      } else if (c === '\\') {
        if (s[this.i + 1] === HOLE) throw new Unsafe('a value right after a backslash cannot be quoted safely', this.i + 1);
        this.i += 2;
        wordStart = false;
      } else if (c === "'") {
        this.single(why);
        wordStart = false;
      } else if (c === '"') {
        this.double(depth, why);
        wordStart = false;
      } else if (c === '`') {
        this.backquote();
        wordStart = false;
      } else if (c === '$') {
        this.dollar(depth, why, false);
        wordStart = false;
      } else if (c === '#' && wordStart) {
        this.comment(why);
      } else if (c === '\n') {
        this.i++;
        wordStart = true;
        untilCommandEnd = undefined;
        if (this.pending.length) this.heredocBodies(depth);
      } else if (c === ')' && closer && parens === 0) {
        this.i++;
        return;
      } else if (c === '(' && wordStart && s[this.i + 1] === '(') {
        this.i += 2;
        this.arithmetic(2, 'inside (( ))');
        wordStart = false;
      } else if (c === '<' && s.startsWith('<<<', this.i)) {
        this.i += 3; // bash's here-string: the next word is an ordinary word
        wordStart = true;
      } else if (c === '<' && s[this.i + 1] === '<') {
        this.heredocOperator(depth);
        wordStart = true;
      } else if (wordStart && this.wordAt('[[')) {
        untilDbracket = 'inside [[ ]]';
        this.i += 2;
        wordStart = true;
      } else if (wordStart && untilDbracket && this.wordAt(']]')) {
        untilDbracket = undefined;
        this.i += 2;
        wordStart = false;
      } else if (wordStart && CODE_ARGS.some((w) => this.wordAt(w))) {
        const w = CODE_ARGS.find((x) => this.wordAt(x))!;
        untilCommandEnd = `in the arguments of ${w} (they are evaluated as code or arithmetic)`;
        this.i += w.length;
        wordStart = false;
      } else if (wordStart && /^[A-Za-z_][A-Za-z0-9_]*\[/.test(s.slice(this.i, this.i + 256))) {
        // bash array subscripts are arithmetic: `a[{{ v }}]=1` would evaluate the value
        this.i = s.indexOf('[', this.i) + 1;
        this.brackets('inside an array subscript');
        wordStart = false;
      } else if (wordStart && closer && this.wordAt('case')) {
        // `case` patterns end in an unbalanced ')', which this lexer cannot tell from the closer
        this.poison('case inside $( )');
        this.i += 4;
        wordStart = false;
      } else {
        if (c === '(') parens++;
        if (c === ')') parens = Math.max(0, parens - 1);
        if (c === ';' || c === '&' || c === '|' || c === '(' || c === ')') untilCommandEnd = undefined;
        wordStart = WORD_BREAK.has(c);
        this.i++;
      }
    }
    if (closer) throw new Unsafe('unterminated $( )', this.i);
  }

  private single(refuse?: string): void {
    const start = this.i++;
    while (this.i < this.s.length) {
      const c = this.s[this.i]!;
      if (c === "'") {
        this.i++;
        return;
      }
      if (c === HOLE) this.slot({ kind: 'sq' }, refuse);
      else this.i++;
    }
    throw new Unsafe('unterminated single quote', start);
  }

  private double(depth: number, refuse?: string): void {
    const start = this.i++;
    const s = this.s;
    while (this.i < s.length) {
      const c = s[this.i]!;
      if (c === '"') {
        this.i++;
        return;
      }
      if (c === HOLE) this.slot({ kind: 'dq' }, refuse);
      else if (c === '\\') {
        const n = s[this.i + 1];
        if (n === HOLE) throw new Unsafe('a value right after a backslash cannot be quoted safely', this.i + 1);
        this.i += n !== undefined && '$`"\\\n'.includes(n) ? 2 : 1;
      } else if (c === '`') this.backquote();
      else if (c === '$') this.dollar(depth, refuse, true);
      else this.i++;
    }
    throw new Unsafe('unterminated double quote', start);
  }

  /** Backquotes end at the first unescaped backquote (POSIX 2.6.3); no hole may be inside. */
  private backquote(): void {
    const start = this.i++;
    const s = this.s;
    while (this.i < s.length) {
      const c = s[this.i]!;
      if (c === '`') {
        this.i++;
        return;
      }
      if (c === HOLE) this.slot({ kind: 'unquoted' }, 'inside backquotes');
      this.i += c === '\\' ? 2 : 1;
    }
    throw new Unsafe('unterminated backquote', start);
  }

  private dollar(depth: number, refuse: string | undefined, inDouble: boolean): void {
    const s = this.s;
    const n = s[this.i + 1];
    if (n === HOLE) throw new Unsafe('a value right after $ cannot be quoted safely', this.i + 1);
    if (n === '(' && s[this.i + 2] === '(') {
      this.i += 3;
      this.arithmetic(2, 'inside $(( ))');
    } else if (n === '(') {
      this.i += 2;
      this.commands(')', depth + 1, refuse);
    } else if (n === '{') {
      this.i += 2;
      this.parameter(inDouble);
    } else if (n === '[') {
      // bash's deprecated $[ arithmetic ]
      this.i += 2;
      this.brackets('inside $[ ]');
    } else if (n === "'" && !inDouble) {
      // bash's $'...' has its own escapes (\' does not end it); sh has none
      this.poison("$'...'");
      this.i++;
    } else this.i++;
  }

  /** `${...}`: no hole inside; quotes inside have shell-specific rules, so they poison. */
  private parameter(inDouble: boolean): void {
    const start = this.i;
    const s = this.s;
    let braces = 1;
    while (this.i < s.length) {
      const c = s[this.i]!;
      if (c === HOLE) this.slot({ kind: 'unquoted' }, 'inside ${ }');
      else if (c === '}') {
        this.i++;
        if (--braces === 0) return;
      } else if (c === '{') {
        braces++;
        this.i++;
      } else if (c === '\\') this.i += 2;
      else {
        if (c === "'" || c === '"' || c === '`' || (c === '$' && s[this.i + 1] === '(')) {
          this.poison(`quoting inside \${ }${inDouble ? ' in double quotes' : ''}`);
        }
        this.i++;
      }
    }
    throw new Unsafe('unterminated ${', start);
  }

  /** `$(( ))` / `(( ))` from after the opening parentheses: parentheses counted; no hole inside. */
  private arithmetic(open: number, where: string): void {
    this.nested('()', open, where, "'\"`\\", 'quoting', `unterminated ${where.replace('inside ', '')}`);
  }

  /** From after a `[` to its matching `]`: no hole inside; quoting inside poisons (arithmetic). */
  private brackets(where: string): void {
    this.nested('[]', 1, where, "'\"`\\$", 'quoting or expansion', `unterminated [ (${where})`);
  }

  /** To the bracket that closes `depth` open ones: a hole is unquoted, a `poisoners` character poisons. */
  private nested(pair: '()' | '[]', depth: number, where: string, poisoners: string, poisoned: string, unterminated: string): void {
    const start = this.i;
    const s = this.s;
    while (this.i < s.length) {
      const c = s[this.i]!;
      if (c === HOLE) this.slot({ kind: 'unquoted' }, where);
      else {
        if (c === pair[0]) depth++;
        else if (c === pair[1] && --depth === 0) {
          this.i++;
          return;
        } else if (poisoners.includes(c)) this.poison(`${poisoned} ${where}`);
        this.i++;
      }
    }
    throw new Unsafe(unterminated, start);
  }

  private comment(refuse?: string): void {
    while (this.i < this.s.length && this.s[this.i] !== '\n') {
      if (this.s[this.i] === HOLE) this.slot({ kind: 'comment' }, refuse);
      else this.i++;
    }
  }

  /** `<<WORD` or `<<-WORD`: the delimiter, quoted if any part of it is quoted (POSIX 2.7.4). */
  private heredocOperator(depth: number): void {
    const s = this.s;
    this.i += 2;
    const stripTabs = s[this.i] === '-';
    if (stripTabs) this.i++;
    while (BLANK.has(s[this.i] ?? '')) this.i++;
    const start = this.i;
    let delimiter = '';
    let quoted = false;
    while (this.i < s.length && !DELIM_END.has(s[this.i]!)) {
      const c = s[this.i]!;
      if (c === HOLE) throw new Unsafe('a value in a heredoc delimiter cannot be quoted safely', this.i);
      if (c === '$' || c === '`') this.poison('an expansion in a heredoc delimiter');
      if (c === "'" || c === '"') {
        quoted = true;
        const end = s.indexOf(c, this.i + 1);
        if (end < 0) throw new Unsafe('unterminated quote in a heredoc delimiter', this.i);
        const inner = s.slice(this.i + 1, end);
        if (inner.includes(HOLE)) throw new Unsafe('a value in a heredoc delimiter cannot be quoted safely', this.i);
        if (c === '"' && inner.includes('\\')) this.poison('a backslash in a heredoc delimiter');
        delimiter += inner;
        this.i = end + 1;
      } else if (c === '\\') {
        quoted = true;
        const n = s[this.i + 1];
        if (n === undefined || n === HOLE || n === '\n') throw new Unsafe('bad heredoc delimiter', this.i);
        delimiter += n;
        this.i += 2;
      } else {
        delimiter += c;
        this.i++;
      }
    }
    if (!delimiter) throw new Unsafe('heredoc without a delimiter', start);
    this.pending.push({ quoted, delimiter, stripTabs, depth });
  }

  /** After a newline: the bodies of the pending heredocs, line by line (POSIX 2.7.4). */
  private heredocBodies(depth: number): void {
    const docs = this.pending.splice(0);
    if (docs.some((d) => d.depth !== depth)) this.poison('a heredoc whose body starts inside a different $( ) level');
    for (const doc of docs) {
      for (;;) {
        if (this.i >= this.s.length) throw new Unsafe(`heredoc <<${doc.delimiter} is not terminated`, this.i);
        const nl = this.s.indexOf('\n', this.i);
        const end = nl < 0 ? this.s.length : nl;
        const line = this.s.slice(this.i, end);
        const content = doc.stripTabs ? line.replace(/^\t+/, '') : line;
        if (!line.includes(HOLE) && content === doc.delimiter) {
          this.i = nl < 0 ? end : end + 1;
          break;
        }
        this.heredocLine(doc, end, depth);
        this.i = nl < 0 ? end : end + 1;
      }
    }
  }

  private heredocLine(doc: PendingHeredoc, end: number, depth: number): void {
    const s = this.s;
    const lineStart = this.i;
    const holesBefore = this.hole;
    const slot: Slot = { kind: 'heredoc', quoted: doc.quoted, delimiter: doc.delimiter, stripTabs: doc.stripTabs, line: this.heredocLines.length };
    while (this.i < end) {
      const c = s[this.i]!;
      if (c === HOLE) this.slot(slot);
      else if (doc.quoted) this.i++;
      else if (c === '\\') {
        const n = s[this.i + 1];
        if (n === HOLE) throw new Unsafe('a value right after a backslash cannot be quoted safely', this.i + 1);
        if (this.i + 1 >= end) this.poison('a line continuation in a heredoc');
        this.i += 2;
      } else if (c === '`') this.backquote();
      else if (c === '$') this.dollar(depth, undefined, true);
      else this.i++;
    }
    if (this.i > end) this.poison('a substitution spanning heredoc lines');
    if (this.hole === holesBefore) return;
    const parts: (string | number)[] = [];
    let text = '';
    let h = holesBefore;
    for (const ch of s.slice(lineStart, end)) {
      if (ch === HOLE) {
        parts.push(text, h++);
        text = '';
      } else text += ch;
    }
    parts.push(text);
    this.heredocLines.push({ parts, delimiter: doc.delimiter, stripTabs: doc.stripTabs });
  }
}

/** Slots for each hole of a `sh -c` command text; throws Unsafe when a position is not provably safe. */
export function planShell(text: string): ShellPlan {
  return new ShLexer(text).run();
}

/** Slots for fleetmend's own word splitter (the `command` module): quotes and backslashes only. */
export function planWords(s: string): ShellPlan {
  const slots: Slot[] = [];
  let quote: '"' | "'" | undefined;
  let quoteAt = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === HOLE) slots.push({ kind: quote === '"' ? 'dq' : quote === "'" ? 'sq' : 'unquoted' });
    else if (quote === "'") {
      if (c === "'") quote = undefined;
    } else if (c === '\\' && s[i + 1] === HOLE) {
      throw new Unsafe('a value right after a backslash cannot be quoted safely', i + 1);
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === '\\' && '"\\$`'.includes(s[i + 1] ?? '')) i++;
    } else if (c === "'" || c === '"') {
      quote = c;
      quoteAt = i;
    } else if (c === '\\') i++;
  }
  if (quote) throw new Unsafe(`unterminated ${quote} quote`, quoteAt);
  return { slots, heredocLines: [] };
}

/** POSIX single-quoting. */
export function singleQuote(v: string): string {
  return `'${v.replace(/'/g, `'\\''`)}'`;
}

/** The text that makes `value` arrive verbatim in `slot` (see the header). */
export function quoteForSlot(slot: Slot, value: string): string {
  switch (slot.kind) {
    case 'unquoted':
      return singleQuote(value);
    case 'sq':
      return `'${singleQuote(value)}'`;
    case 'dq':
      return value.replace(/[$`"\\]/g, '\\$&');
    case 'comment':
      return value.replace(/\n/g, ' ');
    case 'heredoc':
      return slot.quoted ? value : value.replace(/[$`\\]/g, '\\$&');
  }
}

/**
 * The heredoc lines as rendered: a value must not end the heredoc early (a rendered line equal
 * to the delimiter), nor lose leading tabs under `<<-`. Returns the reason, or undefined.
 */
export function heredocProblem(plan: ShellPlan, values: readonly string[], raw: readonly string[]): string | undefined {
  for (const line of plan.heredocLines) {
    const rendered = line.parts.map((p) => (typeof p === 'number' ? (values[p] ?? '') : p)).join('');
    const physical = rendered.split('\n');
    for (const raw of physical) {
      const l = line.stripTabs ? raw.replace(/^\t+/, '') : raw;
      if (l === line.delimiter) return `a value makes a line equal to the heredoc delimiter ${line.delimiter}`;
      // dash 0.5.12 drops the first non-ASCII byte after a partial match of the delimiter at the
      // start of a line (its end-of-heredoc check), so such a line would not arrive verbatim
      let k = 0;
      while (k < l.length && k < line.delimiter.length && l[k] === line.delimiter[k]) k++;
      if (k > 0 && k < l.length && l.charCodeAt(k) >= 0x80) return `a line starting like the heredoc delimiter ${line.delimiter} then a non-ASCII character (dash alters it)`;
    }
    if (line.stripTabs) {
      for (const p of line.parts) {
        if (typeof p === 'number' && /(^|\n)\t/.test(raw[p] ?? '')) return 'a value with leading tabs inside a <<- heredoc would lose them';
      }
    }
  }
  return undefined;
}
