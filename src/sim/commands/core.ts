/** Shell utilities (coreutils, grep, sh, sudo) against the machine's virtual filesystem. */
import { BufferOutput, StringInput, type Input } from '../io.js';
import { escapeRe, sleep, type CommandContext, type CommandRegistry } from '../shell.js';
import { FsError, normalizePath } from '../vfs.js';
import { needsMoreInput } from '../parse.js';

const err = (ctx: CommandContext, text: string) => ctx.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
const out = (ctx: CommandContext, text: string) => ctx.stdout.write(text);
const cwd = (ctx: CommandContext) => ctx.env.get('PWD') ?? '/';
const abs = (ctx: CommandContext, p: string) => normalizePath(p, cwd(ctx));

/** Reads a file for a command; prints `cmd: path: reason` and returns null on error. */
async function readFileFor(ctx: CommandContext, cmd: string, path: string): Promise<string | null> {
  try {
    return ctx.machine.fs.read(abs(ctx, path), ctx.uid === 0);
  } catch (e) {
    await err(ctx, `${cmd}: ${path}: ${e instanceof FsError ? e.description : 'error'}`);
    return null;
  }
}

function splitLines(text: string): string[] {
  if (!text) return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** Inputs of a filter command: the named files, or stdin when none (or `-`). */
async function inputsOf(ctx: CommandContext, cmd: string, files: string[]): Promise<{ name: string; text: string | null }[]> {
  if (files.length === 0) return [{ name: '(standard input)', text: await ctx.stdin.readAll() }];
  const res: { name: string; text: string | null }[] = [];
  for (const f of files) res.push({ name: f, text: f === '-' ? await ctx.stdin.readAll() : await readFileFor(ctx, cmd, f) });
  return res;
}

async function echo(ctx: CommandContext): Promise<number> {
  const args = ctx.argv.slice(1);
  let newline = true;
  let escapes = false;
  while (args[0] && /^-[neE]+$/.test(args[0])) {
    const f = args.shift() as string;
    if (f.includes('n')) newline = false;
    if (f.includes('e')) escapes = true;
  }
  let text = args.join(' ');
  if (escapes) text = unescape(text);
  await out(ctx, text + (newline ? '\n' : ''));
  return 0;
}

function unescape(s: string): string {
  return s.replace(/\\(n|t|\\|r|0[0-7]{0,3}|x[0-9a-fA-F]{1,2})/g, (_m, c: string) => {
    if (c === 'n') return '\n';
    if (c === 't') return '\t';
    if (c === 'r') return '\r';
    if (c === '\\') return '\\';
    if (c.startsWith('x')) return String.fromCharCode(parseInt(c.slice(1), 16));
    return String.fromCharCode(parseInt(c.slice(1) || '0', 8));
  });
}

async function printf(ctx: CommandContext): Promise<number> {
  const [fmt, ...args] = ctx.argv.slice(1);
  if (fmt === undefined) {
    await err(ctx, 'printf: usage: printf format [arg ...]');
    return 2;
  }
  let result = '';
  let i = 0;
  do {
    const start = i;
    result += fmt.replace(/%(-?\d*)([sdbuxc%])|\\(n|t|\\|r|0[0-7]{0,3})/g, (m, width: string | undefined, conv: string | undefined, esc: string | undefined) => {
      if (esc !== undefined) return unescape(`\\${esc}`);
      if (conv === '%') return '%';
      const a = args[i++] ?? '';
      let v = conv === 'd' || conv === 'u' ? String(Math.trunc(Number(a) || 0)) : conv === 'x' ? (Number(a) || 0).toString(16) : conv === 'b' ? unescape(a) : conv === 'c' ? a.slice(0, 1) : a;
      const w = Number(width ?? '');
      if (width && w) v = width.startsWith('-') ? v.padEnd(Math.abs(w)) : v.padStart(w);
      void m;
      return v;
    });
    if (i === start) break;
  } while (i < args.length);
  await out(ctx, result);
  return 0;
}

async function cat(ctx: CommandContext): Promise<number> {
  const files = ctx.argv.slice(1).filter((a) => a !== '-u');
  let rc = 0;
  for (const inp of await inputsOf(ctx, 'cat', files)) {
    if (inp.text === null) rc = 1;
    else await out(ctx, inp.text);
  }
  return rc;
}

interface GrepOpts {
  patterns: string[];
  fixed: boolean;
  extended: boolean;
  invert: boolean;
  count: boolean;
  quiet: boolean;
  ignoreCase: boolean;
  listFiles: boolean;
  lineNumbers: boolean;
  withName: boolean | null;
  onlyMatching: boolean;
  silent: boolean;
}

function parseGrep(argv: string[]): { opts: GrepOpts; files: string[] } | string {
  const opts: GrepOpts = { patterns: [], fixed: false, extended: false, invert: false, count: false, quiet: false, ignoreCase: false, listFiles: false, lineNumbers: false, withName: null, onlyMatching: false, silent: false };
  const rest: string[] = [];
  let patternGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') {
      rest.push(...argv.slice(i + 1));
      break;
    }
    if (a === '-e' || a === '--regexp') {
      const p = argv[++i];
      if (p === undefined) return "grep: option requires an argument -- 'e'";
      opts.patterns.push(p);
      patternGiven = true;
      continue;
    }
    if (a.startsWith('-e') && a.length > 2 && !a.startsWith('--')) {
      opts.patterns.push(a.slice(2));
      patternGiven = true;
      continue;
    }
    if (a.startsWith('--')) {
      const map: Record<string, keyof GrepOpts> = { '--fixed-strings': 'fixed', '--extended-regexp': 'extended', '--invert-match': 'invert', '--count': 'count', '--quiet': 'quiet', '--silent': 'quiet', '--ignore-case': 'ignoreCase', '--no-messages': 'silent' };
      const k = map[a];
      if (!k) return `grep: unrecognized option '${a}'`;
      (opts[k] as boolean) = true;
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      for (const ch of a.slice(1)) {
        switch (ch) {
          case 'F': opts.fixed = true; break;
          case 'E': opts.extended = true; break;
          case 'G': break;
          case 'v': opts.invert = true; break;
          case 'c': opts.count = true; break;
          case 'q': opts.quiet = true; break;
          case 'i': opts.ignoreCase = true; break;
          case 'l': opts.listFiles = true; break;
          case 'n': opts.lineNumbers = true; break;
          case 'h': opts.withName = false; break;
          case 'H': opts.withName = true; break;
          case 'o': opts.onlyMatching = true; break;
          case 's': opts.silent = true; break;
          default:
            return `grep: invalid option -- '${ch}'`;
        }
      }
      continue;
    }
    rest.push(a);
  }
  if (!patternGiven) {
    const p = rest.shift();
    if (p === undefined) return 'Usage: grep [OPTION]... PATTERNS [FILE]...';
    opts.patterns.push(...p.split('\n'));
  }
  return { opts, files: rest };
}

