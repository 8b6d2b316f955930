/**
 * The registered facts, in script order: the registry builds the probe's builtin sections,
 * parses a sample's sections into values, and gives the policy scope's fact groups. Adding a
 * fact is its file in defs/ and its line here (plus a simulator provider for what it reads).
 *
 * The sections the probe reads with programs (`auditctl -s`, `auditctl -l`, the kernel-log
 * reader) are not here: they are the script's frame (script.ts), run in a fixed order and only
 * when the kernel's counters make them worth their cost.
 */
import { sectionOf, type Fact } from './fact.js';
import type { SplitSections } from './script-sections.js';
import type { FactSample } from './types.js';
import { skippedSections } from './script-sections.js';
import { MemInfoFact } from './defs/meminfo.js';
import { CmdlineFact } from './defs/cmdline.js';
import { UptimeFact } from './defs/uptime.js';
import { BootIdFact } from './defs/boot-id.js';
import { KernelReleaseFact } from './defs/kernel-release.js';
import { KernelHzFact } from './defs/kernel-hz.js';
import { OsReleaseFact } from './defs/os-release.js';
import { AuditdConfFact } from './defs/auditd-conf.js';
import { RulesBacklogFact } from './defs/rules-backlog.js';
import { ProcsFact } from './defs/procs.js';
import { AuditdUnitFact } from './defs/auditd-unit.js';
import { PluginsFact } from './defs/plugins.js';
import { PlatformFact } from './defs/platform.js';
import { KernelCmdlineFact } from './defs/kernel-cmdline.js';
import { DistributionFact } from './defs/distribution.js';
import { MountsFact } from './defs/mounts.js';
import { VirtualizationFact } from './defs/virtualization.js';
import { ServiceMgrFact } from './defs/service-mgr.js';

/** Every fact, in the order the script reads them. */
export const FACTS: readonly Fact<any>[] = [
  MemInfoFact,
  CmdlineFact,
  UptimeFact,
  BootIdFact,
  KernelReleaseFact,
  KernelHzFact,
  OsReleaseFact,
  AuditdConfFact,
  RulesBacklogFact,
  ProcsFact,
  AuditdUnitFact,
  PluginsFact,
  // read only when a play gathers facts (gather_facts, setup)
  PlatformFact,
  KernelCmdlineFact,
  DistributionFact,
  MountsFact,
  VirtualizationFact,
  ServiceMgrFact,
];

/** A section of the script: its name and the shell text that prints its body ($fm_rc set). */
export interface SectionSpec {
  name: string;
  body: string;
}

/** The facts a probe reads: every sample's, plus the gathered ones when `gather`. */
export function factsRead(gather: boolean): Fact<unknown>[] {
  return FACTS.filter((f) => gather || !f.gather);
}

/** The builtin sections of a probe, in order (facts without a script of their own parse another's). */
export function builtinSections(gather: boolean): SectionSpec[] {
  return factsRead(gather).flatMap((f) => (f.script === undefined ? [] : [{ name: f.name, body: f.script }]));
}

type Errors = FactSample['parse_errors'];

/** Parsed values by fact name. */
export class FactValues {
  private readonly values = new Map<string, unknown>();
  set(name: string, value: unknown): void {
    this.values.set(name, value);
  }
  of<T>(f: Fact<T>): T {
    return (this.values.has(f.name) ? this.values.get(f.name) : f.empty) as T;
  }
}

/** Runs a fact's parser on its section, recording missing sections and parser complaints. */
export function parseFact<T>(f: Fact<T>, sections: SplitSections, errors: Errors): T {
  const name = sectionOf(f);
  const s = sections[name];
  if (!s) {
    if (skippedSections(sections).has(name)) return f.empty;
    errors.push({ section: f.name, message: 'section missing from the output (truncated?)' });
    return f.empty;
  }
  try {
    const r = f.parse(s.text, s.rc);
    if (r.error !== undefined) errors.push({ section: f.name, message: r.error });
    return r.value;
  } catch (err) {
    // parsers are total; this is the belt to their braces
    errors.push({ section: f.name, message: `parser failed: ${err instanceof Error ? err.message : String(err)}` });
    return f.empty;
  }
}

/**
 * Every fact the sections hold: the always-read ones, and the gathered ones when the sample
 * was taken by a gathering probe (the sections of a gathered fact are there; a gathered fact
 * that parses another's section counts when any gathered section is there).
 */
export function parseFacts(sections: SplitSections, errors: Errors): { values: FactValues; gathered: boolean } {
  const gathered = FACTS.some((f) => f.gather && f.script !== undefined && sections[f.name] !== undefined);
  const values = new FactValues();
  for (const f of factsRead(gathered)) values.set(f.name, parseFact(f, sections, errors));
  return { values, gathered };
}

/** The policy scope's fact groups (`memory.*`, `system.*`, `host.*`, …) of one sample. */
export function factScope(sample: FactSample | undefined): Record<string, Record<string, unknown>> {
  const groups: Record<string, Record<string, unknown>> = {};
  for (const f of FACTS) {
    if (!f.exposes) continue;
    const group = (groups[f.exposes.group] ??= {});
    if (!sample || (f.gather && !sample.gathered)) continue;
    const value = f.gather ? (sample.gathered?.[f.name] ?? f.empty) : undefined;
    Object.assign(group, f.exposes.of(value, sample));
  }
  return groups;
}

/** A gathered fact's value in a sample (its empty value when the sample was not gathered). */
export function gatheredFact<T>(sample: FactSample | undefined, f: Fact<T>): T | undefined {
  return sample?.gathered && f.name in sample.gathered ? (sample.gathered[f.name] as T) : undefined;
}
