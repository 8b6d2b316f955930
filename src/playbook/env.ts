/**
 * What one play on one host runs with: the caller's options (PlayHostOptions), the run's
 * environment shared by every host of this process (Env: clock, templater, fact probe, states),
 * and one host's task context within a play (TaskRun).
 */
import { systemClock, type Clock } from '../executor/clock.js';
import type { RunEventListener } from '../results/index.js';
import type { Transport } from '../transport/types.js';
import { factsProbe, type FactsProbe, type HostSession } from '../host/index.js';
import { Templater } from './template.js';
import type { Play } from './types.js';
import type { Vars } from './vars.js';
import type { HostState, PlaybookHost } from './protocol.js';

/** What running one play on one host needs (in this process, or on a queue worker). */
export interface PlayHostOptions {
  /** A new, connected Transport to the host. Called again by `reboot` to wait for the host. */
  connect(host: PlaybookHost): Promise<Transport>;
  extraVars?: Vars;
  check?: boolean;
  diff?: boolean;
  /** `--watch SECONDS`: every play's watch (0: none), over the play's own `watch:`. */
  watch?: number;
  /** Run only tasks with one of these tags / skip tasks with one of these. */
  tags?: readonly string[];
  skipTags?: readonly string[];
  clock?: Clock;
  onEvent?: RunEventListener;
  /** Interval between the two samples the panic/growth guards take (default 2000 ms). */
  guardSampleMs?: number;
  nonce?: string;
  /** Aborted: no new task or batch starts (SIGINT). */
  signal?: AbortSignal;
  /**
   * Every inventory host (for `groups` and `hostvars`). Default: the hosts of `selectHosts('all')`
   * in a local run, the host alone on a worker.
   */
  allHosts?: readonly PlaybookHost[];
}

/** The run's side of every host's play in this process (a worker makes one per play job). */
export interface Env {
  opts: PlayHostOptions;
  clock: Clock;
  templater: Templater;
  /** The run's fact script (one nonce per run), shared by every host's session. */
  probe: FactsProbe;
  guardSampleMs: number;
  emit: RunEventListener;
  states: Map<string, HostState>;
  /** Connections a play's health check opened (max_unavailable), each taken once by the host's play. */
  preconnected: Map<string, Transport>;
}

/** One host within one play: what each of its tasks is run against. */
export interface TaskRun {
  play: Play;
  host: PlaybookHost;
  vars: Vars;
  state: HostState;
  /** The host's session: its current transport (reboot replaces it) and cached facts. */
  session: HostSession;
  batchSize: number;
  hostsInPlay: number;
  /** Magic variables of the play for this host: groups, hostvars, ansible_play_hosts, ... */
  magic: Record<string, unknown>;
}

/** The environment for `opts`: one templater and one fact probe (one nonce) for all its hosts. */
export function createEnv(opts: PlayHostOptions): Env {
  return {
    opts,
    clock: opts.clock ?? systemClock,
    templater: new Templater(),
    probe: factsProbe(opts.nonce),
    guardSampleMs: opts.guardSampleMs ?? 2000,
    emit: opts.onEvent ?? (() => undefined),
    states: new Map(),
    preconnected: new Map(),
  };
}
