/** `fail` (ansible.builtin.fail): fails the host with `msg`, usually under a `when`. */
import { z } from 'zod';
import { stringOf } from '../expr/index.js';
import { failed, type Checked, type Module, type ModuleOutcome } from './types.js';

export const failArgs = z.object({ msg: z.unknown().default('Failed as requested from task') }).strict();
export type FailArgs = z.infer<typeof failArgs>;

export const failModule: Module<FailArgs, never> = {
  name: 'fail',
  schema: failArgs,
  check: async (_ctx, args): Promise<Checked<never>> => failed('E_MODULE', stringOf(args.msg)),
  apply: async (): Promise<ModuleOutcome> => ({ status: 'ok' }),
};
