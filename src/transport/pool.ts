/**
 * A warm fleet (issue 25): the SSH connections of a process that lives long (`schedule`,
 * `worker`) kept between runs, one per host, so a repeated sweep costs one exec per host and no
 * login. A login is not only slow on the hosts that matter (a key exchange, ~90 ms of host CPU;
 * 10-25 s behind a full audit queue): PAM and sshd write USER_AUTH, USER_ACCT, CRED_ACQ, LOGIN,
 * USER_START, USER_LOGIN (and CRED_DISP, USER_END at logout) plus sshd's and the shell's execs
 * into the queue that is already full (kernel-6.1-queue §10-11). A probe on a warm connection
 * adds only its own exec records.
 *
 * What is never reused: a connection that dropped, one that saw the host reboot (two boot_ids),
 * one whose inventory entry changed (the key below holds every field that decides where and as
 * whom we log in), one whose host key this run's known_hosts no longer accepts. Each run leases
 * the connection (PooledTransport) with its own spec: its become password and masks live in the
 * lease, never in the pool, so a warm connection holds no more secrets between runs than a cold
 * run keeps (none).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { FleetmendError } from '../errors.js';
import { systemClock, type Clock } from '../executor/clock.js';
import { maskerFor, SecretValues } from '../secrets/index.js';
import { BastionPool } from './bastions.js';
import { fdBudget } from './fd-budget.js';
import { KeptShell, keptShellCommand, keptShellKey } from './kept-shell.js';
import { KnownHostsCache, type KnownHosts } from './knownhosts.js';
import { Ssh2Transport } from './ssh2.js';
import type { ConnectionSpec, ExecOptions, ExecResult, Transport, TransportLogger } from './types.js';

/** OpenSSH's MaxSessions default: channels at once on one connection before the server refuses. */
export const DEFAULT_MAX_CHANNELS = 10;
/** A dead connection is retried once; a MaxSessions refusal at most this many times per exec. */
const MAX_REFUSALS = 8;

export interface PoolOptions {
  /** Connections kept warm at most (`--max-warm`); the least recently used idle one goes first. */
  maxWarm: number;
  /** An idle connection is closed after this (`--warm-idle`). */
  idleTimeoutMs: number;
  /** Channels at once on one connection (under the server's MaxSessions). */
  maxChannels?: number;
  logger?: TransportLogger;
  clock?: Clock;
  /** Said once, the first time a host must be evicted for room (what bounds maxWarm). */
  capacityNote?: string;
  /** Run probes in a kept shell per connection (kept-shell.ts); false: an exec each (`--no-probe-shell`). */
  probeShell?: boolean;
}

/** What happened to the pool's connections, for tests, the bench and the worker's log. */
export interface PoolStats {
  /** Logins made (cold connects). */
  logins: number;
  /** Runs that found their host's connection warm. */
  reused: number;
  /** Execs that found their connection dead and ran on a fresh one. */
  deadRetries: number;
  /** Channel opens refused by the server (MaxSessions): waited or moved to a second connection. */
  refusedChannels: number;
  /** Connections closed because the host rebooted, its entry changed or its key is no longer accepted. */
  retired: number;
  /** Idle connections closed for --max-warm or the idle timeout. */
  evicted: number;
  /** Probes run in a kept probe shell (no session, no sudo: kept-shell.ts). */
  shellProbes: number;
  /** Probe shells started (one per connection and become user, again after one ended). */
  shellsOpened: number;
}

/** What a run lends the pool for a connect: its known_hosts (read per run), its logger and clock. */
export interface RunLinks {
  knownHosts: KnownHosts | KnownHostsCache;
  logger?: TransportLogger;
  clock?: Clock;
  /** The run's "abort everything": aborts its commands; the connection stays (it is not the run's). */
  abortSignal?: AbortSignal;
}

