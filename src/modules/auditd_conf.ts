/**
 * `auditd_conf`: declarative keys in /etc/audit/auditd.conf. Reads the file, changes only the
 * keys that differ (the first `key = value` line of each; missing keys are appended; comments
 * and order kept), shows the diff in check mode, writes the file, then makes auditd read it:
 * `auditctl --signal HUP` (auditd's reconfigure, the same on both families, not subject to
 * RefuseManualStop) or a restart. A second run with the same keys changes nothing.
 *
 * Why a module: the queue-side fixes live here, not in the kernel — `disk_full_action` /
 * `admin_space_left_action` (SUSPEND keeps reading and discards: an incomplete trail), and the
 * plugin queue (`q_depth`, `overflow_action`), which back-pressures auditd itself when a
 * plugin is slow ("queue to plugins is full").
 */
import { z } from 'zod';
import { firstErrorLine, readAuditStatus, run, shellQuote } from './common.js';
import { failed, type Checked, type DiffEntry, type Module, type ModuleContext, type ModuleOutcome } from './types.js';

/** The keys auditd 3.x reads (auditd.conf(5)); anything else is a typo the run must not hide. */
const KNOWN_KEYS = new Set([
  'local_events', 'write_logs', 'log_file', 'log_group', 'log_format', 'flush', 'freq', 'max_log_file', 'num_logs',
  'priority_boost', 'name_format', 'name', 'max_log_file_action', 'space_left', 'space_left_action', 'verify_email',
  'action_mail_acct', 'admin_space_left', 'admin_space_left_action', 'disk_full_action', 'disk_error_action',
  'use_libwrap', 'tcp_listen_port', 'tcp_listen_queue', 'tcp_max_per_addr', 'tcp_client_ports', 'tcp_client_max_idle',
  'transport', 'enable_krb5', 'krb5_principal', 'krb5_key_file', 'distribute_network', 'q_depth', 'overflow_action',
  'max_restarts', 'plugin_dir', 'end_of_event_timeout',
]);

const value = z.union([z.string(), z.number()]).transform((v) => String(v).trim());

export const auditdConfArgs = z
  .object({
    settings: z.record(z.string(), value).refine((s) => Object.keys(s).length > 0, 'settings must name at least one key'),
    path: z.string().default('/etc/audit/auditd.conf'),
    /** How auditd learns the change: reconfigure on SIGHUP (default) or a full restart. */
    apply_with: z.enum(['reload', 'restart']).default('reload'),
  })
  .strict()
  .superRefine((a, ctx) => {
    for (const [k, v] of Object.entries(a.settings)) {
      if (!KNOWN_KEYS.has(k)) ctx.addIssue({ code: 'custom', message: `unknown auditd.conf key "${k}"`, path: ['settings', k] });
      if (/[\n=#]/.test(v) || v === '') ctx.addIssue({ code: 'custom', message: `invalid value for ${k}: ${JSON.stringify(v)}`, path: ['settings', k] });
    }
  });
export type AuditdConfArgs = z.infer<typeof auditdConfArgs>;

export interface AuditdConfPlan {
  before: string;
  after: string;
  changed: string[];
}

const LINE = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/;

/** The file with `settings` applied: first occurrence replaced in place, missing keys appended. */
export function applySettings(text: string, settings: Record<string, string>): { text: string; changed: string[] } {
  const lines = text.length ? text.replace(/\n$/, '').split('\n') : [];
  const seen = new Set<string>();
  const changed: string[] = [];
  const out = lines.map((line) => {
    const m = LINE.exec(line);
    if (!m || line.trimStart().startsWith('#')) return line;
    const key = m[1] as string;
    const want = settings[key];
    if (want === undefined || seen.has(key)) return line;
    seen.add(key);
    if (m[2] === want) return line;
    changed.push(key);
    return `${key} = ${want}`;
  });
  for (const [k, v] of Object.entries(settings)) {
    if (seen.has(k)) continue;
    changed.push(k);
    out.push(`${k} = ${v}`);
  }
  return { text: out.join('\n') + '\n', changed };
}

async function check(ctx: ModuleContext, args: AuditdConfArgs): Promise<Checked<AuditdConfPlan>> {
  const r = await run(ctx, `cat ${shellQuote(args.path)}`);
  if (r.code !== 0) return failed('E_MODULE', `cannot read ${args.path}: ${firstErrorLine(r)}`);
  const { text, changed } = applySettings(r.stdout, args.settings);
  if (!changed.length) return { status: 'ok', msg: `${args.path} already has ${Object.keys(args.settings).join(', ')} as desired` };
  const diff: DiffEntry[] = [{ path: args.path, before: r.stdout, after: text }];
  return {
    status: 'changed',
    msg: `${ctx.check ? 'would set' : 'setting'} ${changed.map((k) => `${k} = ${args.settings[k]}`).join(', ')} in ${args.path}, then ${args.apply_with} auditd`,
    diff,
    data: { changed },
    plan: { before: r.stdout, after: text, changed },
  };
}

async function apply(ctx: ModuleContext, args: AuditdConfArgs, plan: AuditdConfPlan, checked: Checked<AuditdConfPlan>): Promise<ModuleOutcome> {
  const keep = { diff: checked.diff ?? [], data: { changed: plan.changed } };
  const w = await run(ctx, `tee ${shellQuote(args.path)} >/dev/null`, { stdin: plan.after });
  if (w.code !== 0) return { ...keep, ...failed('E_MODULE', `writing ${args.path} failed: ${firstErrorLine(w)}`) };
  const reread = await run(ctx, `cat ${shellQuote(args.path)}`);
  if (reread.stdout !== plan.after) return { ...keep, ...failed('E_MODULE', `${args.path} does not hold what was written`) };
  const cmd = args.apply_with === 'reload' ? 'auditctl --signal HUP' : 'systemctl restart auditd || service auditd restart';
  const s = await run(ctx, `${cmd} 2>&1`);
  if (s.code !== 0) return { ...keep, ...failed('E_MODULE', `${cmd} failed (rc ${s.code}): ${firstErrorLine(s)}`) };
  const st = await readAuditStatus(ctx);
  if (st.pid === 0) return { ...keep, ...failed('E_MODULE', `verification failed: no auditd registered (pid 0) after ${args.apply_with}`) };
  return { ...keep, status: 'changed', msg: `set ${plan.changed.join(', ')} in ${args.path}; auditd ${args.apply_with === 'reload' ? 'reloaded (SIGHUP)' : 'restarted'}, pid ${st.pid}` };
}

export const auditdConfModule: Module<AuditdConfArgs, AuditdConfPlan> = { name: 'auditd_conf', schema: auditdConfArgs as unknown as z.ZodType<AuditdConfArgs>, check, apply };
