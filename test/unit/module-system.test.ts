/**
 * The pure parts of package, mount and the load-command guard: the package managers' output as
 * the real tools print it, /proc/mounts and fstab, and which command lines load audit rules.
 */
import { describe, expect, it } from 'vitest';
import { packageArgs, parseQuery, planPackages, queryCommand } from '../../src/modules/package.js';
import { fstabEdit, liveMount, mountArgs } from '../../src/modules/mount.js';
import { parseMounts } from '../../src/facts/defs/mounts.js';
import { rulesLoadedBy } from '../../src/modules/audit-files.js';

describe('package', () => {
  it('reads dpkg-query lines (only "install ok installed" counts) and apt-cache policy candidates', () => {
    const out = [
      'M:apt',
      'Q:auditd\tinstall ok installed\t1:3.0.9-1',
      'Q:aide\tdeinstall ok config-files\t0.18.3-1',
      'C:',
      'auditd:',
      '  Installed: 1:3.0.9-1',
      '  Candidate: 1:3.0.9-1',
      '  Version table:',
      ' *** 1:3.0.9-1 500',
      'aide:',
      '  Installed: (none)',
      '  Candidate: 0.18.3-1+deb12u3',
    ].join('\n');
    const q = parseQuery(out);
    expect(q).toEqual({ manager: 'apt', installed: { auditd: '1:3.0.9-1' }, candidate: { auditd: '1:3.0.9-1', aide: '0.18.3-1+deb12u3' } });
    expect(planPackages(['auditd', 'aide'], 'latest', q, 'apt')).toEqual({ manager: 'apt', install: ['aide'], upgrade: [], remove: [] });
  });
  it('reads rpm -q and dnf check-update (name.arch version repo)', () => {
    const q = parseQuery('M:dnf\nQ:audit\tinstall ok installed\t3.1.2-2.el9\npackage aide is not installed\nC:\n\naudit.x86_64                3.1.5-1.el9                baseos\n');
    expect(q.installed).toEqual({ audit: '3.1.2-2.el9' });
    expect(planPackages(['audit', 'aide'], 'latest', q, 'dnf')).toEqual({ manager: 'dnf', install: ['aide'], upgrade: ['audit'], remove: [] });
    expect(planPackages(['audit', 'aide'], 'absent', q, 'dnf').remove).toEqual(['audit']);
  });
  it('quotes the names and refuses what is not a package name', () => {
    expect(queryCommand(['a+b'], false)).toContain("'a+b'");
    expect(packageArgs.safeParse({ name: 'aide; reboot' }).success).toBe(false);
    expect(packageArgs.parse({ name: 'aide, auditd' }).name).toEqual(['aide', 'auditd']);
  });
});

describe('mount', () => {
  it('the visible mount is the last one on the path', () => {
    const pm = parseMounts('/dev/vda1 / ext4 rw 0 0\ntmpfs /var/log/audit tmpfs rw 0 0\n/dev/vdb1 /var/log/audit ext4 rw,nodev 0 0\n', 0).value;
    expect(liveMount(pm, '/var/log/audit')).toEqual({ src: '/dev/vdb1', fstype: 'ext4', opts: 'rw,nodev' });
    expect(liveMount(pm, '/srv')).toBeUndefined();
  });
  it('fstab: adds, changes in place (comments kept), removes; same entry is no change', () => {
    const f = { path: '/etc/fstab', exists: true, kind: 'file' as const, content: '# root\n/dev/vda1 / ext4 defaults 0 1\n' };
    const a = mountArgs.parse({ path: '/var/log/audit', src: '/dev/vdb1', fstype: 'ext4', opts: 'nodev', state: 'present' });
    const added = fstabEdit(f, a);
    expect(added).toEqual({ after: '# root\n/dev/vda1 / ext4 defaults 0 1\n/dev/vdb1 /var/log/audit ext4 nodev 0 0\n', msg: 'fstab entry added' });
    expect(fstabEdit({ ...f, content: added.after as string }, a)).toEqual({ after: undefined, msg: '' });
    expect(fstabEdit({ ...f, content: added.after as string }, mountArgs.parse({ path: '/var/log/audit', state: 'absent' }))).toMatchObject({ after: f.content });
  });
});

describe('commands that load audit rules', () => {
  it.each([
    ['augenrules --load', 'augenrules --load'],
    ['/sbin/augenrules --load && echo ok', 'augenrules --load'],
    ['auditctl -R /etc/audit/audit.rules', 'auditctl -R /etc/audit/audit.rules'],
    ['systemctl restart auditd', 'an auditd start'],
    ['systemctl --no-block start auditd.service', 'an auditd start'],
    ['service auditd restart', 'an auditd start'],
  ])('%s', (line, what) => {
    expect(rulesLoadedBy(line)?.what).toContain(what);
  });
  it.each(['augenrules --check', 'systemctl stop auditd', 'auditctl -s', 'systemctl restart sshd'])('not %s', (line) => {
    expect(rulesLoadedBy(line)).toBeUndefined();
  });
});
