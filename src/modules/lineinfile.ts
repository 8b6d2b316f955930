/**
 * `lineinfile`, as ansible.builtin.lineinfile (ansible-core 2.16 `present()`/`absent()`): one
 * line ensured present (replacing the last line `regexp` or `search_string` matches, else
 * inserted after/before the last `insertafter`/`insertbefore` match, EOF by default) or absent.
 * The edit is pure (`lineinfileEdit`); reading, guards, diff and the atomic write are
 * file-content.ts's. Writing `-f 2`/`-e 2`/`-b N` into audit rules goes through the guards.
 */
import { z } from 'zod';
import { absolutePath, attrArgs, boolArg, type RemoteFile } from './files.js';
import { applyContent, checkContent, type ContentPlan, type Edit } from './file-content.js';
import { expandTemplate, pyRegex } from './pyregex.js';
import type { Module } from './types.js';

const str = z.union([z.string(), z.number()]).transform(String);

export const lineinfileArgs = z
  .object({
    path: absolutePath.optional(),
    dest: absolutePath.optional(),
    regexp: z.string().optional(),
    regex: z.string().optional(),
    search_string: z.string().optional(),
    line: str.optional(),
    value: str.optional(),
    state: z.enum(['present', 'absent']).default('present'),
    insertafter: z.string().optional(),
    insertbefore: z.string().optional(),
    backrefs: boolArg.default(false),
    create: boolArg.default(false),
    backup: boolArg.default(false),
    firstmatch: boolArg.default(false),
    /** Accepted for compatibility: every write here is atomic (temp file + rename) anyway. */
    unsafe_writes: boolArg.optional(),
    ...attrArgs,
  })
  .strict()
  .transform(({ dest, regex, value, ...a }) => ({ ...a, path: a.path ?? dest, regexp: a.regexp ?? regex, line: a.line ?? value }))
  .superRefine((a, ctx) => {
    const bad = (message: string) => ctx.addIssue({ code: 'custom', message });
    if (!a.path) bad('lineinfile needs path');
    if (a.insertafter !== undefined && a.insertbefore !== undefined) bad('insertafter and insertbefore are mutually exclusive');
    if (a.regexp !== undefined && a.search_string !== undefined) bad('regexp and search_string are mutually exclusive');
    if (a.backrefs && a.regexp === undefined) bad('regexp is required with backrefs=true');
    if (a.state === 'present' && a.line === undefined) bad('line is required with state=present');
    if (a.state === 'absent' && a.regexp === undefined && a.search_string === undefined && a.line === undefined) bad('one of line, search_string, or regexp is required with state=absent');
  });
export type LineinfileArgs = z.infer<typeof lineinfileArgs>;

/** Lines with their separators (Python's `splitlines(True)` for \n files). */
function splitKeep(text: string): string[] {
  return text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
}
const bare = (l: string) => l.replace(/[\r\n]+$/, '');

export function lineinfileEdit(file: RemoteFile, a: LineinfileArgs): Edit {
  if (!file.exists) {
    if (a.state === 'absent') return { after: undefined, msg: 'file not present' };
    if (!a.create) return { fail: `Destination ${a.path} does not exist !`, data: { rc: 257 } };
  }
  const lines = splitKeep(file.content ?? '');
  return a.state === 'absent' ? absent(lines, a) : present(lines, a, !file.exists);
}

function absent(lines: string[], a: LineinfileArgs): Edit {
  const re = a.regexp !== undefined ? pyRegex(a.regexp) : undefined;
  const hit = (l: string) => (re ? re.test(l) : a.search_string !== undefined ? l.includes(a.search_string) : bare(l) === a.line);
  const kept = lines.filter((l) => !hit(l));
  const n = lines.length - kept.length;
  return { after: n ? kept.join('') : undefined, msg: n ? `${n} line(s) removed` : '' };
}

function present(lines: string[], a: LineinfileArgs, created: boolean): Edit {
  const line = a.line as string;
  const re = a.regexp !== undefined ? pyRegex(a.regexp) : undefined;
  const insAfter = a.insertafter !== undefined && a.insertafter !== 'EOF' && a.insertafter !== 'BOF' ? pyRegex(a.insertafter) : undefined;
  const insBefore = a.insertbefore !== undefined && a.insertbefore !== 'BOF' ? pyRegex(a.insertbefore) : undefined;
  const ins = insAfter ?? insBefore;
  let found = -1;
  let match: RegExpExecArray | null = null;
  for (let i = 0; i < lines.length && !(a.firstmatch && match); i++) {
    const cur = lines[i] as string;
    const m = re ? re.exec(cur) : a.search_string !== undefined && cur.includes(a.search_string) ? ([cur] as unknown as RegExpExecArray) : null;
    if (m) [found, match] = [i, m];
  }
  let at = -1;
  if (!match) {
    for (let i = 0; i < lines.length; i++) {
      const cur = lines[i] as string;
      if (bare(cur) === line) found = i;
      else if (ins?.test(cur)) {
        at = insAfter ? i + 1 : i;
        if (a.firstmatch) break;
      }
    }
  }
  const done = (msg: string): Edit => ({ after: lines.join(''), msg: created ? 'line added' : msg });
  const ensureEol = () => {
    const last = lines[lines.length - 1];
    if (last !== undefined && !last.endsWith('\n')) lines[lines.length - 1] = `${last}\n`;
  };
  if (found !== -1) {
    const newLine = `${a.backrefs && match ? expandTemplate(line, match) : line}\n`;
    if (lines[found] === newLine) return { after: undefined, msg: '' };
    lines[found] = newLine;
    return done('line replaced');
  }
  if (a.backrefs) return { after: undefined, msg: '' };
  if (a.insertbefore === 'BOF' || a.insertafter === 'BOF') {
    lines.unshift(`${line}\n`);
    return done('line added');
  }
  if (a.insertafter === 'EOF' || at === -1) {
    ensureEol();
    lines.push(`${line}\n`);
    return done('line added');
  }
  if (insAfter) {
    // do not insert the line if it already follows the match
    if (at === lines.length ? bare(lines[at - 1] as string) === line : bare(lines[at] as string) === line) return { after: undefined, msg: '' };
    ensureEol();
    lines.splice(at, 0, `${line}\n`);
    return done('line added');
  }
  lines.splice(at, 0, `${line}\n`);
  return done('line added');
}

export const lineinfileModule: Module<LineinfileArgs, ContentPlan> = {
  name: 'lineinfile',
  schema: lineinfileArgs as unknown as z.ZodType<LineinfileArgs>,
  check: (ctx, a) => checkContent(ctx, { path: a.path as string, attrs: a, backup: a.backup, edit: (f) => lineinfileEdit(f, a) }),
  apply: (ctx, _a, plan, checked) => applyContent(ctx, plan, checked),
};
