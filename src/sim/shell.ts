/**
 * The simulated machine's /bin/sh: runs parsed scripts against the machine's model and
 * filesystem through a registry of command handlers (add a command = register a handler).
 * Messages and exit codes follow dash (Debian's /bin/sh): `sh: 1: NAME: not found` (127),
 * syntax errors exit 2.
 */
import { BufferOutput, StringInput, emptyInput, nullOutput, type Input, type Output } from './io.js';
import { ParseError, parseScript, type AndOr, type CaseCommand, type Command, type List, type Pipeline, type Redirect, type SimpleCommand, type Word } from './parse.js';
import type { SimMachine } from './machine.js';
import { FsError, normalizePath } from './vfs.js';

export interface CommandContext {
  /** argv[0] is the name as typed (possibly a path). */
  argv: string[];
  stdin: Input;
  stdout: Output;
  stderr: Output;
  env: Map<string, string>;
  machine: SimMachine;
  /** Effective user of this process. */
  uid: number;
  user: string;
  shell: Shell;
  signal: AbortSignal;
  /** Line of the script (for dash-style messages). */
  line: number;
}

export type CommandHandler = (ctx: CommandContext) => Promise<number>;

/**
 * Commands that dash (and bash) run inside the shell: no program starts for them, so they
 * neither count as programs nor wait on a stalled audit queue.
 */
export const SHELL_BUILTINS: ReadonlySet<string> = new Set(['echo', 'printf', 'test', '[', 'true', 'false', ':', 'read', 'kill', 'pwd', 'command']);

/** Programs one machine started, for the per-sample counter (the fact script must start <= 3). */
export interface ProgramLog {
  count: number;
  /** Names as executed (argv[0]), in order; bounded. */
  names: string[];
}

const programLogs = new WeakMap<SimMachine, ProgramLog>();

/** The machine's program log: read `count` before and after one sample to know what it started. */
export function programLog(machine: SimMachine): ProgramLog {
  let log = programLogs.get(machine);
  if (!log) {
    log = { count: 0, names: [] };
    programLogs.set(machine, log);
  }
  return log;
}

export class CommandRegistry {
  private readonly handlers = new Map<string, CommandHandler>();
  private readonly setups: ((m: SimMachine) => void)[] = [];
  private readonly setUp = new WeakSet<SimMachine>();
  /** Something every machine these commands run on needs once (e.g. /proc/PID files). */
  onMachine(setup: (m: SimMachine) => void): this {
    this.setups.push(setup);
    return this;
  }
  /** Runs the machine setups once per machine. */
  prepare(m: SimMachine): void {
    if (this.setUp.has(m)) return;
    this.setUp.add(m);
    for (const f of this.setups) f(m);
  }
  register(name: string, handler: CommandHandler): this {
    this.handlers.set(name, handler);
    return this;
  }
  get(name: string): CommandHandler | undefined {
    return this.handlers.get(name);
  }
  has(name: string): boolean {
    return this.handlers.has(name);
  }
  names(): string[] {
    return [...this.handlers.keys()].sort();
  }
}

/** Exit with a status from anywhere inside a script (`exit N`). */
class ExitSignal {
  constructor(readonly code: number) {}
}

/** `break`: leaves the innermost loop. */
class BreakSignal {}

const BIN_DIRS = ['/bin', '/usr/bin', '/sbin', '/usr/sbin', '/usr/local/bin', '/usr/local/sbin'];

export interface ShellProcess {
  stdin: Input;
  stdout: Output;
  stderr: Output;
  uid: number;
  user: string;
  env?: Map<string, string>;
  signal?: AbortSignal;
  /** $0 and $1… for `sh -c 'script' arg0 args`. */
  args?: string[];
  /** `$?` before the script's first command (a shell reading its commands in parts: `sh -s`). */
  last?: number;
}

export class Shell {
  constructor(
    readonly machine: SimMachine,
    readonly registry: CommandRegistry,
  ) {
    registry.prepare(machine);
  }

