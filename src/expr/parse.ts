/**
 * A small, safe expression language for `when:`, policy conditions and Jinja templates: a
 * tokenizer and a precedence-climbing parser to an AST. No eval, no Function, no host object
 * access. The grammar is Jinja2's (jinja2/parser.py), lowest precedence first:
 *
 *   expr    := or ('if' or ('else' expr)?)?              inline if
 *   or      := and (('or' | '||') and)*
 *   and     := not (('and' | '&&') not)*
 *   not     := ('not' | '!') not | cmp
 *   cmp     := add (('==' | '!=' | '<' | '<=' | '>' | '>=' | 'in' | 'not in') add)?
 *   add     := concat (('+' | '-') concat)*
 *   concat  := mul ('~' mul)*
 *   mul     := pow (('*' | '/' | '//' | '%') pow)*
 *   pow     := unary ('**' unary)*
 *   unary   := ('-' | '+') unary-without-filters filters | postfix filters
 *   postfix := primary ('.' name | '.' name '(' args ')' | '[' expr ']' | '[' slice ']')*
 *   filters := ('|' name ('(' args ')')? | 'is' 'not'? test (('(' args ')') | primary)?)*
 *   args    := (expr | name '=' expr) (',' ...)*
 *   primary := number | string+ | true | false | none | name | name '(' args ')'
 *            | '[' list ']' | '{' key ':' value, ... '}' | '(' expr ')' | '(' expr ',' ... ')'
 *
 * Like Jinja, filters and tests bind tighter than any operator (`a + b | int` filters b). Which
 * filters, tests, functions and methods exist is fixed here (so a typo is an error at load
 * time); what they do is in filters.ts, tests.ts, methods.ts. Attribute and method names that
 * start with `_` (`__class__`, `__proto__`), `constructor` and `prototype` are refused: nothing
 * can reach a JavaScript object's internals by name.
 */

export type BinaryOp = '==' | '!=' | '<' | '<=' | '>' | '>=' | 'in' | 'not in' | '+' | '-' | '*' | '/' | '//' | '%' | '**' | '~';

/** A keyword argument: `regex_replace('a', 'b', ignorecase=true)`. */
export interface KwArg {
  name: string;
  value: Node;
}

export type Node =
  | { type: 'literal'; value: unknown; at: number }
  | { type: 'name'; name: string; at: number }
  | { type: 'member'; object: Node; key: Node; at: number }
  | { type: 'slice'; object: Node; start?: Node; stop?: Node; step?: Node; at: number }
  | { type: 'call'; fn: string; args: Node[]; kwargs: KwArg[]; at: number }
  | { type: 'method'; object: Node; name: string; args: Node[]; kwargs: KwArg[]; at: number }
  | { type: 'filter'; name: string; value: Node; args: Node[]; kwargs: KwArg[]; at: number }
  | { type: 'test'; name: string; value: Node; args: Node[]; kwargs: KwArg[]; negate: boolean; at: number }
  | { type: 'list'; items: Node[]; tuple?: boolean; at: number }
  | { type: 'dict'; entries: [Node, Node][]; at: number }
  | { type: 'cond'; test: Node; then: Node; else?: Node; at: number }
  | { type: 'unary'; op: 'not' | '-' | '+'; arg: Node; at: number }
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

export const FUNCTIONS = ['len', 'defined', 'int', 'abs', 'min', 'max', 'range'] as const;
export type FunctionName = (typeof FUNCTIONS)[number];

/**
 * Jinja and Ansible filters accepted, with [min, max] positional arguments (keyword arguments
 * are checked when evaluated); any other filter is refused at load time.
 */
