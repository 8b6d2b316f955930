/**
 * OpenSSH known_hosts: pure parsing and matching (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"), plus the
 * one side effect the accept-new policy needs (appending a line). Loaded once per run and shared
 * by every transport, so 200 concurrent connections read the file once and append one at a time.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { FleetmendError } from '../errors.js';
import type { HostKeyChecking, TransportLogger } from './types.js';

export interface KnownHostEntry {
  /** 1-based line number in the file (0 for entries added in memory). */
  line: number;
  marker?: 'revoked' | 'cert-authority';
  /** Host patterns (comma list split) or the hashed form. */
  patterns: string[];
  hashed?: { salt: Buffer; hash: Buffer };
  keyType: string;
  key: Buffer;
}

export type HostKeyLookup =
  | { status: 'match'; entry: KnownHostEntry }
  | { status: 'revoked'; entry: KnownHostEntry }
  | { status: 'changed'; known: KnownHostEntry[] }
  | { status: 'unknown' };

export interface VerifyRequest {
  /** Name used for matching: the address dialled (OpenSSH matches the HostName). */
  host: string;
  port: number;
  /** Raw public key blob offered by the server. */
  key: Buffer;
  policy: HostKeyChecking;
  /** Inventory name, for messages and FleetmendError.host. */
  displayName?: string;
}

/** `SHA256:` + unpadded base64 of the SHA-256 of the key blob, exactly as `ssh-keygen -l` prints. */
export function fingerprintSha256(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** The algorithm name stored at the start of an SSH public key blob (RFC 4253 §6.6). */
export function keyTypeOfBlob(key: Buffer): string {
  if (key.length < 4) return 'unknown';
  const len = key.readUInt32BE(0);
  if (len > key.length - 4 || len > 64) return 'unknown';
  return key.subarray(4, 4 + len).toString('latin1');
}

/** OpenSSH writes a non-22 port as `[host]:port`; port 22 is the bare name. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** `|1|salt|hash` (HMAC-SHA1 keyed by the salt, of the host name), as `ssh-keygen -H` writes. */
export function hashHostName(name: string, salt: Buffer = randomBytes(20)): string {
  const hash = createHmac('sha1', salt).update(name).digest();
  return `|1|${salt.toString('base64')}|${hash.toString('base64')}`;
}

/** OpenSSH wildcard matching: `*` any run, `?` one character; host names compare case-insensitively. */
export function matchWildcard(name: string, pattern: string): boolean {
  const n = name.toLowerCase();
  const p = pattern.toLowerCase();
  if (!hasWildcard(p)) return n === p;
  const memo = new Map<string, boolean>();
  const go = (i: number, j: number): boolean => {
    const k = `${i},${j}`;
    const cached = memo.get(k);
    if (cached !== undefined) return cached;
    let r: boolean;
    if (j === p.length) r = i === n.length;
    else if (p[j] === '*') r = go(i, j + 1) || (i < n.length && go(i + 1, j));
    else r = i < n.length && (p[j] === '?' || p[j] === n[i]) && go(i + 1, j + 1);
    memo.set(k, r);
    return r;
  };
  return go(0, 0);
}

function hasWildcard(pattern: string): boolean {
  return pattern.includes('*') || pattern.includes('?');
}

/** A comma list matches when a positive pattern matches and no negated (`!`) one does. */
export function matchHostPatterns(name: string, patterns: readonly string[]): boolean {
  let positive = false;
  for (const pat of patterns) {
    if (pat.startsWith('!')) {
      if (matchWildcard(name, pat.slice(1))) return false;
    } else if (matchWildcard(name, pat)) {
      positive = true;
    }
  }
  return positive;
}

function entryMatchesName(entry: KnownHostEntry, name: string): boolean {
  if (entry.hashed) {
    const h = createHmac('sha1', entry.hashed.salt).update(name).digest();
    return h.length === entry.hashed.hash.length && timingSafeEqual(h, entry.hashed.hash);
  }
  return matchHostPatterns(name, entry.patterns);
}

function parseHashed(field: string): { salt: Buffer; hash: Buffer } | undefined {
  const parts = field.split('|');
  // ['', '1', salt, hash]
  if (parts.length !== 4 || parts[1] !== '1') return undefined;
  const salt = Buffer.from(parts[2] ?? '', 'base64');
  const hash = Buffer.from(parts[3] ?? '', 'base64');
  if (salt.length === 0 || hash.length !== 20) return undefined;
  return { salt, hash };
}

export interface ParsedKnownHosts {
  entries: KnownHostEntry[];
  /** Lines skipped or ignored, with why (shown once per run, not per host). */
  notes: string[];
}

/** Parse known_hosts text. Malformed lines are skipped with a note, as OpenSSH does. */
export function parseKnownHosts(text: string, file = 'known_hosts'): ParsedKnownHosts {
  const entries: KnownHostEntry[] = [];
  const notes: string[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, idx) => {
    const lineNo = idx + 1;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const fields = line.split(/\s+/);
    let marker: KnownHostEntry['marker'];
    if (fields[0]?.startsWith('@')) {
      const m = fields.shift();
      if (m === '@revoked') marker = 'revoked';
      else if (m === '@cert-authority') marker = 'cert-authority';
      else {
        notes.push(`${file}:${lineNo}: unknown marker ${m}, line ignored`);
        return;
      }
    }
    const [hostField, keyType, keyB64] = fields;
    if (!hostField || !keyType || !keyB64) {
      notes.push(`${file}:${lineNo}: malformed line ignored`);
      return;
    }
    const key = Buffer.from(keyB64, 'base64');
    if (key.length === 0 || keyTypeOfBlob(key) !== keyType) {
      notes.push(`${file}:${lineNo}: key does not decode as ${keyType}, line ignored`);
      return;
    }
    if (marker === 'cert-authority') {
      notes.push(`${file}:${lineNo}: @cert-authority line ignored (host certificates are not supported)`);
      return;
    }
    const entry: KnownHostEntry = { line: lineNo, patterns: [], keyType, key };
    if (marker) entry.marker = marker;
    if (hostField.startsWith('|')) {
      const hashed = parseHashed(hostField);
      if (!hashed) {
        notes.push(`${file}:${lineNo}: unsupported hashed host field, line ignored`);
        return;
      }
      entry.hashed = hashed;
    } else {
      entry.patterns = hostField.split(',').filter((p) => p !== '');
    }
    entries.push(entry);
  });
  return { entries, notes };
}

