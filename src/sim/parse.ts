/**
 * Parser of the POSIX-sh subset the fact script and the modules use (src/facts/script.ts):
 * simple commands, quotes, assignments, `;`/newlines, `&&`, `||`, `|`, `!`, `( … )`,
 * redirections (`>`, `>>`, `<`, `N>&M`, `2>/dev/null`), `$VAR`, `${VAR}`, `$?`, `$(…)`, and the
 * compound commands `if/elif/else/fi`, `for NAME in …; do …; done`, `while …; do …; done` and
 * `case WORD in PAT|PAT) …;; esac`, each with trailing redirections (`done < file`).
 * Errors are ParseError (the shell reports them and exits 2; never a crash).
 */
export type WordPart =
  | { kind: 'lit'; text: string; quoted: boolean }
  | { kind: 'var'; name: string; quoted: boolean }
  | { kind: 'cmd'; script: string; quoted: boolean };

export interface Word {
  parts: WordPart[];
}

export interface Redirect {
  fd: number;
  op: '>' | '>>' | '<' | '>&';
  target: Word;
}

export interface SimpleCommand {
  type: 'simple';
  line: number;
  assigns: { name: string; value: Word }[];
  words: Word[];
  redirects: Redirect[];
}

export interface Subshell {
  type: 'subshell';
  line: number;
  body: List;
  redirects: Redirect[];
}

export interface IfCommand {
  type: 'if';
  line: number;
  clauses: { cond: List; body: List }[];
  elseBody?: List;
  redirects: Redirect[];
}

export interface ForCommand {
  type: 'for';
  line: number;
  name: string;
  words: Word[];
  body: List;
  redirects: Redirect[];
}

export interface WhileCommand {
  type: 'while';
  line: number;
  cond: List;
  body: List;
  redirects: Redirect[];
}

export interface CaseCommand {
  type: 'case';
  line: number;
  word: Word;
  items: { patterns: Word[]; body: List }[];
  redirects: Redirect[];
}

export type Command = SimpleCommand | Subshell | IfCommand | ForCommand | WhileCommand | CaseCommand;

export interface Pipeline {
  negate: boolean;
  commands: Command[];
}

export interface AndOr {
  first: Pipeline;
  rest: { op: '&&' | '||'; pipeline: Pipeline }[];
}

export interface List {
  items: AndOr[];
}

export class ParseError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
  }
}

type Token =
  | { t: 'word'; word: Word; line: number; raw: string }
  | { t: 'op'; op: string; line: number }
  | { t: 'redir'; fd: number; op: Redirect['op']; line: number }
  | { t: 'eof'; line: number };

const OPS = ['&&', '||', ';;', '|', ';', '&', '(', ')', '\n'];

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  while (i < src.length) {
    const c = src[i] as string;
    if (c === ' ' || c === '\t') {
      i++;
      continue;
    }
    if (c === '\\' && src[i + 1] === '\n') {
      i += 2;
      line++;
      continue;
    }
    if (c === '#') {
      while (i < src.length && src[i] !== '\n') i++;
      continue;
    }
    const op = OPS.find((o) => src.startsWith(o, i));
    if (op) {
      out.push({ t: 'op', op, line });
      if (op === '\n') line++;
      i += op.length;
      continue;
    }
    if (c === '>' || c === '<') {
      i = lexRedirect(src, i, 1, c === '<' ? 0 : 1, out, line);
      continue;
    }
    const start = i;
    const word = lexWord(src, i, line);
    i = word.end;
    line += word.newlines;
    // `2>` / `2>>` / `2>&1`: digits immediately followed by a redirection operator.
    if ((src[i] === '>' || src[i] === '<') && /^\d+$/.test(src.slice(start, i))) {
      i = lexRedirect(src, i, 0, Number(src.slice(start, i)), out, line);
      continue;
    }
    out.push({ t: 'word', word: word.word, line, raw: src.slice(start, i) });
  }
  out.push({ t: 'eof', line });
  return out;
}

function lexRedirect(src: string, i: number, _skip: number, fd: number, out: Token[], line: number): number {
  let op: Redirect['op'];
  if (src.startsWith('>>', i)) {
    op = '>>';
    i += 2;
  } else if (src.startsWith('>&', i)) {
    op = '>&';
    i += 2;
  } else if (src.startsWith('>|', i)) {
    op = '>';
    i += 2;
  } else if (src[i] === '>') {
    op = '>';
    i += 1;
  } else {
    if (src.startsWith('<<', i)) throw new ParseError('here-documents are not supported', line);
    op = '<';
    i += 1;
  }
  out.push({ t: 'redir', fd, op, line });
  return i;
}

