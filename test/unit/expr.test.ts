import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FleetmendError } from '../../src/errors.js';
import { compileExpr, evaluateCondition, valueAtPath } from '../../src/expr/index.js';

const scope = {
  audit: { enabled: 1, failure: 1, backlog_limit: 8192, backlog: 10, lost: 0, tags: ['a', 'b'] },
  rates: { lost_delta: null },
  findings: ['limit-drift', 'memory-headroom'],
  name: 'db7',
  'odd key': { x: 3 },
};
const ev = (src: string, s: unknown = scope): unknown => compileExpr(src).evaluate(s);

function exprError(fn: () => unknown): FleetmendError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FleetmendError);
    expect((err as FleetmendError).code).toBe('E_EXPR');
    return err as FleetmendError;
  }
  throw new Error('expected E_EXPR');
}

describe('expr: values and operators', () => {
  it.each([
    ['1 + 2 * 3', 7],
    ['(1 + 2) * 3', 9],
    ['10 / 4', 2.5],
    ['-2 - -3', 1],
    ['1.5e3', 1500],
    ['"a" + \'b\'', 'ab'],
    ['"q\\"uote"', 'q"uote'],
    ['[1, 2][1]', 2],
    ['true and not false', true],
    ['true && !true', false],
    ['false || 0 or "x"', true],
    ['null', null],
    ['audit.backlog_limit >= 8192', true],
    ['audit["backlog_limit"] / 2', 4096],
    ['audit.tags[0] == "a"', true],
    ['scope_missing.x', undefined],
    ['"drift" in "limit-drift"', true],
    ['"limit-drift" in findings', true],
    ['"panic-mode" not in findings', true],
    ['"lost" in audit', true],
    ['audit.backlog < audit.backlog_limit * 0.5', true],
    ['1 == 1 and 2 != 3 and 1 < 2 and 2 <= 2 and 3 > 2 and 3 >= 3', true],
    ['"b" > "a"', true],
    ['[1, 2] == [1, 2]', true],
  ])('%s → %j', (src, expected) => {
    expect(ev(src)).toEqual(expected);
  });

  it('precedence: not binds looser than comparison, and tighter than and/or', () => {
    expect(ev('not 1 == 2')).toBe(true);
    expect(ev('true or false and false')).toBe(true);
    expect(ev('not false and false')).toBe(false);
  });

  it('functions: len, defined, int, abs, min, max', () => {
    expect(ev('len(findings)')).toBe(2);
    expect(ev('len("abc") + len(audit)')).toBe(9);
    expect(ev('defined(audit.lost)')).toBe(true);
    expect(ev('defined(audit.nope)')).toBe(false);
    expect(ev('defined(rates.lost_delta)')).toBe(true); // null is defined, just null
    expect(ev('int("42") + int(3.9) + int(true)')).toBe(46);
    expect(ev('int("4x")')).toBeUndefined();
    expect(ev('abs(-5)')).toBe(5);
    expect(ev('min(3, 1, 2) + max([4, 9])')).toBe(10);
    expect(ev('max(audit.backlog, audit.nope)')).toBeUndefined();
  });
});

describe('expr: undefined and null are safe', () => {
  it('unknown identifiers are undefined; every comparison with undefined is false', () => {
    for (const op of ['==', '!=', '<', '<=', '>', '>=']) {
      expect(ev(`missing ${op} 1`), op).toBe(false);
      expect(ev(`1 ${op} missing`), op).toBe(false);
    }
    expect(ev('missing in findings')).toBe(false);
    expect(ev('missing not in findings')).toBe(false);
    expect(ev('not defined(missing)')).toBe(true);
  });

  it('arithmetic with undefined/null is undefined, so a derived comparison is false', () => {
    expect(ev('missing * 8970')).toBeUndefined();
    expect(ev('rates.lost_delta + 1 > 0')).toBe(false);
    expect(ev('1 / 0')).toBeUndefined();
  });

  it('reads own properties only: no prototype access', () => {
    // by name: refused when compiled (issue 23 item 6); by a key: an own property or nothing
    expect(exprError(() => ev('audit.constructor')).message).toMatch(/not accessible/);
    expect(ev('audit["__proto__"]')).toBeUndefined();
    expect(ev('name.length')).toBeUndefined();
    expect(ev('findings.length')).toBeUndefined();
    expect(ev('toString')).toBeUndefined();
  });

  it('evaluating against non-objects does not throw', () => {
    for (const s of [undefined, null, 5, 'x', [], new Map()]) expect(ev('a.b.c == 1', s)).toBe(false);
  });
});

describe('expr: errors with file:line:column', () => {
  const pos = { file: 'policies/x.yml', line: 7, column: 16 };

  it.each([
    ['audit.enabled = 1', 14, /use '=='/],
    ['audit.enabled ==', 16, /end of expression/],
    ['eval("x")', 0, /unknown function 'eval'/],
    ['len(1, 2)', 0, /one argument/],
    ['(1 + 2', 6, /expected '\)'/],
    ['"open', 0, /unterminated string/],
    ['1 < 2 < 3', 6, /chained/],
    ['a.', 2, /expected a name/],
    ['a $ b', 2, /unexpected character/],
    ['', 0, /empty/],
  ])('%j fails at offset %i', (src, offset, re) => {
    const e = exprError(() => compileExpr(src, pos));
    expect(e.message).toMatch(re);
    expect(e.position).toEqual({ file: 'policies/x.yml', line: 7, column: 16 + offset });
    expect(e.oneLine()).toMatch(new RegExp(`^policies/x\\.yml:7:${16 + offset}: `));
  });

  it('a multi-line expression reports the line inside it', () => {
    const e = exprError(() => compileExpr('audit.enabled == 1 and\n  audit.failure ==', pos));
    expect(e.position).toEqual({ file: 'policies/x.yml', line: 8, column: 19 });
  });

  it('type errors surface at evaluation as E_EXPR with the operator position', () => {
    const c = compileExpr('name - 1', pos);
    const e = exprError(() => c.evaluate(scope));
    expect(e.message).toMatch(/needs numbers/);
    expect(e.position?.column).toBe(21);
  });

  it('refuses oversized and too deeply nested expressions', () => {
    exprError(() => compileExpr('1+'.repeat(3000) + '1'));
    exprError(() => compileExpr('('.repeat(100) + '1' + ')'.repeat(100)));
    exprError(() => compileExpr('not '.repeat(100) + 'true'));
  });
});

