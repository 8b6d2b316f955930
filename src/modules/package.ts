/**
 * `package`, `apt`, `dnf`, `yum`: packages present/absent/latest through the host's own package
 * manager. One round trip finds the manager (`command -v`, a shell builtin) and reads what is
 * installed (dpkg-query / rpm) and, for `latest`, the repository's candidate (apt-cache policy /
 * dnf check-update); check mode stops there and reports what would change. Apply runs one
 * install/upgrade/remove per kind, then reads the versions again to verify.
 */
import { z } from 'zod';
import { boolLike, firstErrorLine, run, shellQuote } from './common.js';
import { failed, type Checked, type DiffEntry, type Module, type ModuleContext, type ModuleOutcome } from './types.js';

type Manager = 'apt' | 'dnf' | 'yum';
const PKG = /^[A-Za-z0-9][A-Za-z0-9+._:-]*$/;

const names = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((n) => n.trim()).filter(Boolean))
  .refine((v) => v.length > 0, 'name must name at least one package')
  .refine((v) => v.every((n) => PKG.test(n)), 'a package name has letters, digits and + . _ : - only');

const base = {
  name: names,
  state: z.enum(['present', 'installed', 'absent', 'removed', 'latest']).default('present'),
  update_cache: z.preprocess(boolLike, z.boolean()).default(false),
};
export const packageArgs = z.object({ ...base, use: z.enum(['auto', 'apt', 'dnf', 'yum']).default('auto') }).strict();
export const aptArgs = z.object({ ...base, cache_valid_time: z.number().int().min(0).optional(), install_recommends: z.preprocess(boolLike, z.boolean()).optional() }).strict();
export const dnfArgs = z.object(base).strict();
export type PackageArgs = z.infer<typeof packageArgs>;

export interface PackageQuery {
  manager?: Manager;
  installed: Record<string, string>;
  /** The repository's version where it is newer or not installed (`latest` only). */
  candidate: Record<string, string>;
}

/** Finds the manager and reads the packages in one command (`command -v` is a builtin: no program starts). */
export function queryCommand(pkgs: readonly string[], latest: boolean, only?: Manager): string {
  const q = pkgs.map(shellQuote).join(' ');
  // the candidates follow a marker line: the tools' own output is parsed after it
  const apt = `echo M:apt; dpkg-query -W -f 'Q:\${Package}\\t\${Status}\\t\${Version}\\n' ${q} 2>/dev/null${latest ? `; echo C:; apt-cache policy ${q}` : ''}`;
  const rpm = (m: Manager) => `echo M:${m}; rpm -q --qf 'Q:%{NAME}\\tinstall ok installed\\t%{VERSION}-%{RELEASE}\\n' ${q}${latest ? `; echo C:; ${m} -q check-update ${q}` : ''}`;
  const branches: [Manager, string, string][] = [
    ['apt', 'apt-get', apt],
    ['dnf', 'dnf', rpm('dnf')],
    ['yum', 'yum', rpm('yum')],
  ];
  const use = branches.filter(([m]) => !only || m === only);
  return use.map(([, tool, body], i) => `${i ? 'elif' : 'if'} command -v ${tool} >/dev/null 2>&1; then ${body}`).join('\n') + '\nelse echo M:none; fi; true';
}

export function parseQuery(out: string): PackageQuery {
  const res: PackageQuery = { installed: {}, candidate: {} };
  let block = '';
  let candidates = false;
  for (const line of out.split('\n')) {
    if (line === 'C:') candidates = true;
    if (!candidates) {
      const m = /^M:(apt|dnf|yum)$/.exec(line);
      if (m) res.manager = m[1] as Manager;
      const q = /^Q:([^\t]+)\t([^\t]*)\t(.*)$/.exec(line);
      if (q && /install ok installed/.test(q[2] as string)) res.installed[q[1] as string] = q[3] as string;
      continue;
    }
    const c = line;
    const head = /^(\S+):$/.exec(c);
    if (head) block = head[1] as string;
    const cand = /^\s+Candidate:\s+(\S+)/.exec(c);
    if (cand && block && cand[1] !== '(none)') res.candidate[block] = cand[1] as string;
    const upd = /^(\S+)\.(?:x86_64|aarch64|noarch|i686|s390x|ppc64le)\s+(\S+)\s+\S+\s*$/.exec(c);
    if (upd) res.candidate[upd[1] as string] = upd[2] as string;
  }
  return res;
}

export interface PackagePlan {
  manager: Manager;
  install: string[];
  upgrade: string[];
  remove: string[];
}

/** What the state asks, given what is installed. */
export function planPackages(pkgs: readonly string[], state: PackageArgs['state'], q: PackageQuery, manager: Manager): PackagePlan {
  const has = (p: string) => q.installed[p] !== undefined;
  const absent = state === 'absent' || state === 'removed';
  return {
    manager,
    install: absent ? [] : pkgs.filter((p) => !has(p)),
    upgrade: state === 'latest' ? pkgs.filter((p) => has(p) && q.candidate[p] !== undefined && q.candidate[p] !== q.installed[p]) : [],
    remove: absent ? pkgs.filter(has) : [],
  };
}

