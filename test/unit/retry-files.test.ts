/**
 * Retry files are bounded (issue 21 §8: a scheduler every 10 s made 17 in 3 minutes): one per
 * playbook (or sweep) and inventory, replaced by each run that leaves hosts undone, as Ansible's
 * `PLAYBOOK.retry`; the per-run files of earlier versions are removed. The hosts are on a closed
 * loopback port, so every run ends at once with them unreachable.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostResult } from '../../src/results/index.js';
import { retryFileName, retryFilePath, writeRetryFile } from '../../src/run/retry.js';
import { runCli } from '../helpers/cli.js';

describe('retry files: one per playbook (or sweep) and inventory, replaced by each run', () => {
  let dir: string;
  let state: string;
  const file = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  const retryDir = () => join(state, 'retry');
  const retryFiles = () => (existsSync(retryDir()) ? readdirSync(retryDir()).sort() : []);
  const lines = (p: string) => readFileSync(p, 'utf8').trim().split('\n');
  /** A run that ends with every host unreachable (exit 4); returns the retry file it printed. */
  const runPlaybook = async (pb: string, inv: string, ...extra: string[]) => {
    const r = await runCli(['run', pb, '-i', inv, '--state-dir', state, '--connect-timeout', '5', ...extra], { HOME: dir });
    expect(r.code, r.stderr).toBe(4);
    const printed = /retry file: (\S+)/.exec(r.stderr)?.[1];
    expect(printed, r.stderr).toBeDefined();
    return printed!;
  };

  let inv: string;
  let inv2: string;
  let pb: string;
  let pb2: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fm-retry-'));
    state = join(dir, 'state');
    const hosts = 'all:\n  hosts:\n    dead1: { ansible_host: 127.0.0.1, ansible_port: 1 }\n    dead2: { ansible_host: 127.0.0.1, ansible_port: 1 }\n';
    inv = file('hosts.yml', hosts);
    mkdirSync(join(dir, 'other'));
    inv2 = file('other/hosts.yml', hosts);
    pb = file('site.yml', '- hosts: all\n  tasks:\n    - name: t\n      command: echo hi\n');
    pb2 = file('fix.yml', '- hosts: all\n  tasks:\n    - name: t\n      command: echo hi\n');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('five runs of one playbook leave one file, naming the hosts of the latest run', async () => {
    let first: string | undefined;
    for (let k = 0; k < 5; k++) {
      const printed = await runPlaybook(pb, inv);
      first ??= printed;
      expect(printed).toBe(first);
    }
    expect(retryFiles()).toEqual([retryFileName({ mode: 'run', inventory: inv, playbook: pb })]);
    expect(first).toBe(retryFilePath(state, { mode: 'run', inventory: inv, playbook: pb }));
    expect(first).toMatch(/\/retry\/site-[0-9a-f]{12}\.retry$/);
    expect(lines(first!)).toEqual(['dead1', 'dead2']);
    // a run limited to one host replaces it: the file is the latest run's, as Ansible's
    await runPlaybook(pb, inv, '-l', 'dead2');
    expect(lines(first!)).toEqual(['dead2']);
    expect(retryFiles()).toHaveLength(1);
  });

  it('another playbook, another inventory and a sweep each keep a file of their own', async () => {
    const other = await runPlaybook(pb2, inv);
    const elsewhere = await runPlaybook(pb, inv2);
    const r = await runCli(['sweep', '-i', inv, '--state-dir', state, '--connect-timeout', '5', '--samples', '1', '-q'], { HOME: dir });
    expect(r.code, r.stderr).toBe(4);
    const sweep = retryFilePath(state, { mode: 'sweep', inventory: inv });
    expect(sweep).toMatch(/\/retry\/sweep-hosts-[0-9a-f]{12}\.retry$/);
    expect(lines(sweep)).toEqual(['dead1', 'dead2']);
    expect(new Set([other, elsewhere, sweep, retryFilePath(state, { mode: 'run', inventory: inv, playbook: pb })]).size).toBe(4);
    expect(retryFiles()).toHaveLength(4);
  });

  it("the per-run files of earlier versions are removed by the next run; other files are left alone", async () => {
    const legacy = ['20261206T101010Z-abc123.retry', '20261206T101020Z-0f9e8d.retry', '20261206T101030Z-777777.retry'];
    for (const name of legacy) writeFileSync(join(retryDir(), name), 'old\n');
    writeFileSync(join(retryDir(), 'notes.txt'), 'mine\n');
    await runPlaybook(pb, inv);
    for (const name of legacy) expect(existsSync(join(retryDir(), name)), name).toBe(false);
    expect(readFileSync(join(retryDir(), 'notes.txt'), 'utf8')).toBe('mine\n');
  });

  it('a run that leaves nothing undone keeps the file as it was (as Ansible does) and writes none', () => {
    const key = { mode: 'run' as const, inventory: inv, playbook: pb };
    const before = readFileSync(retryFilePath(state, key), 'utf8');
    const ok = { host: 'dead1', address: '127.0.0.1', port: 1, status: 'ok', started_at: '', finished_at: '' } as HostResult;
    expect(writeRetryFile(state, key, [ok, { ...ok, host: 'dead2', status: 'skipped' }])).toBeUndefined();
    expect(readFileSync(retryFilePath(state, key), 'utf8')).toBe(before);
  });
});
