/**
 * `set_fact` (ansible.builtin.set_fact): variables for the later tasks and plays on this host,
 * above play vars and below registered results, like Ansible's host facts. Values are templated
 * (a whole `{{ expr }}` keeps its type). `cacheable` is accepted and has no effect (no fact cache).
 */
import { z } from 'zod';
import { VAR_NAME } from './names.js';
import type { Checked, Module, ModuleOutcome } from './types.js';

export const setFactArgs = z
  .record(z.string().regex(VAR_NAME, 'set_fact names are identifiers'), z.unknown())
  .refine((a) => Object.keys(a).some((k) => k !== 'cacheable'), 'set_fact needs at least one variable');
export type SetFactArgs = z.infer<typeof setFactArgs>;

export const setFactModule: Module<SetFactArgs, never> = {
  name: 'set_fact',
  schema: setFactArgs,
  check: async (_ctx, args): Promise<Checked<never>> => {
    const { cacheable: _ignored, ...vars } = args;
    return { status: 'ok', vars, data: { ansible_facts: vars } };
  },
  apply: async (): Promise<ModuleOutcome> => ({ status: 'ok' }),
};
