/**
 * The audit model of one simulated machine: the kernel's audit subsystem (backlog queue,
 * lost counter, wait time, failure mode, lock), the auditd daemon, the persistent
 * configuration (read from the machine's filesystem), the kernel log and the power/boot
 * cycle. Time is lazy: state is computed on read from the elapsed clock time, in closed
 * form, so 5,000 idle hosts cost nothing (no per-host timers). Semantics: reference §3–§5
 * and the real-kernel fixtures.
 */
import { BYTES_PER_BUFFER, PLUGIN_FULL_READ_RATE } from '../diagnosis/concepts.js';
import type { SimClock } from './clock.js';
import { KernelLog, RATELIMIT_BURST, RATELIMIT_INTERVAL_MS, RateLimitWindow, type KlogEntry } from './klog.js';
import { Rng } from './rng.js';
import type { VirtualFs } from './vfs.js';
import { PluginQueue, readPluginConf } from './plugins.js';

export type Flavour = 'debian' | 'rhel';
/**
 * running: reads as fast as records come; stuck: SIGSTOPped (ps T); blocked: asleep in
 * uninterruptible I/O, e.g. a hung audit disk (ps D); slow: alive and reading, but only
 * `auditdReadRate` records/s (plugin queue full, slow disk). The kernel sees the last three
 * the same way: a socket that does not empty fast enough (reference kernel-6.1-queue §0).
 */
export type AuditdState = 'running' | 'stuck' | 'blocked' | 'slow' | 'stopped';
export type PowerState = 'up' | 'down' | 'hung';

/** Runtime settings as the kernel holds them (`auditctl -s`). Wait times are in ticks. */
export interface AuditSettings {
  enabled: number;
  failure: number;
  rateLimit: number;
  backlogLimit: number;
  backlogWaitTime: number;
}

/** What a rules file sets, line by line (`auditctl -R`, `augenrules --load`, boot). */
export interface ParsedRules {
  settings: Partial<AuditSettings>;
  deleteAll: boolean;
  rules: string[];
  errors: string[];
}

export interface KernelOptions {
  hostname: string;
  flavour: Flavour;
  seed: string;
  clock: SimClock;
  fs: VirtualFs;
  kernelRelease: string;
  /** Audit records generated per second while auditing is enabled (the host's workload). */
  eventRate: number;
  uptimeMs: number;
  /** /proc/sys/kernel/panic: 0 = a panic hangs the machine until powerCycle(). */
  kernelPanic: number;
  /** How long the machine is unreachable during a reboot or a panic-reboot. */
  downtimeMs: number;
  /** Delay between `reboot`/`shutdown -r now` and the machine going down. */
  shutdownDelayMs?: number;
  /** Kernel tick rate: 250 on Debian kernels, 1000 on RHEL (`backlog_wait_time` is in ticks). */
  hz?: number;
  /** Program starts per second of the workload (each emits records only if a rule audits execve). */
  execsPerSec?: number;
  /** How many tasks produce the workload (each blocks on its own in audit_log_start). */
  loadTasks?: number;
  /**
   * CPUs the workload shares. With fewer CPUs than tasks the workload is CPU-bound: when some
   * tasks sleep, the others run faster (a lone /bin/true loop on a 1-vCPU VM does all the
   * execs four did). Default: one per task (I/O-bound tasks, each at its own pace).
   */
  cpus?: number;
  /** Records/s a `slow` auditd still reads. */
  auditdReadRate?: number;
  /**
   * Events/s the active plugins (plugins.d `active = yes`) take: a slow SIEM forwarder. Unset:
   * the plugins keep up. Such a host starts with its plugin queue full (it has been slow for a
   * while); a restart starts it empty (src/sim/plugins.ts).
   */
  pluginRate?: number;
  /** When set, the kernel's `panic=` seconds for a panic reboot (overrides kernelPanic 0). */
  panicRebootMs?: number;
  /** Runtime differences from the persistent configuration at creation. */
  runtime?: Partial<AuditSettings>;
  auditd?: AuditdState;
  /** Initial counters (e.g. an incident host that has lost millions already). */
  lost?: number;
  backlog?: number;
  waitActual?: number;
  /**
   * Replays this much history before "now" with the initial state, so the kernel log holds
   * the lines such a host would really show. Bounded work (only what the ring can hold).
   */
  historyMs?: number;
  /** Memory of the machine; MemAvailable shrinks by the backlog's buffers (§4: 8970 B each). */
  memTotalKb: number;
  memAvailableKb: number;
}

export interface PowerEvent {
  kind: 'down' | 'up';
  reason: 'panic' | 'reboot' | 'power-cycle';
}

const KERNEL_DEFAULT_LIMIT = 64;
const DRAIN_MIN_RATE = 4000;
/** Records of one audited execve: SYSCALL, EXECVE, CWD, PATH ×2, PROCTITLE, EOE. */
const RECORDS_PER_EXEC = 7;
/** A broad syscall rule (openat, all syscalls): records per program start, order of magnitude. */
const RECORDS_PER_EXEC_BROAD = 20;
/**
 * One SSH login: sshd's re-exec and the user's shell are program starts; PAM's USER_AUTH /
 * USER_ACCT, CRED_ACQ / USER_START, CRED_REFR / USER_LOGIN and the kernel's LOGIN record come
 * in four bursts (audit_receive penalizes the sender once, audit_log_start sleeps once).
 */
const LOGIN_EXECS = 2;
const LOGIN_MESSAGE_BURSTS = 4;
/**
 * The records of one login's PAM session and the kernel, by type: at login USER_AUTH, USER_ACCT,
 * CRED_ACQ, LOGIN (loginuid set), USER_START, USER_LOGIN; at logout CRED_DISP and USER_END
 * (audit-backlog.md: "a new SSH login took ..."; issue 25). sshd's re-exec and the shell are
 * program starts on top (recordsPerExec each, with an execve rule).
 */
export const LOGIN_RECORD_TYPES = ['USER_AUTH', 'USER_ACCT', 'CRED_ACQ', 'LOGIN', 'USER_START', 'USER_LOGIN'] as const;
export const LOGOUT_RECORD_TYPES = ['CRED_DISP', 'USER_END'] as const;
/** UNICAST_RETRIES in kauditd_send_queue for the hold and retry queues; the main queue tries once. */
const UNICAST_RETRIES = 5;
/** A pass of kauditd with a reading daemon: the records go out at once (order of 10 ms). */
const HEALTHY_PASS_MS = 10;

/** A task asleep in audit_log_start (or audit_receive), FIFO on audit_backlog_wait. */
interface Waiter {
  sinceMs: number;
  /** When its per-call budget (backlog_wait_time ticks) runs out. */
  untilMs: number;
  /** A workload task (it stops producing records while asleep) or another one (a login, sudo). */
  load: boolean;
}

export class SimKernel {
  readonly hostname: string;
  readonly flavour: Flavour;
  readonly kernelRelease: string;
  readonly fs: VirtualFs;
  readonly klog = new KernelLog();
  /** Kernel lines of earlier boots that syslog (/var/log/messages) kept. */
  readonly syslogArchive = new KernelLog(4000);
  /** Serial console: panic traces end up here (and nowhere a new boot can read). */
  readonly console: string[] = [];
  /** Wall messages broadcast by shutdown. */
  readonly wallMessages: string[] = [];
  /** auditd's own syslog lines (journal `SYSLOG_IDENTIFIER=auditd`, /var/log/messages). */
  readonly daemonLog: { wallMs: number; ident: string; pid: number; text: string }[] = [];
  /** auditd's plugin queue while auditd runs with an active plugin (null: none). */
  pluginQueue: PluginQueue | null = null;
  readonly pluginRate: number | null;
  /** auditd is `slow` because of its plugin queue (not a spec'd slow disk). */
  private pluginSlowed = false;

