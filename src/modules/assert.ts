/** `assert`: conditions over facts, vars and registered results; fails the host with `msg`. */
import { z } from 'zod';
import { allHold, compileCondition } from '../expr/conditions.js';
import { failed, type Checked, type Module, type ModuleContext, type ModuleOutcome } from './types.js';

export const assertArgs = z
  .object({
    that: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
    /** Ansible's name since 2.7; `msg` is its alias. */
    fail_msg: z.string().optional(),
    msg: z.string().optional(),
    success_msg: z.string().optional(),
    quiet: z.boolean().optional(),
  })
  .strict();
export type AssertArgs = z.infer<typeof assertArgs>;

function sources(args: AssertArgs): string[] {
  return typeof args.that === 'string' ? [args.that] : args.that;
}

async function check(ctx: ModuleContext, args: AssertArgs): Promise<Checked<never>> {
  const conditions = sources(args).map((s) => compileCondition(s));
  const r = allHold(conditions, ctx.scope);
  if (r.ok) return { status: 'ok', msg: args.success_msg ?? 'all assertions passed' };
  const msg = args.fail_msg ?? args.msg;
  return failed('E_MODULE', msg ? `${msg} (failed: ${r.failed})` : `assertion failed: ${r.failed}`, {
    data: { assertion: r.failed },
  });
}

export const assertModule: Module<AssertArgs, never> = {
  name: 'assert',
  schema: assertArgs,
  noTemplate: ['that'],
  check,
  apply: async (): Promise<ModuleOutcome> => ({ status: 'ok' }),
  validate(args, position) {
    for (const s of sources(args)) compileCondition(s, position);
  },
};
