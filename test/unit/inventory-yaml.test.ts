import { describe, expect, it } from 'vitest';
import { expandHostRange, loadInventory, parseInventory } from '../../src/inventory/index.js';
import { fixture, rejected, thrown } from './inventory-helpers.js';

describe('inventory: YAML format', () => {
  const inv = parseInventory(
    'inv.yml',
    `all:
  hosts:
    lonely:
  children:
    web:
      hosts:
        web1:
          ansible_port: 2201
        web2:
    db:
      hosts:
        web1:
        db1:2222:
    empty:
`,
  );

  it('lets a host belong to several groups; order is Ansible\'s (a group\'s children before its hosts)', () => {
    expect([...inv.hosts.keys()]).toEqual(['web1', 'web2', 'db1', 'lonely']);
    expect(inv.hosts.get('web1')?.groups).toEqual(['all', 'db', 'web']);
    expect(inv.groups.get('db')?.hosts).toEqual(['web1', 'db1']);
  });

  it("puts hosts without a group into the implicit 'ungrouped', and every top group under 'all'", () => {
    expect(inv.groups.get('ungrouped')?.hosts).toEqual(['lonely']);
    expect(inv.hosts.get('lonely')?.groups).toEqual(['all', 'ungrouped']);
    expect(inv.groups.get('all')?.children).toEqual(['ungrouped', 'web', 'db', 'empty']);
    expect(inv.groups.get('all')?.hosts).toEqual([]);
  });

  it('reads the host:port shorthand as ansible_port', () => {
    expect(inv.hosts.get('db1')?.vars).toEqual({ ansible_port: 2222 });
  });

  it('accepts a single name as hosts or children, as Ansible does', () => {
    const one = parseInventory('s.yml', 'all:\n  children:\n    web:\n      hosts: web1\n    prod:\n      children: web\n');
    expect(one.groups.get('web')?.hosts).toEqual(['web1']);
    expect(one.groups.get('prod')?.children).toEqual(['web']);
    expect(one.hosts.get('web1')?.groups).toEqual(['all', 'prod', 'web']);
  });

  it('accepts an empty file as an inventory with no hosts', () => {
    const empty = parseInventory('e.yml', '# nothing yet\n');
    expect(empty.hosts.size).toBe(0);
    expect([...empty.groups.keys()]).toEqual(['all', 'ungrouped']);
  });

  it('reports invalid YAML as E_YAML with file:line:column', async () => {
    const file = fixture('errors/bad-syntax.yml');
    const e = await rejected(loadInventory(file));
    expect(e.code).toBe('E_YAML');
    expect(e.position?.file).toBe(file);
    expect(e.position?.line).toBeGreaterThanOrEqual(4);
    expect(e.position?.column).toBeTypeOf('number');
  });

  it('rejects an unknown group key (a typo of vars) with E_SCHEMA at the key', async () => {
    const file = fixture('errors/unknown-key.yml');
    const e = await rejected(loadInventory(file));
    expect(e.code).toBe('E_SCHEMA');
    expect(e.position).toEqual({ file, line: 6, column: 7 });
    expect(e.message).toContain("unknown key 'varz'");
    expect(e.message).toContain('all.children.web');
  });

  it('rejects hosts written as a list, pointing at the list', async () => {
    const file = fixture('errors/hosts-list.yml');
    const e = await rejected(loadInventory(file));
    expect(e.code).toBe('E_SCHEMA');
    expect(e.position).toMatchObject({ file, line: 5 });
    expect(e.message).toMatch(/mapping of host names/);
  });

  it('rejects a range whose begin is after its end, at the host key', async () => {
    const file = fixture('errors/bad-range.yml');
    const e = await rejected(loadInventory(file));
    expect(e.code).toBe('E_INVENTORY');
    expect(e.position).toEqual({ file, line: 6, column: 9 });
    expect(e.message).toMatch(/begin <= end/);
  });

  it('rejects a group that is its own ancestor', async () => {
    const e = await rejected(loadInventory(fixture('errors/loop.yml')));
    expect(e.code).toBe('E_INVENTORY');
    expect(e.message).toMatch(/'a' as a child of 'b' creates a loop/);
    expect(e.position?.line).toBe(7);
  });

  it("rejects 'all' as a child group", () => {
    const e = thrown(() => parseInventory('x.yml', 'web:\n  children:\n    all:\n'));
    expect(e.code).toBe('E_INVENTORY');
    expect(e.position).toMatchObject({ line: 3 });
  });
});

describe('inventory: host ranges', () => {
  it('keeps zero padding of a numeric range', () => {
    expect(expandHostRange('web[08:11].example.com')).toEqual([
      'web08.example.com',
      'web09.example.com',
      'web10.example.com',
      'web11.example.com',
    ]);
  });

  it('does not pad a range whose begin has no leading zero', () => {
    expect(expandHostRange('n[9:11]')).toEqual(['n9', 'n10', 'n11']);
  });

  it('expands letter ranges', () => {
    expect(expandHostRange('db[a:c]')).toEqual(['dba', 'dbb', 'dbc']);
  });

  it('honours a stride', () => {
    expect(expandHostRange('h[1:10:2]')).toEqual(['h1', 'h3', 'h5', 'h7', 'h9']);
    expect(expandHostRange('h[a:e:2]')).toEqual(['ha', 'hc', 'he']);
  });

  it('treats an empty begin as 0, and multiplies several ranges', () => {
    expect(expandHostRange('r[:1]c[a:b]')).toEqual(['r0ca', 'r0cb', 'r1ca', 'r1cb']);
  });

  it('rejects malformed ranges', () => {
    for (const bad of ['h[3:1]', 'h[1]', 'h[1:]', 'h[01:100]', 'h[1:3:0]', 'h[1:c]', 'h[c:a]', 'h[1:3']) {
      expect(() => expandHostRange(bad), bad).toThrow();
    }
  });

  it('expands ranges in YAML host keys, with a port applying to each host', () => {
    const inv = parseInventory('r.yml', 'all:\n  hosts:\n    "n[1:2]:2200":\n');
    expect([...inv.hosts.values()].map((h) => [h.name, h.vars['ansible_port']])).toEqual([
      ['n1', 2200],
      ['n2', 2200],
    ]);
  });
});
