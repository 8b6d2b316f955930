/** /proc/sys/kernel/random/boot_id: which boot a sample is of (reboot verification, reference §5). */
import type { Fact } from '../fact.js';
import { readLine } from '../shell.js';
import { parseBootId } from '../system.js';

export const BootIdFact: Fact<string | undefined> = {
  name: 'boot_id',
  script: readLine('/proc/sys/kernel/random/boot_id'),
  empty: undefined,
  parse: parseBootId,
  exposes: { group: 'system', names: ['boot_id'], of: (_v, s) => ({ boot_id: s.system.boot_id }) },
};
