/**
 * `copy` and `template`, as ansible.builtin.copy / .template for one file: the content (given,
 * read from a local `src`, rendered from a local template, or with `remote_src` read on the
 * host) written to `dest` through file-content.ts (guards, diff, atomic write, mode kept).
 * A relative `src` is looked up as Ansible does: each search path's `files/` (copy) or
 * `templates/` (template), then the search path itself — a role's directory, then the
 * playbook's (ModuleContext.searchPaths). Directories (recursive copy) are refused.
 */
import { readFileSync, statSync } from 'node:fs';
import { basename, isAbsolute, join } from 'node:path';
import { z } from 'zod';
import { FleetmendError } from '../errors.js';
import { attrArgs, boolArg, readRemoteFile, type RemoteFile } from './files.js';
import { applyContent, checkContent, type ContentPlan, type Edit } from './file-content.js';
import { failed, type Checked, type Module, type ModuleContext } from './types.js';

const dest = z.string().regex(/^\/[^\0]*$/, 'dest must be absolute');

export const copyArgs = z
  .object({
    src: z.string().min(1).optional(),
    content: z.union([z.string(), z.number()]).transform(String).optional(),
    dest,
    remote_src: boolArg.default(false),
    force: boolArg.default(true),
    backup: boolArg.default(false),
    unsafe_writes: boolArg.optional(),
    ...attrArgs,
  })
  .strict()
  .refine((a) => (a.src === undefined) !== (a.content === undefined), 'copy needs exactly one of src and content');
export type CopyArgs = z.infer<typeof copyArgs>;

export const templateArgs = z
  .object({ src: z.string().min(1), dest, force: boolArg.default(true), backup: boolArg.default(false), unsafe_writes: boolArg.optional(), ...attrArgs })
  .strict();
export type TemplateArgs = z.infer<typeof templateArgs>;

/** A controller-side `src` resolved along the search paths (first that is a regular file). */
export function resolveSource(src: string, kind: 'files' | 'templates', searchPaths: readonly string[]): string {
  const tried = isAbsolute(src) ? [src] : searchPaths.flatMap((base) => [join(base, kind, src), join(base, src)]);
  for (const p of tried) {
    try {
      if (statSync(p).isFile()) return p;
      if (statSync(p).isDirectory()) throw new FleetmendError('E_MODULE', `${p} is a directory: copying directories is not supported, copy its files one by one`);
    } catch (err) {
      if (err instanceof FleetmendError) throw err;
    }
  }
  throw new FleetmendError('E_MODULE', `Could not find or access '${src}'; searched in: ${tried.join(', ')}`);
}

/** A `dest` ending in `/` is a directory: the file keeps src's name there (Ansible's rule). */
function destPath(a: { dest: string; src?: string | undefined }): string {
  return a.dest.endsWith('/') && a.src ? `${a.dest}${basename(a.src)}` : a.dest;
}

function wholeFile(content: string, force: boolean): (f: RemoteFile) => Edit {
  return (f) => (f.exists && !force ? { after: undefined, msg: 'file exists and force is no' } : { after: content, msg: f.exists ? 'content replaced' : 'file created' });
}

async function copyContent(ctx: ModuleContext, a: CopyArgs): Promise<string> {
  if (a.content !== undefined) return a.content;
  if (a.remote_src) {
    const f = await readRemoteFile(ctx, a.src as string);
    if (!f.exists || f.content === undefined) throw new FleetmendError('E_MODULE', `Source ${a.src} not found on the host or not a regular file`);
    return f.content;
  }
  return readFileSync(resolveSource(a.src as string, 'files', ctx.searchPaths ?? [process.cwd()]), 'utf8');
}

async function checkCopy(ctx: ModuleContext, a: CopyArgs): Promise<Checked<ContentPlan>> {
  if (a.content !== undefined && a.dest.endsWith('/')) return failed('E_MODULE', 'can not use content with a dir as dest');
  let content: string;
  try {
    content = await copyContent(ctx, a);
  } catch (err) {
    if (err instanceof FleetmendError && err.code === 'E_MODULE') return failed('E_MODULE', err.message);
    throw err;
  }
  return checkContent(ctx, { path: destPath(a), attrs: a, backup: a.backup, edit: wholeFile(content, a.force) });
}

async function checkTemplate(ctx: ModuleContext, a: TemplateArgs): Promise<Checked<ContentPlan>> {
  if (!ctx.renderTemplate) return failed('E_MODULE', 'template: no templater in this context');
  let file: string;
  try {
    file = resolveSource(a.src, 'templates', ctx.searchPaths ?? [process.cwd()]);
  } catch (err) {
    if (err instanceof FleetmendError) return failed('E_MODULE', err.message);
    throw err;
  }
  // rendered per host with the task's scope; an undefined variable fails the task (E_UNDEFINED)
  const content = ctx.renderTemplate(readFileSync(file, 'utf8'), file);
  return checkContent(ctx, { path: destPath(a), attrs: a, backup: a.backup, edit: wholeFile(content, a.force) });
}

export const copyModule: Module<CopyArgs, ContentPlan> = {
  name: 'copy',
  schema: copyArgs as unknown as z.ZodType<CopyArgs>,
  check: checkCopy,
  apply: (ctx, _a, plan, checked) => applyContent(ctx, plan, checked),
};

export const templateModule: Module<TemplateArgs, ContentPlan> = {
  name: 'template',
  schema: templateArgs as unknown as z.ZodType<TemplateArgs>,
  check: checkTemplate,
  apply: (ctx, _a, plan, checked) => applyContent(ctx, plan, checked),
};
