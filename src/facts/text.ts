/**
 * Small text helpers shared by the parsers. Every parser here is total: host output may be
 * truncated, empty, binary or huge, and a parser answers with a value (or an error string),
 * never an exception.
 */

/** Lines of `text`, without trailing `\r`. */
export function linesOf(text: string): string[] {
  return text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
}

/**
 * The first `max` lines of `text`, without trailing `\r`, one at a time: no array of every line
 * (a host that sends megabytes of short lines would cost the runner tens of bytes per line).
 */
export function* eachLine(text: string, max = Infinity): Generator<string> {
  let pos = 0;
  for (let n = 0; n < max && pos <= text.length; n++) {
    const nl = text.indexOf('\n', pos);
    const end = nl === -1 ? text.length : nl;
    const line = text.slice(pos, end);
    yield line.endsWith('\r') ? line.slice(0, -1) : line;
    if (nl === -1) return;
    pos = nl + 1;
  }
}

/** A non-negative decimal integer, or undefined (no exponent, no sign, no junk). */
export function toUint(s: string | undefined): number | undefined {
  if (s === undefined || !/^\d{1,15}$/.test(s)) return undefined;
  return Number(s);
}

/** First `max` characters of a line, for verbatim evidence that must stay bounded. */
export function clip(line: string, max = 300): string {
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

/** Appends to a bounded list: keeps the last `max` items. */
export function pushBounded<T>(list: T[], item: T, max: number): void {
  list.push(item);
  if (list.length > max) list.splice(0, list.length - max);
}

/** Result of a parser that may not understand its input. */
export interface Parsed<T> {
  value: T;
  /** Why the input was not (fully) understood; the value is then a sensible empty default. */
  error?: string;
}

export function ok<T>(value: T): Parsed<T> {
  return { value };
}

export function failed<T>(value: T, error: string): Parsed<T> {
  return { value, error };
}

/** A short description of unexpected output, for parse_errors. */
export function describe(text: string): string {
  const first = linesOf(text.trim())[0] ?? '';
  return first ? `unexpected output: ${JSON.stringify(clip(first, 120))}` : 'empty output';
}
