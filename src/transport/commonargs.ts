/**
 * `ansible_ssh_common_args`: the ssh(1) options Ansible passes on the command line. The ones that
 * change where or how we connect are honoured (-J, -o ProxyJump=, the `ssh -W %h:%p` ProxyCommand,
 * -p, -l, -i, and the -o keywords also read from ssh config); harmless others (ControlMaster, -q,
 * ...) are listed in `ignored`. A ProxyCommand we cannot reproduce is an error: silently dialling
 * the host directly would bypass the bastion the inventory asked for.
 */
import { FleetmendError } from '../errors.js';
import { splitShellWords as splitWords } from '../util/shellwords.js';
import { mapStrictHostKeyChecking, parseJumpHop, parseProxyJump, type JumpHop, type SshOptions } from './sshconfig.js';

export interface SshCommonArgs extends SshOptions {
  /** Options understood but not used, or not understood (shown as a note, never fatal). */
  ignored: string[];
}

/** POSIX-shell-like word splitting: quotes and backslashes, no expansion. */
export function splitShellWords(s: string): string[] {
  return splitWords(s, () => new FleetmendError('E_INVENTORY', `unbalanced quote in ssh args: ${s}`));
}

/** The simple form `ssh [-q] [-p PORT] [-l USER] [-i KEY] [-o K=V] -W %h:%p [user@]bastion` as a hop. */
export function parseProxyCommand(cmd: string): JumpHop {
  const w = splitShellWords(cmd);
  const fail = (): never => {
    throw new FleetmendError('E_INVENTORY', `unsupported ProxyCommand '${cmd}': only 'ssh -W %h:%p [user@]bastion' (or ProxyJump) can be used`);
  };
  if (w.length === 0 || !/(^|\/)ssh$/.test(w[0]!)) fail();
  let user: string | undefined;
  let port: number | undefined;
  let host: string | undefined;
  let sawW = false;
  for (let i = 1; i < w.length; i++) {
    const a = w[i]!;
    if (a === '-W') {
      if (w[++i] !== '%h:%p') fail();
      sawW = true;
    } else if (a === '-p') port = Number(w[++i]);
    else if (a === '-l') user = w[++i];
    else if (a === '-i' || a === '-o' || a === '-F') i++;
    else if (/^-[qvCTAaxNn46]+$/.test(a)) continue;
    else if (a.startsWith('-')) fail();
    else if (host === undefined) host = a;
    else fail();
  }
  if (!sawW || host === undefined) return fail();
  const hop = parseJumpHop(host);
  if (user !== undefined && hop.user === undefined) hop.user = user;
  if (port !== undefined) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) fail();
    hop.port = port;
  }
  return hop;
}

function applyOption(out: SshCommonArgs, kv: string): void {
  const m = /^\s*([A-Za-z]+)\s*(?:=|\s)\s*(.*)$/s.exec(kv);
  if (!m) {
    out.ignored.push(`-o ${kv}`);
    return;
  }
  const key = m[1]!.toLowerCase();
  const value = m[2]!.trim();
  switch (key) {
    case 'proxyjump':
      out.proxyJump = parseProxyJump(value);
      return;
    case 'proxycommand':
      out.proxyJump = value.toLowerCase() === 'none' ? 'none' : [parseProxyCommand(value)];
      return;
    case 'port':
      out.port = Number(value);
      return;
    case 'user':
      out.user = value;
      return;
    case 'identityfile':
      (out.identityFiles ??= []).push(value);
      return;
    case 'connecttimeout':
      out.connectTimeoutMs = Number(value) * 1000;
      return;
    case 'serveraliveinterval':
      out.serverAliveIntervalMs = Number(value) * 1000;
      return;
    case 'serveralivecountmax':
      out.serverAliveCountMax = Number(value);
      return;
    case 'stricthostkeychecking': {
      const p = mapStrictHostKeyChecking(value);
      if (p) out.strictHostKeyChecking = p;
      else out.ignored.push(`-o ${kv}`);
      return;
    }
    case 'userknownhostsfile':
      out.userKnownHostsFile = value.split(/\s+/)[0]!;
      return;
    default:
      out.ignored.push(`-o ${kv}`);
  }
}

export function parseSshCommonArgs(args: string): SshCommonArgs {
  const out: SshCommonArgs = { ignored: [] };
  const w = splitShellWords(args);
  for (let i = 0; i < w.length; i++) {
    const a = w[i]!;
    const next = (): string => {
      const v = w[++i];
      if (v === undefined) throw new FleetmendError('E_INVENTORY', `ssh option ${a} needs a value in '${args}'`);
      return v;
    };
    if (a === '-J') out.proxyJump = parseProxyJump(next());
    else if (a.startsWith('-J')) out.proxyJump = parseProxyJump(a.slice(2));
    else if (a === '-o') applyOption(out, next());
    else if (a.startsWith('-o')) applyOption(out, a.slice(2));
    else if (a === '-p') out.port = Number(next());
    else if (a === '-l') out.user = next();
    else if (a === '-i') (out.identityFiles ??= []).push(next());
    else out.ignored.push(a);
  }
  if (out.port !== undefined && (!Number.isInteger(out.port) || out.port < 1 || out.port > 65535)) {
    throw new FleetmendError('E_INVENTORY', `invalid port in ssh args '${args}'`);
  }
  return out;
}
