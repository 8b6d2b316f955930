/**
 * What crosses between the play loop (run.ts) and whoever runs one play on one host, in this
 * process or on a queue worker (src/distributed wraps these in its signed PlayJobData): the host,
 * the state it carries from play to play, and the request and reply of one play. Plain JSON.
 */
import type { Diagnosis } from '../diagnosis/types.js';
import type { HostFacts } from '../facts/types.js';
import type { HostResult, HostTarget } from '../results/index.js';
import type { Vars } from './vars.js';

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
