/**
 * `file` and `stat`, as ansible.builtin.file / .stat for regular files and directories:
 * `state: file | directory | touch | absent` with `mode`/`owner`/`group` changed only when
 * given. Links (`state: link|hard`) and `recurse` are refused by the schema. One stat per
 * check; `stat` reads the file once more only for its checksum.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { absolutePath, attrArgs, attrChanges, boolArg, describeAttrs, readRemoteFile, setRemoteAttrs, type Attrs, type RemoteFile } from './files.js';
import { firstErrorLine, run, shellQuote } from './common.js';
import { failed, type Checked, type Module, type ModuleContext, type ModuleOutcome } from './types.js';

export const fileArgs = z
  .object({
    path: absolutePath.optional(),
    dest: absolutePath.optional(),
    name: absolutePath.optional(),
    state: z.enum(['file', 'directory', 'touch', 'absent']).default('file'),
    access_time: z.literal('preserve').optional(),
    modification_time: z.literal('preserve').optional(),
    ...attrArgs,
  })
  .strict()
  .transform(({ dest, name, ...a }) => ({ ...a, path: (a.path ?? dest ?? name) as string }))
  .refine((a) => a.path !== undefined, 'file needs path')
  .refine((a) => a.path !== '/', 'file: refusing to act on /');
export type FileArgs = z.infer<typeof fileArgs>;

export interface FilePlan {
  path: string;
  /** Commands (each already quoted) before the attributes: mkdir, touch, rm. */
  create?: string;
  attrs: Attrs;
}

const kindOf = (f: RemoteFile) => (f.exists ? (f.kind ?? 'file') : 'absent');

/** What `file` would do with what the host has: a plan, nothing, or a refusal. */
export function planFile(f: RemoteFile, a: FileArgs): { plan?: FilePlan; fail?: string; msg: string } {
  const q = shellQuote(a.path);
  const attrs = attrChanges(f.exists ? f : undefined, a);
  const withAttrs = (create: string | undefined, what: string) => {
    const any = create !== undefined || Object.keys(attrs).length > 0;
    return any ? { plan: { path: a.path, ...(create ? { create } : {}), attrs }, msg: [what, describeAttrs(attrs)].filter(Boolean).join('; ') } : { msg: `${a.path} is already a ${a.state}` };
  };
  switch (a.state) {
    case 'absent':
      return f.exists ? { plan: { path: a.path, create: `rm -rf ${q}`, attrs: {} }, msg: `remove ${kindOf(f)} ${a.path}` } : { msg: `${a.path} is absent` };
    case 'directory':
      if (f.exists && f.kind !== 'directory') return { fail: `${a.path} already exists as a ${kindOf(f)}`, msg: '' };
      return withAttrs(f.exists ? undefined : `mkdir -p ${q}`, f.exists ? '' : 'directory created');
    case 'file':
      if (!f.exists) return { fail: `file (${a.path}) is absent, cannot continue`, msg: '' };
      if (f.kind !== 'file') return { fail: `file (${a.path}) is ${kindOf(f)}, cannot continue`, msg: '' };
      return withAttrs(undefined, '');
    case 'touch': {
      // Ansible's touch updates the times, so it is always a change unless both are preserved
      const preserve = a.access_time === 'preserve' && a.modification_time === 'preserve';
      if (f.exists && preserve) return withAttrs(undefined, '');
      return withAttrs(`touch ${q}`, f.exists ? 'times updated' : 'file created');
    }
  }
}

async function checkFile(ctx: ModuleContext, a: FileArgs): Promise<Checked<FilePlan>> {
  const f = await readRemoteFile(ctx, a.path, false);
  const p = planFile(f, a);
  if (p.fail) return failed('E_MODULE', p.fail, { data: { path: a.path, state: kindOf(f) } });
  const data = { path: a.path, state: kindOf(f) };
  if (!p.plan) return { status: 'ok', msg: p.msg, data };
  const after = a.state === 'absent' ? 'absent' : a.state === 'touch' && !f.exists ? 'file' : a.state;
  const diff = [{ path: a.path, before: `${kindOf(f)}${f.exists ? `, mode ${f.mode}, owner ${f.owner}:${f.group}` : ''}\n`, after: `${after}${after === 'absent' ? '' : `, mode ${a.mode ?? f.mode ?? (after === 'directory' ? '755' : '644')}, owner ${a.owner ?? f.owner ?? 'root'}:${a.group ?? f.group ?? 'root'}`}\n` }];
  return { status: 'changed', msg: `${ctx.check ? 'would change' : 'changing'} ${a.path}: ${p.msg}`, diff, data, plan: p.plan };
}

async function applyFile(ctx: ModuleContext, a: FileArgs, plan: FilePlan, checked: Checked<FilePlan>): Promise<ModuleOutcome> {
  const keep = { diff: checked.diff ?? [], data: checked.data ?? {} };
  if (plan.create) {
    const r = await run(ctx, plan.create);
    if (r.code !== 0) return { ...keep, ...failed('E_MODULE', `${plan.create.split(' ')[0]} ${a.path} failed: ${firstErrorLine(r)}`) };
  }
  const err = await setRemoteAttrs(ctx, a.path, plan.attrs);
  if (err) return { ...keep, ...failed('E_MODULE', err) };
  const now = await readRemoteFile(ctx, a.path, false);
  const wrong = a.state === 'absent' ? now.exists : !now.exists || Object.keys(attrChanges(now, a)).length > 0;
  if (wrong) return { ...keep, ...failed('E_MODULE', `verification failed: ${a.path} is ${kindOf(now)}${now.exists ? ` (mode ${now.mode}, owner ${now.owner}:${now.group})` : ''}`) };
  return { ...keep, status: 'changed', msg: `${a.path}: ${checked.msg?.replace(/^changing [^:]+: /, '') ?? a.state}` };
}

export const fileModule: Module<FileArgs, FilePlan> = { name: 'file', schema: fileArgs as unknown as z.ZodType<FileArgs>, check: checkFile, apply: applyFile };

export const statArgs = z
  .object({ path: absolutePath, follow: boolArg.default(false), get_checksum: boolArg.default(true), checksum_algorithm: z.enum(['sha1', 'sha256']).default('sha1'), get_mime: boolArg.optional(), get_attributes: boolArg.optional() })
  .strict();
export type StatArgs = z.infer<typeof statArgs>;

/** Ansible's `stat` result keys for what was read. */
export function statResult(f: RemoteFile, a: StatArgs): Record<string, unknown> {
  if (!f.exists) return { exists: false };
  const out: Record<string, unknown> = {
    exists: true,
    path: f.path,
    isreg: f.kind === 'file',
    isdir: f.kind === 'directory',
    mode: (f.mode ?? '').padStart(4, '0'),
    pw_name: f.owner,
    gr_name: f.group,
  };
  if (f.content !== undefined) {
    out.size = Buffer.byteLength(f.content);
    if (a.get_checksum) out.checksum = createHash(a.checksum_algorithm).update(f.content).digest('hex');
  }
  return out;
}

export const statModule: Module<StatArgs, never> = {
  name: 'stat',
  schema: statArgs,
  async check(ctx, a) {
    const f = await readRemoteFile(ctx, a.path, true);
    return { status: 'ok', data: { stat: statResult(f, a) } };
  },
  async apply() {
    return { status: 'ok' };
  },
};
