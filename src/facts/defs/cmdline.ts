/** /proc/cmdline: the boot's `audit=` and `audit_backlog_limit=` (reference §1). */
import type { Fact } from '../fact.js';
import { readLine } from '../shell.js';
import { parseCmdline } from '../system.js';
import type { PersistentConfig } from '../types.js';

export const CmdlineFact: Fact<Pick<PersistentConfig, 'cmdline_backlog_limit' | 'cmdline_audit'>> = {
  name: 'cmdline',
  script: readLine('/proc/cmdline'),
  empty: {},
  parse: parseCmdline,
  exposes: {
    group: 'persistent',
    names: ['cmdline_backlog_limit', 'cmdline_audit'],
    of: (_v, s) => ({ cmdline_backlog_limit: s.persistent.cmdline_backlog_limit, cmdline_audit: s.persistent.cmdline_audit }),
  },
};
