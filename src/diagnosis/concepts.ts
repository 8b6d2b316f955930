/**
 * One definition of each audit concept, shared by diagnosis, the module guards, policy and
 * reports, so a finding and the guard that acts on it can never disagree about what a number
 * means (issue 14, item 5). Pure constants and functions; no I/O.
 */
import type { SystemInfo } from '../facts/types.js';
import type { Severity } from './types.js';

/** Planning figure for one queued audit buffer (reference §4: 8192 buffers ≈ 70 MiB). */
export const BYTES_PER_BUFFER = 8970;

/**
 * Share of MemAvailable a backlog limit may pin. The memory guard refuses a limit above it
 * and the memory-headroom finding reports one above it: the same line for both (a play's
 * `memory_share` moves it for that play). On 6.1 the main and retry queues (and the hold queue
 * with audit=1) can each hold `limit` buffers, so a full host pins up to 2-3 times this.
 */
export const MEMORY_SHARE = 0.1;

/** Severities, most severe first. */
export const SEVERITY_ORDER: readonly Severity[] = ['critical', 'high', 'medium', 'low', 'info'];

/** "A handful of queued records on a healthy busy host" (reference §5 trap table). */
export function handful(limit: number): number {
  return Math.max(16, Math.ceil(limit * 0.01));
}

/**
 * "Growing" between two samples: up by more than a handful and above a handful (a busy healthy
 * host's jitter is neither; the panic guard and the backlog-growing finding use this one
 * definition — the guard used to count any rise above a handful, the finding only one above a
 * quarter of the limit). On kernel 6.1 a stuck queue is emptied into the retry queue every kauditd pass,
 * so two samples of a stuck host may well show it falling; growth is evidence when seen,
 * never required (being stuck is read from auditd's state and the counters).
 */
export function backlogGrowing(before: number, after: number, limit: number): boolean {
  return after - before > handful(limit) && after > handful(limit);
}

/**
 * Why a registered auditd cannot be draining, read from its process state (/proc/PID/stat,
 * the probe's `procs` section; a ps STAT such as `S<sl` works too: the first letter decides).
 * On kernel 6.1 a registered auditd that does not read loses records silently every kauditd
 * pass while the backlog may read near 0 (kernel-6.1-queue §0): its state is the evidence,
 * not the queue. `T`/`t`: stopped (SIGSTOP, a tracer); `D`: uninterruptible I/O (a hung audit
 * disk, NFS), it reads nothing until the I/O returns. The diagnosis and the module guards both
 * decide "not draining" with this one predicate.
 */
export function auditdStall(state: string | undefined): 'stopped' | 'blocked-io' | undefined {
  const st = state?.[0];
  if (st === 'T' || st === 't') return 'stopped';
  if (st === 'D') return 'blocked-io';
  return undefined;
}

/**
 * The kernel's tick rate, from the release string, when the distribution is known:
 * `backlog_wait_time` and `backlog_wait_time_actual` are in ticks (jiffies). Debian builds
 * with HZ=250 (`-amd64`, `-arm64`, `-cloud-amd64`, `+deb`), RHEL-family kernels with 1000
 * (`.el8`, `.el9`). Unknown: undefined (say ticks, not seconds).
 */
export function hzForKernel(release: string | undefined): number | undefined {
  if (!release) return undefined;
  if (/\.el\d+/.test(release)) return 1000;
  if (/-(amd64|arm64|cloud-amd64|rt-amd64)$|\+deb\d+/.test(release)) return 250;
  return undefined;
}

/**
 * The host's tick rate: its own CONFIG_HZ when the facts read it (/boot/config-RELEASE), else
 * the stock value of its kernel release (hzForKernel), else undefined. The diagnosis and the
 * metrics both convert ticks with this one.
 */
export function hostHz(system: SystemInfo | undefined): number | undefined {
  return system?.kernel_hz ?? hzForKernel(system?.kernel_release);
}

/** `N ticks` with the seconds when HZ is known: `60000 ticks (240 s at HZ 250)`. */
export function ticksText(ticks: number, hz: number | undefined): string {
  if (!hz) return `${ticks} ticks`;
  const s = ticks / hz;
  return `${ticks} ticks (${s >= 10 ? Math.round(s) : Math.round(s * 10) / 10} s at HZ ${hz})`;
}

/** Buffers a limit may pin, in bytes. */
export function limitBytes(limit: number): number {
  return limit * BYTES_PER_BUFFER;
}

/**
 * What a full plugin queue costs auditd (audit-userspace 3.0.x audisp/queue.c enqueue): each
 * event it hands over tries the queue 4 times, 2 ms apart, before overflow_action applies, so
 * with a plugin that takes nothing auditd reads at most 1000 / (4 × 2) = 125 events/s (plus
 * what the plugin does take). Except with SUSPEND, which stops the hand-over altogether.
 */
export const PLUGIN_ENQUEUE_TRIES = 4;
export const PLUGIN_RETRY_MS = 2;
export const PLUGIN_FULL_READ_RATE = 1000 / (PLUGIN_ENQUEUE_TRIES * PLUGIN_RETRY_MS);
/** auditd.conf(5) defaults: what auditd uses for a key its file does not set. */
export const AUDITD_CONF_DEFAULTS = {
  q_depth: 2000,
  overflow_action: 'SYSLOG',
  plugin_dir: '/etc/audit/plugins.d',
  disk_full_action: 'SUSPEND',
  space_left_action: 'IGNORE',
  admin_space_left_action: 'SUSPEND',
  disk_error_action: 'SYSLOG',
} as const;
