/** Runs the CLI in-process with captured output (no signal handlers installed). */
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { main } from '../../src/cli/program.js';
import { noInterrupt } from '../../src/executor/interrupt.js';

/** The built binary users run (package.json "bin", the esbuild bundle); `npm test` builds it first. */
export const CLI_BIN = join(process.cwd(), 'dist', 'bin', 'main.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCli(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<CliResult> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (d: Buffer) => (stdout += d.toString()));
  err.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await main(argv, { stdout: out, stderr: err, interrupt: noInterrupt, env });
  return { code, stdout, stderr };
}
