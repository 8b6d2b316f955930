/**
 * Handlebars templates from `templates/`, compiled once per run. Every report is rendered from
 * them; the code here only registers helpers, finds files and maps errors to E_TEMPLATE.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Handlebars from 'handlebars';
import { FleetmendError } from '../errors.js';
import { cdata, escapeMarkdown, escapeXml, htmlWithCode, markdownBlock, markdownCode, markdownWithCode, safeJson, showControls } from './escape.js';
import { humanNumber } from './numbers.js';
import { foldHosts } from './hostset.js';

import { EXTENSIONS, FORMATS, type ReportFormat } from './formats.js';

export { EXTENSIONS, FORMATS, type ReportFormat };

/**
 * The parts of a report, in output order. `once` parts get the fleet view; `each` parts are
 * rendered per host and written to the stream one by one (10,000 hosts never make one string).
 */
export const LAYOUT: Record<ReportFormat, { part: string; each: boolean }[]> = {
  md: [
    { part: 'header', each: false },
    { part: 'row', each: true },
    { part: 'middle', each: false },
    { part: 'host', each: true },
    { part: 'footer', each: false },
  ],
  html: [
    { part: 'header', each: false },
    { part: 'row', each: true },
    { part: 'middle', each: false },
    { part: 'host', each: true },
    { part: 'footer', each: false },
  ],
  json: [
    { part: 'header', each: false },
    { part: 'host', each: true },
    { part: 'footer', each: false },
  ],
  junit: [
    { part: 'header', each: false },
    { part: 'host', each: true },
    { part: 'footer', each: false },
  ],
};

type Compiled = (context: unknown) => string;

export interface Renderer {
  /** `md.header`, `html.host`, … → compiled template. */
  readonly templates: ReadonlyMap<string, Compiled>;
  /** Where each template and partial came from (built-in or --template-dir). */
  readonly sources: ReadonlyMap<string, string>;
  /** sha256 CSP source of the HTML report's inline script. */
  readonly scriptHash: string;
  render(name: string, context: unknown): string;
}

/** An error inside a template, carrying the file and line it happened at. */
class TemplateFault extends Error {
  constructor(
    message: string,
    readonly line?: number,
    readonly column?: number,
    public file?: string,
  ) {
    super(message);
  }
}

/** The built-in `templates/` directory: found upward from this file (src/ or dist/src/). */
export function builtinTemplateDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'templates');
    if (existsSync(join(candidate, 'md.header.hbs'))) return candidate;
    dir = dirname(dir);
  }
  throw new FleetmendError('E_TEMPLATE', 'built-in templates directory not found', { position: { file: 'templates/' } });
}

function listHbs(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.hbs')).sort() : [];
}

/** Templates are `<format>.<part>.hbs`; partials are `partials/<name>.hbs`. */
function collectSources(builtin: string, override?: string): { templates: Map<string, string>; partials: Map<string, string> } {
  const pick = (file: string, sub: string): string => {
    if (override) {
      for (const p of [join(override, file), join(override, sub, file)]) if (existsSync(p)) return p;
    }
    return join(builtin, sub, file);
  };
  const templates = new Map<string, string>();
  for (const f of listHbs(builtin)) templates.set(basename(f, '.hbs'), pick(f, ''));
  const partials = new Map<string, string>();
  for (const f of listHbs(join(builtin, 'partials'))) partials.set(basename(f, '.hbs'), pick(f, 'partials'));
  // A template dir may add partials of its own (for its own overridden templates).
  if (override) for (const f of listHbs(join(override, 'partials'))) partials.set(basename(f, '.hbs'), join(override, 'partials', f));
  return { templates, partials };
}

function lineOf(err: unknown): { line?: number; column?: number } {
  const e = err as { lineNumber?: unknown; column?: unknown; message?: unknown };
  if (typeof e.lineNumber === 'number') return { line: e.lineNumber, ...(typeof e.column === 'number' ? { column: e.column + 1 } : {}) };
  const m = /line (\d+)/.exec(String(e.message ?? ''));
  return m ? { line: Number(m[1]) } : {};
}

/**
 * Handlebars' parse errors name the line only in their text; its (jison) parser knows where the
 * offending token starts. Parse again with a parser object of our own that keeps that location.
 */
