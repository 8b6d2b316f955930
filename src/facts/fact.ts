/**
 * One fact, one file (src/facts/defs/): the shell text that reads it inside the probe's single
 * round trip, the pure parser of that text, its empty value, and the names it exposes to
 * conditions and policy. The registry (registry.ts) builds the script, the sample and the
 * policy scope from the list, so adding a fact is its file (plus a simulator provider for the
 * files it reads).
 *
 * The script text may use builtins only (`read`, `while`, `case`, `[`, `printf`, `echo`,
 * globs, `<`): on a host whose auditd stopped draining every program start waits for the full
 * audit queue (script.ts header), and a fact that started one would multiply that cost by the
 * fleet. It may read the variables the probe's frame sets before the builtin sections
 * (script.ts COUNTERS: $fm_calm, $fm_pid, $fm_lost, $fm_bl, $fm_lim, $fm_wa) and must leave
 * its status in $fm_rc.
 */
import type { Parsed } from './text.js';
import type { FactSample } from './types.js';

/** What a fact shows to `when:`/policy conditions: `group.name` for each of `names`. */
export interface FactExposure<T> {
  /** The scope group (`memory`, `system`, `host`, …); several facts may share one. */
  group: string;
  /** Every name `of` may set, documented here once (the policy header points to these files). */
  names: readonly string[];
  /** The names' values; `undefined` for a fact not known (conditions over it are then false). */
  of(value: T, sample: FactSample): Record<string, unknown>;
}

export interface Fact<T> {
  /** The fact's name: its script section's name and the key of its value. */
  readonly name: string;
  /** Shell text (builtins only) printing the section's body; leaves its status in $fm_rc. */
  readonly script?: string;
  /** Without a script of its own: the section (another fact's) whose text this fact parses. */
  readonly section?: string;
  /**
   * Read only by a gathering probe (`gather_facts`, `setup`): identity facts a playbook asks
   * for, which a sweep never needs. They still come in the same round trip, as builtins.
   */
  readonly gather?: boolean;
  /** The value of a fact whose section is missing, skipped or not understood. */
  readonly empty: T;
  /** Total: garbage in gives the empty value (or what could be read) and an error, never a throw. */
  parse(text: string, rc: number | null): Parsed<T>;
  readonly exposes?: FactExposure<T>;
}

/** The section a fact's text comes from. */
export function sectionOf(f: Fact<unknown>): string {
  return f.section ?? f.name;
}
