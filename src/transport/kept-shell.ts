/**
 * The probe shell of a warm connection (issue 25): one `sh -s` (under `sudo -n` when the probe
 * needs become) kept open on the connection, fed the fact script of every later sweep.
 *
 * Why: an exec channel per sweep costs the host a session (sshd forks it), the login shell, sudo
 * and the shell under sudo before the probe's first builtin runs. Measured on 300 real sshd
 * hosts (forks 100, a fake bash auditctl): the probe as its own exec took 2.0-2.1 s a pass, the
 * same probe fed to a kept shell 0.70 s, the warm floor (`sudo -n auditctl -s` per exec) 1.5 s.
 * On the host that matters it is worth more than time: every sudo writes its PAM records
 * (USER_ACCT, CRED_REFR, USER_START, USER_END, CRED_DISP) and USER_CMD, and every program start
 * its execve records, into a queue that is already full, each one waiting there up to
 * backlog_wait_time (kernel-6.1-queue §0). A probe in the kept shell starts only its own
 * programs (auditctl -s; auditctl -l and one log reader on a lossy host).
 *
 * The contract: only a command that reads no stdin and leaves nothing behind may run here (the
 * fact script: builtins and `</dev/null` programs). Each one runs in a subshell `( … )` with
 * stdin from /dev/null, so it can neither change the kept shell nor eat the next command, and
 * ends with a marker carrying a fresh nonce on stdout (with its exit status) and on stderr: host
 * output cannot forge the end of a command it does not know the nonce of. One command at a time;
 * anything unusual ends the shell instead of guessing its state: a timeout, an interrupt, output
 * over the cap, a marker that does not parse. The next probe opens a new one.
 *
 * Never kept: a shell that needs a become password (sudo would have to be fed it; the pool keeps
 * no password, issue 25 §2). sudo logs the shell once, when it starts, not every probe: `--no-probe-shell`
 * runs each probe as its own exec instead.
 */
import type { ClientChannel } from 'ssh2';
import type { ErrorCode } from '../errors.js';
import type { Clock } from '../executor/clock.js';
import type { SecretValues } from '../secrets/index.js';
import { newNonce } from '../util/nonce.js';
import { buildBecomeCommand, needsBecome } from './become.js';
import { CommandCutShort } from './output.js';
import { stopChannel } from './ssh2.js';
import type { BecomeSpec, ExecResult } from './types.js';

/** What `run` needs of a command beyond its text: the lease's limits and the caller's signal. */
export interface KeptRunOptions {
  timeoutMs: number;
  maxOutputBytes: number;
  signal?: AbortSignal;
  label: string;
}

/** Opens the shell's channel on the connection (Ssh2Transport.openChannel). */
export type ChannelOpener = (command: string) => Promise<ClientChannel>;

/**
 * Which kept shell a command with this become runs in, or undefined when none may be kept: a
 * become that needs sudo with a password. One connection may hold one shell per key (a plain
 * one and one per become user).
 */
export function keptShellKey(loginUser: string, become: BecomeSpec): string | undefined {
  if (!needsBecome(loginUser, become)) return '-';
  if (become.password !== undefined) return undefined;
  return `sudo:${become.user ?? 'root'}`;
}

/** The command that starts the shell: `sh -s` reading commands from the channel. */
export function keptShellCommand(loginUser: string, become: BecomeSpec): string {
  // no password: buildBecomeCommand gives `sudo -n [-u U] -- sh -c 'sh -s'` (once per connection)
  const b: BecomeSpec = { enabled: become.enabled, ...(become.user !== undefined ? { user: become.user } : {}) };
  return buildBecomeCommand('sh -s', loginUser, b).command;
}

const MARK = '@@fleetmend-kept:';

/** The shell's side of one command: the subshell, then the two end markers. */
export function keptCommandText(command: string, nonce: string): string {
  return `(\n${command}\n) </dev/null\nprintf '\\n${MARK}${nonce}:%s\\n' "$?"; printf '\\n${MARK}${nonce}\\n' >&2\n`;
}

/** The marker's place and the exit status, once the whole end line arrived. */
function findEnd(buf: Buffer, nonce: string, withStatus: boolean): { at: number; code: number } | undefined | 'bad' {
  const head = Buffer.from(`\n${MARK}${nonce}${withStatus ? ':' : '\n'}`);
  const at = buf.indexOf(head);
  if (at < 0) return undefined;
  if (!withStatus) return { at, code: 0 };
  const nl = buf.indexOf(0x0a, at + head.length);
  if (nl < 0) return undefined;
  const status = buf.subarray(at + head.length, nl).toString('latin1');
  return /^\d{1,3}$/.test(status) ? { at, code: Number(status) } : 'bad';
}

/** Bytes of one stream until its marker; what is past the cap is not kept. */
class Collected {
  private chunks: Buffer[] = [];
  private len = 0;
  end: { at: number; code: number } | undefined;

  constructor(
    private readonly nonce: string,
    private readonly withStatus: boolean,
  ) {}

  get bytes(): number {
    return this.end ? this.end.at : this.len;
  }

