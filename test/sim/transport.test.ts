/**
 * The real SSH path: Ssh2Transport against a tiny ssh2 Server started by this file on 127.0.0.1
 * (port 0), stopped in afterAll. Commands the server understands are listed in `handleExec`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { createServer as createNetServer, connect as netConnect, type Server as NetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ssh2, { type Connection, type ParsedKey, type ServerChannel } from 'ssh2';
import { FleetmendError } from '../../src/errors.js';
import {
  KnownHosts,
  KnownHostsCache,
  Ssh2Transport,
  TransportFactory,
  fingerprintSha256,
  type ConnectionSpec,
} from '../../src/transport/index.js';

const { Server, utils } = ssh2;

const dir = mkdtempSync(join(tmpdir(), 'fleetmend-transport-'));
const quiet = { warn: () => undefined };

function keyPair(passphrase?: string): { priv: string; pub: ParsedKey } {
  const kp = passphrase
    ? utils.generateKeyPairSync('ed25519', { passphrase, cipher: 'aes256-ctr' })
    : utils.generateKeyPairSync('ed25519');
  const pub = utils.parseKey(kp.public);
  if (pub instanceof Error || Array.isArray(pub)) throw new Error('bad key');
  return { priv: kp.private, pub };
}

const hostKeyA = keyPair();
const hostKeyB = keyPair();
const bastionKey = keyPair();
const userKey = keyPair('correct horse');
const agentKey = keyPair();
const PASSWORD = 's3cret-pw';
const SUDO_PASSWORD = 'sudo-pw-123';

const userKeyFile = join(dir, 'id_user');
writeFileSync(userKeyFile, userKey.priv, { mode: 0o600 });
const agentKeyFile = join(dir, 'id_agent');
writeFileSync(agentKeyFile, agentKey.priv, { mode: 0o600 });

interface TestServer {
  port: number;
  stop(): Promise<void>;
  /** signals/closes the server saw on "hang" channels */
  events: string[];
  connections: number;
  floodLeft: number[];
}

function pubMatches(ctx: ssh2.PublicKeyAuthContext, allowed: ParsedKey[]): boolean {
  const k = allowed.find((a) => a.getPublicSSH().equals(ctx.key.data));
  if (!k) return false;
  if (!ctx.signature || !ctx.blob) return true; // "would you accept this key?" query
  return k.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true;
}

/**
 * Fake sudo: `sudo -S -p PROMPT [-u U] -- sh -c CMD` writes PROMPT to stderr and reads a password
 * line (again after "Sorry, try again." when wrong, as sudo does); `sudo -n` refuses.
 */
function handleSudo(command: string, ch: ServerChannel, runInner: (inner: string) => void): boolean {
  const m = /^sudo (-n|-S -p ('[^']*'))(?: -u '[^']*')? -- sh -c (.*)$/s.exec(command);
  if (!m) return false;
  const unquote = (q: string): string => spawnSync('sh', ['-c', `printf %s ${q}`]).stdout.toString();
  const inner = unquote(m[3]!);
  if (m[1] === '-n') {
    ch.stderr.write('sudo: a password is required\n');
    ch.exit(1);
    ch.end();
    return true;
  }
  const prompt = unquote(m[2]!);
  let buf = '';
  const onData = (d: Buffer): void => {
    buf += d.toString();
    const nl = buf.indexOf('\n');
    if (nl < 0) return;
    const line = buf.slice(0, nl);
    buf = buf.slice(nl + 1);
    if (line === SUDO_PASSWORD) {
      ch.removeListener('data', onData);
      // what followed the password line is the command's stdin
      if (buf) ch.unshift(Buffer.from(buf));
      return runInner(inner);
    }
    ch.stderr.write(`Sorry, try again.\n${prompt}`);
  };
  ch.stderr.write(prompt);
  ch.on('data', onData);
  return true;
}

function handleExec(command: string, ch: ServerChannel, conn: Connection, srv: TestServer, session: ssh2.Session): void {
  const done = (code: number): void => {
    ch.exit(code);
    ch.end();
  };
  if (handleSudo(command, ch, (inner) => handleExec(inner, ch, conn, srv, session))) return;
  if (command === 'both') {
    ch.write('out\n');
    ch.stderr.write('err\n');
    return done(3);
  }
  if (command === 'hang') {
    session.on('signal', (_acc, _rej, info) => srv.events.push(`signal:${info.name}`));
    ch.on('close', () => srv.events.push('closed'));
    session.on('close', () => srv.events.push('closed'));
    return;
  }
  if (command === 'binary') {
    ch.write(Buffer.from([0x41, 0xff, 0xfe, 0xc3, 0x28, 0x42]));
    return done(0);
  }
  if (command === 'drop') {
    ch.write('partial');
    setTimeout(() => (conn as unknown as { _sock: { destroy(): void } })._sock.destroy(), 50);
    return;
  }
  const flood = /^flood (\d+)$/.exec(command);
  if (flood) {
    let left = Number(flood[1]);
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const pump = (): void => {
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        left -= n;
        if (!ch.write(chunk.subarray(0, n))) return void ch.once('drain', pump);
      }
      done(0);
    };
    // how much the flood had left to send when the client closed the channel
    ch.once('close', () => srv.floodLeft.push(left));
    ch.resume(); // stdin is unused: let its end through, so 'close' is emitted
    return pump();
  }
  // anything else: a real shell, stdin piped through
  const child = spawn('sh', ['-c', command], { stdio: ['pipe', 'pipe', 'pipe'] });
  ch.pipe(child.stdin);
  child.stdout.on('data', (d: Buffer) => ch.write(d));
  child.stderr.on('data', (d: Buffer) => ch.stderr.write(d));
  child.on('close', (code) => done(code ?? 255));
}

