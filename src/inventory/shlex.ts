/**
 * POSIX `shlex.split(line, comments=True)`, which Ansible's INI plugin uses for host lines: quotes
 * group and are removed, a backslash escapes outside single quotes, and `#` starts a comment even
 * in the middle of an unquoted word (hence Ansible's advice to write `pw="'03#pa33w0rd'"`).
 */
export class ShlexError extends Error {}

const DQ_ESCAPABLE = new Set(['\\', '"', '$', '`', '\n']);

export function shlexSplit(line: string): string[] {
  const tokens: string[] = [];
  let tok = '';
  let inToken = false;
  let i = 0;
  const flush = (): void => {
    if (inToken) tokens.push(tok);
    tok = '';
    inToken = false;
  };
  while (i < line.length) {
    const c = line[i] as string;
    if (/\s/.test(c)) {
      flush();
      i++;
    } else if (c === '#') {
      break;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new ShlexError('No closing quotation');
      tok += line.slice(i + 1, end);
      inToken = true;
      i = end + 1;
    } else if (c === '"') {
      i = readDoubleQuoted(line, i + 1, (s) => (tok += s));
      inToken = true;
    } else if (c === '\\') {
      if (i + 1 >= line.length) throw new ShlexError('No escaped character');
      tok += line[i + 1];
      inToken = true;
      i += 2;
    } else {
      tok += c;
      inToken = true;
      i++;
    }
  }
  flush();
  return tokens;
}

function readDoubleQuoted(line: string, start: number, emit: (s: string) => void): number {
  let i = start;
  for (;;) {
    if (i >= line.length) throw new ShlexError('No closing quotation');
    const c = line[i] as string;
    if (c === '"') return i + 1;
    if (c === '\\' && i + 1 < line.length && DQ_ESCAPABLE.has(line[i + 1] as string)) {
      emit(line[i + 1] as string);
      i += 2;
    } else {
      emit(c);
      i++;
    }
  }
}
