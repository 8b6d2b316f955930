import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import ssh2 from 'ssh2';
import { FleetmendError } from '../../src/errors.js';
import {
  KnownHosts,
  fingerprintSha256,
  hashHostName,
  lookupHostKey,
  matchHostPatterns,
  parseKnownHosts,
} from '../../src/transport/index.js';

const dir = mkdtempSync(join(tmpdir(), 'fleetmend-kh-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const quiet = { warn: () => undefined };

function blob(): Buffer {
  const k = ssh2.utils.parseKey(ssh2.utils.generateKeyPairSync('ed25519').public);
  if (k instanceof Error || Array.isArray(k)) throw new Error('key');
  return k.getPublicSSH();
}
const K1 = blob();
const K2 = blob();
const K3 = blob();
const line = (hosts: string, k: Buffer): string => `${hosts} ssh-ed25519 ${k.toString('base64')}`;

describe('fingerprints', () => {
  it('are SHA256: + unpadded base64, as ssh-keygen -l prints', () => {
    const fp = fingerprintSha256(K1);
    expect(fp).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    const file = join(dir, 'k.pub');
    writeFileSync(file, `${line('x', K1).split(' ').slice(1).join(' ')}\n`);
    const r = spawnSync('ssh-keygen', ['-l', '-f', file]);
    if (r.status === 0) expect(r.stdout.toString()).toContain(fp);
  });
});

describe('parseKnownHosts + lookupHostKey', () => {
  const text = [
    '# comment',
    '',
    line('plain.example,10.0.0.5', K1),
    line('[alt.example]:2222', K2),
    line('*.web.example,!bad.web.example', K3),
    '@cert-authority *.example ' + `ssh-ed25519 ${K2.toString('base64')}`,
    'garbage-line',
  ].join('\n');
  const { entries, notes } = parseKnownHosts(text, 'kh');

  it('parses entries and notes ignored lines', () => {
    expect(entries).toHaveLength(3);
    expect(notes.some((n) => n.includes('@cert-authority'))).toBe(true);
    expect(notes.some((n) => n.startsWith('kh:7'))).toBe(true);
  });

  it('matches plain names and comma lists on port 22', () => {
    expect(lookupHostKey(entries, 'plain.example', 22, K1).status).toBe('match');
    expect(lookupHostKey(entries, '10.0.0.5', 22, K1).status).toBe('match');
    expect(lookupHostKey(entries, 'PLAIN.example', 22, K1).status).toBe('match');
  });

  it('uses [host]:port for other ports, and only that', () => {
    expect(lookupHostKey(entries, 'alt.example', 2222, K2).status).toBe('match');
    expect(lookupHostKey(entries, 'alt.example', 22, K2).status).toBe('unknown');
    expect(lookupHostKey(entries, 'plain.example', 2200, K1).status).toBe('unknown');
  });

  it('wildcards and negation', () => {
    expect(lookupHostKey(entries, 'a.web.example', 22, K3).status).toBe('match');
    expect(lookupHostKey(entries, 'bad.web.example', 22, K3).status).toBe('unknown');
    expect(matchHostPatterns('web1', ['web?'])).toBe(true);
    expect(matchHostPatterns('web12', ['web?'])).toBe(false);
    expect(matchHostPatterns('db1', ['*', '!db*'])).toBe(false);
    expect(matchHostPatterns('x', ['!x'])).toBe(false); // negation alone never matches
  });

  it('a different key for a known host is "changed", listing the known entries', () => {
    const r = lookupHostKey(entries, 'plain.example', 22, K2);
    expect(r.status).toBe('changed');
    if (r.status === 'changed') expect(r.known.map((e) => e.line)).toEqual([3]);
  });

  it('@cert-authority lines never match as host keys', () => {
    expect(lookupHostKey(entries, 'other.example', 22, K2).status).toBe('unknown');
  });
});

describe('hashed entries', () => {
  it('matches |1|salt|hash entries for host and [host]:port', () => {
    const text = [line(hashHostName('secret.example'), K1), line(hashHostName('[secret.example]:2022'), K2)].join('\n');
    const { entries } = parseKnownHosts(text);
    expect(lookupHostKey(entries, 'secret.example', 22, K1).status).toBe('match');
    expect(lookupHostKey(entries, 'secret.example', 2022, K2).status).toBe('match');
    expect(lookupHostKey(entries, 'other.example', 22, K1).status).toBe('unknown');
  });

  it('is the same HMAC-SHA1 that ssh-keygen -H writes', (ctx) => {
    if (spawnSync('ssh-keygen', ['-?']).error) return ctx.skip();
    const file = join(dir, 'to-hash');
    writeFileSync(file, `${line('hashme.example', K1)}\n${line('[hashme.example]:2200', K2)}\n`);
    const r = spawnSync('ssh-keygen', ['-H', '-f', file]);
    expect(r.status).toBe(0);
    const hashed = readFileSync(file, 'utf8').trim().split('\n');
    expect(hashed[0]).toMatch(/^\|1\|/);
    for (const l of hashed) {
      const field = l.split(' ')[0]!;
      const salt = Buffer.from(field.split('|')[2]!, 'base64');
      const name = l.includes(K1.toString('base64')) ? 'hashme.example' : '[hashme.example]:2200';
      expect(hashHostName(name, salt)).toBe(field);
    }
    const { entries } = parseKnownHosts(hashed.join('\n'));
    expect(lookupHostKey(entries, 'hashme.example', 22, K1).status).toBe('match');
    expect(lookupHostKey(entries, 'hashme.example', 2200, K2).status).toBe('match');
  });
});

describe('revoked', () => {
  it('a revoked key is refused even when another line matches it', () => {
    const { entries } = parseKnownHosts([line('h1', K1), `@revoked * ssh-ed25519 ${K1.toString('base64')}`].join('\n'));
    expect(lookupHostKey(entries, 'h1', 22, K1).status).toBe('revoked');
    expect(lookupHostKey(entries, 'h1', 22, K2).status).toBe('changed');
  });
});

describe('KnownHosts.verify policies', () => {
  async function expectCode(p: Promise<unknown>, code: string): Promise<FleetmendError> {
    const e = await p.then(() => undefined, (x: unknown) => x);
    expect(e).toBeInstanceOf(FleetmendError);
    expect((e as FleetmendError).code).toBe(code);
    return e as FleetmendError;
  }

  it('strict: unknown and changed are refused; changed names both fingerprints', async () => {
    const kh = new KnownHosts('f', parseKnownHosts(line('h1', K1)), { logger: quiet });
    const unknown = await expectCode(kh.verify({ host: 'h2', port: 22, key: K2, policy: 'strict', displayName: 'inv-h2' }), 'E_HOSTKEY_UNKNOWN');
    expect(unknown.host).toBe('inv-h2');
    expect(unknown.message).toContain(fingerprintSha256(K2));
    const changed = await expectCode(kh.verify({ host: 'h1', port: 22, key: K2, policy: 'strict' }), 'E_HOSTKEY_CHANGED');
    expect(changed.message).toContain(fingerprintSha256(K1));
    expect(changed.message).toContain(fingerprintSha256(K2));
    expect(changed.message).toContain('h1');
    await kh.verify({ host: 'h1', port: 22, key: K1, policy: 'strict' });
  });

  it('accept-new refuses a changed key too; off accepts anything and warns once', async () => {
    const warnings: string[] = [];
    const kh = new KnownHosts('f', parseKnownHosts(line('h1', K1)), { logger: { warn: (m) => warnings.push(m) } });
    await expectCode(kh.verify({ host: 'h1', port: 22, key: K2, policy: 'accept-new' }), 'E_HOSTKEY_CHANGED');
    await kh.verify({ host: 'h1', port: 22, key: K2, policy: 'off' });
    await kh.verify({ host: 'h9', port: 22, key: K3, policy: 'off' });
    expect(warnings.filter((w) => /OFF/.test(w))).toHaveLength(1);
  });

  it('accept-new appends once (concurrently), creates the file 0600, then behaves strictly', async () => {
    const file = join(dir, 'new', 'known_hosts');
    const kh = await KnownHosts.load(file, { logger: quiet });
    await Promise.all(Array.from({ length: 20 }, () => kh.verify({ host: '10.1.1.1', port: 2222, key: K1, policy: 'accept-new' })));
    await kh.verify({ host: 'other', port: 22, key: K2, policy: 'accept-new' });
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines).toEqual([line('[10.1.1.1]:2222', K1), line('other', K2)]);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    await expectCode(kh.verify({ host: '10.1.1.1', port: 2222, key: K3, policy: 'accept-new' }), 'E_HOSTKEY_CHANGED');
    const reloaded = await KnownHosts.load(file, { logger: quiet });
    await reloaded.verify({ host: '10.1.1.1', port: 2222, key: K1, policy: 'strict' });
  });

  it('accept-new on a file without a final newline starts a new line; hashed writes match', async () => {
    const file = join(dir, 'nonl');
    writeFileSync(file, line('h1', K1));
    const kh = await KnownHosts.load(file, { logger: quiet, hashNewEntries: true });
    await kh.verify({ host: 'h2', port: 22, key: K2, policy: 'accept-new' });
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/^\|1\|/);
    const again = await KnownHosts.load(file, { logger: quiet });
    await again.verify({ host: 'h2', port: 22, key: K2, policy: 'strict' });
  });
});
