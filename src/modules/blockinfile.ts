/**
 * `blockinfile`, as ansible.builtin.blockinfile: a block between two marker lines inserted,
 * updated in place, or removed (`state: absent`, or an empty `block`). A new block goes after
 * the last `insertafter` match (EOF by default) or before the last `insertbefore` match (or
 * BOF). The edit is pure (`blockinfileEdit`); reading, guards, diff and the write are
 * file-content.ts's.
 */
import { z } from 'zod';
import { absolutePath, attrArgs, boolArg, type RemoteFile } from './files.js';
import { applyContent, checkContent, type ContentPlan, type Edit } from './file-content.js';
import { pyRegex } from './pyregex.js';
import type { Module } from './types.js';

export const blockinfileArgs = z
  .object({
    path: absolutePath.optional(),
    dest: absolutePath.optional(),
    block: z.string().optional(),
    content: z.string().optional(),
    marker: z.string().default('# {mark} ANSIBLE MANAGED BLOCK'),
    marker_begin: z.string().default('BEGIN'),
    marker_end: z.string().default('END'),
    state: z.enum(['present', 'absent']).default('present'),
    insertafter: z.string().optional(),
    insertbefore: z.string().optional(),
    create: boolArg.default(false),
    backup: boolArg.default(false),
    append_newline: boolArg.default(false),
    prepend_newline: boolArg.default(false),
    unsafe_writes: boolArg.optional(),
    ...attrArgs,
  })
  .strict()
  .transform(({ dest, content, ...a }) => ({ ...a, path: (a.path ?? dest) as string, block: a.block ?? content ?? '' }))
  .superRefine((a, ctx) => {
    if (a.path === undefined) ctx.addIssue({ code: 'custom', message: 'blockinfile needs path' });
    if (a.insertafter !== undefined && a.insertbefore !== undefined) ctx.addIssue({ code: 'custom', message: 'insertafter and insertbefore are mutually exclusive' });
  });
export type BlockinfileArgs = z.infer<typeof blockinfileArgs>;

const lineSplit = (text: string): string[] => text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
const bare = (l: string) => l.replace(/[\r\n]+$/, '');

/** Where a new block goes when the file has none: after/before the last insert match. */
function insertAt(lines: string[], a: BlockinfileArgs): number {
  const spec = a.insertafter ?? a.insertbefore;
  if (spec === undefined || a.insertafter === 'EOF') return lines.length;
  if (a.insertbefore === 'BOF') return 0;
  const re = pyRegex(spec);
  let n = -1;
  lines.forEach((l, i) => {
    if (re.test(l)) n = i;
  });
  if (n === -1) return lines.length;
  return a.insertafter !== undefined ? n + 1 : n;
}

export function blockinfileEdit(file: RemoteFile, a: BlockinfileArgs): Edit {
  if (!file.exists) {
    if (a.state === 'absent') return { after: undefined, msg: '' };
    if (!a.create) return { fail: `Path ${a.path} does not exist !`, data: { rc: 257 } };
  }
  const begin = a.marker.replace('{mark}', a.marker_begin);
  const end = a.marker.replace('{mark}', a.marker_end);
  const original = file.content ?? '';
  const lines = lineSplit(original);
  const block = a.block.endsWith('\n') || a.block === '' ? a.block : `${a.block}\n`;
  const blockLines = a.state === 'present' && a.block !== '' ? [`${begin}\n`, ...lineSplit(block), `${end}\n`] : [];
  let n0 = lines.findLastIndex((l) => bare(l) === begin);
  const n1 = lines.findLastIndex((l) => bare(l) === end);
  if (n0 === -1 || n1 === -1) n0 = insertAt(lines, a);
  else if (n0 < n1) lines.splice(n0, n1 - n0 + 1);
  else {
    lines.splice(n1, n0 - n1 + 1);
    n0 = n1;
  }
  if (n0 > 0 && !(lines[n0 - 1] as string).endsWith('\n')) lines[n0 - 1] += '\n';
  if (blockLines.length && a.prepend_newline && n0 > 0 && bare(lines[n0 - 1] as string) !== '') blockLines.unshift('\n');
  if (blockLines.length && a.append_newline && n0 < lines.length && bare(lines[n0] as string) !== '') blockLines.push('\n');
  lines.splice(n0, 0, ...blockLines);
  const result = lines.join('');
  if (file.exists && result === original) return { after: undefined, msg: '' };
  return { after: result, msg: !file.exists ? 'File created' : blockLines.length ? 'Block inserted' : 'Block removed' };
}

export const blockinfileModule: Module<BlockinfileArgs, ContentPlan> = {
  name: 'blockinfile',
  schema: blockinfileArgs as unknown as z.ZodType<BlockinfileArgs>,
  check: (ctx, a) => checkContent(ctx, { path: a.path, attrs: a, backup: a.backup, edit: (f) => blockinfileEdit(f, a) }),
  apply: (ctx, _a, plan, checked) => applyContent(ctx, plan, checked),
};
