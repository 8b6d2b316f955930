/**
 * Helpers shared by the modules: running commands, reading the audit status. Facts (memory,
 * /proc, boot_id, auditd's process state) come from the host session's sample, never from a
 * command of a module's own (src/host/session.ts).
 */
import { FleetmendError } from '../errors.js';
import type { AuditStatus, FactSample } from '../facts/types.js';
import type { ExecOptions, ExecResult } from '../transport/types.js';
import { shellQuote } from '../transport/become.js';
import type { ModuleContext } from './types.js';

export { shellQuote };

export async function run(ctx: ModuleContext, command: string, opts: ExecOptions = {}): Promise<ExecResult> {
  return ctx.session.transport.exec(command, { become: ctx.become, ...opts });
}

/**
 * The audit status after a change (apply's verification, polls): a new probe sample, never an
 * `auditctl -s` of the module's own, so the probe is the only one to start it and every read
 * gets the probe's become choice, output cap and cut-short handling. A sample cut short is its
 * error; a host where the status cannot be read is an E_MODULE failure.
 */
export async function readAuditStatus(ctx: ModuleContext): Promise<AuditStatus> {
  const got = await ctx.session.takeSample(ctx.become, 'recheck');
  if (got.error) throw got.error;
  return sampleStatus(ctx, got.sample);
}

/** The audit status of a session's sample (what the guards decide on), or the same E_MODULE failure. */
export function sampleStatus(ctx: ModuleContext, sample: FactSample): AuditStatus {
  return auditStatusOrFail(ctx, sample.auditctl);
}

function auditStatusOrFail(ctx: ModuleContext, outcome: FactSample['auditctl']): AuditStatus {
  if (outcome.kind === 'ok') return outcome.status;
  throw new FleetmendError('E_MODULE', `cannot read the audit status (${outcome.kind}): ${outcome.detail}`, {
    host: ctx.host,
  });
}

export function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/** Error text of a command for a result: first stderr line, else stdout's, else the exit code. */
export function firstErrorLine(r: ExecResult): string {
  const line = (r.stderr.trim() || r.stdout.trim()).split('\n')[0];
  return line || `exit ${r.code ?? 'by signal'}`;
}

/** `systemctl show` key=value output. */
export function parseKeyValues(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return out;
}

/** Accepts 8192 and "8192" (a rendered `{{ var }}` or a `-e key=value`). */
export function intLike(v: unknown): unknown {
  return typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : v;
}

export function boolLike(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  const t = v.trim().toLowerCase();
  if (['true', 'yes', 'on', '1'].includes(t)) return true;
  if (['false', 'no', 'off', '0'].includes(t)) return false;
  return v;
}