/** GNU BRE → JS regex: in BRE `\(`, `\|`, `\+` are the operators and bare ones are literals. */
function breToJs(p: string): string {
  let o = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i] as string;
    if (c === '\\' && i + 1 < p.length) {
      const n = p[i + 1] as string;
      o += '(){}|+?'.includes(n) ? n : `\\${n}`;
      i++;
    } else if ('(){}|+?'.includes(c)) o += `\\${c}`;
    else o += c;
  }
  return o;
}

async function grep(ctx: CommandContext): Promise<number> {
  const parsed = parseGrep(ctx.argv.slice(1));
  if (typeof parsed === 'string') {
    await err(ctx, parsed);
    return 2;
  }
  const { opts, files } = parsed;
  let regs: RegExp[];
  try {
    regs = opts.patterns.map((p) => new RegExp(opts.fixed ? escapeRe(p) : opts.extended ? p : breToJs(p), opts.ignoreCase ? 'i' : ''));
  } catch {
    await err(ctx, 'grep: Unmatched ( or \\(');
    return 2;
  }
  const withName = opts.withName ?? files.length > 1;
  let matched = false;
  let errors = false;
  const inputs = files.length === 0 ? [{ name: '(standard input)', text: await ctx.stdin.readAll() }] : [];
  for (const f of files) {
    try {
      inputs.push({ name: f, text: ctx.machine.fs.read(abs(ctx, f), ctx.uid === 0) });
    } catch (e) {
      errors = true;
      if (!opts.silent) await err(ctx, `grep: ${f}: ${e instanceof FsError ? e.description : 'error'}`);
    }
  }
  for (const inp of inputs) {
    let n = 0;
    const lines = splitLines(inp.text);
    let buf = '';
    lines.forEach((line, idx) => {
      const hit = regs.some((r) => r.test(line)) !== opts.invert;
      if (!hit) return;
      n++;
      if (opts.count || opts.quiet || opts.listFiles) return;
      const prefix = `${withName ? `${inp.name}:` : ''}${opts.lineNumbers ? `${idx + 1}:` : ''}`;
      if (opts.onlyMatching && !opts.invert) {
        for (const r of regs) for (const m of line.match(new RegExp(r.source, r.flags + 'g')) ?? []) buf += `${prefix}${m}\n`;
      } else buf += `${prefix}${line}\n`;
    });
    if (n > 0) matched = true;
    if (opts.quiet) continue;
    if (opts.listFiles && n > 0) buf = `${inp.name}\n`;
    if (opts.count) buf = `${withName ? `${inp.name}:` : ''}${n}\n`;
    if (buf) await out(ctx, buf);
  }
  if (opts.quiet && matched) return 0;
  if (errors) return 2;
  return matched ? 0 : 1;
}