/** One SSH connection of a host and the channels open on it. */
class Warm {
  channels = 0;
  /** boot_id the host reported on this connection (a second one means it rebooted under us). */
  bootId: string | undefined;
  retired = false;
  /** Kept probe shells by become key (keptShellKey); each holds a channel of `limit`. */
  readonly shells = new Map<string, KeptShell>();
  /** Keys whose shell could not start (sudo refused it): their probes run as execs. */
  readonly noShell = new Set<string>();

  constructor(
    readonly transport: Ssh2Transport,
    /** Channels this connection takes at once; lowered when the server refuses one. */
    public limit: number,
  ) {}

  get usable(): boolean {
    return !this.retired && this.transport.alive;
  }

  /** Channels open now: commands' and the live probe shells'. */
  get open(): number {
    let kept = 0;
    for (const s of this.shells.values()) if (!s.ended) kept++;
    return kept + this.channels;
  }

  /** Channels for commands: the limit less what is open. */
  get free(): number {
    return this.limit - this.open;
  }

  /** Closes one idle probe shell (its channel is worth more to a command); false when none is idle. */
  dropIdleShell(): boolean {
    for (const s of this.shells.values()) {
      if (!s.usable) continue;
      s.close();
      return true;
    }
    return false;
  }
}

/** A host's connections (normally one; a second only while the server's MaxSessions is reached). */
class Entry {
  conns: Warm[] = [];
  leases = 0;
  opening: Promise<Warm> | undefined;
  idleTimer: NodeJS.Timeout | undefined;
  private waiters: (() => void)[] = [];

  constructor(
    readonly key: string,
    readonly name: string,
  ) {}

  waitForChannel(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  wakeOne(): void {
    this.waiters.shift()?.();
  }

  get live(): Warm[] {
    return this.conns.filter((w) => w.usable);
  }
}

export class ConnectionPool {
  readonly stats: PoolStats = { logins: 0, reused: 0, deadRetries: 0, refusedChannels: 0, retired: 0, evicted: 0, shellProbes: 0, shellsOpened: 0 };
  readonly maxWarm: number;
  private readonly idleTimeoutMs: number;
  private readonly maxChannels: number;
  private readonly clock: Clock;
  private readonly logger: TransportLogger | undefined;
  /** Insertion order is recency: an entry is moved to the end on every lease (LRU). */
  private readonly entries = new Map<string, Entry>();
  private readonly bastions: BastionPool;
  /** Keys the pool key's secret parts (a password that changed means a new entry) without keeping them. */
  private readonly keySalt = randomBytes(32);
  private closed = false;
  private capacityNote: string | undefined;
  private readonly probeShell: boolean;

  constructor(opts: PoolOptions) {
    this.capacityNote = opts.capacityNote;
    this.probeShell = opts.probeShell ?? true;
    this.maxWarm = Math.max(1, opts.maxWarm);
    this.idleTimeoutMs = opts.idleTimeoutMs;
    this.maxChannels = Math.max(1, opts.maxChannels ?? DEFAULT_MAX_CHANNELS);
    this.clock = opts.clock ?? systemClock;
    this.logger = opts.logger;
    // a bastion's connection lives as long as the warm connections through it (reference-counted)
    this.bastions = new BastionPool((spec) => this.newTransport(spec, undefined), (t) => t.forgetCredentials());
  }

  /** A run's transport for `spec`: connect() takes the host's warm connection or logs in once. */
  lease(spec: ConnectionSpec, links: RunLinks): Transport {
    return new PooledTransport(this, spec, links);
  }

  /** Hosts with a warm connection now. */
  get size(): number {
    return this.entries.size;
  }

  /** Open SSH connections (targets; bastions are counted apart). */
  get connections(): number {
    let n = 0;
    for (const e of this.entries.values()) n += e.conns.length;
    return n;
  }

  /** The specs the warm connections hold (tests: no password may be among them). */
  heldSpecs(): { spec: ConnectionSpec; secrets: number }[] {
    return [...this.entries.values()].flatMap((e) => e.conns.map((w) => ({ spec: w.transport.spec, secrets: w.transport.secrets.size })));
  }

  get bastionConnections(): number {
    return this.bastions.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(all.map((e) => this.closeEntry(e)));
  }

