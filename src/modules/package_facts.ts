/**
 * `package_facts` (ansible.builtin.package_facts): `ansible_facts.packages`, name → list of
 * installed versions. One round trip through the host session (src/facts/defs/packages.ts):
 * dpkg's status file read with builtins and parsed here, or `rpm -qa` where there is no dpkg.
 * Read-only: runs in check mode too.
 */
import { z } from 'zod';
import { packagesFact } from '../facts/defs/packages.js';
import { failed, type Checked, type Module, type ModuleContext, type ModuleOutcome } from './types.js';

const MANAGERS = ['auto', 'apt', 'rpm'] as const;

export const packageFactsArgs = z
  .object({
    /** Ansible's default `auto`; a list is tried in order (`strategy: first`). */
    manager: z.union([z.enum(MANAGERS), z.array(z.enum(MANAGERS)).min(1)]).default('auto'),
    strategy: z.enum(['first']).default('first'),
  })
  .strict();
export type PackageFactsArgs = z.infer<typeof packageFactsArgs>;

async function check(ctx: ModuleContext, args: PackageFactsArgs): Promise<Checked<never>> {
  const managers = Array.isArray(args.manager) ? args.manager : [args.manager];
  let last = '';
  for (const m of managers) {
    const { value, error } = await ctx.session.onDemand(packagesFact(m), ctx.become);
    if (value.manager === 'none') {
      last = error ?? 'no package manager found';
      continue;
    }
    if (error !== undefined) return failed('E_PARSE', error);
    const ansibleFacts = { packages: value.packages };
    return { status: 'ok', msg: `${Object.keys(value.packages).length} packages (${value.manager})`, data: { ansible_facts: ansibleFacts }, ansibleFacts };
  }
  return failed('E_MODULE', `package_facts: ${last}`);
}

export const packageFactsModule: Module<PackageFactsArgs, never> = {
  name: 'package_facts',
  schema: packageFactsArgs,
  check,
  apply: async (): Promise<ModuleOutcome> => ({ status: 'ok' }),
};