function parseErrorAt(src: string): { line: number; column: number } | undefined {
  type Loc = { last_line: number; last_column: number };
  const base = (Handlebars as unknown as { Parser?: object }).Parser;
  if (!base) return undefined;
  const parser = Object.create(base) as { parse(text: string): unknown; parseError(msg: string, hash: { loc?: Loc }): never };
  let loc: Loc | undefined;
  parser.parseError = (msg, hash) => {
    loc = hash.loc;
    throw new Error(msg);
  };
  try {
    parser.parse(src);
  } catch {
    // expected: the location was kept
  }
  return loc ? { line: loc.last_line, column: loc.last_column + 1 } : undefined;
}

function toFault(err: unknown, file: string): TemplateFault {
  if (err instanceof TemplateFault) {
    if (err.file === undefined) err.file = file;
    return err;
  }
  const { line, column } = lineOf(err);
  const msg = err instanceof Error ? err.message : String(err);
  return new TemplateFault(msg, line, column, file);
}

function templateError(fault: TemplateFault, phase: 'compile' | 'render'): FleetmendError {
  const lines = fault.message.split('\n');
  // a parse error's last line says what was expected and what came instead
  const expecting = lines.length > 1 && lines[lines.length - 1]!.startsWith('Expecting') ? ` ${lines[lines.length - 1]}` : '';
  const first = (lines[0] ?? fault.message) + expecting;
  return new FleetmendError('E_TEMPLATE', `template ${phase} error: ${first}`, {
    position: {
      file: fault.file ?? '<template>',
      ...(fault.line !== undefined ? { line: fault.line } : {}),
      ...(fault.column !== undefined ? { column: fault.column } : {}),
    },
    cause: fault,
  });
}

type HelperOptions = Handlebars.HelperOptions & { loc?: { start: { line: number; column: number } }; name?: string };

/** Helpers escape by format; each returns a SafeString so `{{md x}}` is not HTML-escaped twice. */
function helpers(): Record<string, (...args: unknown[]) => unknown> {
  const safe = (s: string) => new Handlebars.SafeString(s);
  const str = (v: unknown): string => (v === undefined || v === null ? '' : String(v));
  const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(str) : v === undefined || v === null ? [] : [str(v)]);
  return {
    md: (v) => safe(escapeMarkdown(str(v))),
    mdcode: (v) => safe(markdownCode(str(v))),
    /** Markdown text with its `backtick spans` as code (recommended actions). */
    mdwithcode: (v) => safe(markdownWithCode(str(v))),
    /** HTML text with its `backtick spans` as <code>, everything else escaped. */
    withcode: (v) => safe(htmlWithCode(str(v))),
    mdblock: (v, lang) => safe(markdownBlock(list(v), typeof lang === 'string' ? lang : '')),
    xml: (v) => safe(escapeXml(str(v))),
    cdata: (v) => safe(cdata(str(v))),
    json: (v) => safe(safeJson(v === undefined ? null : v)),
    /** Plain text for HTML: control characters shown (`\x1b`); Handlebars escapes the rest. */
    text: (v) => showControls(str(v)),
    hostset: (v) => foldHosts(list(v)),
    /**
     * A folded host list for HTML: each comma-separated piece an unbreakable span (a range such
     * as `n[00001-00007` has a hyphen the browser would break after), a break opportunity
     * (<wbr>) between pieces: 2,000 names wrap between names inside their cell.
     */
    hostlist: (v) =>
      safe(showControls(str(v)).split(/(?<=,)/).map((p) => `<span>${Handlebars.escapeExpression(p)}</span>`).join('<wbr>')),
    eq: (a, b) => a === b,
    ne: (a, b) => a !== b,
    gt: (a, b) => Number(a) > Number(b),
    not: (a) => !a,
    or: (...args) => args.slice(0, -1).some(Boolean),
    and: (...args) => args.slice(0, -1).every(Boolean),
    size: (v) => (Array.isArray(v) ? v.length : 0),
    join: (v, sep) => list(v).join(typeof sep === 'string' ? sep : ', '),
    default: (v, d) => (v === undefined || v === null || v === '' ? d : v),
    /** Numbers for people: rounded (numbers.ts); JSON keeps the raw values. */
    num: (v) => (typeof v === 'number' && Number.isFinite(v) ? humanNumber(v) : '–'),
    signed: (v) => (typeof v === 'number' ? (v > 0 ? `+${humanNumber(v)}` : humanNumber(v)) : '–'),
    pct: (a, b) => (typeof a === 'number' && typeof b === 'number' && b > 0 ? `${Math.round((a / b) * 100)}%` : '–'),
    add: (a, b) => Number(a) + Number(b),
    upper: (v) => str(v).toUpperCase(),
    trunc: (v, n) => {
      const s = showControls(str(v));
      const max = typeof n === 'number' ? n : 40;
      return s.length > max ? `${s.slice(0, max - 1)}…` : s;
    },
  };
}