  /** The entry for `spec`, with a live connection whose host key this run accepts. */
  async checkout(spec: ConnectionSpec, links: RunLinks): Promise<Entry> {
    if (this.closed) throw new FleetmendError('E_DISCONNECTED', 'the connection pool is closed', { host: spec.name });
    const key = this.keyOf(spec);
    // taken and counted before the first await: a concurrent lease of the host finds this entry
    const entry = this.entries.get(key) ?? new Entry(key, spec.name);
    this.entries.delete(key);
    this.entries.set(key, entry);
    entry.leases++;
    clearTimeout(entry.idleTimer);
    entry.idleTimer = undefined;
    try {
      await this.retireOtherVersions(spec.name, key);
      await this.makeRoom(0);
      await this.dropUnusable(entry);
      const warm = entry.live;
      for (const w of warm) await this.verifyAgain(w, spec, links).catch(async (err: unknown) => {
        await this.retire(entry, w);
        throw err;
      });
      if (warm.length > 0) this.stats.reused++;
      else await this.open(entry, spec, links);
      return entry;
    } catch (err) {
      await this.checkin(entry);
      throw err;
    }
  }

  /** A run is done with the host: keep one connection warm (idle timer), close the rest. */
  async checkin(entry: Entry): Promise<void> {
    entry.leases--;
    if (entry.leases > 0) return;
    await this.dropUnusable(entry);
    // one connection per host between runs; a second one existed only for a busy run
    const [keep, ...extra] = entry.live;
    entry.conns = keep ? [keep] : [];
    await Promise.all(extra.map((w) => w.transport.close()));
    if (!keep || this.closed) {
      if (this.entries.get(entry.key) === entry) this.entries.delete(entry.key);
      await this.closeEntry(entry);
      return;
    }
    entry.idleTimer = setTimeout(() => void this.evict(entry), this.idleTimeoutMs);
    entry.idleTimer.unref();
    await this.makeRoom(0);
  }

  /**
   * One command on the host's connection. A connection found dead before the command started is
   * replaced and the command tried once more (counted): the cold path would have logged in and
   * run it. A channel the server refuses (MaxSessions) waits for one of ours to end, or goes to a
   * second connection when none of ours is open there: never a failed host.
   */
  async exec(entry: Entry, lease: PooledTransport, command: string, opts: ExecOptions): Promise<ExecResult> {
    if (opts.probe && opts.stdin === undefined && this.probeShell) {
      const r = await this.inKeptShell(entry, lease, command, opts);
      if (r) return r;
    }
    let retriedDead = false;
    // the connection this run used last dropped since: the command goes to a fresh one, counted
    if (lease.used && !lease.used.retired && !lease.used.transport.alive) {
      retriedDead = true;
      this.stats.deadRetries++;
    }
    for (let refusals = 0; ; ) {
      const w = await this.channel(entry, lease.spec, lease.links);
      lease.used = w;
      let refused = false;
      try {
        return await w.transport.execAs(command, opts, lease.spec.become, lease.secrets);
      } catch (err) {
        const channel = err instanceof FleetmendError ? err.details?.['channel'] : undefined;
        if (channel === 'refused' && ++refusals <= MAX_REFUSALS) {
          this.stats.refusedChannels++;
          // the server's limit is what it let us open: the others in flight on this connection
          // and its probe shells
          w.limit = Math.max(0, w.open - 1);
          refused = true;
          continue;
        }
        if (channel === 'not-opened' && !w.transport.alive && !retriedDead) {
          retriedDead = true;
          this.stats.deadRetries++;
          this.logger?.debug?.(`${entry.name}: warm connection found dead, command retried on a new one`);
          continue;
        }
        throw err;
      } finally {
        w.channels--;
        // a refusal frees nothing: the waiter woken now would only be refused again
        if (!refused) entry.wakeOne();
      }
    }
  }

