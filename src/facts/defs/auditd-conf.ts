/** /etc/audit/auditd.conf: the disk and plugin-queue actions (reference §1, auditd.conf(5)). */
import { AUDITD_CONF_DEFAULTS } from '../../diagnosis/concepts.js';
import type { Fact } from '../fact.js';
import { readFile } from '../shell.js';
import { parseAuditdConf } from '../system.js';
import type { PersistentConfig } from '../types.js';

/** auditd's own defaults for the disk actions, when auditd.conf was read but lacks the key. */
const { disk_full_action, space_left_action, admin_space_left_action, disk_error_action } = AUDITD_CONF_DEFAULTS;
const DISK_ACTION_DEFAULTS = { disk_full_action, space_left_action, admin_space_left_action, disk_error_action };

export const AuditdConfFact: Fact<PersistentConfig['auditd_conf']> = {
  name: 'auditd_conf',
  script: readFile('/etc/audit/auditd.conf'),
  empty: {},
  parse: parseAuditdConf,
  exposes: {
    group: 'persistent',
    names: ['disk_full_action', 'space_left_action', 'admin_space_left_action', 'disk_error_action', 'q_depth', 'overflow_action', 'plugin_dir'],
    of(_v, s) {
      const conf = s.persistent.auditd_conf;
      const read = !s.parse_errors.some((e) => e.section === 'auditd_conf') && Object.keys(conf).length > 0;
      return read ? { ...DISK_ACTION_DEFAULTS, ...conf } : { ...conf };
    },
  },
};
