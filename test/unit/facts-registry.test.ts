/**
 * The fact registry (src/facts/registry.ts): every registered fact is in the probe script and
 * in the policy scope, so adding a fact is its file; the gathered facts (gather_facts, setup)
 * come in the same single round trip with no program more; each new parser is total (garbage
 * in: empty value and a parse note, never a throw); and the values map to Ansible's names.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildFactsScript, GATHER_SECTION_NAMES, parseSample, SECTION_NAMES, splitSections, type FactSample } from '../../src/facts/index.js';
import { FACTS, factScope } from '../../src/facts/registry.js';
import { sectionOf } from '../../src/facts/fact.js';
import { parsePlatform, fqdnOf } from '../../src/facts/defs/platform.js';
import { parseKernelCmdline, shlexWords } from '../../src/facts/defs/kernel-cmdline.js';
import { parseDistribution } from '../../src/facts/defs/distribution.js';
import { parseMounts } from '../../src/facts/defs/mounts.js';
import { parseVirtualization } from '../../src/facts/defs/virtualization.js';
import { parseServiceMgr } from '../../src/facts/defs/service-mgr.js';
import { parsePackages } from '../../src/facts/defs/packages.js';
import { parseServices } from '../../src/facts/defs/services.js';
import { policyScope } from '../../src/policy/scope.js';
import { diagnose } from '../../src/diagnosis/index.js';
import { collectorsOf, gatheredAnsibleFacts, ansibleFactsOf, COLLECTORS } from '../../src/facts/ansible-facts.js';
import { BufferOutput, FakeClock, Shell, SimMachine, StringInput, debianSpec, defaultRegistry, rhelSpec } from '../../src/sim/index.js';
import { programLog } from '../../src/sim/shell.js';
import { Rng } from '../../src/sim/rng.js';

const NONCE = 'regNonce12345';
const registry = defaultRegistry();

function machine(rhel = false): SimMachine {
  const spec = rhel ? rhelSpec('r1', new Rng(3), { downtimeMs: 1000 }) : debianSpec('d1', new Rng(3), { downtimeMs: 1000 });
  return new SimMachine(spec, new FakeClock(), 's');
}

/** One probe on a simulated host: the sample and the programs it started. */
async function probe(m: SimMachine, gather: boolean): Promise<{ sample: FactSample; programs: string[]; err: string }> {
  const out = new BufferOutput();
  const err = new BufferOutput();
  const before = programLog(m).names.length;
  await new Shell(m, registry).run(buildFactsScript(NONCE, { root: true, gather }), { stdin: new StringInput(''), stdout: out, stderr: err, uid: 0, user: 'root' });
  return { sample: parseSample(splitSections(out.text(), NONCE), 0), programs: programLog(m).names.slice(before), err: err.text() };
}

describe('the registry drives the script, the sample and the scope', () => {
  it('every registered fact is read by the script (its own section or a registered one it shares)', () => {
    const plain = buildFactsScript(NONCE, { root: true });
    const gather = buildFactsScript(NONCE, { root: true, gather: true });
    for (const f of FACTS) {
      const marker = `@@fleetmend:${NONCE}:begin:${sectionOf(f)}'`;
      expect(gather, f.name).toContain(marker);
      if (f.gather) expect(plain, f.name).not.toContain(`begin:${f.name}'`);
      else expect(plain, f.name).toContain(marker);
      if (f.script === undefined) expect(FACTS.some((o) => o.name === sectionOf(f) && o.script !== undefined), f.name).toBe(true);
    }
    expect(SECTION_NAMES.filter((n) => FACTS.some((f) => f.name === n))).toEqual(FACTS.filter((f) => !f.gather && f.script).map((f) => f.name));
    expect(GATHER_SECTION_NAMES).toEqual(FACTS.filter((f) => f.gather && f.script).map((f) => f.name));
  });

  it('every name a registered fact exposes is in the policy scope of a gathered sample from a simulated host', async () => {
    const { sample } = await probe(machine(), true);
    expect(sample.parse_errors).toEqual([]);
    const scope = policyScope({ samples: [sample] }, diagnose({ samples: [sample] })) as Record<string, Record<string, unknown>>;
    for (const f of FACTS) {
      expect(f.exposes, `${f.name} exposes nothing to conditions`).toBeDefined();
      const group = scope[f.exposes!.group];
      for (const name of f.exposes!.names) expect(group && name in group, `${f.exposes!.group}.${name} (${f.name})`).toBe(true);
    }
    expect(scope.host).toMatchObject({ nodename: 'd1', hostname: 'd1', fqdn: 'd1.fleet.example', service_mgr: 'systemd', virtualization_type: 'kvm', virtualization_role: 'guest' });
    expect(scope.memory!.mem_total_kb).toBe(4_013_000);
  });

  it('a sample that was not gathered has the host.* group empty (undefined, never a guess) and no gathered values', async () => {
    const { sample } = await probe(machine(), false);
    expect(sample.gathered).toBeUndefined();
    expect(factScope(sample).host).toEqual({});
  });
});

