/**
 * systemd units other than auditd (whose state is the kernel model's): chrony, cron, ssh, rsyslog…
 * with their enablement, activity and a main pid; `enable`/`disable` for every unit, auditd
 * included. Messages as systemd 252 prints them.
 */
import type { SimMachine } from '../machine.js';
import type { CommandContext } from '../shell.js';

export interface UnitRecord {
  enabled: boolean;
  active: boolean;
  pid: number;
  refuseManualStop: boolean;
  /** Reloads so far (`systemctl reload`): a test can see that one happened. */
  reloads: number;
}

const DEBIAN_UNITS = ['ssh', 'cron', 'systemd-timesyncd', 'systemd-journald'];
const RHEL_UNITS = ['sshd', 'crond', 'chronyd', 'rsyslog', 'systemd-journald'];

const states = new WeakMap<SimMachine, Map<string, UnitRecord>>();

/** The machine's units (auditd's enablement included; its activity is the kernel's). */
export function unitStates(m: SimMachine): Map<string, UnitRecord> {
  let s = states.get(m);
  if (!s) {
    s = new Map();
    const spec = m.spec.units ?? Object.fromEntries((m.spec.flavour === 'rhel' ? RHEL_UNITS : DEBIAN_UNITS).map((u) => [u, { enabled: true, active: true }]));
    // pids of their own, not drawn from the kernel's rng: reading a unit must not change the model's run
    let next = 600;
    for (const [name, u] of Object.entries(spec)) {
      next += 17;
      s.set(name, { enabled: u.enabled, active: u.active, pid: u.active ? next : 0, refuseManualStop: u.refuseManualStop ?? false, reloads: 0 });
    }
    s.set('auditd', { enabled: true, active: false, pid: 0, refuseManualStop: false, reloads: 0 });
    states.set(m, s);
  }
  return s;
}

const err = (ctx: CommandContext, text: string) => ctx.stderr.write(text);

/** `systemctl VERB UNIT` for a unit that is not auditd; null when the unit is auditd (the caller's). */
export async function otherUnit(ctx: CommandContext, verb: string, unit: string, props: string[]): Promise<number | null> {
  if (unit === 'auditd') return null;
  const u = unitStates(ctx.machine).get(unit);
  const id = `${unit}.service`;
  if (verb === 'show') {
    const all: [string, string][] = u
      ? [['MainPID', String(u.pid)], ['Id', id], ['LoadState', 'loaded'], ['ActiveState', u.active ? 'active' : 'inactive'], ['SubState', u.active ? 'running' : 'dead'], ['UnitFileState', u.enabled ? 'enabled' : 'disabled'], ['RefuseManualStart', 'no'], ['RefuseManualStop', u.refuseManualStop ? 'yes' : 'no']]
      : [['MainPID', '0'], ['Id', id], ['LoadState', 'not-found'], ['ActiveState', 'inactive'], ['SubState', 'dead'], ['UnitFileState', ''], ['RefuseManualStart', 'no'], ['RefuseManualStop', 'no']];
    const shown = props.length ? all.filter(([k]) => props.includes(k)) : all;
    await ctx.stdout.write(shown.map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
    return 0;
  }
  if (verb === 'is-active') {
    const st = u?.active ? 'active' : 'inactive';
    if (!ctx.argv.includes('-q') && !ctx.argv.includes('--quiet')) await ctx.stdout.write(`${st}\n`);
    return st === 'active' ? 0 : 3;
  }
  if (verb === 'is-enabled') {
    if (!u) {
      await err(ctx, `Failed to get unit file state for ${id}: No such file or directory\n`);
      return 1;
    }
    await ctx.stdout.write(u.enabled ? 'enabled\n' : 'disabled\n');
    return u.enabled ? 0 : 1;
  }
  if (verb === 'status') {
    if (!u) {
      await err(ctx, `Unit ${id} could not be found.\n`);
      return 4;
    }
    await ctx.stdout.write(`● ${id}\n     Loaded: loaded (/lib/systemd/system/${id}; ${u.enabled ? 'enabled' : 'disabled'})\n     Active: ${u.active ? 'active (running)' : 'inactive (dead)'}\n`);
    return u.active ? 0 : 3;
  }
  if (!u) {
    await err(ctx, verb === 'enable' || verb === 'disable' ? `Failed to ${verb} unit: Unit file ${id} does not exist.\n` : `Failed to ${verb} ${id}: Unit ${id} not found.\n`);
    return verb === 'enable' || verb === 'disable' ? 1 : 5;
  }
  if (ctx.uid !== 0) {
    await err(ctx, `Failed to ${verb} ${id}: Interactive authentication required.\n`);
    return 1;
  }
  return changeUnit(ctx, verb, u, id);
}

async function changeUnit(ctx: CommandContext, verb: string, u: UnitRecord, id: string): Promise<number> {
  const m = ctx.machine;
  if ((verb === 'stop' || verb === 'restart') && u.refuseManualStop) {
    await err(ctx, `Failed to ${verb} ${id}: Operation refused, unit ${id} may be requested by dependency only (it is configured to refuse manual start/stop).\n`);
    return 4;
  }
  switch (verb) {
    case 'enable':
    case 'disable':
      if (u.enabled !== (verb === 'enable')) {
        u.enabled = verb === 'enable';
        await err(ctx, verb === 'enable' ? `Created symlink /etc/systemd/system/multi-user.target.wants/${id} → /lib/systemd/system/${id}.\n` : `Removed "/etc/systemd/system/multi-user.target.wants/${id}".\n`);
      }
      return 0;
    case 'start':
      if (!u.active) Object.assign(u, { active: true, pid: m.kernel.spawnPid() });
      return 0;
    // (a start or restart is a process start: its pid comes from the kernel like any other)
    case 'stop':
      Object.assign(u, { active: false, pid: 0 });
      return 0;
    case 'restart':
      Object.assign(u, { active: true, pid: m.kernel.spawnPid() });
      return 0;
    case 'reload':
      if (!u.active) {
        await err(ctx, `Job for ${id} failed.\nSee "systemctl status ${id}" and "journalctl -xeu ${id}" for details.\n`);
        return 1;
      }
      u.reloads++;
      return 0;
    default:
      await err(ctx, `Unknown command verb ${verb}.\n`);
      return 1;
  }
}
