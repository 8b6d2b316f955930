import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { join, resolve, sep } from 'node:path';
import { FleetmendError } from '../errors.js';
import { checkOwnedDir, ensurePrivateDir, openFileReplacing, type ReplacingFile } from '../util/fsafe.js';
import type { HostHistoryRow, StoredRun } from '../store/index.js';
import { showControlsDeep } from './escape.js';
import { EXTENSIONS, LAYOUT, createRenderer } from './renderer.js';
import type { Renderer, ReportFormat } from './renderer.js';
import { fleetView, hostView, prepareHosts, reportDataFromStored } from './view.js';
import type { ReportData } from './view.js';

/** Writes go out in chunks of about this size: few syscalls, never one giant string. */
const CHUNK = 64 * 1024;

class ChunkedWriter {
  private buf: string[] = [];
  private size = 0;
  constructor(private readonly out: NodeJS.WritableStream) {}

  async write(s: string): Promise<void> {
    this.buf.push(s);
    this.size += s.length;
    if (this.size >= CHUNK) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.size === 0) return;
    const chunk = this.buf.join('');
    this.buf = [];
    this.size = 0;
    if (!this.out.write(chunk)) await once(this.out, 'drain');
  }
}

/**
 * Render one report. Header and footer see the fleet view; each host is rendered on its own and
 * written as it is produced. A Writable is left open (it may be stdout); a path is replaced by a
 * new 0600 file (util/fsafe: a planted symlink there is replaced, its target never touched), and
 * only once the whole report is written.
 */
export async function renderReport(renderer: Renderer, data: ReportData, format: ReportFormat, out: NodeJS.WritableStream | string): Promise<void> {
  const hosts = prepareHosts(data);
  // JSON keeps the host's values (safeJson \u-escapes them); the formats for people get views
  // whose strings show their control characters, whatever the template does with them
  const shown = format === 'json' ? <T>(v: T): T => v : showControlsDeep;
  const fleet = shown({ ...fleetView(data, hosts), script_hash: renderer.scriptHash });
  const file: ReplacingFile | undefined = typeof out === 'string' ? openFileReplacing(out) : undefined;
  const writer = new ChunkedWriter(file ? file.stream : (out as NodeJS.WritableStream));
  let ok = false;
  try {
    for (const { part, each } of LAYOUT[format]) {
      const name = `${format}.${part}`;
      if (!renderer.templates.has(name)) continue;
      if (!each) {
        await writer.write(renderer.render(name, { fleet }));
        continue;
      }
      for (let i = 0; i < hosts.length; i++) {
        const h = hosts[i]!;
        const view = hostView(h, i, data.history?.[h.host]);
        await writer.write(renderer.render(name, { fleet, host: shown(view), raw: shown(h), first: i === 0, last: i === hosts.length - 1, single: hosts.length === 1 }));
      }
    }
    await writer.flush();
    ok = true;
  } finally {
    if (file && ok) await file.commit();
    else file?.discard();
  }
}

/**
 * A file name for a host (or run id) that stays inside its directory whatever the name holds:
 * only [A-Za-z0-9._-], no leading dot, bounded length; a hash suffix keeps altered names unique.
 */
export function safeFileName(name: string): string {
  let base = name.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^[.]+/, '_').slice(0, 80);
  if (base === '') base = '_';
  if (base !== name) base = `${base}-${createHash('sha256').update(name).digest('hex').slice(0, 8)}`;
  return base;
}

function inside(dir: string, file: string): string {
  const full = resolve(dir, file);
  if (!full.startsWith(resolve(dir) + sep)) {
    throw new FleetmendError('E_INTERNAL', `refusing to write outside ${dir}: ${file}`);
  }
  return full;
}

export interface WriteReportsOptions {
  runStored: StoredRun;
  formats: readonly ReportFormat[];
  outDir: string;
  /** Also write `hosts/<safe-name>.<ext>` per host. */
  perHost?: boolean;
  history?: Record<string, HostHistoryRow[]>;
  /** A renderer to reuse (compiled once per run); else one is created from `templateDir`. */
  renderer?: Renderer;
  templateDir?: string;
  generated_at?: string;
}

/**
 * Refuse an output directory another user controls before any host is contacted (it need not
 * exist yet: it is created, 0700, when the reports are written).
 */
export function checkReportDir(outDir: string): void {
  checkOwnedDir(outDir, 'report directory', { rootOwnedOk: true });
}

function prepareReport(opts: Pick<WriteReportsOptions, 'runStored' | 'history' | 'renderer' | 'templateDir' | 'generated_at'>): { renderer: Renderer; data: ReportData } {
  const renderer = opts.renderer ?? createRenderer(opts.templateDir !== undefined ? { templateDir: opts.templateDir } : {});
  const data: ReportData = {
    ...reportDataFromStored(opts.runStored, opts.history),
    ...(opts.generated_at ? { generated_at: opts.generated_at } : {}),
  };
  return { renderer, data };
}

/** The run's report in one format on `out` (stdout for `report` without -o); `out` is left open. */
export async function printReport(opts: Omit<WriteReportsOptions, 'formats' | 'outDir' | 'perHost'> & { format: ReportFormat }, out: NodeJS.WritableStream): Promise<void> {
  const { renderer, data } = prepareReport(opts);
  await renderReport(renderer, data, opts.format, out);
}

/** Write `outDir/<run-id>/report.<ext>` (and per-host files); returns the paths written. */
export async function writeReports(opts: WriteReportsOptions): Promise<string[]> {
  const { renderer, data } = prepareReport(opts);
  const runDir = inside(opts.outDir, safeFileName(opts.runStored.run.id));
  // -o may name a shared directory (root's /tmp, a team's /srv/reports); the run directory
  // inside it, where the files go, must be our own
  ensurePrivateDir(opts.outDir, 'report directory', { rootOwnedOk: true });
  ensurePrivateDir(runDir, 'run report directory');
  const written: string[] = [];
  for (const format of opts.formats) {
    const file = join(runDir, `report.${EXTENSIONS[format]}`);
    await renderReport(renderer, data, format, file);
    written.push(file);
  }
  if (opts.perHost) {
    const hostsDir = join(runDir, 'hosts');
    ensurePrivateDir(hostsDir, 'per-host report directory');
    for (const h of opts.runStored.hosts) {
      const { summary: _fleetSummary, ...rest } = data;
      const single: ReportData = { ...rest, hosts: [h], pending: [] };
      for (const format of opts.formats) {
        const file = inside(hostsDir, `${safeFileName(h.host)}.${EXTENSIONS[format]}`);
        await renderReport(renderer, single, format, file);
        written.push(file);
      }
    }
  }
  return written;
}
