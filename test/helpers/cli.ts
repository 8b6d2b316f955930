/** Runs the CLI in-process with captured output (no signal handlers installed). */
import { PassThrough } from 'node:stream';
import { main } from '../../src/cli/program.js';
import { noInterrupt } from '../../src/executor/interrupt.js';

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
