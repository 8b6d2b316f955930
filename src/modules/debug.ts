/**
 * `debug` (ansible.builtin.debug): `msg` (templated) or `var` (an expression, as in Ansible,
 * without braces) shown as the task's message. Changes nothing; runs in check mode too.
 */
import { z } from 'zod';
import { FleetmendError } from '../errors.js';
import { compileExpr, stringOf } from '../expr/index.js';
import { intLike } from './common.js';
import type { Checked, Module, ModuleContext, ModuleOutcome } from './types.js';

export const debugArgs = z
  .object({
    msg: z.unknown().optional(),
    var: z.string().min(1).optional(),
    /** Accepted for compatibility; fleetmend shows the message whatever the verbosity. */
    verbosity: z.preprocess(intLike, z.number().int().min(0).max(5)).optional(),
  })
  .strict()
  .refine((a) => !(a.msg !== undefined && a.var !== undefined), 'debug takes msg or var, not both');
export type DebugArgs = z.infer<typeof debugArgs>;

/** `var`'s value; undefined (shown as Ansible shows it) where using the expression is E_UNDEFINED. */
function valueOrUndefined(source: string, scope: unknown): unknown {
  try {
    return compileExpr(source, undefined, { strictUndefined: true }).evaluate(scope);
  } catch (err) {
    if (err instanceof FleetmendError && err.code === 'E_UNDEFINED') return undefined;
    throw err;
  }
}

async function check(ctx: ModuleContext, args: DebugArgs): Promise<Checked<never>> {
  if (args.var !== undefined) {
    const value = valueOrUndefined(args.var, ctx.scope);
    const shown = value === undefined ? 'VARIABLE IS NOT DEFINED!' : stringOf(value);
    return { status: 'ok', msg: `${args.var}: ${shown}`, data: { [args.var]: value ?? null } };
  }
  const msg = args.msg === undefined ? 'Hello world!' : stringOf(args.msg);
  return { status: 'ok', msg, data: { msg } };
}

export const debugModule: Module<DebugArgs, never> = {
  name: 'debug',
  schema: debugArgs,
  noTemplate: ['var'],
  exprArgs: ['var'],
  check,
  apply: async (): Promise<ModuleOutcome> => ({ status: 'ok' }),
  validate(args, position) {
    if (args.var !== undefined) compileExpr(args.var, position);
  },
};
