import type { Command } from 'commander';
import type { CliIO } from './io.js';

/** `fleetmend keygen NAME`: the Ed25519 key pair a coordinator or a worker signs with (README "Distributed mode"). */
export function keygenCommand(program: Command, io: CliIO): Command {
  return program
    .command('keygen')
    .description('distributed mode: write an Ed25519 key pair, NAME.key (mode 0600) and NAME.pub, for a coordinator or a worker')
    .argument('<name>', 'path without extension: NAME.key and NAME.pub are created (never overwritten)')
    .action(async (name: string) => {
      const { writeKeyPair } = await import('../distributed/signing.js');
      const { keyFile, pubFile, id } = writeKeyPair(name);
      io.stdout.write(`${keyFile} (private, mode 0600: keep it on this machine)\n${pubFile} (public: copy it where this key must be trusted)\nkey id ${id}\n`);
    });
}
