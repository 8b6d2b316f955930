/**
 * The kernel's log ring (what `dmesg`, `journalctl -k` and syslog show) and its printk rate
 * limit. Formats are the ones observed on kernel 6.1 (fixtures/real-kernel-6.1-audit-3.0.9).
 */
export interface KlogEntry {
  /** Microseconds since boot (the dmesg timestamp). */
  monoUs: number;
  /** Wall clock, ms since epoch (journal and syslog timestamps). */
  wallMs: number;
  text: string;
}

/** The ring keeps this many lines; older ones fall off like the real buffer. */
export const KLOG_CAPACITY = 2000;

/** printk_ratelimit(): at most 10 messages per 5 s (reference §3). */
export const RATELIMIT_INTERVAL_MS = 5000;
export const RATELIMIT_BURST = 10;

export class KernelLog {
  private entries: KlogEntry[] = [];
  constructor(private readonly capacity = KLOG_CAPACITY) {}

  push(entry: KlogEntry): void {
    this.entries.push(entry);
    if (this.entries.length > this.capacity * 1.5) this.entries = this.entries.slice(-this.capacity);
  }

  all(): readonly KlogEntry[] {
    if (this.entries.length > this.capacity) this.entries = this.entries.slice(-this.capacity);
    return this.entries;
  }

  clear(): void {
    this.entries = [];
  }
}

/** `[   55.386957] audit: backlog limit exceeded` */
export function formatDmesg(e: KlogEntry): string {
  const sec = Math.floor(e.monoUs / 1e6);
  const us = Math.floor(e.monoUs % 1e6);
  return `[${String(sec).padStart(5)}.${String(us).padStart(6, '0')}] ${e.text}`;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Syslog/journal "short" time: `Nov 24 16:05:00` (hosts run in UTC). */
export function syslogTime(wallMs: number): string {
  const d = new Date(wallMs);
  const dd = String(d.getUTCDate()).padStart(2, ' ');
  const hms = [d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
  return `${MONTHS[d.getUTCMonth()]} ${dd} ${hms}`;
}

export type JournalFormat = 'short' | 'short-monotonic' | 'short-iso' | 'cat';

export function formatJournal(e: KlogEntry, host: string, format: JournalFormat): string {
  switch (format) {
    case 'cat':
      return e.text;
    case 'short-monotonic':
      return `${formatDmesg(e).slice(0, formatDmesg(e).indexOf(']') + 1)} ${host} kernel: ${e.text}`;
    case 'short-iso':
      return `${new Date(e.wallMs).toISOString().slice(0, 19)}+0000 ${host} kernel: ${e.text}`;
    default:
      return `${syslogTime(e.wallMs)} ${host} kernel: ${e.text}`;
  }
}

/** A daemon's syslog line (`auditd[812]: msg`) in the journal / syslog formats. */
export function formatDaemon(e: { wallMs: number; ident: string; pid: number; text: string }, host: string, format: JournalFormat): string {
  if (format === 'cat') return e.text;
  const when = format === 'short-iso' ? `${new Date(e.wallMs).toISOString().slice(0, 19)}+0000` : syslogTime(e.wallMs);
  return `${when} ${host} ${e.ident}[${e.pid}]: ${e.text}`;
}

/**
 * One printk rate-limit state (the kernel keeps one per call site; audit's messages share
 * the audit_log_start / kauditd_printk_skb ones). A window opens at the first message after
 * the previous window expired; messages beyond the burst are counted and reported as
 * `NAME: N callbacks suppressed` when the next window opens.
 */
export class RateLimitWindow {
  start = Number.NEGATIVE_INFINITY;
  printed = 0;
  suppressed = 0;

  reset(): void {
    this.start = Number.NEGATIVE_INFINITY;
    this.printed = 0;
    this.suppressed = 0;
  }
}
