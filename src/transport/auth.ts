/**
 * Authentication material and the order methods are tried in. Keys are read and decrypted before
 * dialling so a bad key file is a usage error (E_KEYFILE) rather than a confusing auth failure.
 * Order: the explicit key file, candidate identity files, the agent, then password and
 * keyboard-interactive (the way OpenSSH orders publickey before password).
 */
import { homedir } from 'node:os';
import ssh2, { type AnyAuthMethod, type AuthenticationType, type AuthHandlerMiddleware, type ParsedKey } from 'ssh2';

// ssh2 is CommonJS: Node's ESM loader only gives its default export.
const { utils } = ssh2;
import { FleetmendError } from '../errors.js';
import { readInputFile } from '../util/input-file.js';
import type { AuthSpec } from './types.js';

export interface LoadedKey {
  file: string;
  key: ParsedKey;
}

export function expandTilde(p: string): string {
  if (p === '~') return homedir();
  if (p.startsWith('~/')) return `${homedir()}${p.slice(1)}`;
  return p;
}

/** Read and decrypt one key; the passphrase never appears in the error. */
export async function loadPrivateKey(file: string, passphrase: string | undefined, host?: string): Promise<LoadedKey> {
  const path = expandTilde(file);
  const opts = host !== undefined ? { host } : {};
  const data = await readInputFile(path, { code: 'E_KEYFILE', what: 'private key', ...opts });
  const parsed = utils.parseKey(data, passphrase);
  if (parsed instanceof Error) {
    const encrypted = /encrypted|passphrase|decrypt|bad decrypt/i.test(parsed.message);
    const why = encrypted
      ? passphrase === undefined
        ? 'it is encrypted and no passphrase was given'
        : 'wrong passphrase'
      : 'not a supported private key';
    throw new FleetmendError('E_KEYFILE', `cannot use private key ${path}: ${why}`, opts);
  }
  const key = Array.isArray(parsed) ? (parsed[0] as ParsedKey | undefined) : parsed;
  if (!key || !key.isPrivateKey()) {
    throw new FleetmendError('E_KEYFILE', `cannot use private key ${path}: no private key in the file`, opts);
  }
  return { file: path, key };
}

/**
 * Key files read and decrypted once per run, shared by every connection (a 1,000-host sweep
 * otherwise read, parsed and decrypted the same file 1,000 times). Failures are cached too, and
 * re-thrown with the host that asked.
 */
export class KeyCache {
  private readonly loaded = new Map<string, Map<string | undefined, Promise<LoadedKey>>>();

  load(file: string, passphrase: string | undefined, host?: string): Promise<LoadedKey> {
    const path = expandTilde(file);
    let byPassphrase = this.loaded.get(path);
    if (!byPassphrase) this.loaded.set(path, (byPassphrase = new Map()));
    let p = byPassphrase.get(passphrase);
    if (!p) {
      p = loadPrivateKey(path, passphrase);
      byPassphrase.set(passphrase, p);
    }
    return p.catch((err: unknown) => {
      throw err instanceof FleetmendError && host !== undefined ? new FleetmendError(err.code, err.message, { host }) : err;
    });
  }
}

/** The explicit key must load; candidates that are missing or undecryptable are skipped. */
export async function loadKeys(auth: AuthSpec, host?: string, cache?: KeyCache): Promise<LoadedKey[]> {
  const load = (file: string): Promise<LoadedKey> => (cache ? cache.load(file, auth.passphrase, host) : loadPrivateKey(file, auth.passphrase, host));
  const keys: LoadedKey[] = [];
  if (auth.privateKeyFile !== undefined) keys.push(await load(auth.privateKeyFile));
  for (const f of auth.identityFiles ?? []) {
    if (keys.some((k) => k.file === expandTilde(f))) continue;
    try {
      keys.push(await load(f));
    } catch {
      // OpenSSH in batch mode skips identity files it cannot use
    }
  }
  return keys;
}

export function agentSocketFor(auth: AuthSpec, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (auth.useAgent === false) return undefined;
  const sock = auth.agentSocket ?? env['SSH_AUTH_SOCK'];
  return sock !== undefined && sock !== '' ? sock : undefined;
}

export interface AuthPlan {
  methods: AnyAuthMethod[];
  /** Labels for the E_AUTH message: `publickey (/path)`, `agent`, `password`. */
  labels: string[];
}

export function planAuth(username: string, auth: AuthSpec, keys: LoadedKey[], agentSocket: string | undefined): AuthPlan {
  const methods: AnyAuthMethod[] = [];
  const labels: string[] = [];
  for (const k of keys) {
    methods.push({ type: 'publickey', username, key: k.key });
    labels.push(`publickey (${k.file})`);
  }
  if (agentSocket !== undefined) {
    methods.push({ type: 'agent', username, agent: agentSocket });
    labels.push('agent');
  }
  if (auth.password !== undefined) {
    const password = auth.password;
    methods.push({ type: 'password', username, password });
    labels.push('password');
    methods.push({
      type: 'keyboard-interactive',
      username,
      prompt: (_name, _instr, _lang, prompts, finish) => finish(prompts.map(() => password)),
    });
    labels.push('keyboard-interactive');
  }
  return { methods, labels };
}

/**
 * ssh2 authHandler walking the plan, skipping methods the server does not offer, and recording what
 * was actually attempted for the error message.
 */
export function makeAuthHandler(plan: AuthPlan, tried: string[]): AuthHandlerMiddleware {
  let i = 0;
  return (methodsLeft: AuthenticationType[] | null, _partial: boolean, next) => {
    while (i < plan.methods.length) {
      const m = plan.methods[i]!;
      const label = plan.labels[i]!;
      i++;
      const serverType: AuthenticationType = m.type === 'agent' ? 'publickey' : m.type;
      if (methodsLeft && methodsLeft.length > 0 && !methodsLeft.includes(serverType)) continue;
      tried.push(label);
      next(m);
      return;
    }
    (next as unknown as (v: false) => void)(false);
  };
}
