import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { explainRedisError, isLoopbackHost, redisClientOptions, redisInputFrom, resolveRedisTarget, type RedisInput } from '../../src/distributed/connection.js';
import { bullConnection } from '../../src/distributed/queue.js';

const dir = mkdtempSync(join(tmpdir(), 'fm-redis-conn-'));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text, { mode: 0o644 });
  return p;
};

async function resolve(input: Partial<RedisInput> & { url: string }, env: NodeJS.ProcessEnv = {}) {
  const warnings: string[] = [];
  const target = await resolveRedisTarget({ urlOnArgv: true, ...input }, env, (l) => warnings.push(l));
  return { target, warnings };
}

describe('the Redis target: one place for URL, password, TLS and the loopback rule', () => {
  it('the password comes from the URL, else --redis-password-file, else FLEETMEND_REDIS_PASSWORD; the URL shown masks it', async () => {
    const pw = file('pw', 's3cret-file\n');
    expect((await resolve({ url: 'redis://fm:from%40url@127.0.0.1:7000/2' })).target).toMatchObject({ url: 'redis://fm:***@127.0.0.1:7000/2', username: 'fm', password: 'from@url', passwordFrom: 'url', port: 7000, db: 2 });
    expect((await resolve({ url: 'redis://fm@127.0.0.1:7000', passwordFile: pw }, { FLEETMEND_REDIS_PASSWORD: 'env' })).target).toMatchObject({ url: 'redis://fm@127.0.0.1:7000', password: 's3cret-file', passwordFrom: 'file' });
    expect((await resolve({ url: 'redis://localhost' }, { FLEETMEND_REDIS_PASSWORD: 'from-env' })).target).toMatchObject({ password: 'from-env', passwordFrom: 'env', port: 6379, db: 0 });
    expect((await resolve({ url: 'redis://127.0.0.1', passwordFile: pw })).warnings.join()).toMatch(/readable by other users \(mode 644\); chmod 600 it/);
    chmodSync(pw, 0o600);
    expect((await resolve({ url: 'redis://127.0.0.1', passwordFile: pw })).warnings).toEqual([]);
    await expect(resolve({ url: 'redis://:a@127.0.0.1', passwordFile: pw })).rejects.toThrow(/two Redis passwords/);
    await expect(resolve({ url: 'redis://127.0.0.1', passwordFile: file('empty', '\n') })).rejects.toThrow(/is empty/);
    await expect(resolve({ url: 'redis://127.0.0.1', passwordFile: join(dir, 'missing') })).rejects.toThrow(/cannot read Redis password file .*missing: ENOENT/);
  });

  it('a password in the URL on argv is warned about (ps shows it); from FLEETMEND_REDIS_URL it is not', async () => {
    expect((await resolve({ url: 'redis://:pw@127.0.0.1' })).warnings.join()).toContain('the Redis password is on the command line');
    expect((await resolve({ url: 'redis://:pw@127.0.0.1', urlOnArgv: false })).warnings).toEqual([]);
    const input = redisInputFrom({}, { FLEETMEND_REDIS_URL: 'redis://:pw@127.0.0.1', FLEETMEND_REDIS_CA: '/ca.pem' });
    expect(input).toEqual({ url: 'redis://:pw@127.0.0.1', urlOnArgv: false, ca: '/ca.pem' });
    expect(redisInputFrom({ redis: 'redis://h', redisCa: '/mine.pem' }, { FLEETMEND_REDIS_CA: '/ca.pem' })).toEqual({ url: 'redis://h', urlOnArgv: true, ca: '/mine.pem' });
    expect(redisInputFrom({}, {})).toBeUndefined();
  });

  it('plain redis:// to another machine: refused without a password, warned with one, allowed by --redis-insecure', async () => {
    await expect(resolve({ url: 'redis://10.0.0.5:6379/0' })).rejects.toMatchObject({ code: 'E_USAGE', message: expect.stringContaining('refusing plain redis:// without a password to a non-loopback address (redis://10.0.0.5:6379/0)') });
    await expect(resolve({ url: 'redis://redis.internal' })).rejects.toMatchObject({ code: 'E_USAGE' });
    expect((await resolve({ url: 'redis://10.0.0.5', insecure: true })).warnings).toEqual([]);
    expect((await resolve({ url: 'redis://10.0.0.5' }, { FLEETMEND_REDIS_PASSWORD: 'x' })).warnings.join()).toContain('cross the network in clear');
    expect((await resolve({ url: 'rediss://10.0.0.5' })).warnings).toEqual([]);
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '[::1]']) expect(isLoopbackHost(h)).toBe(true);
    for (const h of ['10.0.0.5', '128.0.0.1', 'localhost.example.com', '::2', '0.0.0.0']) expect(isLoopbackHost(h)).toBe(false);
  });

  it('TLS files are read for rediss:// only, a client certificate with its key; every connection gets them', async () => {
    const [ca, cert, key] = [file('ca.pem', 'CA'), file('c.pem', 'CERT'), file('k.pem', 'KEY')];
    await expect(resolve({ url: 'redis://127.0.0.1', ca })).rejects.toThrow(/need a rediss:\/\/ URL/);
    await expect(resolve({ url: 'rediss://127.0.0.1', cert })).rejects.toThrow(/go together/);
    const { target } = await resolve({ url: 'rediss://fm@redis.example:6380/1', ca, cert, key }, { FLEETMEND_REDIS_PASSWORD: 'pw' });
    for (const role of ['queue', 'preflight', 'probe', 'client', 'worker'] as const) {
      const o = redisClientOptions(target, role);
      expect(o).toMatchObject({ host: 'redis.example', port: 6380, db: 1, username: 'fm', password: 'pw' });
      expect(o.tls).toMatchObject({ servername: 'redis.example' });
      expect(String(o.tls!.ca)).toBe('CA');
      expect([String(o.tls!.cert), String(o.tls!.key)]).toEqual(['CERT', 'KEY']);
    }
    expect(bullConnection(target)).toMatchObject({ host: 'redis.example', password: 'pw', maxRetriesPerRequest: null, tls: { servername: 'redis.example' } });
    expect(redisClientOptions((await resolve({ url: 'redis://127.0.0.1' })).target, 'queue').tls).toBeUndefined();
  });

  it('connection errors in words: which check refused, and what to give', async () => {
    const { target } = await resolve({ url: 'rediss://fm@db.example:6380' }, { FLEETMEND_REDIS_PASSWORD: 'x' });
    expect(explainRedisError('WRONGPASS invalid username-password pair or user is disabled.', target)).toBe(
      "authentication failed: the server refused user 'fm' with the password from FLEETMEND_REDIS_PASSWORD (WRONGPASS invalid username-password pair or user is disabled.)",
    );
    expect(explainRedisError('NOAUTH Authentication required.', target)).toMatch(/requires a password and none was given/);
    expect(explainRedisError("Hostname/IP does not match certificate's altnames: Host: db.example. is not in the cert's altnames: DNS:other", target)).toMatch(/^TLS: the server's certificate is not for db\.example/);
    expect(explainRedisError('self-signed certificate in certificate chain', target)).toMatch(/^TLS: the server's certificate is not trusted .*--redis-ca FILE$/);
    expect(explainRedisError('connect ECONNREFUSED 127.0.0.1:6380', target)).toBe('connect ECONNREFUSED 127.0.0.1:6380');
    // TLS 1.3: a server that wants a client certificate may say so with an alert, not a reset
    const alert = '807C0C31BA7F0000:error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number 116';
    expect(explainRedisError(alert, target)).toMatch(/^TLS handshake failed \(.*alert certificate required.*\): is this port TLS, and does it want a client certificate/);
  });
});
