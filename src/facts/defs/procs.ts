/**
 * auditd's state and the tasks asleep on the audit queue, from /proc with builtins.
 *
 * A task sleeps in audit_log_start only while the main queue is over its limit, and a stall
 * shows in the kernel's own counters within one kauditd pass (< 1 s, kernel-6.1-queue §0): the
 * pass moves the over-full queue to the retry queue, which overflows (`lost` + 1), and each
 * woken sleeper adds its wait to `backlog_wait_time_actual`. So when `auditctl -s` reads
 * `lost 0`, `backlog_wait_time_actual 0` and a backlog within the limit, and the pid the kernel
 * has registered is an auditd, no task can be asleep: only that auditd's comm, wait channel
 * and stat are read (3 files), and the section says why the pass over every process was
 * skipped. Otherwise (anything lost or waited since boot, a queue over its limit, no
 * registered auditd, or a status the shell cannot read: the one-line `key=value` format) one
 * pass over /proc reads every process: auditd processes (comm `auditd`) with their stat line
 * and wait channel, and every task whose wait channel is one of STALL_WCHANS. The pass costs
 * two reads per process, ~15 ms of the host's CPU on a host with 400 processes; a healthy host
 * is spared it. A process that exits during the pass only costs an error message, sent to
 * /dev/null.
 */
import { auditdStall } from '../../diagnosis/concepts.js';
import { parseProcs, type ProcScan } from '../auditd.js';
import type { Fact } from '../fact.js';

/** The wait channels of tasks stalled on the audit queue (kernel-6.1-queue §0, T04). */
export const STALL_WCHANS = ['audit_log_start', 'audit_receive'] as const;

const PROCS = [
  'fm_rc=0',
  'fm_all=1',
  'if [ -n "$fm_calm" ] && [ -r "/proc/$fm_pid/stat" ]; then',
  '  fm_c=; fm_w=; fm_l=',
  '  read -r fm_c < "/proc/$fm_pid/comm"',
  '  read -r fm_w < "/proc/$fm_pid/wchan"',
  '  read -r fm_l < "/proc/$fm_pid/stat"',
  "  case $fm_c in auditd) fm_all=; printf 'auditd wchan=%s stat=%s\\n' \"$fm_w\" \"$fm_l\"; printf 'scan skipped lost=%s wait_actual=%s backlog=%s limit=%s\\n' \"$fm_lost\" \"$fm_wa\" \"$fm_bl\" \"$fm_lim\";; esac",
  'fi 2>/dev/null',
  'if [ -n "$fm_all" ]; then',
  '  for fm_d in /proc/[0-9]*; do',
  '    fm_c=; fm_w=',
  '    read -r fm_c < "$fm_d/comm"',
  '    read -r fm_w < "$fm_d/wchan"',
  '    case $fm_c in auditd) fm_l=; read -r fm_l < "$fm_d/stat"; printf \'auditd wchan=%s stat=%s\\n\' "$fm_w" "$fm_l";; esac',
  `    case $fm_w in ${STALL_WCHANS.join('|')}) printf 'stalled wchan=%s comm=%s\\n' "$fm_w" "$fm_c";; esac`,
  '  done 2>/dev/null',
  'fi',
  'fm_c=; read -r fm_c < /proc/1/comm 2>/dev/null',
  `printf 'init comm=%s\\n' "$fm_c"`,
].join('\n');

export const ProcsFact: Fact<ProcScan> = {
  name: 'procs',
  script: PROCS,
  empty: { processes: [], stalled: { count: 0, by_wchan: {}, comms: [] }, available: false },
  parse: parseProcs,
  exposes: {
    group: 'auditd',
    names: ['running', 'registered_pid', 'registered_pid_exists', 'state', 'process_count', 'init', 'active_state', 'sub_state', 'main_pid'],
    of(_v, s) {
      const a = s.auditd;
      const known = s.auditctl.kind === 'ok';
      const stopped = auditdStall(a.registered_pid_state) === 'stopped';
      const exists = a.ps_available === false ? undefined : a.registered_pid_exists;
      return {
        running: known ? a.registered_pid > 0 && exists !== false && !stopped : undefined,
        registered_pid: known ? a.registered_pid : undefined,
        registered_pid_exists: exists,
        state: a.registered_pid_state,
        process_count: a.ps_available === false ? undefined : a.processes.length,
        init: a.init.system,
        active_state: a.init.active_state,
        sub_state: a.init.sub_state,
        main_pid: a.init.main_pid,
      };
    },
  },
};
