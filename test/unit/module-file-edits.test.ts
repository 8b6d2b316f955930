/**
 * The pure edits of lineinfile, replace and blockinfile, against what ansible-core 2.16's
 * modules leave for the same file and arguments (each expected text was produced by running
 * `ansible localhost -c local -m MODULE -a ...` on the same input), and the parsers of the
 * audit-file guards.
 */
import { describe, expect, it } from 'vitest';
import { lineinfileArgs, lineinfileEdit } from '../../src/modules/lineinfile.js';
import { replaceArgs, replaceEdit } from '../../src/modules/replace.js';
import { blockinfileArgs, blockinfileEdit } from '../../src/modules/blockinfile.js';
import { grubBacklogLimit, introducedSettings, parseRulesSettings, auditFileKind } from '../../src/modules/audit-files.js';
import { normalizeMode, parseFileRead, writeFileCommand } from '../../src/modules/files.js';
import { planFile, fileArgs } from '../../src/modules/file.js';
import type { RemoteFile } from '../../src/modules/files.js';

const file = (content: string): RemoteFile => ({ path: '/etc/x', exists: true, kind: 'file', mode: '644', owner: 'root', group: 'root', content });
const RULES = 'a\n-b 8192\n-f 1\nz\n';
const li = (args: Record<string, unknown>, content = RULES) => lineinfileEdit(file(content), lineinfileArgs.parse({ path: '/etc/x', ...args }));

describe('lineinfile edit (as ansible-core 2.16 leaves the file)', () => {
  it('replaces the line regexp matches, and a second run changes nothing', () => {
    const e = li({ regexp: '^-f ', line: '-f 2' });
    expect(e).toEqual({ after: 'a\n-b 8192\n-f 2\nz\n', msg: 'line replaced' });
    expect(li({ regexp: '^-f ', line: '-f 2' }, 'a\n-b 8192\n-f 2\nz\n')).toEqual({ after: undefined, msg: '' });
  });
  it('inserts after / before the match, at EOF by default (adding the missing newline), and BOF', () => {
    expect(li({ line: '-e 2', insertafter: '^-b' })).toMatchObject({ after: 'a\n-b 8192\n-e 2\n-f 1\nz\n', msg: 'line added' });
    expect(li({ line: 'new', insertbefore: '^-f' })).toMatchObject({ after: 'a\n-b 8192\nnew\n-f 1\nz\n' });
    expect(li({ line: 'end' }, 'x\nfoo=1\ny')).toMatchObject({ after: 'x\nfoo=1\ny\nend\n' });
    expect(li({ line: 'top', insertbefore: 'BOF' })).toMatchObject({ after: `top\n${RULES}` });
    expect(li({ line: '-e 2', insertafter: '^-b' }, 'a\n-b 8192\n-e 2\n-f 1\nz\n')).toEqual({ after: undefined, msg: '' });
  });
  it('backrefs: expands groups of the match, and does nothing when the regexp does not match', () => {
    expect(li({ regexp: '^-b (\\d+)$', line: '-b \\g<1>0', backrefs: true })).toMatchObject({ after: 'a\n-b 81920\n-f 1\nz\n' });
    expect(li({ regexp: '^-e (\\d)', line: '-e \\1', backrefs: true })).toEqual({ after: undefined, msg: '' });
  });
  it('absent removes every matching line; a missing file fails unless create (rc 257)', () => {
    expect(li({ regexp: '^-[bf]', state: 'absent' })).toEqual({ after: 'a\nz\n', msg: '2 line(s) removed' });
    expect(lineinfileEdit({ path: '/etc/y', exists: false }, lineinfileArgs.parse({ path: '/etc/y', line: 'x' }))).toMatchObject({ fail: 'Destination /etc/y does not exist !' });
    expect(lineinfileEdit({ path: '/etc/y', exists: false }, lineinfileArgs.parse({ path: '/etc/y', line: 'x', create: true }))).toEqual({ after: 'x\n', msg: 'line added' });
  });
  it('rejects argument combinations Ansible rejects', () => {
    expect(lineinfileArgs.safeParse({ path: '/x', line: 'a', insertafter: 'a', insertbefore: 'b' }).success).toBe(false);
    expect(lineinfileArgs.safeParse({ path: '/x', line: 'a', backrefs: true }).success).toBe(false);
    expect(lineinfileArgs.safeParse({ path: 'relative', line: 'a' }).success).toBe(false);
    expect(lineinfileArgs.parse({ dest: '/x', regex: 'a', value: 5 })).toMatchObject({ path: '/x', regexp: 'a', line: '5' });
  });
});

