/**
 * One simulated host behind a real SSH endpoint: an ssh2 `Server` (own host key) fed by our
 * own TCP listener, so that a crashed/rebooting host can really refuse connections and come
 * back on the same address and port. Exec requests run through the machine's shell with
 * stdin, stdout/stderr and the exit status delivered as OpenSSH does.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import net from 'node:net';
import ssh2 from 'ssh2';
import type { AuthContext, Connection, ParsedKey, ServerChannel } from 'ssh2';
import type { CommandRegistry } from './shell.js';
import { Shell, AbortError } from './shell.js';
import type { SimMachine } from './machine.js';
import { BufferOutput, StreamInput, type Output } from './io.js';
import { findFault, type Fault } from './faults.js';

const { Server, utils } = ssh2;

export interface HostKey {
  /** OpenSSH private key text. */
  private: string;
  /** `ssh-ed25519 AAAA…` */
  public: string;
}

/**
 * An ed25519 key pair in OpenSSH format. ssh2's generator emits a malformed key (the 32-byte
 * public key with its leading zero byte dropped) about once in 250 keys; such a key is
 * rejected by its own parser, so generate until both halves parse.
 */
export function generateHostKey(comment?: string): HostKey {
  for (;;) {
    const k = utils.generateKeyPairSync('ed25519', comment ? { comment } : undefined);
    // A well-formed ed25519 public blob is 51 bytes: string "ssh-ed25519" + string(32 bytes).
    if (Buffer.from(k.public.trim().split(/\s+/)[1] ?? '', 'base64').length !== 51) continue;
    return { private: k.private, public: k.public.trim() };
  }
}

/** `SHA256:…` as `ssh-keygen -lf` prints it. */
export function fingerprintOf(publicKey: string): string {
  const b64 = publicKey.trim().split(/\s+/)[1] ?? '';
  return `SHA256:${createHash('sha256').update(Buffer.from(b64, 'base64')).digest('base64').replace(/=+$/, '')}`;
}

export interface HostServerOptions {
  machine: SimMachine;
  registry: CommandRegistry;
  hostKey: HostKey;
  /** The fleet's client public key (`ssh-ed25519 AAAA…`). */
  clientPublicKey: string;
  faults: Fault[];
  address: string;
  port: number;
  /** Multiplies the stalled-host login delay (tests use small values). */
  loginDelayScale: number;
}

export class HostServer {
  readonly machine: SimMachine;
  hostKey: HostKey;
  address: string;
  port: number;
  faults: Fault[];
  /** Counters for tests: logins accepted, commands run. */
  readonly stats = { connections: 0, logins: 0, commands: 0, authFailures: 0 };

  private readonly registry: CommandRegistry;
  private readonly clientKey: ParsedKey;
  private readonly loginDelayScale: number;
  private ssh: InstanceType<typeof Server>;
  private listener: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  private readonly sessions = new Set<AbortController>();
  private eventTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private unsubscribe: () => void;

  constructor(opts: HostServerOptions) {
    this.machine = opts.machine;
    this.registry = opts.registry;
    this.hostKey = opts.hostKey;
    this.faults = opts.faults;
    this.address = opts.address;
    this.port = opts.port;
    this.loginDelayScale = opts.loginDelayScale;
    const parsed = utils.parseKey(opts.clientPublicKey);
    if (parsed instanceof Error) throw parsed;
    const first = Array.isArray(parsed) ? parsed[0] : parsed;
    if (!first) throw new Error('no client public key');
    this.clientKey = first;
    this.ssh = this.makeSshServer();
    this.unsubscribe = this.machine.kernel.onPower((ev) => {
      if (ev.kind === 'down') this.crash();
      else void this.listen().catch(() => undefined);
      this.armEventTimer();
    });
  }

  /** Whether the host currently accepts TCP connections. */
  get listening(): boolean {
    return this.listener !== null;
  }

  async start(): Promise<void> {
    if (findFault(this.faults, 'down')) {
      if (this.port === 0) this.port = await reservePort(this.address);
      return;
    }
    await this.listen();
    this.armEventTimer();
  }

  /** Replaces the host key (the "host key changed" situation: known_hosts no longer matches). */
  rekey(key: HostKey = generateHostKey()): void {
    this.hostKey = key;
    this.ssh = this.makeSshServer();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe();
    if (this.eventTimer) clearTimeout(this.eventTimer);
    this.eventTimer = null;
    this.dropAll();
    await this.closeListener();
  }