function countArg(argv: string[], cmd: string): { n: number; files: string[]; fromStart: boolean } | string {
  let n = 10;
  let fromStart = false;
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    let v: string | undefined;
    if (a === '-n' || a === '--lines') v = argv[++i];
    else if (a.startsWith('-n')) v = a.slice(2);
    else if (a.startsWith('--lines=')) v = a.slice(8);
    else if (/^-\d+$/.test(a)) v = a.slice(1);
    else if (a === '-q' || a === '-s') continue;
    else {
      files.push(a);
      continue;
    }
    if (v === undefined) return `${cmd}: option requires an argument -- 'n'`;
    if (v.startsWith('+')) {
      fromStart = true;
      v = v.slice(1);
    }
    if (!/^\d+$/.test(v)) return `${cmd}: invalid number of lines: '${v}'`;
    n = Number(v);
  }
  return { n, files, fromStart };
}

async function headTail(ctx: CommandContext, which: 'head' | 'tail'): Promise<number> {
  const parsed = countArg(ctx.argv.slice(1), which);
  if (typeof parsed === 'string') {
    await err(ctx, parsed);
    return 1;
  }
  let rc = 0;
  for (const inp of await inputsOf(ctx, which, parsed.files)) {
    if (inp.text === null) {
      rc = 1;
      continue;
    }
    const lines = splitLines(inp.text);
    const sel = which === 'head' ? lines.slice(0, parsed.n) : parsed.fromStart ? lines.slice(Math.max(0, parsed.n - 1)) : parsed.n === 0 ? [] : lines.slice(-parsed.n);
    if (sel.length) await out(ctx, sel.join('\n') + '\n');
  }
  return rc;
}

