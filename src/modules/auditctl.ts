/**
 * `auditctl`: declarative runtime audit settings (reference §5), optionally persisted in a
 * rules.d file. Reads the current state, changes only what differs, verifies after applying.
 * Guards (reference §3–§5), enforced here whatever the playbook says, in check mode too:
 * lock (enabled 2), memory (limit × 8970 B vs MemAvailable), panic (failure 2 on a host that is
 * losing records or close to it), growth (raising the limit on a host whose backlog grows).
 */
import { z } from 'zod';
import { FleetmendError } from '../errors.js';
import { parseAuditctlError } from '../facts/auditctl.js';
import type { AuditStatus, MemInfo } from '../facts/types.js';
import { BYTES_PER_BUFFER, limitBytes } from '../diagnosis/concepts.js';
import {
  boolLike,
  firstErrorLine,
  intLike,
  mib,
  readAuditStatus,
  run,
  sampleStatus,
  shellQuote,
} from './common.js';
import { auditdStall, backlogGrowing as growing, handful } from '../diagnosis/concepts.js';
import { failed, type Checked, type DiffEntry, type Module, type ModuleContext, type ModuleOutcome } from './types.js';

const int = (min: number, max: number) => z.preprocess(intLike, z.number().int().min(min).max(max));

export const auditctlArgs = z
  .object({
    backlog_limit: int(1, 4_194_304).optional(),
    failure: int(0, 2).optional(),
    enabled: int(0, 2).optional(),
    backlog_wait_time: int(0, 600_000).optional(),
    persist: z.preprocess(boolLike, z.boolean()).default(false),
    rules_file: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*\.rules$/, 'rules_file must be a plain file name ending in .rules')
      // augenrules concatenates rules.d in C-locale order and the LAST -b/-f/--backlog_wait_time
      // wins (augenrules(8)); Debian's own file is rules.d/audit.rules, which sorts after every
      // numbered file, so a "90-..." file would be silently overridden there. `zz-` sorts last.
      .default('zz-fleetmend.rules'),
  })
  .strict()
  .refine(
    (a) => a.backlog_limit !== undefined || a.failure !== undefined || a.enabled !== undefined || a.backlog_wait_time !== undefined,
    { message: 'auditctl needs at least one of backlog_limit, failure, enabled, backlog_wait_time' },
  );
export type AuditctlArgs = z.infer<typeof auditctlArgs>;

type Field = 'backlog_limit' | 'backlog_wait_time' | 'failure' | 'enabled';
/** Order of application: the limit first, the panic mode and the lock (`-e 2`) last. */
const FIELDS: readonly { field: Field; flag: string }[] = [
  { field: 'backlog_limit', flag: '-b' },
  { field: 'backlog_wait_time', flag: '--backlog_wait_time' },
  { field: 'failure', flag: '-f' },
  { field: 'enabled', flag: '-e' },
];

export interface RuntimeChange {
  field: Field;
  flag: string;
  from: number | undefined;
  to: number;
}

export interface PersistPlan {
  path: string;
  before: string;
  after: string;
  changed: boolean;
  /** Files loaded after ours that set one of our options (they would win). */
  overriddenBy: string[];
}

const RULES_DIR = '/etc/audit/rules.d';

/** C-locale order, as augenrules reads rules.d. */
function cOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `grep -H` output → later files (than ours) setting one of the options we persist. */
export function laterOverrides(grepOutput: string, ours: string, args: AuditctlArgs): string[] {
  const flags = FIELDS.filter(({ field }) => field !== 'enabled' && args[field] !== undefined).map(({ flag }) => flag);
  const out = new Set<string>();
  for (const line of grepOutput.split('\n')) {
    const m = /^(\/etc\/audit\/rules\.d\/[^:]+):\s*(-b|-f|--backlog_wait_time)\s+\d+/.exec(line);
    if (!m) continue;
    const file = m[1] as string;
    if (file !== ours && cOrder(file, ours) > 0 && flags.includes(m[2] as string)) out.add(`${file} (${m[2]})`);
  }
  return [...out];
}

