/** auditctl and augenrules against the kernel model (reference §2, §5; fixtures). */
import type { AuditSettings } from '../kernel.js';
import { normalizeRule } from '../kernel.js';
import type { SimMachine } from '../machine.js';
import { AbortError, type CommandContext, type CommandRegistry } from '../shell.js';
import { FsError, normalizePath } from '../vfs.js';

const NOT_ROOT = 'You must be root to run this program.';

/** `auditctl -s` in the host's userspace format; `withLoginuid` false after a set (observed). */
export function statusText(m: SimMachine, opts: { interpret?: boolean; withLoginuid?: boolean } = {}): string {
  const s = m.kernel.status();
  if (m.spec.auditctl === 'v1') {
    return `AUDIT_STATUS: enabled=${s.enabled} flag=${s.failure} pid=${s.pid} rate_limit=${s.rateLimit} backlog_limit=${s.backlogLimit} lost=${s.lost} backlog=${s.backlog}\n`;
  }
  const enabled = opts.interpret ? (['disabled', 'enabled', 'locked'][s.enabled] ?? String(s.enabled)) : String(s.enabled);
  const failure = opts.interpret ? (['silent', 'printk', 'panic'][s.failure] ?? String(s.failure)) : String(s.failure);
  const lines = [`enabled ${enabled}`, `failure ${failure}`, `pid ${s.pid}`, `rate_limit ${s.rateLimit}`, `backlog_limit ${s.backlogLimit}`, `lost ${s.lost}`, `backlog ${s.backlog}`, `backlog_wait_time ${s.backlogWaitTime}`];
  if (m.spec.auditctl === 'v3') lines.push(`backlog_wait_time_actual ${s.backlogWaitTimeActual}`);
  if (opts.withLoginuid !== false) lines.push('loginuid_immutable 0 unlocked');
  return lines.join('\n') + '\n';
}

function garbage(m: SimMachine): string {
  // A broken/foreign auditctl: binary noise and half lines (reliability fault).
  const s = m.kernel.status();
  return `enabled \u0000\u00ff\nfailure one\npid ${s.pid}garbage\nbacklog_limit -\n\u001b[31mlost ${s.lost}${s.lost}\nbacklog\n`;
}

const SETTING_FLAGS: Record<string, keyof AuditSettings> = {
  '-b': 'backlogLimit',
  '-f': 'failure',
  '-e': 'enabled',
  '-r': 'rateLimit',
  '--backlog_wait_time': 'backlogWaitTime',
};
const CONTROL = new Set(['-s', '-l', '-D', '-R', '-i', '-v', '-m', '--signal', ...Object.keys(SETTING_FLAGS)]);
const SIGNALS: Record<string, 'TERM' | 'HUP' | 'USR1' | 'USR2' | 'CONT'> = {
  TERM: 'TERM', HUP: 'HUP', USR1: 'USR1', USR2: 'USR2', CONT: 'CONT',
  reload: 'HUP', rotate: 'USR1', resume: 'USR2', state: 'CONT',
};

