/**
 * Jinja as hardening roles write it (issue 23 item 6): each filter, test and method against the
 * result Jinja2 / Ansible document for it; the grammar additions; and the attacks the language
 * must refuse with a clear error (internals by name, huge loops, deep nesting, ReDoS).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FleetmendError } from '../../src/errors.js';
import { compileExpr } from '../../src/expr/index.js';
import { foldAsciiCase, playbookRegex } from '../../src/expr/regex.js';

const ev = (src: string, scope: Record<string, unknown> = {}): unknown => compileExpr(src, undefined, { strictUndefined: true }).evaluate(scope);

function failure(fn: () => unknown): FleetmendError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FleetmendError);
    return err as FleetmendError;
  }
  throw new Error('expected an error');
}

const users = [
  { name: 'alice', uid: 1001, shell: '/bin/bash', admin: true },
  { name: 'Bob', uid: 1000, shell: '/bin/sh', admin: false },
  { name: 'carol', uid: 1002, shell: '/bin/bash' },
];

describe('filters (Jinja2 builtins and Ansible core.py)', () => {
  it.each<[string, Record<string, unknown>, unknown]>([
    ["'Audit Rules' | lower", {}, 'audit rules'],
    ["'auditd' | upper", {}, 'AUDITD'],
    ['xs | length', { xs: [1, 2, 3] }, 3],
    ["'héllo' | length", {}, 5],
    ['d | count', { d: { a: 1, b: 2 } }, 2],
    ["['a', 'b', 1] | join(', ')", {}, 'a, b, 1'],
    ["users | join(',', attribute='name')", { users }, 'alice,Bob,carol'],
    ["'a,b,,c' | split(',')", {}, ['a', 'b', '', 'c']],
    ["' a  b\tc ' | split", {}, ['a', 'b', 'c']],
    ["'a:b:c' | split(':', 1)", {}, ['a', 'b:c']],
    ["'  x y \\n' | trim", {}, 'x y'],
    ["'xxhixx' | trim('x')", {}, 'hi'],
    ["'Hello World' | replace('Hello', 'Goodbye')", {}, 'Goodbye World'],
    ["'aaa' | replace('a', 'b', 2)", {}, 'bba'],
    ["'ansible' | regex_replace('^a.*i(.*)$', 'a\\\\1')", {}, 'able'],
    ["'foobar' | regex_replace('^f.*o(.*)$', '\\\\1')", {}, 'bar'],
    ["'localhost:80' | regex_replace('^(?P<host>.+):(?P<port>\\\\d+)$', '\\\\g<host>, \\\\g<port>')", {}, 'localhost, 80'],
    ["'MAX_LOG_FILE = 8' | regex_replace('max_log_file', 'num_logs', ignorecase=True)", {}, 'num_logs = 8'],
    ["'a\\nb' | regex_replace('^', '# ', multiline=True)", {}, '# a\n# b'],
    ["'aaa' | regex_replace('a', 'b', count=2)", {}, 'bba'],
    ["'server1/database42' | regex_search('database[0-9]+')", {}, 'database42'],
    ["'foo' | regex_search('x')", {}, null],
    ["'server1/database42' | regex_search('server([0-9]+)/database([0-9]+)', '\\\\1', '\\\\2')", {}, ['1', '42']],
    ["'ABC' | regex_search('b', ignorecase=true)", {}, 'B'],
    ["'Cisco 1.2.3 and 4.5' | regex_findall('\\\\d+\\\\.\\\\d+')", {}, ['1.2', '4.5']],
    ["'a=1 b=2' | regex_findall('(\\\\w)=(\\\\d)')", {}, [['a', '1'], ['b', '2']]],
    ["'^f.*o(.*)$' | regex_escape", {}, '\\^f\\.\\*o\\(\\.\\*\\)\\$'],
    ["'42' | int", {}, 42],
    ["'0x1A' | int(base=16)", {}, 26],
    ["'3.9' | int", {}, 3],
    ["'x' | int(default=7)", {}, 7],
    ["'1.5' | float", {}, 1.5],
    ["'x' | float", {}, 0],
    ["'yes' | bool", {}, true],
    ["'off' | bool", {}, false],
    ['true | string', {}, 'True'],
    ['xs | string', { xs: ['a', 1, null] }, "['a', 1, None]"],
    ["'ab' | list", {}, ['a', 'b']],
    ['d | list', { d: { a: 1, b: 2 } }, ['a', 'b']],
    ['d | dict2items', { d: { a: 1, b: 2 } }, [{ key: 'a', value: 1 }, { key: 'b', value: 2 }]],
    ["d | dict2items(key_name='k', value_name='v')", { d: { a: 1 } }, [{ k: 'a', v: 1 }]],
    ["[{'key': 'a', 'value': 1}] | items2dict", {}, { a: 1 }],
    ["[{'n': 'a', 'v': 1}] | items2dict(key_name='n', value_name='v')", {}, { a: 1 }],
    ['[1, 2, 3, 4] | select("odd") | list', {}, [1, 3]],
    ['[1, 2, 3, 4] | reject("odd") | list', {}, [2, 4]],
    ["[0, 1, '', 'a', none] | select | list", {}, [1, 'a']],
    ["['a.rules', 'b.conf'] | select('match', '.*\\\\.rules$') | list", {}, ['a.rules']],
    ["users | selectattr('admin', 'defined') | map(attribute='name') | list", { users }, ['alice', 'Bob']],
    ["users | selectattr('shell', 'equalto', '/bin/bash') | map(attribute='name') | list", { users }, ['alice', 'carol']],
    ["users | rejectattr('shell', '==', '/bin/bash') | map(attribute='uid') | list", { users }, [1000]],
    ["users | map(attribute='admin', default=false) | list", { users }, [true, false, false]],
    ["['a', 'B'] | map('upper') | list", {}, ['A', 'B']],
    ["['1', '2'] | map('int') | list", {}, [1, 2]],
    ["['a ', ' b'] | map('trim') | join", {}, 'ab'],
    ["['a', 'A', 'b', 'a'] | unique", {}, ['a', 'b']],
    ["['a', 'A', 'b'] | unique(case_sensitive=true)", {}, ['a', 'A', 'b']],
    ["['b', 'A', 'c'] | sort", {}, ['A', 'b', 'c']],
    ['[3, 1, 2] | sort(reverse=true)', {}, [3, 2, 1]],
    ["users | sort(attribute='uid') | map(attribute='name') | first", { users }, 'Bob'],
    ["users | sort(attribute='name') | map(attribute='name') | list", { users }, ['alice', 'Bob', 'carol']],
    ['[4, 5] | first', {}, 4],
    ['[4, 5] | last', {}, 5],
    ["'abc' | first", {}, 'a'],
    ['[3, 1, 2] | min', {}, 1],
    ['[3, 1, 2] | max', {}, 3],
    ["users | max(attribute='uid') | string", { users }, "{'name': 'carol', 'uid': 1002, 'shell': '/bin/bash'}"],
    ["{'a': [1, 'x'], 'b': true, 'c': none} | to_json", {}, '{"a": [1, "x"], "b": true, "c": null}'],
    ["{'b': 1, 'a': [1]} | to_nice_json", {}, '{\n    "a": [\n        1\n    ],\n    "b": 1\n}'],
    ["'é' | to_json", {}, '"\\u00e9"'],
    ['\'{"a": [1, 2]}\' | from_json', {}, { a: [1, 2] }],
    ["{'a': [1, 2], 'b': 'x'} | to_yaml", {}, 'a: [1, 2]\nb: x\n'],
    ["{'a': {'b': 1}} | to_nice_yaml", {}, 'a:\n    b: 1\n'],
    ['"it\'s" | quote', {}, `'it'"'"'s'`],
    ["'/etc/audit/rules.d/a.rules' | basename", {}, 'a.rules'],
    ["'/etc/audit/rules.d/a.rules' | dirname", {}, '/etc/audit/rules.d'],
    ["'/etc/' | basename", {}, ''],
    ["{'a': 1, 'b': {'x': 1}} | combine({'b': {'y': 2}})", {}, { a: 1, b: { y: 2 } }],
    ["{'a': 1, 'b': {'x': 1}} | combine({'b': {'y': 2}}, recursive=true)", {}, { a: 1, b: { x: 1, y: 2 } }],
    ["{'a': [1]} | combine({'a': [2]}, list_merge='append')", {}, { a: [1, 2] }],
    ["[{'a': 1}, {'b': 2}] | combine", {}, { a: 1, b: 2 }],
    ["x | default('d')", {}, 'd'],
    ["x | d('d', true)", { x: '' }, 'd'],
    ["x | default(default_value='d', boolean=true)", { x: 0 }, 'd'],
    ["x.y.z | default('deep')", {}, 'deep'],
    ["true | ternary('yes', 'no')", {}, 'yes'],
    ["none | ternary('yes', 'no', 'null')", {}, 'null'],
    ["x | mandatory", { x: 1 }, 1],
    ['[[1, [2]], 3] | flatten', {}, [1, 2, 3]],
    ['[[1, [2]], 3] | flatten(levels=1)', {}, [1, [2], 3]],
    ['[1, 2, 3] | difference([2])', {}, [1, 3]],
    ['[1, 2] | union([2, 3])', {}, [1, 2, 3]],
    ['[1, 2] | intersect([2, 3])', {}, [2]],
    ['[1, 2, 3] | sum', {}, 6],
    ["'hello world' | title", {}, 'Hello World'],
    ["'hELLO' | capitalize", {}, 'Hello'],
    ['-3 | abs', {}, 3],
    ['[1, 2] | reverse | list', {}, [2, 1]],
  ])('%s with %j → %j', (src, scope, want) => {
    expect(ev(src, scope)).toEqual(want);
  });

  it('random(start=1): keyword arguments parse (issue 24 item 8) and the value is in range', () => {
    for (let i = 0; i < 20; i++) {
      const v = ev('10 | random(start=1)') as number;
      expect(Number.isInteger(v) && v >= 1 && v < 10).toBe(true);
    }
    expect(['a', 'b']).toContain(ev("['a', 'b'] | random"));
    expect(failure(() => ev('10 | random(seed=1)')).message).toMatch(/seed/);
  });

  it('mandatory of an undefined value is E_UNDEFINED with its message', () => {
    expect(failure(() => ev('x | mandatory')).code).toBe('E_UNDEFINED');
    expect(failure(() => ev("x | mandatory('set x in group_vars')")).message).toMatch(/set x in group_vars/);
  });

  it('an unknown keyword argument, a wrong argument count and an unknown filter are errors', () => {
    expect(failure(() => ev("'a' | regex_replace('a', 'b', ignorcase=true)")).message).toMatch(/unexpected keyword argument 'ignorcase'/);
    expect(failure(() => compileExpr("'a' | replace('a')")).message).toMatch(/filter replace takes 2 to 3/);
    expect(failure(() => compileExpr("'a' | password_hash('sha512')")).message).toMatch(/unsupported filter 'password_hash'/);
    expect(failure(() => ev("[1] | map('nope') | list")).message).toMatch(/unsupported filter 'nope'/);
  });

  it('an undefined value reaching a filter is E_UNDEFINED naming it', () => {
    const e = failure(() => ev('missing | lower'));
    expect(e.code).toBe('E_UNDEFINED');
    expect(e.message).toMatch(/'missing' is undefined/);
    expect(failure(() => ev("users | map(attribute='admin') | list | select | list", { users })).code).toBe('E_UNDEFINED');
  });
});

describe('tests (is / is not)', () => {
  it.each<[string, Record<string, unknown>, boolean]>([
    ['x is defined', { x: null }, true],
    ['x is undefined', {}, true],
    ['x is not defined', {}, true],
    ['x is none', { x: null }, true],
    ["'abc' is match('ab')", {}, true],
    ["'abc' is match('bc')", {}, false],
    ["'abc' is search('bc')", {}, true],
    ["'ABC' is search('b', ignorecase=true)", {}, true],
    ["'abc' is regex('^a')", {}, true],
    ["'abc' is regex('b', match_type='match')", {}, false],
    ["'abc' is regex('a.c', match_type='fullmatch')", {}, true],
    ["'a' is string", {}, true],
    ['1 is string', {}, false],
    ['1.5 is number', {}, true],
    ["'1' is number", {}, false],
    ['true is number', {}, true],
    ['3 is integer', {}, true],
    ['true is boolean', {}, true],
    ['{} is mapping', {}, true],
    ['[] is mapping', {}, false],
    ['[] is sequence', {}, true],
    ["'s' is sequence", {}, true],
    ['3 is sequence', {}, false],
    ['2 is in [1, 2]', {}, true],
    ["'b' is in 'abc'", {}, true],
    ['[1, 2] is contains(2)', {}, true],
    ["'2.6.32' is version('2.6', '>=')", {}, true],
    ["'1.10' is version('1.9', '>')", {}, true],
    ["'8' is version('9', 'lt')", {}, true],
    ["'1.0' is version('1.0', '==')", {}, true],
    ["'1.0.0' is version('1.0', 'eq')", {}, false],
    ["'2.0a1' is version('2.0', '<', version_type='strict')", {}, true],
    ["'12.5' is version_compare('12', '>')", {}, true],
    ['3 is divisibleby 3', {}, true],
    ['3 is odd', {}, true],
    ['4 is even', {}, true],
    ['1 is eq 1', {}, true],
    ['1 is gt 0', {}, true],
    ["'abc' is lower", {}, true],
    ['[1] is subset([1, 2])', {}, true],
    ['[1, 2] is superset([1])', {}, true],
    ['r is changed', { r: { changed: true } }, true],
    ['r is not failed', { r: { failed: false } }, true],
  ])('%s with %j → %j', (src, scope, want) => {
    expect(ev(src, scope)).toBe(want);
  });

  it('a version comparison of a number with letters fails as Ansible does', () => {
    expect(failure(() => ev("'1.0a' is version('1.0.1', '<')")).message).toMatch(/version comparison failed/);
    expect(failure(() => ev("'1' is version('1', 'about')")).message).toMatch(/invalid operator/);
  });
});

describe('methods (an allow-list per type)', () => {
  it.each<[string, Record<string, unknown>, unknown]>([
    ['d.keys() | list', { d: { a: 1, b: 2 } }, ['a', 'b']],
    ['d.values() | list', { d: { a: 1, b: 2 } }, [1, 2]],
    ['d.items() | list', { d: { a: 1 } }, [['a', 1]]],
    ["d.get('a')", { d: { a: 1 } }, 1],
    ["d.get('z', 'dflt')", { d: {} }, 'dflt'],
    ["d.get('z')", { d: {} }, null],
    ["'a,b'.split(',')", {}, ['a', 'b']],
    ["' a b '.split()", {}, ['a', 'b']],
    ["'a.b.c'.rsplit('.', 1)", {}, ['a.b', 'c']],
    ["'/etc/audit'.startswith('/etc')", {}, true],
    ["'x.rules'.endswith(('.conf', '.rules'))", {}, true],
    ["'AbC'.lower()", {}, 'abc'],
    ["'abc'.upper()", {}, 'ABC'],
    ["'  x  '.strip()", {}, 'x'],
    ["'--x--'.lstrip('-')", {}, 'x--'],
    ["'a-b'.replace('-', '_')", {}, 'a_b'],
    ["','.join(['a', 'b'])", {}, 'a,b'],
    ["'abc'.find('c')", {}, 2],
    ["'a\\nb\\n'.splitlines()", {}, ['a', 'b']],
    ["'{} is {}'.format('x', 1)", {}, 'x is 1'],
    ["'42'.isdigit()", {}, true],
    ["'7'.zfill(3)", {}, '007'],
    ['[1, 2, 2].count(2)', {}, 2],
  ])('%s with %j → %j', (src, scope, want) => {
    expect(ev(src, scope)).toEqual(want);
  });

  it('a method not on the allow-list, or on the wrong type, is refused', () => {
    expect(failure(() => compileExpr("x.toString()")).message).toMatch(/unsupported method 'toString\(\)'/);
    expect(failure(() => compileExpr("x.append(1)")).message).toMatch(/unsupported method/);
    expect(failure(() => ev('xs.keys()', { xs: [1] })).message).toMatch(/a list has no method keys\(\)/);
  });
});

describe('grammar: inline if, operators, literals, slices, keyword arguments', () => {
  it.each<[string, Record<string, unknown>, unknown]>([
    ["'yes' if x else 'no'", { x: 0 }, 'no'],
    ["'a' if x == 1 else 'b' if x == 2 else 'c'", { x: 2 }, 'b'],
    ["('on' if enabled else 'off') | upper", { enabled: true }, 'ON'],
    ["'-b ' ~ limit", { limit: 8192 }, '-b 8192'],
    ["1 ~ none ~ true", {}, '1NoneTrue'],
    ['7 // 2', {}, 3],
    ['-7 // 2', {}, -4],
    ['7 % 3', {}, 1],
    ['-7 % 3', {}, 2],
    ['2 ** 10', {}, 1024],
    ['[1, 2] + [3]', {}, [1, 2, 3]],
    ["'ab' * 2", {}, 'abab'],
    ["{'a': 1, 'b': [true, none]}", {}, { a: 1, b: [true, null] }],
    ['(1, 2)', {}, [1, 2]],
    ["{'a': {'b': 1}}['a']['b']", {}, 1],
    ['xs[1:]', { xs: [1, 2, 3] }, [2, 3]],
    ['xs[:-1]', { xs: [1, 2, 3] }, [1, 2]],
    ['xs[::2]', { xs: [1, 2, 3] }, [1, 3]],
    ["'abcdef'[1:3]", {}, 'bc'],
    ["'abc'[::-1]", {}, 'cba'],
    ['xs[-1]', { xs: [1, 2, 3] }, 3],
    ['xs.0', { xs: [4] }, 4],
    ['True and not False', {}, true],
    ["'a' 'b'", {}, 'ab'],
    ['range(1, 4) | list', {}, [1, 2, 3]],
    ['not x is defined', {}, true],
    ['x | int + 1', { x: '1' }, 2],
  ])('%s with %j → %j', (src, scope, want) => {
    expect(ev(src, scope)).toEqual(want);
  });

  it("'=' outside a keyword argument still says to use '=='", () => {
    expect(failure(() => compileExpr('x = 1')).message).toMatch(/'=' is not an operator here/);
    expect(failure(() => compileExpr('[a=1]')).message).toMatch(/'=' is not an operator here/);
  });

  it('an inline if without else and a false condition is undefined: an error unless defaulted', () => {
    expect(failure(() => ev("'a' if false")).code).toBe('E_UNDEFINED');
    expect(ev("('a' if false) | default('b')")).toBe('b');
  });
});

describe('attacks fail with clear errors', () => {
  it('no internals by name: _-names, constructor, prototype, __proto__', () => {
    for (const src of ['x.__class__', 'x.__proto__', "''.__class__.__mro__", 'x._private', 'x.constructor', 'x.prototype', 'x.__init__()']) {
      const e = failure(() => compileExpr(src));
      expect(e.code).toBe('E_EXPR');
      expect(e.message).toMatch(/not accessible/);
    }
    // by key: only own properties are data; inherited members are not there
    expect(ev("x['constructor'] is defined", { x: {} })).toBe(false);
    expect(ev("x['__proto__'] is defined", { x: {} })).toBe(false);
    expect(ev("'toString' in x", { x: {} })).toBe(false);
    expect(failure(() => ev("''['constructor']")).code).toBe('E_UNDEFINED');
  });

  it('huge loops and values stop at the budget', () => {
    expect(failure(() => ev('range(1000000) | list')).message).toMatch(/longer than 100000 items/);
    expect(failure(() => ev("'a' * 100000000")).message).toMatch(/longer than 1048576 characters/);
    expect(failure(() => ev('[1] * 100000000')).message).toMatch(/longer than 100000 items/);
    const big = Array.from({ length: 90_000 }, (_, i) => i);
    expect(failure(() => ev('xs | map("string") | map("int") | map("string") | map("int") | map("string") | map("int") | map("string") | map("int") | map("string") | map("int") | map("string") | map("int") | map("string") | map("int") | map("string") | map("int") | map("string") | map("int") | map("string") | map("int") | map("string") | map("int") | list', { xs: big })).message).toMatch(/steps/);
  });

  it('deep nesting is a syntax error, never a stack overflow', () => {
    expect(failure(() => compileExpr('['.repeat(200) + ']'.repeat(200))).message).toMatch(/nested too deeply/);
    expect(failure(() => compileExpr('{"a":'.repeat(100) + '1' + '}'.repeat(100))).message).toMatch(/nested too deeply/);
    expect(failure(() => compileExpr("1 if x else ".repeat(100) + '2')).message).toMatch(/nested too deeply/);
  });

  it('ReDoS: catastrophic patterns run in linear time on V8 linear engine; unlinear constructs are refused', () => {
    // first, so that a regression fails here instead of hanging in the backtracking engine below
    expect(playbookRegex('(a+)+$', {}, 0).flags).toContain('l');
    const input = `${'a'.repeat(50_000)}!`;
    expect(ev("s is match('^(a+)+$')", { s: input })).toBe(false);
    expect(ev("s | regex_replace('(a|aa)*c', 'x') | length", { s: input })).toBe(50_001);
    expect(ev("s is search('(x+x+)+y')", { s: 'x'.repeat(50_000) })).toBe(false);
    expect(failure(() => ev("s is search('(a)\\\\1')", { s: 'aa' })).message).toMatch(/linear time/);
    expect(failure(() => ev("s is search('(?=a)a')", { s: 'aa' })).message).toMatch(/linear time/);
    expect(failure(() => ev("s is search('a{2,300}')", { s: 'aa' })).message).toMatch(/linear time/);
  });

  it("fleetmend's own parsing of long values is linear too (float, split, dirname)", () => {
    expect(ev("('1' * 500000 ~ 'x') | float")).toBe(0);
    expect(ev("(' ' * 500000 ~ 'x') .split(none, 0) | length")).toBe(1);
    expect(ev("('a' ~ '/' * 500000 ~ 'b') | dirname")).toBe('a');
  });

  it('ignorecase without the engine\'s i flag: ASCII letters folded, escapes and group names kept', () => {
    expect(foldAsciiCase('ab\\d[a-c_]\\x41(?<nm>z)')).toBe('[aA][bB]\\d[a-c_A-C]\\x41(?<nm>[zZ])');
    expect(ev("'X-AB' is match('x-[a-b]+$', ignorecase=true)")).toBe(true);
    // filters bind tighter than ~ (Jinja): the length is of '' only
    expect(ev("'(?i)' ~ 'q' ~ '' | length")).toBe('(?i)q0');
    expect(ev("'ABC' | regex_replace('(?i)b', '_')")).toBe('A_C');
  });
});

describe('robustness: compiling and evaluating anything throws only FleetmendError', () => {
  it('random expressions from Jinja pieces', () => {
    const pieces = fc.constantFrom(
      'x', 'xs', 'd', '.', '[', ']', '(', ')', '{', '}', ':', ',', '"a"', "'\\\\d+'", ' | ', 'lower', 'map', 'select', 'regex_replace', 'default', 'sort',
      'attribute=', '=', ' is ', 'not ', 'defined', 'version', 'match', ' if ', ' else ', ' ~ ', '//', '%', '**', '1', '-', 'keys()', 'split', 'items',
      '__class__', 'range(', ' and ', ' in ', 'join', '(?P<n>a)', '\\\\1',
    );
    const src = fc.oneof(fc.string({ maxLength: 80 }), fc.array(pieces, { maxLength: 40 }).map((p) => p.join('')));
    const scope = { x: 'Ab1', xs: ['b', 'a', 3], d: { k: [1, { z: 'q' }] } };
    fc.assert(
      fc.property(src, (s) => {
        try {
          compileExpr(s, undefined, { strictUndefined: true }).evaluate(scope);
        } catch (err) {
          expect(err).toBeInstanceOf(FleetmendError);
          expect(['E_EXPR', 'E_UNDEFINED']).toContain((err as FleetmendError).code);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
