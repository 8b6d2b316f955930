/**
 * Ansible as the oracle (issue 23 §8): the same playbook, the same INI inventory and the same
 * real sshd hosts (sshd-fleet.ts) run once by `ansible-playbook` and once by `fleetmend run`; both
 * results are reduced to one row per (host, task occurrence) — ok / changed / skipped / failed,
 * plus the before/after of a diff where the module produced one — and compared.
 *
 * The fleet's hosts are this machine seen through private mount namespaces: /etc/audit, the unit
 * directories, /var/log and /proc are each host's own (mountns.ts), everything else — /tmp, the
 * rest of /etc — is the machine's. A playbook run here therefore writes only below /etc/audit or
 * below its host's `oracle_root` (a per-test directory under /tmp, one per host).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { runCli } from './cli.js';
import type { FleetHost, SshdFleet } from './sshd-fleet.js';

export const ANSIBLE_PLAYBOOK = '/usr/bin/ansible-playbook';

/** Why the oracle cannot run here, or null when it can. */
export function ansibleUnavailableReason(): string | null {
  return existsSync(ANSIBLE_PLAYBOOK) ? null : `${ANSIBLE_PLAYBOOK} is missing (apt-get install -y ansible-core)`;
}

export type OracleStatus = 'ok' | 'changed' | 'skipped' | 'failed' | 'unreachable';

export interface OracleRow {
  host: string;
  task: string;
  status: OracleStatus;
  /** The tool's message for the row (for failure reports; never compared). */
  msg?: string;
  /** Before/after texts of the task's diffs (files), when the tool reported any. */
  diff?: { before: string; after: string }[];
}

export interface OracleRun {
  tool: 'ansible' | 'fleetmend';
  code: number | null;
  rows: OracleRow[];
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  check?: boolean;
  diff?: boolean;
  /** JSON extra vars (`-e '{...}'`), the same for both tools. */
  extraVars?: Record<string, unknown>;
  /** `--skip-tags`, the same for both tools. */
  skipTags?: string[];
  /** Kill bound for one tool's run (default 120 s). */
  timeoutMs?: number;
}

/** One workspace per test file: inventory, the hosts' roots, both tools' homes. */
export interface OracleWorkspace {
  dir: string;
  inventoryPath: string;
  /** Per host: the directory its playbook tasks may write to (`oracle_root` host var). */
  roots: Map<string, string>;
}

/**
 * Ansible's `ssh` must check host keys against the fleet's known_hosts (never the developer's),
 * with host key checking on: StrictHostKeyChecking=yes refuses an unknown or changed key.
 */
function sshCommonArgs(fleet: SshdFleet): string {
  return `-o UserKnownHostsFile=${fleet.knownHostsPath} -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes`;
}

function iniHostLine(fleet: SshdFleet, h: FleetHost, root: string, become: boolean): string {
  const vars: [string, string][] = [
    ['ansible_host', h.address],
    ['ansible_port', String(h.port)],
    ['ansible_user', fleet.userName],
    ['ansible_ssh_private_key_file', fleet.clientKeyPath],
    ['ansible_ssh_common_args', `'${sshCommonArgs(fleet)}'`],
    // The host is this machine: its python3, without Ansible's interpreter discovery warning.
    ['ansible_python_interpreter', '/usr/bin/python3'],
    ['oracle_root', root],
  ];
  if (become) vars.push(['ansible_become', 'true']);
  return [h.name, ...vars.map(([k, v]) => `${k}=${v}`)].join(' ');
}

/** Writes the INI inventory (group `oracle`) both tools read, and one empty root per host. */
export async function oracleWorkspace(fleet: SshdFleet, dir: string, opts: { become?: boolean } = {}): Promise<OracleWorkspace> {
  await mkdir(dir, { recursive: true });
  // mkdtemp makes 0700: the fleet's account must reach the roots below it.
  await chmod(dir, 0o755);
  // The fleet's account writes the roots and Ansible's remote temp files: world-writable, sticky.
  const remoteTmp = join(dir, 'remote-tmp');
  await mkdir(remoteTmp, { recursive: true });
  await chmod(remoteTmp, 0o1777);
  const roots = new Map<string, string>();
  const lines = ['# fleetmend ansible oracle (generated)', '[oracle]'];
  for (const h of fleet.hosts) {
    const root = join(dir, 'roots', h.name);
    roots.set(h.name, root);
    lines.push(iniHostLine(fleet, h, root, opts.become ?? false));
  }
  lines.push('', '[oracle:vars]', `ansible_remote_tmp=${remoteTmp}`);
  const inventoryPath = join(dir, 'inventory.ini');
  await writeFile(inventoryPath, lines.join('\n') + '\n');
  await resetRoots({ dir, inventoryPath, roots });
  return { dir, inventoryPath, roots };
}