async function wc(ctx: CommandContext): Promise<number> {
  const args = ctx.argv.slice(1);
  const files = args.filter((a) => !a.startsWith('-'));
  const flags = args.filter((a) => a.startsWith('-')).join('');
  let rc = 0;
  for (const inp of await inputsOf(ctx, 'wc', files)) {
    if (inp.text === null) {
      rc = 1;
      continue;
    }
    const lines = (inp.text.match(/\n/g) ?? []).length;
    const words = inp.text.split(/\s+/).filter(Boolean).length;
    const bytes = Buffer.byteLength(inp.text);
    const name = files.length ? ` ${inp.name}` : '';
    if (flags.includes('l') && !flags.includes('w') && !flags.includes('c')) await out(ctx, `${lines}${name}\n`);
    else if (flags.includes('c') && !flags.includes('l')) await out(ctx, `${bytes}${name}\n`);
    else if (flags.includes('w') && !flags.includes('l')) await out(ctx, `${words}${name}\n`);
    else await out(ctx, `${String(lines).padStart(7)} ${String(words).padStart(7)} ${String(bytes).padStart(7)}${name}\n`);
  }
  return rc;
}

function evalTest(ctx: CommandContext, a: string[]): boolean | string {
  if (a.length === 0) return false;
  if (a[0] === '!') {
    const r = evalTest(ctx, a.slice(1));
    return typeof r === 'string' ? r : !r;
  }
  if (a.length === 1) return (a[0] as string).length > 0;
  if (a.length === 2) {
    const [op, v = ''] = a;
    const st = ctx.machine.fs.stat(abs(ctx, v));
    switch (op) {
      case '-n': return v.length > 0;
      case '-z': return v.length === 0;
      case '-e': return st !== null;
      case '-f': return st?.kind === 'file';
      case '-d': return st?.kind === 'dir';
      case '-r': return st !== null && (ctx.uid === 0 || !st.rootOnly);
      case '-s': {
        if (st?.kind !== 'file') return false;
        try {
          return ctx.machine.fs.read(abs(ctx, v), true).length > 0;
        } catch {
          return false;
        }
      }
      case '-x': return st !== null;
      case '-w': return st !== null && ctx.uid === 0;
      default: return `${op}: unexpected operator`;
    }
  }
  if (a.length === 3) {
    const [l = '', op, r = ''] = a;
    const ln = Number(l);
    const rn = Number(r);
    // dash: an integer operator on anything but an integer is an error (status 2), not 0.
    if (op !== undefined && /^-(eq|ne|gt|ge|lt|le)$/.test(op)) {
      const bad = [l, r].find((v) => !/^\s*-?\d+\s*$/.test(v));
      if (bad !== undefined) return `Illegal number: ${bad}`;
    }
    switch (op) {
      case '=':
      case '==': return l === r;
      case '!=': return l !== r;
      case '-eq': return ln === rn;
      case '-ne': return ln !== rn;
      case '-gt': return ln > rn;
      case '-ge': return ln >= rn;
      case '-lt': return ln < rn;
      case '-le': return ln <= rn;
      default: return `${op}: unexpected operator`;
    }
  }
  const andAt = a.indexOf('-a');
  if (andAt > 0) {
    const l = evalTest(ctx, a.slice(0, andAt));
    const r = evalTest(ctx, a.slice(andAt + 1));
    return typeof l === 'string' ? l : typeof r === 'string' ? r : l && r;
  }
  const orAt = a.indexOf('-o');
  if (orAt > 0) {
    const l = evalTest(ctx, a.slice(0, orAt));
    const r = evalTest(ctx, a.slice(orAt + 1));
    return typeof l === 'string' ? l : typeof r === 'string' ? r : l || r;
  }
  return 'too many arguments';
}

async function test(ctx: CommandContext): Promise<number> {
  let args = ctx.argv.slice(1);
  if (ctx.argv[0]?.endsWith('[')) {
    if (args[args.length - 1] !== ']') {
      await err(ctx, `sh: ${ctx.line}: [: missing ]`);
      return 2;
    }
    args = args.slice(0, -1);
  }
  const r = evalTest(ctx, args);
  if (typeof r === 'string') {
    await err(ctx, `sh: ${ctx.line}: test: ${r}`);
    return 2;
  }
  return r ? 0 : 1;
}

