/**
 * `service_facts` (ansible.builtin.service_facts): `ansible_facts.services`, unit name →
 * {name, state, status, source}, from systemd (src/facts/defs/services.ts: two systemctl
 * listings in one round trip through the host session). Read-only: runs in check mode too.
 */
import { z } from 'zod';
import { ServicesFact } from '../facts/defs/services.js';
import { failed, type Checked, type Module, type ModuleContext, type ModuleOutcome } from './types.js';

export const serviceFactsArgs = z.object({}).strict();

async function check(ctx: ModuleContext): Promise<Checked<never>> {
  const { value, error } = await ctx.session.onDemand(ServicesFact, ctx.become);
  if (error !== undefined && Object.keys(value).length === 0) return failed('E_MODULE', `service_facts: ${error}`);
  const ansibleFacts = { services: value };
  return {
    status: 'ok',
    msg: `${Object.keys(value).length} services`,
    data: { ansible_facts: ansibleFacts },
    ...(error !== undefined ? { warnings: [error] } : {}),
    ansibleFacts,
  };
}

export const serviceFactsModule: Module<Record<string, never>, never> = {
  name: 'service_facts',
  schema: serviceFactsArgs,
  check,
  apply: async (): Promise<ModuleOutcome> => ({ status: 'ok' }),
};
