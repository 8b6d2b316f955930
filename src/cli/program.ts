import { Command, CommanderError } from 'commander';
import { FleetmendError } from '../errors.js';
import { terminalLine, terminalText } from '../util/terminal.js';
import { systemClock } from '../executor/clock.js';
import { inventoryCommand } from './inventory.js';
import { storeCommands } from './store-commands.js';
import { simCommand } from './sim.js';
import { demoCommand } from './demo.js';
import type { CliIO } from './io.js';
import { sweepCommand } from './sweep.js';
import { runCommand } from './run.js';
import { scheduleCommand } from './schedule.js';
import { workerCommand } from './worker.js';
import { keygenCommand } from './keygen.js';
import { approveCommand } from './approve.js';
import { serveCommand } from './serve.js';
import { pruneCommand } from './prune.js';

export function buildProgram(io: CliIO): Command {
  const program = new Command('fleetmend')
    .description('Ansible-style remediation runner over SSH for the Linux audit backlog')
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    });
  sweepCommand(program, io);
  runCommand(program, io);
  scheduleCommand(program, io);
  workerCommand(program, io);
  keygenCommand(program, io);
  approveCommand(program, io);
  inventoryCommand(program, io);
  simCommand(program, io);
  demoCommand(program, io, main);
  storeCommands(program, io);
  serveCommand(program, io);
  pruneCommand(program, io);
  return program;
}

/**
 * The inventory is busy (another sweep, run or scheduler holds its lock, also after --wait-lock):
 * nothing was contacted, and trying again later may succeed. sysexits(3)'s EX_TEMPFAIL, so it is
 * told apart from bad input (1) by scripts and systemd alike.
 */
export const EXIT_LOCKED = 75;

/** Runs the CLI; returns the exit code (README "Exit codes"). */
export async function main(argv: string[], io: Partial<CliIO> = {}): Promise<number> {
  const full: CliIO = {
    stdout: io.stdout ?? process.stdout,
    stderr: io.stderr ?? process.stderr,
    env: io.env ?? process.env,
    clock: io.clock ?? systemClock,
    exitCode: 0,
    ...(io.interrupt ? { interrupt: io.interrupt } : {}),
    ...(io.subscribers ? { subscribers: io.subscribers } : {}),
  };
  const program = buildProgram(full);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return full.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version exit 0; every other parse error is bad usage
      return err.exitCode === 0 ? 0 : 1;
    }
    if (err instanceof FleetmendError) {
      // messages quote inventory values and host output: clipped, control characters shown
      full.stderr.write(`fleetmend: ${terminalLine(err.oneLine())}\n`);
      return err.code === 'E_LOCKED_RUN' ? EXIT_LOCKED : 1;
    }
    full.stderr.write(`fleetmend: internal error: ${terminalText(err instanceof Error ? (err.stack ?? err.message) : String(err))}\n`);
    return 1;
  }
}
