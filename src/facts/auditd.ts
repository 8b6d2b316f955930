/**
 * Is there an auditd, in what state, and what does the init system think (reference §4, §5).
 * A registered pid is not proof of draining: a stopped (T) auditd stays registered (README).
 */
import type { AuditdProcess } from './types.js';
import { describe, failed, linesOf, ok, toUint, type Parsed } from './text.js';

export interface PsProcesses {
  processes: { pid: number; state: string }[];
  /** false when ps itself could not run (then an empty list proves nothing). */
  available: boolean;
}

/**
 * `ps -C auditd -o pid=,stat=`: `  213 T<sl`. The state is the first letter of STAT
 * (R, S, D, T stopped, t traced, Z zombie, I idle). ps exits 1 when no process matches.
 */
export function parseAuditdPs(text: string, rc: number | null): Parsed<PsProcesses> {
  const processes: PsProcesses['processes'] = [];
  let junk = false;
  for (const line of linesOf(text)) {
    if (!line.trim()) continue;
    const m = /^\s*(\d+)\s+([A-Za-z])\S*\s*$/.exec(line);
    const pid = toUint(m?.[1]);
    if (m && pid !== undefined) processes.push({ pid, state: m[2] ?? '?' });
    else if (!/^\s*PID\s+STAT/i.test(line)) junk = true;
  }
  if (rc === 127 || (junk && processes.length === 0)) {
    return failed({ processes, available: false }, `ps: ${describe(text)}`);
  }
  return ok({ processes, available: true });
}

/** `systemctl show auditd -p ActiveState -p SubState -p MainPID -p RefuseManualStop`. */
export function parseSystemdShow(text: string, rc: number | null): Parsed<AuditdProcess['init']> {
  if (rc === 127 || /not been booted with systemd|Failed to connect to bus|command not found|not found/i.test(text)) {
    return ok({ system: 'unknown' });
  }
  const init: AuditdProcess['init'] = { system: 'systemd' };
  let seen = 0;
  for (const line of linesOf(text)) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    const value = m[2] ?? '';
    seen++;
    if (m[1] === 'ActiveState') init.active_state = value;
    else if (m[1] === 'SubState') init.sub_state = value;
    else if (m[1] === 'MainPID') {
      const pid = toUint(value);
      if (pid !== undefined) init.main_pid = pid;
    } else if (m[1] === 'RefuseManualStop') {
      if (value === 'yes' || value === 'no') init.refuse_manual_stop = value === 'yes';
    } else seen--;
  }
  if (seen === 0) return failed({ system: 'unknown' }, `systemctl show: ${describe(text)}`);
  return ok(init);
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