  /** Kills every connection of this host now (network cut, crash). */
  dropAll(): void {
    for (const s of this.sessions) s.abort();
    this.sessions.clear();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  private crash(): void {
    this.dropAll();
    void this.closeListener();
  }

  private async listen(): Promise<void> {
    if (this.stopped || this.listener || this.machine.kernel.power !== 'up') return;
    const srv = net.createServer((socket) => this.onSocket(socket));
    srv.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      srv.once('error', onError);
      srv.listen({ host: this.address, port: this.port, exclusive: true }, () => {
        srv.off('error', onError);
        resolve();
      });
    });
    const addr = srv.address();
    if (addr && typeof addr === 'object') this.port = addr.port;
    this.listener = srv;
  }

  private closeListener(): Promise<void> {
    const srv = this.listener;
    this.listener = null;
    if (!srv) return Promise.resolve();
    return new Promise((resolve) => srv.close(() => resolve()));
  }

  /** One real timer per host, only while a timed event is pending (boot, reboot, panic). */
  private armEventTimer(): void {
    if (this.eventTimer) clearTimeout(this.eventTimer);
    this.eventTimer = null;
    if (this.stopped) return;
    const at = this.machine.kernel.nextEventAt();
    if (at === null) return;
    const delay = Math.min(Math.max(0, at - Date.now()) + 5, 2_000_000_000);
    this.eventTimer = setTimeout(() => {
      this.eventTimer = null;
      this.machine.kernel.sync();
      this.armEventTimer();
    }, delay);
  }

  private onSocket(socket: net.Socket): void {
    this.stats.connections++;
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    if (findFault(this.faults, 'no-banner')) return; // accept, say nothing
    // sshd's re-exec before the banner waits on a saturated audit queue (kernel bannerDelayMs).
    const delay = this.machine.kernel.bannerDelayMs() * this.loginDelayScale;
    if (delay <= 0) return this.ssh.injectSocket(socket);
    const timer = setTimeout(() => {
      if (!socket.destroyed && !this.stopped) this.ssh.injectSocket(socket);
    }, delay);
    socket.once('close', () => clearTimeout(timer));
  }

  private makeSshServer(): InstanceType<typeof Server> {
    const server = new Server({ hostKeys: [this.hostKey.private], ident: 'OpenSSH_9.2p1 Debian-2+deb12u3' }, (client) => this.onClient(client));
    server.on('error', () => undefined);
    return server;
  }

  private onClient(client: Connection): void {
    client.on('error', () => undefined);
    client.on('authentication', (ctx) => void this.authenticate(ctx).catch(() => undefined));
    client.on('ready', () => {
      this.stats.logins++;
      this.machine.kernel.recordLogin();
      client.once('close', () => this.machine.kernel.recordLogout());
      let open = 0;
      client.on('session', (accept, reject) => {
        // OpenSSH refuses a session past MaxSessions with ADMINISTRATIVELY_PROHIBITED (ssh2's reject())
        const max = findFault(this.faults, 'max-sessions');
        if (max && open >= max.sessions) return reject();
        open++;
        const session = accept();
        session.once('close', () => open--);
        session.on('pty', (ok) => ok?.());
        session.on('env', (ok) => ok?.());
        session.on('shell', (_accept, reject) => reject?.());
        session.on('subsystem', (_accept, reject) => reject?.());
        session.on('exec', (acceptExec, _reject, info) => {
          const channel = acceptExec();
          void this.runExec(channel, info.command).catch(() => undefined);
        });
      });
    });
  }

  private async authenticate(ctx: AuthContext): Promise<void> {
    const spec = this.machine.spec;
    const reject = () => {
      this.stats.authFailures++;
      ctx.reject(spec.password ? ['publickey', 'password'] : ['publickey']);
    };
    if (findFault(this.faults, 'auth-fail') || ctx.username !== spec.user) return reject();
    if (ctx.method === 'publickey') {
      const offered = ctx.key;
      if (offered.algo !== this.clientKey.type || !safeEqual(offered.data, this.clientKey.getPublicSSH())) return reject();
      // A key query (no signature yet) is answered at once; the real login waits.
      if (!ctx.signature) return ctx.accept();
      if (!ctx.blob || this.clientKey.verify(ctx.blob, ctx.signature, ctx.hashAlgo) !== true) return reject();
      await this.loginDelay();
      return ctx.accept();
    }
    if (ctx.method === 'password' && spec.password !== undefined) {
      if (!safeEqual(Buffer.from(ctx.password), Buffer.from(spec.password))) return reject();
      await this.loginDelay();
      return ctx.accept();
    }
    return reject();
  }

  /** Logins on a stalled host are slow (observed: 24 s instead of 1 s; scaled here). */
  private async loginDelay(): Promise<void> {
    const ms = this.machine.kernel.loginDelayMs() * this.loginDelayScale;
    if (ms > 0) await new Promise((r) => setTimeout(r, ms));
  }

  private async runExec(channel: ServerChannel, command: string): Promise<void> {
    this.stats.commands++;
    this.machine.kernel.recordExec();
    const abort = new AbortController();
    this.sessions.add(abort);
    const input = new StreamInput();
    channel.on('data', (d: Buffer) => input.push(d.toString('utf8')));
    channel.on('end', () => input.end());
    channel.on('close', () => {
      input.end();
      abort.abort();
    });
    channel.on('error', () => abort.abort());
    const stdout = channelOutput(channel, abort.signal);
    const stderr = channelOutput(channel.stderr, abort.signal);
    const m = this.machine;
    try {
      const slow = findFault(this.faults, 'slow');
      if (slow) await abortableSleep(slow.perCommandMs, abort.signal);
      if (findFault(this.faults, 'hang', command)) await new Promise((_r, reject) => abort.signal.addEventListener('abort', () => reject(new AbortError()), { once: true }));
      const huge = findFault(this.faults, 'huge-output', command);
      if (huge) {
        await streamHuge(stdout, huge.bytes);
        return finish(channel, 0);
      }
      if (findFault(this.faults, 'binary-output', command)) await stdout.write(Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28, 0xa0, 0xa1, 0x0a]));
      const drop = findFault(this.faults, 'drop-mid-command', command);
      m.shellPid = m.kernel.spawnPid();
      const shell = new Shell(m, this.registry);
      const uid = m.loginUid;
      if (drop) {
        const buf = new BufferOutput();
        await shell.run(command, { stdin: input, stdout: buf, stderr, uid, user: m.spec.user, signal: abort.signal });
        const all = buf.buffer();
        await stdout.write(all.subarray(0, Math.max(1, Math.floor(all.length / 2))));
        setTimeout(() => this.dropAll(), 20);
        return;
      }
      const rc = await shell.run(command, { stdin: input, stdout, stderr, uid, user: m.spec.user, signal: abort.signal });
      finish(channel, rc);
    } catch {
      /* the session went away: nothing to deliver */
    } finally {
      this.sessions.delete(abort);
      this.armEventTimer();
    }
  }
}

