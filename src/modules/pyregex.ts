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
  p = p.replace(/(^|[^\\])\\A/g, '$1^').replace(/(^|[^\\])\\Z/g, '$1$(?![\\s\\S])');
  try {
    return new RegExp(p, f);
  } catch (err) {
    throw new FleetmendError('E_MODULE', `invalid regular expression ${JSON.stringify(pattern)}: ${(err as Error).message}`);
  }
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
