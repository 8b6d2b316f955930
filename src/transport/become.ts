/**
 * Become (sudo) without a terminal. The command line never carries the password, and the
 * password is written only when sudo asks for it: as Ansible does, each command gets its own
 * random prompt (`sudo -S -p PROMPT`, which sudo writes to stderr) and a random success line
 * that the shell under sudo prints to stderr before anything else runs. Until one of the two
 * shows up nothing is written to stdin; the prompt gets the password (once), the success line
 * releases the caller's stdin. With NOPASSWD or a cached sudo timestamp there is no prompt, so
 * the password never reaches the command's stdin (issue 16.1: `head -c 40` printed it, and the
 * auditctl module's `tee` wrote it into the rules file).
 */
import { newNonce } from '../util/nonce.js';
import type { BecomeSpec } from './types.js';

/** POSIX single-quoting: safe for any string, including quotes, newlines and `$(...)`. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The markers of one command that may prompt; `password` is what answers the prompt. */
export interface BecomeMarkers {
  prompt: string;
  success: string;
  password: string;
}

export interface BecomeCommand {
  /** What is sent as the exec request (no secrets in it). */
  command: string;
  wrapped: boolean;
  /** Set when sudo may prompt (a become password is configured): drive it with a BecomeDialog. */
  markers?: BecomeMarkers;
}

/** Whether sudo is needed: become on, and not already the target user (root by default). */
export function needsBecome(loginUser: string, become: BecomeSpec): boolean {
  if (!become.enabled) return false;
  const target = become.user ?? 'root';
  return loginUser !== target;
}

export function buildBecomeCommand(command: string, loginUser: string, become: BecomeSpec, nonce: string = newNonce()): BecomeCommand {
  if (!needsBecome(loginUser, become)) return { command, wrapped: false };
  const userArg = become.user !== undefined && become.user !== 'root' ? ` -u ${shellQuote(become.user)}` : '';
  if (become.password === undefined) return { command: `sudo -n${userArg} -- sh -c ${shellQuote(command)}`, wrapped: true };
  const markers: BecomeMarkers = { prompt: `[fleetmend-sudo-${nonce}] password: `, success: `FLEETMEND-BECOME-OK-${nonce}`, password: become.password };
  // `echo` is a shell builtin: the success line costs no extra program on the host. Its own
  // line, so a command that starts with a comment or `set -e` is unchanged.
  const inner = `echo ${markers.success} >&2\n${command}`;
  return { command: `sudo -S -p ${shellQuote(markers.prompt)}${userArg} -- sh -c ${shellQuote(inner)}`, wrapped: true, markers };
}

/** What the transport must do after a chunk of stderr while sudo is still authenticating. */
export type DialogAction = { kind: 'send-password' } | { kind: 'ready' } | { kind: 'failed'; reason: string };

const REJECTED = 'sudo rejected the become password';

/**
 * Watches stderr until sudo is done: strips the prompt and the success line from what users
 * see, and says when to send the password (first prompt), when the command runs (success
 * line: send its stdin now), and when to give up (a second prompt or "Sorry, try again.":
 * the password was wrong, and waiting would only hang on the next prompt). After the success
 * line, stderr belongs to the command and passes through untouched. Works on bytes (latin1
 * is 1:1), so a marker split across chunks, or a UTF-8 character split by ssh2, is kept whole.
 */
export class BecomeDialog {
  private pending = '';
  private prompts = 0;
  state: 'auth' | 'ready' | 'failed' = 'auth';

  constructor(private readonly markers: BecomeMarkers) {}

  /** Feeds a stderr chunk; returns the bytes to keep as the command's stderr, and actions. */
  feed(chunk: Buffer): { out: Buffer; actions: DialogAction[] } {
    if (this.state !== 'auth') return { out: chunk, actions: [] };
    this.pending += chunk.toString('latin1');
    const actions: DialogAction[] = [];
    let out = '';
    const successLine = `${this.markers.success}\n`;
    for (;;) {
      const p = this.pending.indexOf(this.markers.prompt);
      const s = this.pending.indexOf(successLine);
      if (s >= 0 && (p < 0 || s < p)) {
        out += this.pending.slice(0, s) + this.pending.slice(s + successLine.length);
        this.pending = '';
        this.state = 'ready';
        actions.push({ kind: 'ready' });
        break;
      }
      if (p < 0) break;
      out += this.pending.slice(0, p);
      this.pending = this.pending.slice(p + this.markers.prompt.length);
      this.prompts++;
      if (this.prompts > 1) return this.fail(out, actions);
      actions.push({ kind: 'send-password' });
    }
    if (this.state === 'auth') {
      const keep = heldBack(this.pending, [this.markers.prompt, successLine]);
      out += this.pending.slice(0, this.pending.length - keep);
      this.pending = this.pending.slice(this.pending.length - keep);
      if (/Sorry, try again\./.test(out)) return this.fail(out, actions);
    }
    return { out: Buffer.from(out, 'latin1'), actions };
  }

  /** What is still held back (a possible start of a marker) when the channel closes. */
  flush(): Buffer {
    const rest = this.pending;
    this.pending = '';
    return Buffer.from(rest, 'latin1');
  }

  private fail(out: string, actions: DialogAction[]): { out: Buffer; actions: DialogAction[] } {
    this.state = 'failed';
    this.pending = '';
    return { out: Buffer.from(out, 'latin1'), actions: [...actions.filter((a) => a.kind !== 'send-password'), { kind: 'failed', reason: REJECTED }] };
  }
}

/** Length of the longest suffix of `text` that is a proper prefix of one of `markers`. */
function heldBack(text: string, markers: string[]): number {
  let best = 0;
  for (const m of markers) {
    for (let n = Math.min(text.length, m.length - 1); n > best; n--) {
      if (text.endsWith(m.slice(0, n))) {
        best = n;
        break;
      }
    }
  }
  return best;
}

const SUDO_FAILURES: Array<[RegExp, string]> = [
  [/sudo: (a password is required|a terminal is required)/, 'sudo requires a password; set the become password (ansible_become_password)'],
  [/sudo: \d+ incorrect password attempts?|Sorry, try again\.|sudo: no password was provided/, REJECTED],
  [/is not in the sudoers file|is not allowed to (execute|run sudo)|may not run sudo/, 'the login user may not use sudo for this'],
  [/sudo: sorry, you must have a tty/, 'sudo requires a tty (requiretty in sudoers)'],
  [/sudo: (command not found|not found)|sh: \d*:? ?sudo: not found/, 'sudo is not installed on the host'],
];

/** A clear reason when stderr shows sudo refusing (checked only on wrapped commands). */
export function detectSudoFailure(stderr: string): string | undefined {
  const head = stderr.slice(0, 4096);
  for (const [re, reason] of SUDO_FAILURES) if (re.test(head)) return reason;
  return undefined;
}
