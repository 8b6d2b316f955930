/**
 * Typed facts, produced by the pure parsers in this folder. snake_case field names follow
 * auditctl's own names (reference §2) so the JSON output reads like the tool operators know.
 */

/** `auditctl -s`, any of the formats of reference §2. */
export interface AuditStatus {
  /** 0 off, 1 on, 2 on and locked until reboot. */
  enabled: number;
  /** 0 silent, 1 printk, 2 panic. */
  failure: number;
  /** pid auditd registered; 0 = none. Non-zero does NOT mean the queue drains (§4). */
  pid: number;
  rate_limit: number;
  backlog_limit: number;
  lost: number;
  backlog: number;
  /** In kernel ticks (jiffies), not ms (§2). Absent on old kernels/userspace. */
  backlog_wait_time?: number;
  /** Counter of ticks tasks actually waited (kernel >= 5.9, audit >= 3.0). */
  backlog_wait_time_actual?: number;
  loginuid_immutable?: { value: number; locked: boolean };
  /** Which format was read. */
  format: 'multiline' | 'interpreted' | 'oneline';
  /** Lines that were not understood, kept verbatim (never an error). */
  unknown_lines: string[];
}

/** Distinct, named outcomes of running `auditctl -s` (reference §2, failure outcomes). */
export type AuditctlOutcome =
  | { kind: 'ok'; status: AuditStatus }
  | { kind: 'missing'; detail: string }
  | { kind: 'not-permitted'; detail: string }
  | { kind: 'unsupported'; detail: string }
  | { kind: 'unparseable'; detail: string };

export interface KernelAuditLog {
  source: 'journalctl' | 'dmesg' | 'messages' | 'none';
  /** Count of `audit: backlog limit exceeded` lines seen. */
  backlog_exceeded_count: number;
  /** Timestamp text of the last such line, as printed (dmesg seconds or syslog date). */
  backlog_exceeded_last?: string;
  last_backlog?: { backlog: number; limit: number };
  last_lost?: { lost: number; rate_limit: number; backlog_limit: number };
  /** `kauditd retry queue overflow` / `hold queue overflow` counts. */
  retry_queue_overflow_count: number;
  hold_queue_overflow_count: number;
  /** Sum of N over `kauditd_printk_skb: N callbacks suppressed`. */
  printk_skb_suppressed: number;
  /** Sum of N over `audit_log_start: N callbacks suppressed`. */
  log_start_suppressed: number;
  panic_lines: string[];
  /**
   * auditd's own syslog lines about its plugin queue (audisp/queue.c do_overflow_action), read
   * from the journal with the kernel lines: `queue to plugins is full - dropping event` (3.x;
   * audispd 2.x: `queue is full - dropping event`), logged for the first 5 drops only.
   */
  plugin_queue_full_count: number;
  /** `auditd queue full reporting limit reached - ending dropped event notifications`: drops go on unlogged. */
  plugin_queue_reporting_ended: boolean;
  /** overflow_action SUSPEND fired: auditd stopped passing events to plugins until a SIGHUP or restart. */
  plugin_queue_suspended: boolean;
  /** overflow_action SINGLE / HALT fired: the runlevel change lines, verbatim. */
  plugin_queue_runlevel_lines: string[];
  /** The last few matching lines verbatim, for reports. */
  recent_lines: string[];
}

export interface AuditdProcess {
  /** pid registered with the kernel (from auditctl -s). */
  registered_pid: number;
  /** auditd processes found by ps (pid + state letter, e.g. S, R, D, T=stopped). */
  processes: { pid: number; state: string }[];
  /** Whether the registered pid is among them. */
  registered_pid_exists: boolean;
  /** Process state of the registered pid (T = stopped: cannot drain). */
  registered_pid_state?: string;
  init: {
    system: 'systemd' | 'unknown';
    active_state?: string;
    sub_state?: string;
    main_pid?: number;
    refuse_manual_stop?: boolean;
  };
  /** false when the process list could not be read: then an empty `processes` proves nothing. */
  ps_available?: boolean;
  /** /proc/PID/wchan of the registered pid, when readable (`do_signal_stop` when stopped). */
  registered_pid_wchan?: string;
}

