/**
 * The file descriptors a warm fleet needs: one socket per warm connection (its bastion's is
 * shared), besides the process's own (store, Redis, logs). Mitogen's fixed pool fails at ~220
 * hosts under `ulimit -n 1024` (mitogen#897); here the limit is read, raised where the process
 * may, and the pool is sized to fit, with a warning that names the limit.
 *
 * Node has no setrlimit. It does raise RLIMIT_NOFILE's soft limit to the hard limit at startup
 * (src/node.cc, PlatformInit), so the soft limit read from /proc/self/limits is normally the
 * hard one already; when it is not (a Node built or started otherwise), util-linux's prlimit(1)
 * may raise this process's soft limit up to its hard limit (prlimit(2) on our own pid: no
 * privilege needed below the hard limit).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface NofileLimit {
  soft: number;
  hard: number;
}

/** `Max open files  S  H  files` from /proc/self/limits ("unlimited" as Infinity); undefined off Linux. */
export function readNofileLimit(limitsText?: string): NofileLimit | undefined {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return undefined;
    }
  }
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  if (!m) return undefined;
  const num = (v: string) => (v === 'unlimited' ? Infinity : Number(v));
  const soft = num(m[1]!);
  const hard = num(m[2]!);
  return Number.isNaN(soft) || Number.isNaN(hard) ? undefined : { soft, hard };
}

/** Raise the soft limit to the hard one with prlimit(1); returns the limit as it is afterwards. */
export function raiseNofileLimit(current: NofileLimit): NofileLimit {
  if (current.soft >= current.hard || !Number.isFinite(current.hard)) return current;
  try {
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${current.hard}:${current.hard}`], { stdio: 'ignore', timeout: 5_000 });
  } catch {
    return current; // no prlimit, or not permitted: the budget below says what fits
  }
  return readNofileLimit() ?? current;
}

function openFds(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return 0;
  }
}

/** Descriptors kept for everything else the process opens during a run (store, keys, Redis, reports). */
export const FD_RESERVE = 128;

export interface FdBudget {
  limit: NofileLimit | undefined;
  /** Warm connections that fit (the pool's --max-warm is clamped to it). */
  maxWarm: number;
  /** Set when the fleet (or --max-warm) does not fit: says which limit and what to do. */
  warning?: string;
}

/**
 * How many warm connections this process can hold: `wanted` (the fleet's size, or --max-warm)
 * within RLIMIT_NOFILE minus what is open now and a reserve for the runs themselves.
 */
export function fdBudget(wanted: number, limit: NofileLimit | undefined = readNofileLimit(), open = openFds()): FdBudget {
  if (!limit) return { limit, maxWarm: wanted };
  const raised = raiseNofileLimit(limit);
  const room = Number.isFinite(raised.soft) ? Math.max(1, raised.soft - open - FD_RESERVE) : wanted;
  if (wanted <= room) return { limit: raised, maxWarm: wanted };
  return {
    limit: raised,
    maxWarm: room,
    warning:
      `${wanted} warm connections do not fit RLIMIT_NOFILE (Max open files: soft ${raised.soft}, hard ${raised.hard}; ${open} open): ` +
      `at most ${room} are kept warm, the least recently used hosts log in again each run; raise the hard limit (ulimit -Hn, LimitNOFILE=) to keep the whole fleet warm`,
  };
}
