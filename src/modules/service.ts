/**
 * `service` (also `systemd`, `systemd_service`): any systemd unit — `enabled`, `state`
 * started/stopped/restarted/reloaded, `daemon_reload` — with auditd's own path below.
 * `auditd` and `auditd.service` are the same unit.
 *
 * auditd: start/stop/restart on both families (reference §5). RHEL-family units set
 * RefuseManualStop=yes, so `systemctl stop|restart auditd` fails with rc 4; their `service`
 * wrapper has a legacy action that works. Debian's unit does not refuse. Where a unit refuses
 * and `service` only forwards to systemctl, `auditctl --signal TERM` stops auditd (`--signal
 * stop` is "an unsupported signal" in 3.0.9). We read RefuseManualStop first — in check mode
 * too, so a dry run never predicts a stop that systemd will refuse — and verify the final state.
 *
 * auditd's state (its process, the pid it registered, RefuseManualStop of the unit systemd
 * loads) is read from the probe's facts (facts/defs/procs.ts, auditd-unit.ts), never with a
 * `systemctl show` or `is-active` of the module's own: on a host whose auditd stopped draining
 * every program start waits for the full queue (kernel-6.1-queue §0). systemctl stays for what
 * is the module's job, as in Ansible's systemd module: acting on a unit (start, stop, enable,
 * daemon-reload), and reading a unit that is not auditd or auditd's enablement (UnitFileState
 * is no probe fact).
 */
import { z } from 'zod';
import type { AuditStatus, FactSample } from '../facts/types.js';
import { boolLike, intLike, parseKeyValues, readAuditStatus, run, sampleStatus, shellQuote, firstErrorLine } from './common.js';
import { rulesLoadGuards } from './audit-files.js';
import { failed, type Checked, type Module, type ModuleContext, type ModuleOutcome } from './types.js';

export const serviceArgs = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9@_.:-]+$/, 'name must be a unit name').default('auditd'),
    state: z.enum(['started', 'stopped', 'restarted', 'reloaded']).optional(),
    enabled: z.preprocess(boolLike, z.boolean()).optional(),
    /** systemctl daemon-reload before anything else (not a change by itself, as in Ansible). */
    daemon_reload: z.preprocess(boolLike, z.boolean()).default(false),
    /** Restart: how long the backlog may take to fall (reference §4: 65 -> 0 within 3 s). */
    drain_timeout: z.preprocess(intLike, z.number().int().min(0).max(3600)).default(30),
    /** Restart: the backlog counts as drained at or below this many records. */
    backlog_max: z.preprocess(intLike, z.number().int().min(0)).optional(),
    /**
     * Start/restart: how long to wait (s) for the tasks asleep on the audit queue to be woken
     * before reporting. A kauditd pass with a reading daemon wakes one per pass; a task no pass
     * wakes sleeps out its backlog_wait_time (T10: 236 s), so the wait is bounded, not "until 0".
     */
    asleep_timeout: z.preprocess(intLike, z.number().int().min(0).max(600)).default(10),
  })
  .strict()
  // `auditd.service` is `auditd`: one unit, one set of guards
  .transform((a) => ({ ...a, name: a.name.replace(/\.service$/, '') }))
  .refine((a) => a.state !== undefined || a.enabled !== undefined || a.daemon_reload, 'service needs state, enabled or daemon_reload');
export type ServiceArgs = z.infer<typeof serviceArgs>;

export interface UnitState {
  active: string;
  mainPid: number;
  refuseManualStop: boolean;
  /** LoadState: `not-found` when the host has no such unit. */
  load: string;
  /** UnitFileState: enabled, disabled, static, masked… */
  fileState: string;
}

type Method = 'systemctl' | 'service';
type Action = 'start' | 'stop' | 'restart' | 'reload';
export interface ServicePlan {
  /** undefined: only the enablement changes. */
  action?: Action;
  method: Method;
  before: UnitState;
  /** enable (true) or disable (false) the unit first. */
  enable?: boolean;
  auditBefore?: AuditStatus;
}

export async function readUnit(ctx: ModuleContext, name: string): Promise<UnitState> {
  const r = await run(ctx, `systemctl show ${shellQuote(name)} -p ActiveState -p MainPID -p RefuseManualStop -p LoadState -p UnitFileState`, { become: false });
  const kv = parseKeyValues(r.stdout);
  return {
    active: kv.ActiveState ?? 'unknown',
    mainPid: Number(kv.MainPID ?? 0) || 0,
    refuseManualStop: kv.RefuseManualStop === 'yes',
    load: kv.LoadState ?? 'unknown',
    fileState: kv.UnitFileState ?? '',
  };
}

