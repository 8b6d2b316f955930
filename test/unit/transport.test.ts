import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildBecomeCommand, detectSudoFailure, parseSshCommonArgs, shellQuote, splitShellWords } from '../../src/transport/index.js';
import { CappedOutput } from '../../src/transport/output.js';

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
    expect(b.stdinPrefix).toBe('');
  });

  it('sudo -S -p "" with the password on stdin, never on the command line; -u USER', () => {
    const b = buildBecomeCommand('id', 'alice', { enabled: true, user: 'svc', password: "p'w$(rm -rf /)" });
    expect(b.command).toBe(`sudo -S -p '' -u 'svc' -- sh -c 'id'`);
    expect(b.command).not.toContain('p\'w');
    expect(b.stdinPrefix).toBe("p'w$(rm -rf /)\n");
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