/** Pure decision: what the file says about this host and this key. Revoked wins over everything. */
export function lookupHostKey(entries: readonly KnownHostEntry[], host: string, port: number, key: Buffer): HostKeyLookup {
  const name = knownHostsName(host, port);
  const revoked = entries.find((e) => e.marker === 'revoked' && e.key.equals(key) && entryMatchesName(e, name));
  if (revoked) return { status: 'revoked', entry: revoked };
  const known = entries.filter((e) => e.marker === undefined && entryMatchesName(e, name));
  const same = known.find((e) => e.key.equals(key));
  if (same) return { status: 'match', entry: same };
  if (known.length > 0) return { status: 'changed', known };
  return { status: 'unknown' };
}

export interface KnownHostsOptions {
  logger?: TransportLogger;
  /** Write new entries hashed (`HashKnownHosts yes`). Default false. */
  hashNewEntries?: boolean;
}

const consoleLogger: TransportLogger = { warn: (m) => console.warn(`fleetmend: ${m}`) };

/**
 * The entries that can match a name, in file order. Entries whose patterns are all literal names
 * are indexed by name; only hashed, wildcard and negated entries are tried one by one. Without
 * the index every connection scanned the whole file: O(hosts x lines) per run (2.7 s of CPU for a
 * 1,000-host sweep with a 1,000-line file). Matching itself stays in lookupHostKey.
 */
class EntryIndex {
  private readonly byName = new Map<string, number[]>();
  private readonly scanned: number[] = [];
  private readonly memo = new Map<string, KnownHostEntry[]>();

  constructor(private readonly entries: readonly KnownHostEntry[]) {
    entries.forEach((e, i) => this.add(e, i));
  }

  add(entry: KnownHostEntry, ordinal: number): void {
    this.memo.clear();
    const literal = !entry.hashed && entry.patterns.every((p) => !p.startsWith('!') && !hasWildcard(p));
    if (!literal) {
      this.scanned.push(ordinal);
      return;
    }
    for (const name of new Set(entry.patterns.map((p) => p.toLowerCase()))) {
      const list = this.byName.get(name);
      if (list) list.push(ordinal);
      else this.byName.set(name, [ordinal]);
    }
  }

  /** Entries naming `name` (known_hosts form), file order; cached until the next add. */
  candidates(name: string): KnownHostEntry[] {
    const hit = this.memo.get(name);
    if (hit) return hit;
    const ordinals = [...(this.byName.get(name.toLowerCase()) ?? []), ...this.scanned].sort((a, b) => a - b);
    const found = ordinals.map((i) => this.entries[i] as KnownHostEntry).filter((e) => entryMatchesName(e, name));
    this.memo.set(name, found);
    return found;
  }
}

/** One known_hosts file, loaded once per run, shared by all transports. */
export class KnownHosts {
  readonly file: string;
  private readonly entries: KnownHostEntry[];
  private readonly index: EntryIndex;
  readonly notes: readonly string[];
  private readonly logger: TransportLogger;
  private readonly hashNew: boolean;
  private writes: Promise<void> = Promise.resolve();
  private warnedOff = false;

  constructor(file: string, parsed: ParsedKnownHosts, opts: KnownHostsOptions = {}) {
    this.file = file;
    this.entries = [...parsed.entries];
    this.index = new EntryIndex(this.entries);
    this.notes = parsed.notes;
    this.logger = opts.logger ?? consoleLogger;
    this.hashNew = opts.hashNewEntries ?? false;
    for (const n of parsed.notes) this.logger.debug?.(n);
    const ca = parsed.notes.filter((n) => n.includes('@cert-authority')).length;
    if (ca > 0) this.logger.warn(`${file}: ${ca} @cert-authority line(s) ignored; host certificates are not supported`);
  }

