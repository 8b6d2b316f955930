/**
 * Wiring for a run: one KnownHostsCache (each known_hosts file read once), one KeyCache (each key
 * file decrypted once) and one BastionPool (bastion connections shared by all targets behind
 * them, reference-counted) per factory. With a ConnectionPool (a process that lives long:
 * schedule, worker) the run's transports are leases of warm connections instead (pool.ts).
 */
import type { Clock } from '../executor/clock.js';
import { FleetmendError } from '../errors.js';
import { KeyCache } from './auth.js';
import { BastionPool } from './bastions.js';
import { needsBecome } from './become.js';
import { KnownHosts, KnownHostsCache } from './knownhosts.js';
import type { ConnectionPool } from './pool.js';
import { Ssh2Transport } from './ssh2.js';
import type { ConnectionSpec, Transport, TransportLogger } from './types.js';

export { BastionPool } from './bastions.js';

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
  /** Warm connections kept by the process between runs; without it every run logs in (cold). */
  pool?: ConnectionPool;
  /**
   * A worker's rule: a command's `become: true` gets sudo only where this process's own
   * settings allow become for the host (withinOwnBecome).
   */
  ownBecomeOnly?: boolean;
}

export class TransportFactory {
  readonly knownHosts: KnownHostsCache | KnownHosts;
  readonly bastions: BastionPool;
  readonly keys = new KeyCache();
  readonly pool: ConnectionPool | undefined;
  private readonly logger: TransportLogger | undefined;
  private readonly abortSignal: AbortSignal | undefined;
  private readonly clock: Clock | undefined;
  private readonly ownBecomeOnly: boolean;

  constructor(opts: TransportFactoryOptions = {}) {
    this.logger = opts.logger;
    this.clock = opts.clock;
    this.abortSignal = opts.abortSignal;
    this.pool = opts.pool;
    this.ownBecomeOnly = opts.ownBecomeOnly ?? false;
    this.knownHosts =
      opts.knownHosts ??
      new KnownHostsCache({ ...(opts.logger ? { logger: opts.logger } : {}), ...(opts.hashKnownHosts !== undefined ? { hashNewEntries: opts.hashKnownHosts } : {}) });
    this.bastions = new BastionPool((spec) => this.cold(spec));
  }

  /** The run's transport for `spec`: a warm lease with a pool, else its own connection. */
  create(spec: ConnectionSpec): Transport {
    const t = this.pool
      ? this.pool.lease(spec, {
          knownHosts: this.knownHosts,
          ...(this.logger ? { logger: this.logger } : {}),
          ...(this.clock ? { clock: this.clock } : {}),
          ...(this.abortSignal ? { abortSignal: this.abortSignal } : {}),
        })
      : this.cold(spec);
    return this.ownBecomeOnly ? withinOwnBecome(t) : t;
  }

  /** Create and connect; on failure nothing stays open. */
  async connect(spec: ConnectionSpec): Promise<Transport> {
    const t = this.create(spec);
    try {
      await t.connect();
    } catch (e) {
      await t.close();
      throw e;
    }
    return t;
  }

  private cold(spec: ConnectionSpec): Ssh2Transport {
    return new Ssh2Transport(spec, {
      knownHosts: this.knownHosts,
      bastions: this.bastions,
      keys: this.keys,
      ...(this.logger ? { logger: this.logger } : {}),
      ...(this.abortSignal ? { abortSignal: this.abortSignal } : {}),
      ...(this.clock ? { clock: this.clock } : {}),
    });
  }
}

/**
 * A play's `become: true` gets sudo only where this process's own settings allow become for the
 * host (its inventory's ansible_become, or `worker -b`): what a coordinator sends can never
 * widen privilege beyond what the worker's operator granted. `become: false` (narrower) and
 * hosts logged in as the become user already (no sudo needed) pass through.
 */
export function withinOwnBecome(t: Transport): Transport {
  const { spec } = t;
  if (spec.become.enabled || !needsBecome(spec.user, { ...spec.become, enabled: true })) return t;
  return {
    get spec() {
      return t.spec;
    },
    get connectedAddress() {
      return t.connectedAddress;
    },
    connect: () => t.connect(),
    close: () => t.close(),
    exec: (command, execOpts) => {
      if (execOpts?.become !== true) return t.exec(command, execOpts);
      const why = `become refused on ${spec.name}: this worker does not allow become for it (set ansible_become in the worker's inventory, or start the worker with -b)`;
      return Promise.reject(new FleetmendError('E_BECOME', why, { host: spec.name }));
    },
    ...(t.observeBootId ? { observeBootId: (id: string) => t.observeBootId!(id) } : {}),
  };
}
