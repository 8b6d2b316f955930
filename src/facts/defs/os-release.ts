/** /etc/os-release (os-release(5)): the distribution, for the audit facts and Ansible's `distribution*`. */
import type { Fact } from '../fact.js';
import { readFile } from '../shell.js';
import { parseOsRelease } from '../system.js';
import type { SystemInfo } from '../types.js';

export const OsReleaseFact: Fact<SystemInfo['distribution'] | undefined> = {
  name: 'os_release',
  script: readFile('/etc/os-release'),
  empty: undefined,
  parse: parseOsRelease,
  exposes: {
    group: 'system',
    names: ['os_id', 'os_version_id'],
    of: (_v, s) => ({ os_id: s.system.distribution?.id, os_version_id: s.system.distribution?.version_id }),
  },
};