  /** Read the file (a missing file is an empty list; accept-new creates it). */
  static async load(file: string, opts: KnownHostsOptions = {}): Promise<KnownHosts> {
    let text = '';
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    return new KnownHosts(file, parseKnownHosts(text, file), opts);
  }

  lookup(host: string, port: number, key: Buffer): HostKeyLookup {
    return lookupHostKey(this.index.candidates(knownHostsName(host, port)), host, port, key);
  }

  /** Key types recorded for this host: the client offers only these, so a mismatch means "changed". */
  knownKeyTypes(host: string, port: number): string[] {
    const types = this.index.candidates(knownHostsName(host, port)).filter((e) => e.marker === undefined).map((e) => e.keyType);
    return [...new Set(types)];
  }

  /** Apply the policy; resolves when the key may be used, throws a FleetmendError otherwise. */
  async verify(req: VerifyRequest): Promise<void> {
    const who = req.displayName ?? req.host;
    const where = knownHostsName(req.host, req.port);
    const offered = `${keyTypeOfBlob(req.key)} ${fingerprintSha256(req.key)}`;
    const result = this.lookup(req.host, req.port, req.key);
    if (req.policy === 'off') {
      if (!this.warnedOff) {
        this.warnedOff = true;
        this.logger.warn('host key checking is OFF: connections are open to man-in-the-middle attacks');
      }
      return;
    }
    switch (result.status) {
      case 'match':
        return;
      case 'revoked':
        throw new FleetmendError('E_HOSTKEY_REVOKED', `host key for ${where} is REVOKED (${this.file}:${result.entry.line}): server offered ${offered}; refusing to connect`, { host: who, details: { fingerprint: fingerprintSha256(req.key) } });
      case 'changed': {
        const knownFps = result.known.map((e) => `${e.keyType} ${fingerprintSha256(e.key)} (${this.file}:${e.line})`);
        throw new FleetmendError(
          'E_HOSTKEY_CHANGED',
          `HOST KEY CHANGED for ${where}: known ${knownFps.join(', ')}; server offered ${offered}. ` +
            `Someone could be eavesdropping (man-in-the-middle), or the host was reinstalled; if expected, remove the old key with ssh-keygen -R '${where}' -f ${this.file}`,
          { host: who, details: { known: result.known.map((e) => fingerprintSha256(e.key)), offered: fingerprintSha256(req.key) } },
        );
      }
      case 'unknown':
        if (req.policy === 'accept-new') {
          await this.append(req.host, req.port, req.key);
          return;
        }
        throw new FleetmendError(
          'E_HOSTKEY_UNKNOWN',
          `host key for ${where} is not in ${this.file}; server offered ${offered}. Verify it and add it, or run with --host-key-checking accept-new`,
          { host: who, details: { offered: fingerprintSha256(req.key) } },
        );
    }
  }

  /**
   * accept-new: record the key. Appends are serialized in-process (one writer at a time), and the
   * lookup is repeated inside the critical section so two concurrent connections to the same new
   * host write one line, and a different key arriving second is refused as changed.
   */
  private append(host: string, port: number, key: Buffer): Promise<void> {
    const task = async (): Promise<void> => {
      const again = this.lookup(host, port, key);
      if (again.status === 'match') return;
      if (again.status !== 'unknown') return this.verify({ host, port, key, policy: 'strict' });
      const name = knownHostsName(host, port);
      const field = this.hashNew ? hashHostName(name) : name;
      const keyType = keyTypeOfBlob(key);
      await mkdir(dirname(this.file), { recursive: true, mode: 0o700 });
      const prefix = await this.needsLeadingNewline();
      await appendFile(this.file, `${prefix}${field} ${keyType} ${key.toString('base64')}\n`, { mode: 0o600, flag: 'a' });
      const entry: KnownHostEntry = { line: 0, patterns: this.hashNew ? [] : [name], keyType, key };
      if (this.hashNew) entry.hashed = parseHashed(field)!;
      this.entries.push(entry);
      this.index.add(entry, this.entries.length - 1);
      this.logger.warn(`permanently added ${name} (${keyType} ${fingerprintSha256(key)}) to ${this.file}`);
    };
    const run = this.writes.then(task, task);
    this.writes = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async needsLeadingNewline(): Promise<string> {
    try {
      const text = await readFile(this.file);
      return text.length > 0 && text[text.length - 1] !== 0x0a ? '\n' : '';
    } catch {
      return '';
    }
  }
}

/** known_hosts files by path, each loaded once per run (ssh config may name a different file per host). */
export class KnownHostsCache {
  private readonly files = new Map<string, Promise<KnownHosts>>();
  constructor(private readonly opts: KnownHostsOptions = {}) {}

  get(file: string): Promise<KnownHosts> {
    let p = this.files.get(file);
    if (!p) {
      p = KnownHosts.load(file, this.opts);
      this.files.set(file, p);
    }
    return p;
  }
}