/**
 * auditd's unit state as the probe saw it: running while an auditd process exists (a stopped,
 * T, auditd is still `active` to systemd, as here), its pid the one registered with the kernel
 * (else the process found), RefuseManualStop from the unit file systemd loads. Undefined when
 * the /proc pass did not finish: an empty process list then proves nothing.
 */
export function auditdUnitOf(s: FactSample): UnitState | undefined {
  const a = s.auditd;
  if (a.ps_available === false) return undefined;
  const pid = a.registered_pid > 0 && a.registered_pid_exists ? a.registered_pid : (a.processes[0]?.pid ?? 0);
  const refuse = a.init.refuse_manual_stop;
  return { active: pid > 0 ? 'active' : 'inactive', mainPid: pid, refuseManualStop: refuse === true, load: refuse === undefined ? 'unknown' : 'loaded', fileState: '' };
}

/** auditd's state from the session's sample (`fresh`: a new one, after an action). */
async function auditdUnit(ctx: ModuleContext, fresh: boolean): Promise<UnitState | undefined> {
  if (!fresh) return auditdUnitOf(await ctx.session.sample(ctx.become));
  const got = await ctx.session.takeSample(ctx.become, 'recheck');
  if (got.error) throw got.error;
  return auditdUnitOf(got.sample);
}

/** A unit's state before acting: auditd's from the probe, unless its enablement is asked. */
async function unitBefore(ctx: ModuleContext, args: ServiceArgs): Promise<UnitState> {
  const fromProbe = args.name === 'auditd' && args.enabled === undefined ? await auditdUnit(ctx, false) : undefined;
  return fromProbe ?? readUnit(ctx, args.name);
}

/** What `state` asks of a unit in this state (Ansible: started/stopped only when not already so). */
function actionFor(state: ServiceArgs['state'], running: boolean): Action | undefined {
  if (state === 'started') return running ? undefined : 'start';
  if (state === 'stopped') return running ? 'stop' : undefined;
  if (state === 'reloaded') return running ? 'reload' : 'start';
  return state === 'restarted' ? 'restart' : undefined;
}

async function check(ctx: ModuleContext, args: ServiceArgs): Promise<Checked<ServicePlan>> {
  // Ansible's systemd module reloads systemd before reading the unit, and not in check mode;
  // it is not a change of its own (a second run must be ok), so it runs here, outside apply.
  if (args.daemon_reload && !ctx.check) {
    const r = await run(ctx, 'systemctl daemon-reload 2>&1');
    if (r.code !== 0) return failed('E_MODULE', `systemctl daemon-reload failed (rc ${r.code}): ${firstErrorLine(r)}`);
  }
  if (args.state === undefined && args.enabled === undefined) return { status: 'ok', msg: 'systemd reloaded' };
  const before = await unitBefore(ctx, args);
  const data: Record<string, unknown> = { unit: before, name: args.name };
  if (before.load === 'not-found') return failed('E_MODULE', `Could not find the requested service ${args.name}: host`, { data });
  const running = isRunning(before.active);
  const action = actionFor(args.state, running);
  const enable = args.enabled !== undefined && (before.fileState === 'enabled') !== args.enabled ? args.enabled : undefined;
  if (action === undefined && enable === undefined) return { status: 'ok', msg: `${args.name} is ${before.active}${args.enabled !== undefined ? `, ${before.fileState}` : ''}`, data };
  if (args.name !== 'auditd' || action === undefined || action === 'reload') return otherPlan(ctx, args, before, action, enable, data);
  return auditdPlan(ctx, args, before, action, enable, data);
}

/** Any unit but auditd's start/stop/restart: systemctl, RefuseManualStop reported by systemctl itself. */
function otherPlan(ctx: ModuleContext, args: ServiceArgs, before: UnitState, action: Action | undefined, enable: boolean | undefined, data: Record<string, unknown>): Checked<ServicePlan> {
  const what = [enable === undefined ? '' : enable ? 'enable' : 'disable', action ?? ''].filter(Boolean).join(' and ');
  const diff = [{ path: `service ${args.name}`, before: `${before.active}, ${before.fileState || 'unknown'}\n`, after: `${action === 'stop' ? 'inactive' : action ? 'active' : before.active}, ${enable === undefined ? before.fileState || 'unknown' : enable ? 'enabled' : 'disabled'}\n` }];
  return { status: 'changed', msg: `${ctx.check ? 'would' : 'will'} ${what} ${args.name}`, diff, data, plan: { ...(action ? { action } : {}), method: 'systemctl', before, ...(enable !== undefined ? { enable } : {}) } };
}