describe('replace edit', () => {
  it('replaces every match (MULTILINE), with the count in the message', () => {
    const g = 'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX="quiet audit_backlog_limit=8192"\n';
    const e = replaceEdit(file(g), replaceArgs.parse({ path: '/etc/default/grub', regexp: 'audit_backlog_limit=\\d+', replace: 'audit_backlog_limit=1024' }));
    expect(e).toEqual({ after: g.replace('8192', '1024'), msg: '1 replacements made' });
  });
  it('only inside the after/before section', () => {
    const e = replaceEdit(file('head\n[s]\nk=1\n[t]\nk=1\n'), replaceArgs.parse({ path: '/x', regexp: '^k=1', replace: 'k=2', after: '\\[s\\]', before: '\\[t\\]' }));
    expect(e).toEqual({ after: 'head\n[s]\nk=2\n[t]\nk=1\n', msg: '1 replacements made' });
  });
  it('named groups and \\g<name> in the replacement; nothing to do is no change', () => {
    const e = replaceEdit(file('-b 64\n'), replaceArgs.parse({ path: '/x', regexp: '^-b (?P<n>\\d+)$', replace: '-b \\g<n>00' }));
    expect(e).toMatchObject({ after: '-b 6400\n' });
    expect(replaceEdit(file('x\n'), replaceArgs.parse({ path: '/x', regexp: 'y' }))).toEqual({ after: undefined, msg: '' });
  });
});

describe('blockinfile edit', () => {
  it('inserts after the match, updates the block in place, removes it', () => {
    const a = blockinfileEdit(file('a\nb\n'), blockinfileArgs.parse({ path: '/x', block: '-e 2', insertafter: '^a' }));
    expect(a).toEqual({ after: 'a\n# BEGIN ANSIBLE MANAGED BLOCK\n-e 2\n# END ANSIBLE MANAGED BLOCK\nb\n', msg: 'Block inserted' });
    const old = 'a\n# BEGIN ANSIBLE MANAGED BLOCK\nold\n# END ANSIBLE MANAGED BLOCK\nc\n';
    expect(blockinfileEdit(file(old), blockinfileArgs.parse({ path: '/x', block: 'new1' }))).toMatchObject({ after: old.replace('old', 'new1') });
    expect(blockinfileEdit(file(old), blockinfileArgs.parse({ path: '/x', block: 'old' }))).toEqual({ after: undefined, msg: '' });
    expect(blockinfileEdit(file(old), blockinfileArgs.parse({ path: '/x', state: 'absent' }))).toEqual({ after: 'a\nc\n', msg: 'Block removed' });
  });
  it('custom markers', () => {
    const e = blockinfileEdit(file(''), blockinfileArgs.parse({ path: '/x', block: 'x', marker: '## {mark} fm', marker_begin: 'START', marker_end: 'STOP' }));
    expect(e).toMatchObject({ after: '## START fm\nx\n## STOP fm\n' });
  });
});

