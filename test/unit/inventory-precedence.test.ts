import { describe, expect, it } from 'vitest';
import { loadInventory, type Inventory } from '../../src/inventory/index.js';
import { fixture } from './inventory-helpers.js';

// The same inventory written twice; both must resolve identically through every level.
describe.each(['hosts.yml', 'hosts.ini'])('inventory: variable precedence (%s)', async (name) => {
  const inv: Inventory = await loadInventory(fixture(`precedence/${name}`));
  const v = (host: string, key: string): unknown => inv.hosts.get(host)?.vars[key];

  it("applies 'all' vars to every host", () => {
    expect(v('web1', 'only_all')).toBe('from-all');
    expect(v('db1', 'only_all')).toBe('from-all');
  });

  it('lets a child group override its parent, and the parent override all', () => {
    expect(v('db1', 'level')).toBe('prod');
    expect(v('web2', 'level')).toBe('web');
  });

  it('lets host vars override every group', () => {
    expect(v('web1', 'level')).toBe('host');
  });

  it('merges sibling groups at the same depth alphabetically, later wins', () => {
    expect(v('web2', 'alpha_vs_web')).toBe('web');
  });

  it('orders by depth before name: a deeper group beats an alphabetically later shallower one', () => {
    expect(v('web2', 'deeper_vs_name')).toBe('alpha');
  });

  it('orders by ansible_group_priority before name at equal depth', () => {
    expect(v('web2', 'priority_beats_name')).toBe('aardvark');
    expect(v('web2', 'ansible_group_priority')).toBeUndefined();
  });

  it('lists groups in merge order, ancestors and all included', () => {
    expect(inv.hosts.get('web2')?.groups).toEqual(['all', 'prod', 'zeta', 'alpha', 'web', 'aardvark']);
  });

  it("puts group_vars/ above every inventory-file group var, even group_vars/all over a child's", () => {
    expect(v('web1', 'file_vs_dir')).toBe('dir-all');
  });

  it('orders group_vars/ files by group depth too (web.yml over all.yml)', () => {
    expect(v('web1', 'dir_level')).toBe('dir-web');
    expect(v('db1', 'dir_level')).toBe('dir-all');
  });

  it('uses only the first of NAME, NAME.yml, NAME.yaml (web.yaml ignored when web.yml exists)', () => {
    expect(Object.values(inv.hosts.get('web1')?.vars ?? {})).not.toContain('dir-web-yaml');
  });

  it('reads a group_vars/<group>/ directory in sorted order, skipping hidden files', () => {
    expect(v('db1', 'prod_dir')).toBe('second');
    expect(v('db1', 'prod_first_only')).toBe('kept');
  });

  it('keeps inventory-file host vars above group_vars/', () => {
    expect(v('web2', 'host_vs_groupdir')).toBe('inventory-host');
    expect(v('web1', 'host_vs_groupdir')).toBe('dir-web');
  });

  it('puts host_vars/ above inventory-file host vars', () => {
    expect(v('web1', 'host_file_vs_dir')).toBe('dir-host');
  });

  it('reads an extensionless host_vars file', () => {
    expect(v('db1', 'from_host_dir_noext')).toBe(true);
  });

  it('ignores group_vars for groups the inventory does not have', () => {
    for (const h of inv.hosts.values()) expect(h.vars['level']).not.toBe('must-not-appear');
  });

  it('records group_vars/ in the group, after its inventory-file vars', () => {
    expect(inv.groups.get('web')?.vars).toMatchObject({ level: 'web', dir_level: 'dir-web' });
  });
});

describe('inventory: both precedence fixtures agree', () => {
  it('resolves every host of hosts.yml and hosts.ini to the same vars', async () => {
    const [a, b] = await Promise.all([loadInventory(fixture('precedence/hosts.yml')), loadInventory(fixture('precedence/hosts.ini'))]);
    const flat = (inv: Inventory) => Object.fromEntries([...inv.hosts.values()].map((h) => [h.name, h.vars]));
    expect(flat(a)).toEqual(flat(b));
  });
});
