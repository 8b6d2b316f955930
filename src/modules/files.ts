/**
 * Reading and writing a host's files for the file modules. A read is one round trip (`stat` for
 * mode and owner, then `cat`); a write sends the content on stdin (never in the command line)
 * into a temporary file in the same directory, gives it the mode and owner, and renames it over
 * the target: a reader (augenrules, auditd, grub-mkconfig) sees the old file or the new one,
 * never half of one. The temporary name ends in `.tmp`, which augenrules (`*.rules`) and
 * grub.d (`*.cfg`) skip, should a write be cut short.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { FleetmendError } from '../errors.js';
import { boolLike, firstErrorLine, run, shellQuote } from './common.js';
import type { ModuleContext } from './types.js';

export interface RemoteFile {
  path: string;
  exists: boolean;
  kind?: 'file' | 'directory' | 'other';
  /** Octal permission bits as `stat %a` prints them ("644"). */
  mode?: string;
  owner?: string;
  group?: string;
  /** Content of a regular file. */
  content?: string;
}

/** Arguments every file module takes for the file's attributes (changed only when given). */
export const attrArgs = {
  mode: z
    .union([z.string(), z.number()])
    .transform((v) => normalizeMode(v))
    .refine((v) => /^[0-7]{3,4}$/.test(v), 'mode must be octal, e.g. "0644"')
    .optional(),
  owner: z.string().regex(/^[A-Za-z0-9_.][A-Za-z0-9_.-]*$/, 'owner must be a user name').optional(),
  group: z.string().regex(/^[A-Za-z0-9_.][A-Za-z0-9_.-]*$/, 'group must be a group name').optional(),
};

export const absolutePath = z.string().regex(/^\/[^\0]*$/, 'path must be absolute').refine((p) => !p.endsWith('/') || p === '/', 'path must name a file');
export const boolArg = z.preprocess(boolLike, z.boolean());

/**
 * "0644", 644, "644" → "644". An unquoted `mode: 0644` is the number 644 under YAML 1.2 (how
 * playbooks load today) and 420 under YAML 1.1 (Ansible's PyYAML): a number whose digits are
 * all 0–7 is read as those octal digits, any other as its value in octal (YAML 1.1's 0755 =
 * 493 → "755"; but its 0644 = 420 reads as "420"). Ansible's own advice stands: quote modes.
 */
export function normalizeMode(v: string | number): string {
  if (typeof v === 'number') {
    const s = String(v);
    return /^[0-7]{3,4}$/.test(s) ? s.replace(/^0(?=\d{3}$)/, '') : v.toString(8);
  }
  return v.trim().replace(/^0(?=[0-7]{3}$)/, '');
}

/** `stat` then (unless `withContent` is false) `cat`, in one command; `S:absent` when there is nothing at the path. */
export function readFileCommand(path: string, withContent = true): string {
  const cat = withContent ? ' if [ -f "$fm_p" ]; then cat "$fm_p" || exit 1; fi;' : '';
  return [`fm_p=${shellQuote(path)}`, `if [ -e "$fm_p" ]; then stat -c 'S:%a:%U:%G:%F' "$fm_p" || exit 1;${cat} else echo 'S:absent'; fi`].join('\n');
}

export function parseFileRead(path: string, out: string): RemoteFile | undefined {
  const nl = out.indexOf('\n');
  const head = nl < 0 ? out : out.slice(0, nl);
  if (head === 'S:absent') return { path, exists: false };
  const m = /^S:([0-7]+):([^:]*):([^:]*):(.*)$/.exec(head);
  if (!m) return undefined;
  const type = m[4] as string;
  const kind = type === 'directory' ? 'directory' : /^regular/.test(type) ? 'file' : 'other';
  const content = kind === 'file' && nl >= 0 ? { content: out.slice(nl + 1) } : {};
  return { path, exists: true, kind, mode: m[1] as string, owner: m[2] as string, group: m[3] as string, ...content };
}

export async function readRemoteFile(ctx: ModuleContext, path: string, withContent = true): Promise<RemoteFile> {
  const r = await run(ctx, readFileCommand(path, withContent));
  const f = r.code === 0 ? parseFileRead(path, r.stdout) : undefined;
  if (!f) throw new FleetmendError('E_MODULE', `cannot read ${path}: ${firstErrorLine(r)}`, { host: ctx.host });
  return f;
}

