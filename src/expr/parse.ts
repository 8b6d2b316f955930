/**
 * A small, safe expression language for `when:` and policy conditions: a tokenizer and a
 * precedence-climbing parser to an AST. No eval, no Function, no host object access.
 *
 * Grammar (lowest precedence first):
 *   or      := and (('or' | '||') and)*
 *   and     := not (('and' | '&&') not)*
 *   not     := ('not' | '!') not | cmp
 *   cmp     := add (('==' | '!=' | '<' | '<=' | '>' | '>=' | 'in' | 'not in') add | 'is' 'not'? test)?
 *   add     := mul (('+' | '-') mul)*
 *   mul     := unary (('*' | '/') unary)*
 *   unary   := '-' unary | postfix
 *   postfix := primary ('.' name | '[' or ']' | '|' filter ('(' args ')')?)*
 *
 * `x | default('a')`, `x | int`, `x | bool`, `x | quote`: the Jinja filters operators use in
 * Ansible playbooks (FILTERS); like Jinja they bind tighter than any operator.
 *   primary := number | string | true | false | null | name | name '(' args ')' | '[' list ']' | '(' or ')'
 */

export type BinaryOp = '==' | '!=' | '<' | '<=' | '>' | '>=' | 'in' | 'not in' | '+' | '-' | '*' | '/';

export type Node =
  | { type: 'literal'; value: unknown; at: number }
  | { type: 'name'; name: string; at: number }
  | { type: 'member'; object: Node; key: Node; at: number }
  | { type: 'call'; fn: string; args: Node[]; at: number }
  | { type: 'filter'; name: FilterName; value: Node; args: Node[]; at: number }
  | { type: 'test'; name: TestName; value: Node; negate: boolean; at: number }
  | { type: 'list'; items: Node[]; at: number }
  | { type: 'unary'; op: 'not' | '-'; arg: Node; at: number }
  | { type: 'logical'; op: 'and' | 'or'; left: Node; right: Node; at: number }
  | { type: 'binary'; op: BinaryOp; left: Node; right: Node; at: number };

/** A syntax error at a character offset of the source. */
export class ExprSyntaxError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

export const FUNCTIONS = ['len', 'defined', 'int', 'abs', 'min', 'max'] as const;
export type FunctionName = (typeof FUNCTIONS)[number];

/** Jinja filters accepted (`d` is Jinja's alias of `default`); any other is refused at load time. */
export const FILTERS = ['default', 'd', 'int', 'bool', 'quote'] as const;
export type FilterName = (typeof FILTERS)[number];
/** Jinja/Ansible tests (`x is defined`, `result is changed`). */
export const TESTS = ['defined', 'undefined', 'none', 'changed', 'failed', 'failure', 'succeeded', 'success', 'skipped'] as const;
export type TestName = (typeof TESTS)[number];
const FILTER_ARITY: Record<FilterName, [number, number]> = { default: [0, 2], d: [0, 2], int: [0, 2], bool: [0, 0], quote: [0, 0] };

export const MAX_SOURCE = 4096;
const MAX_DEPTH = 64;

type Token =
  | { t: 'num'; v: number; at: number }
  | { t: 'str'; v: string; at: number }
  | { t: 'name'; v: string; at: number }
  | { t: 'op'; v: string; at: number }
  | { t: 'eof'; at: number };

const OPS = ['==', '!=', '<=', '>=', '&&', '||', '<', '>', '!', '+', '-', '*', '/', '(', ')', '[', ']', '.', ',', '=', '|'];

function readString(src: string, start: number): { value: string; end: number } {
  const quote = src[start];
  let out = '';
  let i = start + 1;
  while (i < src.length) {
    const c = src[i] as string;
    if (c === quote) return { value: out, end: i + 1 };
    if (c === '\\') {
      const n = src[i + 1];
      const esc: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', "'": "'" };
      if (n === undefined || esc[n] === undefined) throw new ExprSyntaxError(`bad escape \\${n ?? ''}`, i);
      out += esc[n];
      i += 2;
    } else {
      out += c;
      i++;
    }
  }
  throw new ExprSyntaxError('unterminated string', start);
}

