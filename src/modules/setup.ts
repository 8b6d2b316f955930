/**
 * `setup` (ansible.builtin.setup), also what `gather_facts: true` runs: one probe round trip
 * with the gathered facts (src/facts/registry.ts: builtins only, no program per fact, no
 * Python on the host) fills `ansible_facts` and the `ansible_*` variables for the collectors
 * `gather_subset` names, and, as `audit_status` does, the audit facts and diagnosis that
 * conditions and policy read. Read-only: runs in check mode too.
 */
import { z } from 'zod';
import { FleetmendError } from '../errors.js';
import { diagnose } from '../diagnosis/index.js';
import { collectorsOf, gatheredAnsibleFacts } from '../facts/ansible-facts.js';
import { intLike } from './common.js';
import type { Checked, Module, ModuleContext, ModuleOutcome } from './types.js';

/** Ansible takes a list or a comma-separated string (`all,!hardware`). */
const stringList = z.union([z.string(), z.array(z.string())]).transform((v) => (Array.isArray(v) ? v : v.split(',')).map((s) => s.trim()).filter((s) => s !== ''));

export const setupArgs = z
  .object({
    gather_subset: stringList.default(['all']),
    /** fnmatch patterns over the fact names (`ansible_distribution*`), as Ansible's `filter`. */
    filter: stringList.default([]),
    /** Accepted for compatibility: the facts come in the probe's one round trip, under the command timeout. */
    gather_timeout: z.preprocess(intLike, z.number().int().min(1).max(3600)).optional(),
  })
  .strict();
export type SetupArgs = z.infer<typeof setupArgs>;

const hasTemplate = (l: readonly string[]): boolean => l.some((s) => s.includes('{{') || s.includes('{%'));

/** fnmatch as Ansible's `filter` uses it: `*`, `?`, `[...]`, over the `ansible_` name. */
function fnmatch(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

function filtered(facts: Record<string, unknown>, patterns: readonly string[]): Record<string, unknown> {
  if (patterns.length === 0) return facts;
  const res = patterns.map(fnmatch);
  return Object.fromEntries(Object.entries(facts).filter(([k]) => res.some((r) => r.test(`ansible_${k}`) || r.test(k))));
}

async function check(ctx: ModuleContext, args: SetupArgs): Promise<Checked<never>> {
  const collectors = collectorsOf(args.gather_subset);
  const got = await ctx.session.takeSample(ctx.become, 'gather');
  if (got.error) throw got.error;
  const facts = { samples: [got.sample] };
  const gathered = filtered(gatheredAnsibleFacts(got.sample, collectors), args.filter);
  const ansibleFacts = { ...gathered, gather_subset: args.gather_subset.length ? args.gather_subset : ['all'], module_setup: true };
  const problems = got.sample.parse_errors.filter((e) => e.section !== 'auditctl_s' && e.section !== 'auditctl_l');
  return {
    status: 'ok',
    msg: `${Object.keys(gathered).length} facts gathered (${[...collectors].join(', ')})`,
    data: { ansible_facts: ansibleFacts },
    ...(problems.length ? { warnings: problems.map((e) => `${e.section}: ${e.message}`) } : {}),
    ansibleFacts,
    facts,
    diagnosis: diagnose(facts),
  };
}

export const setupModule: Module<SetupArgs, never> = {
  name: 'setup',
  schema: setupArgs,
  validate(args, position) {
    if (hasTemplate(args.gather_subset)) return;
    try {
      collectorsOf(args.gather_subset);
    } catch (err) {
      if (err instanceof FleetmendError) throw new FleetmendError(err.code, err.message, { position });
      throw err;
    }
  },
  check,
  apply: async (): Promise<ModuleOutcome> => ({ status: 'ok' }),
};
