/**
 * The audit model of one simulated machine: the kernel's audit subsystem (backlog queue,
 * lost counter, wait time, failure mode, lock), the auditd daemon, the persistent
 * configuration (read from the machine's filesystem), the kernel log and the power/boot
 * cycle. Time is lazy: state is computed on read from the elapsed clock time, in closed
 * form, so 5,000 idle hosts cost nothing (no per-host timers). Semantics: reference §3–§5
 * and the real-kernel fixtures.
 */
import type { SimClock } from './clock.js';
import { KernelLog, RATELIMIT_BURST, RATELIMIT_INTERVAL_MS, RateLimitWindow, type KlogEntry } from './klog.js';
import { Rng } from './rng.js';
import type { VirtualFs } from './vfs.js';

export type Flavour = 'debian' | 'rhel';
export type AuditdState = 'running' | 'stuck' | 'stopped';
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
  /** Records/s still lost while tasks wait in the kernel (wait time > 0); observed ≈ 60/s. */
  stalledLossRate?: number;
  /** How fast backlog_wait_time_actual grows while tasks wait (ticks/s); observed ≈ 500/s. */
  stalledWaitTicksPerSec?: number;
  /** Login (auth) delay on a stalled host, and the extra time every command takes there. */
  stalledLoginDelayMs?: number;
  stalledCommandDelayMs?: number;
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

