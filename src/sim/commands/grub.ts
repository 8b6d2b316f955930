/**
 * Boot loader tools: Debian's `update-grub` / `grub-mkconfig -o FILE`, RHEL's `grubby`
 * (`--info=ALL|DEFAULT|PATH`, `--update-kernel=ALL|PATH --args=... --remove-args=...`). Only the
 * family's own tools exist on a machine (machine.hasCommand), as `command -v grubby` tells an
 * operator which family a host is.
 */
import { blsEntryPath, blsOptions, cmdlineWords, grubCfgText, GRUB_CFG_PATH, setBlsOptions } from '../bootloader.js';
import type { CommandContext, CommandRegistry } from '../shell.js';

const err = (ctx: CommandContext, text: string) => ctx.stderr.write(text);

async function updateGrub(ctx: CommandContext): Promise<number> {
  const m = ctx.machine;
  const argv = ctx.argv.slice(1);
  const o = argv.indexOf('-o');
  const target = ctx.argv[0] === 'update-grub' ? GRUB_CFG_PATH : o >= 0 ? argv[o + 1] : undefined;
  if (ctx.uid !== 0) {
    await err(ctx, `${ctx.argv[0]}: You must run this as root\n`);
    return 1;
  }
  await err(ctx, 'Generating grub configuration file ...\n');
  await err(ctx, `Found linux image: /boot/vmlinuz-${m.spec.kernelRelease}\nFound initrd image: /boot/initrd.img-${m.spec.kernelRelease}\ndone\n`);
  const text = grubCfgText(m);
  if (target === undefined) await ctx.stdout.write(text);
  else m.fs.put(target, text, { rootOnly: true });
  return 0;
}

/** `key` or `key=value` words: one key's occurrences replaced in place, new keys appended. */
function withArgs(options: string, add: string[], remove: string[]): string {
  const key = (w: string) => w.split('=')[0] as string;
  const drop = new Set(remove.map(key));
  let words = cmdlineWords(options).filter((w) => !drop.has(key(w)));
  for (const a of add) {
    const i = words.findIndex((w) => key(w) === key(a));
    if (i >= 0) words = [...words.slice(0, i), a, ...words.slice(i + 1).filter((w) => key(w) !== key(a))];
    else words.push(a);
  }
  return words.join(' ');
}

function optionValue(argv: string[], name: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === name) return argv[i + 1];
    if (a.startsWith(`${name}=`)) return a.slice(name.length + 1);
  }
  return undefined;
}

async function grubby(ctx: CommandContext): Promise<number> {
  const m = ctx.machine;
  const argv = ctx.argv.slice(1);
  const entries = blsOptions(m);
  const rel = m.spec.kernelRelease;
  const info = optionValue(argv, '--info');
  if (info !== undefined) {
    if (ctx.uid !== 0) {
      // BLS entries are root-only (0600 on RHEL 9): grubby cannot read them as a user.
      await err(ctx, 'grubby: The param /boot/loader/entries is incorrect\n');
      return 1;
    }
    const shown = info === 'ALL' || info === 'DEFAULT' ? entries.slice(0, info === 'DEFAULT' ? 1 : undefined) : entries;
    const text = shown
      .map((e, i) => [`index=${i}`, `kernel="/boot/vmlinuz-${rel}"`, `args="${withArgs(e.options, [], ['root'])}"`, `root="${/root=(\S+)/.exec(e.options)?.[1] ?? ''}"`, `initrd="/boot/initramfs-${rel}.img"`, `title="${m.spec.os.name} (${rel}) ${m.spec.os.versionId}"`, `id="rhel-${rel}"`].join('\n'))
      .join('\n');
    await ctx.stdout.write(text + '\n');
    return 0;
  }
  if (argv.includes('--default-kernel')) {
    await ctx.stdout.write(`/boot/vmlinuz-${rel}\n`);
    return 0;
  }
  const which = optionValue(argv, '--update-kernel');
  if (which === undefined) {
    await err(ctx, 'grubby: no action specified\n');
    return 1;
  }
  if (ctx.uid !== 0) {
    await err(ctx, `grubby: ${blsEntryPath(m)}: Permission denied\n`);
    return 1;
  }
  const add = cmdlineWords(optionValue(argv, '--args') ?? '');
  const remove = cmdlineWords(optionValue(argv, '--remove-args') ?? '');
  for (const e of entries) setBlsOptions(m, e.path, withArgs(e.options, add, remove));
  return 0;
}

export function registerGrub(r: CommandRegistry): void {
  r.register('update-grub', updateGrub).register('grub-mkconfig', updateGrub).register('grub2-mkconfig', updateGrub).register('grubby', grubby);
}
