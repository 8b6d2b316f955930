/**
 * Wiring for a run: one KnownHostsCache (each known_hosts file read once), one KeyCache (each key
 * file decrypted once) and one BastionPool (bastion connections shared by all targets behind
 * them, reference-counted) per factory.
 */
import type { Clock } from '../executor/clock.js';
import { KeyCache } from './auth.js';
import { KnownHosts, KnownHostsCache } from './knownhosts.js';
import { Ssh2Transport, type BastionLease, type BastionProvider } from './ssh2.js';
import type { ConnectionSpec, TransportLogger } from './types.js';

function specKey(spec: ConnectionSpec): string {
  const own = `${spec.user}@${spec.address}:${spec.port}`;
  return spec.jump ? `${specKey(spec.jump)}>${own}` : own;
}

/** One connection per bastion, shared by the targets dialled through it; closed by the last user. */
export class BastionPool implements BastionProvider {
  private readonly entries = new Map<string, { transport: Ssh2Transport; refs: number }>();

  constructor(private readonly make: (spec: ConnectionSpec) => Ssh2Transport) {}

  async acquire(spec: ConnectionSpec): Promise<BastionLease> {
    const key = specKey(spec);
    let entry = this.entries.get(key);
    if (entry && entry.refs > 0 && entry.transport.alive === false && entry.transport.connectedAddress !== undefined) {
      // the shared bastion connection died: start a fresh one for newcomers
      this.entries.delete(key);
      entry = undefined;
    }
    if (!entry) {
      entry = { transport: this.make(spec), refs: 0 };
      this.entries.set(key, entry);
    }
    entry.refs++;
    const current = entry;
    let released = false;
    const release = async (): Promise<void> => {
      if (released) return;
      released = true;
      current.refs--;
      if (current.refs === 0) {
        if (this.entries.get(key) === current) this.entries.delete(key);
        await current.transport.close();
      }
    };
    try {
      await current.transport.connect();
    } catch (e) {
      await release();
      throw e;
    }
    return { transport: current.transport, release };
  }

  /** Number of live bastion connections (for tests and diagnostics). */
  get size(): number {
    return this.entries.size;
  }
}

export interface TransportFactoryOptions {
  logger?: TransportLogger;
  /** Share an existing cache or a single loaded file; default: a new cache. */
  knownHosts?: KnownHostsCache | KnownHosts;
  /** Write accept-new entries hashed. */
  hashKnownHosts?: boolean;
  /** Aborts every command and closes every connection of the run (second SIGINT). */
  abortSignal?: AbortSignal;
  /** The run's clock, for every transport's deadlines and durations (default: the system clock). */
  clock?: Clock;
}

export class TransportFactory {
  readonly knownHosts: KnownHostsCache | KnownHosts;
  readonly bastions: BastionPool;
  readonly keys = new KeyCache();
  private readonly logger: TransportLogger | undefined;
  private readonly abortSignal: AbortSignal | undefined;
  private readonly clock: Clock | undefined;

  constructor(opts: TransportFactoryOptions = {}) {
    this.logger = opts.logger;
    this.clock = opts.clock;
    this.abortSignal = opts.abortSignal;
    this.knownHosts =
      opts.knownHosts ??
      new KnownHostsCache({ ...(opts.logger ? { logger: opts.logger } : {}), ...(opts.hashKnownHosts !== undefined ? { hashNewEntries: opts.hashKnownHosts } : {}) });
    this.bastions = new BastionPool((spec) => this.create(spec));
  }

  create(spec: ConnectionSpec): Ssh2Transport {
    return new Ssh2Transport(spec, {
      knownHosts: this.knownHosts,
      bastions: this.bastions,
      keys: this.keys,
      ...(this.logger ? { logger: this.logger } : {}),
      ...(this.abortSignal ? { abortSignal: this.abortSignal } : {}),
      ...(this.clock ? { clock: this.clock } : {}),
    });
  }

  /** Create and connect; on failure nothing stays open. */
  async connect(spec: ConnectionSpec): Promise<Ssh2Transport> {
    const t = this.create(spec);
    try {
      await t.connect();
    } catch (e) {
      await t.close();
      throw e;
    }
    return t;
  }
}