async function auditdPlan(ctx: ModuleContext, args: ServiceArgs, before: UnitState, action: 'start' | 'stop' | 'restart', enable: boolean | undefined, data: Record<string, unknown>): Promise<Checked<ServicePlan>> {
  const method: Method = action !== 'start' && before.refuseManualStop ? 'service' : 'systemctl';
  const warnings: string[] = [];
  if (method === 'service') {
    warnings.push(
      `unit refuses manual stop (RefuseManualStop=yes): systemctl ${action} would fail with rc 4; using "service ${args.name} ${action}", then "auditctl --signal TERM" if that is refused too`,
    );
  }
  let auditBefore: AuditStatus | undefined;
  let facts: FactSample | undefined;
  try {
    // the session's sample: the status and the kernel command line in the probe's one round trip
    facts = await ctx.session.sample(ctx.become);
    auditBefore = sampleStatus(ctx, facts);
    data.audit_before = auditBefore;
  } catch {
    // Status is only needed to verify a restart's drain; its absence fails the verification.
  }
  if (action === 'stop' && auditBefore?.failure === 2) {
    // With audit=1 on the command line records with no auditd go to the hold queue, which
    // overflows at the limit: `kauditd hold queue overflow`, lost++, and in failure 2 a panic
    // (kernel-6.1-queue §0, T28). Without audit=1 they are printed and dropped uncounted.
    if (facts?.persistent.cmdline_audit === 1) {
      return failed(
        'E_GUARD',
        'panic guard: refusing to stop auditd on a host booted with audit=1 in failure 2 (panic): without a daemon the hold queue overflows and the first lost record panics the host; set failure 1 first',
        { data },
      );
    }
  }
  if (action !== 'stop') {
    // auditd.service's ExecStartPost runs `augenrules --load`: a start loads rules.d, and meets
    // the guards a task writing those rules would (audit-files.ts)
    const g = await rulesLoadGuards(ctx, { what: `an auditd ${action} (ExecStartPost: augenrules --load)` });
    if (g.refuse) return { ...g.refuse, warnings: [...warnings, ...g.warnings], data: { ...data, ...(g.refuse.data ?? {}) } };
    warnings.push(...g.warnings);
  }
  return {
    status: 'changed',
    msg: `${ctx.check ? 'would' : 'will'} ${action} ${args.name} via ${method === 'service' ? `service ${args.name} ${action}` : `systemctl ${action}`}`,
    diff: [{ path: `service ${args.name}`, before: unitText(before.active, before.mainPid), after: predictedUnitText(action, before) }],
    warnings,
    data,
    plan: { action, method, before, ...(enable !== undefined ? { enable } : {}), ...(auditBefore ? { auditBefore } : {}) },
  };
}

/**
 * The diff's text: the unit state and its main pid. A restart leaves `active` active, so the
 * pid is what shows the change (in check mode a new one is predicted; apply shows the real one).
 */
function unitText(active: string, pid: number | string): string {
  return `${active}, MainPID ${pid === 0 ? 'none' : pid}\n`;
}

function predictedUnitText(action: Action, before: UnitState): string {
  if (action === 'stop') return unitText('inactive', 0);
  return unitText('active', before.mainPid > 0 && action === 'restart' ? `new (not ${before.mainPid})` : 'new');
}

const PAST = { start: 'started', stop: 'stopped', restart: 'restarted', reload: 'reloaded' } as const;
const REFUSED = /Operation refused|refuse manual start\/stop/i;

async function stopBySignal(ctx: ModuleContext, name: string): Promise<string | undefined> {
  const r = await run(ctx, 'auditctl --signal TERM 2>&1');
  if (r.code !== 0) return `auditctl --signal TERM failed: ${firstErrorLine(r)}`;
  if (!(await waitFor(ctx, async () => !isRunning((await auditdUnit(ctx, true))?.active ?? 'unknown'), 10_000))) {
    return `${name} still running 10 s after auditctl --signal TERM`;
  }
  return undefined;
}