async function auditctl(ctx: CommandContext): Promise<number> {
  const m = ctx.machine;
  const args = ctx.argv.slice(1);
  if (ctx.uid !== 0) {
    await ctx.stderr.write(`${NOT_ROOT}\n`);
    return 4;
  }
  if (args.length === 0) {
    await ctx.stderr.write('usage: auditctl [options]\n');
    return 0;
  }
  if (args[0] === '-v') {
    await ctx.stdout.write('auditctl version 3.0.9\n');
    return 0;
  }
  const interpret = args.includes('-i');
  let printStatus: 'none' | 'full' | 'set' = 'none';
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '-i') continue;
    if (a === '-s') {
      printStatus = 'full';
      continue;
    }
    if (a === '-l') {
      m.kernel.sync();
      await ctx.stdout.write(m.kernel.rules.length ? m.kernel.rules.join('\n') + '\n' : 'No rules\n');
      continue;
    }
    if (a === '-D') {
      m.kernel.deleteRules();
      await ctx.stdout.write('No rules\n');
      continue;
    }
    const key = SETTING_FLAGS[a];
    if (key) {
      const v = args[++i];
      if (v === undefined || !/^\d+$/.test(v)) {
        await ctx.stderr.write(`Option requires an argument\n`);
        return 255;
      }
      const r = m.kernel.setSetting(key, Number(v));
      if (!r.ok) {
        await ctx.stderr.write(`${r.error}\n`);
        return 255;
      }
      if (m.kernel.power !== 'up') return hangUntilClosed(ctx); // the machine went down under us
      if (printStatus === 'none') printStatus = 'set';
      continue;
    }
    if (a === '-a' || a === '-A' || a === '-w' || a === '-W') {
      const words = [a];
      while (i + 1 < args.length && !CONTROL.has(args[i + 1] as string) && !['-a', '-A', '-w', '-W'].includes(args[i + 1] as string)) words.push(args[++i] as string);
      if (a === '-W') continue;
      const r = m.kernel.addRule(normalizeRule(words));
      if (!r.ok && r.message) {
        await ctx.stderr.write(`${r.message}\n`);
        if (!r.message.includes('immutable')) return 255;
      }
      continue;
    }
    if (a === '-R') {
      const file = args[++i] ?? '';
      let text: string;
      try {
        text = m.fs.read(normalizePath(file, ctx.env.get('PWD') ?? '/'), true);
      } catch (e) {
        await ctx.stderr.write(`Error opening ${file} (${e instanceof FsError ? e.description : 'error'})\n`);
        return 1;
      }
      const r = m.kernel.loadRules(text);
      // a `-f 2` in the file on a host losing records panics it, as `auditctl -f 2` does
      if (m.kernel.power !== 'up') return hangUntilClosed(ctx);
      for (const e of r.errors) await ctx.stderr.write(`${e}\n`);
      await ctx.stdout.write(statusText(m, { withLoginuid: false }));
      if (r.errors.length) return 1;
      continue;
    }
    if (a === '--signal') {
      const sig = args[++i] ?? '';
      const mapped = SIGNALS[sig] ?? SIGNALS[sig.replace(/^SIG/, '')];
      if (!mapped) {
        await ctx.stderr.write(`${sig} is an unsupported signal\n`);
        return 1;
      }
      if (!m.kernel.signalAuditd(mapped)) {
        await ctx.stderr.write('Unable to find auditd pid\n');
        return 1;
      }
      continue;
    }
    await ctx.stderr.write(`auditctl: invalid option -- '${a.replace(/^-+/, '')}'\n`);
    return 255;
  }
  if (printStatus !== 'none') {
    if (m.spec.auditctl === 'garbage') await ctx.stdout.write(garbage(m));
    else await ctx.stdout.write(statusText(m, { interpret, withLoginuid: printStatus === 'full' }));
  }
  return 0;
}

async function augenrules(ctx: CommandContext): Promise<number> {
  const m = ctx.machine;
  if (ctx.uid !== 0) {
    await ctx.stderr.write('/usr/sbin/augenrules: Only root can run this program\n');
    return 1;
  }
  const arg = ctx.argv[1];
  if (arg === '--check') {
    let current = '';
    try {
      current = m.fs.read('/etc/audit/audit.rules', true);
    } catch {
      /* missing: changed */
    }
    await ctx.stdout.write(current === m.kernel.compileRules() ? '/usr/sbin/augenrules: No change\n' : '/usr/sbin/augenrules: Rules have changed and should be updated\n');
    return 0;
  }
  if (arg !== '--load' && arg !== undefined) {
    await ctx.stderr.write(`Usage: augenrules [--check|--load]\n`);
    return 1;
  }
  const r = arg === '--load' ? m.kernel.augenrulesLoad() : { errors: [], locked: false };
  // the rules' `-f 2` on a host losing records panicked it mid-load: auditctl never returns
  if (m.kernel.power !== 'up') return hangUntilClosed(ctx);
  if (arg !== '--load') m.fs.put('/etc/audit/audit.rules', m.kernel.compileRules(), { rootOnly: true });
  if (arg === '--load') {
    await ctx.stdout.write('No rules\n');
    await ctx.stdout.write(statusText(m, { withLoginuid: false }));
  }
  for (const e of r.errors) await ctx.stderr.write(`${e}\n`);
  if (r.locked) await ctx.stderr.write('The audit system is in immutable mode, no rule changes allowed\n');
  return r.errors.length ? 1 : 0;
}

export function registerAudit(r: CommandRegistry): void {
  r.register('auditctl', auditctl).register('augenrules', augenrules);
}

/** The process never returns: the machine panicked; the session ends when the server drops it. */
export function hangUntilClosed(ctx: CommandContext): Promise<number> {
  return new Promise<number>((_resolve, reject) => {
    if (ctx.signal.aborted) return reject(new AbortError());
    ctx.signal.addEventListener('abort', () => reject(new AbortError()), { once: true });
  });
}