  /** Runs a script; resolves to its exit status. Never throws for script errors. */
  async run(script: string, proc: ShellProcess): Promise<number> {
    const env = proc.env ?? this.defaultEnv(proc.user, proc.uid);
    const state: RunState = {
      env,
      last: proc.last ?? 0,
      uid: proc.uid,
      user: proc.user,
      signal: proc.signal ?? new AbortController().signal,
      args: proc.args ?? ['sh'],
      substitutions: 0,
    };
    let list: List;
    try {
      list = parseScript(script);
    } catch (err) {
      if (err instanceof ParseError) {
        await proc.stderr.write(`sh: ${err.line}: ${err.message}\n`);
        return 2;
      }
      throw err;
    }
    try {
      return await this.runList(list, state, proc.stdin, proc.stdout, proc.stderr);
    } catch (err) {
      if (err instanceof ExitSignal) return err.code;
      if (err instanceof BreakSignal) return 0;
      if (err instanceof AbortError) return 130;
      await proc.stderr.write(`sh: internal error: ${err instanceof Error ? err.message : String(err)}\n`);
      return 2;
    }
  }

  defaultEnv(user: string, uid: number): Map<string, string> {
    const home = uid === 0 ? '/root' : `/home/${user}`;
    return new Map([
      ['PATH', '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      ['HOME', home],
      ['USER', user],
      ['LOGNAME', user],
      ['SHELL', '/bin/sh'],
      ['PWD', home],
      ['IFS', ' \t\n'],
    ]);
  }

  private async runList(list: List, st: RunState, stdin: Input, stdout: Output, stderr: Output): Promise<number> {
    for (const item of list.items) {
      st.last = await this.runAndOr(item, st, stdin, stdout, stderr);
    }
    return st.last;
  }

  private async runAndOr(ao: AndOr, st: RunState, stdin: Input, stdout: Output, stderr: Output): Promise<number> {
    let rc = await this.runPipeline(ao.first, st, stdin, stdout, stderr);
    for (const { op, pipeline } of ao.rest) {
      st.last = rc;
      if ((op === '&&' && rc !== 0) || (op === '||' && rc === 0)) continue;
      rc = await this.runPipeline(pipeline, st, stdin, stdout, stderr);
    }
    return rc;
  }

  private async runPipeline(p: Pipeline, st: RunState, stdin: Input, stdout: Output, stderr: Output): Promise<number> {
    if (st.signal.aborted) throw new AbortError();
    let input = stdin;
    let rc = 0;
    // Stages run one after the other with buffered pipes: enough for this subset (no
    // stage here depends on a later one consuming concurrently).
    for (let i = 0; i < p.commands.length; i++) {
      const cmd = p.commands[i] as Command;
      const last = i === p.commands.length - 1;
      const out = last ? stdout : new BufferOutput();
      rc = await this.runCommand(cmd, st, input, out, stderr);
      if (!last) input = new StringInput((out as BufferOutput).text());
    }
    return p.negate ? (rc === 0 ? 1 : 0) : rc;
  }

  private async runCommand(cmd: Command, st: RunState, stdin: Input, stdout: Output, stderr: Output): Promise<number> {
    if (cmd.type === 'if' || cmd.type === 'for' || cmd.type === 'while' || cmd.type === 'case') {
      return this.withRedirects(cmd.redirects, cmd.line, st, { stdin, stdout, stderr }, (io) => this.runCompound(cmd, st, io));
    }
    if (cmd.type === 'subshell') {
      const sub: RunState = { ...st, env: new Map(st.env) };
      return this.withRedirects(cmd.redirects, cmd.line, st, { stdin, stdout, stderr }, async (io) => {
        try {
          return await this.runList(cmd.body, sub, io.stdin, io.stdout, io.stderr);
        } catch (err) {
          if (err instanceof ExitSignal) return err.code;
          throw err;
        }
      });
    }
    return this.runSimple(cmd, st, stdin, stdout, stderr);
  }

  /** if / for / while / case, in the caller's shell (variables they set stay set). */
  private async runCompound(cmd: Exclude<Command, SimpleCommand | { type: 'subshell' }>, st: RunState, io: Io): Promise<number> {
    const list = (l: List) => this.runList(l, st, io.stdin, io.stdout, io.stderr);
    switch (cmd.type) {
      case 'if': {
        for (const c of cmd.clauses) {
          if ((await list(c.cond)) === 0) return list(c.body);
        }
        return cmd.elseBody ? list(cmd.elseBody) : 0;
      }
      case 'while': {
        let rc = 0;
        try {
          while ((await list(cmd.cond)) === 0) rc = await list(cmd.body);
        } catch (err) {
          if (!(err instanceof BreakSignal)) throw err;
        }
        return rc;
      }
      case 'for': {
        const values: string[] = [];
        for (const w of cmd.words) values.push(...(await this.expandWord(w, st, io.stderr, true)));
        let rc = 0;
        try {
          for (const v of values) {
            st.env.set(cmd.name, v);
            rc = await list(cmd.body);
          }
        } catch (err) {
          if (!(err instanceof BreakSignal)) throw err;
        }
        return rc;
      }
      case 'case':
        return this.runCase(cmd, st, io);
    }
  }

  private async runCase(cmd: CaseCommand, st: RunState, io: Io): Promise<number> {
    const subject = (await this.expandWord(cmd.word, st, io.stderr, false)).join(' ');
    for (const item of cmd.items) {
      for (const p of item.patterns) {
        if ((await this.patternRegex(p, st, io.stderr)).test(subject)) return this.runList(item.body, st, io.stdin, io.stdout, io.stderr);
      }
    }
    return 0;
  }

  /** A case pattern: unquoted `*`, `?` and `[...]` are wildcards, quoted text is literal. */
  private async patternRegex(w: Word, st: RunState, stderr: Output): Promise<RegExp> {
    let pattern = '';
    for (const part of w.parts) {
      const text = part.kind === 'lit' ? part.text : part.kind === 'var' ? this.param(part.name, st) : await this.substitute(part.script, st, stderr);
      pattern += part.quoted ? text.replace(/[*?[\]]/g, (c) => `\u0000${c}`) : text;
    }
    return new RegExp(`^${globBody(pattern)}$`, 's');
  }

  private async runSimple(cmd: SimpleCommand, st: RunState, stdin: Input, stdout: Output, stderr: Output): Promise<number> {
    const argv: string[] = [];
    const substitutions = st.substitutions;
    for (const w of cmd.words) argv.push(...(await this.expandWord(w, st, stderr, true)));
    const assigned: [string, string][] = [];
    for (const a of cmd.assigns) assigned.push([a.name, (await this.expandWord(a.value, st, stderr, false)).join(' ')]);
    if (argv.length === 0) {
      for (const [k, v] of assigned) st.env.set(k, v);
      // `v=$(cmd)` has the status of the substitution (POSIX 2.9.1), else 0
      const rc = st.substitutions > substitutions ? st.last : 0;
      return this.withRedirects(cmd.redirects, cmd.line, st, { stdin, stdout, stderr }, async () => rc);
    }
    const env = assigned.length ? new Map([...st.env, ...assigned]) : st.env;
    return this.withRedirects(cmd.redirects, cmd.line, st, { stdin, stdout, stderr }, async (io) => {
      const builtin = await this.builtin(argv, st, io, cmd.line, env);
      if (builtin !== null) return builtin;
      return this.exec(argv, { ...io, env, uid: st.uid, user: st.user, signal: st.signal, line: cmd.line });
    });
  }

  /** Runs an external command (also used by sudo, sh -c, command, env). */
  async exec(
    argv: string[],
    p: { stdin: Input; stdout: Output; stderr: Output; env: Map<string, string>; uid: number; user: string; signal: AbortSignal; line: number },
  ): Promise<number> {
    const name = argv[0] ?? '';
    const handler = this.resolve(name);
    if (!handler) {
      await p.stderr.write(`sh: ${p.line}: ${name}: not found\n`);
      return 127;
    }
    if (p.signal.aborted) throw new AbortError();
    if (!SHELL_BUILTINS.has(name)) {
      const log = programLog(this.machine);
      log.count++;
      if (log.names.length < 1000) log.names.push(name);
      // A stalled host (tasks sleeping in audit_log_start) makes every program start slow: each
      // execve writes audit records (kernel-6.1-queue §0); builtins start nothing and pay nothing.
      const delay = this.machine.kernel.commandDelayMs();
      if (delay > 0) await sleep(delay, p.signal);
    }
    return handler({ argv, stdin: p.stdin, stdout: p.stdout, stderr: p.stderr, env: p.env, machine: this.machine, uid: p.uid, user: p.user, shell: this, signal: p.signal, line: p.line });
  }

  /** A command name or absolute path → handler, honouring what this machine has installed. */
  resolve(name: string): CommandHandler | undefined {
    let base = name;
    if (name.includes('/')) {
      const p = normalizePath(name);
      const dir = p.slice(0, p.lastIndexOf('/')) || '/';
      if (!BIN_DIRS.includes(dir)) return undefined;
      base = p.slice(p.lastIndexOf('/') + 1);
    }
    if (!this.machine.hasCommand(base)) return undefined;
    return this.registry.get(base);
  }

  private async builtin(argv: string[], st: RunState, io: Io, line: number, env: Map<string, string>): Promise<number | null> {
    const [name, ...args] = argv;
    switch (name) {
      case 'read':
        return this.read(args, st, io, env);
      case 'break':
        throw new BreakSignal();
      case 'exit':
        throw new ExitSignal(args[0] !== undefined ? Number(args[0]) & 255 : st.last);
      case 'export':
        for (const a of args) {
          const eq = a.indexOf('=');
          if (eq > 0) st.env.set(a.slice(0, eq), a.slice(eq + 1));
        }
        return 0;
      case 'unset':
        for (const a of args) st.env.delete(a);
        return 0;
      case 'cd': {
        const target = normalizePath(args[0] ?? st.env.get('HOME') ?? '/', st.env.get('PWD') ?? '/');
        if (this.machine.fs.stat(target)?.kind !== 'dir') {
          await io.stderr.write(`sh: ${line}: cd: can't cd to ${args[0] ?? ''}\n`);
          return 2;
        }
        st.env.set('PWD', target);
        return 0;
      }
      case ':':
        return 0;
      case 'set':
        return 0;
      default:
        return null;
    }
  }

  /**
   * `read [-r] NAME...`: one line; fields split on IFS (whitespace IFS trimmed), the last name
   * takes the rest. Status 1 at end of input, also when a last line without newline was read
   * (its text is still assigned, as in dash). Backslashes are kept (the scripts always say -r).
   */
  private async read(args: string[], st: RunState, io: Io, env: Map<string, string>): Promise<number> {
    const names = args.filter((a) => a !== '-r');
    const rec = await io.stdin.readRecord();
    const text = rec?.text ?? '';
    const ifs = env.get('IFS') ?? ' \t\n';
    const ws = [...ifs].filter((c) => ' \t\n'.includes(c)).join('');
    let rest = ws ? text.replace(new RegExp(`^[${escapeRe(ws)}]+|[${escapeRe(ws)}]+$`, 'g'), '') : text;
    const targets = names.length ? names : ['REPLY'];
    targets.forEach((n, i) => {
      if (i === targets.length - 1 || ifs === '') {
        st.env.set(n, i === targets.length - 1 ? rest : '');
        rest = '';
        return;
      }
      const m = new RegExp(`^([^${escapeRe(ifs)}]*)[${escapeRe(ifs)}]+`).exec(rest);
      if (m) {
        st.env.set(n, m[1] ?? '');
        rest = rest.slice(m[0].length);
      } else {
        st.env.set(n, rest);
        rest = '';
      }
    });
    return rec && rec.terminated ? 0 : 1;
  }

  private async withRedirects(
    redirects: Redirect[],
    line: number,
    st: RunState,
    io: Io,
    body: (io: Io) => Promise<number>,
  ): Promise<number> {
    if (redirects.length === 0) return body(io);
    const cur: Io = { ...io };
    const files: { path: string; out: BufferOutput; append: boolean }[] = [];
    for (const r of redirects) {
      const target = (await this.expandWord(r.target, st, io.stderr, false)).join(' ');
      if (r.op === '>&') {
        const src = target === '1' ? cur.stdout : target === '2' ? cur.stderr : null;
        if (!src) {
          await io.stderr.write(`sh: ${line}: Syntax error: Bad fd number\n`);
          return 2;
        }
        if (r.fd === 1) cur.stdout = src;
        else if (r.fd === 2) cur.stderr = src;
        continue;
      }
      if (r.op === '<') {
        if (target === '/dev/null') {
          cur.stdin = emptyInput;
          continue;
        }
        try {
          cur.stdin = new StringInput(this.machine.fs.read(normalizePath(target, st.env.get('PWD')), st.uid === 0));
        } catch (err) {
          await io.stderr.write(`sh: ${line}: cannot open ${target}: ${err instanceof FsError ? err.description : 'error'}\n`);
          return 2;
        }
        continue;
      }
      let out: Output;
      if (target === '/dev/null') out = nullOutput;
      else if (target === '/dev/stderr') out = io.stderr;
      else if (target === '/dev/stdout') out = io.stdout;
      else {
        const path = normalizePath(target, st.env.get('PWD'));
        try {
          // Open (truncate/create) now, like the real shell, so permission errors come first.
          this.machine.fs.write(path, '', { append: r.op === '>>', asRoot: st.uid === 0, owner: st.user });
        } catch (err) {
          await io.stderr.write(`sh: ${line}: cannot create ${target}: ${err instanceof FsError ? err.description : 'error'}\n`);
          return 2;
        }
        const buf = new BufferOutput();
        files.push({ path, out: buf, append: true });
        out = buf;
      }
      if (r.fd === 1) cur.stdout = out;
      else if (r.fd === 2) cur.stderr = out;
    }
    try {
      return await body(cur);
    } finally {
      for (const f of files) this.machine.fs.write(f.path, f.out.text(), { append: true, asRoot: true });
    }
  }

  /** Expansion: parameters, command substitution, field splitting and globbing (unquoted only). */
  private async expandWord(w: Word, st: RunState, stderr: Output, split: boolean): Promise<string[]> {
    // Segments of the word with their quoting, to split/glob only what was unquoted.
    const fields: Seg[][] = [[]];
    const push = (text: string, quoted: boolean) => {
      (fields[fields.length - 1] as Seg[]).push({ text, quoted });
    };
    const pushSplit = (text: string) => {
      if (!split) return push(text, true);
      const pieces = text.split(/[ \t\n]+/);
      pieces.forEach((piece, i) => {
        if (i > 0) fields.push([]);
        if (piece) push(piece, true);
      });
    };
    let sawQuoted = false;
    for (const part of w.parts) {
      if (part.quoted) sawQuoted = true;
      if (part.kind === 'lit') push(part.text, part.quoted);
      else {
        const value = part.kind === 'var' ? this.param(part.name, st) : await this.substitute(part.script, st, stderr);
        if (part.quoted) push(value, true);
        else pushSplit(value);
      }
    }
    const out: string[] = [];
    for (const segs of fields) {
      const text = segs.map((s) => s.text).join('');
      if (!text && !sawQuoted) continue;
      const globbable = split && segs.some((s) => !s.quoted && /[*?[]/.test(s.text));
      if (globbable) {
        const matches = this.glob(segs, st.env.get('PWD') ?? '/');
        if (matches.length) {
          out.push(...matches);
          continue;
        }
      }
      out.push(text);
    }
    return out;
  }

  private param(name: string, st: RunState): string {
    if (name === '?') return String(st.last);
    if (name === '$') return String(this.machine.shellPid);
    if (name === '#') return String(Math.max(0, st.args.length - 1));
    if (name === '@' || name === '*') return st.args.slice(1).join(' ');
    if (/^\d$/.test(name)) return st.args[Number(name)] ?? '';
    return st.env.get(name) ?? '';
  }

  private async substitute(script: string, st: RunState, stderr: Output): Promise<string> {
    const out = new BufferOutput();
    const rc = await this.run(script, { stdin: emptyInput, stdout: out, stderr, uid: st.uid, user: st.user, env: new Map(st.env), signal: st.signal, args: st.args });
    st.last = rc;
    st.substitutions++;
    return out.text().replace(/\n+$/, '');
  }

  private glob(segs: Seg[], cwd: string): string[] {
    // Build a pattern where only unquoted * and ? are wildcards.
    let pattern = '';
    for (const s of segs) pattern += s.quoted ? s.text.replace(/[*?[\]]/g, (c) => `\u0000${c}`) : s.text;
    const absolute = pattern.startsWith('/');
    const comps = pattern.split('/').filter((c) => c !== '');
    let paths = [absolute ? '/' : normalizePath(cwd)];
    for (const comp of comps) {
      const next: string[] = [];
      const wild = /(?<!\u0000)[*?[]/.test(comp);
      const literal = comp.replace(/\u0000/g, '');
      for (const base of paths) {
        const join = (n: string) => (base === '/' ? `/${n}` : `${base}/${n}`);
        if (!wild) {
          if (this.machine.fs.stat(join(literal))) next.push(join(literal));
          continue;
        }
        const re = globRegex(comp);
        for (const name of this.machine.fs.list(base)) {
          if (name.startsWith('.') && !literal.startsWith('.')) continue;
          if (re.test(name)) next.push(join(name));
        }
      }
      paths = next;
      if (!paths.length) return [];
    }
    if (!absolute) {
      const prefix = normalizePath(cwd) === '/' ? '/' : `${normalizePath(cwd)}/`;
      return paths.map((p) => (p.startsWith(prefix) ? p.slice(prefix.length) : p));
    }
    return paths;
  }
}

function globRegex(comp: string): RegExp {
  return new RegExp(`^${globBody(comp)}$`);
}

/**
 * Regex body of a shell pattern: `*`, `?`, `[...]` (with `!`/`^` negation); characters after
 * \u0000 were quoted and are literal. An unclosed `[` is a literal `[`, as in dash.
 */
function globBody(pattern: string): string {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '\u0000') {
      re += escapeRe(pattern[i + 1] ?? '');
      i++;
    } else if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const close = pattern.indexOf(']', i + 2);
      if (close < 0 || pattern.slice(i, close).includes('\u0000')) {
        re += '\\[';
        continue;
      }
      let body = pattern.slice(i + 1, close);
      const negate = body.startsWith('!') || body.startsWith('^');
      if (negate) body = body.slice(1);
      re += `[${negate ? '^' : ''}${body.replace(/[\\\]^]/g, '\\$&')}]`;
      i = close;
    } else re += escapeRe(c);
  }
  return re;
}

export function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

interface Seg {
  text: string;
  quoted: boolean;
}

interface Io {
  stdin: Input;
  stdout: Output;
  stderr: Output;
}

interface RunState {
  env: Map<string, string>;
  last: number;
  uid: number;
  user: string;
  signal: AbortSignal;
  args: string[];
  /** Command substitutions run so far (for the status of `v=$(cmd)`). */
  substitutions: number;
}

export class AbortError extends Error {
  constructor() {
    super('session closed');
  }
}

/** A sleep that ends early (rejecting) when the session goes away. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new AbortError());
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(new AbortError());
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