  /**
   * A probe in the connection's kept shell for its become (opened on first use), or undefined
   * when it must run as an exec: no shell may be kept (a become password), the shell is busy
   * with another run's probe, could not start, or ended before the probe printed anything.
   */
  private async inKeptShell(entry: Entry, lease: PooledTransport, command: string, opts: ExecOptions): Promise<ExecResult | undefined> {
    const spec = lease.spec;
    const become = opts.become === undefined ? spec.become : { ...spec.become, enabled: opts.become };
    const key = keptShellKey(spec.user, become);
    if (key === undefined) return undefined;
    await this.dropUnusable(entry);
    const w = entry.live[0];
    if (!w || w.noShell.has(key)) return undefined;
    let shell = w.shells.get(key);
    if (shell && !shell.usable) {
      if (!shell.ended) return undefined; // busy with another run's probe
      w.shells.delete(key);
      shell = undefined;
    }
    if (!shell) {
      if (w.free <= 0) return undefined;
      const t = w.transport;
      shell = await KeptShell.open((c) => t.openChannel(c), keptShellCommand(spec.user, become), lease.links.clock ?? this.clock, spec.name).catch(() => undefined);
      if (!shell) return undefined;
      w.shells.set(key, shell);
      this.stats.shellsOpened++;
    }
    lease.used = w;
    const r = await shell.run(command, {
      timeoutMs: opts.timeoutMs ?? spec.commandTimeoutMs,
      maxOutputBytes: opts.maxOutputBytes ?? spec.maxOutputBytes,
      ...(opts.signal ? { signal: opts.signal } : {}),
      label: opts.label ?? 'the probe',
    }, lease.secrets);
    if (r) {
      this.stats.shellProbes++;
      return r;
    }
    // it never ran the probe: a shell that did not start is not tried again on this connection
    if (shell.runs === 1 && w.transport.alive) w.noShell.add(key);
    return undefined;
  }

  /** Marks the connection of a host that reported a new boot_id: closed when its run is done. */
  observeBoot(entry: Entry, w: Warm | undefined, bootId: string): void {
    if (!w) return;
    if (w.bootId !== undefined && w.bootId !== bootId && !w.retired) {
      w.retired = true;
      this.stats.retired++;
      this.logger?.debug?.(`${entry.name}: rebooted (boot_id ${w.bootId} -> ${bootId}): its connection is not reused`);
    }
    w.bootId = bootId;
  }

  /** A channel slot on a usable connection: free now, after one of ours ends, or on a new connection. */
  private async channel(entry: Entry, spec: ConnectionSpec, links: RunLinks): Promise<Warm> {
    for (;;) {
      await this.dropUnusable(entry);
      const free = entry.live.find((w) => w.free > 0);
      if (free) {
        free.channels++;
        return free;
      }
      // every connection is at its limit: wait for one of our channels, unless none is open
      // (a server that took none on this connection gets a second connection)
      const busy = entry.live.some((w) => w.channels > 0);
      if (busy) await entry.waitForChannel();
      // an idle probe shell gives its channel back before a second login is made for it
      else if (entry.live.some((w) => w.dropIdleShell())) continue;
      else await this.open(entry, spec, links);
    }
  }

  /** A login; concurrent callers for the same host share it. */
  private async open(entry: Entry, spec: ConnectionSpec, links: RunLinks): Promise<Warm> {
    if (!entry.opening) {
      entry.opening = (async () => {
        const t = this.newTransport(spec, links);
        try {
          await t.connect();
        } catch (err) {
          await t.close();
          throw err;
        }
        t.forgetCredentials();
        this.stats.logins++;
        const w = new Warm(t, this.maxChannels);
        entry.conns.push(w);
        return w;
      })().finally(() => {
        entry.opening = undefined;
      });
    }
    return entry.opening;
  }

  /**
   * The pooled connection's own spec: a copy without the become password (each run's lease
   * brings its own) and with the key's connection settings; the login credentials are dropped
   * once it is up (forgetCredentials).
   */
  private newTransport(spec: ConnectionSpec, links: RunLinks | undefined): Ssh2Transport {
    const own: ConnectionSpec = { ...spec, auth: { ...spec.auth }, become: { enabled: spec.become.enabled, ...(spec.become.user !== undefined ? { user: spec.become.user } : {}) } };
    const logger = links?.logger ?? this.logger;
    return new Ssh2Transport(own, {
      knownHosts: links?.knownHosts ?? new KnownHostsCache(logger ? { logger } : {}),
      bastions: this.bastions,
      clock: links?.clock ?? this.clock,
      ...(logger ? { logger } : {}),
    });
  }

