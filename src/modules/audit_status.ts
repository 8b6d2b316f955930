/**
 * `audit_status`: the sweep as a task. Samples through the host session (the one sampler,
 * src/host/sample.ts: the one-round-trip facts script of reference §6, its root/user choice,
 * output cap and cut-short handling) one or more times, diagnoses the samples, and registers
 * facts + diagnosis for later tasks' `when`/`assert`. Read-only: runs in check mode too.
 */
import { z } from 'zod';
import { diagnose } from '../diagnosis/index.js';
import { sampleDeltas } from '../facts/index.js';
import { statusReadError } from '../host/index.js';
import type { FactSample, HostFacts } from '../facts/types.js';
import { intLike } from './common.js';
import type { Checked, Module, ModuleContext, ModuleOutcome } from './types.js';

export const auditStatusArgs = z
  .object({
    samples: z.preprocess(intLike, z.number().int().min(1).max(10)).default(1),
    /** Seconds between samples. */
    interval: z.preprocess((v) => (typeof v === 'string' && v.trim() !== '' ? Number(v) : v), z.number().min(0).max(600)).default(5),
  })
  .strict();
export type AuditStatusArgs = z.infer<typeof auditStatusArgs>;

/**
 * `samples` samples `intervalMs` apart, each one new round trip (the guards of later tasks reuse
 * the last one while fresh). A sample cut short (timeout, dropped connection) fails the task.
 */
export async function gatherFacts(ctx: ModuleContext, samples: number, intervalMs: number): Promise<HostFacts> {
  const out: FactSample[] = [];
  for (let i = 0; i < samples; i++) {
    if (i > 0) await ctx.clock.sleep(intervalMs, ctx.session.signal);
    const got = await ctx.session.takeSample(ctx.become);
    if (got.error) throw got.error;
    // a status that was not read is a failed task, as it is a failed host in a sweep
    const unread = statusReadError(got.sample, ctx.session.transport.spec, ctx.become ?? ctx.session.transport.spec.become.enabled);
    if (unread) throw unread;
    out.push(got.sample);
  }
  return { samples: out };
}

async function check(ctx: ModuleContext, args: AuditStatusArgs): Promise<Checked<never>> {
  const facts = await gatherFacts(ctx, args.samples, args.interval * 1000);
  const diagnosis = diagnose(facts);
  const last = facts.samples[facts.samples.length - 1];
  const audit = last?.auditctl.kind === 'ok' ? last.auditctl.status : undefined;
  const deltas = sampleDeltas(facts.samples);
  return {
    status: 'ok',
    msg: `state ${diagnosis.state}${audit ? `: backlog ${audit.backlog}/${audit.backlog_limit}, lost ${audit.lost}, pid ${audit.pid}` : ''}`,
    data: { facts, diagnosis, ...(audit ? { audit } : {}), ...(deltas ? { deltas } : {}) },
    facts,
    diagnosis,
  };
}

export const auditStatusModule: Module<AuditStatusArgs, never> = {
  name: 'audit_status',
  schema: auditStatusArgs,
  check,
  apply: async (): Promise<ModuleOutcome> => ({ status: 'ok' }),
};