/** Runs the action; returns an error text, or undefined. Records what was tried. */
async function act(ctx: ModuleContext, args: ServiceArgs, plan: ServicePlan, tried: string[]): Promise<string | undefined> {
  const name = shellQuote(args.name);
  if (plan.action !== 'start' && plan.method === 'service' && plan.before.mainPid > 0) {
    // RHEL's legacy stop sends SIGTERM without SIGCONT (unlike systemd): a SIGSTOPped auditd
    // would keep it pending and `service ... restart` would leave the same stopped daemon in
    // place (init.d/auditd.stop, auditd.restart). Continue it first; harmless when running.
    const cont = `kill -CONT ${plan.before.mainPid}`;
    tried.push(cont);
    await run(ctx, `${cont} 2>&1`);
  }
  const first = plan.method === 'service' ? `service ${name} ${plan.action}` : `systemctl ${plan.action} ${name}`;
  tried.push(first);
  const r = await run(ctx, `${first} 2>&1`);
  if (r.code === 0) return undefined;
  const output = r.stdout + r.stderr;
  if (plan.action === 'start' || !REFUSED.test(output)) return `${first} failed (rc ${r.code}): ${firstErrorLine(r)}`;
  if (plan.method === 'systemctl') {
    // RefuseManualStop appeared after check (or the unit lied): fall through to service.
    tried.push(`service ${name} ${plan.action}`);
    const s = await run(ctx, `service ${name} ${plan.action} 2>&1`);
    if (s.code === 0) return undefined;
  }
  if (plan.before.mainPid > 0 && !tried.some((t) => t.startsWith('kill -CONT'))) {
    tried.push(`kill -CONT ${plan.before.mainPid}`);
    await run(ctx, `kill -CONT ${plan.before.mainPid} 2>&1`);
  }
  tried.push('auditctl --signal TERM');
  const sig = await stopBySignal(ctx, args.name);
  if (sig || plan.action === 'stop') return sig;
  tried.push(`systemctl start ${name}`);
  const st = await run(ctx, `systemctl start ${name} 2>&1`);
  return st.code === 0 ? undefined : `systemctl start ${name} failed (rc ${st.code}): ${firstErrorLine(st)}`;
}

function isRunning(active: string): boolean {
  return active === 'active' || active === 'activating' || active === 'reloading';
}

async function waitFor(ctx: ModuleContext, test: () => Promise<boolean>, timeoutMs: number, stepMs = 250): Promise<boolean> {
  const deadline = ctx.clock.now() + timeoutMs;
  for (;;) {
    if (await test()) return true;
    if (ctx.clock.now() >= deadline) return false;
    await ctx.clock.sleep(stepMs);
  }
}

/**
 * Tasks whose wait channel is the audit queue's (kernel-6.1-queue §0, T04), from a new probe
 * sample (facts/defs/procs.ts, builtins only), not a `grep` of the module's own: on a host with
 * sleepers every program start queues behind them. Unknown when the /proc pass did not finish.
 */
async function countAsleep(ctx: ModuleContext): Promise<number | undefined> {
  const got = await ctx.session.takeSample(ctx.become, 'recheck');
  return got.error ? undefined : got.sample.stalled_tasks?.count;
}

/** Polls the asleep count about once per second (a few kauditd passes) until 0 or the timeout. */
async function waitForAsleep(ctx: ModuleContext, timeoutMs: number): Promise<{ count?: number; waitedMs: number }> {
  const start = ctx.clock.now();
  let count = await countAsleep(ctx);
  while (count !== undefined && count > 0 && ctx.clock.now() - start < timeoutMs) {
    await ctx.clock.sleep(Math.min(1000, Math.max(1, timeoutMs - (ctx.clock.now() - start))));
    count = await countAsleep(ctx);
  }
  return { ...(count !== undefined ? { count } : {}), waitedMs: ctx.clock.now() - start };
}

/** Final state, from new probe samples: auditd's process, the registered pid, and for a restart a backlog that falls. */
async function verify(ctx: ModuleContext, args: ServiceArgs, plan: ServicePlan): Promise<{ error?: string; audit?: AuditStatus }> {
  const wantRunning = plan.action !== 'stop';
  const got = await ctx.session.takeSample(ctx.become, 'recheck');
  if (got.error) throw got.error;
  const state = auditdUnitOf(got.sample)?.active ?? 'unknown';
  if (isRunning(state) !== wantRunning) return { error: `${args.name} is ${state} after ${plan.action}` };
  let audit = sampleStatus(ctx, got.sample);
  if (!wantRunning) return audit.pid === 0 ? { audit } : { audit, error: `auditd stopped but pid ${audit.pid} is still registered` };
  // the sample just taken is the first look: a new one only while no pid is registered
  const registered = audit.pid !== 0 || (await waitFor(ctx, async () => (audit = await readAuditStatus(ctx)).pid !== 0, 10_000));
  if (!registered) return { audit, error: 'auditd is active but registered no pid with the kernel (pid 0)' };
  if (plan.action === 'restart' && plan.auditBefore && audit.pid === plan.auditBefore.pid) {
    return { audit, error: `auditd pid unchanged (${audit.pid}) after restart` };
  }
  if (plan.action === 'restart') {
    const limit = args.backlog_max ?? Math.max(16, Math.ceil(audit.backlog_limit * 0.01));
    const drained = audit.backlog <= limit || (await waitFor(ctx, async () => (audit = await readAuditStatus(ctx)).backlog <= limit, args.drain_timeout * 1000, 500));
    if (!drained) return { audit, error: `backlog did not fall: ${audit.backlog} > ${limit} after ${args.drain_timeout} s` };
  }
  return { audit };
}

