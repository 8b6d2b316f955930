/**
 * Jinja statements in templates (issue 23 item 6): renderTemplateText (the `template` module's
 * entry point) and the Templater for multi-line strings; errors at file:line:column; bounds; the
 * taint watch sees what statement templates read; shell arguments keep refusing statements.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FleetmendError } from '../../src/errors.js';
import { Templater, renderTemplateText, type HoleRead } from '../../src/playbook/template.js';

const pos = { file: 'roles/auditd/templates/audit.rules.j2', line: 1, column: 1 };
const render = (t: string, scope: Record<string, unknown> = {}) => renderTemplateText(t, scope, pos);

function failure(fn: () => unknown): FleetmendError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FleetmendError);
    return err as FleetmendError;
  }
  throw new Error('expected an error');
}

describe('renderTemplateText: statements as Jinja2 renders them (trim_blocks on)', () => {
  it.each<[string, Record<string, unknown>, string]>([
    ['{% for x in xs %}{{ loop.index }}:{{ x }}{% if not loop.last %},{% endif %}{% endfor %}', { xs: ['a', 'b'] }, '1:a,2:b'],
    ['{% for x in xs %}\n{{ x }}\n{% endfor %}\n', { xs: [1, 2] }, '1\n2\n'],
    ['a\n{% if x %}\nyes\n{% elif y %}\nmaybe\n{% else %}\nno\n{% endif %}\nb\n', { x: false, y: 0 }, 'a\nno\nb\n'],
    ['{% for k, v in d.items() %}{{ k }}={{ v }} {% endfor %}', { d: { a: 1, b: true } }, 'a=1 b=True '],
    ['{% for x in [] %}x{% else %}empty{% endfor %}', {}, 'empty'],
    ['{% for x in xs %}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex }}|{% endfor %}', { xs: [1, 2] }, '0TrueFalse22|1FalseTrue21|'],
    ['{% set n = 3 %}{{ n * 2 }}', {}, '6'],
    ['{% if true %}{% set n = 1 %}{% endif %}{{ n }}', {}, '1'],
    ['{% for x in [1] %}{% set n = x %}{% endfor %}{{ n | default("loop-scoped") }}', {}, 'loop-scoped'],
    ['{# comment #}\nline\n{#- trimmed -#}   next', {}, 'linenext'],
    ['{% raw %}\n{{ kept }}{% endraw %}\nafter', {}, '\n{{ kept }}after'],
    ['  {%- if true %} tight {% endif -%}  \nend', {}, ' tight end'],
    ['{{ xs }} {{ d }} {{ n }}|', { xs: ['a', 1], d: { k: null }, n: null }, "['a', 1] {'k': None} |"],
    ['x{% if true %}y{% endif %}\n', {}, 'xy\n'],
  ])('%j with %j', (t, scope, want) => {
    expect(render(t, scope)).toBe(want);
  });

  it('a hardening role template: audit rules from a list, with a default and a condition', () => {
    const t = [
      '## {{ ansible_managed | default("managed by fleetmend") }}',
      '-D',
      '-b {{ auditd_backlog | default(8192) }}',
      '{% for rule in auditd_rules %}{% endfor %}',
      '{% for w in watches | sort(attribute="path") %}',
      '-w {{ w.path }} -p {{ w.perms | default("wa") }} -k {{ w.key }}',
      '{% endfor %}',
      '{% if auditd_immutable | bool %}',
      '-e 2',
      '{% endif %}',
      '',
    ].join('\n');
    const out = render(t, { auditd_rules: [], watches: [{ path: '/etc/shadow', key: 'identity' }, { path: '/etc/group', key: 'identity', perms: 'w' }], auditd_immutable: 'no' });
    expect(out).toBe('## managed by fleetmend\n-D\n-b 8192\n-w /etc/group -p w -k identity\n-w /etc/shadow -p wa -k identity\n');
  });

  it('the scope is read through, accessors included (lazily templated vars), and locals shadow it', () => {
    let reads = 0;
    const scope = Object.defineProperty({ item: 'outer' } as Record<string, unknown>, 'lazy', { get: () => `v${++reads}`, enumerable: true });
    expect(render('{% for item in [1, 2] %}{{ item }}{{ lazy }}{% endfor %}{{ item }}', scope)).toBe('1v12v2outer');
  });
});

describe('renderTemplateText: errors name the construct and file:line:column', () => {
  it.each<[string, string, RegExp, number]>([
    ['{% include "x.j2" %}', 'E_TEMPLATE', /\{% include %\} is not supported/, 1],
    ['a\n{% if x %}\nunclosed', 'E_TEMPLATE', /\{% if %\} is not closed/, 2],
    ['{% endfor %}', 'E_TEMPLATE', /without its \{% for %\}/, 1],
    ['{% if a %}{% else %}{% elif b %}{% endif %}', 'E_TEMPLATE', /elif %\} outside/, 1],
    ['line\n\n{{ x | nosuch }}', 'E_TEMPLATE', /unsupported filter 'nosuch'/, 3],
    ['{{ unclosed', 'E_TEMPLATE', /unclosed \{\{/, 1],
    ['ok\n{% for x in xs %}\n{{ x.missing }}\n{% endfor %}', 'E_UNDEFINED', /'x.missing' is undefined/, 3],
    ['{% for a, b in [1] %}{% endfor %}', 'E_TEMPLATE', /cannot unpack/, 1],
    ['{% set = 1 %}', 'E_TEMPLATE', /set %\} takes one name/, 1],
    ['{% for x in xs if x %}{% endfor %}', 'E_TEMPLATE', /loop filtering/, 1],
  ])('%j', (t, code, message, line) => {
    const e = failure(() => render(t, { xs: [{}], a: false }));
    expect(e.code).toBe(code);
    expect(e.message).toMatch(message);
    expect(e.position).toMatchObject({ file: pos.file, line });
  });
});

describe('renderTemplateText: bounds', () => {
  it('nested loops stop at the step budget', () => {
    expect(failure(() => render('{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}')).message).toMatch(/steps/);
  });

  it('output stops at the size bound', () => {
    expect(failure(() => render('{% for i in range(100000) %}{{ "x" * 100 }}{% endfor %}')).message).toMatch(/output longer than 1048576/);
  });

  it('whitespace control and trailing newlines stay linear on long runs', () => {
    const spaces = ' '.repeat(300_000);
    expect(render(`a${spaces}b${spaces}{%- if true -%}${spaces}c{% endif %}`)).toBe(`a${spaces}bc`);
    expect(render(`${'\n'.repeat(300_000)}x{% if true %}{% endif %}`)).toHaveLength(300_001);
  });

  it('blocks nested deeper than 32 are refused when compiled', () => {
    const deep = '{% if true %}'.repeat(40) + 'x' + '{% endif %}'.repeat(40);
    expect(failure(() => render(deep)).message).toMatch(/nested deeper than 32/);
    expect(render('{% if true %}'.repeat(30) + 'x' + '{% endif %}'.repeat(30))).toBe('x');
  });

  it('internals stay out of reach in templates too', () => {
    expect(failure(() => render('{{ "".__class__ }}')).code).toBe('E_TEMPLATE');
    expect(failure(() => render('{% for c in x.constructor %}{% endfor %}', { x: {} })).message).toMatch(/not accessible/);
  });
});

describe('Templater: statements in task arguments', () => {
  it('a multi-line string with statements renders outside shell arguments', () => {
    const t = new Templater();
    const text = '{% for h in hosts %}\n{{ h }} ok\n{% endfor %}\n';
    t.validate(text, pos, 'none');
    expect(t.render(text, { hosts: ['a', 'b'] }, 'none', pos)).toBe('a ok\nb ok\n');
  });

  it('statements stay refused in command/shell arguments (the context quoting cannot see their output)', () => {
    const t = new Templater();
    for (const d of ['sh', 'words'] as const) {
      const e = failure(() => t.validate('echo {% if x %}a{% endif %}', pos, d));
      expect(e.code).toBe('E_TEMPLATE');
      expect(e.message).toMatch(/Jinja statements .* are not supported in command\/shell arguments/);
    }
  });

  it("playbook {{ }} strings keep backslashes (Ansible's _escape_backslashes), template files decode them", () => {
    const t = new Templater();
    expect(t.render("{{ x | regex_replace('(\\d+)', '<\\1>') }}", { x: 'a12' }, 'none')).toBe('a<12>');
    expect(t.render("echo {{ x | regex_replace('\\d', 'N') }}", { x: 'a1' }, 'sh')).toBe("echo 'aN'");
    expect(render("{{ x | regex_replace('(\\\\d+)', '<\\\\1>') }}", { x: 'a12' })).toBe('a<12>');
    expect(render("{{ 'a\\tb' }}")).toBe('a\tb');
  });

  it('the taint watch sees every expression a statement template evaluates, an iterated value as its pieces', () => {
    const reads: HoleRead[] = [];
    const t = new Templater().observing((r) => reads.push(r));
    t.render('{% for c in pw %}{{ c }}{% endfor %}{% set y = pw %}{{ y }}', { pw: 'hunter22' }, 'none', pos);
    const iter = reads.find((r) => r.source === 'pw');
    expect(iter?.value).toEqual([...'hunter22']);
    expect(iter?.paths).toEqual(['pw']);
    // the local `y` is visible in the reported scope, holding the secret
    const y = reads.find((r) => r.source === 'y');
    expect(y?.scope.y).toBe('hunter22');
    expect(reads.filter((r) => r.source === 'c')).toHaveLength(8);
  });
});

describe('robustness: rendering throws nothing but FleetmendError', () => {
  it('random templates from Jinja pieces', () => {
    const pieces = fc.constantFrom(
      '{{', '}}', '{%', '%}', '{#', '#}', '-', ' if ', ' for ', ' in ', ' endif ', ' endfor ', ' else ', ' elif ', ' set ', '=', 'x', 'xs', 'd',
      'loop.index', '| join', '| default(1)', 'raw', 'endraw', '\n', ' ', 'text', '"s"', '[1, 2]', 'd.items()', 'k, v', '(', ')', '.__class__', 'range(9)',
    );
    const src = fc.oneof(fc.string({ maxLength: 60 }), fc.array(pieces, { maxLength: 40 }).map((p) => p.join('')));
    const scope = { x: 'a', xs: [1, 'b', null], d: { k: [1] } };
    fc.assert(
      fc.property(src, (s) => {
        try {
          render(s, scope);
        } catch (err) {
          expect(err).toBeInstanceOf(FleetmendError);
          expect(['E_TEMPLATE', 'E_EXPR', 'E_UNDEFINED']).toContain((err as FleetmendError).code);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
