/**
 * The running kernel's CONFIG_HZ from /boot/config-RELEASE (Debian, Ubuntu, RHEL, Fedora and
 * SUSE ship it, readable by everyone): the tick rate backlog_wait_time and
 * backlog_wait_time_actual count in (reference §2). The line comes early in the file (processor
 * options), so the read stops there; still ~550 lines on Debian, ~8 ms of the host's CPU, so a
 * calm host ($fm_calm: no wait to convert) is spared it and gets the stock value of its
 * release, as does a host without the file ($fm_rc 2).
 */
import type { Fact } from '../fact.js';
import { parseKernelHz } from '../system.js';

const KERNEL_HZ = [
  'fm_rc=2',
  'if [ -n "$fm_calm" ]; then fm_rc=0; else',
  'fm_r=; read -r fm_r < /proc/sys/kernel/osrelease 2>/dev/null',
  'if [ -n "$fm_r" ] && [ -r "/boot/config-$fm_r" ]; then',
  '  fm_rc=0',
  `  while read -r fm_l || [ -n "$fm_l" ]; do case $fm_l in CONFIG_HZ=*) printf '%s\\n' "$fm_l"; break;; esac; done < "/boot/config-$fm_r"`,
  'else echo "cannot read /boot/config-$fm_r"; fi',
  'fi',
].join('\n');

export const KernelHzFact: Fact<number | undefined> = {
  name: 'kernel_hz',
  script: KERNEL_HZ,
  empty: undefined,
  parse: parseKernelHz,
  exposes: { group: 'system', names: ['kernel_hz'], of: (_v, s) => ({ kernel_hz: s.system.kernel_hz }) },
};