export const FILTER_ARITY: Readonly<Record<string, readonly [number, number]>> = {
  default: [0, 2], d: [0, 2], mandatory: [0, 1], ternary: [1, 3],
  int: [0, 2], float: [0, 1], bool: [0, 0], string: [0, 0], list: [0, 0], abs: [0, 0], round: [0, 2],
  lower: [0, 0], upper: [0, 0], capitalize: [0, 0], title: [0, 0], trim: [0, 1], length: [0, 0], count: [0, 0],
  join: [0, 2], split: [0, 2], replace: [2, 3], regex_replace: [1, 2], regex_search: [1, 9], regex_findall: [1, 1],
  regex_escape: [0, 0], quote: [0, 0], basename: [0, 0], dirname: [0, 0],
  first: [0, 0], last: [0, 0], min: [0, 0], max: [0, 0], sum: [0, 2], unique: [0, 0], sort: [0, 2], reverse: [0, 0],
  select: [0, 9], reject: [0, 9], selectattr: [1, 9], rejectattr: [1, 9], map: [0, 9], flatten: [0, 1],
  dict2items: [0, 0], items2dict: [0, 0], combine: [0, 9], to_json: [0, 0], to_nice_json: [0, 0], from_json: [0, 0],
  to_yaml: [0, 0], to_nice_yaml: [0, 0], from_yaml: [0, 0], difference: [1, 1], intersect: [1, 1], union: [1, 1],
  random: [0, 1],
};
export const FILTERS = Object.keys(FILTER_ARITY);

/** Jinja/Ansible tests (`x is defined`, `result is changed`, `v is version('2.0', '>=')`). */
export const TESTS = [
  'defined', 'undefined', 'none', 'changed', 'failed', 'failure', 'succeeded', 'success', 'skipped',
  'match', 'search', 'regex', 'string', 'number', 'integer', 'float', 'boolean', 'mapping', 'sequence', 'iterable',
  'in', 'version', 'version_compare', 'eq', 'equalto', 'ne', 'lt', 'le', 'gt', 'ge', 'divisibleby', 'odd', 'even',
  'lower', 'upper', 'true', 'false', 'contains', 'subset', 'superset', 'truthy', 'falsy', 'sameas',
  '==', '!=', '<', '<=', '>', '>=',
] as const;

/** Methods callable on values, whatever the type (each type's own list is in methods.ts). */
export const METHODS = [
  'keys', 'values', 'items', 'get', 'split', 'rsplit', 'splitlines', 'startswith', 'endswith', 'lower', 'upper',
  'strip', 'lstrip', 'rstrip', 'replace', 'join', 'find', 'count', 'index', 'capitalize', 'title',
  'isdigit', 'isalpha', 'isalnum', 'isspace', 'islower', 'isupper', 'zfill', 'format',
] as const;

export const MAX_SOURCE = 4096;
const MAX_DEPTH = 64;

type Token =
  | { t: 'num'; v: number; at: number }
  | { t: 'str'; v: string; at: number }
  | { t: 'name'; v: string; at: number }
  | { t: 'op'; v: string; at: number }
  | { t: 'eof'; at: number };

const OPS = ['==', '!=', '<=', '>=', '&&', '||', '//', '**', '<', '>', '!', '+', '-', '*', '/', '%', '~', '(', ')', '[', ']', '{', '}', '.', ',', ':', '=', '|'];
const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', "'": "'", a: '\x07', b: '\b', f: '\f', v: '\v', '\n': '' };

/**
 * One escape in a string literal, as Jinja decodes literals (Python's unicode_escape): `\n`,
 * `\x41`, `\u00e9`, octal `\1` (so a regex group is written `'\\1'`, as Ansible's docs do); an
 * unknown escape stays as written (`'\d'` is backslash + d).
 */
function readEscape(src: string, i: number): { text: string; len: number } {
  const n = src[i + 1] as string;
  if (Object.prototype.hasOwnProperty.call(ESCAPES, n)) return { text: ESCAPES[n]!, len: 2 };
  const octal = /^[0-7]{1,3}/.exec(src.slice(i + 1, i + 4));
  if (octal) return { text: String.fromCharCode(Number.parseInt(octal[0], 8)), len: 1 + octal[0].length };
  const hex = n === 'x' ? 2 : n === 'u' ? 4 : n === 'U' ? 8 : 0;
  if (hex) {
    const h = src.slice(i + 2, i + 2 + hex);
    if (!new RegExp(`^[0-9a-fA-F]{${hex}}$`).test(h) || Number.parseInt(h, 16) > 0x10ffff) throw new ExprSyntaxError(`bad escape \\${n}${h}`, i);
    return { text: String.fromCodePoint(Number.parseInt(h, 16)), len: 2 + hex };
  }
  return { text: `\\${n}`, len: 2 };
}

