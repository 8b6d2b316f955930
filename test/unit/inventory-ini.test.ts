import { describe, expect, it } from 'vitest';
import { detectInventoryFormat, loadInventory, parseInventory } from '../../src/inventory/index.js';
import { parsePythonLiteral } from '../../src/inventory/python-literal.js';
import { shlexSplit } from '../../src/inventory/shlex.js';
import { fixture, rejected, thrown } from './inventory-helpers.js';

describe('inventory: INI format', async () => {
  const file = fixture('parse.ini');
  const inv = await loadInventory(file);
  const vars = (h: string): Record<string, unknown> => inv.hosts.get(h)?.vars ?? {};

  it('puts hosts before the first section into ungrouped, with host:port as ansible_port', () => {
    expect(inv.groups.get('ungrouped')?.hosts).toEqual(['bare1', 'bare2']);
    expect(vars('bare2')).toEqual({ ansible_port: 2201 });
  });

  it('expands ranges in host lines and applies inline vars to each host', () => {
    expect(inv.groups.get('web')?.hosts).toEqual(['web01', 'web02', 'web03', 'web10', 'web11']);
    expect(vars('web02')['ansible_user']).toBe('deploy');
    expect(inv.groups.get('db')?.hosts).toEqual(['dba', 'dbb', 'dbc']);
  });

  it('types inline values like Python literal_eval: numbers, True/None typed; true/0042 stay strings', () => {
    expect(vars('web10')).toMatchObject({
      ansible_host: '10.0.0.10',
      ansible_port: 2222,
      note: 'two words',
      padded: '0042',
      zero: '0042',
      flag: true,
      lower: 'true',
      none: null,
    });
  });

  it('ends a host line at # even inside a word, unless quoted (shlex comments=True)', () => {
    expect(vars('web11')).toMatchObject({ pw: '03#pa33', cut: 'ab' });
  });

  it('types :vars values the same way, keeping "# ..." in an unparseable value as Ansible does', () => {
    const web = inv.groups.get('web')?.vars;
    expect(web).toEqual({
      http_port: 8080,
      tier: 'web tier # not a comment in :vars (Ansible keeps it)',
      list: ['a', 'b', 3],
      dict: { k: 1, n: null },
      yesno: 'yes',
      quoted: "its",
      float: 2.5,
    });
  });

  it('links [group:children], declared before the child groups exist', () => {
    expect(inv.groups.get('prod')?.children).toEqual(['web', 'db']);
    expect(inv.hosts.get('dbb')?.groups).toEqual(['all', 'prod', 'db']);
    expect(inv.groups.get('all')?.children).toEqual(['ungrouped', 'prod', 'empty']);
  });

  it('keeps an empty [group]', () => {
    expect(inv.groups.get('empty')).toEqual({ name: 'empty', hosts: [], children: [], vars: {} });
  });

  it('names file:line for [group:children] naming an undefined group', async () => {
    const f = fixture('errors/undefined-child.ini');
    const e = await rejected(loadInventory(f));
    expect(e.code).toBe('E_INVENTORY');
    expect(e.oneLine()).toBe(`${f}:6: section [prod:children] includes undefined group 'dbs' [E_INVENTORY]`);
  });

  it('names file:line for [group:vars] of a group never declared', async () => {
    const f = fixture('errors/vars-undefined.ini');
    const e = await rejected(loadInventory(f));
    expect(e.position).toEqual({ file: f, line: 4 });
    expect(e.message).toMatch(/\[ghost:vars\] is for undefined group 'ghost'/);
  });

  it.each([
    ['unknown section type', '[web]\nw1\n[web:hostz]\n', 3, /unknown type 'hostz'/],
    ['space in a section name', '\n[web servers]\n', 2, /invalid section/],
    ['host var without =', '[web]\nw1 ansible_port\n', 2, /expected key=value host variable/],
    ['unterminated quote', '[web]\nw1\nw2 a="open\n', 3, /No closing quotation/],
    ['bad range', '[web]\nw[5:2]\n', 2, /begin <= end/],
    ['vars line without =', '[web]\nw1\n[web:vars]\nhttp_port 80\n', 4, /expected key=value in \[web:vars\]/],
    ['children line with two names', '[a]\n[b:children]\na extra\n', 3, /expected a group name/],
    ['a YAML separator', '---\n', 1, /looks like YAML/],
    ['a trailing colon', 'web1:\n', 1, /reserved to give a port/],
  ])('rejects %s with file:line', (_what, text, line, message) => {
    const e = thrown(() => parseInventory('t.ini', text, 'ini'));
    expect(e.code).toBe('E_INVENTORY');
    expect(e.position).toEqual({ file: 't.ini', line });
    expect(e.message).toMatch(message);
  });

  it('sets a group priority from [g:vars] without making it a variable', () => {
    const p = parseInventory('p.ini', '[a]\nh\n[a:vars]\nansible_group_priority=5\nx=1\n');
    expect(p.hosts.get('h')?.vars).toEqual({ x: 1 });
  });
});

describe('inventory: format detection', () => {
  it('goes by extension first', () => {
    expect(detectInventoryFormat('x.ini', 'all:\n')).toBe('ini');
    expect(detectInventoryFormat('x.yaml', '[web]\n')).toBe('yaml');
  });
  it('reads an extensionless file by its first meaningful line', () => {
    expect(detectInventoryFormat('hosts', '# c\n\nall:\n  hosts:\n')).toBe('yaml');
    expect(detectInventoryFormat('hosts', '---\nall:\n')).toBe('yaml');
    expect(detectInventoryFormat('hosts', '; c\n[web]\nw1\n')).toBe('ini');
    expect(detectInventoryFormat('hosts', 'web1:2222 ansible_user=x\n')).toBe('ini');
    expect(detectInventoryFormat('hosts', 'web1\n')).toBe('ini');
  });
});

describe('inventory: INI value and line splitting helpers', () => {
  it.each([
    ['42', 42],
    ['-7', -7],
    ['0x1f', 31],
    ['1_000', 1000],
    ['2.5', 2.5],
    ['1e3', 1000],
    ['True', true],
    ['None', null],
    ["'a' \"b\"", 'ab'],
    ['"tab\\tx"', 'tab\tx'],
    ["r'a\\tb'", 'a\\tb'],
    ['(1, 2)', [1, 2]],
    ['{1, 2}', [1, 2]],
    ["{'a': [1, {'b': False}]}", { a: [1, { b: false }] }],
    ['42 # comment', 42],
  ])('literal_eval(%s) is a literal', (text, value) => {
    expect(parsePythonLiteral(text)).toEqual({ ok: true, value });
  });

  it.each(['yes', 'true', '0042', '10.0.0.1', 'web tier', '[1, 2', "'''x'''", '99999999999999999999', '', 'a=b'])(
    'literal_eval(%s) is not a literal (Ansible keeps the text)',
    (text) => {
      expect(parsePythonLiteral(text)).toEqual({ ok: false });
    },
  );

  it('splits like POSIX shlex', () => {
    expect(shlexSplit(`h a="x y" b='p q' c=e\\ f d="q\\"t" e=""`)).toEqual(['h', 'a=x y', 'b=p q', 'c=e f', 'd=q"t', 'e=']);
  });
});
