import { describe, expect, it } from 'vitest';
import { inventoryToGraph, inventoryToList, loadInventory, parseInventory } from '../../src/inventory/index.js';
import { EXAMPLES, thrown } from './inventory-helpers.js';

describe('inventory: --list and --graph of the shipped examples', async () => {
  const [yml, ini] = await Promise.all([loadInventory(`${EXAMPLES}example.yml`), loadInventory(`${EXAMPLES}example.ini`)]);

  it('gives byte-identical --list JSON for example.yml and example.ini', () => {
    const a = JSON.stringify(inventoryToList(yml), null, 4);
    const b = JSON.stringify(inventoryToList(ini), null, 4);
    expect(a).toBe(b);
  });

  it('gives the same --graph for both', () => {
    expect(inventoryToGraph(yml)).toBe(inventoryToGraph(ini));
  });

  it('loads the examples without warnings', () => {
    expect([yml.warnings, ini.warnings]).toEqual([[], []]);
  });

  it('has the structure of ansible-inventory --list: sorted children, hosts, no hosts under all', () => {
    const list = inventoryToList(yml);
    expect(Object.keys(list)).toEqual(['_meta', 'all', 'db', 'legacy', 'prod', 'ungrouped', 'web']);
    expect(list['all']).toEqual({ children: ['legacy', 'prod', 'ungrouped'] });
    expect(list['prod']).toEqual({ children: ['db', 'web'] });
    expect(list['web']).toEqual({ hosts: ['web01.example.com', 'web02.example.com', 'web03.example.com'] });
    expect(list['ungrouped']).toEqual({ hosts: ['jump.example.com'] });
  });

  it('merges every level into _meta.hostvars, keys sorted', () => {
    const hv = inventoryToList(yml)._meta.hostvars;
    expect(hv['web01.example.com']).toEqual({
      ansible_user: 'fleetmend',
      audit_backlog_limit: 32768, // host_vars/ beats web's 16384 and all's 8192
      audit_backlog_wait_time: 60000,
      audit_rules_file: '/etc/audit/rules.d/fleetmend.rules',
      canary: true,
      env: 'prod',
      http_port: 8080,
    });
    expect(Object.keys(hv['db1.example.com'] ?? {})).toEqual([
      'ansible_become',
      'ansible_become_user',
      'ansible_host',
      'ansible_port',
      'ansible_user',
      'audit_backlog_limit',
      'audit_backlog_wait_time',
      'audit_rate_limit',
      'audit_rules_file',
      'env',
    ]);
    expect(hv['oldb.example.com']).toMatchObject({ ansible_user: 'root', audit_backlog_wait_time: null });
  });

  it('draws the tree like ansible-inventory --graph', () => {
    expect(inventoryToGraph(yml)).toBe(
      [
        '@all:',
        '  |--@legacy:',
        '  |  |--olda.example.com',
        '  |  |--oldb.example.com',
        '  |--@prod:',
        '  |  |--@db:',
        '  |  |  |--db1.example.com',
        '  |  |  |--db2.example.com',
        '  |  |--@web:',
        '  |  |  |--web01.example.com',
        '  |  |  |--web02.example.com',
        '  |  |  |--web03.example.com',
        '  |--@ungrouped:',
        '  |  |--jump.example.com',
      ].join('\n'),
    );
    expect(inventoryToGraph(yml, 'prod').split('\n')[0]).toBe('@prod:');
  });
});

describe('inventory: rendering edge cases', () => {
  const inv = parseInventory('e.ini', '[empty]\n[web]\nw2\nw1\n[web:vars]\nx=1\n');

  it('names an empty group among its parent\'s children but gives it no entry, like Ansible', () => {
    const list = inventoryToList(inv);
    expect(list['all']).toEqual({ children: ['empty', 'ungrouped', 'web'] });
    expect(list['empty']).toBeUndefined();
    expect(list['ungrouped']).toBeUndefined();
    expect(list['web']).toEqual({ hosts: ['w1', 'w2'] });
  });

  it('still draws empty groups in --graph', () => {
    expect(inventoryToGraph(inv)).toBe(['@all:', '  |--@empty:', '  |--@ungrouped:', '  |--@web:', '  |  |--w1', '  |  |--w2'].join('\n'));
  });

  it('omits hosts without vars from _meta.hostvars', () => {
    const bare = parseInventory('b.ini', 'h1\nh2 a=1\n');
    expect(inventoryToList(bare)._meta.hostvars).toEqual({ h2: { a: 1 } });
  });

  it('rejects --graph of a name that is not a group', () => {
    expect(thrown(() => inventoryToGraph(inv, 'w1')).code).toBe('E_PATTERN');
  });
});
