/**
 * The ssh2 implementation of Transport: one SSH connection per host, reused for every exec of a
 * run. Connect = TCP (or a bastion channel) → banner → key exchange with the host key checked in
 * hostVerifier before anything else is sent → authentication, all inside connectTimeoutMs
 * (default 60 s: logins on hosts with a stalled audit queue take tens of seconds, reference §3).
 */
import ssh2, { type Client as Ssh2Client, type ClientChannel, type ConnectConfig } from 'ssh2';

// ssh2 is CommonJS: Node's ESM loader only gives its default export.
const { Client } = ssh2;
import type { Duplex } from 'node:stream';
import { FleetmendError } from '../errors.js';
import { systemClock, type Clock } from '../executor/clock.js';
import { agentSocketFor, loadKeys, makeAuthHandler, planAuth, type KeyCache } from './auth.js';
import { BecomeDialog, buildBecomeCommand, detectSudoFailure } from './become.js';
import { dialTcp, waitForBanner } from './dial.js';
import { KnownHosts, KnownHostsCache } from './knownhosts.js';
import { CappedOutput, CommandCutShort } from './output.js';
import type { BecomeSpec, ConnectionSpec, ExecOptions, ExecResult, PartialOutput, Transport, TransportLogger } from './types.js';
import { maskerFor, SecretValues } from '../secrets/index.js';

export interface BastionLease {
  transport: Ssh2Transport;
  release(): Promise<void>;
}

/** Provides connected bastions (see BastionPool), so several targets can share one. */
export interface BastionProvider {
  acquire(spec: ConnectionSpec): Promise<BastionLease>;
}

export interface Ssh2TransportOptions {
  knownHosts: KnownHosts | KnownHostsCache;
  logger?: TransportLogger;
  /** Shared bastion connections; without it each target opens its own bastion connection. */
  bastions?: BastionProvider;
  /** Key files decrypted once per run; without it each connect reads its key files. */
  keys?: KeyCache;
  /**
   * The run's "abort everything" signal (second SIGINT): aborts every command in flight
   * (E_INTERRUPTED) and closes the connection.
   */
  abortSignal?: AbortSignal;
  /** Where the connect deadline and a command's duration are read from (default: the system clock). */
  clock?: Clock;
}

/** ssh2 names for a key type recorded in known_hosts (RSA keys sign with SHA-2 variants). */
const HOSTKEY_ALGOS: Record<string, string[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-dss': ['ssh-dss'],
};

type SshError = Error & { level?: string };

/** Errors that end a command which may have printed something worth keeping (see CommandCutShort). */
const CUT_SHORT_CODES: ReadonlySet<string> = new Set(['E_CMD_TIMEOUT', 'E_DISCONNECTED', 'E_INTERRUPTED']);

export class Ssh2Transport implements Transport {
  readonly spec: ConnectionSpec;
  connectedAddress?: string;
  private readonly opts: Ssh2TransportOptions;
  private client?: Ssh2Client;
  private connecting?: Promise<void>;
  private closing?: Promise<void>;
  private dead = false;
  private deathReason = 'connection closed';
  private lease?: BastionLease;

  private readonly onRunAbort = (): void => void this.close();
  /** Password, key passphrase and become password of this connection (and its bastions). */
  secrets: SecretValues;
  /** The host key the server proved it holds at connect (a warm connection's key is checked again on reuse). */
  hostKey?: Buffer;
  /** The login's credentials, held by ssh2's auth closure until `forgetCredentials()`. */
  private authHandler: ReturnType<typeof makeAuthHandler> | undefined;

  private readonly clock: Clock;

  constructor(spec: ConnectionSpec, opts: Ssh2TransportOptions) {
    this.spec = spec;
    this.clock = opts.clock ?? systemClock;
    this.secrets = maskerFor(spec);
    this.opts = opts;
    opts.abortSignal?.addEventListener('abort', this.onRunAbort, { once: true });
  }

  /** True while the SSH connection is up and usable. */
  get alive(): boolean {
    return this.client !== undefined && !this.dead && this.closing === undefined;
  }

  connect(): Promise<void> {
    if (this.closing) return Promise.reject(this.err('E_DISCONNECTED', 'transport is closed'));
    this.connecting ??= this.doConnect().catch(async (err: unknown) => {
      await this.releaseLease();
      throw err;
    });
    return this.connecting;
  }

