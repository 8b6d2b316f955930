/** /proc/meminfo: what the memory guard weighs a backlog limit against (reference §4). */
import { limitBytes } from '../../diagnosis/concepts.js';
import type { Fact } from '../fact.js';
import { readFile } from '../shell.js';
import { parseMeminfo } from '../system.js';
import type { MemInfo } from '../types.js';

export const MemInfoFact: Fact<MemInfo | undefined> = {
  name: 'meminfo',
  script: readFile('/proc/meminfo'),
  empty: undefined,
  parse: parseMeminfo,
  exposes: {
    group: 'memory',
    names: ['mem_total_kb', 'mem_available_kb', 'mem_available_bytes', 'mem_available_estimated', 'backlog_limit_bytes'],
    of(_v, s) {
      const m = s.memory;
      if (!m) return {};
      // max(runtime, persistent limit) × 8970: the queue may fill to either (reference §4)
      const runtime = s.auditctl.kind === 'ok' ? s.auditctl.status.backlog_limit : undefined;
      const persistent = s.persistent.effective_backlog_limit;
      const limit = runtime === undefined ? persistent : Math.max(runtime, persistent ?? 0);
      return {
        mem_total_kb: m.mem_total_kb,
        mem_available_kb: m.mem_available_kb,
        mem_available_bytes: m.mem_available_kb * 1024,
        mem_available_estimated: m.mem_available_estimated ?? false,
        backlog_limit_bytes: limit === undefined ? undefined : limitBytes(limit),
      };
    },
  },
};