export function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const num = /^(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?/.exec(src.slice(i, i + 64));
    if (num && /[\d.]/.test(c) && !(c === '.' && !/\d/.test(src[i + 1] ?? ''))) {
      tokens.push({ t: 'num', v: Number(num[0]), at: i });
      i += num[0].length;
      continue;
    }
    if (c === '"' || c === "'") {
      const s = readString(src, i);
      tokens.push({ t: 'str', v: s.value, at: i });
      i = s.end;
      continue;
    }
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i, i + 256));
    if (name) {
      tokens.push({ t: 'name', v: name[0], at: i });
      i += name[0].length;
      continue;
    }
    const op = OPS.find((o) => src.startsWith(o, i));
    if (!op) throw new ExprSyntaxError(`unexpected character ${JSON.stringify(c)}`, i);
    if (op === '=') throw new ExprSyntaxError("'=' is not an operator here; use '==' to compare", i);
    tokens.push({ t: 'op', v: op, at: i });
    i += op.length;
  }
  tokens.push({ t: 'eof', at: src.length });
  return tokens;
}

const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'is', 'true', 'false', 'null']);
const CMP = new Set(['==', '!=', '<', '<=', '>', '>=']);

class Parser {
  private pos = 0;
  private depth = 0;
  constructor(private readonly tokens: Token[]) {}

  private peek(): Token {
    return this.tokens[this.pos] as Token;
  }
  private next(): Token {
    return this.tokens[this.pos++] as Token;
  }
  private isOp(v: string): boolean {
    const t = this.peek();
    return t.t === 'op' && t.v === v;
  }
  private isWord(v: string): boolean {
    const t = this.peek();
    return t.t === 'name' && t.v === v;
  }
  private expectOp(v: string): void {
    const t = this.peek();
    if (!(t.t === 'op' && t.v === v)) throw new ExprSyntaxError(`expected '${v}' but found ${describe(t)}`, t.at);
    this.pos++;
  }
  private enter(at: number): void {
    if (++this.depth > MAX_DEPTH) throw new ExprSyntaxError('expression nested too deeply', at);
  }

  parse(): Node {
    const node = this.or();
    const t = this.peek();
    if (t.t !== 'eof') throw new ExprSyntaxError(`unexpected ${describe(t)}`, t.at);
    return node;
  }

  private or(): Node {
    let left = this.and();
    while (this.isWord('or') || this.isOp('||')) {
      const at = this.next().at;
      left = { type: 'logical', op: 'or', left, right: this.and(), at };
    }
    return left;
  }

  private and(): Node {
    let left = this.not();
    while (this.isWord('and') || this.isOp('&&')) {
      const at = this.next().at;
      left = { type: 'logical', op: 'and', left, right: this.not(), at };
    }
    return left;
  }

  private not(): Node {
    if (this.isWord('not') || this.isOp('!')) {
      const at = this.next().at;
      this.enter(at);
      const arg = this.not();
      this.depth--;
      return { type: 'unary', op: 'not', arg, at };
    }
    return this.cmp();
  }

  private cmp(): Node {
    const left = this.add();
    const t = this.peek();
    if (this.isWord('is')) {
      this.pos++;
      const negate = this.isWord('not');
      if (negate) this.pos++;
      const n = this.next();
      if (n.t !== 'name' || !(TESTS as readonly string[]).includes(n.v)) {
        throw new ExprSyntaxError(`unsupported test ${describe(n)} after 'is' (supported: ${TESTS.join(', ')})`, n.at);
      }
      return { type: 'test', name: n.v as TestName, value: left, negate, at: t.at };
    }
    let op: BinaryOp | undefined;
    if (t.t === 'op' && CMP.has(t.v)) op = t.v as BinaryOp;
    else if (this.isWord('in')) op = 'in';
    else if (this.isWord('not') && this.tokens[this.pos + 1]?.t === 'name' && (this.tokens[this.pos + 1] as { v: string }).v === 'in') {
      this.pos++;
      op = 'not in';
    }
    if (!op) return left;
    this.pos++;
    const node: Node = { type: 'binary', op, left, right: this.add(), at: t.at };
    const after = this.peek();
    if ((after.t === 'op' && CMP.has(after.v)) || this.isWord('in')) {
      throw new ExprSyntaxError('comparisons cannot be chained; combine them with and', after.at);
    }
    return node;
  }

  private add(): Node {
    let left = this.mul();
    while (this.isOp('+') || this.isOp('-')) {
      const t = this.next() as { v: string; at: number };
      left = { type: 'binary', op: t.v as BinaryOp, left, right: this.mul(), at: t.at };
    }
    return left;
  }

  private mul(): Node {
    let left = this.unary();
    while (this.isOp('*') || this.isOp('/')) {
      const t = this.next() as { v: string; at: number };
      left = { type: 'binary', op: t.v as BinaryOp, left, right: this.unary(), at: t.at };
    }
    return left;
  }