/** A helper error becomes a TemplateFault at the line of the mustache that called it. */
function guarded(fn: (...args: unknown[]) => unknown): (...args: unknown[]) => unknown {
  return function (this: unknown, ...args: unknown[]) {
    try {
      return fn.apply(this, args);
    } catch (err) {
      if (err instanceof TemplateFault) throw err;
      const opts = args[args.length - 1] as HelperOptions | undefined;
      const loc = opts?.loc?.start;
      throw new TemplateFault(`helper "${opts?.name ?? '?'}": ${err instanceof Error ? err.message : String(err)}`, loc?.line, loc ? loc.column + 1 : undefined);
    }
  };
}

/**
 * Compile every template and partial once. `templateDir` (the CLI's --template-dir) overrides any
 * of them by file name: `DIR/html.host.hbs`, `DIR/html-style.hbs` or `DIR/partials/html-style.hbs`.
 */
export function createRenderer(opts: { templateDir?: string } = {}): Renderer {
  const env = Handlebars.create();
  // Built-ins too (#if without argument, a missing helper…), so every error gets its line.
  const all = { ...(env.helpers as Record<string, (...args: unknown[]) => unknown>), ...helpers() };
  for (const [name, fn] of Object.entries(all)) env.registerHelper(name, guarded(fn));
  const { templates: tplFiles, partials: partialFiles } = collectSources(builtinTemplateDir(), opts.templateDir);
  const sources = new Map<string, string>();

  const compileFile = (file: string, noEscape: boolean): Compiled => {
    let compiled: HandlebarsTemplateDelegate;
    let src: string | undefined;
    try {
      src = readFileSync(file, 'utf8');
      const ast = env.parse(src);
      // precompile runs the whole compiler, so compiler errors surface now, not mid-report.
      env.precompile(ast, { noEscape });
      compiled = env.compile(ast, { noEscape, preventIndent: true });
    } catch (err) {
      const fault = toFault(err, file);
      const at = src !== undefined && fault.column === undefined ? parseErrorAt(src) : undefined;
      throw templateError(at ? new TemplateFault(fault.message, at.line, at.column, file) : fault, 'compile');
    }
    return (context: unknown, options?: unknown) => {
      try {
        return compiled(context, options as Handlebars.RuntimeOptions);
      } catch (err) {
        throw toFault(err, file);
      }
    };
  };

  // JSON templates only emit through the `json` helper; no HTML escaping belongs in them.
  const noEscapeFor = (name: string): boolean => name.startsWith('json');
  for (const [name, file] of partialFiles) {
    sources.set(`partials/${name}`, file);
    env.registerPartial(name, compileFile(file, noEscapeFor(name)) as unknown as Handlebars.Template);
  }
  const templates = new Map<string, Compiled>();
  for (const [name, file] of tplFiles) {
    sources.set(name, file);
    templates.set(name, compileFile(file, noEscapeFor(name)));
  }
  const render = (name: string, context: unknown): string => {
    const t = templates.get(name);
    if (!t) throw new FleetmendError('E_TEMPLATE', `no template "${name}"`, { position: { file: `${name}.hbs` } });
    try {
      return t(context);
    } catch (err) {
      throw templateError(err instanceof TemplateFault ? err : toFault(err, sources.get(name) ?? name), 'render');
    }
  };
  const scriptHash = cspHash(env);
  return { templates, sources, scriptHash, render };
}

/** The inline script is static; its hash lets the report's CSP forbid every other script. */
function cspHash(env: typeof Handlebars): string {
  const partial = env.partials['html-script'] as unknown as Compiled | undefined;
  const body = partial ? partial({}) : '';
  return `sha256-${createHash('sha256').update(body, 'utf8').digest('base64')}`;
}