function startServer(opts: { hostKey: string; users: ParsedKey[]; password?: string; allowForward?: boolean; authDelayMs?: number }): Promise<TestServer> {
  const srv: TestServer = { port: 0, stop: async () => undefined, events: [], connections: 0, floodLeft: [] };
  // ssh2's Server drops "signal" requests once exec started, so the test watches its debug log
  const debug = (line: string): void => {
    if (/CHANNEL_REQUEST.*signal/.test(line)) srv.events.push('signal-request');
  };
  const server = new Server({ hostKeys: [opts.hostKey], debug }, (conn) => {
    srv.connections++;
    conn.on('error', () => undefined);
    conn.on('authentication', (ctx) => {
      // a login stalled like on a host whose audit backlog is full (reference §3)
      if (opts.authDelayMs && ctx.method !== 'none') return void setTimeout(() => decide(ctx), opts.authDelayMs);
      decide(ctx);
    });
    const decide = (ctx: ssh2.AuthContext): void => {
      if (ctx.method === 'password' && opts.password !== undefined && ctx.password === opts.password) return ctx.accept();
      if (ctx.method === 'publickey' && pubMatches(ctx, opts.users)) return ctx.accept();
      const methods: ('password' | 'publickey')[] = ['publickey'];
      if (opts.password !== undefined) methods.push('password');
      ctx.reject(methods);
    };
    conn.on('ready', () => {
      conn.on('session', (accept) => {
        const session = accept();
        session.on('exec', (acc, _rej, info) => handleExec(info.command, acc(), conn, srv, session));
      });
      conn.on('tcpip', (accept, reject, info) => {
        if (!opts.allowForward) return reject();
        const up = netConnect(info.destPort, info.destIP);
        up.on('error', () => reject());
        up.once('connect', () => {
          const ch = accept();
          ch.pipe(up).pipe(ch);
          ch.on('error', () => up.destroy());
        });
      });
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      srv.port = (server.address() as { port: number }).port;
      srv.stop = () =>
        new Promise<void>((r) => {
          server.close(() => r());
          // drop lingering client connections so close() resolves
          (server as unknown as { _srv: NetServer })._srv.unref();
          setTimeout(r, 200);
        });
      resolve(srv);
    });
  });
}

function pubBlob(k: { priv: string }): Buffer {
  const p = utils.parseKey(k.priv);
  if (p instanceof Error || Array.isArray(p)) throw new Error('bad key');
  return p.getPublicSSH();
}

function knownHostsFor(entries: Array<[number, { priv: string }]>, name = `kh-${Math.random().toString(36).slice(2)}`): string {
  const file = join(dir, name);
  writeFileSync(file, entries.map(([port, k]) => `[127.0.0.1]:${port} ssh-ed25519 ${pubBlob(k).toString('base64')}\n`).join(''));
  return file;
}

function spec(port: number, over: Partial<ConnectionSpec> = {}): ConnectionSpec {
  return {
    name: 'web1',
    address: '127.0.0.1',
    port,
    user: 'tester',
    auth: { privateKeyFile: userKeyFile, passphrase: 'correct horse', useAgent: false },
    become: { enabled: false },
    connectTimeoutMs: 5000,
    commandTimeoutMs: 5000,
    keepaliveIntervalMs: 15000,
    maxOutputBytes: 1024 * 1024,
    knownHostsFile: join(dir, 'unused'),
    hostKeyChecking: 'strict',
    ...over,
  };
}

