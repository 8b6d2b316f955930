/**
 * The simulated machine's filesystem: plain files (mutable through the shell: `>`, `tee`,
 * `cp`, `mv`, `rm`) and dynamic files whose content is computed on read from the model
 * (/proc/*, /var/log/messages). Paths are absolute and normalised; no symlinks.
 */
export type FileProvider = () => string;

export interface FsEntryInfo {
  kind: 'file' | 'dir';
  /** Only root may read it (e.g. /var/log/messages on RHEL). */
  rootOnly: boolean;
}

/** Permission bits and ownership (what `stat -c '%a %U %G'` prints); files 0644, dirs 0755 by default. */
export interface FsMeta {
  mode: number;
  owner: string;
  group: string;
}

export class FsError extends Error {
  constructor(
    readonly errno: 'ENOENT' | 'EACCES' | 'EISDIR' | 'ENOTDIR' | 'EROFS' | 'EPERM',
    readonly path: string,
  ) {
    super(`${path}: ${FsError.text(errno)}`);
  }
  static text(errno: FsError['errno']): string {
    switch (errno) {
      case 'ENOENT':
        return 'No such file or directory';
      case 'EACCES':
        return 'Permission denied';
      case 'EISDIR':
        return 'Is a directory';
      case 'ENOTDIR':
        return 'Not a directory';
      case 'EROFS':
        return 'Read-only file system';
      case 'EPERM':
        return 'Operation not permitted';
    }
  }
  get description(): string {
    return FsError.text(this.errno);
  }
}

export function normalizePath(path: string, cwd = '/'): string {
  const abs = path.startsWith('/') ? path : `${cwd.replace(/\/$/, '')}/${path}`;
  const parts: string[] = [];
  for (const p of abs.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') parts.pop();
    else parts.push(p);
  }
  return '/' + parts.join('/');
}

function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

export class VirtualFs {
  private readonly files = new Map<string, string>();
  private readonly dynamic = new Map<string, FileProvider>();
  private readonly dirs = new Set<string>(['/']);
  private readonly rootOnly = new Set<string>();
  /** Directories whose files the model lists at read time (`/proc` → `1/comm`, `213/wchan`…). */
  private readonly trees = new Map<string, () => Record<string, string>>();
  /** Mode and owner where they differ from the defaults (root:root, 0644 / 0755). */
  private readonly metas = new Map<string, FsMeta>();

  /** Mode and owner of an existing path (a rename carries them along, as rename(2) does). */
  meta(path: string): FsMeta | null {
    const p = normalizePath(path);
    const st = this.stat(p);
    if (!st) return null;
    return this.metas.get(p) ?? { mode: st.kind === 'dir' ? 0o755 : st.rootOnly ? 0o600 : 0o644, owner: 'root', group: 'root' };
  }

  /** chmod/chown: only root may change what it does not own (sim users own nothing outside home and /tmp). */
  setMeta(path: string, change: Partial<FsMeta>, asRoot: boolean): void {
    const p = normalizePath(path);
    const cur = this.meta(p);
    if (!cur) throw new FsError('ENOENT', path);
    if (this.dynamic.has(p) || (!asRoot && !isUserWritable(p))) throw new FsError('EPERM', path);
    // chown(2): only root gives a file away; an owner may "change" it to what it is
    if (!asRoot && ((change.owner !== undefined && change.owner !== cur.owner) || (change.group !== undefined && change.group !== cur.group))) throw new FsError('EPERM', path);
    this.metas.set(p, { ...cur, ...change });
  }

  /** rename(2) of a regular file: content, mode and owner move; the old name is gone. */
  rename(from: string, to: string, asRoot: boolean): void {
    const f = normalizePath(from);
    const t = normalizePath(to);
    const content = this.read(f, asRoot);
    const meta = this.meta(f);
    this.write(t, content, { append: false, asRoot });
    this.remove(f, asRoot);
    this.metas.delete(t);
    if (meta) this.metas.set(t, meta);
    if (this.rootOnly.has(f)) this.rootOnly.add(t);
  }

  /** `rm -r`: a directory and everything under it (root only outside the writable trees). */
  removeTree(path: string, asRoot: boolean): void {
    const p = normalizePath(path);
    if (!this.dirs.has(p)) return this.remove(p, asRoot);
    if (!asRoot && !isUserWritable(p)) throw new FsError('EACCES', path);
    const under = (k: string) => k === p || k.startsWith(`${p}/`);
    for (const k of [...this.files.keys()].filter(under)) this.files.delete(k);
    for (const k of [...this.dirs].filter(under)) this.dirs.delete(k);
    for (const k of [...this.metas.keys()].filter(under)) this.metas.delete(k);
  }

  /** Files under `dir`, computed on every access (relative paths); read-only to the shell. */
  provideTree(dir: string, files: () => Record<string, string>): void {
    const d = normalizePath(dir);
    this.mkdirp(d);
    this.trees.set(d, files);
  }

  /** What a tree says about a path: its content, 'dir', or undefined. */
  private inTree(p: string): string | 'dir' | undefined {
    for (const [d, files] of this.trees) {
      if (!p.startsWith(`${d}/`)) continue;
      const rel = p.slice(d.length + 1);
      const all = files();
      if (rel in all) return all[rel];
      if (Object.keys(all).some((k) => k.startsWith(`${rel}/`))) return 'dir';
    }
    return undefined;
  }

