/**
 * The kernel's audit lines (reference §3) from journalctl -k, dmesg or /var/log/messages|kern.log.
 * All three prefix the same kernel message differently; after the prefix is removed, the
 * message itself is matched anchored at its start, so an audit RECORD printed to the kernel log
 * (`audit: type=1300 audit(...): ... comm="backlog limit exceeded"`) never counts as a
 * backlog message.
 */
import type { KernelAuditLog } from './types.js';
import { clip, linesOf, pushBounded, toUint } from './text.js';

export type KernelLogSource = Exclude<KernelAuditLog['source'], 'none'>;

export const RECENT_LINES = 20;
const MAX_PANIC_LINES = 10;

export function emptyKernelLog(source: KernelAuditLog['source'] = 'none'): KernelAuditLog {
  return {
    source,
    backlog_exceeded_count: 0,
    retry_queue_overflow_count: 0,
    hold_queue_overflow_count: 0,
    printk_skb_suppressed: 0,
    log_start_suppressed: 0,
    panic_lines: [],
    plugin_queue_full_count: 0,
    plugin_queue_reporting_ended: false,
    plugin_queue_suspended: false,
    plugin_queue_runlevel_lines: [],
    recent_lines: [],
  };
}

interface KernelLine {
  /** As printed: dmesg seconds (`55.386957`) or the syslog/journal date. */
  timestamp?: string;
  message: string;
}

const DMESG = /^\[\s*(\d+\.\d+)\]\s?(.*)$/;
/** `Nov 24 16:05:00 host kernel: msg` (journalctl short, syslog). */
const SYSLOG = /^([A-Z][a-z]{2} [ \d]?\d \d\d:\d\d:\d\d(?:\.\d+)?) \S+ kernel: ?(.*)$/;
/** `2026-11-24T16:37:19+0000 host kernel: msg` (journalctl short-iso, rsyslog RFC 3339). */
const ISO = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\S*) \S+ kernel: ?(.*)$/;
/** What remains of `[  518.5] host kernel: msg` (journalctl short-monotonic) after DMESG. */
const HOST_KERNEL = /^\S+ kernel: ?(.*)$/;

/** Splits a line of any of the formats into timestamp + kernel message; undefined if not kernel. */
export function splitKernelLine(line: string): KernelLine | undefined {
  const d = DMESG.exec(line);
  if (d) {
    const rest = d[2] ?? '';
    const hk = HOST_KERNEL.exec(rest);
    return { timestamp: d[1], message: hk ? (hk[1] ?? '') : rest };
  }
  const s = SYSLOG.exec(line) ?? ISO.exec(line);
  if (s) {
    // rsyslog on some systems keeps the kernel's own `[  55.38] ` inside the message
    const inner = DMESG.exec(s[2] ?? '');
    return { timestamp: s[1], message: inner ? (inner[2] ?? '') : (s[2] ?? '') };
  }
  // `dmesg -t` style: a bare kernel message
  if (/^(?:audit|kauditd_printk_skb|audit_log_start|Kernel panic)\b/.test(line)) return { message: line };
  return undefined;
}

const BACKLOG_EXCEEDED = /^audit: backlog limit exceeded\s*$/;
const BACKLOG = /^audit: audit_backlog=(\d+) > audit_backlog_limit=(\d+)/;
const LOST = /^audit: audit_lost=(\d+) audit_rate_limit=(\d+) audit_backlog_limit=(\d+)/;
const RETRY = /^audit: kauditd retry queue overflow/;
const HOLD = /^audit: kauditd hold queue overflow/;
const PRINTK_SKB = /^kauditd_printk_skb: (\d+) callbacks suppressed/;
const LOG_START = /^audit_log_start: (\d+) callbacks suppressed/;
const PANIC = /^Kernel panic - not syncing: audit: /;

/** Applies one message; returns whether it was one of the audit-backlog family. */
function apply(log: KernelAuditLog, line: KernelLine): boolean {
  const msg = line.message;
  let m: RegExpExecArray | null;
  if (BACKLOG_EXCEEDED.test(msg)) {
    log.backlog_exceeded_count++;
    if (line.timestamp !== undefined) log.backlog_exceeded_last = line.timestamp;
  } else if ((m = BACKLOG.exec(msg))) {
    const backlog = toUint(m[1]);
    const limit = toUint(m[2]);
    if (backlog !== undefined && limit !== undefined) log.last_backlog = { backlog, limit };
  } else if ((m = LOST.exec(msg))) {
    const lost = toUint(m[1]);
    const rate = toUint(m[2]);
    const limit = toUint(m[3]);
    if (lost !== undefined && rate !== undefined && limit !== undefined) {
      log.last_lost = { lost, rate_limit: rate, backlog_limit: limit };
    }
  } else if (RETRY.test(msg)) log.retry_queue_overflow_count++;
  else if (HOLD.test(msg)) log.hold_queue_overflow_count++;
  else if ((m = PRINTK_SKB.exec(msg))) log.printk_skb_suppressed += toUint(m[1]) ?? 0;
  else if ((m = LOG_START.exec(msg))) log.log_start_suppressed += toUint(m[1]) ?? 0;
  else if (PANIC.test(msg)) pushBounded(log.panic_lines, clip(msg), MAX_PANIC_LINES);
  else return false;
  return true;
}

