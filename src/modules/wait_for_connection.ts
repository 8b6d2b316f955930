/**
 * `wait_for_connection` (ansible.builtin.wait_for_connection): after `delay` seconds, open a new
 * connection (same host-key checking) and run `true` until it works or `timeout` passes; the new
 * connection replaces the task's. Read-only, so it runs in check mode too (as in Ansible).
 */
import { z } from 'zod';
import { FleetmendError, toFleetmendError } from '../errors.js';
import type { Transport } from '../transport/types.js';
import { intLike } from './common.js';
import { failed, type Checked, type Module, type ModuleContext, type ModuleOutcome } from './types.js';

const seconds = (def: number, max: number) => z.preprocess(intLike, z.number().int().min(0).max(max)).default(def);

export const waitForConnectionArgs = z
  .object({
    timeout: seconds(600, 86_400),
    delay: seconds(0, 3600),
    sleep: seconds(1, 600),
    /** Accepted for compatibility; the inventory's connect timeout applies to each attempt. */
    connect_timeout: seconds(5, 600),
  })
  .strict();
export type WaitForConnectionArgs = z.infer<typeof waitForConnectionArgs>;

async function attempt(ctx: ModuleContext): Promise<Transport> {
  const t = await ctx.reconnect();
  try {
    const r = await t.exec('true', { become: false });
    if (r.code !== 0) throw new FleetmendError('E_MODULE', `\`true\` exited ${r.code ?? 'by signal'}`, { host: ctx.host });
    return t;
  } catch (err) {
    await t.close().catch(() => undefined);
    throw err;
  }
}

async function check(ctx: ModuleContext, args: WaitForConnectionArgs): Promise<Checked<never>> {
  const start = ctx.clock.now();
  if (args.delay) await ctx.clock.sleep(args.delay * 1000);
  let last = '';
  for (;;) {
    try {
      const t = await attempt(ctx);
      await ctx.session.transport.close().catch(() => undefined);
      const elapsed = Math.round((ctx.clock.now() - start) / 1000);
      return { status: 'ok', msg: `connected after ${elapsed} s`, transport: t, data: { elapsed } };
    } catch (err) {
      last = toFleetmendError(err, ctx.host).message;
    }
    if (ctx.clock.now() - start + args.sleep * 1000 > args.timeout * 1000) break;
    await ctx.clock.sleep(Math.max(1, args.sleep) * 1000);
  }
  return failed('E_CONNECT_TIMEOUT', `no connection within ${args.timeout} s (last error: ${last})`);
}

export const waitForConnectionModule: Module<WaitForConnectionArgs, never> = {
  name: 'wait_for_connection',
  schema: waitForConnectionArgs,
  check,
  apply: async (): Promise<ModuleOutcome> => ({ status: 'ok' }),
};
