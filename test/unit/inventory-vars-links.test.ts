/**
 * Symbolic links under group_vars/ and host_vars/ (issue 21 §8): a link loop, a link to a
 * directory that contains it (`a -> .`) and a dangling link are E_INVENTORY naming the file, not
 * an internal error with a stack trace; links that lead somewhere sane are still followed.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadInventory } from '../../src/inventory/index.js';
import { runCli } from '../helpers/cli.js';
import { rejected } from './inventory-helpers.js';

describe('inventory: symbolic links under host_vars/ and group_vars/', () => {
  let dir: string;
  let n = 0;
  /** A fresh inventory (group web: web1, web2) with host_vars/ and group_vars/, set up by `plant`. */
  const inventory = (plant: (base: string) => void): string => {
    const base = join(dir, `case-${n++}`);
    mkdirSync(join(base, 'host_vars'), { recursive: true });
    mkdirSync(join(base, 'group_vars'));
    writeFileSync(join(base, 'hosts.ini'), '[web]\nweb1\nweb2\n');
    plant(base);
    return join(base, 'hosts.ini');
  };
  /** E_INVENTORY naming `file` (relative to the inventory's directory) and saying why. */
  const refusedAt = async (inv: string, file: string, why: RegExp) => {
    const e = await rejected(loadInventory(inv));
    const full = join(inv, '..', file);
    expect(e.code).toBe('E_INVENTORY');
    expect(e.position?.file).toBe(full);
    expect(e.message).toMatch(why);
    return e;
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fm-varslinks-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a link to itself as host_vars/HOST.yml or group_vars/GROUP.yml', async () => {
    const hv = inventory((b) => symlinkSync('web1.yml', join(b, 'host_vars', 'web1.yml')));
    await refusedAt(hv, 'host_vars/web1.yml', /symbolic link loop/);
    const gv = inventory((b) => symlinkSync('web', join(b, 'group_vars', 'web')));
    await refusedAt(gv, 'group_vars/web', /symbolic link loop/);
  });

  it('two links pointing at each other inside a host_vars/HOST/ directory', async () => {
    const inv = inventory((b) => {
      mkdirSync(join(b, 'host_vars', 'web2'));
      writeFileSync(join(b, 'host_vars', 'web2', 'a.yml'), 'x: 1\n');
      symlinkSync('m2.yml', join(b, 'host_vars', 'web2', 'm1.yml'));
      symlinkSync('m1.yml', join(b, 'host_vars', 'web2', 'm2.yml'));
    });
    await refusedAt(inv, 'host_vars/web2/m1.yml', /symbolic link loop/);
  });

  it('a directory link back to where it is (host_vars/HOST -> ., a subdirectory -> ..)', async () => {
    const top = inventory((b) => symlinkSync('.', join(b, 'host_vars', 'web1')));
    await refusedAt(top, 'host_vars/web1/web1', /symbolic link loop \(it leads back to .*host_vars\/web1\)/);
    const deep = inventory((b) => {
      mkdirSync(join(b, 'group_vars', 'web', 'more'), { recursive: true });
      writeFileSync(join(b, 'group_vars', 'web', 'a.yml'), 'x: 1\n');
      symlinkSync('..', join(b, 'group_vars', 'web', 'more', 'up'));
    });
    await refusedAt(deep, 'group_vars/web/more/up', /symbolic link loop \(it leads back to .*group_vars\/web\)/);
  });

  it('a dangling link where a vars file belongs names its target; one Ansible would not read is ignored', async () => {
    const top = inventory((b) => symlinkSync('gone.yml', join(b, 'host_vars', 'web1.yml')));
    await refusedAt(top, 'host_vars/web1.yml', /a symbolic link to gone\.yml, which does not exist/);
    const inDir = inventory((b) => {
      mkdirSync(join(b, 'group_vars', 'web'));
      symlinkSync('/nonexistent/vault.yml', join(b, 'group_vars', 'web', 'vault.yml'));
    });
    await refusedAt(inDir, 'group_vars/web/vault.yml', /a symbolic link to \/nonexistent\/vault\.yml, which does not exist/);
    const ignored = inventory((b) => {
      mkdirSync(join(b, 'host_vars', 'web1'));
      writeFileSync(join(b, 'host_vars', 'web1', 'main.yml'), 'level: ok\n');
      symlinkSync('gone', join(b, 'host_vars', 'web1', 'notes.txt'));
    });
    expect((await loadInventory(ignored)).hosts.get('web1')?.vars['level']).toBe('ok');
  });

  it('links that lead somewhere sane are followed, a directory reached twice included', async () => {
    const inv = inventory((b) => {
      mkdirSync(join(b, 'shared'));
      writeFileSync(join(b, 'shared', 'common.yml'), 'common: true\n');
      mkdirSync(join(b, 'host_vars', 'web1'));
      symlinkSync('../../shared', join(b, 'host_vars', 'web1', 'one'));
      symlinkSync('../../shared', join(b, 'host_vars', 'web1', 'two'));
      symlinkSync('../shared/common.yml', join(b, 'host_vars', 'web2.yml'));
    });
    const loaded = await loadInventory(inv);
    expect(loaded.hosts.get('web1')?.vars['common']).toBe(true);
    expect(loaded.hosts.get('web2')?.vars['common']).toBe(true);
  });

  it('through the CLI: exit 1, [E_INVENTORY] at the file, no stack trace', async () => {
    const inv = inventory((b) => symlinkSync('.', join(b, 'host_vars', 'web1')));
    const r = await runCli(['inventory', '-i', inv, '--graph'], {});
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`${join(inv, '..', 'host_vars', 'web1', 'web1')}: cannot read this vars file: a symbolic link loop`);
    expect(r.stderr).toContain('[E_INVENTORY]');
    expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
  });
});
