/**
 * Differential test: the same templates rendered by real Jinja2 with Ansible's filter and test
 * plugins (ansible-core's python: /usr/bin/python3 here) and by fleetmend's renderTemplateText,
 * compared character for character. Jinja2 is configured as Ansible configures it for the
 * template module: trim_blocks, strict undefined, None printed as '', the source's trailing
 * newlines kept (Templar.do_template's preserve_trailing_newlines). A template Jinja2 refuses
 * must be refused by fleetmend too. Skipped when that python has no ansible/jinja2.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { FleetmendError } from '../../src/errors.js';
import { renderTemplateText } from '../../src/playbook/template.js';

const PYTHON = '/usr/bin/python3';
const hasJinja = spawnSync(PYTHON, ['-c', 'import jinja2, ansible.plugins.filter.core'], { timeout: 30_000 }).status === 0;

const ORACLE = String.raw`
import json, sys, jinja2
from ansible.plugins.filter.core import FilterModule as CoreFilters
from ansible.plugins.filter.mathstuff import FilterModule as MathFilters
from ansible.plugins.test.core import TestModule as CoreTests
from ansible.plugins.test.mathstuff import TestModule as MathTests
env = jinja2.Environment(trim_blocks=True, undefined=jinja2.StrictUndefined, finalize=lambda x: '' if x is None else x)
for m in (CoreFilters(), MathFilters()):
    env.filters.update(m.filters())
for m in (CoreTests(), MathTests()):
    env.tests.update(m.tests())
def newlines_at_end(s):
    return len(s) - len(s.rstrip('\n'))
def render(t, variables):
    # Templar.do_template(preserve_trailing_newlines=True), as the template module calls it
    res = env.from_string(t).render(**variables)
    return res + '\n' * max(0, newlines_at_end(t) - newlines_at_end(res))
out = []
for case in json.load(sys.stdin):
    try:
        out.append({'ok': True, 'out': render(case['t'], case['vars'])})
    except Exception as e:
        out.append({'ok': False, 'err': type(e).__name__ + ': ' + str(e)})
print(json.dumps(out))
`;

const v = {
  name: 'db7',
  limit: 8192,
  flag: true,
  off: false,
  empty: '',
  nothing: null,
  xs: ['b', 'a', 'C'],
  ns: [3, 1, 2],
  d: { b: 2, a: 1 },
  users: [
    { name: 'alice', uid: 1001, shell: '/bin/bash', admin: true },
    { name: 'bob', uid: 1000, shell: '/bin/sh', admin: false },
  ],
  rules: '-a always,exit -F arch=b64 -S adjtimex -k time-change\n-w /etc/localtime -p wa -k time-change\n-b 8192\n-f 1\n',
  conf: 'max_log_file = 8\nnum_logs = 5\n',
  version: '2.6.32-754.el6',
  path: '/etc/audit/rules.d/audit.rules',
};

const TEMPLATES: string[] = [
  // statements, loops, whitespace
  '{% for x in xs %}{{ loop.index }}:{{ x }}{% if not loop.last %},{% endif %}{% endfor %}',
  '{% for x in xs %}\n{{ x }}\n{% endfor %}\n',
  '{% for x in xs -%}\n  {{ x }}\n{%- endfor %}\n',
  'a\n{% if flag %}\nyes\n{% elif off %}\nmaybe\n{% else %}\nno\n{% endif %}\nb\n',
  '{% if off %}x{% elif flag %}y{% endif %}',
  '{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}',
  '{% for k in d %}{{ k }}{% endfor %}',
  '{% for u in users %}{{ u.name }}:{{ loop.index0 }}:{{ loop.first }}:{{ loop.last }}:{{ loop.length }}:{{ loop.revindex }}\n{% endfor %}',
  '{% for x in [] %}x{% else %}none{% endfor %}',
  '{% set n = limit * 2 %}-b {{ n }}\n',
  '{% for x in ns %}{% set y = x %}{% endfor %}{{ y | default("out of scope") }}',
  '{# a comment #}\nline\n{#- trimmed -#}   next',
  '{% raw %}\n{{ kept }}{% endraw %}\nafter',
  '  {%- if flag %} tight {% endif -%}  \nend',
  '{{ xs }} {{ d }} {{ nothing }} {{ flag }} {{ users[0] }}',
  '## managed\n{% for line in rules.splitlines() %}\n{% if line.startswith("-a") %}\n{{ line }}\n{% endif %}\n{% endfor %}',
  // expressions
  '{{ name | upper }} {{ "X" | lower }} {{ xs | length }} {{ d | count }}',
  '{{ xs | join(",") }} {{ xs | sort | join }} {{ xs | sort(case_sensitive=true) | join }} {{ ns | sort(reverse=true) | list }}',
  '{{ "a,b,,c".split(",") }} {{ " a  b ".split() }} {{ "a b" | split }}',
  '{{ "  x  " | trim }}|{{ "Hello" | replace("l", "L") }}|{{ "aaa" | replace("a", "b", 2) }}',
  "{{ conf | regex_replace('(?m)^max_log_file = .*$', 'max_log_file = 32') }}",
  "{{ conf | regex_replace('MAX', 'min', ignorecase=True) }}",
  "{{ rules | regex_search('-b (\\d+)', '\\1') }} {{ rules | regex_search('-f \\d') }} {{ rules | regex_search('nope') }}",
  "{{ rules | regex_findall('-k (\\S+)') | unique | list }}",
  "{{ rules | regex_findall('-(\\w) (\\S+)') }}",
  "{{ 'localhost:80' | regex_replace('^(?P<host>.+):(?P<port>\\d+)$', '\\g<port>/\\g<host>') }}",
  "{{ 'x' | regex_replace('', '-') }} {{ 'abxd' | regex_replace('x*', '-') }}",
  '{{ "42" | int + 1 }} {{ "x" | int(7) }} {{ "0x1f" | int(0, 16) }} {{ true | int }}',
  '{{ "yes" | bool }} {{ "0" | bool }} {{ 1 | bool }} {{ limit | string }} {{ "ab" | list }}',
  '{{ d | dict2items }} {{ d | dict2items | items2dict }}',
  '{{ ns | select("odd") | list }} {{ ns | reject("odd") | list }} {{ [0, 1, "", "a"] | select | list }}',
  "{{ users | selectattr('admin') | map(attribute='name') | list }} {{ users | rejectattr('uid', 'lt', 1001) | map(attribute='uid') | list }}",
  "{{ users | selectattr('shell', 'equalto', '/bin/sh') | map(attribute='name') | first }}",
  "{{ xs | map('upper') | list }} {{ ['1', '2'] | map('int') | sum }}",
  '{{ ["a", "A", "b"] | unique | list }} {{ ns | first }} {{ ns | last }} {{ ns | min }} {{ ns | max }}',
  "{{ users | max(attribute='uid') }} {{ users | sort(attribute='uid') | map(attribute='name') | join(' ') }}",
  '{{ d | to_json }} {{ users | to_json }} {{ "é\\n" | to_json }} {{ [1, none, true] | to_json }}',
  '{{ d | to_nice_json }}',
  '{{ \'{"a": [1, 2]}\' | from_json }}',
  '{{ path | basename }} {{ path | dirname }} {{ "/" | dirname }} {{ "rel" | dirname }}|',
  '{{ "it\'s" | quote }} {{ "plain" | quote }} {{ "" | quote }}',
  "{{ d | combine({'c': 3}) }} {{ {'a': {'x': 1}} | combine({'a': {'y': 2}}, recursive=True) }}",
  "{{ missing | default('dflt') }} {{ empty | default('e', true) }} {{ empty | d('e') }}|",
  "{{ flag | ternary('on', 'off') }} {{ off | ternary('on', 'off') }}",
  '{{ "yes" if flag else "no" }} {{ "a" ~ limit ~ flag }} {{ 7 // 2 }} {{ -7 % 3 }} {{ 2 ** 8 }}',
  '{{ xs[1:] }} {{ xs[::-1] }} {{ name[0] }} {{ xs[-1] }} {{ "abcdef"[1:4] }}',
  "{{ d.keys() | list }} {{ d.values() | list }} {{ d.get('a') }} {{ d.get('z', 0) }}",
  "{{ name.startswith('db') }} {{ path.endswith(('.conf', '.rules')) }} {{ '  s '.strip() }} {{ 'a-b'.replace('-', '_') }}",
  "{{ ','.join(xs) }} {{ 'AbC'.lower() }} {{ 'abc'.upper() }} {{ 'a.b.c'.rsplit('.', 1) }}",
  "{{ version is version('2.6', '>=') }} {{ '1.10' is version('1.9', '>') }} {{ '8' is version('9', 'lt') }}",
  '{{ name is defined }} {{ missing is undefined }} {{ nothing is none }} {{ name is string }} {{ limit is number }}',
  '{{ d is mapping }} {{ xs is sequence }} {{ "a" is in xs }} {{ 4 is divisibleby 2 }} {{ 3 is odd }}',
  "{{ name is match('db') }} {{ name is match('7') }} {{ name is search('7') }} {{ name is regex('^d') }}",
  '{{ [1] is subset([1, 2]) }} {{ missing is not defined }} {{ not flag }}',
  '{{ {"k": [1, {"z": none}]} }} {{ (1, 2) }} {{ range(3) | list }}',
  '{{ ns | sum }} {{ [[1, 2], [3]] | flatten }} {{ ns | difference([1]) }} {{ ns | union([4]) }} {{ ns | intersect([2, 9]) }}',
  '{{ "hello world" | title }} {{ "hELLO" | capitalize }} {{ -3 | abs }} {{ ns | reverse | list }}',
  // one expression each
  ...[
    "'hello-world foo_bar (x)' | title",
    "xs | map('regex_replace', '^', '-') | list",
    "xs | map('lower') | select('match', '[a-b]') | list",
    "users | selectattr('admin', 'defined') | selectattr('admin') | map(attribute='name') | first",
    "users | map(attribute='admin', default='n/a') | list",
    "users | sort(attribute='shell,uid') | map(attribute='uid') | list",
    "users | min(attribute='uid') | to_json",
    "users | unique(attribute='shell') | map(attribute='name') | list",
    "users | map(attribute='name') | map('upper') | join('+')",
    "d | to_json(sort_keys=True)",
    "users[0] | to_json(indent=2, sort_keys=True)",
    "{'a': [1], 'b': 1} | combine({'a': [2], 'c': 3}, list_merge='append')",
    "{'a': [1, 2]} | combine({'a': [2, 3]}, list_merge='append_rp')",
    "[{'a': 1}, {'b': 2}] | combine",
    "'0b101' | int(base=2)",
    "'x' | int(default=-1)",
    "'1,000' | int",
    "nothing | ternary('t', 'f', 'none')",
    "conf | regex_findall('(?m)^(\\w+) = (\\d+)$')",
    "conf | regex_search('NUM_LOGS = (\\d+)', '\\1', ignorecase=True)",
    "conf | regex_replace('\\d+$', 'N', multiline=True)",
    "name | regex_replace('(?P<letters>[a-z]+)(?P<digits>\\d+)', '\\g<digits>-\\g<letters>')",
    "name | regex_escape",
    "'a.b*c' | regex_escape",
    "version is version('2.6.32', '>=')",
    "version is version('2.6.33', 'lt')",
    "'1.2.3' is version('1.2.3', 'eq', strict=True)",
    "name is search('B7', ignorecase=True)",
    "'a\nb' is match('^b', multiline=True)",
    "'ab' is regex('a', match_type='fullmatch')",
    "'abc'[1:] ~ 'xyz'[:-1] ~ 'q'[5:]",
    "[1, 2, 3][::-2]",
    "ns | list if false else 'skipped'",
    "xs | first | lower",
    "xs | last",
    "'' | first is undefined",
    "(xs | length > 2) and ('a' in xs) and not ('z' in xs)",
    "limit // 1000 ~ 'k'",
    "limit % 1000",
    "'x' * 3 ~ [1] * 2 | string",
    "'%-10s|' | replace('%-10s', name)",
    "'{}-{}'.format(name, limit)",
    "'{0}{1}{0}'.format('a', 'b')",
    "name.split('b')[0].upper()",
    "' x '.strip() ~ '|' ~ 'xxyxx'.strip('x') ~ '|' ~ '  a'.lstrip()",
    "'ab'.startswith('a') and 'ab'.endswith('b')",
    "'a,b;c'.replace(';', ',').split(',') | length",
    "d.get('zz') is none",
    "d | dict2items(key_name='name', value_name='v') | items2dict(key_name='name', value_name='v')",
    "range(1, 10, 3) | list",
    "[3, 'a'] | first is number",
    "1 is integer and 'x' is not integer and true is boolean",
    "[[1, [2, [3]]]] | flatten(levels=1)",
    "['a', none, 'b'] | select | list",
    "[1, 2] is superset([1]) and [1] is subset([1, 2])",
    "'  multiple   spaces ' | trim | split | join(' ')",
    "rules.splitlines() | select('match', '-w') | map('split') | map('first') | list",
    "rules.splitlines() | reject('search', 'arch') | list | length",
    "rules | regex_findall('-k ([\\w-]+)') | unique | sort | join(',')",
    "name | quote ~ ' ' ~ ('a b' | quote)",
    "('/a/b/' | basename) ~ '|' ~ ('/a/b/' | dirname)",
    "[1, 2, 3] | sum(start=10)",
    "['b', 'a'] | sort | first",
    "xs | sort(case_sensitive=True) | list",
    "ns | max ~ ns | min",
  ].map((e) => `{{ ${e} }}`),
  // refused by both
  '{{ missing }}',
  '{{ missing.attr }}',
  '{% for x in xs %}',
  '{% if flag %}x{% endfor %}',
  'x{% if flag %}y{% endif %}\n',
  'crlf\r\n{% if flag %}\r\nyes\r\n{% endif %}\r\n',
  "{{ 'tab\\there' }} {{ 'q\\'s' }} {{ '\\x41\\u00e9' }} {{ '\\d' }}",
  '{{ name | nosuchfilter }}',
  "{{ '1.0a' is version('1.0.1', '<') }}",
];

describe.skipIf(!hasJinja)('renderTemplateText against Jinja2 + Ansible plugins', () => {
  const run = spawnSync(PYTHON, ['-c', ORACLE], { input: JSON.stringify(TEMPLATES.map((t) => ({ t, vars: v }))), timeout: 120_000, encoding: 'utf8' });
  const oracle = run.status === 0 ? (JSON.parse(run.stdout) as { ok: boolean; out?: string; err?: string }[]) : [];

  it('the oracle ran', () => {
    expect(run.stderr).toBe('');
    expect(oracle).toHaveLength(TEMPLATES.length);
  });

  it.each(TEMPLATES.map((t, i) => [i, t] as const))('#%i %s', (i, t) => {
    const want = oracle[i]!;
    let got: { ok: boolean; out?: string; err?: unknown };
    try {
      got = { ok: true, out: renderTemplateText(t, v, { file: 't.j2', line: 1, column: 1 }) };
    } catch (err) {
      got = { ok: false, err };
    }
    if (want.ok) expect(got).toEqual({ ok: true, out: want.out });
    else {
      expect(got.ok, `Jinja2 refused it (${want.err}); fleetmend rendered ${JSON.stringify(got.out)}`).toBe(false);
      expect(got.err).toBeInstanceOf(FleetmendError);
    }
  });
});
