import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPlaybook } from '../../src/playbook/load.js';

const DIR = join(import.meta.dirname, '../../playbooks');

describe('shipped playbooks', () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.yml'));
  it('are all there', () => {
    expect(files.sort()).toEqual([
      'audit-status.yml',
      'fix-auditd-conf.yml',
      'persist-backlog-limit.yml',
      'raise-backlog-limit.yml',
      'restart-auditd.yml',
      'schedule-reboot.yml',
      'silence-failure-mode.yml',
      'stop-auditd.yml',
    ]);
  });
  for (const f of files) {
    it(`${f} validates`, async () => {
      const pb = await loadPlaybook(join(DIR, f));
      expect(pb.plays.length).toBeGreaterThan(0);
    });
  }
  it('schedule-reboot is rolling', async () => {
    const pb = await loadPlaybook(join(DIR, 'schedule-reboot.yml'));
    expect(pb.plays[0]).toMatchObject({ serial: 1, maxFailPercentage: 0, allowParallelReboot: false });
  });
});
