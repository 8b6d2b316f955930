/**
 * `mount`, as ansible.posix.mount — with one deliberate difference: fleetmend changes
 * /etc/fstab only, never a live mount. Mounting, unmounting or remounting a filesystem under a
 * running auditd (whose log lives on one) can block it in I/O or take its log away, which
 * stalls the audit queue (reference §4); so `present`/`absent` and the fstab part of `mounted`
 * are done (atomic write, diff, check mode, as every file module), the live state is read from
 * /proc/mounts and reported, and `unmounted`/`remounted` are refused.
 */
import { z } from 'zod';
import { MountsFact, type Mount } from '../facts/defs/mounts.js';
import { gatheredFact } from '../facts/registry.js';
import { absolutePath, boolArg, type RemoteFile } from './files.js';
import { applyContent, checkContent, type ContentPlan, type Edit } from './file-content.js';
import { failed, type Checked, type Module, type ModuleContext } from './types.js';

const field = z.string().regex(/^[^\s#]+$/, 'an fstab field has no spaces or #');

export const mountArgs = z
  .object({
    path: absolutePath.optional(),
    name: absolutePath.optional(),
    src: field.optional(),
    fstype: field.optional(),
    opts: field.default('defaults'),
    dump: z.union([z.string(), z.number()]).transform(String).default('0'),
    passno: z.union([z.string(), z.number()]).transform(String).default('0'),
    state: z.enum(['mounted', 'present', 'unmounted', 'absent', 'remounted', 'ephemeral']),
    fstab: absolutePath.default('/etc/fstab'),
    backup: boolArg.default(false),
    boot: boolArg.default(true),
  })
  .strict()
  .transform(({ name, ...a }) => ({ ...a, path: (a.path ?? name) as string }))
  .superRefine((a, ctx) => {
    if (a.path === undefined) ctx.addIssue({ code: 'custom', message: 'mount needs path' });
    if ((a.state === 'present' || a.state === 'mounted') && (!a.src || !a.fstype)) ctx.addIssue({ code: 'custom', message: `state=${a.state} needs src and fstype` });
  });
export type MountArgs = z.infer<typeof mountArgs>;

export interface LiveMount {
  src: string;
  fstype: string;
  opts: string;
}

/** The visible mount on a path: the last one mounted there (/proc/mounts as the mounts fact parsed it). */
export function liveMount(mounts: readonly Mount[], path: string): LiveMount | undefined {
  const m = mounts.filter((x) => x.mount === path).at(-1);
  return m ? { src: m.device, fstype: m.fstype, opts: m.options } : undefined;
}

/** /proc/mounts from the session's gathering probe (facts/defs/mounts.ts), not a `cat` of the module's own. */
async function readMounts(ctx: ModuleContext): Promise<Mount[] | string> {
  const got = await ctx.session.takeSample(false, 'gather');
  if (got.error) return got.error.message;
  const error = got.sample.parse_errors.find((e) => e.section === MountsFact.name);
  return error ? error.message : (gatheredFact(got.sample, MountsFact) ?? MountsFact.empty);
}

function wantedLine(a: MountArgs): string {
  const opts = a.boot ? a.opts : a.opts.split(',').filter((o) => o !== 'defaults').concat('noauto').join(',');
  return [a.src, a.path, a.fstype, opts, a.dump, a.passno].join(' ');
}

/** The fstab with the path's entry made as asked (present) or removed (absent). */
export function fstabEdit(file: RemoteFile, a: MountArgs): Edit {
  const lines = (file.content ?? '').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const isEntry = (l: string) => !/^\s*#/.test(l) && l.trim().split(/\s+/)[1] === a.path;
  if (a.state === 'absent') {
    const kept = lines.filter((l) => !isEntry(l));
    return kept.length === lines.length ? { after: undefined, msg: '' } : { after: kept.map((l) => `${l}\n`).join(''), msg: 'fstab entry removed' };
  }
  const want = wantedLine(a);
  const at = lines.findIndex(isEntry);
  if (at >= 0 && (lines[at] as string).trim().split(/\s+/).join(' ') === want) return { after: undefined, msg: '' };
  if (at >= 0) lines[at] = want;
  else lines.push(want);
  return { after: lines.map((l) => `${l}\n`).join(''), msg: at >= 0 ? 'fstab entry changed' : 'fstab entry added' };
}

/** How the live mount differs from what the task asks (for the report; never acted on). */
function liveDifference(live: LiveMount | undefined, a: MountArgs): string | undefined {
  if (a.state === 'absent') return live ? `${a.path} stays mounted until it is unmounted by hand or the next boot` : undefined;
  if (a.state !== 'mounted') return undefined;
  if (!live) return `${a.path} is not mounted: fleetmend changed /etc/fstab only; mount it by hand or at the next boot`;
  const missing = a.opts.split(',').filter((o) => o !== 'defaults' && !live.opts.split(',').includes(o));
  if (live.src !== a.src || live.fstype !== a.fstype || missing.length) {
    return `${a.path} is mounted as ${live.src} ${live.fstype} ${live.opts}: the new entry applies at the next mount or boot (no live remount)`;
  }
  return undefined;
}

async function check(ctx: ModuleContext, a: MountArgs): Promise<Checked<ContentPlan>> {
  if (a.state === 'unmounted' || a.state === 'remounted' || a.state === 'ephemeral') {
    return failed('E_MODULE', `mount state=${a.state} is refused: fleetmend does not change live mounts (auditd's log filesystem could block or vanish under it); edit /etc/fstab with state=present and mount by hand`);
  }
  const mounts = await readMounts(ctx);
  if (typeof mounts === 'string') return failed('E_MODULE', `cannot read /proc/mounts: ${mounts}`);
  const live = liveMount(mounts, a.path);
  const out = await checkContent(ctx, { path: a.fstab, attrs: {}, backup: a.backup, edit: (f) => fstabEdit(f.exists ? f : { ...f, content: '' }, a) });
  const note = liveDifference(live, a);
  const data = { ...(out.data ?? {}), live: live ?? null };
  return note ? { ...out, data, warnings: [...(out.warnings ?? []), note] } : { ...out, data };
}

export const mountModule: Module<MountArgs, ContentPlan> = {
  name: 'mount',
  schema: mountArgs as unknown as z.ZodType<MountArgs>,
  check,
  apply: (ctx, _a, plan, checked) => applyContent(ctx, plan, checked),
};
