/**
 * Escapers for host-originated text, one per output format. Everything a host sends (its name,
 * command output, kernel lines) goes through one of these before it reaches a report.
 */

/** Characters XML 1.0 forbids even as references (C0 controls but tab/LF/CR, lone surrogates, U+FFFE/F). */
const XML_INVALID = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
/** Terminal control characters (ESC sequences, bells) shown as U+FFFD rather than passed through. */
const CONTROL = /[\u0000-\u0008\u000B-\u001F\u007F]/g;

export function stripControl(s: string): string {
  return s.replace(CONTROL, '\uFFFD');
}

export function escapeXml(s: string): string {
  return s
    .replace(XML_INVALID, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** A CDATA section; `]]>` inside is split across two sections so it cannot close the first. */
export function cdata(s: string): string {
  return `<![CDATA[${s.replace(XML_INVALID, '\uFFFD').replace(/]]>/g, ']]]]><![CDATA[>')}]]>`;
}

/** Markdown inline text (also safe in a table cell): no markup, no raw HTML, no line breaks. */
export function escapeMarkdown(s: string): string {
  return stripControl(s)
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
  const text = stripControl(s).replace(/\r\n|\r|\n/g, ' ').replace(/\|/g, '\\|');
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
  return codeSpans(stripControl(s).replace(/\r\n|\r|\n/g, ' '))
    .map((p) => (p.code ? markdownCode(p.text) : escapeMarkdown(p.text)))
    .join('');
}

/** HTML text (element content or a quoted attribute): control characters replaced, markup escaped. */
export function escapeHtml(s: string): string {
  return stripControl(s)
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
  const text = stripControl(typeof lines === 'string' ? lines : lines.join('\n')).replace(/\n+$/, '');
  const fence = fenceFor(text, 3);
  return `${fence}${lang}\n${text}\n${fence}`;
}

/**
 * JSON for embedding anywhere (a file, an HTML attribute's text, a script): `<`, `>`, `&` and the
 * JS line separators are \u-escaped, so `</script>` cannot appear in the output.
 */
export function safeJson(v: unknown, indent?: number): string {
  return (JSON.stringify(v, null, indent) ?? 'null').replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
