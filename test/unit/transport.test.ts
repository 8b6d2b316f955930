import { execFileSync, spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BecomeDialog, buildBecomeCommand, detectSudoFailure, parseSshCommonArgs, shellQuote, splitShellWords, type BecomeMarkers, type DialogAction } from '../../src/transport/index.js';
import { CappedOutput } from '../../src/transport/output.js';
import { connectionSecrets, maskerFor, SecretValues, secretVarValues } from '../../src/secrets/index.js';

describe('shellQuote', () => {
  it('round-trips any string through sh -c printf %s', () => {
    // NUL cannot appear in an argv string; everything else must survive unchanged
    const special = fc.constantFrom("'", '"', '\\', '$', '`', '\n', ' ', '!', '*', ';', '|', '&', '(', ')', '-', '%', 'é', '日', '💥');
    const arb = fc
      .array(fc.oneof(special, fc.string({ unit: 'grapheme-ascii', maxLength: 3 }), fc.string({ unit: 'binary', maxLength: 3 })), { maxLength: 15 })
      .map((parts) => parts.join('').replace(/\0/g, ''));
    fc.assert(
      fc.property(arb, (s) => {
        const out = execFileSync('sh', ['-c', `printf %s ${shellQuote(s)}`]).toString('utf8');
        expect(out).toBe(s);
      }),
      { numRuns: 150 },
    );
  });

  it('quotes the empty string and embedded quotes', () => {
    expect(shellQuote('')).toBe("''");
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
  });
});