/** Empties every host's root (between the two tools' applies); the fleet's account writes it. */
export async function resetRoots(ws: OracleWorkspace): Promise<void> {
  for (const root of ws.roots.values()) {
    await rm(root, { recursive: true, force: true });
    await mkdir(root, { recursive: true });
    await chmod(root, 0o1777);
  }
}

/** Every regular file below each host's root, path relative to the root -> content. */
export async function snapshotRoots(ws: OracleWorkspace): Promise<Record<string, Record<string, string>>> {
  const out: Record<string, Record<string, string>> = {};
  for (const [host, root] of ws.roots) out[host] = await snapshotTree(root);
  return out;
}

/** Every regular file below `dir`, path relative to it -> content. */
export async function snapshotTree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const file of await listFiles(dir)) out[relative(dir, file)] = await readFile(file, 'utf8');
  return out;
}

/** Puts `dir` back as `snapshot` saw it: files it did not have removed, the others rewritten. */
export async function restoreTree(dir: string, snapshot: Record<string, string>): Promise<void> {
  for (const file of await listFiles(dir)) if (!(relative(dir, file) in snapshot)) await rm(file, { force: true });
  for (const [rel, content] of Object.entries(snapshot)) await writeFile(join(dir, rel), content);
}

async function listFiles(dir: string, depth = 0): Promise<string[]> {
  if (depth > 8) return [];
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(p, depth + 1)));
    else if (e.isFile()) out.push(p);
  }
  return out.sort();
}

/** Runs `argv` with a kill bound; resolves with exit code (null when killed) and output. */
function spawnBounded(argv: string[], env: NodeJS.ProcessEnv, cwd: string, timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const [cmd, ...args] = argv;
  const child = spawn(cmd as string, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => {
    // detached: a process group of its own, so the bound also ends ansible's ssh children.
    const killer = setTimeout(() => child.pid && process.kill(-child.pid, 'SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * ansible-core ships no `json` stdout callback (it lives in the ansible.posix collection, not
 * installed here): this one writes the same document shape — plays[].tasks[].hosts[name] = the
 * module's result, with `skipped`/`unreachable` set as the callback events say — except that a
 * role's task is named by its own name, its role apart (json says `role : name`), so the rows
 * compare with fleetmend's task names whatever either prints before them.
 */
const ORACLE_CALLBACK = `
import json
from ansible.plugins.callback import CallbackBase

class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'stdout'
    CALLBACK_NAME = 'oracle_json'

    def __init__(self, display=None):
        super(CallbackModule, self).__init__(display)
        self.plays = []

    def v2_playbook_on_play_start(self, play):
        self.plays.append({'play': {'name': play.get_name()}, 'tasks': []})

    def _task(self, task, handler):
        # The task's own name: get_name() would prefix "role : " (the default callback's display).
        role = task._role.get_name() if task._role else None
        return {'task': {'name': task.name or task.action, 'role': role, 'handler': handler}, 'hosts': {}}

    def v2_playbook_on_task_start(self, task, is_conditional):
        self.plays[-1]['tasks'].append(self._task(task, False))

    def v2_playbook_on_handler_task_start(self, task):
        self.plays[-1]['tasks'].append(self._task(task, True))

    def _record(self, result, **flags):
        r = dict(result._result)
        r.update(flags)
        self.plays[-1]['tasks'][-1]['hosts'][result._host.get_name()] = r

    def v2_runner_on_ok(self, result):
        self._record(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, failed=True)

    def v2_runner_on_skipped(self, result):
        self._record(result, skipped=True)

    def v2_runner_on_unreachable(self, result):
        self._record(result, unreachable=True)

    def v2_playbook_on_stats(self, stats):
        hosts = sorted(stats.processed.keys())
        summary = dict((h, stats.summarize(h)) for h in hosts)
        self._display.display(json.dumps({'plays': self.plays, 'stats': summary}, default=str, indent=2))
`;

/** ansible-playbook with the oracle's JSON stdout callback, its config from the environment only. */
export async function runAnsible(ws: OracleWorkspace, playbook: string, o: RunOptions = {}): Promise<OracleRun> {
  const home = join(ws.dir, 'ansible-home');
  const plugins = join(home, 'callback_plugins');
  await mkdir(plugins, { recursive: true });
  await writeFile(join(plugins, 'oracle_json.py'), ORACLE_CALLBACK);
  const argv = [ANSIBLE_PLAYBOOK, '-i', ws.inventoryPath, playbook];
  if (o.check) argv.push('--check');
  if (o.diff) argv.push('--diff');
  if (o.extraVars) argv.push('-e', JSON.stringify(o.extraVars));
  if (o.skipTags?.length) argv.push('--skip-tags', o.skipTags.join(','));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    LANG: 'C.UTF-8',
    // An ansible.cfg in a parent directory or the developer's home must not change the result.
    ANSIBLE_CONFIG: join(home, 'none.cfg'),
    ANSIBLE_CALLBACK_PLUGINS: plugins,
    ANSIBLE_STDOUT_CALLBACK: 'oracle_json',
    ANSIBLE_HOST_KEY_CHECKING: 'True',
    ANSIBLE_LOCAL_TEMP: join(home, 'tmp'),
    ANSIBLE_RETRY_FILES_ENABLED: 'False',
    ANSIBLE_NOCOLOR: '1',
    ANSIBLE_TIMEOUT: '20',
    // Ansible's default ssh args without -C, with its connection-sharing master outliving the run by 10 s,
    // not 60: no ssh of a finished test lingers against the next test's hosts.
    ANSIBLE_SSH_ARGS: '-o ControlMaster=auto -o ControlPersist=10s',
    // sudo without a tty, and no temp files the become user could not read.
    ANSIBLE_PIPELINING: 'True',
  };
  const r = await spawnBounded(argv, env, ws.dir, o.timeoutMs ?? 120_000);
  return { tool: 'ansible', ...r, rows: r.code === null ? [] : parseAnsibleJson(r.stdout) };
}

/** `fleetmend run --json` in-process, against the same inventory and known_hosts. */
export async function runFleetmend(ws: OracleWorkspace, fleet: SshdFleet, playbook: string, o: RunOptions = {}): Promise<OracleRun> {
  const home = join(ws.dir, 'fleetmend-home');
  await mkdir(home, { recursive: true });
  const argv = ['run', playbook, '-i', ws.inventoryPath, '--known-hosts', fleet.knownHostsPath, '--no-store', '--json', '-q', '--connect-timeout', '20', '--command-timeout', '20'];
  if (o.check) argv.push('--check');
  if (o.diff) argv.push('--diff');
  if (o.extraVars) argv.push('-e', JSON.stringify(o.extraVars));
  if (o.skipTags?.length) argv.push('--skip-tags', o.skipTags.join(','));
  const bound = o.timeoutMs ?? 120_000;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`fleetmend run did not finish within ${bound} ms`)), bound)));
  try {
    const r = await Promise.race([runCli(argv, { ...process.env, HOME: home }), timeout]);
    return { tool: 'fleetmend', ...r, rows: parseFleetmendJson(r.stdout) };
  } finally {
    clearTimeout(timer);
  }
}

