import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { jobIdOf, playJobIdOf, type SignedJob, type SignedResult } from '../../src/distributed/queue.js';
import { loadSigningKey, loadTrustStore, openJob, openResult, signJson, writeKeyPair, type SignedEnvelope } from '../../src/distributed/signing.js';
import { withinOwnBecome } from '../../src/distributed/worker.js';
import type { ConnectionSpec, ExecResult, Transport } from '../../src/transport/types.js';

/** Signed jobs and results (issue 21 parts 1-2): every way a forged or replayed one is refused. */
const dir = mkdtempSync(join(tmpdir(), 'fm-sign-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const coord = writeKeyPair(join(dir, 'coord'));
const worker = writeKeyPair(join(dir, 'worker'));
const rogue = writeKeyPair(join(dir, 'rogue'));
const coordKey = loadSigningKey(coord.keyFile);
const workerKey = loadSigningKey(worker.keyFile);
const rogueKey = loadSigningKey(rogue.keyFile);
const trustCoord = loadTrustStore([coord.pubFile], '--trust');
const trustWorker = loadTrustStore([worker.pubFile], '--trust-workers');

const NOW = Date.parse('2026-01-01T00:00:00Z');

function sweepJob(run = 'r1', host = 'web-01', expiresAt = NOW + 60_000): SignedJob {
  return { purpose: 'fleetmend-job', jobId: jobIdOf(run, host), run, expiresAt, job: { v: 1, kind: 'sweep', run, host, samples: 2, intervalMs: 1000, nonce: 'n' } };
}

function result(host = 'web-01', over: Partial<SignedResult> = {}): SignedResult {
  const at = new Date(NOW).toISOString();
  return { purpose: 'fleetmend-result', jobId: jobIdOf('r1', host), run: 'r1', host, worker: 'w1', result: { host, address: '10.0.0.1', port: 22, status: 'ok', started_at: at, finished_at: at }, ...over };
}

const refusal = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('not refused');
};

describe('fleetmend keygen', () => {
  it('writes NAME.key 0600 and NAME.pub, prints the key id, and never overwrites a key', async () => {
    const name = join(dir, 'kg');
    const r = await runCli(['keygen', name]);
    expect(r.code, r.stderr).toBe(0);
    expect(statSync(`${name}.key`).mode & 0o777).toBe(0o600);
    expect(statSync(`${name}.pub`).mode & 0o022).toBe(0); // nobody else may replace the public half
    expect(readFileSync(`${name}.key`, 'utf8')).toContain('BEGIN PRIVATE KEY');
    expect(readFileSync(`${name}.pub`, 'utf8')).toContain('BEGIN PUBLIC KEY');
    expect(r.stdout).toMatch(new RegExp(`key id ${loadSigningKey(`${name}.key`).id}`));
    const before = readFileSync(`${name}.key`, 'utf8');
    const again = await runCli(['keygen', name]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('exists; not overwriting');
    expect(readFileSync(`${name}.key`, 'utf8')).toBe(before);
  });

  it('a private key readable by others is refused (E_KEYFILE), as OpenSSH does', () => {
    const name = join(dir, 'loose');
    const k = writeKeyPair(name);
    chmodSync(k.keyFile, 0o644);
    expect(refusal(() => loadSigningKey(k.keyFile))).toContain('readable by group or others');
  });

  it('a worker without --trust or --signing-key, and a coordinator with --redis but no keys, refuse to start (E_USAGE)', async () => {
    const w = await runCli(['worker', '--redis', 'redis://127.0.0.1:1/0', '-i', 'x.yml', '--signing-key', worker.keyFile]);
    expect(w.code).toBe(1);
    expect(w.stderr).toMatch(/worker needs --trust FILE.*no unsigned mode.*\[E_USAGE\]/);
    const w2 = await runCli(['worker', '--redis', 'redis://127.0.0.1:1/0', '-i', 'x.yml', '--trust', coord.pubFile]);
    expect(w2.stderr).toMatch(/worker needs --signing-key FILE.*\[E_USAGE\]/);
    const inv = join(dir, 'inv.yml');
    writeFileSync(inv, 'all:\n  hosts:\n    web-01: {}\n');
    const c = await runCli(['sweep', '-i', inv, '--redis', 'redis://127.0.0.1:1/0', '--no-store', '-q']);
    expect(c.code).toBe(1);
    expect(c.stderr).toMatch(/--redis needs --signing-key FILE.*\[E_USAGE\]/);
    const c2 = await runCli(['sweep', '-i', inv, '--redis', 'redis://127.0.0.1:1/0', '--signing-key', coord.keyFile, '--no-store', '-q']);
    expect(c2.stderr).toMatch(/--redis needs --trust-workers FILE\|DIR.*\[E_USAGE\]/);
  });

  it('--trust-workers DIR trusts every *.pub in it', () => {
    const d = mkdtempSync(join(dir, 'trustdir-'));
    const a = writeKeyPair(join(d, 'a'));
    const b = writeKeyPair(join(d, 'b'));
    const store = loadTrustStore([d], '--trust-workers');
    expect([...store.values()].map((k) => k.name).sort()).toEqual(['a.pub', 'b.pub']);
    expect(store.has(loadSigningKey(a.keyFile).id) && store.has(loadSigningKey(b.keyFile).id)).toBe(true);
  });
});

describe('a worker opens a job only if a trusted coordinator signed exactly it', () => {
  it('a signed job for its own id opens', () => {
    const job = sweepJob();
    expect(openJob(signJson(job, coordKey), job.jobId, trustCoord, NOW).job).toEqual(job);
  });

  it('unsigned job data (what an attacker writes with BullMQ) is refused', () => {
    const job = sweepJob();
    expect(refusal(() => openJob(job.job, job.jobId, trustCoord, NOW))).toContain('is not signed');
  });

  it('signed by another key (the attacker\'s own) is refused', () => {
    const job = sweepJob();
    expect(refusal(() => openJob(signJson(job, rogueKey), job.jobId, trustCoord, NOW))).toContain('untrusted key');
    // and claiming the trusted key's id does not help
    const forged: SignedEnvelope = { ...signJson(job, rogueKey), key: coordKey.id };
    expect(refusal(() => openJob(forged, job.jobId, trustCoord, NOW))).toContain('bad signature');
  });

  it('altered after signing (one byte of the payload) is refused', () => {
    const job = sweepJob();
    const env = signJson(job, coordKey);
    const altered = { ...env, payload: env.payload.replace('"samples":2', '"samples":3') };
    expect(altered.payload).not.toBe(env.payload);
    expect(refusal(() => openJob(altered, job.jobId, trustCoord, NOW))).toContain('bad signature');
  });

  it('expired is refused', () => {
    const job = sweepJob('r1', 'web-01', NOW - 1);
    expect(refusal(() => openJob(signJson(job, coordKey), job.jobId, trustCoord, NOW))).toContain('expired');
  });

  it('replayed under another job id (another run, another host) is refused', () => {
    const job = sweepJob('r1', 'web-01');
    const env = signJson(job, coordKey);
    expect(refusal(() => openJob(env, jobIdOf('r2', 'web-01'), trustCoord, NOW))).toContain('replayed');
    expect(refusal(() => openJob(env, jobIdOf('r1', 'web-02'), trustCoord, NOW))).toContain('replayed');
    // a signed job whose own id does not name its run and host (no such job is ever signed)
    const odd = { ...job, jobId: 'odd' };
    expect(refusal(() => openJob(signJson(odd, coordKey), 'odd', trustCoord, NOW))).toContain('replayed');
  });

  it('a play job without the digest of its run data is refused', () => {
    const run = 'r1';
    const data: SignedJob = {
      purpose: 'fleetmend-job',
      jobId: playJobIdOf(run, 0, 0, 'web-01'),
      run,
      expiresAt: NOW + 1000,
      job: { v: 1, kind: 'play', run, host: 'web-01', playIndex: 0, batchIndex: 0, batch: { size: 1, hostsInPlay: 1 }, state: { registered: {}, setFacts: {} } },
    };
    expect(refusal(() => openJob(signJson(data, coordKey), data.jobId, trustCoord, NOW))).toContain('digest');
  });
});

describe('the coordinator believes a result only from a trusted worker, for the job and host it queued', () => {
  const want = { jobId: jobIdOf('r1', 'web-01'), run: 'r1', host: 'web-01' };

  it('a trusted worker\'s result for this job and host is accepted (also as the JSON text BullMQ carries)', () => {
    const env = signJson(result(), workerKey);
    expect(openResult(env, want, trustWorker).result.result.status).toBe('ok');
    expect(openResult(JSON.stringify(env), want, trustWorker).result.result.status).toBe('ok');
  });

  it('an unsigned result (the old return value) is rejected', () => {
    expect(refusal(() => openResult({ result: result().result, worker: 'w' }, want, trustWorker))).toContain('not signed');
  });

  it('a result signed by an untrusted worker key is rejected', () => {
    expect(refusal(() => openResult(signJson(result(), rogueKey), want, trustWorker))).toContain('untrusted key');
  });

  it('a result for another host, or naming another host inside, is rejected', () => {
    expect(refusal(() => openResult(signJson(result('web-02'), workerKey), want, trustWorker))).toContain('not this one');
    const inner = result('web-01');
    inner.result = { ...inner.result, host: 'ghost-99' };
    expect(refusal(() => openResult(signJson(inner, workerKey), want, trustWorker))).toContain('not web-01');
  });

  it('a result for another run is rejected', () => {
    expect(refusal(() => openResult(signJson(result('web-01', { run: 'r0' }), workerKey), want, trustWorker))).toContain('not this one');
  });

  it('a status outside the HostResult union, or an error code that is not a code, is rejected', () => {
    const bad = result();
    (bad.result as { status: string }).status = 'healthy';
    expect(refusal(() => openResult(signJson(bad, workerKey), want, trustWorker))).toContain('schema');
    const code = result();
    code.result = { ...code.result, status: 'failed', error: { code: '\u001b[2J' as 'E_AUTH', message: 'x' } };
    expect(refusal(() => openResult(signJson(code, workerKey), want, trustWorker))).toContain('schema');
  });
});

describe('a worker never widens become', () => {
  const spec = (user: string, become: boolean): ConnectionSpec =>
    ({ name: 'db-01', address: 'a', port: 22, user, auth: {}, become: { enabled: become }, connectTimeoutMs: 1, commandTimeoutMs: 1, keepaliveIntervalMs: 1, maxOutputBytes: 1, knownHostsFile: '', hostKeyChecking: 'strict' }) as ConnectionSpec;
  const transport = (s: ConnectionSpec, seen: (boolean | undefined)[]): Transport => ({
    spec: s,
    connect: async () => {},
    close: async () => {},
    exec: async (command, opts) => {
      seen.push(opts?.become);
      return { command, stdout: '', stderr: '', code: 0, durationMs: 0, truncated: false, bytes: 0 } satisfies ExecResult;
    },
  });

  it('become: true is refused (E_BECOME) where the worker\'s own settings do not allow become; false and unset pass', async () => {
    const seen: (boolean | undefined)[] = [];
    const t = withinOwnBecome(transport(spec('fleet', false), seen));
    await expect(t.exec('id -u', { become: true })).rejects.toMatchObject({ code: 'E_BECOME' });
    await t.exec('id -u', { become: false });
    await t.exec('id -u');
    expect(seen).toEqual([false, undefined]);
  });

  it('where the worker allows become (inventory or -b), or the login is root already, become: true passes', async () => {
    for (const s of [spec('fleet', true), spec('root', false)]) {
      const seen: (boolean | undefined)[] = [];
      await withinOwnBecome(transport(s, seen)).exec('id -u', { become: true });
      expect(seen).toEqual([true]);
    }
  });
});
