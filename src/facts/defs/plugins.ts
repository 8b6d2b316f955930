/**
 * auditd's plugin files. A plugin queue that overflows drops records for the plugin (the SIEM
 * copy) without the kernel counting anything (audisp/queue.c do_overflow_action), so an active
 * plugin gets the probe's log reader even with lost 0 ($fm_act, read by the script's frame).
 */
import type { Fact } from '../fact.js';
import { parsePlugins } from '../system.js';
import type { AuditPlugin } from '../types.js';

/**
 * Where auditd 3.x (plugin_dir, default /etc/audit/plugins.d) and audispd 2.x (RHEL 7,
 * /etc/audisp/plugins.d) read plugin files. A plugin_dir elsewhere is reported from auditd.conf,
 * its files are not read (a builtin cannot cut the value out of `plugin_dir = X` portably).
 */
export const PLUGIN_DIRS = ['/etc/audit/plugins.d', '/etc/audisp/plugins.d'];

/** `active` and `path` lines of every plugin file as `file:line`; $fm_act 1 when one says `active = yes`. */
const PLUGINS = [
  'fm_rc=1',
  'fm_act=0',
  `for fm_f in ${PLUGIN_DIRS.map((d) => `${d}/*.conf`).join(' ')}; do`,
  '  if [ -r "$fm_f" ]; then',
  '    fm_rc=0',
  `    while read -r fm_l || [ -n "$fm_l" ]; do case $fm_l in active*|path*) printf '%s:%s\\n' "$fm_f" "$fm_l";; esac; case $fm_l in active*yes*) fm_act=1;; esac; done < "$fm_f"`,
  '  fi',
  'done',
].join('\n');

export const PluginsFact: Fact<AuditPlugin[] | undefined> = {
  name: 'plugins',
  script: PLUGINS,
  empty: undefined,
  parse: parsePlugins,
  exposes: {
    group: 'persistent',
    names: ['active_plugins'],
    // undefined when no plugin file could be read (none installed, or not root): not "none active"
    of: (_v, s) => ({ active_plugins: s.persistent.plugins?.filter((p) => p.active).length }),
  },
};
