/**
 * `kernel_cmdline`: kernel command line arguments for the next boot, present or absent.
 * `audit=1` audits the processes started before auditd (CIS 4.1.1.3) and
 * `audit_backlog_limit=N` sizes the queue those early records wait in (CIS 4.1.1.4): the
 * lasting half of the seed incident's fix, which `auditctl -b` cannot give (reference §1, §5).
 *
 * Debian/Ubuntu: `GRUB_CMDLINE_LINUX` in /etc/default/grub, then `update-grub`. RHEL 8/9: every
 * Boot Loader Specification entry through `grubby --update-kernel=ALL --args/--remove-args`
 * (what Red Hat documents), and `GRUB_CMDLINE_LINUX` too so that kernels installed later and a
 * `grub2-mkconfig` keep the arguments. The family is what the host has: `grubby` or not.
 *
 * Guards: `audit_backlog_limit=` is judged as a grub file a lineinfile writes is
 * (audit-files.ts bootBacklogVerdict: the memory guard as for `auditctl -b`, a value below the
 * running limit flagged); this module's own is `audit=0`, refused (it turns auditing off for
 * the whole boot). The change takes effect at the next boot: the result says "reboot
 * required", Debian's /run/reboot-required marker is written, and `verify_running: true` (after
 * a reboot, schedule-reboot.yml) checks the running kernel's /proc/cmdline from the probe.
 */
import { z } from 'zod';
import type { FactSample } from '../facts/types.js';
import { bootBacklogVerdict } from './audit-files.js';
import { firstErrorLine, run, shellQuote } from './common.js';
import { failed, type Checked, type DiffEntry, type Module, type ModuleContext, type ModuleOutcome } from './types.js';

const argValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);

export const kernelCmdlineArgs = z
  .object({
    /** `{audit: 1, audit_backlog_limit: 8192}`; `true`/null is a bare flag (`quiet`). */
    args: z.record(z.string(), argValue).refine((a) => Object.keys(a).length > 0, 'args must name at least one argument'),
    state: z.enum(['present', 'absent']).default('present'),
    /** Change nothing; fail unless the running kernel's command line has the arguments. */
    verify_running: z.boolean().default(false),
  })
  .strict()
  .superRefine((a, ctx) => {
    for (const [k, v] of Object.entries(a.args)) {
      if (!/^[A-Za-z0-9_.-]+$/.test(k)) ctx.addIssue({ code: 'custom', message: `invalid argument name ${JSON.stringify(k)}`, path: ['args', k] });
      // the value lands inside GRUB_CMDLINE_LINUX="..." (a shell file) and on grubby's argv
      if (typeof v === 'string' && !/^[A-Za-z0-9_.,:/+@=-]*$/.test(v)) ctx.addIssue({ code: 'custom', message: `value of ${k} has characters a kernel argument here may not: ${JSON.stringify(v)}`, path: ['args', k] });
    }
  });
export type KernelCmdlineArgs = z.infer<typeof kernelCmdlineArgs>;

/** `key=value` or a bare `key`, as the kernel reads them. */
export function argWords(args: KernelCmdlineArgs['args']): string[] {
  return Object.entries(args).map(([k, v]) => (v === null || v === true ? k : v === false ? `${k}=0` : `${k}=${v}`));
}

const keyOf = (w: string) => w.split('=')[0] as string;