/**
 * auditd's (or audispd 2.x's) own syslog line in the journal or /var/log/messages:
 * `Dec  1 23:10:02 host auditd[812]: queue to plugins is full - dropping event`.
 */
const DAEMON = /^(?:[A-Z][a-z]{2} [ \d]?\d \d\d:\d\d:\d\d(?:\.\d+)?|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\S*|\[\s*\d+\.\d+\]) \S+ (?:auditd|audispd)\[\d+\]: (.*)$/;
/** auditd.c at startup: `Init complete, auditd 3.0.9 listening for events (startup state enable)`. */
const AUDITD_STARTED = /^Init complete, auditd \S+ listening for events/;
/** auditd-event.c reconfigure() on SIGHUP: `config change requested by pid=1234 auid=0 subj=...`. */
const AUDITD_RECONFIGURED = /^config change requested by pid=/;
/** audisp/queue.c do_overflow_action, 3.0.x wording first, audispd 2.x second. */
const PLUGIN_FULL = /^(?:queue to plugins is full|queue is full) - dropping event/;
const PLUGIN_REPORTING_ENDED = /^(?:auditd|audispd) queue full reporting limit reached/;
const PLUGIN_SUSPENDED = /^(?:Auditd is suspending event passing to plugins|Audispd is suspending event processing)/;
const PLUGIN_RUNLEVEL = /^(?:Auditd is now (?:changing the system to single user mode|halting the system)|Audispd is now (?:changing the system to single user mode|halting the system)) due to overflowing its queue/;

/** Applies one auditd line; returns whether it was about the plugin queue. */
function applyDaemon(log: KernelAuditLog, msg: string): boolean {
  if (AUDITD_STARTED.test(msg) || AUDITD_RECONFIGURED.test(msg)) {
    // A new auditd has a new, empty plugin queue: what the previous one logged is history. A
    // reconfigure (SIGHUP) resets the suspension and the 5-line warning count (reset_suspended),
    // so a queue still overflowing after it logs again.
    log.plugin_queue_full_count = 0;
    log.plugin_queue_reporting_ended = false;
    log.plugin_queue_suspended = false;
    log.plugin_queue_runlevel_lines = [];
    return false;
  }
  if (PLUGIN_FULL.test(msg)) log.plugin_queue_full_count++;
  else if (PLUGIN_REPORTING_ENDED.test(msg)) log.plugin_queue_reporting_ended = true;
  else if (PLUGIN_SUSPENDED.test(msg)) log.plugin_queue_suspended = true;
  else if (PLUGIN_RUNLEVEL.test(msg)) pushBounded(log.plugin_queue_runlevel_lines, clip(msg), MAX_PANIC_LINES);
  else return false;
  return true;
}

/** Parses one source's lines (already filtered by `grep -F audit` in the script, or not). */
export function parseKernelLog(text: string, source: KernelLogSource): KernelAuditLog {
  const log = emptyKernelLog(source);
  for (const raw of linesOf(text)) {
    const line = splitKernelLine(raw);
    const daemon = line ? undefined : DAEMON.exec(raw);
    if ((line && apply(log, line)) || (daemon && applyDaemon(log, daemon[1] ?? ''))) pushBounded(log.recent_lines, clip(raw), RECENT_LINES);
  }
  return log;
}

/**
 * The first non-empty source wins: journal > dmesg > messages (§6). They usually hold the same
 * ring buffer; the journal survives `dmesg -C`, dmesg works without systemd, and the syslog
 * files are the last resort. An empty or whitespace-only section counts as absent.
 */
export function chooseKernelLog(sources: Partial<Record<KernelLogSource, string>>): KernelAuditLog {
  for (const source of ['journalctl', 'dmesg', 'messages'] as const) {
    const text = sources[source];
    if (text !== undefined && text.trim() !== '') return parseKernelLog(text, source);
  }
  return emptyKernelLog('none');
}

/** Whether the log shows records being dropped or diverted (§3: all of these mean loss). */
export function kernelLogShowsLoss(log: KernelAuditLog): boolean {
  return (
    log.backlog_exceeded_count > 0 ||
    log.last_lost !== undefined ||
    log.last_backlog !== undefined ||
    log.retry_queue_overflow_count > 0 ||
    log.hold_queue_overflow_count > 0 ||
    log.panic_lines.length > 0
  );
}