describe('expr: paths', () => {
  it('lists the dotted paths read, including bracket keys', () => {
    const c = compileExpr('audit.backlog < audit["backlog_limit"] * 0.5 and defined(rates.lost_delta) and x[0] > 1 and y[z] == 1');
    expect(c.paths.sort()).toEqual(['audit.backlog', 'audit.backlog_limit', 'rates.lost_delta', 'x.0', 'y', 'z'].sort());
  });

  it('valueAtPath reads a path like the expression does', () => {
    expect(valueAtPath(scope, 'audit.tags.1')).toBe('b');
    expect(valueAtPath(scope, 'audit.constructor')).toBeUndefined();
  });

  it('evaluateCondition uses truthiness', () => {
    expect(evaluateCondition(compileExpr('findings'), scope)).toBe(true);
    expect(evaluateCondition(compileExpr('audit.lost'), scope)).toBe(false);
  });
});

describe('expr: robustness', () => {
  it('compile either succeeds or throws E_EXPR, for any input', () => {
    const pieces = fc.constantFrom('a', '.', '[', ']', '(', ')', '"', "'", ' and ', ' or ', 'not ', '==', '<', '1', '-', '+', 'len(', ',', 'in ', '!', '\\');
    const src = fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), fc.array(pieces, { maxLength: 60 }).map((p) => p.join('')));
    fc.assert(
      fc.property(src, (s) => {
        let c;
        try {
          c = compileExpr(s);
        } catch (err) {
          expect((err as FleetmendError).code).toBe('E_EXPR');
          return;
        }
        try {
          c.evaluate(scope);
        } catch (err) {
          expect((err as FleetmendError).code).toBe('E_EXPR');
        }
        try {
          compileExpr(s, undefined, { strictUndefined: true }).evaluate(scope);
        } catch (err) {
          expect(['E_EXPR', 'E_UNDEFINED']).toContain((err as FleetmendError).code);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('expr: strict undefined (playbooks: Ansible semantics, checked against ansible-core 2.14)', () => {
  const vars = { d: { a: 1 }, n: null, yes: true, empty: '' };
  const strict = (src: string, s: unknown = vars): unknown => compileExpr(src, { file: 'pb.yml', line: 4, column: 13 }, { strictUndefined: true }).evaluate(s);
  const undefinedError = (src: string): FleetmendError => {
    try {
      strict(src);
    } catch (err) {
      expect((err as FleetmendError).code).toBe('E_UNDEFINED');
      return err as FleetmendError;
    }
    throw new Error(`expected E_UNDEFINED from ${src}`);
  };

  it.each([
    ['x is defined', false],
    ['x is undefined', true],
    ['x.y is defined', false], // chained undefined: x.y of an undefined x is undefined, not an error
    ['x.y.z is undefined', true],
    ['d.b is defined', false],
    ['d.b.c is defined', false],
    ['d.a is defined', true],
    ['n.a is defined', false],
    ['n is none', true],
    ['x is none', false],
    ['n is defined', true],
    ["x | default('dd')", 'dd'],
    ["x.y | default('dy')", 'dy'],
    ["d.b | d('z')", 'z'],
    ["empty | d('e', true)", 'e'],
    ['defined(x.y)', false],
    ['true or x', true], // Jinja short-circuits: x is never read
    ['false and x', false],
    ['x is defined and x', false],
    ['yes', true],
  ])('%s → %j', (src, want) => {
    expect(strict(src)).toEqual(want);
  });

  it.each([
    ['some_flag', "'some_flag' is undefined"],
    ['not x', "'x' is undefined"],
    ['x == 1', "'x' is undefined"],
    ['1 != x', "'x' is undefined"],
    ['x in [1]', "'x' is undefined"],
    ['x + 1', "'x' is undefined"],
    ['[x]', "'x' is undefined"],
    ['x | int', "'x' is undefined"],
    ['x | bool', "'x' is undefined"],
    ['x | quote', "'x' is undefined"],
    ['len(x)', "'x' is undefined"],
    ['yes and x', "'x' is undefined"],
    ['x.y', "'x' is undefined"],
    ['d.b', "'d.b' is undefined"],
    ['ansible_facts.os_family == "RedHat"', "'ansible_facts' is undefined"],
    ['x is changed', "'x' is undefined"],
  ])('%s is E_UNDEFINED: %s', (src, message) => {
    const e = undefinedError(src);
    expect(e.message).toBe(`${message} in ${JSON.stringify(src)}`);
    expect(e.position).toMatchObject({ file: 'pb.yml', line: 4 });
  });

  it('the policy (lenient) mode is unchanged: a missing fact compares false', () => {
    expect(ev('missing == 1')).toBe(false);
    expect(ev('not missing')).toBe(true);
    expect(compileExpr('missing.x').evaluate({})).toBeUndefined();
  });
});
