/**
 * stat, chmod, chown: what the file modules run (GNU coreutils 9.1 messages and exit codes).
 * Mode and owner live in the machine's filesystem (vfs.ts `meta`); `mv` carries them along.
 */
import type { CommandContext, CommandRegistry } from '../shell.js';
import { FsError, normalizePath } from '../vfs.js';

const err = (ctx: CommandContext, text: string) => ctx.stderr.write(`${text}\n`);
const abs = (ctx: CommandContext, p: string) => normalizePath(p, ctx.env.get('PWD') ?? '/');
const operands = (argv: string[]) => argv.slice(1).filter((a) => a === '-' || !a.startsWith('-'));

/** `%F` as GNU stat prints it: an empty regular file is "regular empty file". */
function fileType(kind: 'file' | 'dir', size: number): string {
  if (kind === 'dir') return 'directory';
  return size === 0 ? 'regular empty file' : 'regular file';
}

/** `stat -c FORMAT FILE…` (and `--format=`, `--printf=`); the directives the modules use. */
async function stat(ctx: CommandContext): Promise<number> {
  const args = ctx.argv.slice(1);
  let format: string | undefined;
  const files: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '-c' || a === '--format') format = `${args[++i] ?? ''}\n`;
    else if (a.startsWith('--format=')) format = `${a.slice(9)}\n`;
    else if (a.startsWith('--printf=')) format = a.slice(9).replace(/\\n/g, '\n');
    else if (a === '--' || a === '-L') continue;
    else files.push(a);
  }
  if (!files.length) {
    await err(ctx, "stat: missing operand\nTry 'stat --help' for more information.");
    return 1;
  }
  let rc = 0;
  for (const f of files) {
    const fs = ctx.machine.fs;
    const st = fs.stat(abs(ctx, f));
    const meta = fs.meta(abs(ctx, f));
    if (!st || !meta) {
      await err(ctx, `stat: cannot statx '${f}': No such file or directory`);
      rc = 1;
      continue;
    }
    let size = 0;
    if (st.kind === 'file') {
      try {
        size = Buffer.byteLength(fs.read(abs(ctx, f), true));
      } catch {
        size = 0;
      }
    }
    const values: Record<string, string> = {
      a: meta.mode.toString(8),
      U: meta.owner,
      G: meta.group,
      s: String(size),
      F: fileType(st.kind, size),
      n: f,
      '%': '%',
    };
    const text = (format ?? `  File: %n\n  Size: %s\n`).replace(/%(.)/g, (m, k: string) => values[k] ?? m);
    await ctx.stdout.write(text);
  }
  return rc;
}

async function chmod(ctx: CommandContext): Promise<number> {
  const [mode, ...files] = operands(ctx.argv);
  if (!mode || !/^[0-7]{1,4}$/.test(mode)) {
    // symbolic modes are not modelled: the modules send octal
    await err(ctx, `chmod: invalid mode: '${mode ?? ''}'`);
    return 1;
  }
  return each(ctx, 'chmod', files, (p) => ctx.machine.fs.setMeta(p, { mode: parseInt(mode, 8) }, ctx.uid === 0));
}

async function chown(ctx: CommandContext): Promise<number> {
  const [spec, ...files] = operands(ctx.argv);
  const m = /^([A-Za-z0-9_.-]*)(?::([A-Za-z0-9_.-]*))?$/.exec(spec ?? '');
  if (!spec || !m) {
    await err(ctx, `chown: invalid user: '${spec ?? ''}'`);
    return 1;
  }
  const change = { ...(m[1] ? { owner: m[1] } : {}), ...(m[2] ? { group: m[2] } : {}) };
  return each(ctx, 'chown', files, (p) => ctx.machine.fs.setMeta(p, change, ctx.uid === 0));
}

async function each(ctx: CommandContext, cmd: string, files: string[], act: (path: string) => void): Promise<number> {
  let rc = 0;
  for (const f of files) {
    try {
      act(abs(ctx, f));
    } catch (e) {
      const why = e instanceof FsError ? e.description : 'error';
      await err(ctx, e instanceof FsError && e.errno === 'ENOENT' ? `${cmd}: cannot access '${f}': ${why}` : `${cmd}: changing permissions of '${f}': ${why}`);
      rc = 1;
    }
  }
  return rc;
}

export function registerFiles(r: CommandRegistry): void {
  r.register('stat', stat).register('chmod', chmod).register('chown', chown);
}