  /**
   * The key a warm connection was verified with, checked against this run's known_hosts as a
   * cold connect would: a key removed, revoked or replaced since is refused with the same code.
   */
  private async verifyAgain(w: Warm, spec: ConnectionSpec, links: RunLinks): Promise<void> {
    const key = w.transport.hostKey;
    if (!key) return;
    const known = links.knownHosts instanceof KnownHostsCache ? await links.knownHosts.get(spec.knownHostsFile) : links.knownHosts;
    await known.verify({ host: spec.address, port: spec.port, key, policy: spec.hostKeyChecking, displayName: spec.name });
  }

  /** The inventory entry changed (address, user, key, jump, become...): its old connections go. */
  private async retireOtherVersions(name: string, key: string): Promise<void> {
    for (const e of [...this.entries.values()]) {
      if (e.name !== name || e.key === key || e.leases > 0) continue;
      this.entries.delete(e.key);
      this.stats.retired += e.conns.length;
      await this.closeEntry(e);
    }
  }

  /** Evict least recently used idle hosts until `free` more fit under maxWarm. */
  private async makeRoom(free = 1): Promise<void> {
    for (const e of [...this.entries.values()]) {
      if (this.entries.size + free <= this.maxWarm) return;
      if (e.leases > 0) continue;
      if (this.capacityNote) this.logger?.warn(this.capacityNote);
      this.capacityNote = undefined;
      await this.evict(e);
    }
  }

  private async evict(entry: Entry): Promise<void> {
    if (entry.leases > 0 || this.entries.get(entry.key) !== entry) return;
    this.entries.delete(entry.key);
    this.stats.evicted++;
    await this.closeEntry(entry);
  }

  private async retire(entry: Entry, w: Warm): Promise<void> {
    w.retired = true;
    this.stats.retired++;
    await this.dropUnusable(entry);
  }

  /** Closes and forgets connections that dropped or were retired (and have no channel open). */
  private async dropUnusable(entry: Entry): Promise<void> {
    const gone = entry.conns.filter((w) => !w.usable && w.channels === 0);
    if (!gone.length) return;
    entry.conns = entry.conns.filter((w) => !gone.includes(w));
    await Promise.all(gone.map((w) => w.transport.close()));
  }

  private async closeEntry(entry: Entry): Promise<void> {
    clearTimeout(entry.idleTimer);
    const conns = entry.conns;
    entry.conns = [];
    await Promise.all(conns.map((w) => w.transport.close()));
  }

  /**
   * Everything that decides where and as whom a connection logs in: a change in any of them is
   * another entry, never the old connection. Passwords enter only as a salted MAC (a password
   * that changed must not reuse a login made with the old one; the pool keeps no password).
   * The become password is not part of it: each run's lease supplies it.
   */
  private keyOf(spec: ConnectionSpec): string {
    const mac = (v: string | undefined) => (v === undefined ? null : createHmac('sha256', this.keySalt).update(v).digest('base64'));
    const { auth, become } = spec;
    return JSON.stringify([
      spec.name,
      spec.address,
      spec.port,
      spec.user,
      auth.privateKeyFile ?? null,
      auth.identityFiles ?? null,
      auth.agentSocket ?? null,
      auth.useAgent ?? null,
      mac(auth.password),
      mac(auth.passphrase),
      become.enabled,
      become.user ?? null,
      spec.knownHostsFile,
      spec.hostKeyChecking,
      spec.keepaliveIntervalMs,
      spec.jump ? this.keyOf(spec.jump) : null,
    ]);
  }
}

/**
 * One run's view of a host's warm connection: the run's spec (its become password, its masks,
 * its timeouts and output cap) over the pool's connection. close() hands the connection back.
 */
export class PooledTransport implements Transport {
  readonly secrets: SecretValues;
  /** The connection the last command ran on (its boot_id observations go there). */
  used: Warm | undefined;
  private entry: Promise<Entry> | undefined;
  private released = false;

