/**
 * Issue 23 §1: inventory values are read as Ansible reads them. YAML inventories and
 * group_vars/host_vars files go through PyYAML (YAML 1.1 scalars: `restart_enabled: no` is
 * false, `y`/`n` stay strings, `0755` is octal); INI values through literal_eval (`no` stays a
 * string). The expected values are ansible-inventory's (ansible-core 2.14); when it is installed
 * the same files are also compared with it directly.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadInventory } from '../../src/inventory/index.js';

const ANSIBLE_INVENTORY = '/usr/bin/ansible-inventory';

const VARS_FILE = `restart_enabled: no
b_yes: yes
b_on: on
b_off: OFF
b_y: y
b_n: n
b_Y: Y
quoted_no: "no"
oct: 0755
oct_yaml12: 0o755
sexagesimal: 1:30
exp_unsigned: 1e3
float_unsigned_exp: 1.5e3
float_signed_exp: 1.5e+3
underscored: 1_000
hex: 0x1F
leading_zero: 09
date: 2001-12-14
tilde: ~
`;

/** What ansible-inventory --list prints for VARS_FILE's keys. */
const ANSIBLE_READS = {
  restart_enabled: false,
  b_yes: true,
  b_on: true,
  b_off: false,
  b_y: 'y',
  b_n: 'n',
  b_Y: 'Y',
  quoted_no: 'no',
  oct: 493,
  oct_yaml12: '0o755',
  sexagesimal: 90,
  exp_unsigned: '1e3',
  float_unsigned_exp: '1.5e3',
  float_signed_exp: 1500,
  underscored: 1000,
  hex: 31,
  leading_zero: '09',
  date: '2001-12-14',
  tilde: null,
};

const dir = mkdtempSync(join(tmpdir(), 'fm-yaml11-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
mkdirSync(join(dir, 'group_vars'));
mkdirSync(join(dir, 'host_vars'));
writeFileSync(join(dir, 'group_vars', 'all.yml'), VARS_FILE);
writeFileSync(join(dir, 'host_vars', 'web1.yml'), 'host_flag: off\n');
writeFileSync(join(dir, 'hosts.yml'), 'all:\n  hosts:\n    web1:\n      inline_no: no\n      inline_n: n\n    web2:\n');
writeFileSync(join(dir, 'hosts.ini'), 'web1 ini_no=no ini_true=True\nweb2\n');

function ansibleHostvars(file: string): Record<string, Record<string, unknown>> {
  const r = spawnSync(ANSIBLE_INVENTORY, ['-i', file, '--list'], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ANSIBLE_NOCOLOR: '1' } });
  expect(r.status, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { _meta: { hostvars: Record<string, Record<string, unknown>> } })._meta.hostvars;
}

describe('inventory values read as Ansible reads them', () => {
  it('group_vars files: YAML 1.1 scalars as PyYAML resolves them', async () => {
    const inv = await loadInventory(join(dir, 'hosts.yml'));
    expect(inv.hosts.get('web2')?.vars).toEqual(ANSIBLE_READS);
  });

  it('YAML inventory and host_vars: `no`/`off` are false, `n` a string', async () => {
    const inv = await loadInventory(join(dir, 'hosts.yml'));
    expect(inv.hosts.get('web1')?.vars).toMatchObject({ inline_no: false, inline_n: 'n', host_flag: false });
  });

  it('INI values keep literal_eval (`no` a string, `True` a boolean); its group_vars are YAML 1.1', async () => {
    const inv = await loadInventory(join(dir, 'hosts.ini'));
    expect(inv.hosts.get('web1')?.vars).toMatchObject({ ini_no: 'no', ini_true: true, restart_enabled: false, host_flag: false });
  });

  const missing = existsSync(ANSIBLE_INVENTORY) ? null : `${ANSIBLE_INVENTORY} is missing`;
  it.skipIf(missing !== null)('matches ansible-inventory --list on the same files, YAML and INI', async () => {
    for (const file of ['hosts.yml', 'hosts.ini']) {
      const inv = await loadInventory(join(dir, file));
      const theirs = ansibleHostvars(join(dir, file));
      for (const host of ['web1', 'web2']) expect(inv.hosts.get(host)?.vars, `${file} ${host}`).toEqual(theirs[host]);
    }
  }, 120_000);
});
