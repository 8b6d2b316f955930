/** Helpers shared by the modules: running commands, reading the audit status and memory. */
import { FleetmendError } from '../errors.js';
import { parseAuditctlStatus } from '../facts/auditctl.js';
import type { AuditStatus } from '../facts/types.js';
import type { ExecOptions, ExecResult } from '../transport/types.js';
import { shellQuote } from '../transport/become.js';
import type { ModuleContext } from './types.js';

export { shellQuote };

export async function run(ctx: ModuleContext, command: string, opts: ExecOptions = {}): Promise<ExecResult> {
  return ctx.transport.exec(command, { become: ctx.become, ...opts });
}

/** `auditctl -s`, parsed; a host where it cannot be read is an E_MODULE failure. */
export async function readAuditStatus(ctx: ModuleContext): Promise<AuditStatus> {
  const r = await run(ctx, 'auditctl -s 2>&1');
  const outcome = parseAuditctlStatus(r.stdout + r.stderr, r.code);
  if (outcome.kind === 'ok') return outcome.status;
  throw new FleetmendError('E_MODULE', `cannot read the audit status (${outcome.kind}): ${outcome.detail}`, {
    host: ctx.host,
  });
}

/** MemAvailable in kB from /proc/meminfo (undefined when the kernel does not print it). */
export async function readMemAvailableKb(ctx: ModuleContext): Promise<number | undefined> {
  const r = await run(ctx, 'cat /proc/meminfo', { become: false });
  const m = /^MemAvailable:\s+(\d+)\s*kB/m.exec(r.stdout);
  return m ? Number(m[1]) : undefined;
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

/** Strict UUID (boot_id): a wall message or a banner is not a boot_id (ansible#78007). */
export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function parseBootId(text: string): string | undefined {
  const t = text.trim().toLowerCase();
  return UUID_RE.test(t) ? t : undefined;
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
