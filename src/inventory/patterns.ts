/**
 * Host patterns, evaluated like Ansible's InventoryManager (inventory/manager.py):
 *   - split on ',' if the pattern has one, else on ':' outside [brackets];
 *   - plain terms (union) first, then '&' terms (intersection), then '!' terms (exclusion);
 *     a pattern with only '&'/'!' terms starts from 'all';
 *   - a term matches groups first (exact name or glob); it also matches host names when no group
 *     matched or when it looks like a glob/FQDN ('.', '?', '*', '[') or is a '~regex';
 *   - a term may end with a subscript: `web[0]`, `web[-1]`, `web[1:3]` (inclusive), `web[2:]`.
 * Differences, on purpose: a term that matches nothing is an error (Ansible only warns), and the
 * result is always in inventory order.
 */
import { FleetmendError } from '../errors.js';
import type { Inventory } from './types.js';

type Subscript = { index: number } | { start: number; end?: number };

const SUBSCRIPT = /^(.+)\[(?:(-?[0-9]+)|([0-9]+):([0-9]*))\]$/;

export function selectHosts(inv: Inventory, pattern: string | readonly string[]): string[] {
  const terms = (typeof pattern === 'string' ? [pattern] : pattern).flatMap(splitPattern);
  if (terms.length === 0) throw new FleetmendError('E_PATTERN', 'empty host pattern');
  const plain = terms.filter((t) => !t.startsWith('&') && !t.startsWith('!'));
  const ordered = [...(plain.length ? plain : ['all']), ...terms.filter((t) => t.startsWith('&')), ...terms.filter((t) => t.startsWith('!'))];

  let selected = new Set<string>();
  for (const term of ordered) {
    const op = term[0] === '&' || term[0] === '!' ? term[0] : '';
    const matched = new Set(matchTerm(inv, term.slice(op.length)));
    if (op === '&') selected = new Set([...selected].filter((h) => matched.has(h)));
    else if (op === '!') selected = new Set([...selected].filter((h) => !matched.has(h)));
    else matched.forEach((h) => selected.add(h));
  }
  const out = [...inv.hosts.keys()].filter((h) => selected.has(h));
  const shown = typeof pattern === 'string' ? pattern : pattern.join(',');
  if (out.length === 0) throw new FleetmendError('E_PATTERN', `pattern '${shown}' selects no hosts`);
  return out;
}

/** Ansible's split_host_pattern: commas if any, else colons outside brackets. */
export function splitPattern(pattern: string): string[] {
  const parts = pattern.includes(',') ? pattern.split(',') : (pattern.match(/(?:[^\s:[\]]|\[[^\]]*\])+/g) ?? []);
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

/** Hosts (in inventory order) matched by one term without its '&'/'!' prefix. */
function matchTerm(inv: Inventory, term: string): string[] {
  if (term === '') throw new FleetmendError('E_PATTERN', 'empty pattern term');
  const { base, subscript } = splitSubscript(term);
  const matched = enumerate(inv, base);
  if (matched.length === 0) throw new FleetmendError('E_PATTERN', `pattern '${base}' matches no host or group`);
  const out = subscript ? applySubscript(matched, subscript, term) : matched;
  if (out.length === 0) throw new FleetmendError('E_PATTERN', `pattern '${term}' matches no host or group`);
  return out;
}

function enumerate(inv: Inventory, base: string): string[] {
  if (base === 'all' || base === '*') return [...inv.hosts.keys()];
  const re = termRegExp(base);
  const groups = new Set([...inv.groups.keys()].filter((g) => re.test(g)));
  const hostsToo = groups.size === 0 || base.startsWith('~') || /[.?*[]/.test(base);
  const out: string[] = [];
  for (const h of inv.hosts.values()) {
    if (h.groups.some((g) => groups.has(g)) || (hostsToo && re.test(h.name))) out.push(h.name);
  }
  return out;
}

/** `~regex` is anchored at the start only (Python re.match); globs are fnmatch, anchored both ends. */
function termRegExp(base: string): RegExp {
  if (!base.startsWith('~')) return new RegExp(`^${globToRegExpSource(base)}$`);
  try {
    return new RegExp(`^(?:${base.slice(1)})`);
  } catch (err) {
    throw new FleetmendError('E_PATTERN', `invalid regular expression in pattern '${base}': ${(err as Error).message}`);
  }
}

/** Python's fnmatch.translate: `*`, `?`, `[seq]`, `[!seq]`; an unclosed `[` is literal. */
export function globToRegExpSource(glob: string): string {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*') out += '.*';
    else if (c === '?') out += '.';
    else if (c === '[') {
      let j = i + 1;
      if (glob[j] === '!') j++;
      if (glob[j] === ']') j++;
      while (j < glob.length && glob[j] !== ']') j++;
      if (j >= glob.length) {
        out += '\\[';
        continue;
      }
      let body = glob.slice(i + 1, j).replace(/\\/g, '\\\\');
      if (body.startsWith('!')) body = `^${body.slice(1)}`;
      else if (body.startsWith('^')) body = `\\${body}`;
      out += `[${body}]`;
      i = j;
    } else out += c.replace(/[.+^${}()|\\/\]-]/g, '\\$&');
  }
  return out;
}

function splitSubscript(term: string): { base: string; subscript?: Subscript } {
  if (term.startsWith('~')) return { base: term };
  const m = SUBSCRIPT.exec(term);
  if (!m) return { base: term };
  const base = m[1] as string;
  if (m[2] !== undefined) return { base, subscript: { index: Number(m[2]) } };
  const start = Number(m[3]);
  return m[4] ? { base, subscript: { start, end: Number(m[4]) } } : { base, subscript: { start } };
}

function applySubscript(hosts: string[], s: Subscript, term: string): string[] {
  if ('index' in s) {
    const h = hosts.at(s.index);
    if (h === undefined) {
      throw new FleetmendError('E_PATTERN', `pattern '${term}': index ${s.index} is out of range (${hosts.length} hosts)`);
    }
    return [h];
  }
  return hosts.slice(s.start, s.end === undefined ? undefined : s.end + 1);
}