async function tee(ctx: CommandContext): Promise<number> {
  const args = ctx.argv.slice(1);
  const append = args.some((a) => a === '-a' || a === '--append');
  const files = args.filter((a) => !a.startsWith('-'));
  const data = await ctx.stdin.readAll();
  let rc = 0;
  for (const f of files) {
    try {
      ctx.machine.fs.write(abs(ctx, f), data, { append, asRoot: ctx.uid === 0, owner: ctx.user });
    } catch (e) {
      await err(ctx, `tee: ${f}: ${e instanceof FsError ? e.description : 'error'}`);
      rc = 1;
    }
  }
  await out(ctx, data);
  return rc;
}

async function mkdir(ctx: CommandContext): Promise<number> {
  const args = ctx.argv.slice(1);
  const parents = args.some((a) => /^-[a-z]*p/.test(a));
  let rc = 0;
  for (const d of args.filter((a) => !a.startsWith('-'))) {
    try {
      ctx.machine.fs.makeDir(abs(ctx, d), ctx.uid === 0, parents);
    } catch (e) {
      const why = e instanceof FsError ? (e.errno === 'EISDIR' ? 'File exists' : e.description) : 'error';
      await err(ctx, `mkdir: cannot create directory '${d}': ${why}`);
      rc = 1;
    }
  }
  return rc;
}

async function rm(ctx: CommandContext): Promise<number> {
  const args = ctx.argv.slice(1);
  const force = args.some((a) => /^-[a-zA-Z]*f/.test(a));
  const recursive = args.some((a) => /^-[a-zA-Z]*[rR]/.test(a));
  let rc = 0;
  for (const f of args.filter((a) => !a.startsWith('-'))) {
    try {
      if (recursive) ctx.machine.fs.removeTree(abs(ctx, f), ctx.uid === 0);
      else ctx.machine.fs.remove(abs(ctx, f), ctx.uid === 0);
    } catch (e) {
      if (force && e instanceof FsError && e.errno === 'ENOENT') continue;
      await err(ctx, `rm: cannot remove '${f}': ${e instanceof FsError ? e.description : 'error'}`);
      rc = 1;
    }
  }
  return rc;
}

async function copyMove(ctx: CommandContext, which: 'cp' | 'mv'): Promise<number> {
  const files = ctx.argv.slice(1).filter((a) => !a.startsWith('-'));
  if (files.length !== 2) {
    await err(ctx, `${which}: missing destination file operand after '${files[0] ?? ''}'`);
    return 1;
  }
  const [src = '', dstArg = ''] = files;
  let dst = abs(ctx, dstArg);
  if (ctx.machine.fs.stat(dst)?.kind === 'dir') dst = `${dst}/${abs(ctx, src).split('/').pop() ?? ''}`;
  try {
    // mv is rename(2): the file keeps its mode and owner; cp makes a new file (the copier's)
    if (which === 'mv') ctx.machine.fs.rename(abs(ctx, src), dst, ctx.uid === 0);
    else ctx.machine.fs.write(dst, ctx.machine.fs.read(abs(ctx, src), ctx.uid === 0), { append: false, asRoot: ctx.uid === 0, owner: ctx.user });
    return 0;
  } catch (e) {
    await err(ctx, `${which}: cannot ${which === 'cp' ? 'stat' : 'move'} '${src}': ${e instanceof FsError ? e.description : 'error'}`);
    return 1;
  }
}

