/**
 * Escapers for host-originated text, one per output format. Everything a host sends (its name,
 * command output, kernel lines) goes through one of these before it reaches a report. Control
 * characters (C0, DEL, C1, the bidi controls) are shown as the terminal shows them (`\x1b`,
 * `\x9b`, `\u202e`: util/terminal `escapeControls`, one definition), in JSON as `\uXXXX`.
 */
import { escapeControls, escapeJsonControls } from '../util/terminal.js';

/** What XML 1.0 forbids even as a reference and escapeControls leaves: lone surrogates, U+FFFE/F. */
const XML_INVALID = /[\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Control characters made visible (`\x1b`, `\u202e`); tabs and newlines kept. */
export function showControls(s: string): string {
  return escapeControls(s, { keepNewlines: true });
}

/**
 * Every string in a view (plain objects and arrays, copied) through showControls: what a
 * people-format template is given, so a plain `{{x}}` in it (an overridden template's too) cannot
 * emit a control character either.
 */
export function showControlsDeep<T>(v: T): T {
  if (typeof v === 'string') return showControls(v) as T;
  if (Array.isArray(v)) return v.map(showControlsDeep) as T;
  if (v === null || typeof v !== 'object') return v;
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto !== Object.prototype && proto !== null) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = showControlsDeep(x);
  return out as T;
}

export function escapeXml(s: string): string {
  return showControls(s)
    .replace(XML_INVALID, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** A CDATA section; `]]>` inside is split across two sections so it cannot close the first. */
export function cdata(s: string): string {
  return `<![CDATA[${showControls(s).replace(XML_INVALID, '\uFFFD').replace(/]]>/g, ']]]]><![CDATA[>')}]]>`;
}

/** Markdown inline text (also safe in a table cell): no markup, no raw HTML, no line breaks. */
export function escapeMarkdown(s: string): string {
  return showControls(s)
    .replace(/\r\n|\r|\n/g, ' ')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/[\\`*_[\]|~]/g, (c) => `\\${c}`);
}

/** A fence longer than any backtick run in the text, so the text cannot end the block early. */
function fenceFor(text: string, min: number): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((r) => r.length));
  return '`'.repeat(Math.max(min, longest + 1));
}

/** An inline code span (CommonMark: padded with spaces when the text starts/ends with a backtick). */
export function markdownCode(s: string): string {
  const text = showControls(s).replace(/\r\n|\r|\n/g, ' ').replace(/\|/g, '\\|');
  const fence = fenceFor(text, 1);
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}

/**
 * Text that marks commands the Markdown way, `like this`: the spans between single backticks are
 * code, the rest is text. Used for recommended actions (`systemctl restart auditd`). Both parts
 * are escaped for their context, so host data inside either stays inert; an unpaired backtick is
 * shown as a backtick.
 */
function codeSpans(s: string): { code: boolean; text: string }[] {
  const parts: { code: boolean; text: string }[] = [];
  let last = 0;
  for (const m of s.matchAll(/`([^`]+)`/g)) {
    if (m.index > last) parts.push({ code: false, text: s.slice(last, m.index) });
    parts.push({ code: true, text: m[1]! });
    last = m.index + m[0].length;
  }
  if (last < s.length) parts.push({ code: false, text: s.slice(last) });
  return parts;
}

/** Markdown inline text whose `backtick spans` stay code spans (see codeSpans). */
export function markdownWithCode(s: string): string {
  return codeSpans(showControls(s).replace(/\r\n|\r|\n/g, ' '))
    .map((p) => (p.code ? markdownCode(p.text) : escapeMarkdown(p.text)))
    .join('');
}

/** HTML text (element content or a quoted attribute): control characters shown, markup escaped. */
export function escapeHtml(s: string): string {
  return showControls(s)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** HTML text whose `backtick spans` become <code> (see codeSpans); everything else escaped. */
export function htmlWithCode(s: string): string {
  return codeSpans(s)
    .map((p) => (p.code ? `<code>${escapeHtml(p.text)}</code>` : escapeHtml(p.text)))
    .join('');
}

/** A fenced code block; content is literal in Markdown (no HTML, no markup). */
export function markdownBlock(lines: string | readonly string[], lang = ''): string {
  const text = showControls(typeof lines === 'string' ? lines : lines.join('\n')).replace(/\n+$/, '');
  const fence = fenceFor(text, 3);
  return `${fence}${lang}\n${text}\n${fence}`;
}

/**
 * JSON for embedding anywhere (a file, an HTML attribute's text, a script): `<`, `>`, `&` and the
 * JS line separators are \u-escaped, so `</script>` cannot appear in the output, and so are
 * the controls past C0 (escapeJsonControls); parsed, the values are the host's own.
 */
export function safeJson(v: unknown, indent?: number): string {
  const json = escapeJsonControls(JSON.stringify(v, null, indent) ?? 'null');
  return json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