export interface AuditctlPlan {
  changes: RuntimeChange[];
  persist?: PersistPlan;
  /** The lock forbids runtime changes, but files can still be written for the next boot. */
  locked: boolean;
}

export function runtimeChanges(status: AuditStatus, args: AuditctlArgs): RuntimeChange[] {
  const out: RuntimeChange[] = [];
  for (const { field, flag } of FIELDS) {
    const to = args[field];
    if (to !== undefined && status[field] !== to) out.push({ field, flag, from: status[field], to });
  }
  return out;
}

export function rulesFileContent(args: AuditctlArgs): string {
  const lines = ['## Managed by fleetmend (auditctl module); changes here are overwritten.'];
  for (const { field, flag } of FIELDS) {
    const v = args[field];
    if (v !== undefined) lines.push(`${flag} ${v}`);
  }
  return lines.join('\n') + '\n';
}

export { handful };

/** Two status samples, read with the shared definition of "growing" (diagnosis/concepts). */
export function backlogGrowing(s1: AuditStatus, s2: AuditStatus): boolean {
  return growing(s1.backlog, s2.backlog, s2.backlog_limit);
}

/**
 * Why `-f 2` would panic this host (reference §3: the change itself emits a record that cannot
 * be queued on a host that is losing records). Empty when it is safe.
 */
export function panicRisks(s1: AuditStatus, s2: AuditStatus, auditdState?: string): string[] {
  const reasons: string[] = [];
  if (s2.pid === 0) reasons.push('no auditd is registered (pid 0): nothing drains the queue');
  // On kernel 6.1 a registered auditd that does not read loses records silently every pass
  // while backlog may read near 0: the first counted loss would panic (kernel-6.1-queue §0).
  const stall = s2.pid !== 0 ? auditdStall(auditdState) : undefined;
  if (stall === 'stopped') reasons.push(`auditd (pid ${s2.pid}) is stopped (state ${auditdState}): it does not drain the queue`);
  if (stall === 'blocked-io') reasons.push(`auditd (pid ${s2.pid}) is blocked in I/O (state D): it does not drain the queue`);
  if (s2.lost > s1.lost) reasons.push(`records are being lost (lost ${s1.lost} -> ${s2.lost} between two samples)`);
  const peak = Math.max(s1.backlog, s2.backlog);
  if (peak > s2.backlog_limit / 2) reasons.push(`backlog ${peak} is above half the limit ${s2.backlog_limit}`);
  if (backlogGrowing(s1, s2)) reasons.push(`backlog is growing (${s1.backlog} -> ${s2.backlog})`);
  const w1 = s1.backlog_wait_time_actual;
  const w2 = s2.backlog_wait_time_actual;
  if (w1 !== undefined && w2 !== undefined && w2 > w1) {
    reasons.push(`tasks are waiting for a full queue (backlog_wait_time_actual ${w1} -> ${w2})`);
  }
  return reasons;
}

export const GROWTH_WARNING =
  'raising backlog_limit on a host whose backlog is growing only delays the failure: auditd is not draining the queue; restart auditd (service: {name: auditd, state: restarted})';

function runtimeDiff(changes: readonly RuntimeChange[]): DiffEntry {
  return {
    path: 'auditctl -s',
    before: changes.map((c) => `${c.field} ${c.from ?? '(unset)'}\n`).join(''),
    after: changes.map((c) => `${c.field} ${c.to}\n`).join(''),
  };
}

/**
 * Our rules file and the option lines of every rules.d file, read in ONE command with shell
 * builtins only (`read`, `case`, a glob, `<`): on a stalled host every program start waits for
 * the full queue (kernel-6.1-queue §0), and `cat` + `grep` were two more sessions and programs
 * on top of the probe's. Prints `F:line` per line of our file, `E:why` when it exists but cannot
 * be read, and `O:file:line` per `-b`/`-e`/`-f`/`--backlog_wait_time` line of any rules.d file.
 */
