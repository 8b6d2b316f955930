/**
 * `meta: flush_handlers` (ansible.builtin.meta): run the handlers notified so far, now. The
 * runner does the flushing (it owns the handler queue); this module only validates the action.
 * Other meta actions (end_play, refresh_inventory, ...) are refused at load time.
 */
import { z } from 'zod';
import type { Checked, Module, ModuleOutcome } from './types.js';

export const metaArgs = z.object({ action: z.literal('flush_handlers', { message: 'only meta: flush_handlers is supported' }) }).strict();
export type MetaArgs = z.infer<typeof metaArgs>;

export const metaModule: Module<MetaArgs, never> = {
  name: 'meta',
  schema: metaArgs,
  freeForm: 'action',
  check: async (): Promise<Checked<never>> => ({ status: 'ok', msg: 'handlers flushed' }),
  apply: async (): Promise<ModuleOutcome> => ({ status: 'ok' }),
};
