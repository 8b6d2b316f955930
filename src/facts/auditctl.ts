/**
 * `auditctl -s` in every format of reference §2, and the error outcomes of auditctl.
 */
import type { AuditctlOutcome, AuditStatus } from './types.js';
import { clip, eachLine, pushBounded, toUint } from './text.js';

/** Unknown lines kept verbatim, bounded so that a garbage flood cannot blow up a sample. */
export const MAX_UNKNOWN_LINES = 50;
/** Lines of `auditctl -s` output read at most (a status has about 12). */
export const MAX_STATUS_LINES = 1000;

const NUMERIC_FIELDS = [
  'enabled',
  'failure',
  'pid',
  'rate_limit',
  'backlog_limit',
  'lost',
  'backlog',
  'backlog_wait_time',
  'backlog_wait_time_actual',
] as const;
type NumericField = (typeof NUMERIC_FIELDS)[number];

/** Fields without which a status is not a status (all formats print them). */
const REQUIRED: readonly NumericField[] = ['enabled', 'failure', 'pid', 'backlog_limit', 'lost', 'backlog'];

/** `auditctl -s -i` words (§2): enabled 0/1/2, failure 0/1/2. */
const INTERPRETED: Partial<Record<NumericField, Record<string, number>>> = {
  enabled: { disabled: 0, enabled: 1, locked: 2 },
  failure: { silent: 0, printk: 1, panic: 2 },
};

/** The old one-line form names the failure mode `flag`. */
const ONELINE_ALIASES: Record<string, NumericField> = { flag: 'failure' };

interface Accumulator {
  fields: Partial<Record<NumericField, number>>;
  loginuid?: { value: number; locked: boolean };
  interpreted: boolean;
  oneline: boolean;
  unknown: string[];
}

function isNumericField(key: string): key is NumericField {
  return (NUMERIC_FIELDS as readonly string[]).includes(key);
}

function setField(acc: Accumulator, key: NumericField, raw: string): boolean {
  const n = toUint(raw);
  if (n !== undefined) {
    acc.fields[key] = n;
    return true;
  }
  const word = INTERPRETED[key]?.[raw.toLowerCase()];
  if (word === undefined) return false;
  acc.fields[key] = word;
  acc.interpreted = true;
  return true;
}

function readOneLine(acc: Accumulator, line: string): void {
  const body = line.slice(line.indexOf(':') + 1);
  for (const pair of body.trim().split(/\s+/)) {
    const eq = pair.indexOf('=');
    const rawKey = eq > 0 ? pair.slice(0, eq) : '';
    const key = ONELINE_ALIASES[rawKey] ?? rawKey;
    if (!(isNumericField(key) && setField(acc, key, pair.slice(eq + 1)))) {
      if (pair) pushBounded(acc.unknown, clip(pair), MAX_UNKNOWN_LINES);
    }
  }
  acc.oneline = true;
}

function readLine(acc: Accumulator, line: string): void {
  const trimmed = line.trim();
  if (!trimmed) return;
  if (/^AUDIT_STATUS:/.test(trimmed)) return readOneLine(acc, trimmed);
  const m = /^([a-z_]+)\s+(\S+)(?:\s+(\S+))?\s*$/.exec(trimmed);
  if (m && m[1] === 'loginuid_immutable') {
    const value = toUint(m[2]);
    const word = m[3]?.toLowerCase();
    if (value !== undefined && (word === undefined || word === 'locked' || word === 'unlocked')) {
      acc.loginuid = { value, locked: word ? word === 'locked' : value === 1 };
      return;
    }
  } else if (m && m[3] === undefined && isNumericField(m[1] ?? '') && setField(acc, m[1] as NumericField, m[2] ?? '')) {
    return;
  }
  pushBounded(acc.unknown, clip(trimmed), MAX_UNKNOWN_LINES);
}

function toStatus(acc: Accumulator): AuditStatus | undefined {
  const f = acc.fields;
  if (REQUIRED.some((k) => f[k] === undefined)) return undefined;
  const status: AuditStatus = {
    enabled: f.enabled ?? 0,
    failure: f.failure ?? 0,
    pid: f.pid ?? 0,
    rate_limit: f.rate_limit ?? 0,
    backlog_limit: f.backlog_limit ?? 0,
    lost: f.lost ?? 0,
    backlog: f.backlog ?? 0,
    format: acc.oneline ? 'oneline' : acc.interpreted ? 'interpreted' : 'multiline',
    unknown_lines: acc.unknown,
  };
  if (f.backlog_wait_time !== undefined) status.backlog_wait_time = f.backlog_wait_time;
  if (f.backlog_wait_time_actual !== undefined) status.backlog_wait_time_actual = f.backlog_wait_time_actual;
  if (acc.loginuid) status.loginuid_immutable = acc.loginuid;
  return status;
}