function readString(src: string, start: number, raw = false): { value: string; end: number } {
  const quote = src[start];
  let out = '';
  let i = start + 1;
  while (i < src.length) {
    const c = src[i] as string;
    if (c === quote) return { value: out, end: i + 1 };
    if (c === '\\') {
      if (i + 1 >= src.length) break;
      // raw: Ansible's _escape_backslashes for `{{ }}` in playbook strings, every backslash literal
      const e = raw ? { text: src.slice(i, i + 2), len: 2 } : readEscape(src, i);
      out += e.text;
      i += e.len;
    } else {
      out += c;
      i++;
    }
  }
  throw new ExprSyntaxError('unterminated string', start);
}

export function tokenize(src: string, rawStrings = false): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const num = /^(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?/.exec(src.slice(i, i + 64));
    const prev = tokens[tokens.length - 1];
    // `xs.0` is an index after a name, `)` or `]` (Jinja), not the number .0
    const afterOperand = prev !== undefined && (prev.t === 'name' || (prev.t === 'op' && (prev.v === ')' || prev.v === ']')));
    if (num && /[\d.]/.test(c) && !(c === '.' && (afterOperand || !/\d/.test(src[i + 1] ?? '')))) {
      tokens.push({ t: 'num', v: Number(num[0]), at: i });
      i += num[0].length;
      continue;
    }
    if (c === '"' || c === "'") {
      const s = readString(src, i, rawStrings);
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
    tokens.push({ t: 'op', v: op, at: i });
    i += op.length;
  }
  tokens.push({ t: 'eof', at: src.length });
  return tokens;
}

const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'is', 'if', 'else', 'true', 'false', 'null']);
const CMP = new Set(['==', '!=', '<', '<=', '>', '>=']);
const LITERALS: Record<string, unknown> = { true: true, True: true, false: false, False: false, null: null, none: null, None: null };

/** Names that would reach a JavaScript object's internals. */
export function isInternalName(name: string): boolean {
  return name.startsWith('_') || name === 'constructor' || name === 'prototype';
}

class Parser {
  private pos = 0;
  private depth = 0;
  constructor(private readonly tokens: Token[]) {}

  private peek(k = 0): Token {
    return (this.tokens[this.pos + k] ?? this.tokens[this.tokens.length - 1]) as Token;
  }
  private next(): Token {
    return this.tokens[this.pos++] as Token;
  }
  private isOp(v: string, k = 0): boolean {
    const t = this.peek(k);
    return t.t === 'op' && t.v === v;
  }
  private isWord(v: string, k = 0): boolean {
    const t = this.peek(k);
    return t.t === 'name' && t.v === v;
  }
  private expectOp(v: string): void {
    const t = this.peek();
    if (!(t.t === 'op' && t.v === v)) throw new ExprSyntaxError(`expected '${v}' but found ${describe(t)}`, t.at);
    this.pos++;
  }
  /** Runs a nested parse within the depth bound (a deep expression is a syntax error, never a stack overflow). */
  private nested<T>(at: number, f: () => T): T {
    if (++this.depth > MAX_DEPTH) throw new ExprSyntaxError('expression nested too deeply', at);
    const out = f();
    this.depth--;
    return out;
  }

  parse(): Node {
    const node = this.expr();
    const t = this.peek();
    if (t.t === 'op' && t.v === '=') throw new ExprSyntaxError("'=' is not an operator here; use '==' to compare", t.at);
    if (t.t !== 'eof') throw new ExprSyntaxError(`unexpected ${describe(t)}`, t.at);
    return node;
  }

