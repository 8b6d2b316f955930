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

/** A stream for the CLI's stdout or stderr that keeps what was written, as text. */
export function textSink(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d: Buffer) => (text += d.toString()));
  return { stream, text: () => text };
}

export async function runCli(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<CliResult> {
  const out = textSink();
  const err = textSink();
  const code = await main(argv, { stdout: out.stream, stderr: err.stream, interrupt: noInterrupt, env });
  return { code, stdout: out.text(), stderr: err.text() };
}