/** Error outcomes of any auditctl invocation that prevent reading the status. */
type FailureKind = 'missing' | 'not-permitted' | 'unsupported';

function classifyFailure(text: string, rc: number | null): FailureKind | undefined {
  // kernel without audit first: its netlink errors must not read as a missing binary
  if (/audit support not in kernel|protocol not supported|cannot open netlink audit socket|address family not supported/i.test(text)) {
    return 'unsupported';
  }
  if (rc === 127 || /command not found|auditctl: (?:\S+: )?not found|auditctl: No such file or directory/i.test(text)) {
    return 'missing';
  }
  if (/Operation not permitted|must be root|Permission denied/i.test(text)) return 'not-permitted';
  return undefined;
}

function firstLine(text: string): string {
  for (const l of eachLine(text)) if (l.trim() !== '') return clip(l.trim(), 200);
  return '';
}

/**
 * Parses the output (stdout and stderr merged) of `auditctl -s` / `auditctl -s -i`, or of the
 * commands that print the status as a side effect (`-b`, `-e`, `-f`). A status that is present
 * wins over stray error lines, which are kept in `unknown_lines`.
 */
export function parseAuditctlStatus(text: string, rc: number | null): AuditctlOutcome {
  const acc: Accumulator = { fields: {}, interpreted: false, oneline: false, unknown: [] };
  // a status is a dozen lines: what follows the first MAX_STATUS_LINES is never read
  for (const line of eachLine(text, MAX_STATUS_LINES)) readLine(acc, line);
  const status = toStatus(acc);
  if (status) return { kind: 'ok', status };
  const detail = firstLine(text);
  const failure = classifyFailure(text, rc);
  if (failure) return { kind: failure, detail: detail || `exit ${rc}` };
  const missing = REQUIRED.filter((k) => acc.fields[k] === undefined);
  if (!text.trim()) return { kind: 'unparseable', detail: `empty output (exit ${rc ?? 'unknown'})` };
  return { kind: 'unparseable', detail: `no audit status (missing ${missing.join(', ')}): ${JSON.stringify(detail)}` };
}

/** What went wrong with an auditctl command that changes something (-b, -f, -e, -a/-w, --signal). */
export type AuditctlError =
  | { kind: 'none' }
  /**
   * `Error sending <request> request (Operation not permitted)`, exit 255 (§2, §5): the kernel
   * refused the change. With `enabled 2` this is the lock; the kernel answers EPERM the same way
   * to a caller without CAP_AUDIT_CONTROL, so a caller that is not sure it is root must check.
   */
  | { kind: 'locked'; request: string; detail: string }
  /** `The audit system is in immutable mode, no rule changes allowed` (exit 0!). */
  | { kind: 'immutable-rules'; detail: string }
  | { kind: 'missing'; detail: string }
  | { kind: 'not-permitted'; detail: string }
  | { kind: 'unsupported'; detail: string }
  /** `stop is an unsupported signal` (auditctl --signal, 3.0.9). */
  | { kind: 'unsupported-signal'; signal: string; detail: string }
  | { kind: 'other'; detail: string };

/**
 * Classifies auditctl's error output for the modules. Note that `auditctl -w` in immutable
 * mode exits 0: the message, not the exit code, tells (transcript 15).
 */
export function parseAuditctlError(stderr: string, rc: number | null): AuditctlError {
  const detail = firstLine(stderr);
  const sending = /Error sending (.+?) request \(Operation not permitted\)/.exec(stderr);
  if (sending) return { kind: 'locked', request: sending[1] ?? '', detail: clip(sending[0]) };
  const immutable = /The audit system is in immutable mode[^\n]*/.exec(stderr);
  if (immutable) return { kind: 'immutable-rules', detail: clip(immutable[0]) };
  const signal = /^\s*(\S+) is an unsupported signal/m.exec(stderr);
  if (signal) return { kind: 'unsupported-signal', signal: signal[1] ?? '', detail };
  const failure = classifyFailure(stderr, rc);
  if (failure) return { kind: failure, detail: detail || `exit ${rc}` };
  if (rc === 0 || (rc === null && !stderr.trim())) return { kind: 'none' };
  return { kind: 'other', detail: detail || `exit ${rc ?? 'unknown'}` };
}
