/**
 * Server-side rendering of serve's pages from templates/serve/*.hbs, with Handlebars' escaping
 * ({{x}} escapes & < > " ' ` =): every value that came from a host (names, finding text, facts)
 * reaches the page as text. Strings are also passed through showControlsDeep, so a control
 * character in a host name shows as `\x1b`, never as itself.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import Handlebars from 'handlebars';
import { builtinTemplateDir } from '../report/renderer.js';
import { showControlsDeep } from '../report/escape.js';
import { humanNumber } from '../report/numbers.js';

export interface PageRenderer {
  page(name: string, title: string, view: object): string;
  /** The static files (/static/NAME): the page script and stylesheet. */
  readonly assets: ReadonlyMap<string, { type: string; body: Buffer }>;
}

const TYPES: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };

function helpers(env: typeof Handlebars): void {
  env.registerHelper('hostUrl', (h: unknown) => `/host/${encodeURIComponent(String(h))}`);
  env.registerHelper('runUrl', (r: unknown) => `/run/${encodeURIComponent(String(r))}`);
  env.registerHelper('eq', (a: unknown, b: unknown) => a === b);
  env.registerHelper('num', (v: unknown) => (typeof v === 'number' ? humanNumber(v) : '–'));
  env.registerHelper('yesno', (v: unknown) => (v === 1 ? 'yes' : v === 0 ? 'no' : '–'));
  env.registerHelper('join', (v: unknown) => (Array.isArray(v) ? v.join(', ') : ''));
  env.registerHelper('short', (v: unknown) => String(v ?? '').replace('T', ' ').replace(/\.\d+Z$/, 'Z'));
}

export function createPageRenderer(templateDir = join(builtinTemplateDir(), 'serve')): PageRenderer {
  const env = Handlebars.create();
  helpers(env);
  const templates = new Map<string, HandlebarsTemplateDelegate>();
  const assets = new Map<string, { type: string; body: Buffer }>();
  for (const f of readdirSync(templateDir)) {
    const path = join(templateDir, f);
    if (f.endsWith('.hbs')) {
      const name = basename(f, '.hbs');
      const src = readFileSync(path, 'utf8');
      if (name.startsWith('_')) env.registerPartial(name.slice(1), src);
      else templates.set(name, env.compile(src, { strict: false }));
    } else {
      const ext = f.slice(f.lastIndexOf('.'));
      if (TYPES[ext]) assets.set(f, { type: TYPES[ext]!, body: readFileSync(path) });
    }
  }
  const layout = templates.get('layout')!;
  // Handlebars compiles on first use: once here, so the first visitor does not wait for it
  for (const t of templates.values()) t({});
  return {
    assets,
    page(name, title, view) {
      const body = templates.get(name)!(showControlsDeep(view));
      return layout({ title: showControlsDeep(title), body, page: name });
    },
  };
}