/** Words split as the kernel does (double quotes group a value). */
export function cmdlineWords(text: string): string[] {
  return text.match(/(?:[^\s"]+|"[^"]*")+/g) ?? [];
}

/** The command line with `want` present (each key once, in place, new ones appended) or absent. */
export function editCmdline(line: string, want: string[], state: 'present' | 'absent'): string {
  const keys = new Set(want.map(keyOf));
  let words = cmdlineWords(line);
  if (state === 'absent') return words.filter((w) => !keys.has(keyOf(w))).join(' ');
  for (const a of want) {
    const i = words.findIndex((w) => keyOf(w) === keyOf(a));
    if (i < 0) words.push(a);
    else words = [...words.slice(0, i), a, ...words.slice(i + 1).filter((w) => keyOf(w) !== keyOf(a))];
  }
  return words.join(' ');
}

const GRUB_VAR = /^(\s*GRUB_CMDLINE_LINUX=)(["']?)(.*?)\2\s*$/;

/** /etc/default/grub with GRUB_CMDLINE_LINUX edited (its last assignment, which the shell keeps). */
export function editGrubDefault(text: string, want: string[], state: 'present' | 'absent'): string {
  const lines = text.replace(/\n$/, '').split('\n');
  let at = -1;
  lines.forEach((l, i) => {
    if (GRUB_VAR.test(l)) at = i;
  });
  if (at < 0) {
    if (state === 'absent') return text;
    return `${text.replace(/\n?$/, '\n')}GRUB_CMDLINE_LINUX="${editCmdline('', want, state)}"\n`;
  }
  const m = GRUB_VAR.exec(lines[at] as string) as RegExpExecArray;
  const quote = m[2] || '"';
  lines[at] = `${m[1]}${quote}${editCmdline(m[3] as string, want, state)}${quote}`;
  return lines.join('\n') + '\n';
}

/** `grubby --info=ALL`: each entry's kernel and args. */
export function parseGrubbyInfo(text: string): { kernel: string; args: string }[] {
  const out: { kernel: string; args: string }[] = [];
  for (const line of text.split('\n')) {
    const m = /^(kernel|args)="?(.*?)"?$/.exec(line.trim());
    if (!m) continue;
    if (m[1] === 'kernel') out.push({ kernel: m[2] as string, args: '' });
    else if (out.length) (out[out.length - 1] as { args: string }).args = m[2] as string;
  }
  return out;
}

/** Whether a command line already is as `want` says (present: each word exact; absent: no key). */
export function satisfied(line: string, want: string[], state: 'present' | 'absent'): boolean {
  const words = cmdlineWords(line);
  if (state === 'absent') return !words.some((w) => want.map(keyOf).includes(keyOf(w)));
  return want.every((a) => words.filter((w) => keyOf(w) === keyOf(a)).at(-1) === a);
}

interface BootConfig {
  family: 'rhel' | 'debian';
  grub?: string;
  entries: { kernel: string; args: string }[];
}

const GRUB_PATH = '/etc/default/grub';

/** One round trip: which tools the host has, /etc/default/grub, and grubby's entries. */
async function readBootConfig(ctx: ModuleContext): Promise<BootConfig | ModuleOutcome> {
  const mark = `@@${ctx.session.nonce}`;
  const script = [
    `if command -v grubby >/dev/null 2>&1; then echo '${mark} family rhel'; grubby --info=ALL 2>&1; else echo '${mark} family debian'; fi`,
    `if [ -r ${GRUB_PATH} ]; then echo '${mark} grub'; cat ${GRUB_PATH}; fi`,
  ].join('\n');
  const r = await run(ctx, script);
  if (r.code !== 0) return failed('E_MODULE', `cannot read the boot loader configuration: ${firstErrorLine(r)}`);
  const parts = r.stdout.split(new RegExp(`^${mark} `, 'm'));
  const family = parts.find((p) => p.startsWith('family '));
  const grub = parts.find((p) => p.startsWith('grub\n'));
  const cfg: BootConfig = { family: family?.startsWith('family rhel') ? 'rhel' : 'debian', entries: [] };
  if (grub !== undefined) cfg.grub = grub.slice('grub\n'.length);
  if (cfg.family === 'rhel') {
    cfg.entries = parseGrubbyInfo((family ?? '').split('\n').slice(1).join('\n'));
    if (!cfg.entries.length) return failed('E_MODULE', `grubby --info=ALL listed no boot entries: ${(family ?? '').split('\n')[1] ?? ''}`);
  } else if (cfg.grub === undefined) {
    return failed('E_MODULE', `no boot loader configuration found: neither grubby nor a readable ${GRUB_PATH}`);
  }
  return cfg;
}

const PROBED_KEYS = new Set(['audit', 'audit_backlog_limit']);

/** The running kernel's arguments the probe reads (audit=, audit_backlog_limit=); other keys are unknown. */
function runningWords(sample: FactSample): Map<string, string> {
  const m = new Map<string, string>();
  const p = sample.persistent;
  if (p.cmdline_audit !== undefined) m.set('audit', `audit=${p.cmdline_audit}`);
  if (p.cmdline_backlog_limit !== undefined) m.set('audit_backlog_limit', `audit_backlog_limit=${p.cmdline_backlog_limit}`);
  return m;
}

/** The running kernel differs from `want` in a key the probe reads (the rest cannot be told). */
function runningDiffers(sample: FactSample, want: string[], state: 'present' | 'absent'): boolean {
  const running = runningWords(sample);
  const known = want.filter((w) => PROBED_KEYS.has(keyOf(w)));
  return known.some((w) => (state === 'present' ? running.get(keyOf(w)) !== w : running.has(keyOf(w))));
}

function verifyRunning(sample: FactSample, want: string[], state: 'present' | 'absent'): ModuleOutcome {
  const running = runningWords(sample);
  const unknown = want.filter((w) => !PROBED_KEYS.has(keyOf(w)));
  if (unknown.length) return failed('E_MODULE', `verify_running reads audit= and audit_backlog_limit= from the probe; cannot verify ${unknown.join(', ')}`);
  const wrong = want.filter((w) => (state === 'present' ? running.get(keyOf(w)) !== w : running.has(keyOf(w))));
  const data = { running: Object.fromEntries(running), missing_running: wrong };
  if (wrong.length) return failed('E_MODULE', `the running kernel's command line ${state === 'present' ? 'lacks' : 'still has'} ${wrong.join(' ')} (/proc/cmdline: ${[...running.values()].join(' ') || 'neither audit= nor audit_backlog_limit='})`, { data });
  return { status: 'ok', msg: `the running kernel's command line ${state === 'present' ? 'has' : 'lacks'} ${want.join(' ')}`, data };
}

interface Guarded {
  refusal?: ModuleOutcome;
  warnings: string[];
}

function guards(ctx: ModuleContext, sample: FactSample, args: KernelCmdlineArgs): Guarded {
  const warnings: string[] = [];
  if (args.state === 'absent') {
    if ('audit' in args.args) warnings.push('removing audit= leaves the processes started before auditd unaudited (CIS 4.1.1.3)');
    return { warnings };
  }
  const audit = args.args.audit;
  if (audit === 0 || audit === '0' || audit === 'off' || audit === false) {
    return { refusal: failed('E_GUARD', 'audit=0 turns the audit subsystem off for the whole boot (auditd cannot enable it); refused'), warnings };
  }
  const raw = args.args.audit_backlog_limit;
  if (raw === undefined || raw === null || raw === true || raw === false) return { warnings };
  const limit = Number(raw);
  if (!Number.isInteger(limit) || limit < 0) return { refusal: failed('E_MODULE', `audit_backlog_limit=${raw} is not a number of records`), warnings };
  // the same judgement as a grub file a lineinfile writes: memory guard, lower than the running limit
  const v = bootBacklogVerdict(ctx, sample, limit, 'kernel_cmdline');
  return { ...(v.refuse ? { refusal: v.refuse } : {}), warnings: [...warnings, ...v.warnings] };
}

export interface KernelCmdlinePlan {
  family: BootConfig['family'];
  grubAfter?: string;
  /** grubby's --args / --remove-args (RHEL), when an entry differs. */
  grubby?: string;
}

function grubbyCommand(want: string[], state: 'present' | 'absent'): string {
  const flag = state === 'present' ? '--args' : '--remove-args';
  const words = state === 'present' ? want : want.map(keyOf);
  return `grubby --update-kernel=ALL ${flag}=${shellQuote(words.join(' '))}`;
}

async function check(ctx: ModuleContext, args: KernelCmdlineArgs): Promise<Checked<KernelCmdlinePlan>> {
  const want = argWords(args.args);
  const sample = await ctx.session.sample(ctx.become);
  if (args.verify_running) return verifyRunning(sample, want, args.state);
  const g = guards(ctx, sample, args);
  if (g.refusal) return g.refusal;
  const cfg = await readBootConfig(ctx);
  if (!('family' in cfg)) return cfg;
  const diff: DiffEntry[] = [];
  const plan: KernelCmdlinePlan = { family: cfg.family };
  if (cfg.grub !== undefined) {
    const after = editGrubDefault(cfg.grub, want, args.state);
    if (after !== cfg.grub) {
      plan.grubAfter = after;
      diff.push({ path: GRUB_PATH, before: cfg.grub, after });
    }
  }
  const stale = cfg.entries.filter((e) => !satisfied(e.args, want, args.state));
  if (stale.length) {
    plan.grubby = grubbyCommand(want, args.state);
    for (const e of stale) diff.push({ path: `${e.kernel} (boot entry args)`, before: `${e.args}\n`, after: `${editCmdline(e.args, want, args.state)}\n` });
  }
  const pendingBoot = runningDiffers(sample, want, args.state);
  const data = { family: cfg.family, args: want, state: args.state, reboot_required: !!diff.length || pendingBoot };
  if (!diff.length) {
    return { status: 'ok', msg: `the boot configuration already has ${want.join(' ')} ${args.state}${pendingBoot ? ' (takes effect at the next boot: reboot required)' : ''}`, data, warnings: g.warnings };
  }
  return {
    status: 'changed',
    msg: `${ctx.check ? 'would set' : 'setting'} ${want.join(' ')} ${args.state} in the boot configuration (${cfg.family === 'rhel' ? 'grubby' : 'update-grub'}); reboot required`,
    diff,
    data,
    warnings: [...g.warnings, 'reboot required: the kernel command line changes at the next boot'],
    plan,
  };
}

async function apply(ctx: ModuleContext, args: KernelCmdlineArgs, plan: KernelCmdlinePlan, checked: Checked<KernelCmdlinePlan>): Promise<ModuleOutcome> {
  const keep = { diff: checked.diff ?? [], data: checked.data ?? {}, warnings: checked.warnings ?? [] };
  const want = argWords(args.args);
  if (plan.grubAfter !== undefined) {
    // written whole and renamed over the old file: a cut connection never leaves half a file
    const tmp = `${GRUB_PATH}.fleetmend-new`;
    const w = await run(ctx, `cat > ${tmp} && mv ${tmp} ${GRUB_PATH}`, { stdin: plan.grubAfter });
    if (w.code !== 0) return { ...keep, ...failed('E_MODULE', `writing ${GRUB_PATH} failed: ${firstErrorLine(w)}`) };
  }
  const tool = plan.family === 'rhel' ? plan.grubby : 'if command -v update-grub >/dev/null 2>&1; then update-grub; else grub-mkconfig -o /boot/grub/grub.cfg; fi';
  if (tool) {
    const t = await run(ctx, `${tool} 2>&1`);
    if (t.code !== 0) return { ...keep, ...failed('E_MODULE', `${plan.family === 'rhel' ? 'grubby' : 'update-grub'} failed (rc ${t.code}): ${firstErrorLine(t)}`) };
  }
  if (plan.family === 'debian') await run(ctx, ': > /run/reboot-required 2>/dev/null; true');
  // verification: the same read as check, which must now find nothing to change
  const cfg = await readBootConfig(ctx);
  if (!('family' in cfg)) return { ...keep, ...cfg };
  const left = cfg.entries.filter((e) => !satisfied(e.args, want, args.state)).map((e) => e.kernel);
  if (cfg.grub !== undefined && editGrubDefault(cfg.grub, want, args.state) !== cfg.grub) left.push(GRUB_PATH);
  if (left.length) return { ...keep, ...failed('E_MODULE', `verification failed: ${left.join(', ')} still ${args.state === 'present' ? 'lack' : 'have'} ${want.join(' ')}`) };
  return { ...keep, status: 'changed', msg: `set ${want.join(' ')} ${args.state} in the boot configuration; reboot required` };
}

export const kernelCmdlineModule: Module<KernelCmdlineArgs, KernelCmdlinePlan> = {
  name: 'kernel_cmdline',
  schema: kernelCmdlineArgs as unknown as z.ZodType<KernelCmdlineArgs>,
  check,
  apply,
};