  expr(): Node {
    const node = this.or();
    if (!this.isWord('if')) return node;
    const at = this.next().at;
    const test = this.or();
    if (!this.isWord('else')) return { type: 'cond', test, then: node, at };
    this.pos++;
    return { type: 'cond', test, then: node, else: this.nested(at, () => this.expr()), at };
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
      return { type: 'unary', op: 'not', arg: this.nested(at, () => this.not()), at };
    }
    return this.cmp();
  }

  private cmp(): Node {
    const left = this.add();
    const t = this.peek();
    let op: BinaryOp | undefined;
    if (t.t === 'op' && CMP.has(t.v)) op = t.v as BinaryOp;
    else if (this.isWord('in')) op = 'in';
    else if (this.isWord('not') && this.isWord('in', 1)) {
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

  private binaryLevel(ops: readonly string[], operand: () => Node): Node {
    let left = operand();
    for (let t = this.peek(); t.t === 'op' && ops.includes(t.v); t = this.peek()) {
      this.pos++;
      left = { type: 'binary', op: t.v as BinaryOp, left, right: operand(), at: t.at };
    }
    return left;
  }

  private add(): Node {
    return this.binaryLevel(['+', '-'], () => this.concat());
  }
  private concat(): Node {
    return this.binaryLevel(['~'], () => this.mul());
  }
  private mul(): Node {
    return this.binaryLevel(['*', '/', '//', '%'], () => this.pow());
  }
  private pow(): Node {
    return this.binaryLevel(['**'], () => this.unary(true));
  }

  private unary(withFilters: boolean): Node {
    let node: Node;
    if (this.isOp('-') || this.isOp('+')) {
      const t = this.next() as { v: string; at: number };
      node = { type: 'unary', op: t.v as '-' | '+', arg: this.nested(t.at, () => this.unary(false)), at: t.at };
    } else node = this.postfix(this.primary());
    return withFilters ? this.filters(node) : node;
  }

  private postfix(start: Node): Node {
    let node = start;
    for (;;) {
      if (this.isOp('.')) {
        const dot = this.next();
        const t = this.next();
        if (t.t === 'num' && Number.isInteger(t.v)) {
          // Jinja's `list.0`
          node = { type: 'member', object: node, key: { type: 'literal', value: t.v, at: t.at }, at: dot.at };
          continue;
        }
        if (t.t !== 'name') throw new ExprSyntaxError(`expected a name after '.' but found ${describe(t)}`, t.at);
        if (isInternalName(t.v)) throw new ExprSyntaxError(`'${t.v}': names starting with '_', constructor and prototype are not accessible`, t.at);
        if (this.isOp('(')) node = this.method(node, t);
        else node = { type: 'member', object: node, key: { type: 'literal', value: t.v, at: t.at }, at: dot.at };
      } else if (this.isOp('[')) {
        const at = this.next().at;
        node = this.nested(at, () => this.subscript(node, at));
      } else if (this.isOp('(')) {
        throw new ExprSyntaxError('only functions and methods can be called', this.peek().at);
      } else return node;
    }
  }

  private method(object: Node, t: { v: string; at: number }): Node {
    if (!(METHODS as readonly string[]).includes(t.v)) {
      throw new ExprSyntaxError(`unsupported method '${t.v}()' (supported: ${METHODS.join(', ')})`, t.at);
    }
    const { args, kwargs } = this.args(')', this.next().at);
    return { type: 'method', object, name: t.v, args, kwargs, at: t.at };
  }

  /** After '[': an index `x[i]` or a Python slice `x[a:b:c]`. */
  private subscript(object: Node, at: number): Node {
    const part = (): Node | undefined => (this.isOp(':') || this.isOp(']') ? undefined : this.expr());
    const start = part();
    if (!this.isOp(':')) {
      if (!start) throw new ExprSyntaxError('empty subscript', at);
      this.expectOp(']');
      return { type: 'member', object, key: start, at };
    }
    this.pos++;
    const stop = part();
    let step: Node | undefined;
    if (this.isOp(':')) {
      this.pos++;
      step = part();
    }
    this.expectOp(']');
    return { type: 'slice', object, ...(start ? { start } : {}), ...(stop ? { stop } : {}), ...(step ? { step } : {}), at };
  }

  private filters(start: Node): Node {
    let node = start;
    for (;;) {
      if (this.isOp('|')) node = this.filter(node, this.next().at);
      else if (this.isWord('is')) node = this.test(node, this.next().at);
      else return node;
    }
  }

  private filter(value: Node, at: number): Node {
    const t = this.next();
    if (t.t !== 'name') throw new ExprSyntaxError(`expected a filter name after '|' but found ${describe(t)}`, t.at);
    const arity = FILTER_ARITY[t.v];
    if (!Object.prototype.hasOwnProperty.call(FILTER_ARITY, t.v) || !arity) {
      throw new ExprSyntaxError(`unsupported filter '${t.v}' (supported: ${FILTERS.join(', ')})`, t.at);
    }
    const { args, kwargs } = this.isOp('(') ? this.args(')', this.next().at) : { args: [], kwargs: [] };
    const [min, max] = arity;
    if (args.length < min || args.length > max) {
      throw new ExprSyntaxError(`filter ${t.v} takes ${min === max ? min : `${min} to ${max}`} positional argument(s), got ${args.length}`, t.at);
    }
    return { type: 'filter', name: t.v, value, args, kwargs, at };
  }

  private test(value: Node, at: number): Node {
    const negate = this.isWord('not');
    if (negate) this.pos++;
    const n = this.next();
    const name = n.t === 'name' || n.t === 'op' ? n.v : undefined;
    if (name === undefined || !(TESTS as readonly string[]).includes(name)) {
      throw new ExprSyntaxError(`unsupported test ${describe(n)} after 'is' (supported: ${TESTS.join(', ')})`, n.at);
    }
    let args: Node[] = [];
    let kwargs: KwArg[] = [];
    if (this.isOp('(')) ({ args, kwargs } = this.args(')', this.next().at));
    else if (this.startsOperand()) args = [this.nested(at, () => this.postfix(this.primary()))];
    return { type: 'test', name, value, args, kwargs, negate, at };
  }

  /** Jinja's rule for a test's one argument without parentheses: `x is divisibleby 3`, `x is in [1]`. */
  private startsOperand(): boolean {
    const t = this.peek();
    if (t.t === 'num' || t.t === 'str') return true;
    if (t.t === 'name') return !['else', 'or', 'and', 'if', 'is', 'in', 'not'].includes(t.v);
    return t.t === 'op' && ['(', '[', '{'].includes(t.v);
  }

  private primary(): Node {
    const t = this.next();
    switch (t.t) {
      case 'num':
        return { type: 'literal', value: t.v, at: t.at };
      case 'str': {
        // adjacent string literals concatenate, as in Jinja and Python
        let v = t.v;
        while (this.peek().t === 'str') v += (this.next() as { v: string }).v;
        return { type: 'literal', value: v, at: t.at };
      }
      case 'name':
        return this.named(t);
      case 'op':
        if (t.v === '(') return this.nested(t.at, () => this.parenthesized(t.at));
        if (t.v === '[') return { type: 'list', items: this.positional(']', t.at), at: t.at };
        if (t.v === '{') return this.nested(t.at, () => this.dict(t.at));
        if (t.v === '=') throw new ExprSyntaxError("'=' is not an operator here; use '==' to compare", t.at);
        break;
      case 'eof':
        throw new ExprSyntaxError('unexpected end of expression', t.at);
    }
    throw new ExprSyntaxError(`unexpected ${describe(t)}`, t.at);
  }

  /** `(expr)`, or a tuple `(a, b)` (a list here). */
  private parenthesized(at: number): Node {
    if (this.isOp(')')) {
      this.pos++;
      return { type: 'list', items: [], tuple: true, at };
    }
    const first = this.expr();
    if (this.isOp(')')) {
      this.pos++;
      return first;
    }
    const items = [first];
    while (this.isOp(',')) {
      this.pos++;
      if (this.isOp(')')) break;
      items.push(this.expr());
    }
    this.expectOp(')');
    return { type: 'list', items, tuple: true, at };
  }

  private dict(at: number): Node {
    const entries: [Node, Node][] = [];
    while (!this.isOp('}')) {
      const key = this.expr();
      this.expectOp(':');
      entries.push([key, this.expr()]);
      if (!this.isOp(',')) break;
      this.pos++;
    }
    this.expectOp('}');
    return { type: 'dict', entries, at };
  }

  private named(t: { v: string; at: number }): Node {
    if (Object.prototype.hasOwnProperty.call(LITERALS, t.v)) return { type: 'literal', value: LITERALS[t.v], at: t.at };
    if (KEYWORDS.has(t.v)) throw new ExprSyntaxError(`unexpected '${t.v}'`, t.at);
    if (!this.isOp('(')) return { type: 'name', name: t.v, at: t.at };
    if (['lookup', 'query', 'q'].includes(t.v)) throw new ExprSyntaxError(`lookups (${t.v}(...)) are not supported`, t.at);
    if (!(FUNCTIONS as readonly string[]).includes(t.v)) {
      throw new ExprSyntaxError(`unknown function '${t.v}' (allowed: ${FUNCTIONS.join(', ')})`, t.at);
    }
    const { args, kwargs } = this.args(')', this.next().at);
    if (kwargs.length) throw new ExprSyntaxError(`${t.v}() takes no keyword arguments`, t.at);
    checkArity(t.v as FunctionName, args.length, t.at);
    return { type: 'call', fn: t.v, args, kwargs, at: t.at };
  }

  private positional(close: string, at: number): Node[] {
    const { args, kwargs } = this.args(close, at);
    if (kwargs.length) throw new ExprSyntaxError("'=' is not an operator here; use '==' to compare", kwargs[0]!.value.at);
    return args;
  }

  /** Arguments up to `close`: positional, then `name=value` keyword arguments (as Python requires). */
  private args(close: string, at: number): { args: Node[]; kwargs: KwArg[] } {
    return this.nested(at, () => {
      const args: Node[] = [];
      const kwargs: KwArg[] = [];
      while (!this.isOp(close)) {
        const t = this.peek();
        if (t.t === 'name' && this.isOp('=', 1)) {
          this.pos += 2;
          if (kwargs.some((k) => k.name === t.v)) throw new ExprSyntaxError(`keyword argument '${t.v}' given twice`, t.at);
          kwargs.push({ name: t.v, value: this.expr() });
        } else {
          if (kwargs.length) throw new ExprSyntaxError('a positional argument after keyword arguments', t.at);
          args.push(this.expr());
        }
        if (!this.isOp(',')) break;
        this.pos++;
      }
      this.expectOp(close);
      return { args, kwargs };
    });
  }
}

function checkArity(fn: FunctionName, n: number, at: number): void {
  const [min, max] = fn === 'min' || fn === 'max' ? [1, Infinity] : fn === 'range' ? [1, 3] : [1, 1];
  if (n < min || n > max) {
    throw new ExprSyntaxError(`${fn}() takes ${max === Infinity ? 'at least one argument' : max === 1 ? 'one argument' : `${min} to ${max} arguments`}`, at);
  }
}

function describe(t: Token): string {
  if (t.t === 'eof') return 'end of expression';
  if (t.t === 'str') return `string ${JSON.stringify(t.v)}`;
  return `'${t.v}'`;
}

/** `rawStrings`: backslashes in string literals are literal (see readString). */
export function parseExpr(source: string, rawStrings = false): Node {
  if (source.length > MAX_SOURCE) throw new ExprSyntaxError(`expression longer than ${MAX_SOURCE} characters`, 0);
  if (!source.trim()) throw new ExprSyntaxError('empty expression', 0);
  return new Parser(tokenize(source, rawStrings)).parse();
}