async function expectCode(p: Promise<unknown>, code: string): Promise<FleetmendError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FleetmendError);
  expect((err as FleetmendError).code).toBe(code);
  expect((err as FleetmendError).host).toBe('web1');
  return err as FleetmendError;
}

let target: TestServer;
let bastion: TestServer;
let knownFile: string;
let kh: KnownHosts;
const open: Ssh2Transport[] = [];

function track(t: Ssh2Transport): Ssh2Transport {
  open.push(t);
  return t;
}

beforeAll(async () => {
  target = await startServer({ hostKey: hostKeyA.priv, users: [userKey.pub, agentKey.pub], password: PASSWORD });
  bastion = await startServer({ hostKey: bastionKey.priv, users: [userKey.pub], allowForward: true });
  knownFile = knownHostsFor([
    [target.port, hostKeyA],
    [bastion.port, bastionKey],
  ]);
  kh = await KnownHosts.load(knownFile, { logger: quiet });
});

afterAll(async () => {
  await Promise.all(open.map((t) => t.close()));
  await target?.stop();
  await bastion?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('Ssh2Transport exec', () => {
  let t: Ssh2Transport;
  beforeAll(async () => {
    t = track(new Ssh2Transport(spec(target.port, { knownHostsFile: knownFile }), { knownHosts: kh }));
    await t.connect();
  });

  it('returns stdout, stderr and the exit code, over one reused connection', async () => {
    const before = target.connections;
    const r = await t.exec('both');
    expect(r).toMatchObject({ stdout: 'out\n', stderr: 'err\n', code: 3, truncated: false, bytes: 8 });
    const r2 = await t.exec('echo hello; exit 0');
    expect(r2.stdout).toBe('hello\n');
    expect(r2.code).toBe(0);
    expect(target.connections).toBe(before);
    expect(t.connectedAddress).toBe(`127.0.0.1:${target.port}`);
  });

  it('feeds stdin', async () => {
    const r = await t.exec('cat', { stdin: 'line1\nline2\n' });
    expect(r.stdout).toBe('line1\nline2\n');
  });

  it('times out a never-ending command, and the connection stays usable', async () => {
    const start = Date.now();
    await expectCode(t.exec('hang', { timeoutMs: 300 }), 'E_CMD_TIMEOUT');
    expect(Date.now() - start).toBeLessThan(2000);
    const r = await t.exec('echo still-alive');
    expect(r.stdout).toBe('still-alive\n');
    await new Promise((r) => setTimeout(r, 100));
    expect(target.events).toContain('signal-request');
    expect(target.events).toContain('closed');
  });

  it('stops a command at the output cap instead of draining tens of MB, and the connection stays usable', async () => {
    const total = 30 * 1024 * 1024;
    const cap = 64 * 1024;
    const r = await t.exec(`flood ${total}`, { maxOutputBytes: cap });
    expect(r.truncated).toBe(true);
    expect(r.stdout.length).toBe(cap);
    // what arrived past the cap is at most what the SSH window let through (ssh2: 2 MiB)
    expect(r.bytes).toBeGreaterThan(cap);
    expect(r.bytes).toBeLessThan(cap + 4 * 1024 * 1024);
    expect(r.code).toBeNull();
    expect((await t.exec('echo after')).stdout).toBe('after\n');
    await new Promise((res) => setTimeout(res, 200));
    expect(target.floodLeft.at(-1)).toBeGreaterThan(total / 2);
  }, 30000);

  it('decodes invalid UTF-8 with replacement characters', async () => {
    const r = await t.exec('binary');
    expect(r.stdout).toBe('A\uFFFD\uFFFD\uFFFD(B');
  });

  it('rejects an aborted exec with E_INTERRUPTED', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    await expectCode(t.exec('hang', { signal: ac.signal, timeoutMs: 5000 }), 'E_INTERRUPTED');
    expect((await t.exec('echo ok')).stdout).toBe('ok\n');
  });

  it('close() is idempotent and later execs fail with E_DISCONNECTED', async () => {
    const t2 = new Ssh2Transport(spec(target.port, { knownHostsFile: knownFile }), { knownHosts: kh });
    await t2.connect();
    await Promise.all([t2.close(), t2.close()]);
    await t2.close();
    await expectCode(t2.exec('echo x'), 'E_DISCONNECTED');
  });

  it('reports a connection dropped mid-command as E_DISCONNECTED', async () => {
    const t3 = track(new Ssh2Transport(spec(target.port, { knownHostsFile: knownFile }), { knownHosts: kh }));
    await t3.connect();
    await expectCode(t3.exec('drop'), 'E_DISCONNECTED');
  });
});

describe('Ssh2Transport clock', () => {
  it("reads a command's duration from the injected clock, not from Date.now()", async () => {
    let now = 1_700_000_000_000;
    let step = 0;
    // still while connecting (the connect deadline reads it too), then 5 s a reading
    const clock = { now: () => (now += step), sleep: async () => undefined };
    const t = track(new Ssh2Transport(spec(target.port, { knownHostsFile: knownFile }), { knownHosts: kh, clock }));
    await t.connect();
    step = 5000;
    const r = await t.exec('echo hi');
    expect(r.stdout).toBe('hi\n');
    expect(r.durationMs).toBe(5000);
  });
});

describe('host key checking', () => {
  it('strict refuses an unknown host, naming the offered fingerprint', async () => {
    const empty = knownHostsFor([]);
    const t = track(new Ssh2Transport(spec(target.port, { knownHostsFile: empty }), { knownHosts: await KnownHosts.load(empty, { logger: quiet }) }));
    const e = await expectCode(t.connect(), 'E_HOSTKEY_UNKNOWN');
    expect(e.message).toContain(fingerprintSha256(pubBlob(hostKeyA)));
    expect(e.message).toContain(`[127.0.0.1]:${target.port}`);
  });

  it('refuses a changed key in every mode but off, naming both fingerprints', async () => {
    const wrong = knownHostsFor([[target.port, hostKeyB]]);
    for (const mode of ['strict', 'accept-new'] as const) {
      const t = track(new Ssh2Transport(spec(target.port, { knownHostsFile: wrong, hostKeyChecking: mode }), { knownHosts: await KnownHosts.load(wrong, { logger: quiet }) }));
      const e = await expectCode(t.connect(), 'E_HOSTKEY_CHANGED');
      expect(e.message).toContain(fingerprintSha256(pubBlob(hostKeyA)));
      expect(e.message).toContain(fingerprintSha256(pubBlob(hostKeyB)));
    }
    expect(readFileSync(wrong, 'utf8').split('\n').filter(Boolean)).toHaveLength(1);
    const warnings: string[] = [];
    const t = track(new Ssh2Transport(spec(target.port, { knownHostsFile: wrong, hostKeyChecking: 'off' }), { knownHosts: await KnownHosts.load(wrong, { logger: { warn: (m) => warnings.push(m) } }) }));
    await t.connect();
    expect(warnings.join('\n')).toMatch(/OFF/);
  });

  it('accept-new records a new host (owner-only file) and then accepts it strictly', async () => {
    const file = join(dir, 'sub', 'known_hosts_new');
    const cache = new KnownHostsCache({ logger: quiet });
    const s = spec(target.port, { knownHostsFile: file, hostKeyChecking: 'accept-new' });
    const ts = [0, 1, 2].map(() => track(new Ssh2Transport(s, { knownHosts: cache })));
    await Promise.all(ts.map((t) => t.connect()));
    const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    expect(lines).toEqual([`[127.0.0.1]:${target.port} ssh-ed25519 ${pubBlob(hostKeyA).toString('base64')}`]);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const strict = track(new Ssh2Transport({ ...s, hostKeyChecking: 'strict' }, { knownHosts: await KnownHosts.load(file, { logger: quiet }) }));
    await strict.connect();
  });

  it('refuses a revoked key even when another line matches', async () => {
    const file = knownHostsFor([[target.port, hostKeyA]]);
    writeFileSync(file, `@revoked * ssh-ed25519 ${pubBlob(hostKeyA).toString('base64')}\n`, { flag: 'a' });
    const t = track(new Ssh2Transport(spec(target.port, { knownHostsFile: file, hostKeyChecking: 'accept-new' }), { knownHosts: await KnownHosts.load(file, { logger: quiet }) }));
    await expectCode(t.connect(), 'E_HOSTKEY_REVOKED');
  });
});

describe('authentication', () => {
  it('uses password authentication', async () => {
    const t = track(new Ssh2Transport(spec(target.port, { knownHostsFile: knownFile, auth: { password: PASSWORD, useAgent: false } }), { knownHosts: kh }));
    expect((await t.exec('echo pw')).stdout).toBe('pw\n');
  });

  it('fails with E_AUTH listing the methods tried, without the password', async () => {
    const t = track(new Ssh2Transport(spec(target.port, { knownHostsFile: knownFile, auth: { password: 'nope-wrong', useAgent: false } }), { knownHosts: kh }));
    const e = await expectCode(t.connect(), 'E_AUTH');
    expect(e.message).toContain('password');
    expect(e.message).not.toContain('nope-wrong');
  });

  it('wrong passphrase is E_KEYFILE naming the file, never the passphrase', async () => {
    const t = track(new Ssh2Transport(spec(target.port, { knownHostsFile: knownFile, auth: { privateKeyFile: userKeyFile, passphrase: 'guess-123' } }), { knownHosts: kh }));
    const e = await expectCode(t.connect(), 'E_KEYFILE');
    expect(e.message).toContain(userKeyFile);
    expect(e.message).not.toContain('guess-123');
    await expectCode(track(new Ssh2Transport(spec(target.port, { auth: { privateKeyFile: join(dir, 'missing') } }), { knownHosts: kh })).connect(), 'E_KEYFILE');
  });

  describe('ssh-agent', () => {
    let agent: ChildProcess | undefined;
    const sock = join(dir, 'agent.sock');
    beforeAll(async () => {
      if (spawnSync('which', ['ssh-agent']).status !== 0) return;
      agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
      for (let i = 0; i < 50 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
      const add = spawnSync('ssh-add', [agentKeyFile], { env: { ...process.env, SSH_AUTH_SOCK: sock } });
      if (add.status !== 0) throw new Error(`ssh-add failed: ${add.stderr.toString()}`);
    });
    afterAll(() => {
      if (agent?.pid) process.kill(agent.pid);
    });
    it('authenticates with a key held by the agent', async (ctx) => {
      if (!agent) return ctx.skip();
      const t = track(new Ssh2Transport(spec(target.port, { knownHostsFile: knownFile, auth: { agentSocket: sock } }), { knownHosts: kh }));
      expect((await t.exec('echo agent')).stdout).toBe('agent\n');
    });
  });
});

describe('connection failures', () => {
  it('refused port → E_CONNECT', async () => {
    const probe = createNetServer();
    const port = await new Promise<number>((r) => probe.listen(0, '127.0.0.1', () => r((probe.address() as { port: number }).port)));
    await new Promise((r) => probe.close(r));
    const e = await expectCode(track(new Ssh2Transport(spec(port), { knownHosts: kh })).connect(), 'E_CONNECT');
    expect(e.message).toMatch(/refused/);
  });

  it('TCP accepted but no banner → E_BANNER_TIMEOUT within the configured timeout', async () => {
    const sockets: import('node:net').Socket[] = [];
    const mute = createNetServer((s) => sockets.push(s));
    const port = await new Promise<number>((r) => mute.listen(0, '127.0.0.1', () => r((mute.address() as { port: number }).port)));
    try {
      const start = Date.now();
      await expectCode(track(new Ssh2Transport(spec(port, { connectTimeoutMs: 800 }), { knownHosts: kh })).connect(), 'E_BANNER_TIMEOUT');
      const took = Date.now() - start;
      expect(took).toBeGreaterThanOrEqual(750);
      expect(took).toBeLessThan(3000);
    } finally {
      sockets.forEach((s) => s.destroy());
      await new Promise((r) => mute.close(r));
    }
  });
});

describe('slow logins', () => {
  let slow: TestServer;
  let slowKh: KnownHosts;
  beforeAll(async () => {
    slow = await startServer({ hostKey: hostKeyA.priv, users: [userKey.pub], authDelayMs: 1200 });
    slowKh = await KnownHosts.load(knownHostsFor([[slow.port, hostKeyA]]), { logger: quiet });
  });
  afterAll(() => slow?.stop());

  it('a login taking seconds succeeds within the connect timeout', async () => {
    const t = track(new Ssh2Transport(spec(slow.port, { connectTimeoutMs: 5000 }), { knownHosts: slowKh }));
    expect((await t.exec('echo slow-ok')).stdout).toBe('slow-ok\n');
  });

  it('a login slower than the connect timeout → E_CONNECT_TIMEOUT (banner was fine)', async () => {
    const t = track(new Ssh2Transport(spec(slow.port, { connectTimeoutMs: 600 }), { knownHosts: slowKh }));
    const e = await expectCode(t.connect(), 'E_CONNECT_TIMEOUT');
    expect(e.message).toMatch(/handshake and login/);
  });
});

describe('jump host', () => {
  it('reaches the target through a bastion (direct-tcpip), sharing one bastion connection', async () => {
    const factory = new TransportFactory({ knownHosts: kh, logger: quiet });
    const jump = spec(bastion.port, { name: 'bastion', knownHostsFile: knownFile });
    const before = bastion.connections;
    const a = track(factory.create(spec(target.port, { knownHostsFile: knownFile, jump })));
    const b = track(factory.create(spec(target.port, { knownHostsFile: knownFile, jump })));
    await Promise.all([a.connect(), b.connect()]);
    expect((await a.exec('echo via-bastion')).stdout).toBe('via-bastion\n');
    expect((await b.exec('echo b')).stdout).toBe('b\n');
    expect(bastion.connections - before).toBe(1);
    expect(factory.bastions.size).toBe(1);
    await a.close();
    expect(factory.bastions.size).toBe(1);
    await b.close();
    expect(factory.bastions.size).toBe(0);
  });

  it('checks the bastion host key on its own', async () => {
    const onlyTarget = knownHostsFor([[target.port, hostKeyA]]);
    const k = await KnownHosts.load(onlyTarget, { logger: quiet });
    const jump = spec(bastion.port, { name: 'bastion', knownHostsFile: onlyTarget });
    const t = track(new Ssh2Transport(spec(target.port, { knownHostsFile: onlyTarget, jump }), { knownHosts: k }));
    const e = await expectCode(t.connect(), 'E_HOSTKEY_UNKNOWN');
    expect(e.message).toContain('bastion');
  });
});

describe('become through the fake sudo', () => {
  it('sudo -n refusing → E_BECOME, not a hang', async () => {
    const t = track(new Ssh2Transport(spec(target.port, { knownHostsFile: knownFile, become: { enabled: true } }), { knownHosts: kh }));
    const e = await expectCode(t.exec('id -u'), 'E_BECOME');
    expect(e.message).toMatch(/password/);
  });

  it('feeds the password on stdin, not the command line', async () => {
    const t = track(new Ssh2Transport(spec(target.port, { knownHostsFile: knownFile, become: { enabled: true, password: SUDO_PASSWORD } }), { knownHosts: kh }));
    const r = await t.exec(`echo "it's" "$((1+2))"; cat`, { stdin: 'payload' });
    expect(r.stdout).toBe("it's 3\npayload");
    expect(r.command).not.toContain(SUDO_PASSWORD);
  });

  it("answers sudo's prompt; neither the prompt nor the success line reaches stderr", async () => {
    const t = track(new Ssh2Transport(spec(target.port, { knownHostsFile: knownFile, become: { enabled: true, password: SUDO_PASSWORD } }), { knownHosts: kh }));
    const r = await t.exec('echo to-err >&2; echo to-out');
    expect(r).toMatchObject({ code: 0, stdout: 'to-out\n', stderr: 'to-err\n' });
  });

  it("masks the connection's secrets in output, the command shown and errors", async () => {
    const t = track(new Ssh2Transport(spec(target.port, { knownHostsFile: knownFile, become: { enabled: true, password: SUDO_PASSWORD } }), { knownHosts: kh }));
    const r = await t.exec(`echo "pw=${SUDO_PASSWORD}" >&2; printf %.7s '${SUDO_PASSWORD}'`);
    expect(r.stderr).toBe('pw=********\n');
    // a cut-off start of the secret at the end of the output is masked too
    expect(r.stdout).toBe('********');
    expect(r.command).not.toContain(SUDO_PASSWORD);
    const e = await expectCode(t.exec(`sleep 5 # ${SUDO_PASSWORD}`, { timeoutMs: 300 }), 'E_CMD_TIMEOUT');
    expect(e.message).not.toContain(SUDO_PASSWORD);
    expect(e.message).toContain('sleep 5 # ********');
  });

  it('a wrong password → E_BECOME quickly (sudo would prompt again)', async () => {
    const t = track(new Ssh2Transport(spec(target.port, { knownHostsFile: knownFile, become: { enabled: true, password: 'wrong-sudo' } }), { knownHosts: kh }));
    const start = Date.now();
    const e = await expectCode(t.exec('id'), 'E_BECOME');
    expect(Date.now() - start).toBeLessThan(3000);
    expect(e.message).not.toContain('wrong-sudo');
  });
});
