/**
 * `--help` of every command, read as a new user reads it: each "(default: X)" is written in the
 * unit of the option's label, and X typed on the command line parses to the default the program
 * actually uses (so the help cannot drift from the behaviour).
 */
import { PassThrough } from 'node:stream';
import type { Argument, Command, Option } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program.js';
import type { CliIO } from '../../src/cli/sweep.js';
import { systemClock } from '../../src/executor/clock.js';

function program(): Command {
  const io: CliIO = { stdout: new PassThrough(), stderr: new PassThrough(), env: {}, clock: systemClock, exitCode: 0 };
  return buildProgram(io);
}

function allCommands(cmd: Command): Command[] {
  return cmd.commands.flatMap((c) => [c, ...allCommands(c)]);
}

interface Shown {
  command: string;
  flags: string;
  label: string;
  shown: string;
  hasDefault: boolean;
  value: unknown;
  parse: (v: string) => unknown;
}

/** Every "(default: …)" in a command's help, with the option or argument it belongs to. */
function defaultsOf(cmd: Command): Shown[] {
  const help = cmd.createHelp();
  const out: Shown[] = [];
  const take = (flags: string, text: string, item: Option | Argument, label: string) => {
    const m = /\(default: (.*)\)$/.exec(text);
    if (!m) return;
    const parser = item.parseArg as ((v: string, prev: unknown) => unknown) | undefined;
    out.push({
      command: cmd.name(),
      flags,
      label,
      shown: m[1]!,
      hasDefault: item.defaultValue !== undefined,
      value: item.defaultValue,
      parse: (v) => (parser ? parser(v, undefined) : v),
    });
  };
  for (const o of help.visibleOptions(cmd)) take(o.flags, help.optionDescription(o), o, /<([^>]+)>/.exec(o.flags)?.[1] ?? '');
  for (const a of help.visibleArguments(cmd)) take(a.required ? `<${a.name()}>` : `[${a.name()}]`, help.argumentDescription(a), a, a.name());
  return out;
}

const collapse = (s: string) => s.replace(/\s+/g, ' ');

describe('--help of every command', () => {
  const cmds = allCommands(program());
  const shown = cmds.flatMap(defaultsOf);

  it('covers the commands that take options', () => {
    expect(cmds.map((c) => c.name())).toEqual(expect.arrayContaining(['sweep', 'run', 'schedule', 'demo', 'sim', 'report', 'runs', 'history']));
    expect(shown.length).toBeGreaterThan(20);
  });

  it('shows each default as typed: no JSON arrays, objects or quoted strings', () => {
    for (const d of shown) expect(d.shown, `${d.command} ${d.flags}`).not.toMatch(/^[[{"]/);
  });

  it('shows each default in the unit of its label, and the shown text parses to the default in use', () => {
    for (const d of shown) {
      const at = `${d.command} ${d.flags}: (default: ${d.shown})`;
      if (!d.hasDefault) {
        // prose such as "(default: the scenario size)": nothing a parser could check, but never a bare number
        expect(d.shown, at).not.toMatch(/^\d/);
        continue;
      }
      if (d.label === 'seconds' || d.label === 'n' || d.label === 'bytes') expect(d.shown, at).toMatch(/^\d+(\.\d+)?$/);
      if (d.label === 'seconds') expect(Number(d.shown), at).toBeLessThan(3600); // never milliseconds
      const parsed = d.shown === 'none' && Array.isArray(d.value) ? [] : d.parse(d.shown);
      expect(parsed, at).toEqual(d.value);
    }
  });

  it('keeps the defaults the program used before (ms internally)', () => {
    const value = (command: string, flag: string) => shown.find((d) => d.command === command && d.flags.split(/[ ,]+/).includes(flag));
    const expected: [string, string, string, unknown][] = [
      ['sweep', '--connect-timeout', '60', 60_000],
      ['sweep', '--command-timeout', '120', 120_000],
      ['sweep', '--interval', '5', 5_000],
      ['sweep', '--format', 'md,html,json', ['md', 'html', 'json']],
      ['sweep', '--host-key-checking', 'strict', 'strict'],
      ['run', '--connect-timeout', '60', 60_000],
      ['run', '--extra-vars', 'none', []],
      ['schedule', '--notify-timeout', '10', 10_000],
      ['schedule', '--notify', 'changes', 'changes'],
      ['demo', '--interval', '2', 2_000],
      ['demo', '--scenario', 'incident', 'incident'],
      ['report', '[run]', 'latest', 'latest'],
      ['report', '--format', 'md,html,json', ['md', 'html', 'json']],
    ];
    for (const [command, flag, text, v] of expected) {
      const d = value(command, flag);
      expect(d, `${command} ${flag}`).toBeDefined();
      expect([d!.shown, d!.value], `${command} ${flag}`).toEqual([text, v]);
    }
  });

  it('prints those defaults in the help text itself', () => {
    for (const cmd of cmds) {
      const text = collapse(cmd.helpInformation());
      for (const d of shown.filter((x) => x.command === cmd.name())) expect(text, `${d.command} ${d.flags}`).toContain(`(default: ${d.shown})`);
      // one way of writing it: prose defaults ("(default: the system time zone)") too
      expect(text, cmd.name()).not.toMatch(/\(default(?!: )/);
    }
    expect(collapse(cmds.find((c) => c.name() === 'sweep')!.helpInformation())).toContain('--connect-timeout <seconds> TCP + SSH handshake + auth (default: 60)');
  });
});