function finish(channel: ServerChannel, rc: number): void {
  try {
    channel.exit(rc);
    channel.end();
  } catch {
    /* client already gone */
  }
}

/** Writes honour the channel's backpressure; a closed channel ends the wait. */
function channelOutput(stream: NodeJS.WritableStream, signal: AbortSignal): Output {
  return {
    write(chunk) {
      if (signal.aborted) throw new AbortError();
      let ok: boolean;
      try {
        ok = stream.write(chunk);
      } catch {
        throw new AbortError();
      }
      if (ok) return;
      return new Promise<void>((resolve, reject) => {
        const done = () => {
          signal.removeEventListener('abort', fail);
          resolve();
        };
        const fail = () => {
          stream.removeListener('drain', done);
          reject(new AbortError());
        };
        stream.once('drain', done);
        signal.addEventListener('abort', fail, { once: true });
      });
    },
  };
}

async function streamHuge(out: Output, bytes: number): Promise<void> {
  const line = 'audit: type=1300 audit(1795536299.644:457): arch=c000003e syscall=257 success=yes exit=3 comm="noise"\n';
  const block = Buffer.from(line.repeat(Math.ceil(65536 / line.length)));
  let sent = 0;
  while (sent < bytes) {
    const n = Math.min(block.length, bytes - sent);
    await out.write(n === block.length ? block : block.subarray(0, n));
    sent += n;
  }
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      reject(new AbortError());
    }, { once: true });
  });
}

function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A port nothing listens on (for hosts that are down from the start). */
export function reservePort(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen({ host: address, port: 0 }, () => {
      const a = s.address();
      const port = a && typeof a === 'object' ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}
