/** The `-b` lines of the audit rule files: the backlog limit the next auditd start or reboot loads. */
import { KERNEL_DEFAULT_BACKLOG_LIMIT } from '../../diagnosis/diagnose.js';
import type { Fact } from '../fact.js';
import { parseRulesBacklog, type RulesBacklog } from '../system.js';

/** `-b` lines of the rule files as `file:line` (the parser keeps those that are `-b N`). */
const RULES_B = [
  'fm_rc=2',
  'for fm_f in /etc/audit/rules.d/*.rules /etc/audit/audit.rules; do',
  '  if [ -r "$fm_f" ]; then',
  '    fm_rc=0',
  `    while read -r fm_l || [ -n "$fm_l" ]; do case $fm_l in -b*) printf '%s:%s\\n' "$fm_f" "$fm_l";; esac; done < "$fm_f"`,
  '  fi',
  'done',
].join('\n');

export const RulesBacklogFact: Fact<RulesBacklog> = {
  name: 'rules_b',
  script: RULES_B,
  empty: { rules_backlog_limits: [], searched: false },
  parse: parseRulesBacklog,
  exposes: {
    group: 'persistent',
    names: ['effective_backlog_limit', 'reboot_backlog_limit', 'rules_backlog_limits'],
    of(_v, s) {
      const p = s.persistent;
      return {
        effective_backlog_limit: p.effective_backlog_limit,
        // after a reboot: the rules' -b, else the boot's audit_backlog_limit=, else the kernel's 64
        reboot_backlog_limit:
          p.effective_backlog_limit ?? (p.rules_searched ? (p.cmdline_backlog_limit ?? KERNEL_DEFAULT_BACKLOG_LIMIT) : undefined),
        rules_backlog_limits: p.rules_backlog_limits.map((r) => ({ ...r })),
      };
    },
  },
};