  /**
   * What SSH sessions added to the audit stream (issue 25): logins and their records (PAM's, the
   * kernel's LOGIN, sshd's and the shell's execs), and the records of each command's exec. A
   * warm connection's command adds only the latter.
   */
  readonly sshAudit = { logins: 0, logouts: 0, loginRecords: 0, execs: 0, execRecords: 0 };

  /** Records/s of the workload besides program starts (all tasks running). */
  eventRate: number;
  execsPerSec: number;
  loadTasks: number;
  cpus: number;
  auditdReadRate: number;
  readonly hz: number;
  kernelPanic: number;
  panicRebootMs: number | null;
  downtimeMs: number;
  memTotalKb: number;
  memAvailableKb: number;

  settings: AuditSettings;
  rules: string[] = [];
  auditd: { state: AuditdState; pid: number; pendingTerm: boolean; unitFailed: boolean };
  power: PowerState = 'up';
  bootId: string;
  bootAtMs: number;
  upAtMs = 0;

  private readonly clock: SimClock;
  private readonly rng: Rng;
  private readonly shutdownDelayMs: number;
  private t: number;
  private backlogF: number;
  private retryQ = 0;
  private holdQ = 0;
  private lostF: number;
  private waitActualF: number;
  private waiters: Waiter[] = [];
  /** End of the kauditd pass in progress (null: kauditd idle or not passing). */
  private passEndMs: number | null = null;
  private residualMs = 0;
  private nextPid: number;
  /** The one printk_ratelimit() state every audit printk shares (10 per 5 s). */
  private readonly printkWindow = new RateLimitWindow();
  private auditSerial = 100;
  private scheduledReboot: { atMs: number; message: string } | null = null;
  private pendingPanic: { atMs: number; reason: string } | null = null;
  private readonly listeners: ((ev: PowerEvent) => void)[] = [];
  private syncing = false;

  constructor(opts: KernelOptions) {
    this.hostname = opts.hostname;
    this.flavour = opts.flavour;
    this.kernelRelease = opts.kernelRelease;
    this.fs = opts.fs;
    this.clock = opts.clock;
    this.rng = new Rng(`kernel:${opts.seed}`);
    this.eventRate = opts.eventRate;
    this.execsPerSec = opts.execsPerSec ?? 0;
    this.loadTasks = Math.max(1, opts.loadTasks ?? 4);
    this.cpus = Math.max(1, opts.cpus ?? this.loadTasks);
    this.auditdReadRate = opts.auditdReadRate ?? 50;
    this.pluginRate = opts.pluginRate ?? null;
    this.hz = opts.hz ?? (opts.flavour === 'rhel' ? 1000 : 250);
    this.kernelPanic = opts.kernelPanic;
    this.panicRebootMs = opts.panicRebootMs ?? null;
    this.downtimeMs = opts.downtimeMs;
    this.shutdownDelayMs = opts.shutdownDelayMs ?? 300;
    this.memTotalKb = opts.memTotalKb;
    this.memAvailableKb = opts.memAvailableKb;
    const now = this.clock.now();
    const history = Math.max(0, opts.historyMs ?? 0);
    this.bootAtMs = now - Math.max(opts.uptimeMs, history + 60_000);
    this.bootId = this.rng.uuid();
    this.nextPid = this.rng.int(180, 1400);
    this.settings = this.bootSettings();
    const persisted = this.loadPersistentRules();
    if (persisted.deleteAll) this.rules = [];
    this.rules.push(...persisted.rules);
    Object.assign(this.settings, persisted.settings, opts.runtime ?? {});
    const state = opts.auditd ?? 'running';
    this.auditd = { state, pid: state === 'stopped' ? 0 : this.allocPid(), pendingTerm: false, unitFailed: false };
    this.startPluginQueue(true);
    // the auditd of this boot started with the host
    if (state !== 'stopped') this.logAuditdStart(this.bootAtMs + 2000);
    this.backlogF = opts.backlog ?? 0;
    this.lostF = opts.lost ?? 0;
    this.waitActualF = opts.waitActual ?? 0;
    this.writeBootLog();
    this.t = now - history;
    this.advanceTo(now);
  }

  // ---------------------------------------------------------------- observers