async function apply(ctx: ModuleContext, args: ServiceArgs, plan: ServicePlan, checked: Checked<ServicePlan>): Promise<ModuleOutcome> {
  const keep = { diff: checked.diff ?? [], warnings: checked.warnings ?? [], data: checked.data ?? {} };
  const name = shellQuote(args.name);
  const done: string[] = [];
  if (plan.enable !== undefined) {
    const verb = plan.enable ? 'enable' : 'disable';
    const r = await run(ctx, `systemctl ${verb} ${name} 2>&1`);
    if (r.code !== 0) return { ...keep, ...failed('E_MODULE', `systemctl ${verb} ${args.name} failed (rc ${r.code}): ${firstErrorLine(r)}`) };
    done.push(`${verb}d`);
  }
  if (plan.action === undefined) return { ...keep, status: 'changed', msg: `${args.name} ${done.join(', ')}` };
  if (args.name === 'auditd' && plan.action !== 'reload') {
    const out = await applyAuditd(ctx, args, { ...plan, action: plan.action }, checked);
    return done.length && out.status === 'changed' ? { ...out, msg: `${args.name} ${done.join(', ')}; ${out.msg ?? ''}` } : out;
  }
  const r = await run(ctx, `systemctl ${plan.action} ${name} 2>&1`);
  if (r.code !== 0) return { ...keep, ...failed('E_MODULE', `systemctl ${plan.action} ${args.name} failed (rc ${r.code}): ${firstErrorLine(r)}`, { rc: r.code }) };
  const state = args.name === 'auditd' ? ((await auditdUnit(ctx, true))?.active ?? 'unknown') : (await run(ctx, `systemctl is-active ${name}`, { become: false })).stdout.trim();
  if (isRunning(state) !== (plan.action !== 'stop')) return { ...keep, ...failed('E_MODULE', `verification failed: ${args.name} is ${state || 'unknown'} after ${plan.action}`) };
  return { ...keep, status: 'changed', msg: `${args.name} ${[...done, PAST[plan.action]].join(', ')}` };
}

async function applyAuditd(ctx: ModuleContext, args: ServiceArgs, plan: ServicePlan & { action: 'start' | 'stop' | 'restart' }, checked: Checked<ServicePlan>): Promise<ModuleOutcome> {
  const tried: string[] = [];
  const keep = { diff: checked.diff ?? [], warnings: checked.warnings ?? [] };
  const err = await act(ctx, args, plan, tried);
  const data: Record<string, unknown> = { ...(checked.data ?? {}), tried };
  if (err) return { ...keep, ...failed('E_MODULE', err, { data }) };
  const v = await verify(ctx, args, plan);
  if (v.audit) data.audit_after = v.audit;
  if (v.error) return { ...keep, ...failed('E_MODULE', `verification failed: ${v.error}`, { data }) };
  if (plan.action !== 'stop') {
    // Tasks asleep in audit_log_start / audit_receive before the drain stay asleep until a
    // kauditd pass wakes them (one per pass) or their backlog_wait_time runs out (T10: 236 s):
    // wait for them within asleep_timeout, then report the ones left.
    const asleep = await waitForAsleep(ctx, args.asleep_timeout * 1000);
    if (asleep.count !== undefined) {
      data.tasks_asleep = asleep.count;
      data.tasks_asleep_waited_ms = asleep.waitedMs;
      if (asleep.count > 0) {
        keep.warnings = [
          ...keep.warnings,
          `${asleep.count} task(s) still asleep on the audit queue ${Math.round(asleep.waitedMs / 1000)} s after the ${plan.action}: they wake one per kauditd pass or when their backlog_wait_time runs out; the host may stay slow meanwhile`,
        ];
      }
    }
  }
  const pid = v.audit?.pid;
  if (plan.action !== 'stop' && pid) keep.diff = keep.diff.map((d) => ({ ...d, after: unitText('active', pid) }));
  return { ...keep, status: 'changed', msg: `${args.name} ${PAST[plan.action]} via ${tried.join(' -> ')}`, data };
}

export const serviceModule: Module<ServiceArgs, ServicePlan> = { name: 'service', schema: serviceArgs, check, apply };
