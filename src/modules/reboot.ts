/**
 * `reboot`: `schedule: "+10"` / `"HH:MM"` through `shutdown -r`, `now` with waiting for SSH
 * to return, `cancel: true` → `shutdown -c` (reference §5). A reboot is proven by a changed
 * boot_id read strictly as a UUID: Ansible's reboot reported success after reading a wall
 * message instead of the boot_id (ansible#78007). A host key that changes across the reboot
 * is an error, never accepted: the reconnect goes through the same known_hosts checking.
 * Reboot guard: refuses to reboot every host of a multi-host play at once (no rolling
 * `serial`) unless the play sets `allow_parallel_reboot: true`.
 */
import { z } from 'zod';
import { toFleetmendError } from '../errors.js';
import type { Transport } from '../transport/types.js';
import type { FactSample } from '../facts/types.js';
import { collectSample } from '../host/sample.js';
import { boolLike, intLike, run, shellQuote, firstErrorLine } from './common.js';
import { failed, type Checked, type Module, type ModuleContext, type ModuleOutcome } from './types.js';

const seconds = (def: number, max: number) => z.preprocess(intLike, z.number().int().min(0).max(max)).default(def);

export const SCHEDULE_RE = /^(now|\+\d{1,5}|([01]?\d|2[0-3]):[0-5]\d)$/;

export const rebootArgs = z
  .object({
    schedule: z.preprocess((v) => (typeof v === 'number' ? `+${v}` : v), z.string().regex(SCHEDULE_RE, 'schedule must be "now", "+MINUTES" or "HH:MM"')).default('now'),
    cancel: z.preprocess(boolLike, z.boolean()).default(false),
    msg: z.string().max(200).default('fleetmend: scheduled reboot'),
    /** Wait for the host to come back (default: only for `now`). */
    wait: z.preprocess(boolLike, z.boolean()).optional(),
    reboot_timeout: seconds(600, 86_400),
    poll_interval: seconds(3, 600),
    post_reboot_delay: seconds(0, 3600),
  })
  .strict();
export type RebootArgs = z.infer<typeof rebootArgs>;

export interface RebootPlan {
  kind: 'reboot' | 'cancel';
  bootId?: string;
}

export function rebootGuard(ctx: ModuleContext): string | undefined {
  const { hostsInPlay, batchSize, allowParallelReboot } = ctx.play;
  if (allowParallelReboot || hostsInPlay <= 1 || batchSize < hostsInPlay) return undefined;
  return (
    `reboot guard: refusing to reboot all ${hostsInPlay} hosts of the play at once; ` +
    'use a rolling `serial` (e.g. serial: 1) or set `allow_parallel_reboot: true` on the play'
  );
}

/**
 * The boot_id of a sample: the probe's `boot_id` section, parsed strictly as a UUID (a wall
 * message is not one, ansible#78007); `raw` says what was there instead.
 */
function bootIdOf(sample: FactSample): { id?: string; raw: string } {
  const id = sample.system.boot_id;
  return id ? { id, raw: id } : { raw: sample.parse_errors.find((e) => e.section === 'boot_id')?.message ?? 'no boot_id section' };
}

/** After the reboot: one probe round trip on the new connection (no become: boot_id is world-readable). */
async function readBootId(ctx: ModuleContext, t: Transport): Promise<{ id?: string; raw: string }> {
  const got = await collectSample(t, ctx.session.probe, ctx.clock, false);
  return bootIdOf(got.sample);
}

async function check(ctx: ModuleContext, args: RebootArgs): Promise<Checked<RebootPlan>> {
  if (args.cancel) {
    return { status: 'changed', msg: `${ctx.check ? 'would cancel' : 'cancelling'} a scheduled reboot (shutdown -c)`, plan: { kind: 'cancel' } };
  }
  const refused = rebootGuard(ctx);
  if (refused) return failed('E_GUARD', refused);
  const boot = bootIdOf(await ctx.session.sample(ctx.become));
  if (!boot.id) {
    return failed('E_MODULE', `cannot read boot_id as a UUID (got ${JSON.stringify(boot.raw.slice(0, 120))}): a reboot could not be verified`);
  }
  return {
    status: 'changed',
    msg: `${ctx.check ? 'would reboot' : 'rebooting'} (${args.schedule})`,
    data: { boot_id_before: boot.id },
    plan: { kind: 'reboot', bootId: boot.id },
  };
}

