/**
 * Host name ranges and `host:port` suffixes, as Ansible's inventory plugins read them
 * (ansible/plugins/inventory/__init__.py: expand_hostname_range, parse_address).
 */

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** Thrown for a malformed range; the caller attaches the file position. */
export class HostEntryError extends Error {}

/**
 * The most host names one entry (`web[0:99]`, or the product of several ranges) may declare, and
 * the most distinct hosts one inventory file may hold. A range is counted before it is expanded,
 * so `web[0:99999999]` is refused at once in bounded memory (README "Inventory").
 */
export const MAX_HOSTS_PER_PATTERN = 100_000;
export const MAX_HOSTS_PER_INVENTORY = 100_000;
/**
 * The most (host, group) pairs one inventory file may make, counted as declared (the same range
 * listed in 2,000 groups) and again once groups are resolved (a host is in every group its
 * groups are children of): without it a 41 KB file made 200 million of them.
 */
export const MAX_GROUP_MEMBERSHIPS = 1_000_000;
/**
 * How deep groups may nest under 'all' (children of children...). `--graph` indents each level,
 * so its output grows with the square of the depth: a 478 KB chain of 20,000 groups would print
 * 600 MB. Real inventories nest a handful of levels.
 */
export const MAX_GROUP_DEPTH = 100;

/** One `[begin:end:step]`: the count is known without listing the names. */
interface RangeSpec {
  count: number;
  item(i: number): string;
}

/**
 * Expand `web[01:20].example.com`, `db[a:c]`, `n[1:10:2]` (several ranges multiply; the first
 * varies slowest). A begin with a leading zero fixes the width (Ansible: "equal-length begin and
 * end formats"). More than `limit` names is an error, found before any name is made.
 */
export function expandHostRange(name: string, limit = MAX_HOSTS_PER_PATTERN): string[] {
  const literals: string[] = [];
  const ranges: RangeSpec[] = [];
  let rest = name;
  for (let open = rest.indexOf('['); open >= 0; open = rest.indexOf('[')) {
    const close = rest.indexOf(']', open);
    if (close < 0) throw new HostEntryError(`unterminated host range in '${name}'`);
    literals.push(rest.slice(0, open));
    ranges.push(rangeSpec(rest.slice(open + 1, close), name));
    rest = rest.slice(close + 1);
  }
  literals.push(rest);
  let total = 1;
  for (const r of ranges) {
    total *= r.count;
    if (total > limit) {
      const product = ranges.map((x) => x.count).reduce((a, b) => a * b, 1);
      throw new HostEntryError(
        `host range '${name}' declares ${product.toLocaleString('en-US')} hosts; the limit is ${limit.toLocaleString('en-US')} per entry`,
      );
    }
  }
  let out = [literals[0] as string];
  ranges.forEach((r, k) => {
    const next: string[] = [];
    for (const prefix of out) for (let i = 0; i < r.count; i++) next.push(prefix + r.item(i) + literals[k + 1]);
    out = next;
  });
  return out;
}

function rangeSpec(spec: string, name: string): RangeSpec {
  const bounds = spec.split(':');
  if (bounds.length !== 2 && bounds.length !== 3) {
    throw new HostEntryError(`host range '[${spec}]' in '${name}' must be begin:end or begin:end:step`);
  }
  const beg = bounds[0] === '' ? '0' : (bounds[0] as string);
  const end = bounds[1] as string;
  const stepText = bounds[2] ?? '1';
  if (end === '') throw new HostEntryError(`host range '[${spec}]' in '${name}' must specify an end value`);
  if (!/^[1-9][0-9]*$/.test(stepText)) throw new HostEntryError(`host range '[${spec}]' in '${name}' has an invalid step`);
  const step = Number(stepText);
  if (/^[a-zA-Z]$/.test(beg) && /^[a-zA-Z]$/.test(end)) return letterSpec(beg, end, step, spec, name);
  if (!/^[0-9]+$/.test(beg) || !/^[0-9]+$/.test(end)) {
    throw new HostEntryError(`host range '[${spec}]' in '${name}' must be numeric or single letters`);
  }
  const padded = beg.length > 1 && beg.startsWith('0');
  if (padded && beg.length !== end.length) {
    throw new HostEntryError(`host range '[${spec}]' in '${name}' must use equal-length begin and end when zero-padded`);
  }
  // 2^53 bounds: past it Number() rounds and the count would be wrong (and hostnames that long are not real)
  if (beg.replace(/^0+/, '').length > 15 || end.replace(/^0+/, '').length > 15) {
    throw new HostEntryError(`host range '[${spec}]' in '${name}' has a bound above 15 digits`);
  }
  const from = Number(beg);
  const to = Number(end);
  if (from > to) throw new HostEntryError(`host range '[${spec}]' in '${name}' must have begin <= end`);
  const fmt = (i: number) => (padded ? String(i).padStart(beg.length, '0') : String(i));
  return { count: Math.floor((to - from) / step) + 1, item: (i) => fmt(from + i * step) };
}

function letterSpec(beg: string, end: string, step: number, spec: string, name: string): RangeSpec {
  const from = LETTERS.indexOf(beg);
  const to = LETTERS.indexOf(end);
  if (from > to) throw new HostEntryError(`host range '[${spec}]' in '${name}' must have begin <= end`);
  return { count: Math.floor((to - from) / step) + 1, item: (i) => LETTERS[from + i * step] as string };
}

/**
 * Split an inventory host entry into its name pattern and an optional port
 * (`web1:2222`, `[fe80::1]:22`, `web[1:3]:2222`). A bare IPv6 address has no port.
 */
export function splitHostPort(entry: string): { pattern: string; port?: number } {
  const bracketed = /^\[([0-9a-fA-F:.]+)\]:([0-9]+)$/.exec(entry);
  if (bracketed) return { pattern: bracketed[1] as string, port: Number(bracketed[2]) };
  // Colons inside [x:y] ranges are not port separators.
  const outside = entry.replace(/\[[^\]]*\]/g, (m) => 'x'.repeat(m.length));
  const colons = [...outside].filter((c) => c === ':').length;
  if (colons !== 1) return { pattern: entry };
  const at = outside.indexOf(':');
  const port = entry.slice(at + 1);
  if (!/^[0-9]+$/.test(port)) {
    throw new HostEntryError(`invalid host '${entry}': ':' is reserved to give a port number`);
  }
  return { pattern: entry.slice(0, at), port: Number(port) };
}

/** `splitHostPort` then `expandHostRange`: the host names an entry declares. */
export function expandHostEntry(entry: string): { names: string[]; port?: number } {
  const { pattern, port } = splitHostPort(entry.trim());
  if (pattern === '') throw new HostEntryError(`empty host name in '${entry}'`);
  const names = expandHostRange(pattern);
  return port === undefined ? { names } : { names, port };
}