const listed = (q: PackageQuery, pkgs: readonly string[]) => pkgs.map((p) => `${p} ${q.installed[p] ?? '(not installed)'}\n`).join('');

function makeCheck(only?: Manager) {
  return async (ctx: ModuleContext, a: z.infer<typeof dnfArgs> & { use?: PackageArgs['use'] }): Promise<Checked<PackagePlan>> => {
    const forced = only ?? (a.use && a.use !== 'auto' ? a.use : undefined);
    const r = await run(ctx, queryCommand(a.name, a.state === 'latest', forced), { become: false });
    const q = parseQuery(r.stdout);
    if (!q.manager) return failed('E_MODULE', forced ? `${forced} is not this host's package manager` : `no supported package manager (apt-get, dnf, yum) on this host: ${firstErrorLine(r)}`);
    const plan = planPackages(a.name, a.state, q, q.manager);
    const data = { manager: q.manager, installed: q.installed };
    const what = [...plan.install.map((p) => `install ${p}`), ...plan.upgrade.map((p) => `upgrade ${p} to ${q.candidate[p]}`), ...plan.remove.map((p) => `remove ${p}`)];
    if (!what.length) return { status: 'ok', msg: `${a.name.join(', ')}: already ${a.state}`, data };
    const after = a.name.map((p) => `${p} ${plan.remove.includes(p) ? '(not installed)' : plan.install.includes(p) ? (q.candidate[p] ?? '(repository version)') : plan.upgrade.includes(p) ? q.candidate[p] : q.installed[p]}\n`).join('');
    const diff: DiffEntry[] = [{ path: `packages (${q.manager})`, before: listed(q, a.name), after }];
    return { status: 'changed', msg: `${ctx.check ? 'would' : 'will'} ${what.join(', ')} (${q.manager})`, diff, data, plan };
  };
}

function commandsFor(plan: PackagePlan, updateCache: boolean): string[] {
  const q = (l: string[]) => l.map(shellQuote).join(' ');
  if (plan.manager === 'apt') {
    const apt = 'DEBIAN_FRONTEND=noninteractive apt-get -y -q';
    return [
      ...(updateCache && (plan.install.length || plan.upgrade.length) ? ['apt-get update -q'] : []),
      ...(plan.install.length ? [`${apt} install ${q(plan.install)}`] : []),
      ...(plan.upgrade.length ? [`${apt} install --only-upgrade ${q(plan.upgrade)}`] : []),
      ...(plan.remove.length ? [`${apt} remove ${q(plan.remove)}`] : []),
    ];
  }
  const m = plan.manager;
  return [
    ...(plan.install.length ? [`${m} -y install ${q(plan.install)}`] : []),
    ...(plan.upgrade.length ? [`${m} -y upgrade ${q(plan.upgrade)}`] : []),
    ...(plan.remove.length ? [`${m} -y remove ${q(plan.remove)}`] : []),
  ];
}

async function apply(ctx: ModuleContext, a: z.infer<typeof dnfArgs>, plan: PackagePlan, checked: Checked<PackagePlan>): Promise<ModuleOutcome> {
  const keep = { diff: checked.diff ?? [], data: checked.data ?? {} };
  for (const cmd of commandsFor(plan, a.update_cache)) {
    const r = await run(ctx, `${cmd} 2>&1`);
    if (r.code !== 0) return { ...keep, ...failed('E_MODULE', `${cmd} failed (rc ${r.code}): ${firstErrorLine(r)}`, { rc: r.code, stdout: r.stdout }) };
  }
  const now = parseQuery((await run(ctx, queryCommand(a.name, false, plan.manager), { become: false })).stdout);
  const wrong = [...plan.install, ...plan.upgrade].filter((p) => now.installed[p] === undefined).concat(plan.remove.filter((p) => now.installed[p] !== undefined));
  if (wrong.length) return { ...keep, ...failed('E_MODULE', `verification failed: ${wrong.join(', ')} not ${a.state} after ${plan.manager}`) };
  return { ...keep, status: 'changed', msg: `${[...plan.install, ...plan.upgrade].map((p) => `${p} ${now.installed[p]}`).concat(plan.remove.map((p) => `${p} removed`)).join(', ')} (${plan.manager})`, data: { ...keep.data, installed: now.installed } };
}

export const packageModule: Module<PackageArgs, PackagePlan> = { name: 'package', schema: packageArgs, check: makeCheck(), apply };
export const aptModule: Module<z.infer<typeof aptArgs>, PackagePlan> = { name: 'apt', schema: aptArgs, check: makeCheck('apt'), apply };
export const dnfModule: Module<z.infer<typeof dnfArgs>, PackagePlan> = { name: 'dnf', schema: dnfArgs, check: makeCheck('dnf'), apply };
export const yumModule: Module<z.infer<typeof dnfArgs>, PackagePlan> = { name: 'yum', schema: dnfArgs, check: makeCheck('yum'), apply };
