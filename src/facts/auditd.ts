/**
 * Is there an auditd, in what state, and what does the init system think (reference §4, §5).
 * A registered pid is not proof of draining: a stopped (T) auditd stays registered (README).
 */
import type { AuditdProcess, StalledTasks } from './types.js';
import { clip, describe, failed, linesOf, ok, toUint, type Parsed } from './text.js';

export interface PsProcesses {
  processes: { pid: number; state: string }[];
  /** false when ps itself could not run (then an empty list proves nothing). */
  available: boolean;
}

/** What one builtin pass over /proc found (the `procs` section of the fact script). */
export interface ProcScan {
  /** Processes whose comm is `auditd`: pid, state letter, wait channel. */
  processes: { pid: number; state: string; wchan?: string }[];
  stalled: StalledTasks;
  /** comm of PID 1 (`systemd` means the unit file decides how auditd is restarted). */
  init_comm?: string;
  /** false when the pass did not finish (then an empty `processes` proves nothing). */
  available: boolean;
}

/** At most this many distinct comms of stalled tasks are kept as evidence. */
export const MAX_STALLED_COMMS = 10;

const STAT = /^(\d+) \((.*)\) ([A-Za-z]) /;

/**
 * The `procs` section: `auditd wchan=W stat=<the /proc/PID/stat line>` per auditd process,
 * `stalled wchan=W comm=C` per task sleeping on the audit queue, `scan skipped lost=N
 * wait_actual=N backlog=N limit=N` when the host read only the registered auditd because its
 * counters rule a stall out, and `init comm=C` once the section is complete. A wchan of `0` is
 * what the kernel shows to a reader not allowed to see it (another user's process without
 * root): unknown, not "running".
 */
export function parseProcs(text: string, rc: number | null): Parsed<ProcScan> {
  const scan: ProcScan = { processes: [], stalled: { count: 0, by_wchan: {}, comms: [] }, available: false };
  for (const line of linesOf(text)) {
    const a = /^auditd wchan=(\S*) stat=(.*)$/.exec(line);
    if (a) {
      const st = STAT.exec(a[2] ?? '');
      const pid = toUint(st?.[1]);
      if (!st || pid === undefined) continue;
      const wchan = a[1] && a[1] !== '0' ? a[1] : undefined;
      scan.processes.push({ pid, state: st[3] ?? '?', ...(wchan ? { wchan } : {}) });
      continue;
    }
    const s = /^stalled wchan=(\S+) comm=(.*)$/.exec(line);
    if (s) {
      const w = s[1] ?? '';
      scan.stalled.count++;
      scan.stalled.by_wchan[w] = (scan.stalled.by_wchan[w] ?? 0) + 1;
      const comm = clip(s[2] ?? '', 32);
      if (scan.stalled.comms.length < MAX_STALLED_COMMS && !scan.stalled.comms.includes(comm)) scan.stalled.comms.push(comm);
      continue;
    }
    const k = /^scan skipped lost=(\d+) wait_actual=(\d+) backlog=(\d+) limit=(\d+)$/.exec(line);
    if (k) {
      scan.stalled.scan_skipped = `lost ${k[1]}, backlog_wait_time_actual ${k[2]}, backlog ${k[3]} <= limit ${k[4]}: no task can be asleep on the queue`;
      continue;
    }
    const i = /^init comm=(.*)$/.exec(line);
    if (i) {
      scan.available = rc === 0;
      if (i[1]) scan.init_comm = clip(i[1], 32);
    }
  }
  if (!scan.available) return failed(scan, `/proc scan did not finish: ${describe(text)}`);
  return ok(scan);
}

/** systemd's boolean spellings (systemd.syntax(7)). */
function systemdBool(v: string): boolean | undefined {
  const t = v.trim().toLowerCase();
  if (['yes', 'true', 'on', '1'].includes(t)) return true;
  if (['no', 'false', 'off', '0'].includes(t)) return false;
  return undefined;
}

/**
 * The `auditd_unit` section: `file:RefuseManualStop=V` lines of the unit file systemd loads and
 * its drop-ins, in the order systemd applies them (the last assignment wins). No line: the
 * default, no. rc 1: no unit file at all (not known).
 */
export function parseAuditdUnit(text: string, rc: number | null): Parsed<{ refuse_manual_stop?: boolean }> {
  let value: boolean | undefined;
  for (const line of linesOf(text)) {
    const m = /^[^:]*:\s*RefuseManualStop\s*=(.*)$/.exec(line);
    const b = m ? systemdBool(m[1] ?? '') : undefined;
    if (b !== undefined) value = b;
  }
  if (value !== undefined) return ok({ refuse_manual_stop: value });
  return ok(rc === 0 ? { refuse_manual_stop: false } : {});
}

/** The auditd facts from the /proc scan and the unit file, joined with the pid the kernel has registered. */
export function auditdFromProcs(registeredPid: number, scan: ProcScan, unit: { refuse_manual_stop?: boolean }): AuditdProcess {
  const init: AuditdProcess['init'] = { system: scan.init_comm === 'systemd' ? 'systemd' : 'unknown' };
  if (unit.refuse_manual_stop !== undefined) init.refuse_manual_stop = unit.refuse_manual_stop;
  const out = combineAuditd(registeredPid, { processes: scan.processes.map(({ pid, state }) => ({ pid, state })), available: scan.available }, init);
  const wchan = scan.processes.find((p) => p.pid === registeredPid)?.wchan;
  if (wchan) out.registered_pid_wchan = wchan;
  return out;
}

/** Joins ps, systemd and the pid auditd registered with the kernel (0 = none). */
export function combineAuditd(registeredPid: number, ps: PsProcesses, init: AuditdProcess['init']): AuditdProcess {
  const mine = registeredPid > 0 ? ps.processes.find((p) => p.pid === registeredPid) : undefined;
  const out: AuditdProcess = {
    registered_pid: registeredPid,
    processes: ps.processes,
    registered_pid_exists: mine !== undefined,
    init,
    ps_available: ps.available,
  };
  if (mine) out.registered_pid_state = mine.state;
  return out;
}
