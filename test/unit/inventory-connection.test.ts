import { describe, expect, it } from 'vitest';
import { connectionVars, inventoryToList, loadInventory, type InventoryHost } from '../../src/inventory/index.js';
import { maskSecretVars } from '../../src/secrets/index.js';
import { fixture, rejected, thrown } from './inventory-helpers.js';

const host = (vars: Record<string, unknown>, name = 'h1'): InventoryHost => ({ name, vars, groups: ['all', 'ungrouped'] });

describe('inventory: connection variables', async () => {
  const inv = await loadInventory(fixture('conn/hosts.yml'));
  const conn = (name: string) => connectionVars(inv.hosts.get(name) as InventoryHost);

  it('defaults to the inventory name, port 22, no become', () => {
    expect(conn('plain')).toEqual({ address: 'plain', port: 22, user: 'ops', become: false });
  });

  it('reads every supported ansible_* variable into its typed field', () => {
    expect(conn('full')).toEqual({
      address: '192.0.2.10',
      port: 2222,
      user: 'admin',
      privateKeyFile: '/keys/id_ed25519',
      passphrase: 'hunter2-phrase',
      password: 'hunter2-pass',
      become: true,
      becomeUser: 'root',
      becomePassword: 'hunter2-become',
      sshCommonArgs: '-o ProxyJump=bastion',
    });
  });

  it('accepts the legacy aliases ansible_ssh_pass and ansible_become_password', () => {
    expect(conn('legacy')).toMatchObject({ password: 'hunter2-legacy', becomePassword: 'hunter2-become2' });
  });

  it('prefers the primary name when an alias is also set', () => {
    expect(connectionVars(host({ ansible_password: 'a', ansible_ssh_pass: 'b', ansible_host: 'x', ansible_ssh_host: 'y' }))).toMatchObject({
      password: 'a',
      address: 'x',
    });
  });

  it.each([0, 65536, 22.5, 'ssh', '', true, -1])('rejects port %j with E_INVENTORY naming the host', (port) => {
    const e = thrown(() => connectionVars(host({ ansible_port: port }, 'web9')));
    expect(e.code).toBe('E_INVENTORY');
    expect(e.host).toBe('web9');
    expect(e.message).toMatch(/^host 'web9': ansible_port must be an integer 1-65535/);
  });

  it('accepts ports 1 and 65535 and a numeric string', () => {
    expect(connectionVars(host({ ansible_port: 1 })).port).toBe(1);
    expect(connectionVars(host({ ansible_port: 65535 })).port).toBe(65535);
    expect(connectionVars(host({ ansible_port: ' 2200 ' })).port).toBe(2200);
  });

  it("reads ansible_become like Ansible's boolean(): yes/True/1/on, no/false/0/off", () => {
    for (const t of [true, 'yes', 'True', 'on', 1, '1', 'y']) expect(connectionVars(host({ ansible_become: t })).become).toBe(true);
    for (const f of [false, 'no', 'false', 'off', 0, '0', 'n']) expect(connectionVars(host({ ansible_become: f })).become).toBe(false);
    expect(thrown(() => connectionVars(host({ ansible_become: 'sometimes' }))).code).toBe('E_INVENTORY');
  });

  it('fails the load (not the run) when a host has an invalid port', async () => {
    const e = await rejected(loadInventory(fixture('errors/bad-port.yml')));
    expect(e.code).toBe('E_INVENTORY');
    expect(e.host).toBe('bad');
  });

  it('warns once per unsupported ansible_* variable for the whole inventory', () => {
    expect(inv.warnings).toEqual([
      "unsupported variable 'ansible_connection' is ignored (set for 3 hosts (first 'plain'))",
      "unsupported variable 'ansible_python_interpreter' is ignored (set for 2 hosts (first 'full'))",
      "unsupported variable 'ansible_ssh_extra_args' is ignored (set for host 'legacy')",
    ]);
  });

  it('does not warn about supported or non-ansible variables', () => {
    expect(inv.warnings.join('\n')).not.toMatch(/ansible_user|ansible_port|ansible_become|passphrase/);
  });
});

describe('inventory: secret redaction', () => {
  it('replaces every secret value and nothing else', () => {
    const vars = {
      ansible_password: 'p1',
      ansible_ssh_pass: 'p2',
      ansible_become_password: 'p3',
      ansible_become_pass: 'p4',
      ansible_ssh_private_key_passphrase: 'p5',
      vault_passphrase: 'p6',
      ansible_user: 'ops',
      nested: { ansible_password: 'p7', keep: 1 },
      list: [{ db_passphrase: 'p8' }],
    };
    expect(maskSecretVars(vars)).toEqual({
      ansible_password: '********',
      ansible_ssh_pass: '********',
      ansible_become_password: '********',
      ansible_become_pass: '********',
      ansible_ssh_private_key_passphrase: '********',
      vault_passphrase: '********',
      ansible_user: 'ops',
      nested: { ansible_password: '********', keep: 1 },
      list: [{ db_passphrase: '********' }],
    });
  });

  it('does not modify the vars it is given', () => {
    const vars = { ansible_password: 'p1' };
    maskSecretVars(vars);
    expect(vars.ansible_password).toBe('p1');
  });

  it('never prints a password in --list, yet the host keeps it for connecting', async () => {
    const inv = await loadInventory(fixture('conn/hosts.yml'));
    const out = JSON.stringify(inventoryToList(inv));
    expect(out).not.toMatch(/hunter2/);
    expect(out).toContain('"ansible_password":"********"');
    expect(inv.hosts.get('full')?.vars['ansible_password']).toBe('hunter2-pass');
  });
});
