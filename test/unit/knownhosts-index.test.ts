import { describe, expect, it } from 'vitest';
import ssh2 from 'ssh2';
import { KeyCache } from '../../src/transport/auth.js';
import { KnownHosts, hashHostName, lookupHostKey, parseKnownHosts } from '../../src/transport/index.js';

const quiet = { warn: () => undefined };

function blob(): Buffer {
  const k = ssh2.utils.parseKey(ssh2.utils.generateKeyPairSync('ed25519').public);
  if (k instanceof Error || Array.isArray(k)) throw new Error('key');
  return k.getPublicSSH();
}
const [K1, K2, K3] = [blob(), blob(), blob()] as [Buffer, Buffer, Buffer];
const line = (hosts: string, k: Buffer, marker = ''): string => `${marker}${hosts} ssh-ed25519 ${k.toString('base64')}`;

/** The indexed KnownHosts must answer exactly as the plain scan of every entry. */
function both(text: string, host: string, port: number, key: Buffer) {
  const parsed = parseKnownHosts(text);
  return { indexed: new KnownHosts('kh', parsed, { logger: quiet }).lookup(host, port, key), scanned: lookupHostKey(parsed.entries, host, port, key) };
}

describe('known_hosts lookups through the per-run index', () => {
  const text = [
    line('web1,WEB2', K1),
    line('[10.0.0.5]:2222', K2),
    line('*.example.org,!bad.example.org', K3),
    line(hashHostName('hashed.example'), K2),
    line('web1', K3, '@revoked '),
    ...Array.from({ length: 300 }, (_, i) => line(`filler${i}`, K1)),
  ].join('\n');

  it.each([
    ['web1', 22, K1],
    ['web2', 22, K1],
    ['web1', 22, K3],
    ['web2', 22, K2],
    ['10.0.0.5', 2222, K2],
    ['10.0.0.5', 22, K2],
    ['a.example.org', 22, K3],
    ['bad.example.org', 22, K3],
    ['hashed.example', 22, K2],
    ['hashed.example', 22, K1],
    ['filler299', 22, K1],
    ['nowhere', 22, K1],
  ])('%s:%d answers as the full scan', (host, port, key) => {
    const r = both(text, host, port, key);
    expect(r.indexed).toEqual(r.scanned);
  });

  it('offers the key types of wildcard, hashed and literal entries alike', () => {
    const kh = new KnownHosts('kh', parseKnownHosts(text), { logger: quiet });
    expect(kh.knownKeyTypes('x.example.org', 22)).toEqual(['ssh-ed25519']);
    expect(kh.knownKeyTypes('hashed.example', 22)).toEqual(['ssh-ed25519']);
    expect(kh.knownKeyTypes('nowhere', 22)).toEqual([]);
  });
});

describe('key files once per run', () => {
  it('reads a key file once for any number of hosts, and names the asking host in errors', async () => {
    const cache = new KeyCache();
    const a = cache.load('/nonexistent/key', undefined, 'h1');
    const b = cache.load('/nonexistent/key', undefined, 'h2');
    await expect(a).rejects.toMatchObject({ code: 'E_KEYFILE', host: 'h1' });
    await expect(b).rejects.toMatchObject({ code: 'E_KEYFILE', host: 'h2' });
  });
});