  private unary(): Node {
    if (this.isOp('-')) {
      const at = this.next().at;
      this.enter(at);
      const arg = this.unary();
      this.depth--;
      return { type: 'unary', op: '-', arg, at };
    }
    return this.postfix();
  }

  private postfix(): Node {
    let node = this.primary();
    for (;;) {
      if (this.isOp('.')) {
        const dot = this.next();
        const t = this.next();
        if (t.t !== 'name') throw new ExprSyntaxError(`expected a name after '.' but found ${describe(t)}`, t.at);
        node = { type: 'member', object: node, key: { type: 'literal', value: t.v, at: t.at }, at: dot.at };
      } else if (this.isOp('[')) {
        const at = this.next().at;
        this.enter(at);
        const key = this.or();
        this.depth--;
        this.expectOp(']');
        node = { type: 'member', object: node, key, at };
      } else if (this.isOp('|')) {
        node = this.filter(node, this.next().at);
      } else return node;
    }
  }

  private filter(value: Node, at: number): Node {
    const t = this.next();
    if (t.t !== 'name') throw new ExprSyntaxError(`expected a filter name after '|' but found ${describe(t)}`, t.at);
    if (!(FILTERS as readonly string[]).includes(t.v)) {
      throw new ExprSyntaxError(`unsupported filter '${t.v}' (supported: ${FILTERS.join(', ')})`, t.at);
    }
    const name = t.v as FilterName;
    const args = this.isOp('(') ? this.args(')', this.next().at) : [];
    const [min, max] = FILTER_ARITY[name];
    if (args.length < min || args.length > max) throw new ExprSyntaxError(`filter ${name} takes at most ${max} argument(s)`, t.at);
    return { type: 'filter', name, value, args, at };
  }

  private primary(): Node {
    const t = this.next();
    switch (t.t) {
      case 'num':
        return { type: 'literal', value: t.v, at: t.at };
      case 'str':
        return { type: 'literal', value: t.v, at: t.at };
      case 'name':
        return this.named(t);
      case 'op':
        if (t.v === '(') {
          this.enter(t.at);
          const inner = this.or();
          this.depth--;
          this.expectOp(')');
          return inner;
        }
        if (t.v === '[') return { type: 'list', items: this.args(']', t.at), at: t.at };
        break;
      case 'eof':
        throw new ExprSyntaxError('unexpected end of expression', t.at);
    }
    throw new ExprSyntaxError(`unexpected ${describe(t)}`, t.at);
  }

  private named(t: { v: string; at: number }): Node {
    if (t.v === 'true' || t.v === 'false') return { type: 'literal', value: t.v === 'true', at: t.at };
    if (t.v === 'null' || t.v === 'none' || t.v === 'None') return { type: 'literal', value: null, at: t.at };
    if (KEYWORDS.has(t.v)) throw new ExprSyntaxError(`unexpected '${t.v}'`, t.at);
    if (this.isOp('(')) {
      if (['lookup', 'query', 'q'].includes(t.v)) throw new ExprSyntaxError(`lookups (${t.v}(...)) are not supported`, t.at);
      if (!(FUNCTIONS as readonly string[]).includes(t.v)) {
        throw new ExprSyntaxError(`unknown function '${t.v}' (allowed: ${FUNCTIONS.join(', ')})`, t.at);
      }
      const open = this.next().at;
      const args = this.args(')', open);
      checkArity(t.v as FunctionName, args.length, t.at);
      return { type: 'call', fn: t.v, args, at: t.at };
    }
    return { type: 'name', name: t.v, at: t.at };
  }

  private args(close: string, at: number): Node[] {
    this.enter(at);
    const items: Node[] = [];
    if (!this.isOp(close)) {
      do items.push(this.or());
      while (this.isOp(',') && this.next());
    }
    this.expectOp(close);
    this.depth--;
    return items;
  }
}

function checkArity(fn: FunctionName, n: number, at: number): void {
  const ok = fn === 'min' || fn === 'max' ? n >= 1 : n === 1;
  if (!ok) throw new ExprSyntaxError(`${fn}() takes ${fn === 'min' || fn === 'max' ? 'at least one argument' : 'one argument'}`, at);
}

function describe(t: Token): string {
  if (t.t === 'eof') return 'end of expression';
  if (t.t === 'str') return `string ${JSON.stringify(t.v)}`;
  return `'${t.v}'`;
}

export function parseExpr(source: string): Node {
  if (source.length > MAX_SOURCE) throw new ExprSyntaxError(`expression longer than ${MAX_SOURCE} characters`, 0);
  if (!source.trim()) throw new ExprSyntaxError('empty expression', 0);
  return new Parser(tokenize(source)).parse();
}