describe('audit-file parsing', () => {
  it('rules: the last -b/-f/-e/--backlog_wait_time wins; what a write introduces', () => {
    expect(parseRulesSettings('-D\n-b 8192\n-f 1\n-a always,exit -F arch=b64 -S execve\n-b 16384 # bigger\n-e 2\n')).toEqual({ backlog_limit: 16384, failure: 1, enabled: 2 });
    expect(introducedSettings({ failure: 1, backlog_limit: 8192 }, { failure: 2, backlog_limit: 8192 })).toEqual({ failure: 2 });
  });
  it('grub: GRUB_CMDLINE_LINUX then _DEFAULT, last assignment and last occurrence win', () => {
    expect(grubBacklogLimit('GRUB_CMDLINE_LINUX="audit=1 audit_backlog_limit=8192"\nGRUB_CMDLINE_LINUX_DEFAULT="quiet audit_backlog_limit=64"\n')).toBe(64);
    expect(grubBacklogLimit("GRUB_CMDLINE_LINUX='a'\nGRUB_CMDLINE_LINUX='audit_backlog_limit=320'\n")).toBe(320);
    expect(grubBacklogLimit('# GRUB_CMDLINE_LINUX="audit_backlog_limit=1"\n')).toBeUndefined();
  });
  it('which files are audit files', () => {
    expect(auditFileKind('/etc/audit/rules.d/50-x.rules')).toBe('rules');
    expect(auditFileKind('/etc/audit/rules.d/.50-x.rules.ab.fleetmend.tmp')).toBeUndefined();
    expect(auditFileKind('/etc/default/grub')).toBe('grub');
    expect(auditFileKind('/etc/audit/auditd.conf')).toBe('auditd-conf');
  });
});

describe('files: read, write command, modes', () => {
  it('parses the one-round-trip read (stat line, then the content verbatim)', () => {
    expect(parseFileRead('/x', 'S:600:root:adm:regular file\nline1\nline2')).toMatchObject({ exists: true, kind: 'file', mode: '600', group: 'adm', content: 'line1\nline2' });
    expect(parseFileRead('/x', 'S:644:root:root:regular empty file\n')).toMatchObject({ content: '' });
    expect(parseFileRead('/x', 'S:absent\n')).toEqual({ path: '/x', exists: false });
    expect(parseFileRead('/x', 'garbage')).toBeUndefined();
  });
  it('the write never has the content in the command, keeps the old mode and owner, renames last', () => {
    const cmd = writeFileCommand('/etc/audit/rules.d/a b.rules', {}, file('secret-content'), 'tag');
    expect(cmd).not.toContain('secret-content');
    expect(cmd).toContain("fm_t='/etc/audit/rules.d/.a b.rules.tag.fleetmend.tmp'");
    expect(cmd).toMatch(/cat > "\$fm_t" && chmod '644' "\$fm_t" && mv -f "\$fm_t" "\$fm_p" \|\| \(rm -f "\$fm_t"; exit 1\)/);
    expect(writeFileCommand('/x', { mode: '600' }, { ...file(''), owner: 'www', group: 'www' }, 't')).toContain(`chown 'www:www'`);
  });
  it('modes: quoted octal; a YAML 1.2 int written in octal digits (0644 -> 644) as those digits; else its value in octal (YAML 1.1 0755 -> 493)', () => {
    expect(normalizeMode('0644')).toBe('644');
    expect(normalizeMode(644)).toBe('644');
    expect(normalizeMode(493)).toBe('755');
    expect(normalizeMode('2750')).toBe('2750');
  });
  it('file: plans only what differs', () => {
    expect(planFile(file('x'), fileArgs.parse({ path: '/etc/x', state: 'file', mode: '0644' })).plan).toBeUndefined();
    expect(planFile(file('x'), fileArgs.parse({ path: '/etc/x', mode: '0600' })).plan).toEqual({ path: '/etc/x', attrs: { mode: '600' } });
    expect(planFile({ path: '/d', exists: false }, fileArgs.parse({ path: '/d', state: 'directory' })).plan?.create).toBe("mkdir -p '/d'");
    expect(planFile({ path: '/d', exists: false }, fileArgs.parse({ path: '/d', state: 'file' })).fail).toMatch(/is absent, cannot continue/);
  });
});