/** Tasks sleeping on the audit queue, counted from /proc/PID/wchan (kernel-6.1-queue §0). */
export interface StalledTasks {
  count: number;
  /** Count per wait channel: `audit_log_start` (queue full) or `audit_receive` (netlink sender penalized). */
  by_wchan: Record<string, number>;
  /** Distinct comms of the stalled tasks (first few), as evidence. */
  comms: string[];
  /**
   * Set when the host did not pass over every process because no task could be asleep: the
   * kernel's counters it read (`lost 0, backlog_wait_time_actual 0, backlog N <= limit L`) and
   * a registered auditd (src/facts/script.ts PROCS). Then `count` is 0 by the kernel's word.
   */
  scan_skipped?: string;
}

export interface MemInfo {
  mem_total_kb: number;
  mem_available_kb: number;
  /** MemAvailable missing (kernel < 3.14): estimated as MemFree + Buffers + Cached. */
  mem_available_estimated?: boolean;
}

export interface PersistentConfig {
  /** `-b` values found, by file, in rules.d/*.rules and audit.rules. */
  rules_backlog_limits: { file: string; value: number }[];
  /** The value that will apply after auditd restart/reboot (last -b of audit.rules, else rules.d). */
  effective_backlog_limit?: number;
  /** audit_backlog_limit= on /proc/cmdline. */
  cmdline_backlog_limit?: number;
  /** audit= on /proc/cmdline (0 or 1). */
  cmdline_audit?: number;
  auditd_conf: {
    disk_full_action?: string;
    space_left_action?: string;
    admin_space_left_action?: string;
    disk_error_action?: string;
    /** Plugin queue size in events (auditd.conf(5) default 2000; only grows on SIGHUP). */
    q_depth?: number;
    /** What auditd does when the plugin queue is full: IGNORE, SYSLOG (default), SUSPEND, SINGLE, HALT. */
    overflow_action?: string;
    plugin_dir?: string;
  };
  /** Plugin files read (PLUGIN_DIRS): `active` and `path`, in file order. Absent: not read. */
  plugins?: AuditPlugin[];
  /** Free space of the audit log's filesystem; no longer collected (it needs a program: df). */
  log_dir_free_kb?: number;
  rule_count?: number;
  /**
   * true when the rule files could be searched (grep exit 0 or 1): then an empty
   * `rules_backlog_limits` means "no -b persisted" rather than "unknown".
   */
  rules_searched?: boolean;
}

/** One /etc/audit/plugins.d/*.conf (auditd-plugins(5)). */
export interface AuditPlugin {
  file: string;
  /** `active = yes`; a file without the key is inactive. */
  active: boolean;
  path?: string;
}

export interface SystemInfo {
  kernel_release?: string;
  /** The running kernel's CONFIG_HZ (/boot/config-RELEASE), when the host has the file. */
  kernel_hz?: number;
  distribution?: { id?: string; version_id?: string; pretty_name?: string };
  /** Parsed strictly as a UUID (a wall message is not a boot_id: ansible#78007). */
  boot_id?: string;
  uptime_seconds?: number;
}

/** One sample: everything one round trip collected, at one time. */
export interface FactSample {
  /** ms since epoch, from the runner's clock. */
  taken_at: number;
  auditctl: AuditctlOutcome;
  kernel_log: KernelAuditLog;
  auditd: AuditdProcess;
  memory?: MemInfo;
  persistent: PersistentConfig;
  system: SystemInfo;
  /**
   * Tasks stalled on the audit queue. Absent when the /proc pass did not finish; as non-root
   * the kernel hides other users' wait channels, so the count covers the login's own tasks.
   */
  stalled_tasks?: StalledTasks;
  /**
   * The gathered facts (registry.ts: `gather`), by fact name: only in a sample taken by a
   * gathering probe (`gather_facts`, `setup`); a sweep's samples have none.
   */
  gathered?: Record<string, unknown>;
  /** Sections that could not be parsed, with why (never thrown out of the host's job). */
  parse_errors: { section: string; message: string }[];
}

/** Facts of a host for a sweep: one or more samples, oldest first. */
export interface HostFacts {
  samples: FactSample[];
}