describe('gathering facts starts no program more than the probe (simulated host)', () => {
  it.each([false, true])('rhel %s: the same programs with and without the gathered facts', async (rhel) => {
    const plain = await probe(machine(rhel), false);
    const gathered = await probe(machine(rhel), true);
    expect(gathered.err).toBe('');
    expect(gathered.programs).toEqual(plain.programs);
    console.log(`[facts-registry] ${rhel ? 'rhel' : 'debian'} probe programs: plain ${plain.programs.join(' ')} (${plain.programs.length}), gathering ${gathered.programs.join(' ')} (${gathered.programs.length})`);
    expect(gathered.sample.gathered).toBeDefined();
  });
});

describe('Ansible facts from a gathered sample', () => {
  it('Debian 12: names, versions, release, cmdline, mounts, virtualization, service_mgr as Ansible gives them', async () => {
    const { sample } = await probe(machine(), true);
    const f = gatheredAnsibleFacts(sample, collectorsOf(['all']));
    expect(f).toMatchObject({
      distribution: 'Debian',
      os_family: 'Debian',
      distribution_version: '12.8',
      distribution_major_version: '12',
      distribution_release: 'bookworm',
      kernel: '6.1.0-50-amd64',
      system: 'Linux',
      architecture: 'x86_64',
      machine: 'x86_64',
      hostname: 'd1',
      nodename: 'd1',
      fqdn: 'd1.fleet.example',
      domain: 'fleet.example',
      service_mgr: 'systemd',
      virtualization_type: 'kvm',
      virtualization_role: 'guest',
      cmdline: { BOOT_IMAGE: '/boot/vmlinuz-6.1.0-50-amd64', root: '/dev/vda1', ro: true, quiet: true },
    });
    const mounts = f.mounts as { mount: string; fstype: string; options: string; device: string }[];
    expect(mounts.find((x) => x.mount === '/')).toMatchObject({ device: '/dev/vda1', fstype: 'ext4', options: 'rw,relatime,errors=remount-ro' });
    expect(mounts.map((x) => x.mount)).toContain('/srv/backup copy');
  });

  it('RHEL 9.4: RedHat family, release Plow from VERSION, the version from VERSION_ID', async () => {
    const { sample } = await probe(machine(true), true);
    expect(gatheredAnsibleFacts(sample, collectorsOf(['min']))).toMatchObject({
      distribution: 'RedHat',
      os_family: 'RedHat',
      distribution_version: '9.4',
      distribution_major_version: '9',
      distribution_release: 'Plow',
      architecture: 'x86_64',
      hostname: 'r1',
    });
    // min leaves out hardware (mounts) and virtual
    expect(gatheredAnsibleFacts(sample, collectorsOf(['min']))).not.toHaveProperty('mounts');
    expect(gatheredAnsibleFacts(sample, collectorsOf(['!all']))).not.toHaveProperty('virtualization_type');
    expect(gatheredAnsibleFacts(sample, collectorsOf(['all', '!hardware']))).toHaveProperty('virtualization_type', 'kvm');
    expect(gatheredAnsibleFacts(sample, collectorsOf(['all', '!hardware']))).not.toHaveProperty('mounts');
  });

  it('gather_subset as Ansible reads it: all, min, exclusions, unknown refused', () => {
    expect([...collectorsOf(['all'])].sort()).toEqual([...COLLECTORS].sort());
    expect([...collectorsOf(['!all', '!min'])]).toEqual([]);
    expect([...collectorsOf(['!all', 'virtual'])].sort()).toEqual(['cmdline', 'distribution', 'platform', 'service_mgr', 'virtual']);
    // as ansible-core: min is always in, so a lone exclusion or an unread subset gives min
    expect([...collectorsOf(['network'])].sort()).toEqual(['cmdline', 'distribution', 'platform', 'service_mgr']);
    expect([...collectorsOf(['!hardware'])].sort()).toEqual(['cmdline', 'distribution', 'platform', 'service_mgr']);
    expect([...collectorsOf(['!min', 'mounts'])]).toEqual(['mounts']);
    expect(() => collectorsOf(['hardwre'])).toThrow(/Bad subset 'hardwre'/);
  });

  it('a sample that was not gathered gives only what every sample has', async () => {
    const { sample } = await probe(machine(), false);
    expect(gatheredAnsibleFacts(sample, collectorsOf(['all']))).toEqual({});
    expect(ansibleFactsOf(sample)).toEqual({ distribution: 'Debian', os_family: 'Debian', distribution_major_version: '12', kernel: '6.1.0-50-amd64' });
  });
});

