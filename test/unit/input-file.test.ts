/** A file the user named that cannot be read: the caller's code, the file and the reason. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FleetmendError } from '../../src/errors.js';
import { loadSshConfig } from '../../src/transport/index.js';
import { loadInventory } from '../../src/inventory/index.js';
import { readInputFile, readInputText } from '../../src/util/input-file.js';

const dir = mkdtempSync(join(tmpdir(), 'fm-input-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function failure(p: Promise<unknown>): Promise<FleetmendError> {
  const e: unknown = await p.then(() => undefined, (err: unknown) => err);
  if (!(e instanceof FleetmendError)) throw new Error(`expected a FleetmendError, got ${String(e)}`);
  return e;
}

describe('readInputFile', () => {
  it('reads the bytes (and the text) of a readable file', async () => {
    writeFileSync(join(dir, 'ok.txt'), 'héllo\n');
    expect((await readInputFile(join(dir, 'ok.txt'), { code: 'E_USAGE', what: 'x' })).length).toBe(7);
    expect(await readInputText(join(dir, 'ok.txt'), { code: 'E_USAGE', what: 'x' })).toBe('héllo\n');
  });

  it('a missing file: the code given, what it is, the path and ENOENT, the file as position', async () => {
    const missing = join(dir, 'nope.yml');
    const e = await failure(readInputText(missing, { code: 'E_INVENTORY', what: 'inventory' }));
    expect(e.code).toBe('E_INVENTORY');
    expect(e.message).toBe(`cannot read inventory ${missing}: ENOENT`);
    expect(e.position).toEqual({ file: missing });
  });

  it('a directory is said in words, with the hint; a host-owned file names the host', async () => {
    const e = await failure(readInputFile(dir, { code: 'E_KEYFILE', what: 'private key', directoryHint: 'give the key file', host: 'web-1' }));
    expect(e.message).toBe(`cannot read private key ${dir}: is a directory; give the key file`);
    expect(e.host).toBe('web-1');
    expect(e.position).toBeUndefined();
  });

  it('the callers keep their codes: inventory E_INVENTORY (a directory: give the file), ssh config E_USAGE', async () => {
    expect((await failure(loadInventory(dir))).message).toBe(`cannot read inventory ${dir}: is a directory; give the inventory file`);
    const e = await failure(loadSshConfig(join(dir, 'no-config')));
    expect([e.code, e.message]).toEqual(['E_USAGE', `cannot read ssh config ${join(dir, 'no-config')}: ENOENT`]);
  });
});