  /** Every error this transport raises names the host and never carries a secret of its connection. */
  private err(code: ConstructorParameters<typeof FleetmendError>[0], message: string, cause?: unknown, details?: Record<string, unknown>): FleetmendError {
    return new FleetmendError(code, this.secrets.mask(message), { host: this.spec.name, ...(cause !== undefined ? { cause } : {}), ...(details ? { details } : {}) });
  }

  private get where(): string {
    return `${this.spec.address}:${this.spec.port}`;
  }

  private async doConnect(): Promise<void> {
    const { spec } = this;
    const deadline = this.clock.now() + spec.connectTimeoutMs;
    const remaining = (): number => Math.max(1, deadline - this.clock.now());
    const knownHosts = this.opts.knownHosts instanceof KnownHostsCache ? await this.opts.knownHosts.get(spec.knownHostsFile) : this.opts.knownHosts;
    const keys = await loadKeys(spec.auth, spec.name, this.opts.keys);
    const dialDeadline = Math.min(deadline, this.clock.now() + (spec.dialTimeoutMs ?? spec.connectTimeoutMs));
    const dialRemaining = (): number => Math.max(1, dialDeadline - this.clock.now());
    const sock = await this.openStream(dialRemaining);
    await waitForBanner(sock, dialRemaining(), spec.name, this.where);
    const tried: string[] = [];
    const notes: string[] = [];
    let serverMethods: string[] | undefined;
    const plan = planAuth(spec.user, spec.auth, keys, agentSocketFor(spec.auth));
    this.authHandler = makeAuthHandler(plan, tried);
    const client = new Client();
    let hostKeyError: FleetmendError | undefined;
    const knownTypes = knownHosts.knownKeyTypes(spec.address, spec.port).flatMap((t) => HOSTKEY_ALGOS[t] ?? []);
    const config: ConnectConfig = {
      sock,
      username: spec.user,
      readyTimeout: 0,
      keepaliveInterval: spec.keepaliveIntervalMs,
      keepaliveCountMax: spec.keepaliveCountMax ?? 4,
      authHandler: (left, partial, next) => {
        if (left) serverMethods = left;
        if (this.authHandler) this.authHandler(left, partial, next);
        else next(false as unknown as Parameters<typeof next>[0]);
      },
      hostVerifier: (key: Buffer, verify: (ok: boolean) => void): void => {
        knownHosts.verify({ host: spec.address, port: spec.port, key, policy: spec.hostKeyChecking, displayName: spec.name }).then(
          () => {
            this.hostKey = key;
            verify(true);
          },
          (e: unknown) => {
            hostKeyError = e instanceof FleetmendError ? e : this.err('E_HOSTKEY_UNKNOWN', String(e), e);
            verify(false);
          },
        );
      },
    };
    // Offer only the key types already recorded for this host, so a different key is "changed",
    // never "a new key of another type" (OpenSSH orders HostKeyAlgorithms the same way).
    if (knownTypes.length > 0 && spec.hostKeyChecking !== 'off') config.algorithms = { serverHostKey: knownTypes as NonNullable<ConnectConfig['algorithms']>['serverHostKey'] };

    await new Promise<void>((resolve, reject) => {
      let done = false;
      const fail = (e: FleetmendError): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        client.removeAllListeners('ready');
        sock.destroy();
        reject(e);
      };
      // setImmediate: a 'ready' already received by a busy event loop wins over the timer
      const timer = setTimeout(() => setImmediate(() => {
        fail(hostKeyError ?? this.err('E_CONNECT_TIMEOUT', `SSH handshake and login to ${this.where} did not finish within ${spec.connectTimeoutMs} ms (slow logins are typical of hosts whose audit backlog is full)`));
      }), remaining());
      client.on('error', (e: SshError) => {
        if (done) {
          this.markDead(e.message);
          return;
        }
        if (hostKeyError) return fail(hostKeyError);
        if (e.level === 'agent' || (e.level === 'client-authentication' && !/All configured authentication methods failed/.test(e.message))) {
          notes.push(e.level === 'agent' ? `agent: ${e.message}` : e.message);
          return;
        }
        if (e.level === 'client-authentication') {
          const offered = serverMethods ? `; server accepts: ${serverMethods.join(', ')}` : '';
          const extra = notes.length ? `; ${notes.join('; ')}` : '';
          return fail(this.err('E_AUTH', `authentication as ${spec.user} on ${this.where} failed (tried: ${tried.join(', ') || 'nothing: no key, agent or password configured'}${offered}${extra})`, e));
        }
        fail(this.err('E_CONNECT', `SSH connection to ${this.where} failed: ${e.message}`, e));
      });
      client.on('close', () => {
        this.markDead('connection closed by the remote side');
        // After the handshake this is the normal end of every connection: no error to build.
        if (!done) fail(hostKeyError ?? this.err('E_CONNECT', `${this.where} closed the connection during the SSH handshake`));
      });
      client.once('ready', () => {
        done = true;
        clearTimeout(timer);
        resolve();
      });
      client.connect(config);
    });
    this.client = client;
    this.connectedAddress = this.where;
  }

  /** A TCP socket, or a direct-tcpip channel through the bastion (ProxyJump). */
  private async openStream(remaining: () => number): Promise<Duplex> {
    const { spec } = this;
    if (!spec.jump) return dialTcp(spec.address, spec.port, remaining(), spec.name);
    const bastions = this.opts.bastions ?? new SingleUseBastions(this.opts);
    try {
      this.lease = await bastions.acquire(spec.jump);
    } catch (e) {
      const fe = e instanceof FleetmendError ? e : this.err('E_CONNECT', String(e), e);
      throw new FleetmendError(fe.code, `via bastion ${spec.jump.name}: ${fe.message}`, { host: spec.name, cause: fe });
    }
    return this.lease.transport.forwardOut(spec.address, spec.port, spec.name);
  }

  /** Open a direct-tcpip channel from this (bastion) host to address:port. */
  forwardOut(address: string, port: number, forHost: string): Promise<ClientChannel> {
    const client = this.client;
    if (!client || this.dead) return Promise.reject(new FleetmendError('E_DISCONNECTED', `bastion ${this.spec.name} is not connected`, { host: forHost }));
    return new Promise((resolve, reject) => {
      client.forwardOut('127.0.0.1', 0, address, port, (err, stream) => {
        if (err) reject(new FleetmendError('E_CONNECT', `bastion ${this.spec.name} could not open a channel to ${address}:${port}: ${err.message}`, { host: forHost, cause: err }));
        else resolve(stream);
      });
    });
  }

  private markDead(reason: string): void {
    if (!this.dead) this.deathReason = reason;
    this.dead = true;
  }

  /**
   * Drops what only a login needs: the password, the key passphrase, the decrypted keys (held
   * by the auth handler) and their masks. A pooled connection outlives the run that opened it
   * and must keep no more secrets between runs than a cold run does (issue 25.2); each run's
   * lease brings its own (execAs).
   */
  forgetCredentials(): void {
    this.authHandler = undefined;
    delete this.spec.auth.password;
    delete this.spec.auth.passphrase;
    this.secrets = new SecretValues([]);
  }

  exec(command: string, execOpts: ExecOptions = {}): Promise<ExecResult> {
    return this.execAs(command, execOpts, this.spec.become, this.secrets);
  }

  /**
   * `exec` with the become settings and the secrets of the caller's spec: a pooled connection
   * keeps no become password, each run's lease passes its own for the run's commands.
   */
  async execAs(command: string, execOpts: ExecOptions, becomeSpec: BecomeSpec, secrets: SecretValues): Promise<ExecResult> {
    const runAbort = this.opts.abortSignal;
    const signal = runAbort && execOpts.signal ? AbortSignal.any([execOpts.signal, runAbort]) : (execOpts.signal ?? runAbort);
    const opts: ExecOptions = { ...execOpts, ...(signal ? { signal } : {}) };
    await this.connect();
    const client = this.client!;
    if (this.dead || this.closing) throw this.err('E_DISCONNECTED', `connection to ${this.where} lost: ${this.deathReason}`, undefined, NOT_OPENED);
    const become = opts.become === undefined ? becomeSpec : { ...becomeSpec, enabled: opts.become };
    const wrap = buildBecomeCommand(command, this.spec.user, become);
    const dialog = wrap.markers ? new BecomeDialog(wrap.markers) : undefined;
    const timeoutMs = opts.timeoutMs ?? this.spec.commandTimeoutMs;
    const out = new CappedOutput(opts.maxOutputBytes ?? this.spec.maxOutputBytes);
    const started = this.clock.now();
    const shown = opts.label ?? briefCommand(command);
    return new Promise<ExecResult>((resolve, reject) => {
      let settled = false;
      let channel: ClientChannel | undefined;
      let exitCode: number | null | undefined;
      let exitSignal: string | undefined;
      const finish = (e: FleetmendError | undefined, r?: ExecResult): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        if (e) {
          stopChannel(channel);
          const m = secrets.mask(e.message);
          const extra = { host: this.spec.name, ...(e.cause !== undefined ? { cause: e.cause } : {}), ...(e.details ? { details: e.details } : {}) };
          reject(CUT_SHORT_CODES.has(e.code) ? new CommandCutShort(e.code, m, maskedPartial(out, secrets), extra) : new FleetmendError(e.code, m, extra));
        } else resolve(masked(r!, secrets));
      };
      const result = (): ExecResult => {
        const r: ExecResult = { command, stdout: out.stdout(), stderr: out.stderr(), code: exitCode ?? null, durationMs: this.clock.now() - started, truncated: out.truncated, bytes: out.bytes };
        if (exitSignal) r.signal = exitSignal;
        return r;
      };
      const timer = setTimeout(() => finish(this.err('E_CMD_TIMEOUT', `command timed out after ${timeoutMs} ms on ${this.spec.name}: ${shown}`)), timeoutMs);
      const onAbort = (): void => finish(this.err('E_INTERRUPTED', `command interrupted on ${this.spec.name}: ${shown}`));
      if (opts.signal?.aborted) return onAbort();
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      const becomeError = (reason: string): FleetmendError =>
        this.err('E_BECOME', `become (sudo${becomeSpec.user ? ` -u ${becomeSpec.user}` : ''}) failed on ${this.spec.name}: ${reason}`);
      // Past the cap the command is stopped, not drained: reading tens of MB only to drop them
      // costs the runner memory and CPU (issue 17.7). Killing it and closing the channel stops
      // the sender within one SSH window; what was kept is the result, marked truncated.
      const keep = (stream: ClientChannel, which: 'stdout' | 'stderr', chunk: Buffer): void => {
        if (settled) return;
        if (!out.push(which, chunk)) return;
        finish(undefined, result());
        stopChannel(stream);
      };
      try {
        client.exec(wrap.command, (err, stream) => {
          if (err) return finish(this.channelError(err));
          channel = stream;
          if (settled) return stopChannel(stream);
          // stdin always ends, so a sudo that asks again reads EOF instead of waiting forever
          const sendStdin = (): void => {
            if (opts.stdin !== undefined) stream.write(opts.stdin);
            stream.end();
          };
          stream.on('data', (c: Buffer) => keep(stream, 'stdout', c));
          stream.stderr.on('data', (c: Buffer) => {
            if (!dialog) return keep(stream, 'stderr', c);
            const { out: text, actions } = dialog.feed(c);
            if (text.length) keep(stream, 'stderr', text);
            for (const a of actions) {
              if (a.kind === 'send-password') stream.write(`${wrap.markers!.password}\n`);
              else if (a.kind === 'ready') sendStdin();
              else finish(becomeError(a.reason));
            }
          });
          stream.on('exit', (code: number | null, signal?: string) => {
            exitCode = code;
            if (signal) exitSignal = signal;
          });
          stream.on('close', () => {
            const rest = dialog?.flush();
            if (rest?.length) out.push('stderr', rest);
            // the connection's own close event comes first when it dropped: look after it
            setImmediate(() => {
              if (exitCode === undefined && this.dead) return finish(this.err('E_DISCONNECTED', `connection to ${this.where} lost during command: ${shown}`));
              if (wrap.wrapped && exitCode !== 0) {
                const reason = detectSudoFailure(out.stderrHead());
                if (reason) return finish(becomeError(reason));
              }
              finish(undefined, result());
            });
          });
          // With a become password nothing is written before sudo has prompted or let the
          // command run (BecomeDialog): the password must never become the command's input.
          if (!dialog) sendStdin();
        });
      } catch (e) {
        this.markDead((e as Error).message);
        finish(this.err('E_DISCONNECTED', `connection to ${this.where} lost: ${(e as Error).message}`, e, NOT_OPENED));
      }
    });
  }

  /**
   * A session channel running `command` as given (no become wrapper, no timeout): the kept probe
   * shell's (kept-shell.ts), which frames each command itself. Errors as exec's channel errors.
   */
  async openChannel(command: string): Promise<ClientChannel> {
    await this.connect();
    const client = this.client!;
    if (this.dead || this.closing) throw this.err('E_DISCONNECTED', `connection to ${this.where} lost: ${this.deathReason}`, undefined, NOT_OPENED);
    return new Promise<ClientChannel>((resolve, reject) => {
      try {
        client.exec(command, (err, stream) => (err ? reject(this.channelError(err)) : resolve(stream)));
      } catch (e) {
        this.markDead((e as Error).message);
        reject(this.err('E_DISCONNECTED', `connection to ${this.where} lost: ${(e as Error).message}`, e, NOT_OPENED));
      }
    });
  }

  /**
   * Why no channel could be opened, marked so a pool can tell "the command never started" (safe
   * to try again elsewhere) from a command that may have run, and a MaxSessions refusal from a
   * failed host.
   */
  private channelError(err: Error & { reason?: unknown }): FleetmendError {
    if (this.dead) return this.err('E_DISCONNECTED', `connection to ${this.where} lost: ${this.deathReason}`, err, NOT_OPENED);
    // On a live connection a refused session channel is the server's limit, not the host's
    // failure: OpenSSH past MaxSessions says ADMINISTRATIVELY_PROHIBITED (RFC 4254 §5.1 reason
    // 1, "administratively prohibited: open failed"); ssh2-based servers say CONNECT_FAILED (2)
    // or RESOURCE_SHORTAGE (4) when they reject a session.
    const refused = err.reason === 1 || err.reason === 2 || err.reason === 4;
    return this.err('E_CONNECT', `cannot open a channel on ${this.where}: ${err.message}`, err, refused ? REFUSED : NOT_OPENED);
  }

  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    this.opts.abortSignal?.removeEventListener('abort', this.onRunAbort);
    if (this.connecting) await this.connecting.catch(() => undefined);
    const client = this.client;
    if (client && !this.dead) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          client.destroy();
          resolve();
        }, 2000);
        client.once('close', () => {
          clearTimeout(t);
          resolve();
        });
        client.end();
      });
    }
    this.markDead('closed');
    await this.releaseLease();
  }

  private async releaseLease(): Promise<void> {
    const lease = this.lease;
    this.lease = undefined;
    if (lease) await lease.release();
  }
}