export interface Attrs {
  mode?: string | undefined;
  owner?: string | undefined;
  group?: string | undefined;
}

/** The attributes asked for that the file does not have (all of them for a new file). */
export function attrChanges(file: RemoteFile | undefined, want: Attrs): Attrs {
  const out: Attrs = {};
  if (want.mode !== undefined && normalizeMode(want.mode) !== file?.mode) out.mode = want.mode;
  if (want.owner !== undefined && want.owner !== file?.owner) out.owner = want.owner;
  if (want.group !== undefined && want.group !== file?.group) out.group = want.group;
  return out;
}

function chownSpec(a: Attrs): string | undefined {
  if (a.owner === undefined && a.group === undefined) return undefined;
  return `${a.owner ?? ''}${a.group !== undefined ? `:${a.group}` : ''}`;
}

/** chmod/chown lines for `target` (quoted). */
function attrCommands(target: string, a: Attrs): string[] {
  const out: string[] = [];
  if (a.mode !== undefined) out.push(`chmod ${shellQuote(a.mode)} ${target}`);
  const own = chownSpec(a);
  if (own !== undefined) out.push(`chown ${shellQuote(own)} ${target}`);
  return out;
}

/**
 * The write: temp file, the attributes (asked for, else the old file's, else 0644 — Ansible's
 * default under umask 022), then rename. On any failure the temp file is removed.
 */
export function writeFileCommand(path: string, attrs: Attrs, old: RemoteFile | undefined, tmpTag: string): string {
  const slash = path.lastIndexOf('/');
  const tmp = `${path.slice(0, slash + 1)}.${path.slice(slash + 1)}.${tmpTag}.fleetmend.tmp`;
  // the old owner is kept where it is not the writer's (root writing root's file needs no chown)
  const owner = attrs.owner ?? (old?.owner !== 'root' ? old?.owner : undefined);
  const group = attrs.group ?? (old?.group !== 'root' ? old?.group : undefined);
  const keep: Attrs = { mode: attrs.mode ?? old?.mode ?? '644', ...(owner ? { owner } : {}), ...(group ? { group } : {}) };
  const steps = ['cat > "$fm_t"', ...attrCommands('"$fm_t"', keep), 'mv -f "$fm_t" "$fm_p"'];
  return [`fm_p=${shellQuote(path)}`, `fm_t=${shellQuote(tmp)}`, `${steps.join(' && ')} || (rm -f "$fm_t"; exit 1)`].join('\n');
}

export async function writeRemoteFile(ctx: ModuleContext, path: string, content: string, attrs: Attrs, old: RemoteFile | undefined): Promise<string | undefined> {
  const r = await run(ctx, writeFileCommand(path, attrs, old, randomBytes(4).toString('hex')), { stdin: content });
  return r.code === 0 ? undefined : `cannot write ${path}: ${firstErrorLine(r)}`;
}

/** chmod/chown of an existing path (no content change). */
export async function setRemoteAttrs(ctx: ModuleContext, path: string, attrs: Attrs): Promise<string | undefined> {
  const cmds = attrCommands(shellQuote(path), attrs);
  if (!cmds.length) return undefined;
  const r = await run(ctx, cmds.join(' && '));
  return r.code === 0 ? undefined : `cannot set ${describeAttrs(attrs)} on ${path}: ${firstErrorLine(r)}`;
}

export function describeAttrs(a: Attrs): string {
  return [a.mode !== undefined ? `mode ${a.mode}` : '', chownSpec(a) !== undefined ? `owner ${chownSpec(a)}` : ''].filter(Boolean).join(', ');
}

/** `cp` of the old file next to it before a change (`backup: yes`): Ansible's `path.STAMP~` name. */
export async function backupRemoteFile(ctx: ModuleContext, path: string): Promise<{ file?: string; error?: string }> {
  const stamp = new Date(ctx.clock.now()).toISOString().replace(/\.\d+Z$/, '').replace('T', '@');
  const file = `${path}.${stamp}~`;
  const r = await run(ctx, `cp ${shellQuote(path)} ${shellQuote(file)}`);
  return r.code === 0 ? { file } : { error: `backup of ${path} failed: ${firstErrorLine(r)}` };
}
