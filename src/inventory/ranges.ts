/**
 * Host name ranges and `host:port` suffixes, as Ansible's inventory plugins read them
 * (ansible/plugins/inventory/__init__.py: expand_hostname_range, parse_address).
 */

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** Thrown for a malformed range; the caller attaches the file position. */
export class HostEntryError extends Error {}

/**
 * Expand `web[01:20].example.com`, `db[a:c]`, `n[1:10:2]` (several ranges multiply).
 * A begin with a leading zero fixes the width (Ansible: "equal-length begin and end formats").
 */
export function expandHostRange(name: string): string[] {
  const open = name.indexOf('[');
  if (open < 0) return [name];
  const close = name.indexOf(']', open);
  if (close < 0) throw new HostEntryError(`unterminated host range in '${name}'`);
  const head = name.slice(0, open);
  const tail = name.slice(close + 1);
  const seq = rangeSequence(name.slice(open + 1, close), name);
  return seq.flatMap((item) => expandHostRange(head + item + tail));
}

function rangeSequence(spec: string, name: string): string[] {
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
  if (/^[a-zA-Z]$/.test(beg) && /^[a-zA-Z]$/.test(end)) return letterSequence(beg, end, step, spec, name);
  if (!/^[0-9]+$/.test(beg) || !/^[0-9]+$/.test(end)) {
    throw new HostEntryError(`host range '[${spec}]' in '${name}' must be numeric or single letters`);
  }
  const padded = beg.length > 1 && beg.startsWith('0');
  if (padded && beg.length !== end.length) {
    throw new HostEntryError(`host range '[${spec}]' in '${name}' must use equal-length begin and end when zero-padded`);
  }
  const from = Number(beg);
  const to = Number(end);
  if (from > to) throw new HostEntryError(`host range '[${spec}]' in '${name}' must have begin <= end`);
  const out: string[] = [];
  for (let i = from; i <= to; i += step) out.push(padded ? String(i).padStart(beg.length, '0') : String(i));
  return out;
}

function letterSequence(beg: string, end: string, step: number, spec: string, name: string): string[] {
  const from = LETTERS.indexOf(beg);
  const to = LETTERS.indexOf(end);
  if (from > to) throw new HostEntryError(`host range '[${spec}]' in '${name}' must have begin <= end`);
  const out: string[] = [];
  for (let i = from; i <= to; i += step) out.push(LETTERS[i] as string);
  return out;
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