export function persistReadCommand(path: string): string {
  return [
    `fm_p=${shellQuote(path)}`,
    'if [ -r "$fm_p" ]; then',
    `  while IFS= read -r fm_l || [ -n "$fm_l" ]; do printf 'F:%s\\n' "$fm_l"; done < "$fm_p"`,
    `elif [ -e "$fm_p" ]; then echo "E:cannot read $fm_p"; fi`,
    `for fm_f in ${RULES_DIR}/*.rules; do`,
    '  if [ -r "$fm_f" ]; then',
    `    while read -r fm_l || [ -n "$fm_l" ]; do case $fm_l in -b*|-e*|-f*|--backlog_wait_time*) printf 'O:%s:%s\\n' "$fm_f" "$fm_l";; esac; done < "$fm_f"`,
    '  fi',
    'done',
  ].join('\n');
}

/** persistReadCommand's output → our file's text, the `file:line` option lines, a read error. */
export function parsePersistRead(out: string): { before: string; options: string; error?: string } {
  let before = '';
  const options: string[] = [];
  let error: string | undefined;
  for (const line of out.split('\n')) {
    if (line.startsWith('F:')) before += `${line.slice(2)}\n`;
    else if (line.startsWith('O:')) options.push(line.slice(2));
    else if (line.startsWith('E:')) error = line.slice(2);
  }
  return { before, options: options.join('\n'), ...(error !== undefined ? { error } : {}) };
}

async function planPersist(ctx: ModuleContext, args: AuditctlArgs): Promise<PersistPlan> {
  const path = `${RULES_DIR}/${args.rules_file}`;
  const r = await run(ctx, persistReadCommand(path));
  const read = parsePersistRead(r.stdout);
  if (read.error !== undefined || r.code !== 0) {
    throw new FleetmendError('E_MODULE', `cannot read ${path}: ${read.error ?? firstErrorLine(r)}`, { host: ctx.host });
  }
  const after = rulesFileContent(args);
  return { path, before: read.before, after, changed: read.before !== after, overriddenBy: laterOverrides(read.options, path, args) };
}

/** The memory guard, on the sample's /proc/meminfo (an estimate, before kernel 3.14, does not count). */
export function memoryGuard(ctx: ModuleContext, limit: number, memory: MemInfo | undefined): ModuleOutcome | string | undefined {
  const availKb = memory && !memory.mem_available_estimated ? memory.mem_available_kb : undefined;
  if (availKb === undefined) return 'MemAvailable is not reported by this kernel: the memory guard could not check the limit';
  const pinned = limitBytes(limit);
  const allowed = ctx.play.memoryShare * availKb * 1024;
  if (pinned <= allowed) return undefined;
  return failed(
    'E_GUARD',
    `memory guard: backlog_limit ${limit} may pin ${mib(pinned)} (${limit} x ${BYTES_PER_BUFFER} bytes), more than ` +
      `${Math.round(ctx.play.memoryShare * 100)}% of MemAvailable ${mib(availKb * 1024)} (${mib(allowed)}); refused`,
    { data: { pinned_bytes: pinned, mem_available_kb: availKb, memory_share: ctx.play.memoryShare } },
  );
}

