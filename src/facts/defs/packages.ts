/**
 * Installed packages for `package_facts`, read only when a task asks (not a probe fact: a sweep
 * never needs them). Debian's database is a text file, /var/lib/dpkg/status, read with builtins
 * (only the Package, Status, Version, Architecture and Section lines travel) and parsed here on
 * the controller; no dpkg-query starts. The rpm database is binary: `rpm -qa --qf` (one program)
 * runs only where no dpkg status exists and rpm is installed (`command -v`, a builtin).
 * Named as Ansible's package_facts names them (modules/package_facts.py: apt and rpm backends).
 */
import type { Fact } from '../fact.js';
import { clip, eachLine, failed, ok, type Parsed } from '../text.js';

export interface PackageEntry {
  name: string;
  version: string;
  arch?: string;
  release?: string;
  epoch?: number | null;
  category?: string;
  source: 'apt' | 'rpm';
}

export interface Packages {
  manager: 'apt' | 'rpm' | 'none';
  packages: Record<string, PackageEntry[]>;
}

export const DPKG_STATUS = '/var/lib/dpkg/status';

/** rpm's fields, tab-separated (EPOCHNUM: 0 when none; Ansible reports epoch None then). */
const RPM_QF = `%{NAME}\\t%{EPOCH}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\n`;

/** Which manager to read: apt (dpkg's status file) or rpm, or the first found (`auto`). */
export function packagesScript(manager: 'auto' | 'apt' | 'rpm'): string {
  const apt = [
    "echo 'manager=apt'",
    `while IFS= read -r fm_l || [ -n "$fm_l" ]; do case $fm_l in Package:*|Status:*|Version:*|Architecture:*|Section:*|'') printf '%s\\n' "$fm_l";; esac; done < ${DPKG_STATUS}`,
    'fm_rc=0',
  ].join('\n');
  const rpm = ["echo 'manager=rpm'", `rpm -qa --qf '${RPM_QF}' 2>&1`, 'fm_rc=$?'].join('\n');
  const none = "echo 'manager=none'; fm_rc=1";
  if (manager === 'apt') return `if [ -r ${DPKG_STATUS} ]; then\n${apt}\nelse ${none}; fi`;
  if (manager === 'rpm') return `if command -v rpm >/dev/null 2>&1; then\n${rpm}\nelse ${none}; fi`;
  return `if [ -r ${DPKG_STATUS} ]; then\n${apt}\nelif command -v rpm >/dev/null 2>&1; then\n${rpm}\nelse ${none}; fi`;
}

/** At most this many packages are kept (a Debian desktop has ~3,000). */
export const MAX_PACKAGES = 50_000;

function add(out: Packages, p: PackageEntry): void {
  if (Object.keys(out.packages).length >= MAX_PACKAGES && !out.packages[p.name]) return;
  (out.packages[p.name] ??= []).push(p);
}

/** One dpkg stanza: installed only (`Status: install ok installed`, the third word is what counts). */
function dpkgStanza(out: Packages, f: Map<string, string>): void {
  const name = f.get('Package');
  const version = f.get('Version');
  const status = (f.get('Status') ?? '').split(/\s+/);
  if (!name || !version || status[2] !== 'installed') return;
  const e: PackageEntry = { name: clip(name, 200), version: clip(version, 200), source: 'apt' };
  const arch = f.get('Architecture');
  if (arch) e.arch = arch;
  const section = f.get('Section');
  if (section) e.category = section;
  add(out, e);
}

function parseDpkg(out: Packages, lines: Iterable<string>): void {
  let f = new Map<string, string>();
  for (const line of lines) {
    const m = /^(Package|Status|Version|Architecture|Section):\s*(.*?)\s*$/.exec(line);
    if (m) f.set(m[1]!, m[2] ?? '');
    else if (line.trim() === '') {
      dpkgStanza(out, f);
      f = new Map();
    }
  }
  dpkgStanza(out, f);
}

function parseRpm(out: Packages, lines: Iterable<string>): number {
  let bad = 0;
  for (const line of lines) {
    if (line.trim() === '') continue;
    const f = line.split('\t');
    if (f.length !== 5 || !f[0] || !f[2]) {
      bad++;
      continue;
    }
    const epoch = /^\d+$/.test(f[1]!) ? Number(f[1]) : null;
    add(out, { name: clip(f[0], 200), version: clip(f[2], 200), release: clip(f[3]!, 200), epoch, arch: f[4]!, source: 'rpm' });
  }
  return bad;
}

export function parsePackages(text: string, rc: number | null): Parsed<Packages> {
  const out: Packages = { manager: 'none', packages: {} };
  const lines = eachLine(text);
  const first = lines.next();
  const m = first.done ? undefined : /^manager=(apt|rpm|none)$/.exec(first.value);
  if (!m) return failed(out, `package_facts: unexpected output: ${JSON.stringify(clip(text.trim().split('\n')[0] ?? '', 120))}`);
  out.manager = m[1] as Packages['manager'];
  if (out.manager === 'none') return failed(out, 'package_facts: no package manager found (no /var/lib/dpkg/status, no rpm)');
  if (out.manager === 'apt') parseDpkg(out, lines);
  else if (parseRpm(out, lines) > 0 && Object.keys(out.packages).length === 0) return failed(out, `rpm -qa failed (exit ${rc ?? 'none'})`);
  if (rc !== 0) return failed(out, `package_facts: ${out.manager} database read failed (exit ${rc ?? 'none'})`);
  return ok(out);
}

export function packagesFact(manager: 'auto' | 'apt' | 'rpm'): Fact<Packages> {
  return { name: 'packages', script: packagesScript(manager), empty: { manager: 'none', packages: {} }, parse: parsePackages };
}
