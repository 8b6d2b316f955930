/**
 * A real redis-server locked down as distributed mode is meant to meet one: a password on the
 * default user, an ACL user for fleetmend, a TLS port that wants client certificates, and test
 * certificates made now with the openssl CLI (a CA, the server's, a client's, and a second CA
 * nobody trusts). Loopback only; stopped by PID.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock } from '../../src/executor/clock.js';
import { freePort, stopChild } from './redis.js';

export interface SecureRedis {
  pid: number;
  /** Plain TCP port (loopback): AUTH and ACL without TLS. */
  port: number;
  tlsPort: number;
  defaultPassword: string;
  user: string;
  userPassword: string;
  files: { ca: string; cert: string; key: string; otherCa: string; userPasswordFile: string; dir: string };
  stop(): Promise<void>;
}

/**
 * The commands BullMQ 5+/6 and fleetmend use (README: Redis connection): data commands on
 * fleetmend's keys, Lua scripts, INFO (version, eviction policy) and CLIENT SETNAME/LIST
 * (BullMQ names its connections); nothing administrative, no pub/sub.
 */
export const FLEETMEND_ACL = '~fleetmend:* resetchannels -@all +@read +@write +@keyspace +@scripting +@stream +@list +@hash +@sortedset +@set +@string +@blocking +@transaction +@connection -@admin -@dangerous +info';

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA, and certificates it signs (EC keys: fast to make). */
export function makeCertificates(dir: string): { ca: string; serverCert: string; serverKey: string; cert: string; key: string; otherCa: string } {
  mkdirSync(dir, { recursive: true });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  for (const ca of ['ca', 'other-ca']) openssl(dir, ['req', '-x509', ...ec, '-keyout', `${ca}.key`, '-out', `${ca}.crt`, '-days', '2', '-subj', `/CN=fleetmend test ${ca}`]);
  const sign = (name: string, ext: string) => {
    writeFileSync(join(dir, `${name}.ext`), ext);
    openssl(dir, ['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
    openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`]);
  };
  sign('server', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  sign('client', 'extendedKeyUsage=clientAuth\n');
  const f = (n: string) => join(dir, n);
  return { ca: f('ca.crt'), serverCert: f('server.crt'), serverKey: f('server.key'), cert: f('client.crt'), key: f('client.key'), otherCa: f('other-ca.crt') };
}

/** `users`: more ACL users, `name -> rules` (their password is `userPassword` too). */
export async function startSecureRedis(dir: string, acl = FLEETMEND_ACL, users: Record<string, string> = {}): Promise<SecureRedis> {
  const certs = makeCertificates(join(dir, 'tls'));
  const [port, tlsPort] = [await freePort(), await freePort()];
  const defaultPassword = 'Default-Pw-31c7e9';
  const user = 'fm';
  const userPassword = 'Fm-Acl-Pw-8d2b4f';
  const userPasswordFile = join(dir, 'fm.pw');
  writeFileSync(userPasswordFile, `${userPassword}\n`, { mode: 0o600 });
  const data = join(dir, 'redis');
  mkdirSync(data, { recursive: true });
  const conf = join(dir, 'redis.conf');
  writeFileSync(
    conf,
    [
      `bind 127.0.0.1`,
      `port ${port}`,
      `tls-port ${tlsPort}`,
      `tls-cert-file ${certs.serverCert}`,
      `tls-key-file ${certs.serverKey}`,
      `tls-ca-cert-file ${certs.ca}`,
      `tls-auth-clients yes`,
      `dir ${data}`,
      `save ""`,
      `appendonly no`,
      `maxmemory-policy noeviction`,
      `requirepass ${defaultPassword}`,
      `user ${user} on >${userPassword} ${acl}`,
      ...Object.entries(users).map(([name, rules]) => `user ${name} on >${userPassword} ${rules}`),
      '',
    ].join('\n'),
  );
  const child = spawn('redis-server', [conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const deadline = Date.now() + 10_000;
  while (!out.includes('Ready to accept connections') && Date.now() < deadline && child.exitCode === null) await systemClock.sleep(50);
  if (!out.includes('Ready to accept connections')) {
    child.kill('SIGKILL');
    throw new Error(`redis-server did not start: ${out}`);
  }
  return {
    pid: child.pid!,
    port,
    tlsPort,
    defaultPassword,
    user,
    userPassword,
    files: { ca: certs.ca, cert: certs.cert, key: certs.key, otherCa: certs.otherCa, userPasswordFile, dir },
    stop: () => stopChild(child),
  };
}