  onPower(listener: (ev: PowerEvent) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /** Brings the model to the clock's now, running due events (boot, scheduled reboot, panic). */
  sync(): void {
    // Re-entrant calls (boot → augenrules → setSetting) must not advance time mid-event.
    if (this.syncing) return;
    this.syncing = true;
    try {
      this.syncNow();
    } finally {
      this.syncing = false;
    }
  }

  private syncNow(): void {
    const now = this.clock.now();
    // Each event changes the state (boot, reboot, panic); the cap is a safety net only.
    for (let guard = 0; guard < 100; guard++) {
      const due = this.nextDue();
      if (due === null || due.atMs > now) break;
      if (this.power === 'up') this.advanceTo(due.atMs);
      due.run();
    }
    if (this.power === 'up') this.advanceTo(now);
  }

  /** When the next timed event happens (the SSH server sets one real timer for it). */
  nextEventAt(): number | null {
    return this.nextDue()?.atMs ?? null;
  }

  private nextDue(): { atMs: number; run: () => void } | null {
    const cands: { atMs: number; run: () => void }[] = [];
    if (this.power === 'down') cands.push({ atMs: this.upAtMs, run: () => this.boot('reboot') });
    if (this.power === 'up' && this.scheduledReboot) {
      cands.push({ atMs: this.scheduledReboot.atMs, run: () => this.goDown('reboot') });
    }
    if (this.power === 'up' && this.pendingPanic) {
      const p = this.pendingPanic;
      cands.push({ atMs: p.atMs, run: () => this.panic(p.reason) });
    }
    if (this.power === 'up' && this.settings.failure === 2 && this.notDraining() && this.generating()) {
      // In panic mode the next lossy moment panics: tell the server when the pass ends.
      cands.push({ atMs: this.passEndMs ?? this.t + this.passMs(), run: () => undefined });
    }
    cands.sort((a, b) => a.atMs - b.atMs);
    return cands[0] ?? null;
  }

  get backlog(): number {
    this.sync();
    return Math.floor(this.backlogF);
  }
  get lost(): number {
    this.sync();
    return Math.floor(this.lostF);
  }
  get waitActual(): number {
    this.sync();
    return Math.floor(this.waitActualF);
  }

  /** `auditctl -s` values now. */
  status(): AuditSettings & { pid: number; lost: number; backlog: number; backlogWaitTimeActual: number } {
    this.sync();
    // auditctl is a program start too: with an execve rule on a saturated queue it first
    // sleeps until a pass wakes it, so it reads the queue just emptied plus the records of
    // its own exec and its shell's (the VM read 16 again and again with -b 64 while every
    // loop sat in D in audit_log_start).
    const recs = this.recordsPerExec();
    const sawAfterPass = recs > 0 && this.recordDelayMs() > 0;
    const backlog = sawAfterPass ? Math.min(Math.floor(this.backlogF), 2 * (recs + 1)) : Math.floor(this.backlogF);
    return {
      ...this.settings,
      pid: this.auditd.pid,
      lost: Math.floor(this.lostF),
      backlog,
      backlogWaitTimeActual: Math.floor(this.waitActualF),
    };
  }

  /** Records are being dropped or diverted right now: auditing on and nobody keeping up. */
  isLosing(): boolean {
    this.sync();
    return this.generating() && this.notDraining();
  }

  /** Tasks asleep in audit_log_start / audit_receive right now (the "frozen host" symptom). */
  blockedTasks(): number {
    this.sync();
    return this.waiters.length;
  }

  /** Per-task wait state, oldest first (for /proc/PID/wchan, stat: D in audit_log_start). */
  blockedTaskStates(): { sinceMs: number; untilMs: number; load: boolean }[] {
    this.sync();
    return this.waiters.map((w) => ({ ...w }));
  }

  /** Tasks sleep in the kernel because of the audit queue. */
  isStalled(): boolean {
    return this.blockedTasks() > 0;
  }

  /** Records in the retry and hold queues (not shown by `auditctl -s`). */
  hiddenQueues(): { retry: number; hold: number } {
    this.sync();
    return { retry: this.retryQ, hold: this.holdQ };
  }

  /** ps state letter of auditd: S running/slow, T stopped by a signal, D in uninterruptible I/O. */
  auditdProcState(): 'S' | 'T' | 'D' | null {
    switch (this.auditd.state) {
      case 'stopped':
        return null;
      case 'stuck':
        return 'T';
      case 'blocked':
        return 'D';
      default:
        return 'S';
    }
  }

  /** The time one task's record costs now: expected sleeps × pass time, capped by its budget. */
  private recordDelayMs(): number {
    if (this.power !== 'up' || !this.generating() || !this.notDraining()) return 0;
    const budgetMs = (this.settings.backlogWaitTime * 1000) / this.hz;
    if (budgetMs <= 0) return 0;
    const passMs = this.passMs();
    // At least the task released by the last pass is producing records.
    const rate = Math.max(this.inflowRate(), this.offeredRate() / Math.min(this.loadTasks, this.cpus));
    const perPass = rate * (passMs / 1000);
    const cap = this.settings.backlogLimit + 1;
    if (perPass < cap) return 0;
    // Fraction of a pass the main queue sits over the limit, times the FIFO position.
    const overFrac = 1 - cap / perPass;
    return Math.min(budgetMs, overFrac * (this.waiters.length + 1) * passMs);
  }

  /** Records one program start emits with the loaded rules. */
  recordsPerExec(): number {
    let n = 0;
    for (const r of this.rules) {
      if (!/^-a\s/.test(r)) continue;
      if (/-S\s+(execve|execveat)\b/.test(r)) n += RECORDS_PER_EXEC;
      else if (/-S\s+(all|open|openat)\b/.test(r) || !/-S\s/.test(r)) n += /-F\s+(path|dir|exe)=/.test(r) ? 0 : RECORDS_PER_EXEC_BROAD;
    }
    return n;
  }

  /**
   * A login: PAM's and the kernel's messages arrive in LOGIN_MESSAGE_BURSTS bursts (auth,
   * account, session, loginuid), and with an execve rule sshd's re-exec and the shell each
   * add one; every burst sleeps once (its first record; the rest find the queue just emptied).
   */
  loginDelayMs(): number {
    this.sync();
    const per = this.recordDelayMs();
    if (per <= 0) return 0;
    // sshd's re-exec comes before the banner (bannerDelayMs); the user's shell after the login.
    return Math.round(per * (LOGIN_MESSAGE_BURSTS + (this.recordsPerExec() > 0 ? LOGIN_EXECS - 1 : 0)));
  }

  /**
   * Before its banner, OpenSSH's per-connection sshd re-executes itself (`sshd -R`, Debian 12's
   * 9.2): a program start, whose audited records wait on the queue like any other (one sleep,
   * FIFO behind the W waiters). On a saturated host that is W × pass time, so a client whose
   * banner timeout is shorter gives up: "Connection timed out during banner exchange" (T24).
   */
  bannerDelayMs(): number {
    this.sync();
    if (this.recordsPerExec() === 0) return 0;
    return Math.round(this.recordDelayMs());
  }

  /** One program start (a command of a pipeline): only audited execs wait, once each. */
  commandDelayMs(): number {
    this.sync();
    if (this.recordsPerExec() === 0) return 0;
    return Math.round(this.recordDelayMs());
  }

  /** An SSH login accepted: its records go into the queue like any (issue 25). */
  recordLogin(): void {
    this.sshAudit.logins++;
    this.sshRecords(LOGIN_RECORD_TYPES.length + LOGIN_EXECS * this.recordsPerExec(), 'loginRecords');
  }

  /** The SSH connection closed: PAM's session end. */
  recordLogout(): void {
    this.sshAudit.logouts++;
    this.sshRecords(LOGOUT_RECORD_TYPES.length, 'loginRecords');
  }

  /** One exec channel's program start (the user's shell running the command). */
  recordExec(): void {
    this.sshAudit.execs++;
    this.sshRecords(this.recordsPerExec(), 'execRecords');
  }

  /**
   * Records of a session enter the main queue only while auditing is on; with a reading daemon
   * they leave within a pass. With auditd not draining they stay, up to the limit: the sender
   * sleeps for room (loginDelayMs / commandDelayMs model that wait), so none is lost here.
   */
  private sshRecords(n: number, kind: 'loginRecords' | 'execRecords'): void {
    if (this.power !== 'up') return;
    this.sync();
    if (this.settings.enabled === 0 || n <= 0) return;
    this.sshAudit[kind] += n;
    if (this.notDraining()) this.backlogF = Math.min(this.settings.backlogLimit + 1, this.backlogF + n);
  }

  uptimeMs(): number {
    return Math.max(0, this.clock.now() - this.bootAtMs);
  }

  /** MemAvailable less the buffers held by the main, retry and hold queues (§4: 8970 B each). */
  memAvailableNowKb(): number {
    this.sync();
    const buffers = this.backlogF + this.retryQ + this.holdQ;
    return Math.max(0, Math.round(this.memAvailableKb - (buffers * BYTES_PER_BUFFER) / 1024));
  }

  /** Changes the workload (tests; the kernel-VM comparison sets the exec rate it measured). */
  setLoad(load: { eventRate?: number; execsPerSec?: number; tasks?: number; cpus?: number }): void {
    this.sync();
    if (load.cpus !== undefined) this.cpus = Math.max(1, load.cpus);
    if (load.eventRate !== undefined) this.eventRate = load.eventRate;
    if (load.execsPerSec !== undefined) this.execsPerSec = load.execsPerSec;
    if (load.tasks !== undefined) this.loadTasks = Math.max(1, load.tasks);
  }

  // ---------------------------------------------------------------- the queue over time

  private generating(): boolean {
    return this.settings.enabled !== 0 && this.eventRate + this.execsPerSec * this.recordsPerExec() > 0;
  }

  /** auditd registered but not reading (or not fast enough): kauditd's sends time out. */
  private notDraining(): boolean {
    const st = this.auditd.state;
    return st === 'stuck' || st === 'blocked' || (st === 'slow' && this.offeredRate() > this.auditdReadRate);
  }

  /** Records/s the workload produces with every task running (before rate_limit). */
  private offeredRate(): number {
    return this.eventRate + this.execsPerSec * this.recordsPerExec();
  }

  /** Records/s reaching the main queue now: asleep workload tasks produce nothing; rate_limit caps. */
  private inflowRate(): number {
    const r = this.offeredRate() * this.activeShare();
    return this.settings.rateLimit > 0 ? Math.min(r, this.settings.rateLimit) : r;
  }

  /** Share of the workload's full rate its awake tasks produce (CPU-bound: capped by the CPUs). */
  private activeShare(): number {
    const asleep = this.waiters.filter((w) => w.load).length;
    const awake = Math.max(0, this.loadTasks - asleep);
    const slots = Math.min(this.loadTasks, this.cpus);
    return Math.min(awake, slots) / slots;
  }

  /** audit_log_end(): records over `rate_limit` are dropped and counted (rate limit exceeded). */
  private rateLimitDrops(a: number, b: number): void {
    const rl = this.settings.rateLimit;
    if (rl <= 0) return;
    const r = this.offeredRate() * this.activeShare();
    const excess = ((r - rl) * (b - a)) / 1000;
    if (excess <= 0) return;
    this.lostRecords(b, excess, 'rate limit exceeded', 'audit_log_end');
  }

  private steadyBacklog(): number {
    // A busy host with a healthy daemon always has a few records in flight.
    return Math.min(this.settings.backlogLimit, Math.floor(this.offeredRate() / 250));
  }

  // ---------------------------------------------------------------- auditd's plugin queue

  /** auditd (re)starts: an empty queue, or a full one for a host created already slow. */
  private startPluginQueue(initial = false): void {
    this.pluginQueue = null;
    if (this.pluginRate === null || this.auditd.state === 'stopped') return;
    const conf = readPluginConf(this.fs);
    if (!conf.active.length) return;
    this.pluginQueue = new PluginQueue(conf, this.pluginRate);
    if (initial) this.pluginQueue.used = conf.depth;
  }

  /** auditd's startup lines (syslog): a new daemon, a new empty plugin queue. */
  private logAuditdStart(wallMs: number): void {
    const pc = readPluginConf(this.fs);
    const dispatcher = pc.active.length ? `audit dispatcher initialized with q_depth=${pc.depth} and ${pc.active.length} active plugins` : 'No plugins found, not dispatching events';
    this.daemonLog.push({ wallMs, ident: 'auditd', pid: this.auditd.pid, text: dispatcher });
    this.daemonLog.push({ wallMs, ident: 'auditd', pid: this.auditd.pid, text: 'Init complete, auditd 3.0.9 listening for events (startup state enable)' });
  }

  /** SIGHUP: auditd re-reads auditd.conf and the plugin files (auditd-dispatch.c reconfigure). */
  private reconfigurePlugins(): void {
    // auditd-event.c reconfigure(): audit_msg(LOG_NOTICE, "config change requested by ...")
    this.daemonLog.push({ wallMs: this.clock.now(), ident: 'auditd', pid: this.auditd.pid, text: `config change requested by pid=${this.spawnPid()} auid=0 subj=unconfined` });
    if (this.pluginRate === null) return;
    const conf = readPluginConf(this.fs);
    if (!conf.active.length) this.pluginQueue = null;
    else if (this.pluginQueue) this.pluginQueue.reconfigure(conf);
    else this.pluginQueue = new PluginQueue(conf, this.pluginRate);
    if (this.pluginSlowed && this.auditd.state === 'slow' && !this.pluginQueue?.full) {
      this.auditd.state = 'running';
      this.pluginSlowed = false;
    }
  }

  /** Events/s auditd reads now (what it hands to the plugin queue). */
  private auditdReadNow(): number {
    if (this.auditd.state === 'running') return this.inflowRate();
    if (this.auditd.state === 'slow') return Math.min(this.inflowRate(), this.auditdReadRate);
    return 0;
  }

  private msUntilPluginFull(): number {
    const q = this.pluginQueue;
    if (!q || this.auditd.state !== 'running') return Infinity;
    return q.msUntilFull(this.auditdReadNow());
  }

  private fillPluginQueue(a: number, b: number): void {
    const q = this.pluginQueue;
    if (!q || b <= a || this.auditd.state === 'stuck' || this.auditd.state === 'stopped') return;
    q.fill(this.auditdReadNow(), b - a);
  }

  /** A running auditd meets its full plugin queue: do_overflow_action, and slow unless suspended. */
  private pluginOverflow(t: number): void {
    const q = this.pluginQueue;
    if (this.pluginSlowed && this.auditd.state === 'slow' && (!q || !q.full || q.suspended)) {
      // The plugin caught up (the event rate fell below its pace): auditd is fast again.
      this.auditd.state = 'running';
      this.pluginSlowed = false;
    }
    if (!q || this.auditd.state !== 'running' || !q.full || q.suspended) return;
    for (const text of q.overflow()) this.daemonLog.push({ wallMs: t, ident: 'auditd', pid: this.auditd.pid, text });
    if (this.daemonLog.length > 1000) this.daemonLog.splice(0, this.daemonLog.length - 500);
    if (q.suspended) return;
    this.auditd.state = 'slow';
    this.pluginSlowed = true;
    this.auditdReadRate = PLUGIN_FULL_READ_RATE + q.pluginRate;
  }

  private drain(dtS: number, floor: number): void {
    if (this.backlogF <= floor) {
      this.backlogF = floor;
      return;
    }
    // Restarting/resuming auditd drains the queue within ≈ 3 s (observed 65 → 0).
    const rate = Math.max(DRAIN_MIN_RATE, (this.backlogF - floor) / 2);
    this.backlogF = Math.max(floor, this.backlogF - rate * dtS);
  }

  /**
   * kauditd's pass length when sends fail: the hold and retry queues are each tried
   * UNICAST_RETRIES times, the main queue once, every try blocking sk_sndtimeo = HZ/10.
   */
  private passMs(): number {
    const tryMs = 100;
    return tryMs * ((this.holdQ > 0 ? UNICAST_RETRIES : 0) + (this.retryQ > 0 ? UNICAST_RETRIES : 0) + 1);
  }

  /** audit=1 on the command line: audit_default set, failed records go to the hold queue. */
  private auditDefault(): boolean {
    return /(?:^|\s)audit=1(?:\s|$)/.test(this.cmdline());
  }

  private advanceTo(t1: number): void {
    if (t1 <= this.t) return;
    // Long idle spans of a stuck host: the ring only keeps the last few minutes of lines and
    // the counters move per pass, so step passes over at most the last hour, then extrapolate.
    const maxStepped = 3_600_000;
    const sampleMs = 60_000;
    if (t1 - this.t > maxStepped + sampleMs && this.notDraining() && this.generating() && this.power === 'up') {
      // Step one minute, then carry its counter rates over the span the ring cannot show.
      const a = this.t;
      const lost0 = this.lostF;
      const wa0 = this.waitActualF;
      this.stepTo(a + sampleMs);
      if (this.power !== 'up') return;
      const skip = t1 - maxStepped - this.t;
      this.lostF += ((this.lostF - lost0) / sampleMs) * skip;
      this.waitActualF += ((this.waitActualF - wa0) / sampleMs) * skip;
      this.t += skip;
      this.passEndMs = null;
      for (const w of this.waiters) {
        w.sinceMs += skip;
        w.untilMs += skip;
      }
    }
    this.stepTo(t1);
  }

  /** Steps the queues in chunks that end where the plugin queue fills (auditd turns slow there). */
  private stepTo(t1: number): void {
    for (let guard = 0; this.t < t1 && guard < 10_000; guard++) {
      const t0 = this.t;
      this.pluginOverflow(t0);
      const full = this.msUntilPluginFull();
      const lim = full > 0 && t0 + full < t1 ? Math.max(t0 + 1, Math.ceil(t0 + full)) : t1;
      this.stepQueues(lim);
      this.fillPluginQueue(t0, this.t);
    }
  }

  private stepQueues(t1: number): void {
    for (let guard = 0; this.t < t1 && guard < 400_000; guard++) {
      if (this.power !== 'up') {
        this.t = t1;
        return;
      }
      const t0 = this.t;
      this.expireWaiters(t0);
      const running = this.auditd.state === 'running' || (this.auditd.state === 'slow' && !this.notDraining());
      if (!this.generating() || running || this.auditd.state === 'stopped') {
        this.passEndMs = null;
        // Next event: a waiter's budget ends (or a residual waiter is woken by a pass).
        const wake = this.waiters.length ? Math.min(...this.waiters.map((w) => w.untilMs)) : Infinity;
        const next = Math.min(t1, wake);
        this.flowFree(t0, next);
        this.t = Math.max(next, t0 + (next === t0 ? 1 : 0));
        continue;
      }
      const wake = this.waiters.length ? Math.min(...this.waiters.map((w) => w.untilMs)) : Infinity;
      if (this.passEndMs === null && this.backlogF < 1 && this.inflowRate() <= 0) {
        // kauditd sleeps until the main queue has a record: nobody wakes the sleepers (T10).
        const idleTo = Math.min(t1, Math.max(wake, t0 + 1));
        this.waitActualF += (this.waiters.length * (idleTo - t0) * this.hz) / 1000;
        this.t = idleTo;
        continue;
      }
      // auditd registered but not reading: one kauditd pass after another.
      if (this.passEndMs === null || this.passEndMs <= t0) this.passEndMs = t0 + this.passMs();
      const next = Math.min(t1, this.passEndMs, Math.max(wake, t0 + 1));
      this.fillMain(t0, next);
      this.t = next;
      if (next === this.passEndMs) this.endPass(next);
    }
  }

  /** The daemon reads (or nobody is registered): no pass stalls; residual sleepers are woken. */
  private flowFree(a: number, b: number): void {
    const dtS = (b - a) / 1000;
    this.rateLimitDrops(a, b);
    if (!this.generating()) {
      this.drain(dtS, 0);
      return;
    }
    if (this.auditd.state === 'stopped') {
      // No socket: kauditd_hold_skb for every record: printk and drop (audit=0), or the hold
      // queue, which overflows with `kauditd hold queue overflow` (audit=1, T28).
      this.drain(dtS, 0);
      const n = (this.inflowRate() * (b - a)) / 1000;
      this.printkRecords(a, b, n);
      if (this.auditDefault()) {
        const lim = this.settings.backlogLimit;
        const room = Math.max(0, lim - this.holdQ);
        this.holdQ = Math.min(lim, this.holdQ + n);
        if (n > room) this.lostRecords(b, n - room, 'kauditd hold queue overflow', 'kauditd_printk_skb');
      }
    } else {
      this.drain(dtS, this.steadyBacklog());
      this.retryQ = 0;
      this.holdQ = 0;
    }
    // Passes run again: each wakes one sleeper, but only while records keep kauditd looping
    // (T10: with every generator asleep nobody wakes them and they sleep out their budget).
    if (this.waiters.length && this.inflowRate() > 0) {
      this.residualMs += b - a;
      const n = Math.min(this.waiters.length, Math.floor(this.residualMs / HEALTHY_PASS_MS));
      this.residualMs -= n * HEALTHY_PASS_MS;
      this.waiters.splice(0, n);
    } else this.residualMs = 0;
    this.waitActualF += (this.waiters.length * (b - a) * this.hz) / 1000;
  }

  /** Records flow into the main queue between passes; over the limit tasks sleep or records are lost. */
  private fillMain(a: number, b: number): void {
    this.rateLimitDrops(a, b);
    const s = this.settings;
    const cap = s.backlogLimit + 1;
    const rate = this.inflowRate();
    // Sleepers accrue backlog_wait_time_actual tick by tick (audit_log_start's accounting).
    this.waitActualF += (this.waiters.length * (b - a) * this.hz) / 1000;
    if (rate <= 0) return;
    const n = (rate * (b - a)) / 1000;
    if (this.backlogF + n <= cap) {
      this.backlogF += n;
      return;
    }
    const fillMs = Math.max(0, ((cap - this.backlogF) / rate) * 1000);
    const atMs = a + fillMs;
    const excess = this.backlogF + n - cap;
    this.backlogF = Math.max(this.backlogF, cap);
    if (s.backlogWaitTime > 0) {
      // Every running workload task now sleeps on its next record, FIFO.
      const asleep = this.waiters.filter((w) => w.load).length;
      const budgetMs = (s.backlogWaitTime * 1000) / this.hz;
      for (let i = asleep; i < this.loadTasks; i++) this.waiters.push({ sinceMs: atMs, untilMs: atMs + budgetMs, load: true });
      this.waitActualF += ((this.loadTasks - asleep) * (b - atMs) * this.hz) / 1000;
    } else {
      // wait 0: audit_log_start drops every record over the limit at once (T05).
      this.lostRecords(atMs, excess, 'backlog limit exceeded', 'audit_log_start', true);
    }
  }

  /** A task whose budget ran out: its record is dropped in audit_log_start and counted. */
  private expireWaiters(now: number): void {
    const due = this.waiters.filter((w) => w.untilMs <= now);
    if (!due.length) return;
    this.waiters = this.waiters.filter((w) => w.untilMs > now);
    for (const w of due) {
      if (this.notDraining()) {
        this.lostRecords(w.untilMs, 1, 'backlog limit exceeded', 'audit_log_start', true);
      }
    }
  }

  /** End of a kauditd pass (kauditd_thread): hold, retry, then main queue; wake one sleeper. */
  private endPass(at: number): void {
    const lim = this.settings.backlogLimit;
    const slowRead = this.auditd.state === 'slow' ? (this.auditdReadRate * this.passMs()) / 1000 : 0;
    // (1)+(2): what sat in the retry queue fails again → kauditd_hold_skb: printk, then dropped
    // without a count (audit=0, Debian) or into the hold queue (audit=1).
    const failed = this.retryQ;
    this.retryQ = 0;
    if (failed > 0) {
      this.printkRecords(at - 100, at - 100, failed);
      if (this.auditDefault()) {
        const room = Math.max(0, lim - this.holdQ);
        this.holdQ = Math.min(lim, this.holdQ + failed);
        if (failed > room) this.lostRecords(at - 100, failed - room, 'kauditd hold queue overflow', 'kauditd_printk_skb');
      }
    }
    // (3): one try on the main queue (a slow daemon takes what it reads), the rest moves to
    // the retry queue, capped at the limit: `kauditd retry queue overflow` for the excess.
    const main = Math.max(0, this.backlogF - slowRead);
    this.backlogF = 0;
    const room = lim;
    this.retryQ = Math.min(main, room);
    if (main > room) {
      this.printkRecords(at, at, main - room);
      this.lostRecords(at, main - room, 'kauditd retry queue overflow', 'kauditd_printk_skb');
    }
    // wake_up(&audit_backlog_wait): exclusive waiters, one per pass.
    this.waiters.shift();
    this.passEndMs = null;
  }

  // ---------------------------------------------------------------- kernel log

  private log(wallMs: number, text: string, extraUs = 0): void {
    const monoUs = Math.max(0, Math.round((wallMs - this.bootAtMs) * 1000) + extraUs);
    this.klog.push({ monoUs, wallMs, text });
  }

  /** printk_ratelimit(): one shared state; a reopened window first reports what it hid. */
  private printk(atMs: number, caller: string, text: () => string): boolean {
    const w = this.printkWindow;
    if (atMs >= w.start + RATELIMIT_INTERVAL_MS) {
      if (w.suppressed > 0) this.log(atMs, `${caller}: ${w.suppressed} callbacks suppressed`);
      w.start = atMs;
      w.printed = 0;
      w.suppressed = 0;
    }
    if (w.printed < RATELIMIT_BURST) {
      w.printed++;
      this.log(atMs, text(), w.printed * 120);
      return true;
    }
    w.suppressed++;
    return false;
  }

  /** n printk attempts at once: the burst prints, the rest counts as suppressed (O(1)). */
  private printkBulk(atMs: number, caller: string, n: number, text: (k: number) => string): void {
    let k = 0;
    for (; k < n && this.printkWindow.printed < RATELIMIT_BURST; k++) {
      const kk = k;
      this.printk(atMs, caller, () => text(kk));
    }
    if (k >= n) return;
    if (atMs >= this.printkWindow.start + RATELIMIT_INTERVAL_MS) {
      this.printk(atMs, caller, () => text(k));
      k++;
      for (; k < n && this.printkWindow.printed < RATELIMIT_BURST; k++) {
        const kk = k;
        this.printk(atMs, caller, () => text(kk));
      }
    }
    this.printkWindow.suppressed += Math.max(0, Math.round(n - k));
  }

  /** kauditd_printk_skb(): records that cannot reach auditd are printed as `audit: type=...`. */
  private printkRecords(a: number, b: number, n: number): void {
    // EOE records are never printed (kauditd_printk_skb skips AUDIT_EOE before the ratelimit).
    const execs0 = this.execsPerSec * this.recordsPerExec() > this.eventRate;
    const count = Math.round(execs0 ? (n * (RECORDS_PER_EXEC - 1)) / RECORDS_PER_EXEC : n);
    if (count <= 0) return;
    const execs = this.execsPerSec * this.recordsPerExec() > this.eventRate;
    const at = b;
    this.printkBulk(at, 'kauditd_printk_skb', count, (k) => {
      const serial = k % RECORDS_PER_EXEC === 0 ? ++this.auditSerial : this.auditSerial;
      const stamp = `${Math.floor(a / 1000)}.${String(Math.floor(a) % 1000).padStart(3, '0')}:${serial}`;
      if (!execs) {
        return `audit: type=1300 audit(${stamp}): arch=c000003e syscall=257 success=yes exit=3 items=1 ppid=1 pid=${this.nextPid} auid=0 uid=0 gid=0 comm="cron" exe="/usr/sbin/cron" key=(null)`;
      }
      switch (k % 4) {
        case 0:
          return `audit: type=1300 audit(${stamp}): arch=c000003e syscall=59 success=yes exit=0 items=2 ppid=${this.nextPid - 3} pid=${this.nextPid} auid=0 uid=0 gid=0 comm="true" exe="/usr/bin/true" key="fmload"`;
        case 1:
          return `audit: type=1309 audit(${stamp}): argc=1 a0="/bin/true"`;
        case 2:
          return `audit: type=1307 audit(${stamp}): cwd="/"`;
        default:
          return `audit: type=1327 audit(${stamp}): proctitle="/bin/true"`;
      }
    });
  }

  /**
   * audit_log_lost() for n records: lost += n; prints `audit_lost=` (every time with
   * rate_limit 0 or failure 2, else ≤ 1/s) and audit_panic(): failure 1 prints the reason,
   * failure 2 panics. Only the first few of n can reach the printk budget: bounded work.
   */
  private lostRecords(atMs: number, n: number, reason: string, caller: string, backlogLine = false): void {
    if (n <= 0) return;
    const s = this.settings;
    const before = Math.floor(this.lostF);
    this.lostF += n;
    const count = Math.max(1, Math.floor(this.lostF) - before);
    const lostLine = (k: number) => () => `audit: audit_lost=${before + k + 1} audit_rate_limit=${s.rateLimit} audit_backlog_limit=${s.backlogLimit}`;
    const backlog = () => `audit: audit_backlog=${Math.max(s.backlogLimit + 1, Math.floor(this.backlogF))} > audit_backlog_limit=${s.backlogLimit}`;
    if (s.failure === 2) {
      this.t = Math.max(this.t, atMs);
      if (backlogLine) this.printk(atMs, caller, backlog);
      this.printk(atMs, caller, lostLine(0));
      this.panic(reason);
      return;
    }
    // Per record: [audit_backlog=] audit_lost= [reason]; only the first few can print.
    const prints = Math.min(count, RATELIMIT_BURST + 1);
    let attempts = 0;
    for (let k = 0; k < prints; k++) {
      if (backlogLine) {
        this.printk(atMs, caller, backlog);
        attempts++;
      }
      // audit_log_lost prints every time with rate_limit 0, else at most once a second.
      if (s.rateLimit === 0 || k === 0) {
        this.printk(atMs, caller, lostLine(k));
        attempts++;
        if (s.failure === 1) {
          this.printk(atMs, caller, () => `audit: ${reason}`);
          attempts++;
        }
      }
    }
    if (count > prints) {
      const per = (backlogLine ? 1 : 0) + (s.rateLimit === 0 ? 1 + (s.failure === 1 ? 1 : 0) : 0);
      this.printkWindow.suppressed += (count - prints) * per;
    }
    void attempts;
  }

  private writeBootLog(): void {
    const cmdline = this.cmdline();
    const at = this.bootAtMs;
    this.log(at, `Linux version ${this.kernelRelease} (${this.flavour === 'rhel' ? 'mockbuild@build.example.com' : 'debian-kernel@lists.debian.org'}) #1 SMP PREEMPT_DYNAMIC`, 0);
    this.log(at, `Command line: ${cmdline}`, 0);
    this.log(at, `Kernel command line: ${cmdline}`, 91_917);
    const audit = /(?:^|\s)audit=(\d)/.exec(cmdline);
    if (audit?.[1] === '1') this.log(at, 'audit: enabled (after initialization)', 93_152);
    const lim = /(?:^|\s)audit_backlog_limit=(\d+)/.exec(cmdline);
    if (lim) this.log(at, `audit: audit_backlog_limit: ${lim[1]}`, 93_216);
    // Without audit=1 on the command line the kernel reports the subsystem as disabled until
    // auditd enables it (T03, T27); audit=1 reports enabled (T28).
    const on = audit?.[1] === '1';
    this.log(at, `audit: initializing netlink subsys (${on ? 'enabled' : 'disabled'})`, 823_642);
    this.log(at, `audit: type=2000 audit(${Math.floor(at / 1000)}.823:1): state=initialized audit_enabled=${on ? 1 : 0} res=1`, 824_100);
    this.log(at, `systemd[1]: Hostname set to <${this.hostname}>.`, 9_022_881);
  }

  // ---------------------------------------------------------------- persistent configuration

  cmdline(): string {
    try {
      return this.fs.read('/proc/cmdline', true).trim();
    } catch {
      return '';
    }
  }

  /** Settings at boot before auditd loads its rules: kernel defaults and /proc/cmdline (§1). */
  private bootSettings(): AuditSettings {
    const cmdline = this.cmdline();
    const lim = /(?:^|\s)audit_backlog_limit=(\d+)/.exec(cmdline);
    const audit = /(?:^|\s)audit=(\d)/.exec(cmdline);
    return {
      enabled: audit?.[1] === '0' ? 0 : 1,
      failure: 1,
      rateLimit: 0,
      backlogLimit: lim ? Number(lim[1]) : KERNEL_DEFAULT_LIMIT,
      // The kernel's default is 60*HZ ticks: 15000 on Debian (HZ=250), 60000 on RHEL.
      backlogWaitTime: 60 * this.hz,
    };
  }

  /** augenrules: rules.d/*.rules, in C-locale order, concatenated into audit.rules. */
  compileRules(): string {
    const dir = '/etc/audit/rules.d';
    const parts = ['## This file is automatically generated from /etc/audit/rules.d'];
    for (const name of this.fs.list(dir)) {
      if (!name.endsWith('.rules')) continue;
      try {
        parts.push(this.fs.read(`${dir}/${name}`, true).replace(/\n+$/, ''));
      } catch {
        /* unreadable: augenrules skips it too */
      }
    }
    return parts.join('\n') + '\n';
  }

  private loadPersistentRules(): ParsedRules {
    const text = this.compileRules();
    this.fs.put('/etc/audit/audit.rules', text, { rootOnly: true });
    return parseRules(text);
  }

  /** What the next auditd start / reboot will apply (for tests comparing with facts). */
  persistentSettings(): AuditSettings {
    const base = this.bootSettings();
    const parsed = parseRules(this.compileRules());
    return { ...base, ...parsed.settings, enabled: base.enabled === 0 ? 0 : (parsed.settings.enabled ?? 1) };
  }

  // ---------------------------------------------------------------- auditctl

  /** `-b/-f/-e/-r/--backlog_wait_time`: refused when locked (§2: exit 255, EPERM). */
  setSetting(key: keyof AuditSettings, value: number): { ok: true } | { ok: false; error: string } {
    this.sync();
    if (this.settings.enabled === 2) return { ok: false, error: `Error sending ${SETTING_REQUEST[key]} request (Operation not permitted)` };
    if (key === 'enabled' && ![0, 1, 2].includes(value)) return { ok: false, error: 'Enable must be 0, 1, or 2 was ' + value };
    if (key === 'failure' && ![0, 1, 2].includes(value)) return { ok: false, error: 'Failure must be 0, 1, or 2 was ' + value };
    // audit_set_backlog_wait_time(): more than 10 minutes of ticks is EINVAL.
    if (key === 'backlogWaitTime' && value > 10 * 60 * this.hz) return { ok: false, error: `Error sending ${SETTING_REQUEST[key]} request (Invalid argument)` };
    this.settings[key] = value;
    // The CONFIG_CHANGE is queued (auditctl holds audit_cmd_mutex: exempt), but it marks
    // auditctl's syscall auditable: its SYSCALL/PROCTITLE at syscall exit go through
    // audit_log_start like any record (reference §0, T20). Over the limit with wait 0 that
    // record is lost at once; with a wait, auditctl sleeps and the next overflowing pass is the
    // loss (and, with -f 2, the panic).
    if (this.notDraining() && this.generating()) this.backlogF += 1;
    // With wait 0 on a queue that overflows every pass, auditctl's exit records (SYSCALL,
    // PROCTITLE, EOE, then its shell's) meet a full queue before the reply is out: T20 panicked
    // "at once, in auditctl".
    const cap = this.settings.backlogLimit + 1;
    const overflowing = this.settings.backlogWaitTime === 0 && (this.inflowRate() * this.passMs()) / 1000 > cap;
    if (this.notDraining() && this.generating() && (this.backlogF > cap || overflowing)) {
      if (this.settings.backlogWaitTime > 0) {
        const budgetMs = (this.settings.backlogWaitTime * 1000) / this.hz;
        this.waiters.push({ sinceMs: this.t, untilMs: this.t + budgetMs, load: false });
      } else {
        this.lostRecords(this.t, 1, 'backlog limit exceeded', 'audit_log_start', true);
      }
    }
    return { ok: true };
  }

  /** Adds a rule (`-a`/`-w`). Locked: refused, but auditctl exits 0 (observed). */
  addRule(rule: string): { ok: boolean; message?: string } {
    this.sync();
    if (this.settings.enabled === 2) return { ok: false, message: 'The audit system is in immutable mode, no rule changes allowed' };
    if (this.rules.includes(rule)) return { ok: false, message: 'Error sending add rule data request (Rule exists)' };
    this.rules.push(rule);
    return { ok: true };
  }

  deleteRules(): boolean {
    this.sync();
    if (this.settings.enabled === 2) return false;
    this.rules = [];
    return true;
  }

  /** Applies a rules file like `auditctl -R` (used by augenrules --load and auditd start). */
  loadRules(text: string): { errors: string[]; locked: boolean } {
    const parsed = parseRules(text);
    const errors = [...parsed.errors];
    let locked = false;
    if (parsed.deleteAll && !this.deleteRules()) locked = true;
    for (const key of ['backlogLimit', 'failure', 'rateLimit', 'backlogWaitTime'] as const) {
      const v = parsed.settings[key];
      if (v === undefined) continue;
      const r = this.setSetting(key, v);
      if (!r.ok) {
        errors.push(r.error);
        locked = true;
      }
    }
    for (const rule of parsed.rules) {
      const r = this.addRule(rule);
      if (!r.ok && r.message?.includes('immutable')) locked = true;
    }
    // -e comes last (augenrules moves it to the end): a `-e 2` locks after everything else.
    if (parsed.settings.enabled !== undefined) {
      const r = this.setSetting('enabled', parsed.settings.enabled);
      if (!r.ok) errors.push(r.error);
    }
    return { errors, locked };
  }

  /** `augenrules --load`: compile rules.d into audit.rules and load it. */
  augenrulesLoad(): { errors: string[]; locked: boolean } {
    const text = this.compileRules();
    this.fs.put('/etc/audit/audit.rules', text, { rootOnly: true });
    return this.loadRules(text);
  }

  // ---------------------------------------------------------------- auditd

  private allocPid(): number {
    this.nextPid += this.rng.int(3, 40);
    return this.nextPid;
  }

  /** A fresh pid for a short-lived process (the shell, ps, ...). */
  spawnPid(): number {
    return this.allocPid();
  }

  startAuditd(): void {
    this.sync();
    if (this.auditd.state !== 'stopped') return;
    this.auditd = { state: 'running', pid: this.allocPid(), pendingTerm: false, unitFailed: false };
    this.passEndMs = null;
    this.pluginSlowed = false;
    this.startPluginQueue();
    this.logAuditdStart(this.clock.now());
    // ExecStartPost=augenrules --load: every runtime change is reset to the rule files (§4).
    this.augenrulesLoad();
  }

  stopAuditd(opts: { failed?: boolean } = {}): void {
    this.sync();
    this.auditd = { state: 'stopped', pid: 0, pendingTerm: false, unitFailed: opts.failed ?? false };
  }

  restartAuditd(): void {
    this.stopAuditd();
    this.startAuditd();
  }

  /**
   * RHEL's `service auditd restart` (legacy-actions/auditd/restart): the stop action sends
   * SIGTERM without SIGCONT, then `systemctl start` finds the unit still active and does
   * nothing. A SIGSTOPped auditd therefore stays in place with the same pid, TERM pending.
   */
  legacyRestartAuditd(): void {
    this.sync();
    if (this.auditd.state === 'stuck') {
      this.auditd.pendingTerm = true;
      return;
    }
    this.restartAuditd();
  }

  /** kill(2) on auditd's pid. Returns false when no such process. */
  signalAuditd(signal: 'STOP' | 'CONT' | 'TERM' | 'KILL' | 'HUP' | 'USR1' | 'USR2'): boolean {
    this.sync();
    if (this.auditd.state === 'stopped') return false;
    switch (signal) {
      case 'STOP':
        this.auditd.state = 'stuck';
        break;
      case 'CONT':
        if (this.auditd.pendingTerm) this.stopAuditd();
        else this.auditd.state = 'running';
        break;
      case 'TERM':
        // A stopped (T) process keeps SIGTERM pending until it is continued.
        if (this.auditd.state === 'stuck') this.auditd.pendingTerm = true;
        else this.stopAuditd();
        break;
      case 'KILL':
        // The socket is gone; auditd.service has Restart=on-failure, so systemd starts a new
        // auditd, whose ExecStartPost reloads the rule files (init.d/auditd.service).
        this.stopAuditd({ failed: true });
        this.startAuditd();
        break;
      case 'HUP':
        this.reconfigurePlugins();
        break;
      default:
        break;
    }
    return true;
  }

  // ---------------------------------------------------------------- power

  /** `shutdown -r +MIN`: returns the time it will happen. */
  scheduleReboot(delayMs: number, message: string): number {
    this.sync();
    const atMs = this.clock.now() + Math.max(delayMs, this.shutdownDelayMs);
    this.scheduledReboot = { atMs, message };
    if (message) this.wallMessages.push(message);
    return atMs;
  }

  cancelReboot(): boolean {
    const had = this.scheduledReboot !== null;
    this.scheduledReboot = null;
    return had;
  }

  scheduledRebootAt(): number | null {
    return this.scheduledReboot?.atMs ?? null;
  }

  /** `kernel panic`: console line, machine down; reboots after the downtime if kernel.panic > 0. */
  panic(reason: string): void {
    if (this.power !== 'up') return;
    const text = `Kernel panic - not syncing: audit: ${reason}`;
    this.log(Math.min(this.t, this.clock.now()), text);
    this.console.push(...this.klog.all().slice(-6).map((e) => e.text));
    this.console.push(`---[ end ${text} ]---`);
    this.goDown('panic');
  }

  private goDown(reason: 'panic' | 'reboot'): void {
    this.scheduledReboot = null;
    this.pendingPanic = null;
    // syslog kept what it had written; a panic's own line never reaches the disk.
    for (const e of this.klog.all()) if (!e.text.startsWith('Kernel panic')) this.syslogArchive.push(e);
    if (reason === 'panic' && this.kernelPanic <= 0 && this.panicRebootMs === null) {
      this.power = 'hung';
    } else {
      this.power = 'down';
      this.upAtMs = this.clock.now() + (reason === 'panic' && this.panicRebootMs !== null ? this.panicRebootMs : 0) + this.downtimeMs;
    }
    this.emit({ kind: 'down', reason });
  }

  /** Pulls the plug and boots again (also the only way out of a hung panic). */
  powerCycle(): void {
    this.sync();
    if (this.power === 'up') this.goDown('reboot');
    this.power = 'down';
    this.upAtMs = this.clock.now();
    this.sync();
  }

  private boot(reason: PowerEvent['reason']): void {
    this.power = 'up';
    this.bootAtMs = this.upAtMs;
    this.t = this.upAtMs;
    this.bootId = this.rng.uuid();
    this.klog.clear();
    this.printkWindow.reset();
    this.backlogF = 0;
    this.retryQ = 0;
    this.holdQ = 0;
    this.waiters = [];
    this.passEndMs = null;
    this.lostF = 0;
    this.waitActualF = 0;
    this.nextPid = this.rng.int(180, 1400);
    this.settings = this.bootSettings();
    this.rules = [];
    this.writeBootLog();
    this.auditd = { state: 'running', pid: this.allocPid(), pendingTerm: false, unitFailed: false };
    // journalctl -b: auditd's lines of this boot only; a new daemon with an empty plugin queue
    this.daemonLog.length = 0;
    this.pluginSlowed = false;
    this.startPluginQueue();
    this.logAuditdStart(this.upAtMs + 2000);
    this.augenrulesLoad();
    this.emit({ kind: 'up', reason });
  }

  private emit(ev: PowerEvent): void {
    for (const l of [...this.listeners]) l(ev);
  }

  /** For tests: the raw log entries of this boot. */
  kernelLines(): string[] {
    this.sync();
    return this.klog.all().map((e: KlogEntry) => e.text);
  }
}

const SETTING_REQUEST: Record<keyof AuditSettings, string> = {
  backlogLimit: 'backlog limit',
  // auditctl reuses the backlog-limit wording for the wait time (observed, 3.0.9).
  backlogWaitTime: 'backlog limit',
  failure: 'failure mode',
  enabled: 'enable',
  rateLimit: 'rate limit',
};

/** Parses rules-file text: the control lines auditctl understands, and the rules. */
export function parseRules(text: string): ParsedRules {
  const out: ParsedRules = { settings: {}, deleteAll: false, rules: [], errors: [] };
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const words = line.split(/\s+/);
    const [flag, arg] = words;
    const num = Number(arg);
    const needNum = (key: keyof AuditSettings) => {
      if (arg === undefined || !/^\d+$/.test(arg)) out.errors.push(`There was an error in line ${i + 1} of the rules file`);
      else out.settings[key] = num;
    };
    switch (flag) {
      case '-D':
        out.deleteAll = true;
        out.rules = [];
        break;
      case '-b':
        needNum('backlogLimit');
        break;
      case '-f':
        needNum('failure');
        break;
      case '-e':
        needNum('enabled');
        break;
      case '-r':
        needNum('rateLimit');
        break;
      case '--backlog_wait_time':
        needNum('backlogWaitTime');
        break;
      case '-a':
      case '-A':
      case '-w':
        out.rules.push(normalizeRule(words));
        break;
      case '--loginuid-immutable':
      case '-i':
      case '-c':
        break;
      default:
        out.errors.push(`Unknown option ${flag} in line ${i + 1}`);
    }
  });
  return out;
}

/** How `auditctl -l` prints a rule: `-a exit,always` becomes `-a always,exit`, `-k` → `-F key=`. */
export function normalizeRule(words: string[]): string {
  const w = [...words];
  if (w[0] === '-A') w[0] = '-a';
  if (w[0] === '-a' && w[1]) {
    const parts = w[1].split(',');
    if (parts.length === 2 && ['always', 'never'].includes(parts[1] ?? '')) w[1] = `${parts[1]},${parts[0]}`;
    for (let i = 2; i < w.length - 1; i++) {
      if (w[i] === '-k') {
        w.splice(i, 2, '-F', `key=${w[i + 1]}`);
      }
    }
  }
  return w.join(' ');
}
