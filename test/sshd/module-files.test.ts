/**
 * The file modules' write path on real OpenSSH with the host's real sudo, coreutils and bash:
 * lineinfile and copy read once, write through a temp file in the same directory and rename,
 * keep the old mode and group, apply a mode when asked, leave no temp file, and carry content
 * with shell syntax on stdin untouched. Check mode changes nothing; a second run is ok.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyModule } from '../../src/modules/copy.js';
import { lineinfileModule } from '../../src/modules/lineinfile.js';
import type { Module, ModuleContext, ModuleOutcome } from '../../src/modules/types.js';
import type { Transport } from '../../src/transport/types.js';
import { startSshdFleet, type SshdFleet } from '../helpers/sshd-fleet.js';
import { sessionOver } from '../fixtures/playbooks/fake-host.js';
import { factory, skipReason, specFor } from './util.js';

describe.skipIf(skipReason !== null)('file modules on real sshd', () => {
  let fleet: SshdFleet;
  let t: Transport;
  const dir = '/var/log/fleetmend-module-test';

  beforeAll(async () => {
    fleet = await startSshdFleet({ hosts: 1, sudo: 'nopasswd' });
    t = await factory().connect(specFor(fleet, fleet.hosts[0]!, { become: { enabled: true } }));
    const r = await t.exec(`mkdir -p ${dir} && printf 'a=1\\n-b 8192\\nz=2\\n' > ${dir}/site.conf && chmod 640 ${dir}/site.conf && chgrp adm ${dir}/site.conf`);
    expect(r.code, r.stderr).toBe(0);
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await fleet?.stop();
  });

  function ctx(check: boolean): ModuleContext {
    const clock = { now: () => Date.now(), sleep: (ms: number) => new Promise<void>((done) => setTimeout(done, ms)) };
    return {
      host: 'h001', session: sessionOver(t, clock), check, diff: true, become: true, clock,
      play: { hostsInPlay: 1, batchSize: 1, memoryShare: 0.1, allowParallelReboot: false },
      scope: {}, guardSampleMs: 10, reconnect: async () => t,
    };
  }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async function runModule(mod: Module<any, any>, check: boolean, raw: unknown): Promise<ModuleOutcome> {
    const c = ctx(check);
    const args = mod.schema.parse(raw);
    const checked = await mod.check(c, args);
    if (check || checked.status !== 'changed' || checked.plan === undefined) return checked;
    return mod.apply(c, args, checked.plan, checked);
  }
  const sh = async (cmd: string) => (await t.exec(cmd)).stdout;

  it('lineinfile: check changes nothing; apply replaces the line, keeps mode 640 and group adm; second run ok', async () => {
    const args = { path: `${dir}/site.conf`, regexp: '^-b ', line: '-b 16384' };
    const dry = await runModule(lineinfileModule, true, args);
    expect(dry.status).toBe('changed');
    expect(dry.diff?.[0]).toMatchObject({ before: 'a=1\n-b 8192\nz=2\n', after: 'a=1\n-b 16384\nz=2\n' });
    expect(await sh(`cat ${dir}/site.conf`)).toBe('a=1\n-b 8192\nz=2\n');
    const r = await runModule(lineinfileModule, false, args);
    expect(r.status, r.msg).toBe('changed');
    expect(await sh(`cat ${dir}/site.conf`)).toBe('a=1\n-b 16384\nz=2\n');
    expect(await sh(`stat -c '%a %U %G' ${dir}/site.conf`)).toBe('640 root adm\n');
    expect((await runModule(lineinfileModule, false, args)).status).toBe('ok');
    expect(await sh(`ls -A ${dir}`)).toBe('site.conf\n');
  }, 60_000);

  it('copy: content with shell syntax arrives verbatim on stdin, with the mode asked for; second run ok', async () => {
    const content = `$(touch ${dir}/pwned) \`id\` 'single' "double" \\ back\nno newline at the end`;
    const args = { content, dest: `${dir}/copied.txt`, mode: '0600' };
    expect((await runModule(copyModule, true, args)).status).toBe('changed');
    expect(await sh(`test -e ${dir}/copied.txt && echo yes || echo no`)).toBe('no\n');
    const r = await runModule(copyModule, false, args);
    expect(r.status, r.msg).toBe('changed');
    expect(await sh(`cat ${dir}/copied.txt`)).toBe(content);
    expect(await sh(`stat -c '%a %U' ${dir}/copied.txt`)).toBe('600 root\n');
    expect(await sh(`test -e ${dir}/pwned && echo yes || echo no`)).toBe('no\n');
    expect((await runModule(copyModule, false, args)).status).toBe('ok');
    expect((await sh(`ls -A ${dir}`)).split('\n').filter(Boolean).sort()).toEqual(['copied.txt', 'site.conf']);
  }, 60_000);
});