describe('become command construction', () => {
  it('no sudo when become is off, or the login user is already the target', () => {
    expect(buildBecomeCommand('id', 'alice', { enabled: false }).command).toBe('id');
    expect(buildBecomeCommand('id', 'root', { enabled: true }).wrapped).toBe(false);
    expect(buildBecomeCommand('id', 'root', { enabled: true, user: 'postgres' }).wrapped).toBe(true);
  });

  it('sudo -n without a password; the command is quoted for sh -c', () => {
    const b = buildBecomeCommand(`echo "$HOME" 'x'`, 'alice', { enabled: true });
    expect(b.command).toBe(`sudo -n -- sh -c 'echo "$HOME" '\\''x'\\'''`);
    expect(b.markers).toBeUndefined();
  });

  it('with a password: sudo -S with a random prompt and success line, the password never on the command line; -u USER', () => {
    const b = buildBecomeCommand('id', 'alice', { enabled: true, user: 'svc', password: "p'w$(rm -rf /)" }, 'abc123');
    expect(b.command).toBe(`sudo -S -p '[fleetmend-sudo-abc123] password: ' -u 'svc' -- sh -c 'echo FLEETMEND-BECOME-OK-abc123 >&2\nid'`);
    expect(b.command).not.toContain("p'w");
    expect(b.markers).toEqual({ prompt: '[fleetmend-sudo-abc123] password: ', success: 'FLEETMEND-BECOME-OK-abc123', password: "p'w$(rm -rf /)" });
    const one = buildBecomeCommand('id', 'alice', { enabled: true, password: 'x' });
    const two = buildBecomeCommand('id', 'alice', { enabled: true, password: 'x' });
    expect(one.markers!.prompt).not.toBe(two.markers!.prompt);
    expect(one.markers!.prompt).toMatch(/^\[fleetmend-sudo-[0-9a-f]{24}\] password: $/);
  });

  it('the success line goes to stderr, then the original command runs unchanged (a sudo stand-in)', () => {
    const cmd = `# a comment first\nprintf '%s|' "a b" 'c'"'"'d'; echo err >&2`;
    const b = buildBecomeCommand(cmd, 'alice', { enabled: true, password: 'pw' }, 'n1');
    const r = spawnSync('sh', ['-c', b.command.replace(/^sudo -S -p '[^']*' --/, 'env --')], { input: '' });
    expect(r.stdout.toString()).toBe(execFileSync('sh', ['-c', cmd], { stdio: ['pipe', 'pipe', 'ignore'] }).toString());
    expect(r.stderr.toString()).toBe('FLEETMEND-BECOME-OK-n1\nerr\n');
  });

  it('the wrapped command runs the original under sh -c (executed with a sudo stand-in)', () => {
    const cmd = `printf '%s|' "a b" 'c'"'"'d'`;
    const b = buildBecomeCommand(cmd, 'alice', { enabled: true });
    const out = execFileSync('sh', ['-c', b.command.replace(/^sudo -n --/, 'env --')]).toString();
    expect(out).toBe(execFileSync('sh', ['-c', cmd]).toString());
  });

  it('recognizes sudo refusals', () => {
    expect(detectSudoFailure('sudo: a password is required\n')).toMatch(/password/);
    expect(detectSudoFailure('sudo: 1 incorrect password attempt\n')).toMatch(/rejected/);
    expect(detectSudoFailure('alice is not in the sudoers file.  This incident will be reported.\n')).toMatch(/may not/);
    expect(detectSudoFailure('ls: cannot access x\n')).toBeUndefined();
  });
});

describe('BecomeDialog (what sudo says on stderr before the command runs)', () => {
  const m: BecomeMarkers = { prompt: '[fleetmend-sudo-n1] password: ', success: 'FLEETMEND-BECOME-OK-n1', password: 'pw' };
  const run = (chunks: string[]) => {
    const d = new BecomeDialog(m);
    let out = Buffer.alloc(0);
    const actions: DialogAction['kind'][] = [];
    for (const c of chunks) {
      const r = d.feed(Buffer.from(c, 'utf8'));
      out = Buffer.concat([out, r.out]);
      actions.push(...r.actions.map((a) => a.kind));
    }
    return { out: Buffer.concat([out, d.flush()]).toString('utf8'), actions, state: d.state };
  };

  it('no prompt (NOPASSWD, cached timestamp): ready at the success line, no password sent', () => {
    expect(run(['FLEETMEND-BECOME-OK-n1\nwarn: x\n'])).toEqual({ out: 'warn: x\n', actions: ['ready'], state: 'ready' });
  });

  it('a prompt: the password once, then ready; neither marker is shown', () => {
    expect(run(['[fleetmend-sudo-n1] password: ', 'FLEETMEND-BECOME-OK-n1\n'])).toEqual({ out: '', actions: ['send-password', 'ready'], state: 'ready' });
  });

  it('markers split across chunks, byte by byte, still match; UTF-8 survives', () => {
    const text = '[fleetmend-sudo-n1] password: FLEETMEND-BECOME-OK-n1\nété\n';
    const d = new BecomeDialog(m);
    const kinds: string[] = [];
    let out = Buffer.alloc(0);
    for (const b of Buffer.from(text, 'utf8')) {
      const r = d.feed(Buffer.from([b]));
      kinds.push(...r.actions.map((a) => a.kind));
      out = Buffer.concat([out, r.out]);
    }
    expect(kinds).toEqual(['send-password', 'ready']);
    expect(out.toString('utf8')).toBe('été\n');
  });

  it('a wrong password fails at "Sorry, try again." or at a second prompt, never answering twice', () => {
    expect(run(['[fleetmend-sudo-n1] password: ', 'Sorry, try again.\n'])).toMatchObject({ actions: ['send-password', 'failed'], state: 'failed' });
    expect(run(['[fleetmend-sudo-n1] password: ', '[fleetmend-sudo-n1] password: '])).toMatchObject({ actions: ['send-password', 'failed'] });
    // both prompts in one chunk: nothing was answered yet, and nothing is
    expect(run(['[fleetmend-sudo-n1] password: Sorry, try again.\n[fleetmend-sudo-n1] password: '])).toMatchObject({ actions: ['failed'] });
  });

  it("after the success line stderr is the command's: a printed prompt is passed on, not answered", () => {
    expect(run(['FLEETMEND-BECOME-OK-n1\n', '[fleetmend-sudo-n1] password: '])).toEqual({ out: '[fleetmend-sudo-n1] password: ', actions: ['ready'], state: 'ready' });
  });

  it('sudo refusing without a prompt passes its message through', () => {
    expect(run(['sudo: alice is not in the sudoers file.\n'])).toEqual({ out: 'sudo: alice is not in the sudoers file.\n', actions: [], state: 'auth' });
  });
});

describe('SecretValues', () => {
  const s = new SecretValues(['hunter2-pw', undefined, 'abc', 'pass-phrase-long']);
  it('masks every occurrence, longest first, and leaves values too short to mask safely', () => {
    expect(s.size).toBe(2);
    expect(s.mask('a hunter2-pw b hunter2-pw')).toBe('a ******** b ********');
    expect(s.mask('abc lost 0')).toBe('abc lost 0');
  });
  it('masks a trailing start of a secret (output cut mid-secret)', () => {
    expect(s.mask('head: pass-phr')).toBe('head: ********');
    expect(s.mask('hunt')).toBe('********');
    expect(s.mask('hun')).toBe('hun');
  });
  it('maskDeep walks objects and arrays', () => {
    expect(s.maskDeep({ a: ['x hunter2-pw'], b: { c: 'pass-phrase-long\n' }, n: 3 })).toEqual({ a: ['x ********'], b: { c: '********\n' }, n: 3 });
  });
  it("a connection's secrets: password, passphrase, become password, its bastion's", () => {
    const base = { name: 'h', address: 'a', port: 22, user: 'u', connectTimeoutMs: 1, commandTimeoutMs: 1, keepaliveIntervalMs: 1, maxOutputBytes: 1, knownHostsFile: 'k', hostKeyChecking: 'strict' as const };
    const spec = { ...base, auth: { password: 'p1', passphrase: 'p2' }, become: { enabled: true, password: 'p3' }, jump: { ...base, auth: { password: 'p4' }, become: { enabled: false } } };
    expect(connectionSecrets(spec)).toEqual(['p1', 'p2', 'p3', 'p4']);
  });
  it('the values of secret-named vars, at any depth, strings and numbers; other vars are not secrets', () => {
    const vars = { db_password: 'pw-1', app: { api_token: 12345678, name: 'web' }, vault_secret: { a: ['s-1', 's-2'] }, passed: 'yes', ticket: 'INC-1' };
    expect(secretVarValues(vars)).toEqual(['pw-1', '12345678', 's-1', 's-2']);
  });
  it("maskerFor: every connection's secrets and the secret-named values of each vars source, one masker", () => {
    const base = { name: 'h', address: 'a', port: 22, user: 'u', connectTimeoutMs: 1, commandTimeoutMs: 1, keepaliveIntervalMs: 1, maxOutputBytes: 1, knownHostsFile: 'k', hostKeyChecking: 'strict' as const };
    const specs = [
      { ...base, auth: { password: 'login-pw-1' }, become: { enabled: true, password: 'become-pw-2' } },
      { ...base, auth: { passphrase: 'phrase-3' }, become: { enabled: false } },
    ];
    const m = maskerFor(specs, [{ db_password: 'own-var-4' }, { host: { vault_token: 'inv-var-5' }, plain: 'shown-6' }]);
    expect(m.mask('login-pw-1 become-pw-2 phrase-3 own-var-4 inv-var-5 shown-6')).toBe('******** ******** ******** ******** ******** shown-6');
    expect(maskerFor(specs[1]!).size).toBe(1);
  });
});

describe('CappedOutput', () => {
  it('keeps at most cap bytes across stdout+stderr, counts all', () => {
    const o = new CappedOutput(10);
    o.push('stdout', Buffer.from('123456'));
    o.push('stderr', Buffer.from('abcdef'));
    o.push('stdout', Buffer.from('zzz'));
    expect(o.stdout()).toBe('123456');
    expect(o.stderr()).toBe('abcd');
    expect(o.bytes).toBe(15);
    expect(o.truncated).toBe(true);
  });

  it('push says when the cap is reached (the transport stops the command there)', () => {
    const o = new CappedOutput(4);
    expect(o.push('stdout', Buffer.from('1234'))).toBe(false);
    expect(o.push('stderr', Buffer.alloc(0))).toBe(false);
    expect(o.push('stdout', Buffer.from('5'))).toBe(true);
  });

  it('never throws on invalid UTF-8 or a multibyte char split at the cap', () => {
    const o = new CappedOutput(2);
    o.push('stdout', Buffer.from('é日', 'utf8'));
    expect(o.stdout()).toBe('é');
    const b = new CappedOutput(100);
    b.push('stdout', Buffer.from([0xff, 0x41]));
    expect(b.stdout()).toBe('\uFFFDA');
  });
});

describe('parseSshCommonArgs', () => {
  it('-J and -J attached', () => {
    expect(parseSshCommonArgs('-J bastion').proxyJump).toEqual([{ host: 'bastion' }]);
    expect(parseSshCommonArgs('-Jops@b1:2200,b2').proxyJump).toEqual([{ user: 'ops', host: 'b1', port: 2200 }, { host: 'b2' }]);
  });

  it('-o ProxyJump=, -oProxyJump, quoted "ProxyJump x"', () => {
    expect(parseSshCommonArgs('-o ProxyJump=user@bastion:2222').proxyJump).toEqual([{ user: 'user', host: 'bastion', port: 2222 }]);
    expect(parseSshCommonArgs('-oProxyJump=b').proxyJump).toEqual([{ host: 'b' }]);
    expect(parseSshCommonArgs(`-o 'ProxyJump b3'`).proxyJump).toEqual([{ host: 'b3' }]);
  });

  it('the simple ProxyCommand ssh -W form becomes a jump hop', () => {
    const r = parseSshCommonArgs(`-o ProxyCommand="ssh -W %h:%p -q -p 2222 admin@bastion.example"`);
    expect(r.proxyJump).toEqual([{ user: 'admin', host: 'bastion.example', port: 2222 }]);
    const r2 = parseSshCommonArgs(`-o 'ProxyCommand=ssh -l ops -W %h:%p gw'`);
    expect(r2.proxyJump).toEqual([{ user: 'ops', host: 'gw' }]);
  });

  it('refuses a ProxyCommand it cannot reproduce (never bypasses the bastion)', () => {
    expect(() => parseSshCommonArgs(`-o ProxyCommand="nc -X 5 -x proxy:1080 %h %p"`)).toThrow(/unsupported ProxyCommand/);
  });

  it('other options: -p -l -i, StrictHostKeyChecking, UserKnownHostsFile; unknown ones are ignored', () => {
    const r = parseSshCommonArgs('-p 2022 -l deploy -i ~/.ssh/k -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=/dev/null -o ControlMaster=auto -q');
    expect(r).toMatchObject({ port: 2022, user: 'deploy', identityFiles: ['~/.ssh/k'], strictHostKeyChecking: 'accept-new', userKnownHostsFile: '/dev/null' });
    expect(r.ignored).toEqual(['-o ControlMaster=auto', '-q']);
  });

  it('splits words like a shell', () => {
    expect(splitShellWords(`a "b c" 'd e' f\\ g "h\\"i"`)).toEqual(['a', 'b c', 'd e', 'f g', 'h"i']);
    expect(() => splitShellWords(`"open`)).toThrow();
  });
});
