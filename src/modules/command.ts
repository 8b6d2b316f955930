/**
 * `command` and `shell`. `shell` runs its string through the remote shell; `command` does not
 * interpret shell syntax: its words are re-quoted one by one, so `;`, `|`, `$(...)` are plain
 * arguments. Values interpolated into either are quoted by the playbook's templating for the
 * place they land in (outside or inside the author's quotes; src/playbook/shell-context.ts)
 * unless the author writes `{{ raw var }}`. Neither can predict its effect: in check mode they
 * are skipped unless the task says `check_safe: true` (the author vouches it changes nothing).
 */
import { z } from 'zod';
import { FleetmendError } from '../errors.js';
import { splitShellWords } from '../util/shellwords.js';
import { boolLike, intLike, run, shellQuote } from './common.js';
import { loadCommandGuards } from './audit-files.js';
import type { Checked, Module, ModuleContext, ModuleOutcome } from './types.js';

const base = {
  cmd: z.string().min(1),
  creates: z.string().min(1).optional(),
  removes: z.string().min(1).optional(),
  chdir: z.string().min(1).optional(),
  check_safe: z.preprocess(boolLike, z.boolean()).default(false),
  stdin: z.string().optional(),
  /** Seconds; the transport's default command timeout applies otherwise. */
  timeout: z.preprocess(intLike, z.number().int().min(1).max(86_400)).optional(),
};
export const commandArgs = z.object(base).strict();
export type CommandArgs = z.infer<typeof commandArgs>;

/** Splits a command line into words (quotes respected, no expansion of any kind). */
export function splitWords(line: string): string[] {
  return splitShellWords(line, (quote) => new FleetmendError('E_MODULE', `unterminated ${quote} quote in command: ${line}`));
}

export interface CommandPlan {
  line: string;
}

function commandLine(kind: 'command' | 'shell', args: CommandArgs): string {
  const body = kind === 'shell' ? args.cmd : splitWords(args.cmd).map(shellQuote).join(' ');
  return args.chdir ? `cd ${shellQuote(args.chdir)} && ${body}` : body;
}

async function exists(ctx: ModuleContext, path: string): Promise<boolean> {
  const r = await run(ctx, `test -e ${shellQuote(path)}`);
  return r.code === 0;
}

function makeCheck(kind: 'command' | 'shell') {
  return async (ctx: ModuleContext, args: CommandArgs): Promise<Checked<CommandPlan>> => {
    const line = commandLine(kind, args);
    if (args.creates && (await exists(ctx, args.creates))) return { status: 'ok', msg: `skipped: ${args.creates} exists`, rc: 0 };
    if (args.removes && !(await exists(ctx, args.removes))) return { status: 'ok', msg: `skipped: ${args.removes} does not exist`, rc: 0 };
    // a command that loads audit rules meets the guards a file task writing them would (audit-files.ts)
    const guard = await loadCommandGuards(ctx, kind === 'shell' ? args.cmd : splitWords(args.cmd).join(' '));
    if (guard.refuse) return { ...guard.refuse, warnings: guard.warnings };
    const warnings = guard.warnings.length ? { warnings: guard.warnings } : {};
    if (ctx.check && !args.check_safe) {
      // as Ansible's command module: with creates/removes the check can tell it would run (changed,
      // its handlers notified); without them it cannot, and the task is skipped
      if (args.creates || args.removes) return { status: 'changed', msg: 'Command would have run if not in check mode', rc: 0, ...warnings };
      return { status: 'skipped', msg: `check mode: ${kind} not run (set check_safe: true if it changes nothing)`, ...warnings };
    }
    // The author vouches it changes nothing: run it in check mode too (its output may feed `when`).
    if (ctx.check) return { ...(await apply(ctx, args, { line })), ...warnings };
    return { status: 'changed', msg: `${ctx.check ? 'would run' : 'run'}: ${line}`, plan: { line }, ...warnings };
  };
}

async function apply(ctx: ModuleContext, args: CommandArgs, plan: CommandPlan, checked?: Checked<CommandPlan>): Promise<ModuleOutcome> {
  const outcome = await runLine(ctx, args, plan);
  return checked?.warnings?.length ? { ...outcome, warnings: checked.warnings } : outcome;
}

async function runLine(ctx: ModuleContext, args: CommandArgs, plan: CommandPlan): Promise<ModuleOutcome> {
  const r = await run(ctx, plan.line, {
    ...(args.stdin !== undefined ? { stdin: args.stdin } : {}),
    ...(args.timeout !== undefined ? { timeoutMs: args.timeout * 1000 } : {}),
  });
  const out = { stdout: r.stdout, stderr: r.stderr, rc: r.code, data: { cmd: plan.line, truncated: r.truncated } };
  if (r.truncated) {
    // the transport stopped the command at the cap: it did not finish, whatever it printed
    const message = `output over the cap (--max-output ${ctx.session.transport.spec.maxOutputBytes} bytes): the command was stopped`;
    return { status: 'failed', msg: message, error: { code: 'E_OUTPUT_CAP', message }, ...out };
  }
  if (r.code === 0) return { status: 'changed', ...out };
  const message = `non-zero return code ${r.code ?? '(killed by signal)'}`;
  return { status: 'failed', msg: message, error: { code: 'E_MODULE', message }, ...out };
}

export const commandModule: Module<CommandArgs, CommandPlan> = {
  name: 'command',
  schema: commandArgs,
  wordArgs: ['cmd'],
  freeForm: 'cmd',
  check: makeCheck('command'),
  apply,
};

export const shellModule: Module<CommandArgs, CommandPlan> = {
  name: 'shell',
  schema: commandArgs,
  shellArgs: ['cmd'],
  freeForm: 'cmd',
  check: makeCheck('shell'),
  apply,
};
