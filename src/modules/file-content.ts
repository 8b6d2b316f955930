/**
 * One check/apply for every module that leaves a file with some content (lineinfile, replace,
 * blockinfile, copy, template): read once, compute the new text (a pure edit), judge it with
 * the audit-file guards, show the diff, and only in apply write it (atomically) and verify.
 * Check mode is the same path stopped before apply (modules/types.ts).
 */
import { auditFileGuards } from './audit-files.js';
import { attrChanges, backupRemoteFile, describeAttrs, readRemoteFile, setRemoteAttrs, writeRemoteFile, type Attrs, type RemoteFile } from './files.js';
import { failed, type Checked, type DiffEntry, type ModuleContext, type ModuleOutcome } from './types.js';

/** What an edit decides: the content to leave (undefined: as it is) and Ansible's message, or a failure. */
export type Edit = { after: string | undefined; msg: string } | { fail: string; data?: Record<string, unknown> };

export interface ContentTask {
  path: string;
  attrs: Attrs;
  backup: boolean;
  /** The pure edit on what the host has (a missing file is `exists: false`). */
  edit(file: RemoteFile): Edit;
}

export interface ContentPlan {
  path: string;
  old: RemoteFile;
  after: string | undefined;
  attrs: Attrs;
  backup: boolean;
  msg: string;
}

function attrText(f: RemoteFile | undefined, a: Attrs): string {
  return `mode ${a.mode ?? f?.mode ?? '644'}, owner ${a.owner ?? f?.owner ?? 'root'}:${a.group ?? f?.group ?? 'root'}\n`;
}

export async function checkContent(ctx: ModuleContext, task: ContentTask): Promise<Checked<ContentPlan>> {
  const old = await readRemoteFile(ctx, task.path);
  if (old.exists && old.kind !== 'file') return failed('E_MODULE', `${task.path} is a ${old.kind ?? 'special file'}, not a regular file`);
  const e = task.edit(old);
  if ('fail' in e) return failed('E_MODULE', e.fail, e.data ? { data: e.data } : {});
  const contentChanged = e.after !== undefined && (!old.exists || e.after !== old.content);
  const after = contentChanged ? e.after : undefined;
  const attrs = old.exists || contentChanged ? attrChanges(old.exists ? old : undefined, task.attrs) : {};
  const data: Record<string, unknown> = { path: task.path };
  if (!contentChanged && !Object.keys(attrs).length) return { status: 'ok', msg: e.msg, data };
  const verdict = await auditFileGuards(ctx, task.path, old.content, after);
  const diff: DiffEntry[] = [];
  if (after !== undefined) diff.push({ path: task.path, before: old.content ?? '', after });
  if (Object.keys(attrs).length && old.exists) diff.push({ path: `${task.path} (attributes)`, before: attrText(old, {}), after: attrText(old, attrs) });
  if (verdict.findings.length) data.findings = verdict.findings;
  if (verdict.refuse) return { ...verdict.refuse, diff, warnings: verdict.warnings, data: { ...data, ...(verdict.refuse.data ?? {}) } };
  const what = [contentChanged ? e.msg || 'content changed' : '', Object.keys(attrs).length ? describeAttrs(attrs) : ''].filter(Boolean).join('; ');
  return {
    status: 'changed',
    msg: `${ctx.check ? 'would change' : 'changing'} ${task.path}: ${what}`,
    diff,
    warnings: verdict.warnings,
    data,
    plan: { path: task.path, old, after, attrs, backup: task.backup, msg: what },
  };
}

export async function applyContent(ctx: ModuleContext, plan: ContentPlan, checked: Checked<ContentPlan>): Promise<ModuleOutcome> {
  const keep = { diff: checked.diff ?? [], warnings: checked.warnings ?? [], data: { ...(checked.data ?? {}) } };
  if (plan.backup && plan.old.exists && plan.after !== undefined) {
    const b = await backupRemoteFile(ctx, plan.path);
    if (b.error) return { ...keep, ...failed('E_MODULE', b.error) };
    keep.data.backup_file = b.file;
  }
  const error = plan.after !== undefined ? await writeRemoteFile(ctx, plan.path, plan.after, plan.attrs, plan.old.exists ? plan.old : undefined) : await setRemoteAttrs(ctx, plan.path, plan.attrs);
  if (error) return { ...keep, ...failed('E_MODULE', error) };
  const now = await readRemoteFile(ctx, plan.path);
  if (plan.after !== undefined && now.content !== plan.after) return { ...keep, ...failed('E_MODULE', `verification failed: ${plan.path} does not hold what was written`) };
  const stillWrong = attrChanges(now, plan.attrs);
  if (Object.keys(stillWrong).length) return { ...keep, ...failed('E_MODULE', `verification failed: ${plan.path} has not got ${describeAttrs(stillWrong)}`) };
  return { ...keep, status: 'changed', msg: `${plan.path}: ${plan.msg}` };
}
