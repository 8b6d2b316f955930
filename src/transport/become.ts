/**
 * Become (sudo) without a terminal: the command line never carries the password; it is fed as the
 * first line of stdin to `sudo -S -p ''`. A wrong password makes sudo prompt again, so the caller
 * must always end stdin and watch stderr (see `detectSudoFailure`) — never wait for a hang.
 */
import type { BecomeSpec } from './types.js';

/** POSIX single-quoting: safe for any string, including quotes, newlines and `$(...)`. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export interface BecomeCommand {
  /** What is sent as the exec request (no secrets in it). */
  command: string;
  /** Bytes to write to stdin before the caller's own stdin (the sudo password line), or ''. */
  stdinPrefix: string;
  wrapped: boolean;
}

/** Whether sudo is needed: become on, and not already the target user (root by default). */
export function needsBecome(loginUser: string, become: BecomeSpec): boolean {
  if (!become.enabled) return false;
  const target = become.user ?? 'root';
  return loginUser !== target;
}

export function buildBecomeCommand(command: string, loginUser: string, become: BecomeSpec): BecomeCommand {
  if (!needsBecome(loginUser, become)) return { command, stdinPrefix: '', wrapped: false };
  const userArg = become.user !== undefined && become.user !== 'root' ? ` -u ${shellQuote(become.user)}` : '';
  const inner = `sh -c ${shellQuote(command)}`;
  if (become.password !== undefined) {
    return { command: `sudo -S -p ''${userArg} -- ${inner}`, stdinPrefix: `${become.password}\n`, wrapped: true };
  }
  return { command: `sudo -n${userArg} -- ${inner}`, stdinPrefix: '', wrapped: true };
}

const SUDO_FAILURES: Array<[RegExp, string]> = [
  [/sudo: (a password is required|a terminal is required)/, 'sudo requires a password; set the become password (ansible_become_password)'],
  [/sudo: \d+ incorrect password attempts?|Sorry, try again\.|sudo: no password was provided/, 'sudo rejected the become password'],
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

/** "Sorry, try again." means sudo is about to read another password: stop at once instead. */
export function isSudoRetryPrompt(stderr: string): boolean {
  return /Sorry, try again\./.test(stderr.slice(0, 4096));
}