  constructor(
    private readonly pool: ConnectionPool,
    readonly spec: ConnectionSpec,
    readonly links: RunLinks,
  ) {
    this.secrets = maskerFor(spec);
  }

  get connectedAddress(): string | undefined {
    return this.used?.transport.connectedAddress;
  }

  async connect(): Promise<void> {
    if (this.released) throw new FleetmendError('E_DISCONNECTED', 'transport is closed', { host: this.spec.name });
    this.entry ??= this.pool.checkout(this.spec, this.links).then((e) => {
      this.used = e.live[0];
      return e;
    });
    this.entry.catch(() => (this.entry = undefined));
    await this.entry;
  }

  async exec(command: string, execOpts: ExecOptions = {}): Promise<ExecResult> {
    await this.connect();
    const entry = await this.entry!;
    const runAbort = this.links.abortSignal;
    const signal = runAbort && execOpts.signal ? AbortSignal.any([execOpts.signal, runAbort]) : (execOpts.signal ?? runAbort);
    // this run's timeout and cap, not those of the run that opened the connection
    const opts: ExecOptions = {
      ...execOpts,
      timeoutMs: execOpts.timeoutMs ?? this.spec.commandTimeoutMs,
      maxOutputBytes: execOpts.maxOutputBytes ?? this.spec.maxOutputBytes,
      ...(signal ? { signal } : {}),
    };
    return this.pool.exec(entry, this, command, opts);
  }

  /** The host's boot_id as a sample read it: a second, different one retires the connection. */
  observeBootId(bootId: string): void {
    const entry = this.entry;
    if (!entry) return;
    void entry.then((e) => this.pool.observeBoot(e, this.used, bootId), () => undefined);
  }

  async close(): Promise<void> {
    if (this.released) return;
    this.released = true;
    const entry = await this.entry?.catch(() => undefined);
    if (entry) await this.pool.checkin(entry);
  }
}

export interface WarmPoolOptions {
  /** `--max-warm`; default: as many as the file descriptor budget allows. */
  maxWarm?: number;
  /** `--no-probe-shell`: false runs every probe as an exec of its own. */
  probeShell?: boolean;
  idleTimeoutMs: number;
  logger: TransportLogger;
  clock?: Clock;
}

/** Far above any fleet: without --max-warm, the descriptor budget is the bound. */
const UNBOUNDED = 1_000_000;

/**
 * The pool of a long-lived process, sized to RLIMIT_NOFILE (fd-budget.ts): a --max-warm that
 * does not fit is lowered with a warning naming the limit; without --max-warm the budget is the
 * bound, and the first host evicted for it says so.
 */
export function openWarmPool(o: WarmPoolOptions): ConnectionPool {
  const budget = fdBudget(o.maxWarm ?? UNBOUNDED);
  if (o.maxWarm !== undefined && budget.warning) o.logger.warn(budget.warning);
  const limit = budget.limit ? `RLIMIT_NOFILE (Max open files) soft ${budget.limit.soft}, hard ${budget.limit.hard}` : 'the file descriptor limit';
  const capacityNote =
    o.maxWarm !== undefined && !budget.warning
      ? `the fleet does not fit --max-warm ${o.maxWarm}: the least recently used hosts log in again on their next run`
      : `the fleet does not fit ${limit}: at most ${budget.maxWarm} connections are kept warm, the least recently used hosts log in again on their next run (raise the hard limit: ulimit -Hn, LimitNOFILE=)`;
  return new ConnectionPool({ maxWarm: budget.maxWarm, idleTimeoutMs: o.idleTimeoutMs, logger: o.logger, capacityNote, ...(o.probeShell === false ? { probeShell: false } : {}), ...(o.clock ? { clock: o.clock } : {}) });
}