async function check(ctx: ModuleContext, args: AuditctlArgs): Promise<Checked<AuditctlPlan>> {
  // the probe's round trip (or the fresh sample a task before took): status, memory, auditd's state
  const first = await ctx.session.sample(ctx.become);
  const s1 = sampleStatus(ctx, first);
  const changes = runtimeChanges(s1, args);
  const persist = args.persist ? await planPersist(ctx, args) : undefined;
  const data: Record<string, unknown> = { before: s1 };
  if (persist?.overriddenBy.length) {
    // Writing it would "succeed" and then be undone at the next load: refuse, say why.
    return failed(
      'E_MODULE',
      `persist: ${persist.overriddenBy.join(', ')} sorts after ${persist.path} and would override it when the rules load; ` +
        'choose a rules_file that sorts later or remove that line',
      { data },
    );
  }
  if (!changes.length && !persist?.changed) return { status: 'ok', msg: 'audit settings already as desired', data };
  const locked = s1.enabled === 2;
  // A locked host is refused as a whole, in check mode as in apply (raise-backlog-limit.yml's
  // header): a rules file written now would load only at the next boot, a change nobody sees
  // take effect, so it is not reported as `changed` either (issue 24 item 8).
  if (locked && (changes.length || persist?.changed)) {
    const what = [...changes.map((c) => `${c.flag} ${c.to}`), ...(persist?.changed ? [`writing ${persist.path} (it would load only at the next boot)`] : [])];
    return failed('E_GUARD', `lock guard: audit configuration is locked until reboot (enabled 2); not attempting ${what.join(', ')}`, { data });
  }
  const warnings: string[] = [];
  if (args.backlog_limit !== undefined) {
    const mem = memoryGuard(ctx, args.backlog_limit, first.memory);
    if (typeof mem === 'string') warnings.push(mem);
    else if (mem) return mem;
  }
  const raising = changes.some((c) => c.field === 'backlog_limit' && c.to > (c.from ?? 0));
  const toPanic = changes.some((c) => c.field === 'failure' && c.to === 2);
  // Already in panic mode (and staying there): a lower limit or a shorter wait turns records
  // that would have waited into lost ones, and the first lost record panics the host.
  const panicMode = s1.failure === 2 && !changes.some((c) => c.field === 'failure' && c.to !== 2);
  const lowering = panicMode
    ? changes.filter((c) => (c.field === 'backlog_limit' || c.field === 'backlog_wait_time') && c.to < (c.from ?? 0))
    : [];
  if (raising || toPanic || lowering.length) {
    // Two samples: a single one cannot tell a busy host from one that stopped draining (§4).
    await ctx.clock.sleep(ctx.guardSampleMs, ctx.session.signal);
    const second = await ctx.session.takeSample(ctx.become);
    if (second.error) throw second.error;
    const s2 = sampleStatus(ctx, second.sample);
    data.second_sample = s2;
    const procState = second.sample.auditd.registered_pid_state;
    const notReading = auditdStall(procState) !== undefined;
    if (lowering.length) {
      const risks = panicRisks(s1, s2, procState);
      const newLimit = lowering.find((c) => c.field === 'backlog_limit')?.to;
      if (newLimit !== undefined && Math.max(s1.backlog, s2.backlog) + handful(newLimit) > newLimit) {
        risks.push(`backlog ${Math.max(s1.backlog, s2.backlog)} would not fit under the new limit ${newLimit} with room to spare`);
      }
      if (risks.length) {
        return failed(
          'E_GUARD',
          `panic guard: refusing ${lowering.map((c) => `${c.flag} ${c.to}`).join(', ')} on a host in failure 2 (panic): a record dropped instead of waiting would panic it: ${risks.join('; ')}`,
          { data },
        );
      }
    }
    if (toPanic) {
      const reasons = panicRisks(s1, s2, procState);
      if (reasons.length) {
        return failed('E_GUARD', `panic guard: refusing failure 2 (panic), it would panic this host: ${reasons.join('; ')}`, { data });
      }
    }
    if (raising && (notReading || backlogGrowing(s1, s2) || s2.lost > s1.lost || ctx.diagnosis?.state === 'backlog-growing')) {
      warnings.push(GROWTH_WARNING);
      data.finding = { code: 'limit-raise-delays-failure', backlog: [s1.backlog, s2.backlog], lost: [s1.lost, s2.lost] };
    }
  }
  if (changes.some((c) => c.field === 'enabled' && c.to === 2)) warnings.push('enabled 2 locks the audit configuration until reboot');
  if (changes.some((c) => c.field === 'enabled' && c.to === 0)) warnings.push('enabled 0 stops auditing: the audit trail is lost');
  const diff: DiffEntry[] = [];
  if (changes.length) diff.push(runtimeDiff(changes));
  if (persist?.changed) diff.push({ path: persist.path, before: persist.before, after: persist.after });
  const what = [...changes.map((c) => `${c.flag} ${c.to}`), ...(persist?.changed ? [`write ${persist.path}`] : [])];
  return {
    status: 'changed',
    msg: `${ctx.check ? 'would run' : 'running'}: ${what.join(', ')}`,
    diff,
    warnings,
    data,
    plan: { changes, ...(persist ? { persist } : {}), locked },
  };
}