export const BYTES_PER_BUFFER = 8970;
const KERNEL_DEFAULT_LIMIT = 64;
const KERNEL_DEFAULT_WAIT = 60000;
const DRAIN_MIN_RATE = 4000;
/** With the default wait time the panic after `-f 2` came ≈ 11 s later (reference §3). */
const DELAYED_PANIC_MS = 11_000;

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

  eventRate: number;
  kernelPanic: number;
  downtimeMs: number;
  stalledLossRate: number;
  stalledWaitTicksPerSec: number;
  stalledLoginDelayMs: number;
  stalledCommandDelayMs: number;
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
  private lostF: number;
  private waitActualF: number;
  private nextPid: number;
  private readonly lossWindow = new RateLimitWindow();
  private readonly skbWindow = new RateLimitWindow();
  private retryOverflowShown = false;
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
    this.kernelPanic = opts.kernelPanic;
    this.downtimeMs = opts.downtimeMs;
    this.shutdownDelayMs = opts.shutdownDelayMs ?? 300;
    this.stalledLossRate = opts.stalledLossRate ?? 60;
    this.stalledWaitTicksPerSec = opts.stalledWaitTicksPerSec ?? 500;
    this.stalledLoginDelayMs = opts.stalledLoginDelayMs ?? 3000;
    this.stalledCommandDelayMs = opts.stalledCommandDelayMs ?? 200;
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
    if (this.power === 'up' && this.settings.failure === 2 && this.auditd.state === 'stuck' && this.generating()) {
      // In panic mode the first lost record panics: tell the server when that will be.
      const fillS = Math.max(0, (this.settings.backlogLimit + 1 - this.backlogF) / this.eventRate);
      cands.push({ atMs: this.t + Math.ceil(fillS * 1000), run: () => undefined });
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
    return {
      ...this.settings,
      pid: this.auditd.pid,
      lost: Math.floor(this.lostF),
      backlog: Math.floor(this.backlogF),
      backlogWaitTimeActual: Math.floor(this.waitActualF),
    };
  }

  /** Records are being dropped right now: auditing on, nobody draining, queue over the limit. */
  isLosing(): boolean {
    this.sync();
    return this.generating() && this.auditd.state === 'stuck' && this.backlogF > this.settings.backlogLimit;
  }

  /** Tasks sleep in audit_log_start (wait time > 0 while losing): the "frozen host" symptom. */
  isStalled(): boolean {
    return this.isLosing() && this.settings.backlogWaitTime > 0;
  }

  /**
   * Tasks asleep in audit_log_start right now, for /proc/PID/wchan (fleetmend's probe counts
   * them). A fixed stand-in while stalled, until the 6.1 waiter model (one task per blocked
   * record, released one per kauditd pass) replaces it.
   */
  blockedTaskCount(): number {
    return this.power === 'up' && this.isStalled() ? 4 : 0;
  }

  loginDelayMs(): number {
    return this.power === 'up' && this.isStalled() ? this.stalledLoginDelayMs : 0;
  }

  commandDelayMs(): number {
    return this.power === 'up' && this.isStalled() ? this.stalledCommandDelayMs : 0;
  }

  uptimeMs(): number {
    return Math.max(0, this.clock.now() - this.bootAtMs);
  }

  memAvailableNowKb(): number {
    return Math.max(0, Math.round(this.memAvailableKb - (this.backlog * BYTES_PER_BUFFER) / 1024));
  }

  // ---------------------------------------------------------------- the queue over time

  private generating(): boolean {
    return this.settings.enabled !== 0 && this.eventRate > 0;
  }

  private steadyBacklog(): number {
    // A busy host with a healthy daemon always has a few records in flight.
    return Math.min(this.settings.backlogLimit, Math.floor(this.eventRate / 250));
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

  private advanceTo(t1: number): void {
    if (t1 <= this.t) return;
    const t0 = this.t;
    const dtS = (t1 - t0) / 1000;
    this.t = t1;
    if (!this.generating()) return this.drain(dtS, 0);
    if (this.auditd.state === 'running') {
      this.retryOverflowShown = false;
      return this.drain(dtS, this.steadyBacklog());
    }
    if (this.auditd.state === 'stopped') {
      // No daemon registered: kauditd prints the records to the kernel log instead (§5).
      this.drain(dtS, 0);
      this.emitPrintkRecords(t0, t1);
      return;
    }
    const cap = this.settings.backlogLimit + 1;
    let lossStart = t0;
    if (this.backlogF < cap) {
      const fillS = (cap - this.backlogF) / this.eventRate;
      if (fillS > dtS) {
        this.backlogF += this.eventRate * dtS;
        return;
      }
      this.backlogF = cap;
      lossStart = t0 + fillS * 1000;
    }
    if (this.settings.failure === 2) {
      // audit_panic(): the first record that cannot be queued brings the machine down.
      this.t = lossStart;
      const reason = this.settings.backlogWaitTime > 0 ? 'kauditd retry queue overflow' : 'backlog limit exceeded';
      this.panic(reason);
      return;
    }
    const stalled = this.settings.backlogWaitTime > 0;
    const lossRate = stalled ? Math.min(this.eventRate, this.stalledLossRate) : this.eventRate;
    this.emitLossLines(lossStart, t1, lossRate, stalled);
    const lossS = (t1 - lossStart) / 1000;
    this.lostF += lossRate * lossS;
    if (stalled) this.waitActualF += this.stalledWaitTicksPerSec * lossS;
  }

  // ---------------------------------------------------------------- kernel log

  private log(wallMs: number, text: string, extraUs = 0): void {
    const monoUs = Math.max(0, Math.round((wallMs - this.bootAtMs) * 1000) + extraUs);
    this.klog.push({ monoUs, wallMs, text });
  }

  /**
   * The lines audit_log_lost()/audit_log_start() print while records are lost, through the
   * printk rate limit (10 per 5 s). wait 0: `audit_backlog=A > audit_backlog_limit=L`,
   * `audit_lost=N ...`, and with failure ≥ 1 `backlog limit exceeded`; wait > 0: the records
   * fail in kauditd: `audit_lost=N ...` + `kauditd retry|hold queue overflow`.
   */
  private emitLossLines(a: number, b: number, lossRate: number, stalled: boolean): void {
    const s = this.settings;
    const win = this.lossWindow;
    const prefix = stalled ? 'kauditd_printk_skb' : 'audit_log_start';
    const perLoss = stalled ? (s.failure >= 1 ? 2 : 1) : s.failure >= 1 ? 3 : 2;
    const lostAt = (t: number) => Math.floor(this.lostF + (lossRate * (t - a)) / 1000);
    let cursor = a;
    const maxSpan = (KLOG_WINDOWS_KEPT + 1) * RATELIMIT_INTERVAL_MS;
    if (b - cursor > maxSpan) {
      // Older windows would fall off the ring anyway: count them as suppressed, skip work.
      const skipTo = b - maxSpan;
      win.suppressed += Math.round(((lossRate * (skipTo - cursor)) / 1000) * perLoss);
      win.start = skipTo - RATELIMIT_INTERVAL_MS;
      cursor = skipTo;
    }
    while (cursor < b) {
      if (cursor >= win.start + RATELIMIT_INTERVAL_MS) {
        let us = 0;
        if (win.suppressed > 0) this.log(cursor, `${prefix}: ${win.suppressed} callbacks suppressed`, us++);
        win.start = cursor;
        win.printed = 0;
        win.suppressed = 0;
        const end = Math.min(b, cursor + RATELIMIT_INTERVAL_MS);
        const losses = Math.max(1, Math.ceil((lossRate * (end - cursor)) / 1000));
        for (let k = 0; k < losses && win.printed < RATELIMIT_BURST; k++) {
          const lines = this.lossMessages(lostAt(cursor) + k + 1, stalled);
          for (const line of lines) {
            if (win.printed >= RATELIMIT_BURST) break;
            us += 150 + ((k * 37) % 90);
            this.log(cursor, line, us);
            win.printed++;
          }
        }
        if (stalled) this.retryOverflowShown = true;
      }
      const end = Math.min(b, win.start + RATELIMIT_INTERVAL_MS);
      const msgs = Math.round(((lossRate * (end - cursor)) / 1000) * perLoss);
      const printedHere = cursor === win.start ? win.printed : 0;
      win.suppressed += Math.max(0, msgs - printedHere);
      cursor = end;
    }
  }

  private lossMessages(lost: number, stalled: boolean): string[] {
    const s = this.settings;
    const lostLine = `audit: audit_lost=${lost} audit_rate_limit=${s.rateLimit} audit_backlog_limit=${s.backlogLimit}`;
    if (stalled) {
      const which = this.retryOverflowShown ? 'hold' : 'retry';
      return s.failure >= 1 ? [lostLine, `audit: kauditd ${which} queue overflow`] : [lostLine];
    }
    const backlogLine = `audit: audit_backlog=${Math.floor(this.backlogF)} > audit_backlog_limit=${s.backlogLimit}`;
    return s.failure >= 1 ? [backlogLine, lostLine, 'audit: backlog limit exceeded'] : [backlogLine, lostLine];
  }

  /** With no auditd registered, records go to printk (rate limited): `audit: type=1300 ...`. */
  private emitPrintkRecords(a: number, b: number): void {
    const win = this.skbWindow;
    let cursor = Math.max(a, b - (KLOG_WINDOWS_KEPT + 1) * RATELIMIT_INTERVAL_MS);
    while (cursor < b) {
      if (cursor >= win.start + RATELIMIT_INTERVAL_MS) {
        let us = 0;
        if (win.suppressed > 0) this.log(cursor, `kauditd_printk_skb: ${win.suppressed} callbacks suppressed`, us++);
        win.start = cursor;
        win.suppressed = 0;
        const n = Math.min(RATELIMIT_BURST, Math.max(1, Math.ceil((this.eventRate * Math.min(b - cursor, RATELIMIT_INTERVAL_MS)) / 1000)));
        for (let k = 0; k < n; k++) {
          us += 400;
          const serial = ++this.auditSerial;
          const stamp = `${Math.floor(cursor / 1000)}.${String(cursor % 1000).padStart(3, '0')}:${serial}`;
          this.log(
            cursor,
            `audit: type=1300 audit(${stamp}): arch=c000003e syscall=257 success=yes exit=3 items=1 ppid=1 pid=${this.nextPid} auid=0 uid=0 gid=0 comm="cron" exe="/usr/sbin/cron" key=(null)`,
            us,
          );
        }
        win.printed = n;
      }
      const end = Math.min(b, win.start + RATELIMIT_INTERVAL_MS);
      const recs = Math.round((this.eventRate * (end - cursor)) / 1000);
      win.suppressed += Math.max(0, recs - (cursor === win.start ? win.printed : 0));
      cursor = end;
    }
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
    this.log(at, `audit: initializing netlink subsys (${audit?.[1] === '0' ? 'disabled' : 'enabled'})`, 823_642);
    this.log(at, `audit: type=2000 audit(${Math.floor(at / 1000)}.823:1): state=initialized audit_enabled=${audit?.[1] === '0' ? 0 : 1} res=1`, 824_100);
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
      backlogWaitTime: KERNEL_DEFAULT_WAIT,
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
    const losingBefore = this.isLosing();
    this.settings[key] = value;
    // The change itself emits a CONFIG_CHANGE record; when it cannot be queued and the
    // mode is now panic, the kernel panics (observed: at once with wait 0, ≈ 11 s later with
    // the default wait, via the retry queue).
    if (key === 'failure' && value === 2 && losingBefore && this.generating()) {
      if (this.settings.backlogWaitTime > 0) {
        this.pendingPanic = { atMs: this.clock.now() + DELAYED_PANIC_MS, reason: 'kauditd retry queue overflow' };
      } else {
        this.panic('backlog limit exceeded');
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
        this.stopAuditd({ failed: true });
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
    this.log(this.clock.now(), text);
    this.console.push(...this.klog.all().slice(-6).map((e) => e.text));
    this.console.push(`---[ end ${text} ]---`);
    this.goDown('panic');
  }

  private goDown(reason: 'panic' | 'reboot'): void {
    this.scheduledReboot = null;
    this.pendingPanic = null;
    // syslog kept what it had written; a panic's own line never reaches the disk.
    for (const e of this.klog.all()) if (!e.text.startsWith('Kernel panic')) this.syslogArchive.push(e);
    if (reason === 'panic' && this.kernelPanic <= 0) {
      this.power = 'hung';
    } else {
      this.power = 'down';
      this.upAtMs = this.clock.now() + this.downtimeMs;
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
    this.lossWindow.reset();
    this.skbWindow.reset();
    this.retryOverflowShown = false;
    this.backlogF = 0;
    this.lostF = 0;
    this.waitActualF = 0;
    this.nextPid = this.rng.int(180, 1400);
    this.settings = this.bootSettings();
    this.rules = [];
    this.writeBootLog();
    this.auditd = { state: 'running', pid: this.allocPid(), pendingTerm: false, unitFailed: false };
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

/** How many rate-limit windows the ring can hold (≈ 11 lines each): older ones are skipped. */
const KLOG_WINDOWS_KEPT = 180;

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