describe('the new parsers are total: garbage in, empty value and a parse note out', () => {
  const parsers: [string, (t: string, rc: number | null) => { value: unknown; error?: string }][] = [
    ['platform', parsePlatform],
    ['kernel_cmdline', parseKernelCmdline],
    ['distribution', (t) => parseDistribution(t)],
    ['mounts', parseMounts],
    ['virtualization', parseVirtualization],
    ['service_mgr', parseServiceMgr],
    ['packages', parsePackages],
    ['services', parseServices],
  ];
  it.each(parsers)('%s never throws on arbitrary text and rc', (_name, parse) => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), fc.option(fc.integer({ min: -1, max: 255 }), { nil: null }), (t, rc) => {
        const r = parse(t, rc);
        expect(r).toHaveProperty('value');
      }),
      { numRuns: 300 },
    );
  });

  it('binary garbage: each says why, with its empty value', () => {
    const junk = '\u0000\u0001ELF\u0002\n\u00ff\u00fe garbage line';
    expect(parsePlatform(junk, 0)).toMatchObject({ value: { hosts_lines: [] }, error: expect.stringMatching(/no host name/) });
    expect(parseDistribution(junk)).toMatchObject({ value: { fields: {} }, error: expect.stringMatching(/os-release/) });
    expect(parseMounts(junk, 0)).toMatchObject({ value: [], error: expect.stringMatching(/mounts/) });
    expect(parsePackages(junk, 0)).toMatchObject({ value: { manager: 'none', packages: {} }, error: expect.stringMatching(/unexpected output/) });
    expect(parseServices(junk, 0)).toMatchObject({ value: {}, error: expect.stringMatching(/unexpected output/) });
    expect(parseKernelCmdline('', 0)).toMatchObject({ value: { cmdline: {}, proc_cmdline: {} }, error: expect.stringMatching(/empty output/) });
    expect(parseKernelCmdline('cannot read /proc/cmdline', 2).error).toMatch(/cmdline/);
    expect(parseVirtualization(junk, null)).toMatchObject({ value: { type: 'NA', role: 'NA' }, error: expect.stringMatching(/did not finish/) });
    expect(parseServiceMgr(junk, null)).toMatchObject({ value: 'service', error: expect.stringMatching(/did not finish/) });
  });
});

