import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { readStore } from '../helpers/store.js';
import { distributedTestbed, dumpRedis, stopChild, workersReady, type TestWorker } from '../helpers/redis.js';
import { FLEETMEND_ACL, startSecureRedis, type SecureRedis } from '../helpers/redis-secure.js';

/**
 * Distributed mode against a real redis-server that wants a password (AUTH), has an ACL user
 * for fleetmend with only the commands it needs, and a TLS port that checks client
 * certificates; the certificates are made at test time. Coordinators (sweep, run, schedule) and
 * a real `fleetmend worker` connect through it; wrong credentials and an untrusted server are
 * exit 1 naming the URL (password masked) and the reason.
 */
const bed = distributedTestbed('fm-dist-auth-', 4);
let sec: SecureRedis;

beforeAll(async () => {
  // a worker user that may not write results: its jobs fail on the worker, for real
  sec = await startSecureRedis(join(bed.dir, 'secure'), FLEETMEND_ACL, { 'fm-noresults': FLEETMEND_ACL.replace('~fleetmend:*', '~fleetmend:hosts:* ~fleetmend:runs:*') });
}, 60_000);
afterAll(async () => {
  await sec?.stop();
}, 30_000);

const tlsUrl = (user = sec.user) => `rediss://${user}@127.0.0.1:${sec.tlsPort}/0`;
const tlsArgs = () => ['--redis-ca', sec.files.ca, '--redis-cert', sec.files.cert, '--redis-key', sec.files.key];
const admin = () => new Redis({ port: sec.port, host: '127.0.0.1', password: sec.defaultPassword, maxRetriesPerRequest: 1 });

async function aclLog(): Promise<unknown[]> {
  const c = admin();
  try {
    return (await c.call('ACL', 'LOG')) as unknown[];
  } finally {
    c.disconnect();
  }
}

/** Each host's status and the worker that did it, as recorded. */
function doneBy(stdout: string, stateDir: string): [string, string | undefined][] {
  const id = (JSON.parse(stdout) as { run: { id: string } }).run.id;
  return readStore(join(bed.dir, stateDir), (store) => store.getRun(id)).hosts.map((h) => [h.status, h.worker]);
}

