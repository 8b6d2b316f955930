/**
 * What `when`, templates, `changed_when`, `failed_when` and `assert` see for one host and task:
 * the policy scope of the last `audit_status`, then variables (also under `vars`), registered
 * results, `ansible_facts` and the magic variables. Variables from the inventory, play `vars` and
 * `-e` are templated when read, as Ansible does (`greeting: "hi {{ inventory_hostname }}"`);
 * set_fact values, registered results and facts are host data and never templated.
 */
import { FleetmendError } from '../errors.js';
import { Undefined } from '../expr/index.js';
import { policyScope } from '../policy/scope.js';
import type { HostTarget } from '../results/index.js';
import type { HostFacts } from '../facts/types.js';
import type { Diagnosis } from '../diagnosis/types.js';
import { ansibleFactsOf, injectedFactVars } from '../facts/ansible-facts.js';
import { OMIT } from './template.js';
import type { Vars } from './vars.js';

export type Scope = Record<string, unknown>;

/** Which variables are templated on read, and how (the run's Templater, no shell dialect). */
export interface LazyTemplating {
  names: ReadonlySet<string>;
  render(value: unknown, scope: Scope): unknown;
}

interface ScopeState {
  registered: Record<string, unknown>;
  facts?: HostFacts;
  diagnosis?: Diagnosis;
  /** What setup / package_facts / service_facts gathered (HostState). */
  ansibleFacts?: Record<string, unknown>;
}

/** Sets an own data property, also over a lazy (getter) one. */
function setOwn(obj: Scope, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
}

/**
 * The scope with `extra` on top (a loop item, `result`), keeping lazy variables lazy: a spread
 * would read, and so template, every one of them.
 */
export function extendScope(scope: Scope, extra: Record<string, unknown>): Scope {
  const out: Scope = Object.defineProperties({}, Object.getOwnPropertyDescriptors(scope));
  for (const [k, v] of Object.entries(extra)) setOwn(out, k, v);
  return out;
}

function hasTemplate(v: unknown): boolean {
  if (typeof v === 'string') return /\{[{%#]/.test(v);
  if (Array.isArray(v)) return v.some(hasTemplate);
  if (v && typeof v === 'object') return Object.values(v).some(hasTemplate);
  return false;
}

/**
 * A variable whose value holds a template, rendered when read against the scope it is read from
 * (so a loop's `item` is seen) and kept there. A template that uses an undefined variable makes
 * this one undefined too (`x is defined` is false, any use names both), as in Ansible.
 */
function defineLazy(scope: Scope, name: string, raw: unknown, lazy: LazyTemplating, busy: Set<string>): void {
  Object.defineProperty(scope, name, {
    enumerable: true,
    configurable: true,
    get(this: Scope): unknown {
      if (busy.has(name)) throw new FleetmendError('E_TEMPLATE', `recursive loop: the value of '${name}' uses itself (${JSON.stringify(raw).slice(0, 200)})`);
      busy.add(name);
      let value: unknown;
      try {
        value = lazy.render(raw, this);
      } catch (err) {
        if (!(err instanceof FleetmendError) || err.code !== 'E_UNDEFINED') throw err;
        const reason = typeof err.details?.reason === 'string' ? err.details.reason : err.message;
        value = new Undefined(`${reason} (in the value of '${name}')`);
      } finally {
        busy.delete(name);
      }
      setOwn(this, name, value);
      return value;
    },
  });
}

function defineVars(scope: Scope, vars: Vars, lazy: LazyTemplating | undefined): void {
  const busy = new Set<string>();
  for (const [k, v] of Object.entries(vars)) {
    if (lazy?.names.has(k) && hasTemplate(v)) defineLazy(scope, k, v, lazy, busy);
    else setOwn(scope, k, v);
  }
}

/**
 * `magic`: the play's magic variables for this host and task (groups, hostvars,
 * ansible_play_hosts, role_name, ... : host-play.ts, task.ts), set over everything else as Ansible reserves them.
 */
export function buildScope(host: HostTarget, vars: Vars, state: ScopeState, check: boolean, lazy?: LazyTemplating, magicVars: Record<string, unknown> = {}): Scope {
  const samples = state.facts?.samples ?? [];
  const last = samples[samples.length - 1];
  const facts = state.facts && state.diagnosis ? policyScope(state.facts, state.diagnosis) : {};
  const ansibleFacts = { ...ansibleFactsOf(last), ...state.ansibleFacts };
  const scope: Scope = { ...facts, ...(last ? { facts: last } : {}) };
  defineVars(scope, vars, lazy);
  // Ansible's `vars` is the raw mapping: `{{ vars.x }}` is not templated again (ansible-core 2.14)
  setOwn(scope, 'vars', vars);
  for (const [k, v] of Object.entries(state.registered)) setOwn(scope, k, v);
  const magic: Record<string, unknown> = {
    inventory_hostname: host.name,
    inventory_hostname_short: host.name.split('.')[0],
    group_names: host.groups ?? [],
    check_mode: check,
    ansible_check_mode: check,
    omit: OMIT,
    ansible_facts: ansibleFacts,
    ...(last || state.ansibleFacts ? injectedFactVars(ansibleFacts) : {}),
    ...magicVars,
  };
  for (const [k, v] of Object.entries(magic)) setOwn(scope, k, v);
  return scope;
}

/** What the play's magic variables are built from (host-play.ts playMagic). */
export interface PlayMagicInput {
  /** Every inventory host known to this run, with its inventory vars. */
  allHosts: readonly (HostTarget & { vars: Vars })[];
  /** Each host's set_facts and registered results so far. */
  stateOf(host: string): { setFacts: Record<string, unknown>; registered: Record<string, unknown> } | undefined;
  playHosts: readonly string[];
  batchHosts: readonly string[];
  tags: readonly string[];
  skipTags: readonly string[];
  playbookDir: string;
}

/** `groups`: each group's hosts, `all` included, from the inventory hosts' memberships. */
function groupsOf(hosts: readonly HostTarget[]): Record<string, string[]> {
  const out: Record<string, string[]> = { all: hosts.map((h) => h.name) };
  for (const h of hosts) for (const g of h.groups ?? []) if (g !== 'all') (out[g] ??= []).push(h.name);
  return out;
}

/**
 * `hostvars`: another host's variables, read only (Ansible's HostVars is a read-only mapping).
 * Each host's view is built when first read: inventory vars, then its set_facts and registered
 * results at that moment. Values are the raw ones (not templated on read).
 */
function hostvarsOf(input: PlayMagicInput): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const h of input.allHosts) {
    Object.defineProperty(out, h.name, {
      enumerable: true,
      get: () => {
        const st = input.stateOf(h.name);
        return Object.freeze({ ...h.vars, ...(st?.setFacts ?? {}), ...(st?.registered ?? {}), inventory_hostname: h.name, group_names: h.groups ?? [] });
      },
    });
  }
  return Object.freeze(out);
}

/** The magic variables that are the same for every task of a play on a host. */
export function playMagicVars(input: PlayMagicInput): Record<string, unknown> {
  return {
    groups: groupsOf(input.allHosts),
    hostvars: hostvarsOf(input),
    ansible_play_hosts: [...input.playHosts],
    ansible_play_hosts_all: [...input.playHosts],
    ansible_play_batch: [...input.batchHosts],
    // Ansible: play_hosts is the deprecated name of ansible_play_batch
    play_hosts: [...input.batchHosts],
    ansible_run_tags: input.tags.length ? [...input.tags] : ['all'],
    ansible_skip_tags: [...input.skipTags],
    playbook_dir: input.playbookDir,
  };
}