async function applyChange(ctx: ModuleContext, c: RuntimeChange): Promise<ModuleOutcome | undefined> {
  const r = await run(ctx, `auditctl ${c.flag} ${c.to}`);
  const err = parseAuditctlError(r.code === 0 ? r.stderr : r.stderr + r.stdout, r.code);
  if (err.kind === 'none') return undefined;
  const out = { stdout: r.stdout, stderr: r.stderr, rc: r.code };
  if (err.kind === 'locked') return failed('E_GUARD', `locked until reboot: auditctl ${c.flag} ${c.to} refused (${err.detail})`, out);
  return failed('E_MODULE', `auditctl ${c.flag} ${c.to} failed: ${err.detail}`, out);
}

async function writeRules(ctx: ModuleContext, p: PersistPlan, load: boolean): Promise<ModuleOutcome | undefined> {
  const w = await run(ctx, `tee ${shellQuote(p.path)} >/dev/null`, { stdin: p.after });
  if (w.code !== 0) return failed('E_MODULE', `cannot write ${p.path}: ${firstErrorLine(w)}`, { rc: w.code, stderr: w.stderr });
  if (!load) return undefined;
  const l = await run(ctx, 'augenrules --load 2>&1');
  if (l.code !== 0) return failed('E_MODULE', `augenrules --load failed: ${firstErrorLine(l)}`, { rc: l.code, stdout: l.stdout });
  return undefined;
}

async function apply(ctx: ModuleContext, args: AuditctlArgs, plan: AuditctlPlan, checked: Checked<AuditctlPlan>): Promise<ModuleOutcome> {
  const keep = { diff: checked.diff ?? [], warnings: checked.warnings ?? [], data: checked.data ?? {} };
  for (const c of plan.changes) {
    const bad = await applyChange(ctx, c);
    if (bad) return { ...keep, ...bad };
  }
  if (plan.persist?.changed) {
    const bad = await writeRules(ctx, plan.persist, !plan.locked);
    if (bad) return { ...keep, ...bad };
  }
  const after = await readAuditStatus(ctx);
  const wrong = FIELDS.filter(({ field }) => args[field] !== undefined && after[field] !== args[field]);
  if (wrong.length && !plan.locked) {
    return {
      ...keep,
      ...failed(
        'E_MODULE',
        `verification failed: ${wrong.map(({ field }) => `${field} is ${after[field]}, expected ${args[field]}`).join('; ')}` +
          (plan.persist ? ' (does a later rules.d file override it?)' : ''),
      ),
      data: { ...keep.data, after },
    };
  }
  const what = [...plan.changes.map((c) => `${c.flag} ${c.to}`), ...(plan.persist?.changed ? [`wrote ${plan.persist.path}`] : [])];
  return { ...keep, status: 'changed', msg: `changed: ${what.join(', ')}`, data: { ...keep.data, after } };
}

export const auditctlModule: Module<AuditctlArgs, AuditctlPlan> = {
  name: 'auditctl',
  schema: auditctlArgs,
  check,
  apply,
};
