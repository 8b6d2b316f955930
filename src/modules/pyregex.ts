/**
 * Ansible's file modules take Python `re` patterns and replacement templates. The common
 * subset is the same in JavaScript; the differences a playbook meets are translated here:
 * named groups `(?P<n>…)`/`(?P=n)`, a leading inline flag group `(?i)`/`(?m)`/`(?s)`, `\A`/`\Z`,
 * and the template forms `\1`, `\g<1>`, `\g<name>` (Python's `match.expand`).
 */
import { FleetmendError } from '../errors.js';

export function pyRegex(pattern: string, flags = ''): RegExp {
  let p = pattern;
  let f = flags;
  const inline = /^\(\?([aiLmsux]+)\)/.exec(p);
  if (inline) {
    p = p.slice(inline[0].length);
    for (const c of inline[1] as string) if ('ims'.includes(c) && !f.includes(c)) f += c;
  }
  p = p.replace(/\(\?P<([A-Za-z_]\w*)>/g, '(?<$1>').replace(/\(\?P=([A-Za-z_]\w*)\)/g, '\\k<$1>');
  p = anchors(p, f.includes('m'));
  try {
    return new RegExp(p, f);
  } catch (err) {
    throw new FleetmendError('E_MODULE', `invalid regular expression ${JSON.stringify(pattern)}: ${(err as Error).message}`);
  }
}

/**
 * Python's anchors in JavaScript: without MULTILINE `$` also matches before a final newline
 * (lineinfile tests each line with its newline), `\A` is the start, `\Z` the very end.
 * Escapes and character classes are copied as they are.
 */
function anchors(p: string, multiline: boolean): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < p.length; i++) {
    const c = p[i] as string;
    if (c === '\\') {
      const n = p[i + 1] ?? '';
      i++;
      if (!inClass && n === 'A') out += '^';
      else if (!inClass && n === 'Z') out += '(?![\\s\\S])';
      else out += c + n;
      continue;
    }
    if (c === '[') inClass = true;
    else if (c === ']') inClass = false;
    out += !inClass && c === '$' && !multiline ? '(?=\\n?(?![\\s\\S]))' : c;
  }
  return out;
}

/** Python's `match.expand(template)`: group references and the escapes `\n`, `\t`, `\\`. */
export function expandTemplate(template: string, m: RegExpExecArray | RegExpMatchArray): string {
  return template.replace(/\\(?:g<([^>]+)>|(\d{1,2})|([ntr\\]))/g, (_all, g: string | undefined, num: string | undefined, esc: string | undefined) => {
    if (esc !== undefined) return esc === 'n' ? '\n' : esc === 't' ? '\t' : esc === 'r' ? '\r' : '\\';
    const ref = g ?? num ?? '0';
    const v = /^\d+$/.test(ref) ? m[Number(ref)] : m.groups?.[ref];
    if (v === undefined && !/^\d+$/.test(ref) && !(m.groups && ref in m.groups)) {
      throw new FleetmendError('E_MODULE', `unknown group name in replacement: ${ref}`);
    }
    return v ?? '';
  });
}
