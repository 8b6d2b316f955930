/**
 * Ansible's INI inventory (ansible/plugins/inventory/ini.py), line by line:
 *   - lines before any section declare hosts of 'ungrouped'; `#` and `;` start comment lines;
 *   - `[g]` hosts, `[g:children]` child group names, `[g:vars]` `key=value` lines;
 *   - a host line is `name[:port] key=value ...`, split like POSIX shlex with `#` comments;
 *   - every value (inline or in :vars) goes through Python's literal_eval, falling back to the raw
 *     text (see python-literal.ts) — so `2222` and `True` are typed, `yes` and `web01` are strings;
 *   - `[g:vars]` for a group never declared, or `[g:children]` naming one, is an error (Ansible's
 *     "pending declarations"), reported at the line that referenced it.
 * Every error carries file:line.
 */
import { FleetmendError, type SourcePosition } from '../errors.js';
import { parseIniValue } from './python-literal.js';
import { expandHostEntry, HostEntryError } from './ranges.js';
import { RawInventoryBuilder, type RawInventory } from './raw.js';
import { ShlexError, shlexSplit } from './shlex.js';

type SectionKind = 'hosts' | 'children' | 'vars';

interface Pending {
  line: number;
  kind: 'vars' | 'children';
  parents: string[];
}

const SECTION = /^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$/;
const GROUP_NAME = /^([^:\]\s]+)\s*(?:#.*)?$/;

export function parseIniInventory(file: string, text: string): RawInventory {
  const p = new IniParser(file);
  text.split(/\r?\n/).forEach((line, i) => p.line(line, i + 1));
  p.finish();
  return p.b.finish();
}

class IniParser {
  readonly b: RawInventoryBuilder;
  private group = 'ungrouped';
  private kind: SectionKind = 'hosts';
  private readonly pending = new Map<string, Pending>();

  constructor(private readonly file: string) {
    this.b = new RawInventoryBuilder(file);
  }

  line(raw: string, lineNo: number): void {
    const t = raw.trim();
    if (t === '' || t.startsWith('#') || t.startsWith(';')) return;
    const at: SourcePosition = { file: this.file, line: lineNo };
    const section = SECTION.exec(t);
    if (section) return this.section(section[1] as string, section[2] ?? 'hosts', at);
    if (t.startsWith('[') && t.endsWith(']')) {
      throw this.error(`invalid section '${t}': no spaces or ':' allowed in a group name`, at);
    }
    if (this.kind === 'hosts') this.hostLine(t, at);
    else if (this.kind === 'vars') this.varLine(t, at);
    else this.childLine(t, at);
  }

  finish(): void {
    const [name, first] = [...this.pending.entries()][0] ?? [];
    if (name === undefined || first === undefined) return;
    const at = { file: this.file, line: first.line };
    if (first.kind === 'vars') throw this.error(`section [${name}:vars] is for undefined group '${name}'`, at);
    throw this.error(`section [${first.parents.at(-1)}:children] includes undefined group '${name}'`, at);
  }

  private section(name: string, kind: string, at: SourcePosition): void {
    if (kind !== 'hosts' && kind !== 'children' && kind !== 'vars') {
      throw this.error(`section [${name}:${kind}] has unknown type '${kind}' (hosts, children or vars)`, at);
    }
    this.group = name;
    this.kind = kind;
    if (!this.b.hasGroup(name)) {
      // [g] or [g:children] declares a group; [g:vars] alone does not.
      if (kind === 'vars' && !this.pending.has(name)) {
        this.pending.set(name, { line: at.line as number, kind: 'vars', parents: [] });
      }
      this.b.group(name);
    }
    const p = this.pending.get(name);
    if (p && kind !== 'vars') {
      for (const parent of p.parents) this.b.addChild(parent, name, { file: this.file, line: p.line });
      this.pending.delete(name);
    }
  }

  private hostLine(t: string, at: SourcePosition): void {
    let tokens: string[];
    try {
      tokens = shlexSplit(t);
    } catch (err) {
      if (err instanceof ShlexError) throw this.error(`cannot parse host line: ${err.message}`, at);
      throw err;
    }
    const [entry = '', ...assignments] = tokens;
    if (entry.trim() === '---') throw this.error(`host '---' looks like YAML; is this file YAML?`, at);
    const { names, port } = this.expand(entry, at);
    const vars: Record<string, unknown> = port === undefined ? {} : { ansible_port: port };
    for (const a of assignments) {
      const eq = a.indexOf('=');
      if (eq <= 0) throw this.error(`expected key=value host variable, got '${a}'`, at);
      vars[a.slice(0, eq)] = parseIniValue(a.slice(eq + 1));
    }
    this.b.addHosts(this.group, names, vars, () => at);
  }

  private varLine(t: string, at: SourcePosition): void {
    const eq = t.indexOf('=');
    if (eq < 0) throw this.error(`expected key=value in [${this.group}:vars], got '${t}'`, at);
    const key = t.slice(0, eq).trim();
    if (key === '') throw this.error(`missing variable name in '${t}'`, at);
    this.b.setGroupVar(this.group, key, parseIniValue(t.slice(eq + 1).trim()), at);
  }

  private childLine(t: string, at: SourcePosition): void {
    const m = GROUP_NAME.exec(t);
    if (!m) throw this.error(`expected a group name in [${this.group}:children], got '${t}'`, at);
    const child = m[1] as string;
    if (this.b.hasGroup(child)) {
      this.b.addChild(this.group, child, at);
      return;
    }
    const p = this.pending.get(child);
    if (p) p.parents.push(this.group);
    else this.pending.set(child, { line: at.line as number, kind: 'children', parents: [this.group] });
  }

  private expand(entry: string, at: SourcePosition): ReturnType<typeof expandHostEntry> {
    try {
      return expandHostEntry(entry);
    } catch (err) {
      if (err instanceof HostEntryError) throw this.error(err.message, at);
      throw err;
    }
  }

  private error(message: string, at: SourcePosition): FleetmendError {
    return new FleetmendError('E_INVENTORY', message, { position: at });
  }
}
