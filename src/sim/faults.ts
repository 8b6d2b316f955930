/**
 * Faults a simulated host can show (the reliability suite drives the runner against them).
 * `match` (a regular expression source) limits a command fault to commands it matches;
 * without it the fault applies to every command.
 */
export type Fault =
  /** No listener on the host's port: connection refused. */
  | { kind: 'down' }
  /** TCP is accepted but the SSH banner never comes. */
  | { kind: 'no-banner' }
  /** Every authentication attempt is rejected. */
  | { kind: 'auth-fail' }
  /** The host presents a different key than the one written to known_hosts. */
  | { kind: 'hostkey-changed' }
  /** The connection is dropped after part of the command's output was sent. */
  | { kind: 'drop-mid-command'; match?: string }
  /** The command never ends (until the client gives up). */
  | { kind: 'hang'; match?: string }
  /** Every command takes this much longer. */
  | { kind: 'slow'; perCommandMs: number }
  /** The command prints this many bytes (streamed with backpressure) instead of its output. */
  | { kind: 'huge-output'; bytes: number; match?: string }
  /** Invalid UTF-8 / binary bytes before the command's real output. */
  | { kind: 'binary-output'; match?: string }
  /** `auditctl -s` prints garbage. */
  | { kind: 'auditctl-garbage' }
  /** The kernel panics this long after the fleet starts, then reboots (new boot_id). */
  | { kind: 'panic-reboot'; afterMs: number }
  /** sshd's MaxSessions: a session channel past this many open on one connection is refused (ADMINISTRATIVELY_PROHIBITED). */
  | { kind: 'max-sessions'; sessions: number };

export type FaultKind = Fault['kind'];

export function findFault<K extends FaultKind>(faults: readonly Fault[], kind: K, command?: string): Extract<Fault, { kind: K }> | undefined {
  for (const f of faults) {
    if (f.kind !== kind) continue;
    const match = 'match' in f ? f.match : undefined;
    if (match !== undefined && command !== undefined && !new RegExp(match).test(command)) continue;
    return f as Extract<Fault, { kind: K }>;
  }
  return undefined;
}
