/**
 * Text bound for a terminal (errors, progress lines, the summary table, scheduler logs). Host
 * names, inventory values and host output reach these lines, and a terminal obeys what it is
 * sent: `ESC ] 0 ; title BEL` retitles the window, `ESC [ 2 K` and `CR` erase what was printed,
 * and a newline forges a line of its own. So control characters are shown, not sent, and a
 * message quoting a huge expression is cut (README "Security").
 */

/**
 * Past ASCII's C0: DEL, the C1 controls (U+0080-009F: a terminal may read U+009B as CSI), and
 * the Unicode bidi controls that reorder what is shown (Trojan Source, CVE-2021-42574): the
 * marks U+200E/200F/061C, embeddings and overrides U+202A-202E, isolates U+2066-2069.
 */
const UNSAFE_BEYOND_C0 = '\\u007F-\\u009F\\u061C\\u200E\\u200F\\u202A-\\u202E\\u2066-\\u2069';
/** C0 controls (tab and, where allowed, newline aside), then UNSAFE_BEYOND_C0. */
const UNSAFE = new RegExp(`[\\u0000-\\u0008\\u000A-\\u001F${UNSAFE_BEYOND_C0}]`, 'g');
const UNSAFE_KEEP_NL = new RegExp(`[\\u0000-\\u0008\\u000B-\\u001F${UNSAFE_BEYOND_C0}]`, 'g');

/** `\x1b` for ESC, `\n` for a newline, `\u202e` for a bidi override: visible, and unambiguous enough. */
function visible(c: string): string {
  if (c === '\n') return '\\n';
  if (c === '\r') return '\\r';
  const n = c.codePointAt(0) as number;
  return n <= 0xff ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
}

/**
 * Every control character shown, not sent: the one definition the terminal and the reports
 * (report/escape.ts) use. Tabs stay; newlines too with `keepNewlines`.
 */
export function escapeControls(s: string, opts: { keepNewlines?: boolean } = {}): string {
  return s.replace(opts.keepNewlines ? UNSAFE_KEEP_NL : UNSAFE, visible);
}

/** What JSON.stringify leaves raw of the above (it \\u-escapes C0 itself). */
const UNSAFE_IN_JSON = new RegExp(`[${UNSAFE_BEYOND_C0}]`, 'g');

/**
 * JSON text with the controls JSON.stringify leaves raw as `\\uXXXX`: the same values when
 * parsed, nothing a terminal or a viewer acts on (`--json`, the JSON report).
 */
export function escapeJsonControls(json: string): string {
  return json.replace(UNSAFE_IN_JSON, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A quoted value inside a message is shown up to this many characters. */
export const MAX_QUOTED = 200;
/** A whole message is shown up to this many characters. */
export const MAX_MESSAGE = 2000;

/** `"..."` as JSON.stringify writes it, or `'...'` on one line: how messages quote values. */
const QUOTED = /"(?:[^"\\]|\\.)*"|'[^'\n]*'/g;

function cut(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max)}… (${(s.length - max).toLocaleString('en-US')} more characters)`;
}

/** Shorten each quoted value past MAX_QUOTED, then the whole text past MAX_MESSAGE. */
export function clipMessage(s: string): string {
  const clipped = s.replace(QUOTED, (q) => {
    if (q.length <= MAX_QUOTED + 2) return q;
    const mark = q[0] as string;
    return `${mark}${q.slice(1, MAX_QUOTED + 1)}…${mark} (${(q.length - 2 - MAX_QUOTED).toLocaleString('en-US')} more characters)`;
  });
  return cut(clipped, MAX_MESSAGE);
}

/** A one-line message for the terminal: clipped, then every control character made visible. */
export function terminalLine(s: string): string {
  return escapeControls(clipMessage(s));
}

/** Several lines for the terminal (a table, a diff, a stack): newlines kept, the rest escaped. */
export function terminalText(s: string): string {
  return escapeControls(s, { keepNewlines: true });
}

/**
 * The terminal's line writer: each line with every control character shown, a newline inside a
 * line too (a field from a result cannot forge a line of its own), then joined. Whatever the CLI
 * prints from a result (a status, a state, an error or finding code, a number, a worker name:
 * in distributed mode all of it came through Redis) goes out through here or terminalTable.
 */
export function terminalLines(lines: readonly string[]): string {
  return lines.map((l) => escapeControls(l)).join('\n') + '\n';
}

/** The colours the terminal output uses (SGR codes). */
const SGR = { red: 31, green: 32, yellow: 33, cyan: 36, bold: 1 } as const;
export type Colour = keyof typeof SGR;
/** Wraps text that is already safe (escaped) in a colour, or returns it as it is. */
export type Paint = (safeText: string, colour: Colour) => string;

/**
 * The painter for a stream: colour only on a terminal, and not when the user said no
 * (`--no-color`, or `NO_COLOR` set to anything non-empty, https://no-color.org; `TERM=dumb`).
 * Its sequences go around text this module already escaped, so they are the only ones sent.
 */
export function painterFor(out: { isTTY?: boolean }, env: NodeJS.ProcessEnv, flag?: boolean): Paint {
  const on = !!out.isTTY && flag !== false && !env.NO_COLOR && env.TERM !== 'dumb';
  return on ? (t, c) => `\x1b[${SGR[c]}m${t}\x1b[0m` : (t) => t;
}

/** No colour: what a log, a pipe, a test and `--json` get. */
export const noPaint: Paint = (t) => t;

/**
 * Rows of cells, aligned: each cell escaped before the widths are measured, so a hostile cell
 * cannot break a row. `colour` picks a colour per cell; it is painted after the padding is
 * measured, so colour never shifts a column.
 */
export function terminalTable(
  rows: readonly (readonly string[])[],
  colour?: (row: number, col: number) => Colour | undefined,
  paint: Paint = noPaint,
): string[] {
  const cells = rows.map((row) => row.map((c) => escapeControls(c)));
  const widths = (cells[0] ?? []).map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  return cells.map((row, r) =>
    row
      .map((c, i) => {
        const pad = ' '.repeat(Math.max(0, (widths[i] ?? 0) - c.length));
        const k = colour?.(r, i);
        return (k ? paint(c, k) : c) + pad;
      })
      .join('  ')
      .trimEnd(),
  );
}