  /** Writes a regular file, creating parent directories (setup use, not the shell's). */
  put(path: string, content: string, opts: { rootOnly?: boolean } = {}): void {
    const p = normalizePath(path);
    this.mkdirp(parentOf(p));
    this.files.set(p, content);
    if (opts.rootOnly) this.rootOnly.add(p);
  }

  /** A file whose content the model computes at read time; read-only to the shell. */
  provide(path: string, provider: FileProvider, opts: { rootOnly?: boolean } = {}): void {
    const p = normalizePath(path);
    this.mkdirp(parentOf(p));
    this.dynamic.set(p, provider);
    if (opts.rootOnly) this.rootOnly.add(p);
  }

  mkdirp(path: string): void {
    let p = normalizePath(path);
    while (!this.dirs.has(p)) {
      this.dirs.add(p);
      p = parentOf(p);
    }
  }

  stat(path: string): FsEntryInfo | null {
    const p = normalizePath(path);
    if (this.dirs.has(p)) return { kind: 'dir', rootOnly: false };
    if (this.files.has(p) || this.dynamic.has(p)) return { kind: 'file', rootOnly: this.rootOnly.has(p) };
    const t = this.inTree(p);
    if (t !== undefined) return { kind: t === 'dir' ? 'dir' : 'file', rootOnly: false };
    return null;
  }

  read(path: string, asRoot: boolean): string {
    const p = normalizePath(path);
    if (this.dirs.has(p)) throw new FsError('EISDIR', path);
    const dyn = this.dynamic.get(p);
    const content = dyn ? dyn() : (this.files.get(p) ?? this.inTree(p));
    if (content === 'dir') throw new FsError('EISDIR', path);
    if (content === undefined) throw new FsError('ENOENT', path);
    if (!asRoot && this.rootOnly.has(p)) throw new FsError('EACCES', path);
    return content;
  }

  /** Shell writes: only root writes outside /tmp and the home directories. */
  write(path: string, content: string, opts: { append: boolean; asRoot: boolean; owner?: string }): void {
    const p = normalizePath(path);
    const isNew = !this.files.has(p);
    if (this.dirs.has(p)) throw new FsError('EISDIR', path);
    if (this.dynamic.has(p)) throw new FsError(p.startsWith('/proc/') ? 'EACCES' : 'EACCES', path);
    if (!this.dirs.has(parentOf(p))) throw new FsError('ENOENT', path);
    if (!opts.asRoot && !isUserWritable(p)) throw new FsError('EACCES', path);
    const prev = opts.append ? (this.files.get(p) ?? '') : '';
    this.files.set(p, prev + content);
    // a new file belongs to its creator (open(2) with O_CREAT)
    if (isNew && opts.owner && opts.owner !== 'root') this.metas.set(p, { mode: 0o644, owner: opts.owner, group: opts.owner });
  }

  remove(path: string, asRoot: boolean): void {
    const p = normalizePath(path);
    if (this.dirs.has(p)) throw new FsError('EISDIR', path);
    if (!this.files.has(p) && !this.dynamic.has(p)) throw new FsError('ENOENT', path);
    if (this.dynamic.has(p) || (!asRoot && !isUserWritable(p))) throw new FsError('EACCES', path);
    this.files.delete(p);
    this.rootOnly.delete(p);
    this.metas.delete(p);
  }

  makeDir(path: string, asRoot: boolean, parents: boolean): void {
    const p = normalizePath(path);
    if (this.dirs.has(p)) {
      if (parents) return;
      throw new FsError('EISDIR', path);
    }
    if (!asRoot && !isUserWritable(p)) throw new FsError('EACCES', path);
    if (!parents && !this.dirs.has(parentOf(p))) throw new FsError('ENOENT', path);
    this.mkdirp(p);
  }

  /** Entries directly inside a directory (names only), sorted like `ls`/glob (C locale). */
  list(dir: string): string[] {
    const d = normalizePath(dir);
    const prefix = d === '/' ? '/' : `${d}/`;
    const out = new Set<string>();
    const consider = (p: string) => {
      if (p !== d && p.startsWith(prefix) && !p.slice(prefix.length).includes('/')) out.add(p.slice(prefix.length));
    };
    for (const p of this.files.keys()) consider(p);
    for (const p of this.dynamic.keys()) consider(p);
    for (const p of this.dirs) consider(p);
    for (const [t, files] of this.trees) {
      if (d !== t && !d.startsWith(`${t}/`)) continue;
      const rel = d === t ? '' : d.slice(t.length + 1);
      for (const k of Object.keys(files())) {
        if (rel && !k.startsWith(`${rel}/`)) continue;
        const name = (rel ? k.slice(rel.length + 1) : k).split('/')[0];
        if (name) out.add(name);
      }
    }
    return [...out].sort();
  }
}

function isUserWritable(p: string): boolean {
  return p.startsWith('/tmp/') || p.startsWith('/home/') || p.startsWith('/var/tmp/');
}
