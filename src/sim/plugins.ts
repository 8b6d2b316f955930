/**
 * auditd's plugin queue (audit-userspace 3.0.x audisp/queue.c, auditd-dispatch.c), as the
 * simulated auditd runs it: `q_depth` slots between auditd and its active plugins, read from
 * /etc/audit/auditd.conf and /etc/audit/plugins.d/*.conf at start and on SIGHUP.
 *
 * What the real code does, and this model with it:
 * - a plugin slower than the event rate fills the queue; then every event auditd hands over
 *   tries 4 times, 2 ms apart (enqueue), before `overflow_action` applies, so auditd itself
 *   reads at most 125 events/s plus what the plugin takes: alive (ps S), registered, slow;
 * - IGNORE drops silently; SYSLOG logs `queue to plugins is full - dropping event` for the
 *   first 5 drops, then `auditd queue full reporting limit reached - ending dropped event
 *   notifications`; SUSPEND logs once and stops passing events to plugins (auditd fast again,
 *   the plugins unfed) until a SIGHUP (reset_suspended) or a restart; SINGLE / HALT log and
 *   change the runlevel (the simulator logs the line but does not change the runlevel);
 * - SIGHUP: q_depth can only grow (increase_queue_depth), overflow_action and the plugin list
 *   are re-read, the suspension and the warning count reset; a restart starts an empty queue.
 */
import type { VirtualFs } from './vfs.js';
import { AUDITD_CONF_DEFAULTS } from '../diagnosis/concepts.js';

const QUEUE_FULL_LIMIT = 5;

export type OverflowAction = 'IGNORE' | 'SYSLOG' | 'SUSPEND' | 'SINGLE' | 'HALT';

export interface PluginConf {
  depth: number;
  action: OverflowAction;
  /** Paths of the active plugins (none: auditd runs no plugin queue). */
  active: string[];
}

/** auditd.conf and the plugin files as auditd reads them (last assignment wins, case-insensitive). */
export function readPluginConf(fs: VirtualFs): PluginConf {
  const read = (path: string): string => {
    try {
      return fs.read(path, true);
    } catch {
      return '';
    }
  };
  const conf = confMap(read('/etc/audit/auditd.conf'));
  const depth = /^\d+$/.test(conf.get('q_depth') ?? '') ? Number(conf.get('q_depth')) : AUDITD_CONF_DEFAULTS.q_depth;
  const a = (conf.get('overflow_action') ?? AUDITD_CONF_DEFAULTS.overflow_action).toUpperCase();
  const action = (['IGNORE', 'SYSLOG', 'SUSPEND', 'SINGLE', 'HALT'].includes(a) ? a : AUDITD_CONF_DEFAULTS.overflow_action) as OverflowAction;
  const dir = conf.get('plugin_dir') ?? AUDITD_CONF_DEFAULTS.plugin_dir;
  const active: string[] = [];
  for (const file of fs.list(dir)) {
    if (!file.endsWith('.conf')) continue;
    const p = confMap(read(`${dir}/${file}`));
    if ((p.get('active') ?? '').toLowerCase() === 'yes') active.push(p.get('path') ?? file);
  }
  return { depth, action, active };
}

function confMap(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const kv = /^\s*([A-Za-z_]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (kv) m.set((kv[1] ?? '').toLowerCase(), kv[2] ?? '');
  }
  return m;
}

export class PluginQueue {
  used = 0;
  suspended = false;
  private warnings = 0;

  constructor(
    public conf: PluginConf,
    /** Events/s the active plugins take (the slowest one sets the pace). */
    readonly pluginRate: number,
  ) {}

  get full(): boolean {
    return this.used >= this.conf.depth;
  }

  /** auditd read `readRate` events/s for `ms`: the queue fills by what the plugin did not take. */
  fill(readRate: number, ms: number): void {
    if (this.suspended) {
      this.used = Math.max(0, this.used - (this.pluginRate * ms) / 1000);
      return;
    }
    this.used = Math.min(this.conf.depth, Math.max(0, this.used + ((readRate - this.pluginRate) * ms) / 1000));
  }

  /** ms until the queue is full at this read rate (Infinity: never). */
  msUntilFull(readRate: number): number {
    if (this.suspended || this.full) return this.full && !this.suspended ? 0 : Infinity;
    const net = readRate - this.pluginRate;
    return net > 0 ? ((this.conf.depth - this.used) / net) * 1000 : Infinity;
  }

  /** The first event finds the queue full: the syslog lines do_overflow_action writes now. */
  overflow(): string[] {
    switch (this.conf.action) {
      case 'SUSPEND':
        this.suspended = true;
        return ['Auditd is suspending event passing to plugins due to overflowing its queue.'];
      case 'SYSLOG': {
        const lines: string[] = [];
        while (this.warnings < QUEUE_FULL_LIMIT) {
          lines.push('queue to plugins is full - dropping event');
          this.warnings++;
          if (this.warnings === QUEUE_FULL_LIMIT) lines.push('auditd queue full reporting limit reached - ending dropped event notifications');
        }
        return lines;
      }
      case 'SINGLE':
        return ['Auditd is now changing the system to single user mode due to overflowing its queue'];
      case 'HALT':
        return ['Auditd is now halting the system due to overflowing its queue'];
      default:
        return [];
    }
  }

  /** SIGHUP: q_depth only grows, the action is re-read, suspension and warnings reset. */
  reconfigure(conf: PluginConf): void {
    this.conf = { ...conf, depth: Math.max(this.conf.depth, conf.depth) };
    this.suspended = false;
    this.warnings = 0;
  }
}