describe('parsers against what the real files say', () => {
  it('cmdline: shlex words, quotes kept, a repeated key a list in proc_cmdline and the last value in cmdline', () => {
    expect(shlexWords('a "b c" d=\'e f\'')).toEqual(['a', '"b c"', "d='e f'"]);
    expect(shlexWords('a "b')).toBeUndefined();
    const r = parseKernelCmdline('BOOT_IMAGE=/vmlinuz root=UUID=1 ro console=tty0 console=ttyS0,115200 audit=1 quiet\n', 0);
    expect(r.value.cmdline).toEqual({ BOOT_IMAGE: '/vmlinuz', root: 'UUID=1', ro: true, console: 'ttyS0,115200', audit: '1', quiet: true });
    expect(r.value.proc_cmdline.console).toEqual(['tty0', 'ttyS0,115200']);
    expect(parseKernelCmdline('a "b', 0)).toMatchObject({ value: { cmdline: {} }, error: expect.stringMatching(/unclosed quote/) });
  });

  it('virtualization: Ansible order (a container before DMI), host roles, and NA when nothing tells', () => {
    expect(parseVirtualization('cgroup=0::/system.slice/docker-0123abcd.scope\nsys_vendor=QEMU\n', 0).value).toMatchObject({ type: 'docker', role: 'guest', tech_guest: ['docker', 'container', 'kvm'] });
    expect(parseVirtualization('product_name=VMware Virtual Platform\n', 0).value).toMatchObject({ type: 'VMware', role: 'guest' });
    expect(parseVirtualization('module=kvm 1142784 1 kvm_intel, Live 0x0\ndev_kvm=1\n', 0).value).toMatchObject({ type: 'kvm', role: 'host' });
    expect(parseVirtualization('systemd_container=podman\n', 0).value).toMatchObject({ type: 'podman', role: 'guest' });
    expect(parseVirtualization('cpu=model name\t: Intel Xeon\n', 0).value).toMatchObject({ type: 'NA', role: 'NA' });
  });

  it('service_mgr: PID 1 names it; init or a shell does not; then the marker paths', () => {
    expect(parseServiceMgr('comm=systemd\nsystemd=1\n', 0).value).toBe('systemd');
    expect(parseServiceMgr('comm=bash\nsysvinit=1\n', 0).value).toBe('sysvinit');
    expect(parseServiceMgr('comm=init\nsystemd=1\n', 0).value).toBe('systemd');
    expect(parseServiceMgr('comm=runit-init\n', 0).value).toBe('runit');
  });

  it('fqdn: the first dotted name on the host’s /etc/hosts line, else the node name', () => {
    expect(fqdnOf('web1', ['127.0.0.1 localhost', '127.0.1.1 web1.example.com web1'])).toBe('web1.example.com');
    expect(fqdnOf('web1', ['127.0.0.1 localhost'])).toBe('web1');
  });

  it('dpkg status: installed packages only, with version, arch and section; rpm lines with epoch', () => {
    const dpkg = 'manager=apt\nPackage: auditd\nStatus: install ok installed\nSection: admin\nArchitecture: amd64\nVersion: 1:3.0.9-1\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\n';
    expect(parsePackages(dpkg, 0).value.packages).toEqual({ auditd: [{ name: 'auditd', version: '1:3.0.9-1', arch: 'amd64', category: 'admin', source: 'apt' }] });
    const rpm = 'manager=rpm\naudit\t(none)\t3.1.2\t1.el9\tx86_64\nkernel\t0\t5.14.0\t427.el9\tx86_64\nkernel\t0\t5.14.0\t362.el9\tx86_64\n';
    const r = parsePackages(rpm, 0).value.packages;
    expect(r.audit).toEqual([{ name: 'audit', version: '3.1.2', release: '1.el9', epoch: null, arch: 'x86_64', source: 'rpm' }]);
    expect(r.kernel).toHaveLength(2);
  });

  it('systemctl listings: state from SUB, status from ACTIVE then the unit file, bad states kept', () => {
    const text = 'units:\nUNIT LOAD ACTIVE SUB DESCRIPTION\nauditd.service loaded active running Security Auditing\nfoo.service not-found inactive dead foo.service\n\nunit-files:\nUNIT FILE STATE VENDOR PRESET\nauditd.service enabled enabled\nfoo.service disabled enabled\nrsync.service disabled enabled\ngetty@.service enabled enabled\n';
    expect(parseServices(text, 0).value).toEqual({
      'auditd.service': { name: 'auditd.service', state: 'running', status: 'enabled', source: 'systemd' },
      'foo.service': { name: 'foo.service', state: 'stopped', status: 'not-found', source: 'systemd' },
      'rsync.service': { name: 'rsync.service', state: 'inactive', status: 'disabled', source: 'systemd' },
      'getty@.service': { name: 'getty@.service', state: 'unknown', status: 'enabled', source: 'systemd' },
    });
  });
});

const dash = existsSync('/usr/bin/dash') ? '/usr/bin/dash' : null;

describe.skipIf(!dash)('the gathering script under the real dash on this machine', () => {
  it('reads this kernel’s files with builtins and parses them (no parse note for the gathered facts)', () => {
    const out = execFileSync(dash as string, ['-c', buildFactsScript(NONCE, { root: false, gather: true })], { encoding: 'utf8', timeout: 60_000 });
    const s = parseSample(splitSections(out, NONCE), 0);
    const gatheredErrors = s.parse_errors.filter((e) => FACTS.some((f) => f.gather && f.name === e.section) && e.section !== 'distribution');
    expect(gatheredErrors).toEqual([]);
    const f = gatheredAnsibleFacts(s, collectorsOf(['all']));
    expect(f.architecture).toBe(execFileSync('uname', ['-m'], { encoding: 'utf8' }).trim());
    expect(f.nodename).toBe(execFileSync('uname', ['-n'], { encoding: 'utf8' }).trim());
    expect((f.mounts as { mount: string }[]).some((m) => m.mount === '/')).toBe(true);
  });
});