/** `details.channel` of an exec error: the command never started on the host. */
export const NOT_OPENED = { channel: 'not-opened' } as const;
/** `details.channel`: the server refused the channel (MaxSessions), the connection is fine. */
export const REFUSED = { channel: 'refused' } as const;

/** The connection's secrets, masked out of a command's output (see secrets/values.ts). */
function masked(r: ExecResult, secrets: SecretValues): ExecResult {
  if (secrets.size === 0) return r;
  return { ...r, command: secrets.mask(r.command), stdout: secrets.mask(r.stdout), stderr: secrets.mask(r.stderr) };
}

/** What a command cut short had printed, masked as its result would have been. */
function maskedPartial(out: CappedOutput, secrets: SecretValues): PartialOutput {
  return { stdout: secrets.mask(out.stdout()), stderr: secrets.mask(out.stderr()), bytes: out.bytes, truncated: out.truncated };
}

/**
 * A command as an error message names it: a multi-line script would bury the error (and the
 * terminal line) under kilobytes of shell, so its first line, shortened, stands for it.
 */
export function briefCommand(command: string, max = 120): string {
  const lines = command.split('\n').filter((l) => l.trim() !== '');
  const first = (lines[0] ?? '').trim();
  const more = lines.length > 1 ? ` … (+${lines.length - 1} lines)` : '';
  return (first.length > max ? `${first.slice(0, max)}…` : first) + more;
}

/** Ask the remote to kill the command, then close the channel; the connection stays usable. */
export function stopChannel(ch: ClientChannel | undefined): void {
  if (!ch) return;
  try {
    // ssh2's ch.signal() is a no-op once our side sent EOF (it checks `writable`), and we always
    // end stdin; the request is still valid on an open channel (RFC 4254 §6.9), so send it directly.
    const c = ch as unknown as { outgoing?: { id: number; state: string }; _client?: { _protocol?: { signal(id: number, name: string): void } } };
    if ((c.outgoing?.state === 'open' || c.outgoing?.state === 'eof') && c._client?._protocol) c._client._protocol.signal(c.outgoing.id, 'KILL');
    else ch.signal('KILL');
  } catch {
    // older sshd ignore "signal" requests; closing the channel still ends our side
  }
  try {
    ch.close();
  } catch {
    // already closed
  }
}

/** Fallback when no pool is shared: a bastion connection per target, closed with it. */
class SingleUseBastions implements BastionProvider {
  constructor(private readonly opts: Ssh2TransportOptions) {}
  async acquire(spec: ConnectionSpec): Promise<BastionLease> {
    const transport = new Ssh2Transport(spec, this.opts);
    await transport.connect();
    return { transport, release: () => transport.close() };
  }
}
