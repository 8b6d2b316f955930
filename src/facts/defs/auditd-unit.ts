/** RefuseManualStop of the auditd unit systemd would load: how auditd may be restarted (reference §5). */
import { parseAuditdUnit } from '../auditd.js';
import type { Fact } from '../fact.js';

/** Where systemd looks for auditd.service (first found wins) and its drop-ins (all apply, in order). */
export const UNIT_FILES = ['/etc/systemd/system/auditd.service', '/usr/lib/systemd/system/auditd.service', '/lib/systemd/system/auditd.service'];
export const UNIT_DROPINS = ['/usr/lib/systemd/system/auditd.service.d/*.conf', '/etc/systemd/system/auditd.service.d/*.conf'];

/** RefuseManualStop from the unit file systemd would load and its drop-ins, as `file:line`. */
const AUDITD_UNIT = [
  'fm_rc=1',
  `for fm_f in ${UNIT_FILES.join(' ')}; do`,
  '  if [ -r "$fm_f" ]; then fm_rc=0; break; fi',
  'done',
  `for fm_f in "$fm_f" ${UNIT_DROPINS.join(' ')}; do`,
  '  if [ -r "$fm_f" ]; then',
  `    while read -r fm_l || [ -n "$fm_l" ]; do case $fm_l in RefuseManualStop*) printf '%s:%s\\n' "$fm_f" "$fm_l";; esac; done < "$fm_f"`,
  '  fi',
  'done',
].join('\n');

export const AuditdUnitFact: Fact<{ refuse_manual_stop?: boolean }> = {
  name: 'auditd_unit',
  script: AUDITD_UNIT,
  empty: {},
  parse: parseAuditdUnit,
  exposes: { group: 'auditd', names: ['refuse_manual_stop'], of: (_v, s) => ({ refuse_manual_stop: s.auditd.init.refuse_manual_stop }) },
};