// --- normalising the two reports ------------------------------------------------------------

interface AnsibleHostResult {
  msg?: unknown;
  changed?: boolean;
  failed?: boolean;
  skipped?: boolean;
  unreachable?: boolean;
  results?: AnsibleHostResult[];
  diff?: AnsibleDiff | AnsibleDiff[];
}
interface AnsibleDiff {
  before?: unknown;
  after?: unknown;
}
interface AnsibleJson {
  plays: { tasks: { task: { name: string }; hosts: Record<string, AnsibleHostResult> }[] }[];
}

/**
 * Ansible's status of one host's task result, as its default callback counts it: unreachable,
 * failed, skipped (a loop only when every item was), changed, else ok.
 */
export function ansibleStatus(r: AnsibleHostResult): OracleStatus {
  if (r.unreachable) return 'unreachable';
  if (r.failed) return 'failed';
  if (r.skipped) return 'skipped';
  if (r.changed) return 'changed';
  return 'ok';
}

/**
 * File attributes both tools report as a diff entry, in one form: the keys that changed,
 * `mode=640 owner=root group=adm` (Ansible: a mapping `{mode: '0640'}` per side; fleetmend: a
 * `PATH (attributes)` entry `mode 640, owner root:adm`). Modes without leading zeros.
 */
function attrForm(before: Record<string, string>, after: Record<string, string>): { before: string; after: string } {
  const keys = ['mode', 'owner', 'group'].filter((k) => after[k] !== undefined && after[k] !== before[k]);
  const side = (m: Record<string, string>) => keys.map((k) => `${k}=${m[k] ?? ''}`).join(' ');
  return { before: side(before), after: side(after) };
}

function attrMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries((v ?? {}) as Record<string, unknown>)) if (x !== undefined && x !== null) out[k] = k === 'mode' ? String(x).replace(/^0+(?=\d)/, '') : String(x);
  return out;
}

function ansibleDiffs(r: AnsibleHostResult): { before: string; after: string }[] {
  const all = [...(r.diff === undefined ? [] : Array.isArray(r.diff) ? r.diff : [r.diff]), ...(r.results ?? []).flatMap((i) => (i.diff === undefined ? [] : Array.isArray(i.diff) ? i.diff : [i.diff]))];
  return all.flatMap((d) => {
    if (typeof d.before === 'string' || typeof d.after === 'string') return [{ before: String(d.before ?? ''), after: String(d.after ?? '') }];
    if (d.before && d.after && typeof d.before === 'object' && typeof d.after === 'object') {
      const a = attrForm(attrMap(d.before), attrMap(d.after));
      return a.after ? [a] : [];
    }
    return [];
  });
}

