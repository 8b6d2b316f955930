/**
 * `replace`, as ansible.builtin.replace: every match of `regexp` (Python re, MULTILINE) in the
 * file, or in the section between `after` and `before` (DOTALL), replaced with `replace`
 * (backreferences `\1`, `\g<name>`). The edit is pure (`replaceEdit`); reading, guards, diff
 * and the atomic write are file-content.ts's.
 */
import { z } from 'zod';
import { absolutePath, attrArgs, boolArg, type RemoteFile } from './files.js';
import { applyContent, checkContent, type ContentPlan, type Edit } from './file-content.js';
import { expandTemplate, pyRegex } from './pyregex.js';
import type { Module } from './types.js';

export const replaceArgs = z
  .object({
    path: absolutePath.optional(),
    dest: absolutePath.optional(),
    regexp: z.string().min(1),
    replace: z.union([z.string(), z.number()]).transform(String).default(''),
    after: z.string().optional(),
    before: z.string().optional(),
    backup: boolArg.default(false),
    unsafe_writes: boolArg.optional(),
    encoding: z.literal('utf-8').optional(),
    ...attrArgs,
  })
  .strict()
  .transform(({ dest, ...a }) => ({ ...a, path: (a.path ?? dest) as string }))
  .refine((a) => a.path !== undefined, 'replace needs path');
export type ReplaceArgs = z.infer<typeof replaceArgs>;

export function replaceEdit(file: RemoteFile, a: ReplaceArgs): Edit {
  if (!file.exists) return { fail: `Path ${a.path} does not exist !`, data: { rc: 257 } };
  const contents = file.content ?? '';
  let section = contents;
  let start = 0;
  let end = contents.length;
  const pattern = a.after !== undefined && a.before !== undefined ? `${a.after}(?P<subsection>.*?)${a.before}` : a.after !== undefined ? `${a.after}(?P<subsection>.*)` : a.before !== undefined ? `(?P<subsection>.*)${a.before}` : '';
  if (pattern) {
    const m = pyRegex(pattern, 'sd').exec(contents);
    const idx = m?.indices?.groups?.subsection;
    if (!m || !idx) return { after: undefined, msg: `Pattern for before/after params did not match the given file: ${pattern}` };
    [start, end] = idx;
    section = contents.slice(start, end);
  }
  let count = 0;
  const re = pyRegex(a.regexp, 'gm');
  const replaced = section.replace(re, (...args: unknown[]) => {
    count++;
    const groups = typeof args[args.length - 1] === 'object' ? (args[args.length - 1] as Record<string, string>) : undefined;
    const numbered = args.slice(0, groups ? -3 : -2) as string[];
    const m = Object.assign([...numbered], { groups }) as unknown as RegExpMatchArray;
    return expandTemplate(a.replace, m);
  });
  if (!count || replaced === section) return { after: undefined, msg: '' };
  return { after: contents.slice(0, start) + replaced + contents.slice(end), msg: `${count} replacements made` };
}

export const replaceModule: Module<ReplaceArgs, ContentPlan> = {
  name: 'replace',
  schema: replaceArgs as unknown as z.ZodType<ReplaceArgs>,
  check: (ctx, a) => checkContent(ctx, { path: a.path, attrs: a, backup: a.backup, edit: (f) => replaceEdit(f, a) }),
  apply: (ctx, _a, plan, checked) => applyContent(ctx, plan, checked),
};