function lexWord(src: string, i: number, line: number): { word: Word; end: number; newlines: number } {
  const parts: WordPart[] = [];
  let lit = '';
  let litQuoted = false;
  let newlines = 0;
  const flush = () => {
    if (lit) parts.push({ kind: 'lit', text: lit, quoted: litQuoted });
    lit = '';
  };
  const addLit = (text: string, quoted: boolean) => {
    if (quoted !== litQuoted) flush();
    litQuoted = quoted;
    lit += text;
  };
  const dollar = (quoted: boolean): boolean => {
    const n = src[i + 1];
    if (n === '(') {
      if (src[i + 2] === '(') throw new ParseError('arithmetic expansion is not supported', line);
      const end = matchParen(src, i + 1, line);
      flush();
      parts.push({ kind: 'cmd', script: src.slice(i + 2, end), quoted });
      i = end + 1;
      return true;
    }
    if (n === '{') {
      const end = src.indexOf('}', i);
      if (end < 0) throw new ParseError('Syntax error: Missing \'}\'', line);
      const name = src.slice(i + 2, end);
      if (!/^([A-Za-z_][A-Za-z0-9_]*|[0-9?#$@*])$/.test(name)) throw new ParseError(`${src.slice(i, end + 1)}: Bad substitution`, line);
      flush();
      parts.push({ kind: 'var', name, quoted });
      i = end + 1;
      return true;
    }
    const m = /^([A-Za-z_][A-Za-z0-9_]*|[0-9?#$@*!-])/.exec(src.slice(i + 1));
    if (m?.[1]) {
      flush();
      parts.push({ kind: 'var', name: m[1], quoted });
      i += 1 + m[1].length;
      return true;
    }
    return false;
  };
  while (i < src.length) {
    const c = src[i] as string;
    if (' \t\n;&|()<>'.includes(c)) break;
    if (c === '\\') {
      if (i + 1 < src.length) addLit(src[i + 1] as string, true);
      i += 2;
      continue;
    }
    if (c === "'") {
      const end = src.indexOf("'", i + 1);
      if (end < 0) throw new ParseError('Syntax error: Unterminated quoted string', line);
      const text = src.slice(i + 1, end);
      newlines += text.split('\n').length - 1;
      flush();
      parts.push({ kind: 'lit', text, quoted: true });
      i = end + 1;
      continue;
    }
    if (c === '"') {
      flush();
      i++;
      let closed = false;
      while (i < src.length) {
        const d = src[i] as string;
        if (d === '"') {
          closed = true;
          i++;
          break;
        }
        if (d === '\\' && i + 1 < src.length && '"\\$`\n'.includes(src[i + 1] as string)) {
          if (src[i + 1] !== '\n') addLit(src[i + 1] as string, true);
          i += 2;
          continue;
        }
        if (d === '$' && dollar(true)) continue;
        if (d === '`') throw new ParseError('backquote substitution is not supported; use $(...)', line);
        if (d === '\n') newlines++;
        addLit(d, true);
        i++;
      }
      if (!closed) throw new ParseError('Syntax error: Unterminated quoted string', line);
      // An empty "" still makes a (possibly empty) word.
      if (!lit && (parts.length === 0 || parts[parts.length - 1]?.kind !== 'lit')) parts.push({ kind: 'lit', text: '', quoted: true });
      flush();
      continue;
    }
    if (c === '$' && dollar(false)) continue;
    if (c === '`') throw new ParseError('backquote substitution is not supported; use $(...)', line);
    addLit(c, false);
    i++;
  }
  flush();
  return { word: { parts }, end: i, newlines };
}

function matchParen(src: string, open: number, line: number): number {
  let depth = 0;
  let quote: string | null = null;
  for (let i = open; i < src.length; i++) {
    const c = src[i];
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"') i++;
      continue;
    }
    if (c === "'" || c === '"') quote = c;
    else if (c === '\\') i++;
    else if (c === '(') depth++;
    else if (c === ')') {
      depth--;
      if (depth === 0) return i;
    }
  }
  throw new ParseError('Syntax error: end of file unexpected (expecting ")")', line);
}

export function wordText(w: Word): string | null {
  if (w.parts.some((p) => p.kind !== 'lit')) return null;
  return w.parts.map((p) => (p.kind === 'lit' ? p.text : '')).join('');
}

const RESERVED = new Set(['if', 'then', 'else', 'elif', 'fi', 'for', 'while', 'until', 'do', 'done', 'case', 'esac', 'in', '{', '}']);
const NONE: ReadonlySet<string> = new Set();

class Parser {
  private pos = 0;
  constructor(private readonly toks: Token[]) {}

  /** The parser has read up to the end of its input (an error here may only mean "not all of it yet"). */
  get atEnd(): boolean {
    return this.pos >= this.toks.length;
  }

  private peek(): Token {
    return this.toks[this.pos] ?? { t: 'eof', line: 0 };
  }
  private next(): Token {
    const t = this.peek();
    this.pos++;
    return t;
  }
  private isOp(op: string): boolean {
    const t = this.peek();
    return t.t === 'op' && t.op === op;
  }
  private skipNewlines(): void {
    while (this.isOp('\n')) this.pos++;
  }

  parseProgram(): List {
    const list = this.parseList(false, NONE);
    const t = this.peek();
    if (t.t !== 'eof') throw new ParseError(`Syntax error: "${t.t === 'op' ? t.op : 'word'}" unexpected`, t.line);
    return list;
  }

  /** True when the next token is the reserved word `w` in command position. */
  private isWord(w: string): boolean {
    const t = this.peek();
    return t.t === 'word' && t.raw === w;
  }

  private expectWord(w: string, context: string): void {
    const t = this.next();
    if (t.t !== 'word' || t.raw !== w) {
      const got = t.t === 'word' ? t.raw : t.t === 'op' ? (t.op === '\n' ? 'newline' : t.op) : 'end of file';
      throw new ParseError(`Syntax error: "${got}" unexpected (expecting "${w}" in ${context})`, t.line);
    }
  }

  /** A list ends at EOF, `)` in parentheses, `;;`, or one of `stop` (then, do, done, fi, esac…). */
  private parseList(inParens: boolean, stop: ReadonlySet<string>): List {
    const items: AndOr[] = [];
    for (;;) {
      this.skipNewlines();
      while (this.isOp(';')) {
        const t = this.next();
        if (items.length === 0) throw new ParseError('Syntax error: ";" unexpected', t.line);
      }
      const t = this.peek();
      if (t.t === 'eof' || (inParens && t.t === 'op' && t.op === ')')) break;
      if (t.t === 'op' && t.op === ';;') break;
      if (t.t === 'word' && stop.has(t.raw)) break;
      items.push(this.parseAndOr());
      const sep = this.peek();
      if (sep.t === 'op' && (sep.op === ';' || sep.op === '\n' || sep.op === '&')) {
        this.pos++;
        continue;
      }
      break;
    }
    return { items };
  }

  private parseAndOr(): AndOr {
    const first = this.parsePipeline();
    const rest: AndOr['rest'] = [];
    for (;;) {
      const t = this.peek();
      if (t.t === 'op' && (t.op === '&&' || t.op === '||')) {
        this.pos++;
        this.skipNewlines();
        rest.push({ op: t.op, pipeline: this.parsePipeline() });
      } else break;
    }
    return { first, rest };
  }

  private parsePipeline(): Pipeline {
    let negate = false;
    const t = this.peek();
    if (t.t === 'word' && t.raw === '!') {
      negate = true;
      this.pos++;
    }
    const commands = [this.parseCommand()];
    while (this.isOp('|')) {
      this.pos++;
      this.skipNewlines();
      commands.push(this.parseCommand());
    }
    return { negate, commands };
  }

  private parseCommand(): Command {
    const t = this.peek();
    if (t.t === 'op' && t.op === '(') {
      this.pos++;
      const body = this.parseList(true, NONE);
      const close = this.next();
      if (close.t !== 'op' || close.op !== ')') throw new ParseError('Syntax error: end of file unexpected (expecting ")")', close.line);
      return { type: 'subshell', line: t.line, body, redirects: this.parseRedirects() };
    }
    if (t.t === 'word' && ['if', 'for', 'while', 'case'].includes(t.raw)) return this.parseCompound(t.raw, t.line);
    const cmd: SimpleCommand = { type: 'simple', line: t.line, assigns: [], words: [], redirects: [] };
    for (;;) {
      const tok = this.peek();
      if (tok.t === 'redir') {
        this.pos++;
        cmd.redirects.push(this.redirectTarget(tok));
        continue;
      }
      if (tok.t !== 'word') break;
      this.pos++;
      if (cmd.words.length === 0) {
        const first = tok.word.parts[0];
        const m = first?.kind === 'lit' && !first.quoted ? /^([A-Za-z_][A-Za-z0-9_]*)=/.exec(first.text) : null;
        if (m?.[1] && first?.kind === 'lit') {
          const value: Word = { parts: [{ ...first, text: first.text.slice(m[0].length) }, ...tok.word.parts.slice(1)] };
          cmd.assigns.push({ name: m[1], value });
          continue;
        }
        if (RESERVED.has(tok.raw)) throw new ParseError(`Syntax error: "${tok.raw}" is not supported by this shell`, tok.line);
      }
      cmd.words.push(tok.word);
    }
    if (cmd.words.length === 0 && cmd.assigns.length === 0 && cmd.redirects.length === 0) {
      const bad = this.peek();
      const what = bad.t === 'op' ? (bad.op === '\n' ? 'newline' : bad.op) : 'end of file';
      throw new ParseError(`Syntax error: "${what}" unexpected`, bad.line);
    }
    return cmd;
  }

  private parseCompound(kind: string, line: number): Command {
    this.pos++;
    if (kind === 'if') {
      const clauses: IfCommand['clauses'] = [];
      let elseBody: List | undefined;
      for (;;) {
        const cond = this.parseList(false, new Set(['then']));
        this.expectWord('then', 'if');
        const body = this.parseList(false, new Set(['elif', 'else', 'fi']));
        clauses.push({ cond, body });
        if (this.isWord('elif')) {
          this.pos++;
          continue;
        }
        if (this.isWord('else')) {
          this.pos++;
          elseBody = this.parseList(false, new Set(['fi']));
        }
        this.expectWord('fi', 'if');
        break;
      }
      return { type: 'if', line, clauses, ...(elseBody ? { elseBody } : {}), redirects: this.parseRedirects() };
    }
    if (kind === 'while') {
      const cond = this.parseList(false, new Set(['do']));
      this.expectWord('do', 'while');
      const body = this.parseList(false, new Set(['done']));
      this.expectWord('done', 'while');
      return { type: 'while', line, cond, body, redirects: this.parseRedirects() };
    }
    if (kind === 'for') {
      const name = this.next();
      if (name.t !== 'word' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name.raw)) throw new ParseError('Syntax error: Bad for loop variable', line);
      const words: Word[] = [];
      if (this.isWord('in')) {
        this.pos++;
        for (;;) {
          const w = this.peek();
          if (w.t !== 'word') break;
          this.pos++;
          words.push(w.word);
        }
      }
      if (this.isOp(';')) this.pos++;
      this.skipNewlines();
      this.expectWord('do', 'for');
      const body = this.parseList(false, new Set(['done']));
      this.expectWord('done', 'for');
      return { type: 'for', line, name: name.raw, words, body, redirects: this.parseRedirects() };
    }
    const subject = this.next();
    if (subject.t !== 'word') throw new ParseError('Syntax error: word expected after case', line);
    this.skipNewlines();
    this.expectWord('in', 'case');
    const items: CaseCommand['items'] = [];
    for (;;) {
      this.skipNewlines();
      if (this.isWord('esac')) {
        this.pos++;
        break;
      }
      if (this.isOp('(')) this.pos++;
      const patterns: Word[] = [];
      for (;;) {
        const p = this.next();
        if (p.t !== 'word') throw new ParseError('Syntax error: pattern expected in case', p.line);
        patterns.push(p.word);
        if (this.isOp('|')) {
          this.pos++;
          continue;
        }
        break;
      }
      const close = this.next();
      if (close.t !== 'op' || close.op !== ')') throw new ParseError('Syntax error: ")" expected in case', close.line);
      const body = this.parseList(false, new Set(['esac']));
      items.push({ patterns, body });
      if (this.isOp(';;')) {
        this.pos++;
        continue;
      }
      this.skipNewlines();
      this.expectWord('esac', 'case');
      break;
    }
    return { type: 'case', line, word: subject.word, items, redirects: this.parseRedirects() };
  }

  private parseRedirects(): Redirect[] {
    const out: Redirect[] = [];
    for (;;) {
      const tok = this.peek();
      if (tok.t !== 'redir') return out;
      this.pos++;
      out.push(this.redirectTarget(tok));
    }
  }

  private redirectTarget(tok: Extract<Token, { t: 'redir' }>): Redirect {
    const target = this.next();
    if (target.t !== 'word') throw new ParseError('Syntax error: redirection unexpected', tok.line);
    return { fd: tok.fd, op: tok.op, target: target.word };
  }
}

export function parseScript(src: string): List {
  return new Parser(tokenize(src)).parseProgram();
}

/**
 * Whether `src` is the start of a command that has not all arrived: what a shell reading its
 * commands from a pipe (`sh -s`) waits on before running anything (an unclosed quote, `(`,
 * `case`, `if`...). A syntax error before the end is not: the shell reports it at once.
 */
export function needsMoreInput(src: string): boolean {
  let toks: Token[];
  try {
    toks = tokenize(src);
  } catch (err) {
    return err instanceof ParseError && /end of file|Unterminated|Missing/.test(err.message);
  }
  const parser = new Parser(toks);
  try {
    parser.parseProgram();
    return false;
  } catch (err) {
    return err instanceof ParseError && parser.atEnd;
  }
}