async function touch(ctx: CommandContext): Promise<number> {
  let rc = 0;
  for (const f of ctx.argv.slice(1).filter((a) => !a.startsWith('-'))) {
    try {
      ctx.machine.fs.write(abs(ctx, f), '', { append: true, asRoot: ctx.uid === 0, owner: ctx.user });
    } catch (e) {
      await err(ctx, `touch: cannot touch '${f}': ${e instanceof FsError ? e.description : 'error'}`);
      rc = 1;
    }
  }
  return rc;
}

/** `sleep N` — bounded so a scenario can never hang a test for long. */
export const MAX_SLEEP_MS = 30_000;
async function sleepCmd(ctx: CommandContext): Promise<number> {
  const arg = ctx.argv[1];
  const m = arg ? /^(\d+(?:\.\d+)?)(s|m)?$/.exec(arg) : null;
  if (!m) {
    await err(ctx, arg ? `sleep: invalid time interval '${arg}'` : 'sleep: missing operand');
    return 1;
  }
  const ms = Number(m[1]) * (m[2] === 'm' ? 60_000 : 1000);
  await sleep(Math.min(ms, MAX_SLEEP_MS), ctx.signal);
  return 0;
}

/**
 * `sh -s`: as dash, each complete command runs as soon as it has arrived, with the variables
 * and `$?` of the ones before; a shell kept on a connection (transport/kept-shell.ts) is fed
 * one command after another this way.
 */
async function shellOnStdin(ctx: CommandContext): Promise<number> {
  const env = new Map(ctx.env);
  let pending = '';
  let rc = 0;
  const run = async (): Promise<void> => {
    const script = pending;
    pending = '';
    rc = await ctx.shell.run(script, { stdin: new StringInput(''), stdout: ctx.stdout, stderr: ctx.stderr, uid: ctx.uid, user: ctx.user, env, signal: ctx.signal, last: rc });
  };
  for (;;) {
    const rec = await ctx.stdin.readRecord();
    if (rec === null) break;
    pending += rec.terminated ? `${rec.text}\n` : rec.text;
    if (!needsMoreInput(pending)) await run();
  }
  if (pending.trim()) await run();
  return rc;
}

/** `sh -c 'script' [arg0 args…]`, or a script on stdin (`sh` / `sh -s`). */
async function sh(ctx: CommandContext): Promise<number> {
  const args = ctx.argv.slice(1);
  let i = 0;
  while (args[i] && /^-[eux]+$/.test(args[i] as string)) i++;
  if (args[i] === '-c') {
    const script = args[i + 1];
    if (script === undefined) {
      await err(ctx, `${ctx.argv[0]}: 0: -c requires an argument`);
      return 2;
    }
    return ctx.shell.run(script, { stdin: ctx.stdin, stdout: ctx.stdout, stderr: ctx.stderr, uid: ctx.uid, user: ctx.user, env: new Map(ctx.env), signal: ctx.signal, args: args.slice(i + 2).length ? args.slice(i + 2) : ['sh'] });
  }
  if (args[i] === '-s' || args[i] === undefined) return shellOnStdin(ctx);
  const text = await readFileFor(ctx, 'sh', args[i] as string);
  if (text === null) return 127;
  return ctx.shell.run(text, { stdin: ctx.stdin, stdout: ctx.stdout, stderr: ctx.stderr, uid: ctx.uid, user: ctx.user, env: new Map(ctx.env), signal: ctx.signal });
}

/**
 * sudo [-n] [-S] [-H] [-E] [-k] [-p PROMPT] [-u USER] [--] cmd…: the host's sudo policy
 * (password or NOPASSWD). With -S the password is the first line of stdin; the rest of
 * stdin goes to the command, as with the real sudo.
 */
