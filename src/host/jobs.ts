/**
 * The job protocol: what crosses between whoever plans a run and whoever does one host's work,
 * in this process or on a queue worker. A sweep job (SweepJobData), one play on one host
 * (PlayJobData, the run's shared PlayRunData; RemotePlayRequest/Reply in process), their
 * replies, and the host state a play hands to the next (HostState). Plain JSON: on a queue they
 * travel inside the coordinator's and the worker's signed envelopes (src/distributed/queue.ts
 * SignedJob/SignedResult, signing.ts). Nothing secret: connection details and secrets come from
 * the worker's own inventory.
 */
import type { Diagnosis } from '../diagnosis/types.js';
import type { HostFacts } from '../facts/types.js';
import type { HostResult, HostTarget } from '../results/index.js';
import type { Vars } from '../playbook/vars.js';
import type { Policy } from '../policy/types.js';

export interface PlaybookHost extends HostTarget {
  /** Inventory host vars (group vars merged), lowest precedence. */
  vars: Vars;
}

/**
 * What persists for a host across tasks and plays (Ansible's hostvars). Plain JSON: in
 * distributed mode it travels between plays through the queue.
 */
export interface HostState {
  registered: Record<string, unknown>;
  /** set_fact: above play vars, below -e (as in Ansible), for the rest of the playbook. */
  setFacts: Record<string, unknown>;
  facts?: HostFacts;
  diagnosis?: Diagnosis;
  /** `ansible_facts` gathered by setup / package_facts / service_facts, for the rest of the playbook. */
  ansibleFacts?: Record<string, unknown>;
  /**
   * Names of set_facts and registered results holding a value derived from a secret (a copy, a
   * templated string): secrets for the rest of the run (src/secrets/taint.ts).
   */
  tainted?: string[];
}

/** A host before its first play: nothing registered, no set_fact. */
export function emptyState(): HostState {
  return { registered: {}, setFacts: {} };
}

/** One play on one host, asked of another process (distributed mode). */
export interface RemotePlayRequest {
  playIndex: number;
  batchIndex: number;
  host: PlaybookHost;
  batch: { size: number; hostsInPlay: number };
  /** The host's state before this play (JSON). */
  state: HostState;
}

/** The answer to a RemotePlayRequest: the host's result for the play and its new state. */
export interface RemotePlayReply {
  result: HostResult;
  /** The host's state after this play (registered vars, set_facts, facts, diagnosis). */
  state: HostState;
}

export interface SweepJobData {
  v: 1;
  kind: 'sweep';
  run: string;
  host: string;
  samples: number;
  intervalMs: number;
  /** The run's fact-script nonce (not a secret: it only keeps host output from forging sections). */
  nonce: string;
  policy?: Policy;
}

/**
 * One play of a playbook run on one host. The playbook itself is in the run's key (runKeyOf),
 * written once per run; the host's state (registered vars, set_facts, facts) travels with each
 * job, redacted like the store and masked of every secret the worker knows.
 */
export interface PlayJobData {
  v: 1;
  kind: 'play';
  run: string;
  host: string;
  playIndex: number;
  batchIndex: number;
  batch: { size: number; hostsInPlay: number };
  state: HostState;
}

/** What every play job of a run shares, under runKeyOf(run): nothing secret. */
export interface PlayRunData {
  v: 1;
  /** The playbook's path as the coordinator named it (positions say file:line) and its text. */
  file: string;
  source: string;
  /** Extra vars without secret-named ones (a worker adds its own `-e`). */
  extraVars: Vars;
  check: boolean;
  diff: boolean;
  /** `--watch SECONDS` of the coordinator's run (the plays' own `watch:` otherwise). */
  watch?: number;
  tags?: string[];
  skipTags?: string[];
  nonce: string;
}

export type HostJobData = SweepJobData | PlayJobData;

export interface HostJobResult {
  result: HostResult;
  worker: string;
}

export interface PlayJobResult extends HostJobResult {
  state: HostState;
  /** Indexes into result.tasks of the tasks that ran (the coordinator emits their events). */
  emitted: number[];
}
