/**
 * Context-aware quoting of template values in shell arguments (issue 16 §2), proven against the
 * real /bin/sh (dash on Debian): for every context a value can land in, the rendered command
 * prints the value verbatim and never runs anything the value carries (a canary file in a fresh
 * directory); positions that cannot be proven safe are refused at load time with file:line.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { FleetmendError } from '../../src/errors.js';
import { parsePlaybook, Templater } from '../../src/playbook/index.js';
import { splitWords } from '../../src/modules/index.js';

const SH = '/bin/sh';
/** The sshd fleet's login shell, and /bin/sh on RHEL: the same values must be safe there too. */
const BASH = existsSync('/bin/bash') ? '/bin/bash' : undefined;
const work = mkdtempSync(join(tmpdir(), 'fm-shq-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs `cmd` with /bin/sh in a fresh empty directory; returns stdout and what appeared there. */
function sh(cmd: string, shell = SH): { out: string; code: number | null; created: string[]; err: string } {
  const dir = mkdtempSync(join(work, 'run-'));
  const r = spawnSync(shell, ['-c', cmd], { cwd: dir, encoding: 'utf8', env: { PATH: '/usr/bin:/bin', HOME: dir }, timeout: 10_000 });
  const created = readdirSync(dir);
  rmSync(dir, { recursive: true, force: true });
  return { out: r.stdout, code: r.status, created, err: r.stderr };
}

const t = new Templater();
const render = (tpl: string, v: unknown) => t.render(tpl, { v }, 'sh') as string;

/** Template → what /bin/sh must print for value v. */
const CONTEXTS: [string, string, (v: string) => string][] = [
  ['outside quotes', 'printf %s {{ v }}', (v) => v],
  ['inside double quotes (the issue)', 'printf %s "ticket: {{ v }}"', (v) => `ticket: ${v}`],
  ['inside single quotes', "printf %s 'ticket: {{ v }}'", (v) => `ticket: ${v}`],
  ['twice, adjacent to text', 'printf %s x{{ v }}"-{{ v }}-"\'{{ v }}\'y', (v) => `x${v}-${v}-${v}y`],
  ['in $( ) inside double quotes', 'printf %s "<$(printf %s {{ v }})>"', (v) => `<${v.replace(/\n+$/, '')}>`],
  ['in double quotes in $( ) in double quotes', 'printf %s "<$(printf %s "[{{ v }}]")>"', (v) => `<[${v}]>`],
  ['unquoted heredoc', 'cat <<FM_END\nv: {{ v }} $HOME_UNSET\nFM_END', (v) => `v: ${v} \n`],
  ['quoted heredoc', "cat <<'FM_END'\nv: {{ v }} $x\nFM_END", (v) => `v: ${v} $x\n`],
  ['<<- heredoc', 'cat <<-FM_END\n\tv: {{ v }}\n\tFM_END', (v) => `v: ${v}\n`],
  ['comment', 'printf %s ok # {{ v }} ; touch pwned-comment', () => 'ok'],
  ['assignment then use', 'x={{ v }}; printf %s "$x"', (v) => v],
  ['after a redirection, in a case word', 'case {{ v }} in *) printf %s "{{ v }}";; esac', (v) => v],
];

describe('each context prints the value verbatim on the real /bin/sh', () => {
  const samples = ['INC-1 $(echo INJECTED-$((6*7)))', "it's", '"; touch pwned; "', "'; touch pwned; '", '`touch pwned`', 'a\\', '\\$HOME', 'line1\nline2', '$HOME ${PATH} !x', 'ünï €', ''];
  it.each(CONTEXTS)('%s', (_name, tpl, expected) => {
    for (const v of samples) {
      const cmd = render(tpl, v);
      const r = sh(cmd);
      expect({ v, out: r.out, created: r.created }).toEqual({ v, out: expected(v), created: [] });
    }
  });

  it("the issue's example: INJECTED-42 is never printed", () => {
    const cmd = render('echo "ticket: {{ v }}"', 'INC-1 $(echo INJECTED-$((6*7)))');
    expect(sh(cmd).out).toBe('ticket: INC-1 $(echo INJECTED-$((6*7)))\n');
  });
});

/** Strings built from shell-meaningful fragments and arbitrary unicode (no NUL). */
const hostile = fc
  .array(
    fc.oneof(
      fc.constantFrom("'", '"', '`', '$', '\\', '\n', '(', ')', '{', '}', ';', '&', '|', '<', '>', '#', '!', '*', '?', '~', ' ', '\t', '=', '\r', '\x1b', '\x7f'),
      fc.constantFrom('$(touch pwned-a)', '`touch pwned-b`', "'; touch pwned-c; '", '"; touch pwned-d; "', '\ntouch pwned-e\n', '$((6*7))', '${HOME}', "'\\''", '\\"', 'FM_END', '\nFM_END\n', '\n\tFM_END\n'),
      fc.string({ unit: 'grapheme', maxLength: 6 }).filter((s) => !s.includes('\u0000')),
    ),
    { maxLength: 12 },
  )
  .map((parts) => parts.join(''));

const SEP = '<<FM-SEP>>';

describe('fuzz: no generated value runs a command, in any context (real /bin/sh)', () => {
  // One /bin/sh per value runs every context (each in its own subshell, outputs separated), so
  // the bounded run count covers all contexts at once.
  it.each([SH, ...(BASH ? [BASH] : [])])('every context prints the value verbatim and creates nothing (%s)', (shell) => {
    fc.assert(
      fc.property(hostile, (v) => {
        const parts: string[] = [];
        const expected: string[] = [];
        for (const [, tpl, want] of CONTEXTS) {
          try {
            parts.push(`(\n${render(tpl, v)}\n)`);
            expected.push(want(v));
          } catch (err) {
            // only a value that would end a heredoc (or lose its tabs under <<-) is refused
            expect((err as FleetmendError).code).toBe('E_SHELL_QUOTE');
            expect((err as Error).message).toMatch(/heredoc/);
            expect(tpl).toContain('<<');
          }
        }
        const r = sh(parts.join(`\nprintf %s '${SEP}'\n`), shell);
        expect(r.created).toEqual([]);
        expect(r.out.split(SEP)).toEqual(expected);
      }),
      { numRuns: 200, seed: 1616, endOnFailure: true },
    );
  });

  it('command module (word splitting): dq, sq and unquoted values arrive as one word, verbatim', () => {
    const tw = (tpl: string, v: string) => splitWords(t.render(tpl, { v }, 'words') as string);
    fc.assert(
      fc.property(hostile, (v) => {
        expect(tw('printf %s {{ v }}', v)).toEqual(['printf', '%s', v]);
        expect(tw('printf %s "t: {{ v }}"', v)).toEqual(['printf', '%s', `t: ${v}`]);
        expect(tw("printf %s 't: {{ v }}'", v)).toEqual(['printf', '%s', `t: ${v}`]);
      }),
      { numRuns: 300, seed: 1617 },
    );
  });
});

function loadError(shell: string, module = 'shell'): FleetmendError {
  const yaml = `- name: p\n  hosts: all\n  tasks:\n    - name: t\n      ${module}: ${JSON.stringify(shell)}\n`;
  try {
    parsePlaybook('pb.yml', yaml);
  } catch (err) {
    return err as FleetmendError;
  }
  throw new Error(`expected a refusal for ${shell}`);
}

describe('positions that cannot be proven safe are refused at load time with file:line', () => {
  it.each([
    ['inside backquotes', 'echo `echo {{ v }}`'],
    ['inside $(( ))', 'echo $(( {{ v }} + 1 ))'],
    ['inside (( ))', '(( x = {{ v }} ))'],
    ['inside ${ }', 'echo ${X:-{{ v }}}'],
    ['inside [[ ]]', '[[ {{ v }} -eq 1 ]]'],
    ['in the arguments of eval', 'eval echo {{ v }}'],
    ['in the arguments of let', 'let x={{ v }}'],
    ['in the arguments of declare', 'declare -i x={{ v }}'],
    ['inside $[ ]', 'echo $[ {{ v }} ]'],
    ['in an array subscript', 'a[{{ v }}]=1'],
    ['right after a backslash', 'echo \\{{ v }}'],
    ['right after a backslash in double quotes', 'echo "\\{{ v }}"'],
    ['right after $', 'echo ${{ v }}'],
    ['in a heredoc delimiter', 'cat <<{{ v }}\nx\n'],
    ['unterminated double quote', 'echo "{{ v }}'],
    ['unterminated single quote', "echo '{{ v }}"],
    ['unterminated $( )', 'echo $(echo {{ v }}'],
    ['unterminated heredoc', 'cat <<EOF\n{{ v }}\n'],
    ['after case inside $( )', 'echo "$(case a in a) echo x;; esac)" {{ v }}'],
    ["after bash's $'...'", "echo $'a\\'' {{ v }}"],
  ])('%s', (_what, cmd) => {
    const e = loadError(cmd);
    expect(e.code).toBe('E_SHELL_QUOTE');
    expect(e.position?.file).toBe('pb.yml');
    // the line of the value (an unterminated construct: where the text ends)
    expect(e.position?.line).toBe(cmd.includes('<<EOF') ? 7 : 5);
    expect(e.oneLine()).toMatch(/^pb\.yml:\d+:\d+: /);
  });

  it('the column points at the value', () => {
    const e = loadError('echo `echo {{ v }}`');
    // `      shell: "` is 14 characters; the {{ is at offset 11 of the command
    expect(e.position?.column).toBe(15 + 11);
  });

  it('command (word splitting) refuses only what its grammar cannot quote', () => {
    expect(loadError('echo "{{ v }}', 'command').code).toBe('E_SHELL_QUOTE');
    expect(loadError('echo \\{{ v }}', 'command').code).toBe('E_SHELL_QUOTE');
    // backquotes and $( ) are plain characters for command: nothing to refuse
    expect(() => parsePlaybook('pb.yml', '- name: p\n  hosts: all\n  tasks:\n    - command: "echo `{{ v }}` $(( {{ v }} ))"\n')).not.toThrow();
  });

  it('raw opts out explicitly, anywhere', () => {
    expect(render('echo $(( {{ raw v }} + 1 ))', 2)).toBe('echo $(( 2 + 1 ))');
  });

  it('a heredoc line made equal to the delimiter by a value is refused at render time', () => {
    expect(() => render('cat <<EOF\n{{ v }}\nEOF', 'EOF')).toThrow(/heredoc delimiter EOF/);
    expect(() => render('cat <<EOF\n{{ v }}\nEOF', 'a\nEOF\ntouch x')).toThrow(/heredoc delimiter EOF/);
    expect(render('cat <<EOF\n{{ v }}\nEOF', 'EOFx')).toBe('cat <<EOF\nEOFx\nEOF');
  });
});