async function sudo(ctx: CommandContext): Promise<number> {
  const args = ctx.argv.slice(1);
  let nonInteractive = false;
  let fromStdin = false;
  let prompt: string | null = null;
  let target = 'root';
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--') {
      i++;
      break;
    }
    if (!a.startsWith('-') || a === '-') break;
    if (a === '-p' || a === '--prompt') {
      prompt = args[++i] ?? '';
      continue;
    }
    if (a.startsWith('--prompt=')) {
      prompt = a.slice(9);
      continue;
    }
    if (a === '-u' || a === '--user') {
      target = args[++i] ?? 'root';
      continue;
    }
    if (a.startsWith('-u') && a.length > 2) {
      target = a.slice(2);
      continue;
    }
    for (const ch of a.slice(1)) {
      if (ch === 'n') nonInteractive = true;
      else if (ch === 'S') fromStdin = true;
      else if ('HEkiAb'.includes(ch)) continue;
      else {
        await err(ctx, `sudo: invalid option -- '${ch}'`);
        return 1;
      }
    }
  }
  const cmd = args.slice(i);
  if (cmd.length === 0) {
    await err(ctx, 'usage: sudo -h | -K | -k | -V');
    return 1;
  }
  const m = ctx.machine;
  let stdin: Input = ctx.stdin;
  if (ctx.uid !== 0 && !m.spec.sudo.nopasswd) {
    const p = prompt ?? `[sudo] password for ${ctx.user}: `;
    if (nonInteractive) {
      await err(ctx, 'sudo: a password is required');
      return 1;
    }
    if (!fromStdin) {
      await err(ctx, 'sudo: a terminal is required to read the password; either use the -S option to read from standard input or configure an askpass helper');
      await err(ctx, 'sudo: a password is required');
      return 1;
    }
    if (p) await ctx.stderr.write(p);
    const given = await ctx.stdin.readLine();
    if (given === null) {
      await err(ctx, 'sudo: no password was provided');
      await err(ctx, 'sudo: a password is required');
      return 1;
    }
    if (given !== m.spec.sudo.password) {
      await err(ctx, 'sudo: 1 incorrect password attempt');
      return 1;
    }
    stdin = ctx.stdin;
  }
  const uid = target === 'root' ? 0 : target === m.spec.user ? m.loginUid : 1001;
  const env = ctx.shell.defaultEnv(target, uid);
  return ctx.shell.exec(cmd, { stdin, stdout: ctx.stdout, stderr: ctx.stderr, env, uid, user: target, signal: ctx.signal, line: ctx.line });
}

async function command(ctx: CommandContext): Promise<number> {
  const args = ctx.argv.slice(1);
  if (args[0] === '-v' || args[0] === '-V') {
    let rc = 0;
    for (const name of args.slice(1)) {
      const builtins = ['echo', 'printf', 'test', '[', 'true', 'false', 'cd', 'export', 'exit', 'command', 'set', 'unset', ':'];
      if (builtins.includes(name)) await out(ctx, `${name}\n`);
      else if (ctx.shell.resolve(name)) await out(ctx, `${name.includes('/') ? name : `${binDirOf(name)}/${name}`}\n`);
      else rc = 1;
    }
    return rc;
  }
  return ctx.shell.exec(args, { stdin: ctx.stdin, stdout: ctx.stdout, stderr: ctx.stderr, env: ctx.env, uid: ctx.uid, user: ctx.user, signal: ctx.signal, line: ctx.line });
}

const SBIN = new Set(['auditctl', 'augenrules', 'auditd', 'shutdown', 'reboot', 'service', 'aureport', 'ausearch']);
export function binDirOf(name: string): string {
  return SBIN.has(name) ? '/usr/sbin' : '/usr/bin';
}

async function env(ctx: CommandContext): Promise<number> {
  const args = ctx.argv.slice(1);
  const e = new Map(ctx.env);
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i] as string;
    const eq = a.indexOf('=');
    if (eq > 0 && !a.startsWith('-')) e.set(a.slice(0, eq), a.slice(eq + 1));
    else if (a !== '-i' && a !== '-') break;
  }
  if (i >= args.length) {
    await out(ctx, [...e].map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
    return 0;
  }
  return ctx.shell.exec(args.slice(i), { stdin: ctx.stdin, stdout: ctx.stdout, stderr: ctx.stderr, env: e, uid: ctx.uid, user: ctx.user, signal: ctx.signal, line: ctx.line });
}