  /** Adds a chunk; 'bad' for an end line that does not parse (the shell's state is unknown). */
  push(chunk: Buffer): 'bad' | undefined {
    this.chunks.push(chunk);
    this.len += chunk.length;
    if (this.end) return undefined;
    const buf = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks);
    this.chunks = [buf];
    const end = findEnd(buf, this.nonce, this.withStatus);
    if (end === 'bad') return 'bad';
    this.end = end;
    return undefined;
  }

  text(cap: number): string {
    const buf = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks);
    return buf.subarray(0, Math.min(this.bytes, cap)).toString('utf8');
  }
}

export class KeptShell {
  private busy = false;
  private closed = false;
  /** Output of a command that arrives while none runs: the shell is not in the state we think. */
  private sink: ((which: 'stdout' | 'stderr', chunk: Buffer) => void) | undefined;
  private onClose: (() => void) | undefined;
  /** Commands run in it (tests, the warm log line). */
  runs = 0;

  private constructor(
    private readonly channel: ClientChannel,
    private readonly clock: Clock,
    private readonly host: string,
  ) {
    channel.on('data', (c: Buffer) => (this.sink ? this.sink('stdout', c) : this.close()));
    channel.stderr.on('data', (c: Buffer) => (this.sink ? this.sink('stderr', c) : this.close()));
    channel.on('close', () => {
      this.closed = true;
      this.onClose?.();
    });
  }

  /** The shell on a new channel; the first command tells whether it started (see run). */
  static async open(open: ChannelOpener, command: string, clock: Clock, host: string): Promise<KeptShell> {
    return new KeptShell(await open(command), clock, host);
  }

  get usable(): boolean {
    return !this.closed && !this.busy;
  }

  /** The channel closed: the shell is gone (a busy one is not). */
  get ended(): boolean {
    return this.closed;
  }

  /** KILL to what runs in it (as an exec cut short gets), then the channel closes. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    stopChannel(this.channel);
  }

  /**
   * Runs `command` in the shell. Resolves undefined when the shell ended before the command
   * printed anything on stdout (sudo refused, no `sh`, the connection dropped): the caller runs it as an
   * exec of its own, which reports why as a cold run would. Otherwise the result or the error
   * is the one an exec channel would give, with the same codes, partial output and masking.
   */
  run(command: string, o: KeptRunOptions, secrets: SecretValues): Promise<ExecResult | undefined> {
    if (!this.usable) return Promise.resolve(undefined);
    this.busy = true;
    this.runs++;
    const nonce = newNonce();
    const out = new Collected(nonce, true);
    const err = new Collected(nonce, false);
    const started = this.clock.now();
    return new Promise<ExecResult | undefined>((resolve, reject) => {
      let settled = false;
      const total = (): number => out.bytes + err.bytes;
      const result = (truncated: boolean): ExecResult => ({
        command,
        stdout: secrets.mask(out.text(o.maxOutputBytes)),
        stderr: secrets.mask(err.text(Math.max(0, o.maxOutputBytes - Math.min(out.bytes, o.maxOutputBytes)))),
        code: out.end?.code ?? null,
        durationMs: this.clock.now() - started,
        truncated,
        bytes: total(),
      });
      const settle = (): void => {
        settled = true;
        clearTimeout(timer);
        o.signal?.removeEventListener('abort', onAbort);
        this.sink = undefined;
        this.onClose = undefined;
        this.busy = false;
      };
      const fail = (code: ErrorCode, message: string): void => {
        if (settled) return;
        const r = result(total() > o.maxOutputBytes);
        settle();
        this.close();
        const m = secrets.mask(message);
        reject(new CommandCutShort(code, m, { stdout: r.stdout, stderr: r.stderr, bytes: r.bytes, truncated: r.truncated }, { host: this.host }));
      };
      const timer = setTimeout(() => fail('E_CMD_TIMEOUT', `command timed out after ${o.timeoutMs} ms on ${this.host}: ${o.label}`), o.timeoutMs);
      const onAbort = (): void => fail('E_INTERRUPTED', `command interrupted on ${this.host}: ${o.label}`);
      if (o.signal?.aborted) return onAbort();
      o.signal?.addEventListener('abort', onAbort, { once: true });
      this.sink = (which, chunk) => {
        if (settled) return;
        if ((which === 'stdout' ? out : err).push(chunk) === 'bad') return fail('E_PARSE', `the probe shell on ${this.host} ended a command without a readable status: ${o.label}`);
        if (total() > o.maxOutputBytes) {
          // past the cap the command is stopped, as on an exec channel; the shell goes with it
          const r = result(true);
          settle();
          this.close();
          return resolve(r);
        }
        if (out.end && err.end) {
          const r = result(false);
          settle();
          resolve(r);
        }
      };
      this.onClose = () => {
        if (settled) return;
        // nothing on stdout: the shell never ran the command (sudo refused, no sh) or the
        // connection dropped first; the fact script's first line is printed before any program
        if (out.bytes === 0) {
          settle();
          return resolve(undefined);
        }
        fail('E_DISCONNECTED', `the probe shell on ${this.host} ended during command: ${o.label}`);
      };
      if (this.closed) return this.onClose();
      this.channel.write(keptCommandText(command, nonce));
    });
  }
}
