/** /proc/sys/kernel/osrelease: `uname -r` without starting uname. */
import type { Fact } from '../fact.js';
import { readLine } from '../shell.js';
import { parseUname } from '../system.js';

export const KernelReleaseFact: Fact<string | undefined> = {
  name: 'uname_r',
  script: readLine('/proc/sys/kernel/osrelease'),
  empty: undefined,
  parse: parseUname,
  exposes: { group: 'system', names: ['kernel_release'], of: (_v, s) => ({ kernel_release: s.system.kernel_release }) },
};