describe('Redis AUTH, ACL user and TLS', () => {
  let w: TestWorker;

  it('sweep, run and schedule over rediss:// as the ACL user (password from a file / the environment, client certificate): every host done by the worker, no command denied', async () => {
    // the worker's password comes from its environment, the coordinator's from a file: never argv
    w = bed.worker('tls-w', [...bed.common(), ...tlsArgs(), '--concurrency', '4', '-v'], { url: tlsUrl(), env: { ...process.env, FLEETMEND_REDIS_PASSWORD: sec.userPassword } });
    await workersReady(w);
    expect(w.stderr()).toContain(`ready: ${tlsUrl()}`);
    const common = [...bed.common(), ...bed.coord(tlsUrl()), '--redis-password-file', sec.files.userPasswordFile, ...tlsArgs(), '--json', '-q'];
    const s = await runCli(['sweep', ...common, '--samples', '1', '--state-dir', join(bed.dir, 'st-sweep')]);
    expect([0, 2], s.stderr).toContain(s.code);
    expect(doneBy(s.stdout, 'st-sweep')).toEqual(Array(4).fill(['ok', 'tls-w']));

    const pb = join(bed.dir, 'auth.yml');
    writeFileSync(pb, '- hosts: all\n  tasks:\n    - name: Say\n      debug: { msg: hello }\n');
    const r = await runCli(['run', pb, ...common, '--state-dir', join(bed.dir, 'st-run')]);
    expect(r.code, r.stderr).toBe(0);
    expect(doneBy(r.stdout, 'st-run')).toEqual(Array(4).fill(['ok', 'tls-w']));

    const sched = await runCli(['schedule', '--cron', '* * * * * *', '--max-runs', '1', '--state-dir', join(bed.dir, 'st-sched'), '--', 'sweep', ...bed.common(), ...bed.coord(tlsUrl()), ...tlsArgs(), '--samples', '1', '-q'], {
      ...process.env,
      FLEETMEND_REDIS_PASSWORD: sec.userPassword,
    });
    expect(sched.code, sched.stderr).toBe(0);
    expect(w.stderr().match(/done node-\d+ ok/g)?.length).toBe(12);
    // the ACL user's command set is enough for BullMQ and fleetmend: the server denied nothing
    expect(await aclLog()).toEqual([]);
    for (const out of [s.stderr, r.stderr, sched.stderr, w.stderr()]) expect(out).not.toContain(sec.userPassword);
  }, 120_000);

  it('a wrong password, a wrong user, no password: exit 1 naming the URL (password masked) and the reason', async () => {
    const wrongFile = join(bed.dir, 'wrong.pw');
    // private as a real one is: the only thing wrong with it is the password (its mode warning: redis-connection.test.ts)
    writeFileSync(wrongFile, 'not-the-password\n', { mode: 0o600 });
    const cases: { args: string[]; env?: NodeJS.ProcessEnv; url: RegExp; why: RegExp }[] = [
      { args: [...bed.coord(tlsUrl()), '--redis-password-file', wrongFile, ...tlsArgs()], url: /at rediss:\/\/fm@127\.0\.0\.1:\d+\/0: /, why: /authentication failed: the server refused user 'fm' with the password from --redis-password-file \(WRONGPASS/ },
      { args: [...bed.coord(tlsUrl('intruder')), ...tlsArgs()], env: { FLEETMEND_REDIS_PASSWORD: sec.userPassword }, url: /at rediss:\/\/intruder@127\.0\.0\.1:\d+\/0: /, why: /refused user 'intruder' with the password from FLEETMEND_REDIS_PASSWORD \(WRONGPASS/ },
      { args: [...bed.coord(`redis://fm:${'Guessed-Pw-1'}@127.0.0.1:${sec.port}/0`)], url: /at redis:\/\/fm:\*\*\*@127\.0\.0\.1:\d+\/0: /, why: /refused user 'fm' with the password from the URL/ },
      { args: [...bed.coord(`redis://127.0.0.1:${sec.port}/0`)], url: /at redis:\/\/127\.0\.0\.1:\d+\/0: /, why: /requires a password and none was given/ },
    ];
    for (const c of cases) {
      const r = await runCli(['sweep', ...bed.common(), ...c.args, '-q', '--state-dir', join(bed.dir, 'st-wrong')], { ...process.env, ...c.env });
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain('[E_QUEUE]');
      expect(r.stderr).toMatch(c.url);
      expect(r.stderr).toMatch(c.why);
      expect(r.stderr).not.toContain('Guessed-Pw-1');
      expect(r.stderr).not.toContain(sec.userPassword);
    }
    // the password on argv is warned about (it shows in ps)
    const onArgv = await runCli(['sweep', ...bed.common(), ...bed.coord(`redis://fm:Guessed-Pw-1@127.0.0.1:${sec.port}/0`), '-q', '--state-dir', join(bed.dir, 'st-wrong')]);
    expect(onArgv.stderr).toContain('warning: the Redis password is on the command line (any user sees it in ps)');
    // the scheduler logs its command with the URL's password masked
    const sched = await runCli(['schedule', '--cron', '* * * * * *', '--max-runs', '1', '--state-dir', join(bed.dir, 'st-wrong-sched'), '--', 'sweep', ...bed.common(), ...bed.coord(`redis://fm:Guessed-Pw-1@127.0.0.1:${sec.port}/0`), '-q']);
    expect(sched.stderr).toMatch(/--redis redis:\/\/fm:\*\*\*@127\.0\.0\.1:\d+\/0/);
    expect(sched.stderr).toMatch(/cannot reach Redis at redis:\/\/fm:\*\*\*@127\.0\.0\.1:\d+\/0: authentication failed/);
    expect(sched.stderr).not.toContain('Guessed-Pw-1');
    // a worker says the same and exits 1
    const bad = bed.worker('bad-w', [...bed.common(), '--redis-password-file', wrongFile, ...tlsArgs()], { url: tlsUrl() });
    const code = await new Promise<number | null>((res) => bad.child.once('exit', (c) => res(c)));
    expect(code).toBe(1);
    expect(bad.stderr()).toMatch(/cannot reach Redis at rediss:\/\/fm@127\.0\.0\.1:\d+\/0: authentication failed/);
  }, 60_000);

  it('an untrusted server certificate, or no client certificate: exit 1 naming the URL and the TLS reason', async () => {
    const env = { ...process.env, FLEETMEND_REDIS_PASSWORD: sec.userPassword };
    const untrusted = await runCli(['sweep', ...bed.common(), ...bed.coord(tlsUrl()), '--redis-ca', sec.files.otherCa, '--redis-cert', sec.files.cert, '--redis-key', sec.files.key, '-q', '--state-dir', join(bed.dir, 'st-tls')], env);
    expect(untrusted.code, untrusted.stderr).toBe(1);
    expect(untrusted.stderr).toMatch(/cannot reach Redis at rediss:\/\/fm@127\.0\.0\.1:\d+\/0: TLS: the server's certificate is not trusted \(.*\); give its CA with --redis-ca FILE/);
    // the system's roots do not know the test CA either
    const noCa = await runCli(['sweep', ...bed.common(), ...bed.coord(tlsUrl()), '--redis-cert', sec.files.cert, '--redis-key', sec.files.key, '-q', '--state-dir', join(bed.dir, 'st-tls')], env);
    expect(noCa.code).toBe(1);
    expect(noCa.stderr).toContain("TLS: the server's certificate is not trusted");
    const noClientCert = await runCli(['sweep', ...bed.common(), ...bed.coord(tlsUrl()), '--redis-ca', sec.files.ca, '-q', '--state-dir', join(bed.dir, 'st-tls')], env);
    expect(noClientCert.code).toBe(1);
    expect(noClientCert.stderr).toMatch(/cannot reach Redis at rediss:\/\/fm@127\.0\.0\.1:\d+\/0: TLS handshake failed \(.*\): is this port TLS, and does it want a client certificate/);
  }, 60_000);

  it('plain redis:// without a password to a non-loopback address is refused (E_USAGE) before any connection, unless --redis-insecure', async () => {
    const plain = 'redis://192.0.2.10:6379/0';
    // each with its keys, so the refusal is the only thing wrong with the command line
    const worker = ['worker', '--redis', plain, '--trust', bed.keys.coordinator.pubFile, '--signing-key', bed.keys.worker.keyFile];
    for (const cmd of [['sweep', ...bed.coord(plain), '--samples', '1', '-q', '--state-dir', join(bed.dir, 'st-plain')], worker]) {
      const r = await runCli([...cmd, ...bed.common()]);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain('[E_USAGE]');
      expect(r.stderr).toContain('refusing plain redis:// without a password to a non-loopback address (redis://192.0.2.10:6379/0)');
    }
    // said explicitly: it is tried (and, there being no such server, fails to connect)
    const r = await runCli(['sweep', ...bed.common(), ...bed.coord('redis://192.0.2.10:6379/0'), '--redis-insecure', '-q', '--state-dir', join(bed.dir, 'st-plain')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot reach Redis at redis:\/\/192\.0\.2\.10:6379\/0: .*\[E_QUEUE\]/);
  }, 60_000);

  it('a job that fails on the worker (its ACL user may not write the result) is recorded failed with the reason, and no failed job is kept', async () => {
    if (w) await stopChild(w.child);
    const env = { ...process.env, FLEETMEND_REDIS_PASSWORD: sec.userPassword };
    const nr = bed.worker('noresults-w', [...bed.common(), ...tlsArgs(), '-v'], { url: tlsUrl('fm-noresults'), env });
    await workersReady(nr);
    const r = await runCli(['sweep', ...bed.common(), ...bed.coord(tlsUrl()), ...tlsArgs(), '--samples', '1', '--json', '-q', '--state-dir', join(bed.dir, 'st-failjob')], env);
    expect(r.code, r.stderr).toBe(2);
    const doc = JSON.parse(r.stdout) as { hosts: { status: string; error?: { code: string; message: string } }[] };
    expect(doc.hosts).toHaveLength(4);
    for (const h of doc.hosts) {
      expect(h.status).toBe('failed');
      expect(h.error!.message).toMatch(/^no worker finished this host: NOPERM/);
    }
    const dump = await dumpRedis(`redis://:${sec.defaultPassword}@127.0.0.1:${sec.port}/0`);
    expect(dump.keys).toBeGreaterThan(0);
    expect(dump.text).not.toMatch(/^fleetmend:hosts:(failed|completed|\S+__\S+)$/m);
    expect(dump.text).not.toContain('node-0');
    await stopChild(nr.child);
  }, 60_000);

  afterAll(async () => {
    if (w) await stopChild(w.child);
  });
});