/** Polls until the host answers with a different, well-formed boot_id. */
async function waitForNewBoot(ctx: ModuleContext, oldId: string, args: RebootArgs, extraMs: number): Promise<ModuleOutcome> {
  const started = ctx.clock.now();
  const deadline = started + args.reboot_timeout * 1000 + extraMs;
  let last = 'no connection yet';
  while (ctx.clock.now() < deadline) {
    await ctx.clock.sleep(args.poll_interval * 1000);
    let t: Transport;
    try {
      t = await ctx.reconnect();
    } catch (err) {
      const e = toFleetmendError(err, ctx.host);
      if (e.code === 'E_HOSTKEY_CHANGED' || e.code === 'E_HOSTKEY_REVOKED' || e.code === 'E_AUTH') {
        // Never accepted: a new key after a reboot may be a different machine (reference §5).
        return failed(e.code, `after reboot: ${e.message}`, { data: { boot_id_before: oldId } });
      }
      last = e.message;
      continue;
    }
    const boot = await readBootId(ctx, t).catch((err: unknown) => ({ raw: toFleetmendError(err).message, id: undefined }));
    if (boot.id && boot.id !== oldId) {
      if (args.post_reboot_delay) await ctx.clock.sleep(args.post_reboot_delay * 1000);
      return {
        status: 'changed',
        msg: `rebooted: boot_id ${oldId} -> ${boot.id} (${Math.round((ctx.clock.now() - started) / 1000)} s)`,
        data: { boot_id_before: oldId, boot_id_after: boot.id },
        transport: t,
      };
    }
    last = boot.id ? `boot_id unchanged (${oldId}): not rebooted yet` : `not a boot_id: ${JSON.stringify(boot.raw.slice(0, 120))}`;
    await t.close().catch(() => undefined);
  }
  return {
    status: 'unreachable',
    msg: `host did not come back with a new boot_id within ${args.reboot_timeout} s (last: ${last})`,
    error: { code: 'E_CONNECT_TIMEOUT', message: `reboot not verified within ${args.reboot_timeout} s: ${last}` },
    data: { boot_id_before: oldId },
  };
}

async function apply(ctx: ModuleContext, args: RebootArgs, plan: RebootPlan): Promise<ModuleOutcome> {
  if (plan.kind === 'cancel') {
    const r = await run(ctx, 'shutdown -c 2>&1');
    if (r.code !== 0) return failed('E_MODULE', `shutdown -c failed: ${firstErrorLine(r)}`, { rc: r.code, stdout: r.stdout });
    return { status: 'changed', msg: 'scheduled reboot cancelled', rc: 0 };
  }
  const oldId = plan.bootId as string;
  const cmd = `shutdown -r ${args.schedule} ${shellQuote(args.msg)}`;
  try {
    // `now` never answers on a real host (the session dies with it): do not wait long for it;
    // the boot_id check below, not this command's exit, proves the reboot.
    const r = await run(ctx, `${cmd} 2>&1`, { timeoutMs: args.schedule === 'now' ? 10_000 : 30_000 });
    if (r.code !== 0 && r.code !== null) return failed('E_MODULE', `${cmd} failed: ${firstErrorLine(r)}`, { rc: r.code, stdout: r.stdout });
  } catch (err) {
    // `now` may cut the connection before the exit status arrives: that is the reboot starting.
    const e = toFleetmendError(err, ctx.host);
    if (args.schedule !== 'now' || !['E_DISCONNECTED', 'E_CMD_TIMEOUT', 'E_CONNECT'].includes(e.code)) throw e;
  }
  const wait = args.wait ?? args.schedule === 'now';
  if (!wait) return { status: 'changed', msg: `reboot scheduled (${args.schedule})`, data: { boot_id_before: oldId } };
  await ctx.session.transport.close().catch(() => undefined);
  const minutes = /^\+(\d+)$/.exec(args.schedule);
  const extraMs = minutes ? Number(minutes[1]) * 60_000 : 0;
  return waitForNewBoot(ctx, oldId, args, extraMs);
}

export const rebootModule: Module<RebootArgs, RebootPlan> = { name: 'reboot', schema: rebootArgs, check, apply };