/** fleetmend's `PATH (attributes)` entry (`mode 640, owner root:adm`) in the form above. */
function fleetmendDiff(d: { path?: string; before: string; after: string }): { before: string; after: string } {
  if (!d.path?.endsWith(' (attributes)')) return { before: d.before, after: d.after };
  const parse = (t: string): Record<string, string> => {
    const m = /mode (\S+), owner ([^:\s]+):(\S+)/.exec(t);
    return m ? { mode: (m[1] as string).replace(/^0+(?=\d)/, ''), owner: m[2] as string, group: m[3] as string } : {};
  };
  return attrForm(parse(d.before), parse(d.after));
}

/** Rows of the `json` callback's document (stdout), in play and task order. */
export function parseAnsibleJson(stdout: string): OracleRow[] {
  // The callback prints one document at the end; warnings go to stderr.
  const start = stdout.indexOf('{');
  if (start < 0) return [];
  const doc = JSON.parse(stdout.slice(start)) as AnsibleJson;
  const rows: OracleRow[] = [];
  for (const play of doc.plays) {
    for (const t of play.tasks) {
      for (const [host, r] of Object.entries(t.hosts)) {
        const diff = ansibleDiffs(r);
        const msg = r.msg === undefined ? undefined : String(r.msg);
        rows.push({ host, task: t.task.name, status: ansibleStatus(r), ...(msg !== undefined ? { msg } : {}), ...(diff.length ? { diff } : {}) });
      }
    }
  }
  return rows;
}

interface FleetmendJson {
  hosts: { host: string; status: string; tasks?: { task: string; status: OracleStatus; msg?: string; diff?: { path?: string; before: string; after: string }[] }[] }[];
}

/**
 * fleetmend lists every task of a play for every host, those after the host failed as skipped
 * with this message (src/playbook/run.ts); Ansible's report has no row for them.
 */
const NOT_ATTEMPTED = 'host failed earlier in the play';

/** Rows of `fleetmend run --json` (README "JSON output"), without the never-attempted tasks. */
export function parseFleetmendJson(stdout: string): OracleRow[] {
  if (!stdout.trim().startsWith('{')) return [];
  const doc = JSON.parse(stdout) as FleetmendJson;
  return doc.hosts.flatMap((h) =>
    (h.tasks ?? []).filter((t) => !(t.status === 'skipped' && t.msg === NOT_ATTEMPTED)).map((t) => ({ host: h.host, task: t.task, status: t.status, ...(t.msg !== undefined ? { msg: t.msg } : {}), ...(t.diff?.length ? { diff: t.diff.map(fleetmendDiff) } : {}) })),
  );
}

/** `host / task #n -> status`, in each host's task order (a task name may repeat). */
export function statusTable(rows: readonly OracleRow[]): Record<string, OracleStatus> {
  const seen = new Map<string, number>();
  const out: Record<string, OracleStatus> = {};
  for (const r of rows) {
    const key = `${r.host} / ${r.task}`;
    const n = (seen.get(key) ?? 0) + 1;
    seen.set(key, n);
    out[n === 1 ? key : `${key} #${n}`] = r.status;
  }
  return out;
}

/** `host / task -> diffs`, for the rows where both tools reported a diff. */
export function diffTable(rows: readonly OracleRow[]): Record<string, { before: string; after: string }[]> {
  const out: Record<string, { before: string; after: string }[]> = {};
  for (const r of rows) if (r.diff) out[`${r.host} / ${r.task}`] = r.diff;
  return out;
}

/** Human-readable divergences of `b` from the oracle `a`, sorted (empty: they agree). */
export function divergences(a: OracleRun, b: OracleRun): string[] {
  const ta = statusTable(a.rows);
  const tb = statusTable(b.rows);
  const out: string[] = [];
  for (const k of new Set([...Object.keys(ta), ...Object.keys(tb)])) {
    if (ta[k] !== tb[k]) out.push(`${k}: ${a.tool} ${ta[k] ?? '(absent)'}, ${b.tool} ${tb[k] ?? '(absent)'}`);
  }
  const da = diffTable(a.rows);
  const db = diffTable(b.rows);
  for (const k of Object.keys(da)) {
    if (db[k] && JSON.stringify(da[k]) !== JSON.stringify(db[k])) out.push(`${k}: diffs differ\n${a.tool}: ${JSON.stringify(da[k])}\n${b.tool}: ${JSON.stringify(db[k])}`);
  }
  // Ansible lists a task's hosts in the order they answered: sorted, the list is stable.
  return out.sort();
}
