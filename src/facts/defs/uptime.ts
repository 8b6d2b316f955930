/** /proc/uptime: with boot_id, tells a reboot between samples from a counter that went down (rates.ts). */
import type { Fact } from '../fact.js';
import { readLine } from '../shell.js';
import { parseUptime } from '../system.js';

export const UptimeFact: Fact<number | undefined> = {
  name: 'uptime',
  script: readLine('/proc/uptime'),
  empty: undefined,
  parse: parseUptime,
  exposes: { group: 'system', names: ['uptime_seconds'], of: (_v, s) => ({ uptime_seconds: s.system.uptime_seconds }) },
};
