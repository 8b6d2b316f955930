import type { Command } from 'commander';
import type { CliIO } from './io.js';

/** `fleetmend approve RUN`: acknowledge a held playbook run; a scheduler resumes it at its next tick (src/schedule/holds.ts). */
export function approveCommand(program: Command, io: CliIO): Command {
  return program
    .command('approve')
    .description('acknowledge a held playbook run: a schedule of that playbook resumes it (--resume) at its next tick')
    .argument('<run-id>', "the held run (or 'latest')")
    .option('--state-dir <dir>', 'state directory (default: $XDG_STATE_HOME/fleetmend)')
    .action(async (id: string, opts: { stateDir?: string }) => {
      const [{ defaultStateDir, openStore }, { approveRun }] = await Promise.all([import('../store/index.js'), import('../schedule/holds.js')]);
      const stateDir = opts.stateDir ?? defaultStateDir(io.env);
      const store = openStore(stateDir);
      try {
        const a = approveRun(store, stateDir, id, new Date(io.clock.now()));
        io.stdout.write(`approved ${a.run} (${a.held} host(s) held) by ${a.by} at ${a.approved_at}: a schedule of this playbook resumes it at its next tick; or now: fleetmend run PLAYBOOK ... --resume ${a.run}\n`);
      } finally {
        store.close();
      }
    });
}