async function sortCmd(ctx: CommandContext): Promise<number> {
  const args = ctx.argv.slice(1);
  const files = args.filter((a) => !a.startsWith('-'));
  const texts = await inputsOf(ctx, 'sort', files);
  const lines = texts.flatMap((t) => splitLines(t.text ?? ''));
  const numeric = args.some((a) => /^-[a-z]*n/.test(a));
  lines.sort(numeric ? (a, b) => parseFloat(a) - parseFloat(b) : (a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (args.some((a) => /^-[a-z]*r/.test(a))) lines.reverse();
  const res = args.some((a) => /^-[a-z]*u/.test(a)) ? lines.filter((l, i) => l !== lines[i - 1]) : lines;
  if (res.length) await out(ctx, res.join('\n') + '\n');
  return 0;
}

export function registerCore(r: CommandRegistry): void {
  r.register('echo', echo)
    .register('printf', printf)
    .register('cat', cat)
    .register('grep', grep)
    .register('egrep', (ctx) => grep({ ...ctx, argv: ['grep', '-E', ...ctx.argv.slice(1)] }))
    .register('fgrep', (ctx) => grep({ ...ctx, argv: ['grep', '-F', ...ctx.argv.slice(1)] }))
    .register('head', (ctx) => headTail(ctx, 'head'))
    .register('tail', (ctx) => headTail(ctx, 'tail'))
    .register('wc', wc)
    .register('test', test)
    .register('[', test)
    .register('true', async () => 0)
    .register('false', async () => 1)
    .register('tee', tee)
    .register('mkdir', mkdir)
    .register('rm', rm)
    .register('cp', (ctx) => copyMove(ctx, 'cp'))
    .register('mv', (ctx) => copyMove(ctx, 'mv'))
    .register('touch', touch)
    .register('sleep', sleepCmd)
    .register('sh', sh)
    .register('bash', sh)
    .register('dash', sh)
    .register('sudo', sudo)
    .register('command', command)
    .register('env', env)
    .register('sort', sortCmd)
    .register('date', async (ctx) => {
      const now = ctx.machine.kernel.uptimeMs() + ctx.machine.kernel.bootAtMs;
      await out(ctx, ctx.argv[1] === '+%s' ? `${Math.floor(now / 1000)}\n` : `${new Date(now).toUTCString().replace('GMT', 'UTC')}\n`);
      return 0;
    })
    .register('id', async (ctx) => {
      const a = ctx.argv.slice(1).join(' ');
      if (a === '-u') await out(ctx, `${ctx.uid}\n`);
      else if (a === '-un' || a === '-nu') await out(ctx, `${ctx.user}\n`);
      else await out(ctx, `uid=${ctx.uid}(${ctx.user}) gid=${ctx.uid}(${ctx.user}) groups=${ctx.uid}(${ctx.user})\n`);
      return 0;
    })
    .register('whoami', async (ctx) => {
      await out(ctx, `${ctx.user}\n`);
      return 0;
    })
    .register('hostname', async (ctx) => {
      await out(ctx, `${ctx.machine.name}\n`);
      return 0;
    })
    .register('uname', async (ctx) => {
      const a = ctx.argv.slice(1);
      const k = ctx.machine.spec.kernelRelease;
      if (a.includes('-a')) await out(ctx, `Linux ${ctx.machine.name} ${k} #1 SMP PREEMPT_DYNAMIC x86_64 GNU/Linux\n`);
      else if (a.includes('-r')) await out(ctx, `${k}\n`);
      else if (a.includes('-n')) await out(ctx, `${ctx.machine.name}\n`);
      else await out(ctx, 'Linux\n');
      return 0;
    });
  void BufferOutput;
}
